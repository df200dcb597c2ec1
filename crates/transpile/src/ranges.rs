//! Decode's helper: the values each general-purpose register may hold, as
//! unsigned intervals, so that a jump table is bounded by what the code
//! proves about its index.
//!
//! A `match` on a state an earlier `match` set (each path does `mov r8b, 3`
//! or computes `setae; add; add 2`, and the loop's next turn jumps through
//! `movzx r8d, r8b; add r8d, -2; movsxd r8, [rdx+r8*4]`) has no `cmp`/`ja`
//! in front of its table: only the values that reach the jump on every path
//! bound it. [`table_indices`] finds them by abstract interpretation over
//! the function's instructions (the interval domain, each register seen at
//! 8, 16, 32 and 64 bits, since a state kept in a byte sits in a register
//! whose upper bits are anything). A table's edges are followed only for
//! the entries its index may take, so entries past the table, read by an
//! earlier guess, never feed values back into the proof (the least fixed
//! point, not the one the guess would give).
//!
//! Every transfer is an over-approximation of the instruction (an
//! instruction not modelled sets what it writes to "anything"), so a range
//! found holds on every run.

use iced_x86::{
    FlowControl, Instruction, InstructionInfoFactory, InstructionInfoOptions, Mnemonic, OpAccess,
    OpKind, Register,
};

/// A jump table as the analysis sees it.
pub struct Table<'a> {
    /// The address of the `jmp`.
    pub jmp: u64,
    /// The instruction at which `index_register` holds the index.
    pub index_at: u64,
    /// The 64-bit register holding the index there.
    pub index_register: Register,
    /// Target address of each entry.
    pub targets: &'a [u64],
}

/// The 64-bit index each table's jump may take, inclusive (`None`: the
/// jump is never reached, or nothing bounds its index), by the `jmp`'s
/// address, in the order of `tables`.
///
/// A table whose index may reach past its entries (read short, or nothing
/// bounds it) had edges left out of the fixed point, so then no range found
/// is a proof, and every table gets `None`.
pub fn table_indices(
    instructions: &[Instruction],
    entry: u64,
    tables: &[Table],
) -> Vec<Option<(u64, u64)>> {
    let states = interpret(instructions, entry, tables);
    let ranges: Vec<Option<(u64, u64)>> = tables
        .iter()
        .map(|t| {
            let at = index_of(instructions, t.index_at)?;
            let state = states[at].as_ref()?;
            Some(state[slot(t.index_register)?][WIDE])
        })
        .collect();
    let within = tables
        .iter()
        .zip(&ranges)
        .all(|(t, r)| r.is_none_or(|(_, hi)| hi < t.targets.len() as u64));
    match within {
        true => ranges,
        false => vec![None; tables.len()],
    }
}

/// An inclusive interval of unsigned values at one width.
type Interval = (u64, u64);

/// A register at 8, 16, 32 and 64 bits (index by [`width_index`]).
type Value = [Interval; 4];

/// The sixteen general-purpose registers (RAX..R15, by [`slot`]).
type State = [Value; 16];

/// The widths, in bits, of a [`Value`]'s intervals.
const WIDTHS: [u32; 4] = [8, 16, 32, 64];
/// The 64-bit interval's index in a [`Value`].
const WIDE: usize = 3;
/// Anything, at each width.
const TOP: Value = [(0, 0xff), (0, 0xffff), (0, u32::MAX as u64), (0, u64::MAX)];

/// After growing this many times at one instruction, an interval becomes
/// anything (widening: a loop counter would otherwise take one turn per
/// value).
const WIDEN_AFTER: u32 = 16;

fn index_of(instructions: &[Instruction], ip: u64) -> Option<usize> {
    instructions.binary_search_by_key(&ip, |i| i.ip()).ok()
}

/// The index of a width (8, 16, 32, 64 bits) in a [`Value`].
fn width_index(bits: u32) -> usize {
    WIDTHS.iter().position(|&w| w == bits).unwrap_or(WIDE)
}

fn mask(bits: u32) -> u64 {
    if bits == 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    }
}

/// The state slot of a general-purpose register (any size), if it is one.
fn slot(register: Register) -> Option<usize> {
    let full = register.full_register();
    (Register::RAX..=Register::R15)
        .contains(&full)
        .then(|| full as usize - Register::RAX as usize)
}

/// A value whose `bits`-wide part is `v`: narrower parts are its
/// truncations, wider ones anything unless `zero_extended`.
fn value_of(v: Interval, bits: u32, zero_extended: bool) -> Value {
    let mut out = TOP;
    for (k, &w) in WIDTHS.iter().enumerate() {
        out[k] = match w.cmp(&bits) {
            std::cmp::Ordering::Less => truncate(v, w),
            std::cmp::Ordering::Equal => v,
            std::cmp::Ordering::Greater if zero_extended => v,
            std::cmp::Ordering::Greater => TOP[k],
        };
    }
    out
}

/// The low `bits` of a value in `v`.
fn truncate(v: Interval, bits: u32) -> Interval {
    let m = mask(bits);
    let (lo, hi) = (v.0 & m, v.1 & m);
    if v.1 - v.0 <= m && lo <= hi {
        (lo, hi)
    } else {
        (0, m)
    }
}

/// `lo..=hi` computed exactly (in i128) reduced modulo 2^bits: exact when
/// both ends fall in the same turn of the wrap, else anything.
fn wrap(lo: i128, hi: i128, bits: u32) -> Interval {
    let turn = 1i128 << bits;
    if lo.div_euclid(turn) == hi.div_euclid(turn) {
        (lo.rem_euclid(turn) as u64, hi.rem_euclid(turn) as u64)
    } else {
        (0, mask(bits))
    }
}

/// All ones up to the highest set bit of `x`: a bound on `x | y` and
/// `x ^ y` for `y <= x`.
fn ones_through(x: u64) -> u64 {
    if x == 0 {
        0
    } else {
        u64::MAX >> x.leading_zeros()
    }
}

fn join(a: &State, b: &State) -> State {
    let mut out = *a;
    for (r, value) in out.iter_mut().enumerate() {
        for (k, v) in value.iter_mut().enumerate() {
            *v = (v.0.min(b[r][k].0), v.1.max(b[r][k].1));
        }
    }
    out
}

/// How often each interval of an instruction's state has grown.
type Changes = [[u32; 4]; 16];

/// `new` (which holds `old`), with every interval that has now grown more
/// than [`WIDEN_AFTER`] times made anything. Counted per interval, so a
/// loop counter that grows each turn does not take a state that settles
/// in a few turns down with it.
fn widen(old: &State, new: &State, changes: &mut Changes) -> State {
    let mut out = *new;
    for (r, value) in out.iter_mut().enumerate() {
        for (k, v) in value.iter_mut().enumerate() {
            if *v != old[r][k] {
                changes[r][k] += 1;
                if changes[r][k] > WIDEN_AFTER {
                    *v = TOP[k];
                }
            }
        }
    }
    out
}

/// The fixed point from the function's `entry` (not its first instruction:
/// code it jumps to may lie below it): each instruction's state on entry
/// (`None`: not reached).
fn interpret(instructions: &[Instruction], entry: u64, tables: &[Table]) -> Vec<Option<State>> {
    let n = instructions.len();
    let mut states: Vec<Option<State>> = vec![None; n];
    let mut changes: Vec<Changes> = vec![[[0; 4]; 16]; n];
    let mut info = InstructionInfoFactory::new();
    // each table's jump by the instruction that holds its index: when the
    // index grows there, the jump is visited again, for the entries it now
    // reaches (the load and `add` between them overwrite the index, so the
    // jump's own state need not change)
    let jumps_of: Vec<(usize, usize)> = tables
        .iter()
        .filter_map(|t| {
            Some((
                index_of(instructions, t.index_at)?,
                index_of(instructions, t.jmp)?,
            ))
        })
        .collect();
    let mut work = Vec::new();
    if let Some(start) = index_of(instructions, entry) {
        states[start] = Some([TOP; 16]);
        work.push(start);
    }
    while let Some(k) = work.pop() {
        let Some(before) = states[k] else { continue };
        let ins = &instructions[k];
        let after = step(ins, &before, &mut info);
        for next in successors(instructions, k, tables, &states) {
            let merged = match &states[next] {
                None => after,
                Some(old) => {
                    let joined = join(old, &after);
                    if joined == *old {
                        continue;
                    }
                    widen(old, &joined, &mut changes[next])
                }
            };
            states[next] = Some(merged);
            work.push(next);
            work.extend(
                jumps_of
                    .iter()
                    .filter(|&&(at, _)| at == next)
                    .map(|&(_, jmp)| jmp),
            );
        }
    }
    states
}

/// Where control may go after instruction `k`: a table's jump only to the
/// entries its index may take (by the state at its `index_at` so far;
/// [`interpret`] visits the jump again whenever that state grows).
fn successors(
    instructions: &[Instruction],
    k: usize,
    tables: &[Table],
    states: &[Option<State>],
) -> Vec<usize> {
    let ins = &instructions[k];
    let at = |ip: u64| index_of(instructions, ip);
    match ins.flow_control() {
        FlowControl::Next | FlowControl::Call | FlowControl::IndirectCall => {
            at(ins.next_ip()).into_iter().collect()
        }
        FlowControl::ConditionalBranch => [at(ins.next_ip()), at(ins.near_branch_target())]
            .into_iter()
            .flatten()
            .collect(),
        FlowControl::UnconditionalBranch => at(ins.near_branch_target()).into_iter().collect(),
        FlowControl::IndirectBranch => {
            let Some(table) = tables.iter().find(|t| t.jmp == ins.ip()) else {
                return Vec::new(); // a tail call through a register
            };
            let range = at(table.index_at)
                .and_then(|i| states[i].as_ref())
                .and_then(|s| Some(s[slot(table.index_register)?][WIDE]));
            let Some((lo, hi)) = range else {
                return Vec::new();
            };
            let last = (table.targets.len() as u64).saturating_sub(1);
            (lo..=hi.min(last))
                .filter_map(|e| at(table.targets[e as usize]))
                .collect()
        }
        _ => Vec::new(), // returns, traps
    }
}

/// The state after `ins`.
fn step(ins: &Instruction, before: &State, info: &mut InstructionInfoFactory) -> State {
    let mut after = *before;
    if matches!(
        ins.flow_control(),
        FlowControl::Call | FlowControl::IndirectCall
    ) {
        // Every register but rsp: the SysV ABI says a callee keeps rbx, rbp
        // and r12-r15, but code written by hand need not, and the proof
        // must hold for it too (an attack review's callee wrote rbx).
        let rsp = slot(Register::RSP).unwrap();
        for (r, value) in after.iter_mut().enumerate() {
            if r != rsp {
                *value = TOP;
            }
        }
        return after;
    }
    // What the instruction writes becomes anything, unless modelled below.
    let written: Vec<Register> = info
        .info_options(ins, InstructionInfoOptions::NO_MEMORY_USAGE)
        .used_registers()
        .iter()
        .filter(|u| {
            matches!(
                u.access(),
                OpAccess::Write
                    | OpAccess::CondWrite
                    | OpAccess::ReadWrite
                    | OpAccess::ReadCondWrite
            )
        })
        .map(|u| u.register())
        .filter(|&r| slot(r).is_some())
        .collect();
    for &r in &written {
        after[slot(r).unwrap()] = TOP;
    }
    let Some((dest, bits)) = destination(ins) else {
        return after;
    };
    if let Some(result) = model(ins, before, bits) {
        let d = slot(dest).unwrap();
        // A 32-bit write zeroes the upper half; an 8- or 16-bit write keeps
        // it, so the wider parts are known only when it was zero.
        let upper_zero = bits == 32 || before[d][WIDE].1 <= mask(bits);
        after[d] = value_of(result, bits, upper_zero);
    }
    after
}

/// The general-purpose register `ins` writes as its first operand, and its
/// width; not the high bytes (AH..DH), which [`step`] leaves to "anything".
fn destination(ins: &Instruction) -> Option<(Register, u32)> {
    if ins.op_count() == 0 || ins.op0_kind() != OpKind::Register {
        return None;
    }
    let r = ins.op0_register();
    let high_byte = matches!(r, Register::AH | Register::BH | Register::CH | Register::DH);
    (slot(r).is_some() && !high_byte).then(|| (r, r.size() as u32 * 8))
}

/// The interval of operand `op` at `bits` (a register, an immediate), if
/// it is one of those.
fn operand(ins: &Instruction, op: u32, before: &State, bits: u32) -> Option<Interval> {
    match ins.op_kind(op) {
        OpKind::Register => {
            let r = ins.op_register(op);
            if matches!(r, Register::AH | Register::BH | Register::CH | Register::DH) {
                return Some((0, 0xff));
            }
            let size = r.size() as u32 * 8;
            Some(before[slot(r)?][width_index(size.min(bits))])
        }
        OpKind::Immediate8
        | OpKind::Immediate16
        | OpKind::Immediate32
        | OpKind::Immediate64
        | OpKind::Immediate8to16
        | OpKind::Immediate8to32
        | OpKind::Immediate8to64
        | OpKind::Immediate32to64 => {
            let v = ins.immediate(op) & mask(bits);
            Some((v, v))
        }
        _ => None,
    }
}

/// The `bits`-wide result `ins` writes to its destination, when modelled.
fn model(ins: &Instruction, before: &State, bits: u32) -> Option<Interval> {
    let m = mask(bits);
    let src = |op: u32| operand(ins, op, before, bits);
    let dst = || src(0);
    let two = ins.op_count() >= 2;
    match ins.mnemonic() {
        Mnemonic::Mov if two => src(1),
        Mnemonic::Movzx => match ins.op1_kind() {
            OpKind::Register => {
                let r = ins.op1_register();
                operand(ins, 1, before, r.size() as u32 * 8)
            }
            OpKind::Memory => Some((0, mask(ins.memory_size().size() as u32 * 8))),
            _ => None,
        },
        Mnemonic::Movsx | Mnemonic::Movsxd => {
            // exact while the source's sign bit is clear
            let size = if ins.op1_kind() == OpKind::Register {
                ins.op1_register().size() as u32 * 8
            } else {
                ins.memory_size().size() as u32 * 8
            };
            let v = operand(ins, 1, before, size)?;
            (v.1 < 1 << (size - 1)).then_some(v)
        }
        Mnemonic::Xor if two && same_register(ins) => Some((0, 0)),
        Mnemonic::Add if two => {
            let (a, b) = (dst()?, src(1)?);
            Some(wrap(
                a.0 as i128 + b.0 as i128,
                a.1 as i128 + b.1 as i128,
                bits,
            ))
        }
        Mnemonic::Sub if two && same_register(ins) => Some((0, 0)),
        Mnemonic::Sub if two => {
            let (a, b) = (dst()?, src(1)?);
            Some(wrap(
                a.0 as i128 - b.1 as i128,
                a.1 as i128 - b.0 as i128,
                bits,
            ))
        }
        Mnemonic::Inc => dst().map(|a| wrap(a.0 as i128 + 1, a.1 as i128 + 1, bits)),
        Mnemonic::Dec => dst().map(|a| wrap(a.0 as i128 - 1, a.1 as i128 - 1, bits)),
        Mnemonic::Not => dst().map(|a| (m - a.1, m - a.0)),
        Mnemonic::And if two => {
            let (a, b) = (dst()?, src(1)?);
            Some((0, a.1.min(b.1)))
        }
        Mnemonic::Or if two => {
            let (a, b) = (dst()?, src(1)?);
            let high = a.1.max(b.1);
            Some((
                a.0.max(b.0),
                ones_through(high).min(a.1.saturating_add(b.1)),
            ))
        }
        Mnemonic::Xor if two => {
            let (a, b) = (dst()?, src(1)?);
            Some((0, ones_through(a.1.max(b.1))))
        }
        Mnemonic::Shl | Mnemonic::Sal if two && ins.op1_kind() != OpKind::Register => {
            let (a, k) = (dst()?, shift_count(ins, bits));
            if k >= bits as u64 {
                return Some((0, 0)); // an 8- or 16-bit shift by its width or more
            }
            (a.1 <= m >> k).then_some((a.0 << k, a.1 << k))
        }
        Mnemonic::Shr if two && ins.op1_kind() != OpKind::Register => {
            let (a, k) = (dst()?, shift_count(ins, bits));
            if k >= bits as u64 {
                return Some((0, 0));
            }
            Some((a.0 >> k, a.1 >> k))
        }
        Mnemonic::Imul if ins.op_count() == 3 => {
            // imul r, r/m, imm: a product that cannot overflow, of a
            // non-negative immediate
            let a = if ins.op1_kind() == OpKind::Register {
                src(1)?
            } else {
                return None;
            };
            let c = ins.immediate(2) as i64;
            if c < 0 {
                return None;
            }
            let hi = a.1 as u128 * c as u128;
            // (the low end only when the high one fits: it may not)
            (hi <= m as u128).then(|| (a.0 * c as u64, hi as u64))
        }
        Mnemonic::Lea => lea(ins, before, bits),
        // setcc writes a byte: 0 or 1
        Mnemonic::Seto
        | Mnemonic::Setno
        | Mnemonic::Setb
        | Mnemonic::Setae
        | Mnemonic::Sete
        | Mnemonic::Setne
        | Mnemonic::Setbe
        | Mnemonic::Seta
        | Mnemonic::Sets
        | Mnemonic::Setns
        | Mnemonic::Setp
        | Mnemonic::Setnp
        | Mnemonic::Setl
        | Mnemonic::Setge
        | Mnemonic::Setle
        | Mnemonic::Setg => Some((0, 1)),
        Mnemonic::Cmovo
        | Mnemonic::Cmovno
        | Mnemonic::Cmovb
        | Mnemonic::Cmovae
        | Mnemonic::Cmove
        | Mnemonic::Cmovne
        | Mnemonic::Cmovbe
        | Mnemonic::Cmova
        | Mnemonic::Cmovs
        | Mnemonic::Cmovns
        | Mnemonic::Cmovp
        | Mnemonic::Cmovnp
        | Mnemonic::Cmovl
        | Mnemonic::Cmovge
        | Mnemonic::Cmovle
        | Mnemonic::Cmovg => {
            // either value (a 32-bit cmov zero-extends even when it does not move)
            let (a, b) = (dst()?, src(1)?);
            Some((a.0.min(b.0), a.1.max(b.1)))
        }
        _ => None,
    }
}

/// A shift's immediate count as the CPU takes it: masked to 6 bits for a
/// 64-bit operand and to 5 for the others (Intel SDM, SAL/SAR/SHL/SHR), so
/// an 8-bit shift may shift by more than its width.
fn shift_count(ins: &Instruction, bits: u32) -> u64 {
    ins.immediate(1) & if bits == 64 { 63 } else { 31 }
}

/// `xor r, r` / `sub r, r`: zero whatever `r` held.
fn same_register(ins: &Instruction) -> bool {
    ins.op1_kind() == OpKind::Register && ins.op0_register() == ins.op1_register()
}

/// `lea r, [base + index*scale + disp]` truncated to `bits`.
fn lea(ins: &Instruction, before: &State, bits: u32) -> Option<Interval> {
    if ins.is_ip_rel_memory_operand() {
        return None;
    }
    let part = |r: Register| -> Option<Interval> {
        if r == Register::None {
            Some((0, 0))
        } else {
            Some(before[slot(r)?][WIDE])
        }
    };
    let base = part(ins.memory_base())?;
    let index = part(ins.memory_index())?;
    let scale = ins.memory_index_scale() as i128;
    let disp = ins.memory_displacement64() as i64 as i128;
    let address_bits = ins.memory_base().size().max(ins.memory_index().size()) as u32 * 8;
    if address_bits != 64 && address_bits != 0 {
        return None; // a 32-bit address: rare, not modelled
    }
    let lo = base.0 as i128 + index.0 as i128 * scale + disp;
    let hi = base.1 as i128 + index.1 as i128 * scale + disp;
    Some(truncate(wrap(lo, hi, 64), bits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions};

    fn decode(code: &[u8]) -> Vec<Instruction> {
        Decoder::with_ip(64, code, 0x1000, DecoderOptions::NONE)
            .into_iter()
            .collect()
    }

    /// The range of `register` on entry to the instruction at `ip`.
    fn range_at(code: &[u8], ip: u64, register: Register) -> Option<(u64, u64)> {
        let instructions = decode(code);
        let states = interpret(&instructions, 0x1000, &[]);
        let s = states[index_of(&instructions, ip)?]?;
        Some(s[slot(register)?][WIDE])
    }

    /// Straight-line transfers, one table row each: the code, then the
    /// range of a register after it (at the `ret` that ends the code).
    #[test]
    fn transfers_bound_what_they_can_and_give_up_on_the_rest() {
        // (what, the code, the register, its range)
        type Case<'a> = (&'a str, &'a [u8], Register, Option<(u64, u64)>);
        let cases: &[Case] = &[
            (
                "mov r8b, 2 keeps r8's unknown upper bits",
                &[0x41, 0xb0, 0x02],
                Register::R8,
                Some((0, u64::MAX)),
            ),
            // mov r8b, 2; movzx r8d, r8b
            (
                "movzx of a byte set to 2",
                &[0x41, 0xb0, 0x02, 0x45, 0x0f, 0xb6, 0xc0],
                Register::R8,
                Some((2, 2)),
            ),
            // movzx eax, byte [rdi]
            (
                "movzx of a byte in memory",
                &[0x0f, 0xb6, 0x07],
                Register::RAX,
                Some((0, 255)),
            ),
            // movzx eax, byte [rdi]; add eax, -2 (wraps across zero)
            (
                "a byte minus 2 may wrap",
                &[0x0f, 0xb6, 0x07, 0x83, 0xc0, 0xfe],
                Register::RAX,
                Some((0, u32::MAX as u64)),
            ),
            // mov eax, 7; add eax, -2
            (
                "7 - 2",
                &[0xb8, 0x07, 0, 0, 0, 0x83, 0xc0, 0xfe],
                Register::RAX,
                Some((5, 5)),
            ),
            // cmp esi, 3; setae al; movzx eax, al; lea eax, [rax + rax*4 + 2]
            (
                "setae, then 5x + 2",
                &[
                    0x83, 0xfe, 0x03, 0x0f, 0x93, 0xc0, 0x0f, 0xb6, 0xc0, 0x8d, 0x44, 0x80, 0x02,
                ],
                Register::RAX,
                Some((2, 7)),
            ),
            // movzx eax, byte [rdi]; and eax, 6; or eax, 1
            (
                "a mask, then or",
                &[0x0f, 0xb6, 0x07, 0x83, 0xe0, 0x06, 0x83, 0xc8, 0x01],
                Register::RAX,
                Some((1, 7)),
            ),
            // movzx eax, byte [rdi]; shr eax, 4
            (
                "shift right",
                &[0x0f, 0xb6, 0x07, 0xc1, 0xe8, 0x04],
                Register::RAX,
                Some((0, 15)),
            ),
            // movzx eax, byte [rdi]; imul eax, eax, -85 (a negative factor)
            (
                "imul by a negative constant",
                &[0x0f, 0xb6, 0x07, 0x6b, 0xc0, 0xab],
                Register::RAX,
                Some((0, u64::MAX)),
            ),
            // mov eax, 200; shl al, 9 (the count is masked to 5 bits, not 3)
            (
                "an 8-bit shift past its width",
                &[0xb8, 200, 0, 0, 0, 0xc0, 0xe0, 0x09, 0x0f, 0xb6, 0xc0],
                Register::RAX,
                Some((0, 0)),
            ),
            // or rdi, 0xffffffff80000000; imul rax, rdi, 1000003 (the
            // product's low end alone would overflow)
            (
                "imul of a range near the top",
                &[
                    0x48, 0x81, 0xcf, 0, 0, 0, 0x80, 0x48, 0x69, 0xc7, 0x43, 0x42, 0x0f, 0x00,
                ],
                Register::RAX,
                Some((0, u64::MAX)),
            ),
            // mov eax, 1; call 0 (a call changes rax)
            (
                "a call forgets rax",
                &[0xb8, 1, 0, 0, 0, 0xe8, 0, 0, 0, 0],
                Register::RAX,
                Some((0, u64::MAX)),
            ),
            // mov ebx, 1; call 0 (a callee written by hand may change
            // rbx too: the SysV ABI is not assumed)
            (
                "a call forgets rbx",
                &[0xbb, 1, 0, 0, 0, 0xe8, 0, 0, 0, 0],
                Register::RBX,
                Some((0, u64::MAX)),
            ),
            // mov eax, 3; mov ah, 1 (a high byte: anything)
            (
                "a high byte write",
                &[0xb8, 3, 0, 0, 0, 0xb4, 0x01],
                Register::RAX,
                Some((0, u64::MAX)),
            ),
            // mov eax, 3; xor eax, eax
            (
                "xor with itself",
                &[0xb8, 3, 0, 0, 0, 0x31, 0xc0],
                Register::RAX,
                Some((0, 0)),
            ),
            // mov eax, 3; popcnt eax, eax (not modelled)
            (
                "an instruction not modelled",
                &[0xb8, 3, 0, 0, 0, 0xf3, 0x0f, 0xb8, 0xc0],
                Register::RAX,
                Some((0, u64::MAX)),
            ),
        ];
        for (what, code, register, want) in cases {
            let mut code = code.to_vec();
            let ret = 0x1000 + code.len() as u64;
            code.push(0xc3);
            assert_eq!(range_at(&code, ret, *register), *want, "{what}");
        }
    }

    /// A table's index through loops, one row each: the code, the jump, the
    /// instruction that holds the index (rax) and the entries; the range.
    #[test]
    fn tables_are_bounded_by_the_values_that_reach_them() {
        struct Case {
            what: &'static str,
            code: &'static [u8],
            jmp: u64,
            index_at: u64,
            targets: &'static [u64],
            range: Option<(u64, u64)>,
        }
        let cases = [
            Case {
                // 1000 mov cl, 2; 1002 movzx eax, cl (loop); 1005 add eax, -2;
                // 1008 jmp rax; entries 100a/100e/1012: mov cl, 3/4/2; jmp
                // 1002; 1016 (past the table): mov cl, 9; jmp 1002
                what: "a state set on every path, entries past it never followed",
                code: &[
                    0xb1, 0x02, 0x0f, 0xb6, 0xc1, 0x83, 0xc0, 0xfe, 0xff, 0xe0, 0xb1, 0x03, 0xeb,
                    0xf4, 0xb1, 0x04, 0xeb, 0xf0, 0xb1, 0x02, 0xeb, 0xec, 0xb1, 0x09, 0xeb, 0xe8,
                ],
                jmp: 0x1008,
                index_at: 0x1008,
                targets: &[0x100a, 0x100e, 0x1012, 0x1016, 0x1016],
                range: Some((0, 2)),
            },
            Case {
                // 1000 mov eax, 0; 1005 movzx eax, al (loop); 1008 movsxd
                // rax, [rdx+rax*4] (the index read here); 100c add rax, rdx;
                // 100f jmp rax; entries 1011/1015/1019: mov al, 1/2/0; jmp 1005
                what:
                    "the index overwritten before the jump (PIE): each growth reaches its entries",
                code: &[
                    0xb8, 0, 0, 0, 0, 0x0f, 0xb6, 0xc0, 0x48, 0x63, 0x04, 0x82, 0x48, 0x01, 0xd0,
                    0xff, 0xe0, 0xb0, 0x01, 0xeb, 0xf0, 0xb0, 0x02, 0xeb, 0xec, 0xb0, 0x00, 0xeb,
                    0xe8,
                ],
                jmp: 0x100f,
                index_at: 0x1008,
                targets: &[0x1011, 0x1015, 0x1019],
                range: Some((0, 2)),
            },
            Case {
                // 1000 mov cl, 0; 1002 xor edx, edx; 1004 inc rdx (loop);
                // 1007 movzx eax, cl; 100a jmp rax; entries 100c/1010:
                // mov cl, 1/0; jmp 1004
                what: "a counter beside the state is widened on its own",
                code: &[
                    0xb1, 0x00, 0x31, 0xd2, 0x48, 0xff, 0xc2, 0x0f, 0xb6, 0xc1, 0xff, 0xe0, 0xb1,
                    0x01, 0xeb, 0xf4, 0xb1, 0x00, 0xeb, 0xf0,
                ],
                jmp: 0x100a,
                index_at: 0x100a,
                targets: &[0x100c, 0x1010],
                range: Some((0, 1)),
            },
            Case {
                // 1000 xor eax, eax; 1002 inc eax (loop); 1004 jmp rcx: each
                // entry loops back, the index grows until widened
                what: "a growing counter bounds nothing",
                code: &[0x31, 0xc0, 0xff, 0xc0, 0xff, 0xe1],
                jmp: 0x1004,
                index_at: 0x1004,
                targets: &[0x1002; 8],
                range: None,
            },
        ];
        for case in cases {
            let instructions = decode(case.code);
            let table = Table {
                jmp: case.jmp,
                index_at: case.index_at,
                index_register: Register::RAX,
                targets: case.targets,
            };
            let got = table_indices(&instructions, 0x1000, &[table]);
            assert_eq!(got, vec![case.range], "{}", case.what);
        }
    }

    /// Code below the entry (a cold block the function jumps to) is not
    /// where the function starts: the state there comes from the jump.
    #[test]
    fn the_interpretation_starts_at_the_entry_not_the_lowest_address() {
        // 1000: mov eax, 9 ; ret        (the cold block: rax from the entry)
        // 1006: mov ecx, 3              <- the entry
        // 100b: jmp 1000 (after mov eax, ecx)
        let code = [
            0x90, 0x90, 0x90, 0x90, 0x90, 0xc3, // 1000 nops; ret
            0xb9, 0x03, 0, 0, 0, // 1006 mov ecx, 3
            0x89, 0xc8, // 100b mov eax, ecx
            0xeb, 0xf1, // 100d jmp 1000
        ];
        let instructions = decode(&code);
        let states = interpret(&instructions, 0x1006, &[]);
        let ret = states[index_of(&instructions, 0x1005).unwrap()].unwrap();
        assert_eq!(ret[slot(Register::RAX).unwrap()][WIDE], (3, 3));
    }
}
