//! The stack guard: an x86 stack overflow traps before any byte below the
//! stack is written (`docs/abi.md`, "Memory").
//!
//! The stack is [`crate::layout::STACK_SIZE`] bytes of linear memory right
//! above the image; below it lies the program's data, which no bound check
//! of the engine protects. So the lowering checks `rsp` itself, against a
//! limit above the stack's base, where the stack can only have grown:
//!
//! - Each decrement of `rsp` by a constant (`push`, `sub rsp, imm`, `lea
//!   rsp, [rsp - imm]`) outside any loop runs at most once per call, so
//!   one check at the function's entry covers all of them together: rsp ≥
//!   base + their sum + [`MARGIN`]. A function with no such decrement and
//!   no call (a leaf) needs no check at all. In a recursion group
//!   (`recursion.rs`) each member's entry checks for that member.
//! - A decrement inside a loop (a stack probe), any other write of rsp
//!   (`and rsp, -32`, `sub rsp, rax`, `mov rsp, rbp`, `leave`), and
//!   decrements past [`COVERED_MAX`] are checked right after they run,
//!   against the same limit, before anything is stored below the new rsp.
//!
//! - A move up by a constant (`add rsp, imm`) is checked against the top,
//!   which rsp never passes in compiled code (a frame's return address is
//!   below it), so pushes cannot write the caller's data above the stack.
//!
//! Between checks rsp therefore stays at least [`MARGIN`] above the base:
//! room for the red zone (128 bytes below rsp that SysV lets a function use
//! without moving rsp), a `call`'s return address and the callee's own.

use super::*;
use crate::cfg::Terminator;
use crate::fxhash::{FxHashMap, FxHashSet};
use crate::graph::strongly_connected;

/// Bytes kept free below the lowest rsp a check lets through: a callee's
/// return address (8) and its red zone (128), with room to spare.
pub const MARGIN: u64 = 256;
/// The most bytes of constant decrements one entry check covers; a function
/// whose frame is larger checks its largest decrements where they run.
const COVERED_MAX: u64 = 64 << 10;

/// How one instruction moves rsp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Move {
    /// Not at all, or only for the length of a call (its return address).
    None,
    /// Down by this many bytes (`push`, `sub rsp, imm`).
    Down(u64),
    /// Up by one slot (`pop`, `ret`): never towards the base.
    Pop,
    /// Up by a constant (`add rsp, imm`): never towards the base, but maybe
    /// past the top, into the caller's data.
    Up,
    /// To a value known only at run time (`mov rsp, rbp`, `and rsp, -16`).
    Other,
}

/// Where a function checks rsp.
#[derive(Clone, Debug, Default)]
pub(crate) struct StackGuard {
    /// The lowest rsp allowed at each entry that needs a check (a function's,
    /// or each member's of a recursion group), by entry address.
    pub entries: FxHashMap<u64, u64>,
    /// The lowest rsp allowed after each checked instruction, by its address.
    pub checked: FxHashMap<u64, u64>,
    /// The instructions after which rsp must still be below [`Self::top`]
    /// (a frame's slot at least): constant moves up, which could otherwise
    /// lift rsp over the stack's top onto the caller's data.
    pub ceiling: FxHashSet<u64>,
    /// The stack's top.
    pub top: u64,
}

/// The guard of `function` (with graph `cfg`): one function, or a recursion
/// group's code whose `members` each start an invocation at their entry, for
/// a stack whose lowest byte is at `stack_base`.
pub(crate) fn guard(
    function: &Function,
    cfg: &Cfg,
    members: &[&Function],
    stack_base: u64,
) -> StackGuard {
    let n = cfg.blocks.len();
    // the member each block's code belongs to
    let member_of: Vec<Option<usize>> = cfg
        .blocks
        .iter()
        .map(|b| {
            let ip = function.instructions.get(b.instructions.start)?.ip();
            (!b.instructions.is_empty())
                .then(|| members.iter().position(|m| m.index_of(ip).is_some()))
                .flatten()
        })
        .collect();
    let is_entry: Vec<bool> = cfg
        .blocks
        .iter()
        .map(|b| {
            !b.instructions.is_empty()
                && members
                    .iter()
                    .any(|m| function.instructions[b.instructions.start].ip() == m.address)
        })
        .collect();
    // Which code may run more than once in one invocation: blocks on a
    // cycle of the function's own edges. A call comes back to its return
    // site; arriving at an entry checks again, so those edges (a call or
    // tail jump within a group, a loop back to the entry) end a cycle.
    let succs: Vec<Vec<usize>> = cfg
        .blocks
        .iter()
        .map(|b| {
            let mut out = Vec::new();
            match &b.terminator {
                Terminator::GroupCall { returns_to, .. } => out.extend(returns_to.map(|r| r.0)),
                Terminator::GroupReturn { .. } => {}
                _ => b.each_successor(|s| out.push(s.0)),
            }
            out.retain(|&s| !is_entry[s]);
            out
        })
        .collect();
    let all: Vec<usize> = (0..n).collect();
    let mut in_loop = vec![false; n];
    for scc in strongly_connected(&succs, &all, None) {
        if scc.len() > 1 || succs[scc[0]].contains(&scc[0]) {
            for b in scc {
                in_loop[b] = true;
            }
        }
    }
    let mut covered = vec![0u64; members.len()];
    let mut needs_check = vec![false; members.len()];
    let mut checked: Vec<(u64, usize)> = Vec::new();
    let mut ceiling: Vec<u64> = Vec::new();
    for (b, block) in cfg.blocks.iter().enumerate() {
        let Some(m) = member_of[b] else {
            continue;
        };
        for ins in &function.instructions[block.instructions.clone()] {
            if matches!(ins.flow_control(), FlowControl::Call | FlowControl::IndirectCall)
                && !function.is_trap(ins)
            {
                // the callee's frame starts below this one's
                needs_check[m] = true;
            }
            match rsp_move(ins) {
                Move::None | Move::Pop => {}
                Move::Up => ceiling.push(ins.ip()),
                Move::Down(bytes) if !in_loop[b] && covered[m] + bytes <= COVERED_MAX => {
                    covered[m] += bytes;
                    needs_check[m] = true;
                }
                Move::Down(_) | Move::Other => {
                    checked.push((ins.ip(), m));
                    needs_check[m] = true;
                }
            }
        }
    }
    let limit = |m: usize| stack_base + covered[m] + MARGIN;
    StackGuard {
        entries: (0..members.len())
            .filter(|&m| needs_check[m])
            .map(|m| (members[m].address, limit(m)))
            .collect(),
        checked: checked.into_iter().map(|(ip, m)| (ip, limit(m))).collect(),
        ceiling: ceiling.into_iter().collect(),
        top: stack_base + crate::layout::STACK_SIZE,
    }
}

/// How `ins` moves rsp (see [`Move`]).
fn rsp_move(ins: &Instruction) -> Move {
    use Mnemonic as M;
    let is_rsp = |r: Register| r.full_register() == Register::RSP;
    let op0_rsp = ins.op_count() > 0 && ins.op0_kind() == OpKind::Register && is_rsp(ins.op0_register());
    match ins.mnemonic() {
        M::Push | M::Pushf | M::Pushfq => Move::Down(ins.stack_pointer_increment().unsigned_abs() as u64),
        M::Pop if op0_rsp => Move::Other,
        M::Pop | M::Popf | M::Popfq | M::Ret => Move::Pop,
        // reads of rsp
        M::Cmp | M::Test | M::Bt => Move::None,
        M::Add | M::Sub
            if op0_rsp
                && ins.op0_register() == Register::RSP
                && ins.op_count() == 2
                && is_immediate(ins.op1_kind()) =>
        {
            let imm = ins.immediate(1) as i64;
            let down = if ins.mnemonic() == M::Sub { imm } else { imm.wrapping_neg() };
            if down > 0 {
                Move::Down(down as u64)
            } else {
                Move::Up
            }
        }
        M::Lea
            if ins.op0_register() == Register::RSP
                && ins.memory_base() == Register::RSP
                && ins.memory_index() == Register::None =>
        {
            let displacement = ins.memory_displacement64() as i64;
            if displacement < 0 {
                Move::Down(displacement.unsigned_abs())
            } else {
                Move::Up
            }
        }
        _ if op0_rsp => Move::Other,
        // exchanges write their second operand too
        M::Xchg | M::Xadd | M::Cmpxchg
            if (0..ins.op_count())
                .any(|k| ins.op_kind(k) == OpKind::Register && is_rsp(ins.op_register(k))) =>
        {
            Move::Other
        }
        // (a return to the frame pointer too: nothing proves rbp holds an
        // earlier rsp)
        M::Leave | M::Enter => Move::Other,
        _ => Move::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rsp_move` of each instruction, by its bytes.
    #[test]
    fn how_instructions_move_rsp() {
        let cases: &[(&[u8], Move)] = &[
            (&[0x55], Move::Down(8)),                                 // push rbp
            (&[0x66, 0x50], Move::Down(2)),                           // push ax
            (&[0x6a, 0x01], Move::Down(8)),                           // push 1
            (&[0x9c], Move::Down(8)),                                 // pushfq
            (&[0x5d], Move::Pop),                                     // pop rbp
            (&[0x5c], Move::Other),                                   // pop rsp
            (&[0xc3], Move::Pop),                                     // ret
            (&[0x48, 0x83, 0xec, 0x28], Move::Down(0x28)),            // sub rsp, 0x28
            (&[0x48, 0x81, 0xec, 0x00, 0x10, 0, 0], Move::Down(4096)), // sub rsp, 0x1000
            (&[0x48, 0x83, 0xc4, 0x28], Move::Up),                    // add rsp, 0x28
            (&[0x48, 0x83, 0xc4, 0xf0], Move::Down(16)),              // add rsp, -16
            (&[0x48, 0x83, 0xec, 0xf0], Move::Up),                    // sub rsp, -16
            (&[0x48, 0x8d, 0x64, 0x24, 0xf0], Move::Down(16)),        // lea rsp, [rsp-16]
            (&[0x48, 0x8d, 0x64, 0x24, 0x10], Move::Up),              // lea rsp, [rsp+16]
            (&[0x48, 0x8d, 0x65, 0xf0], Move::Other),               // lea rsp, [rbp-16]
            (&[0x48, 0x8d, 0x60, 0xf0], Move::Other),                 // lea rsp, [rax-16]
            (&[0x48, 0x83, 0xe4, 0xe0], Move::Other),                 // and rsp, -32
            (&[0x48, 0x89, 0xec], Move::Other),                     // mov rsp, rbp
            (&[0x48, 0x89, 0xc4], Move::Other),                       // mov rsp, rax
            (&[0x48, 0x29, 0xc4], Move::Other),                       // sub rsp, rax
            (&[0x83, 0xec, 0x10], Move::Other),                       // sub esp, 16 (zero-extends)
            (&[0x48, 0x94], Move::Other),                             // xchg rsp, rax
            (&[0x48, 0x87, 0xe0], Move::Other),                       // xchg rax, rsp
            (&[0xc9], Move::Other),                                 // leave
            (&[0x48, 0x39, 0xe0], Move::None),                        // cmp rax, rsp
            (&[0x48, 0x89, 0xe5], Move::None),                        // mov rbp, rsp
            (&[0x48, 0x89, 0x04, 0x24], Move::None),                  // mov [rsp], rax
            (&[0xe8, 0, 0, 0, 0], Move::None),                        // call (returns)
        ];
        for (bytes, want) in cases {
            let ins = iced_x86::Decoder::new(64, bytes, 0).decode();
            assert_eq!(rsp_move(&ins), *want, "{ins}");
        }
    }
}
