//! ABI inference: the registers each function's wasm signature takes and
//! returns (those it, or anything it calls, may read and write).

use super::*;


/// The registers a wasm function takes and returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Abi {
    /// Parameters, in order.
    pub inputs: Vec<Reg>,
    /// Results, in order.
    pub outputs: Vec<Reg>,
}

impl Abi {
    /// The wasm function type.
    pub fn func_type(&self) -> (Vec<ValType>, Vec<ValType>) {
        (
            self.inputs.iter().map(|r| r.val_type()).collect(),
            self.outputs.iter().map(|r| r.val_type()).collect(),
        )
    }
}

/// Registers each function reads and writes, itself or through its callees.
/// The members of a recursion group (`recursion.rs`, given by index) share
/// one wasm function, so one ABI: the union of theirs. Also the ABI of the
/// function table (`call_indirect`): every function an indirect call may
/// reach ([`Program::address_taken`]) reads and writes no more, and a
/// function with an indirect call or jump may read and write all it does.
/// `wide`: the module keeps the high halves of the YMM registers
/// ([`Reg::halves`]).
pub fn abis(program: &Program, groups: &[Vec<usize>], wide: bool) -> (Vec<Abi>, Abi) {
    let mut factory = InstructionInfoFactory::new();
    let n = program.functions.len();
    let mut reads: Vec<RegSet> = vec![0; n];
    let mut writes: Vec<RegSet> = vec![0; n];
    let mut callees: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (k, f) in program.functions.iter().enumerate() {
        for ins in &f.instructions {
            if let Some(writes_first) = explicit_registers_only(ins) {
                // the common case, read off the operands (iced's info
                // factory costs several hundred instructions each)
                let (r, w) = explicit_registers(ins, writes_first);
                reads[k] |= r;
                writes[k] |= w;
                continue;
            }
            if wide && matches!(ins.mnemonic(), Mnemonic::Vzeroupper | Mnemonic::Vzeroall) {
                // (every high half, and for vzeroall every XMM register)
                let highs: RegSet = 0xffff << 32;
                let all = if ins.mnemonic() == Mnemonic::Vzeroall {
                    highs | 0xffff << 16
                } else {
                    highs
                };
                reads[k] |= all;
                writes[k] |= all;
            }
            for used in factory
                .info_options(ins, InstructionInfoOptions::NO_MEMORY_USAGE)
                .used_registers()
            {
                let written = !matches!(used.access(), OpAccess::Read | OpAccess::CondRead);
                for reg in Reg::halves(used.register(), wide).into_iter().flatten() {
                    reads[k] |= reg_bit(reg);
                    if written {
                        writes[k] |= reg_bit(reg);
                    }
                }
            }
        }
        for t in f.calls.values().chain(f.indirect.values()) {
            match t {
                Target::Function(a) => callees[k].extend(program.function_index(*a)),
                Target::Builtin(b) => {
                    let (args, result) = calls::builtin_registers(b.shape());
                    for r in args {
                        reads[k] |= reg_bit(*r);
                    }
                    writes[k] |= reg_bit(result);
                }
                Target::Trap => {}
            }
        }
        reads[k] |= reg_bit(Reg::Gpr(RSP));
        writes[k] |= reg_bit(Reg::Gpr(RSP));
    }
    let table: Vec<usize> = program
        .address_taken
        .iter()
        .filter_map(|a| program.function_index(*a))
        .collect();
    let calls_through_table: Vec<bool> = program
        .functions
        .iter()
        .map(has_indirect_transfer)
        .collect();
    let (mut table_reads, mut table_writes): (RegSet, RegSet) = (0, 0);
    let tail_callees: Vec<Vec<usize>> = program
        .functions
        .iter()
        .map(|f| tail_callees(program, f))
        .collect();
    // Fixpoint over the call graph (recursion included). A tail call is a
    // wasm `return_call`, which returns the callee's results as the
    // caller's: both sides of one return the same registers (a register
    // one side does not write, it takes as an input and hands back).
    let mut changed = true;
    while changed {
        changed = false;
        for k in 0..n {
            for &c in &callees[k] {
                let (r, w) = (reads[k] | reads[c], writes[k] | writes[c]);
                changed |= (r, w) != (reads[k], writes[k]);
                reads[k] = r;
                writes[k] = w;
            }
            for &c in &tail_callees[k] {
                let w = writes[k] | writes[c];
                changed |= w != writes[k] || w != writes[c];
                writes[k] = w;
                writes[c] = w;
            }
        }
        for members in groups {
            let r = members.iter().fold(0, |r, &m| r | reads[m]);
            let w = members.iter().fold(0, |w, &m| w | writes[m]);
            for &m in members {
                changed |= (r, w) != (reads[m], writes[m]);
                reads[m] = r;
                writes[m] = w;
            }
        }
        for &t in &table {
            table_reads |= reads[t] | writes[t];
            table_writes |= writes[t];
        }
        for k in 0..n {
            if calls_through_table[k] && !table.is_empty() {
                let (r, w) = (reads[k] | table_reads, writes[k] | table_writes);
                changed |= (r, w) != (reads[k], writes[k]);
                reads[k] = r;
                writes[k] = w;
            }
        }
    }
    // A partial write keeps the rest of the register: it is an input too.
    let functions = (0..n)
        .map(|k| Abi {
            inputs: regs_of(reads[k] | writes[k]),
            outputs: regs_of(writes[k]),
        })
        .collect();
    let table = Abi {
        inputs: regs_of(table_reads | table_writes),
        outputs: regs_of(table_writes),
    };
    (functions, table)
}

/// True when `f` calls or jumps through a register or memory to a target
/// its own code does not name (not a jump table, not the GOT).
pub fn has_indirect_transfer(f: &Function) -> bool {
    f.instructions.iter().any(|i| {
        matches!(
            i.flow_control(),
            FlowControl::IndirectCall | FlowControl::IndirectBranch
        ) && !f.jump_tables.contains_key(&i.ip())
            && !f.calls.contains_key(&i.ip())
    })
}

/// For each function, the bytes its `ret` pops above the return address
/// (`ret N`: 0 for a plain `ret`), its own and those of the functions it
/// tail-jumps to (their `ret` is its return), sorted; `[0]` for one that
/// never returns.
pub fn ret_pops(program: &Program) -> Vec<Vec<u64>> {
    let mut pops: Vec<Vec<u64>> = program
        .functions
        .iter()
        .map(|f| {
            f.instructions
                .iter()
                .filter(|i| i.flow_control() == FlowControl::Return)
                .map(|i| if i.op_count() == 1 { i.immediate(0) } else { 0 })
                .collect()
        })
        .collect();
    let tails: Vec<Vec<usize>> = program
        .functions
        .iter()
        .map(|f| tail_callees(program, f))
        .collect();
    let mut changed = true;
    while changed {
        changed = false;
        for k in 0..pops.len() {
            for &c in &tails[k] {
                let add: Vec<u64> = pops[c].clone();
                for n in add {
                    if !pops[k].contains(&n) {
                        pops[k].push(n);
                        changed = true;
                    }
                }
            }
        }
    }
    for p in &mut pops {
        if p.is_empty() {
            p.push(0);
        }
        p.sort_unstable();
        p.dedup();
    }
    pops
}

/// The program functions `f` tail-calls (a `jmp` or `jcc` to another
/// function, directly, through the GOT or through a register).
fn tail_callees(program: &Program, f: &Function) -> Vec<usize> {
    let mut out = Vec::new();
    for ins in &f.instructions {
        let is_jump = matches!(
            ins.flow_control(),
            FlowControl::UnconditionalBranch
                | FlowControl::ConditionalBranch
                | FlowControl::IndirectBranch
        );
        if !is_jump || f.jump_tables.contains_key(&ins.ip()) {
            continue;
        }
        match f.calls.get(&ins.ip()) {
            Some(Target::Function(a)) => out.extend(program.function_index(*a)),
            Some(_) => {}
            // through a register: any function whose address it loads
            None if ins.flow_control() == FlowControl::IndirectBranch => {
                for t in f.indirect.values() {
                    if let Target::Function(a) = t {
                        out.extend(program.function_index(*a));
                    }
                }
            }
            None => {}
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// For an integer instruction that touches no register besides its explicit
/// operands (and rsp, which every function reads and writes anyway):
/// whether it writes its first operand. `None` for the rest, which iced's
/// info factory then describes. Reporting more than an instruction touches
/// only lengthens an ABI; reporting less would lose a value, so the list
/// is short and explicit.
fn explicit_registers_only(ins: &Instruction) -> Option<bool> {
    use Mnemonic as M;
    let m = ins.mnemonic();
    Some(match m {
        M::Cmp | M::Test | M::Bt | M::Push | M::Nop | M::Endbr64 | M::Jmp => false,
        M::Mov
        | M::Movzx
        | M::Movsx
        | M::Movsxd
        | M::Lea
        | M::Add
        | M::Sub
        | M::Adc
        | M::Sbb
        | M::And
        | M::Or
        | M::Xor
        | M::Inc
        | M::Dec
        | M::Neg
        | M::Not
        | M::Shl
        | M::Shr
        | M::Sar
        | M::Rol
        | M::Ror
        | M::Shld
        | M::Shrd
        | M::Bts
        | M::Btr
        | M::Btc
        | M::Bsf
        | M::Bsr
        | M::Tzcnt
        | M::Lzcnt
        | M::Popcnt
        | M::Bswap
        | M::Pop => true,
        // one-operand imul multiplies into rdx:rax
        M::Imul if ins.op_count() >= 2 => true,
        _ if ins.is_jcc_short_or_near() => false,
        _ if int::is_cmovcc(m) || int::is_setcc(m) => true,
        _ => return None,
    })
}

/// The registers `ins` reads and writes, from its explicit operands.
fn explicit_registers(ins: &Instruction, writes_first: bool) -> (RegSet, RegSet) {
    let (mut reads, mut writes) = (0, 0);
    for op in 0..ins.op_count() {
        let (registers, written) = match ins.op_kind(op) {
            OpKind::Register => (
                [ins.op_register(op), Register::None],
                op == 0 && writes_first,
            ),
            // an address's registers are only read
            OpKind::Memory => ([ins.memory_base(), ins.memory_index()], false),
            _ => continue,
        };
        for r in registers.into_iter().filter_map(Reg::of) {
            reads |= reg_bit(r);
            if written {
                writes |= reg_bit(r);
            }
        }
    }
    (reads, writes)
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operand_registers_cover_what_the_info_factory_reports() {
        let mut factory = InstructionInfoFactory::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut checked = std::collections::BTreeSet::new();
        for _ in 0..400_000 {
            let mut bytes = [0u8; 16];
            for b in bytes.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            // half of them behind a REX prefix (64-bit and r8-r15 forms)
            if bytes[15] & 1 == 0 {
                bytes[0] = 0x40 | (bytes[0] & 0x0f); // a REX prefix
            }
            let ins = iced_x86::Decoder::new(64, &bytes, 0).decode();
            let Some(writes_first) = explicit_registers_only(&ins) else {
                continue;
            };
            let (reads, writes) = explicit_registers(&ins, writes_first);
            for used in factory
                .info_options(&ins, InstructionInfoOptions::NO_MEMORY_USAGE)
                .used_registers()
            {
                let Some(r) = Reg::of(used.register()) else {
                    continue;
                };
                if r == Reg::Gpr(RSP) {
                    continue; // every function reads and writes rsp
                }
                let written = !matches!(used.access(), OpAccess::Read | OpAccess::CondRead);
                assert!(
                    reads & reg_bit(r) != 0 && (!written || writes & reg_bit(r) != 0),
                    "{ins} ({:?}): {:?} {:?} not covered",
                    ins.code(),
                    used.register(),
                    used.access()
                );
            }
            checked.insert(ins.mnemonic());
        }
        // the random bytes reached the common mnemonics
        for m in [
            Mnemonic::Mov,
            Mnemonic::Add,
            Mnemonic::Imul,
            Mnemonic::Push,
            Mnemonic::Pop,
        ] {
            assert!(checked.contains(&m), "{m:?} never decoded");
        }
    }

}
