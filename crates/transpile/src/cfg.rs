//! Stage 3, **cfg**: a decoded function as basic blocks and edges. A block
//! ends at a control transfer or just before a branch target; its last
//! instruction is kept in the block and marked as the terminator, so the
//! lowering can fuse a compare with the branch that reads it. Jump tables
//! become multi-way `Switch` terminators.

use std::collections::BTreeSet;
use std::ops::Range;

use iced_x86::{FlowControl, Instruction, Mnemonic};

use super::decode::{Function, Target};
use super::error::TranspileError;

/// Index of a block in [`Cfg::blocks`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockId(pub usize);

/// How control leaves a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Terminator {
    /// Falls through or jumps to one block.
    Goto(BlockId),
    /// `jcc`: `taken` when the condition holds.
    Branch {
        /// Where the branch goes when taken.
        taken: BlockId,
        /// The fall-through block.
        not_taken: BlockId,
    },
    /// A jump table: entry `i` goes to `targets[i]`; any other index traps.
    Switch {
        /// Target of each table entry.
        targets: Vec<BlockId>,
    },
    /// `ret`.
    Return,
    /// A jump to another function (direct or through a register).
    TailCall,
    /// `ud2`, `int3`, `hlt`, or a call that never returns.
    Trap,
    /// An irreducible region's entry dispatch (made by `structure`), or a
    /// recursion group's entry (the member its wasm caller asked for): jumps
    /// to `targets[label]` where `label` is set by the edge that came here.
    Dispatch {
        /// Target of each label value.
        targets: Vec<BlockId>,
    },
    /// In a recursion group (`recursion.rs`): a `call` of a group function,
    /// with the return address pushed, or a tail jump through a register
    /// to one, as a jump to its entry. Several targets when the address is
    /// in a register: the one whose entry address it holds (any other
    /// traps).
    GroupCall {
        /// Each possible callee: its entry address and block.
        targets: Vec<(u64, BlockId)>,
        /// Whether the address is in a register or memory (and must be
        /// compared), rather than in the instruction.
        indirect: bool,
        /// Where the callee's `ret` comes back to (`None` for a tail jump).
        /// Not an edge of this block: the callee's return is.
        returns_to: Option<BlockId>,
    },
    /// In a recursion group: `ret` (or a tail jump out of the group, whose
    /// callee's `ret` comes back here), a jump to the return site whose
    /// address it pops; with no call of the group pending, a return to the
    /// wasm caller.
    GroupReturn {
        /// Each return site: the address a group call pushes, and its block.
        sites: Vec<(u64, BlockId)>,
    },
}

/// A basic block.
#[derive(Clone, Debug)]
pub struct Block {
    /// Address of its first instruction.
    pub start: u64,
    /// Its instructions, as indices into `Function::instructions`.
    pub instructions: Range<usize>,
    /// How many of them are straight-line code (the rest is the terminator).
    pub body: usize,
    /// How control leaves it.
    pub terminator: Terminator,
    /// For a block made by the structurer: the dispatch label it sets.
    pub sets_label: Option<u32>,
}

impl Block {
    /// A block with no instructions that ends as `terminator` (tests build
    /// graphs of these).
    #[cfg(test)]
    pub(crate) fn ending(terminator: Terminator) -> Block {
        Block {
            start: 0,
            instructions: 0..0,
            body: 0,
            terminator,
            sets_label: None,
        }
    }

    /// Calls `f` on each successor edge (a switch's repeated targets
    /// repeatedly): [`Block::successors`] without allocating, for analyses
    /// that only accumulate over successors.
    pub fn each_successor(&self, mut f: impl FnMut(BlockId)) {
        match &self.terminator {
            Terminator::Goto(b) => f(*b),
            Terminator::Branch { taken, not_taken } => {
                f(*taken);
                f(*not_taken);
            }
            Terminator::Switch { targets } | Terminator::Dispatch { targets } => {
                targets.iter().copied().for_each(f)
            }
            Terminator::GroupCall { targets, .. } => targets.iter().for_each(|t| f(t.1)),
            Terminator::GroupReturn { sites } => sites.iter().for_each(|t| f(t.1)),
            Terminator::Return | Terminator::TailCall | Terminator::Trap => {}
        }
    }

    /// The `k`th successor edge (a switch's repeated targets repeatedly).
    pub fn nth_successor(&self, k: usize) -> Option<BlockId> {
        match (&self.terminator, k) {
            (Terminator::Goto(b), 0) => Some(*b),
            (Terminator::Branch { taken, .. }, 0) => Some(*taken),
            (Terminator::Branch { not_taken, .. }, 1) => Some(*not_taken),
            (Terminator::Switch { targets } | Terminator::Dispatch { targets }, k) => {
                targets.get(k).copied()
            }
            (Terminator::GroupCall { targets, .. }, k) => targets.get(k).map(|t| t.1),
            (Terminator::GroupReturn { sites }, k) => sites.get(k).map(|t| t.1),
            _ => None,
        }
    }

    /// Successor blocks in order (each once).
    pub fn successors(&self) -> Vec<BlockId> {
        match &self.terminator {
            Terminator::Goto(b) => vec![*b],
            Terminator::Branch { taken, not_taken } => vec![*taken, *not_taken],
            _ => {
                let mut seen = BTreeSet::new();
                let mut out = Vec::new();
                self.each_successor(|t| {
                    if seen.insert(t) {
                        out.push(t);
                    }
                });
                out
            }
        }
    }

    /// True for a terminator with several targets, chosen by an index (a
    /// jump table, a dispatch, a group call or return): each target counts
    /// once as an edge.
    pub fn is_multiway(&self) -> bool {
        matches!(
            self.terminator,
            Terminator::Switch { .. }
                | Terminator::Dispatch { .. }
                | Terminator::GroupCall { .. }
                | Terminator::GroupReturn { .. }
        )
    }
}

/// A function's control-flow graph; block 0 is the entry.
#[derive(Clone, Debug)]
pub struct Cfg {
    /// The blocks; `BlockId(0)` is the entry.
    pub blocks: Vec<Block>,
}

impl Cfg {
    /// Predecessors of every block: one entry per edge, except that a jump
    /// table's repeated target counts once (as [`Block::successors`] has
    /// it). A `jcc` whose two edges reach one block counts twice: that block
    /// is a merge point for the structurer.
    pub fn predecessors(&self) -> Vec<Vec<BlockId>> {
        let mut preds: Vec<Vec<BlockId>> = vec![Vec::new(); self.blocks.len()];
        for (i, b) in self.blocks.iter().enumerate() {
            // (no successor list per block, which allocated)
            if b.is_multiway() {
                b.each_successor(|t| {
                    // a repeat of this block's edge is the last one pushed
                    if preds[t.0].last() != Some(&BlockId(i)) {
                        preds[t.0].push(BlockId(i));
                    }
                });
            } else {
                b.each_successor(|s| preds[s.0].push(BlockId(i)));
            }
        }
        preds
    }
}

/// Entry point of the stage: the graph of one function.
pub fn build(function: &Function) -> Result<Cfg, TranspileError> {
    build_with(function, &[])
}

/// The graph of a recursion group's merged function (`recursion.rs`),
/// whose members start at `entries`: calls and tail jumps between them
/// are edges ([`Terminator::GroupCall`], gotos), `ret` goes back to the
/// return sites ([`Terminator::GroupReturn`]). With several members, block 0
/// dispatches to the entry the wasm caller asks for.
pub fn build_group(function: &Function, entries: &[u64]) -> Result<Cfg, TranspileError> {
    build_with(function, entries)
}

fn build_with(function: &Function, entries: &[u64]) -> Result<Cfg, TranspileError> {
    let ins = &function.instructions;
    let mut leaders: Vec<u64> = vec![function.address];
    leaders.extend_from_slice(entries);
    let mut return_sites: Vec<u64> = Vec::new();
    for (k, i) in ins.iter().enumerate() {
        let ends = ends_block(function, k, entries);
        if ends {
            if let Some(next) = ins.get(k + 1) {
                leaders.push(next.ip());
            }
        }
        match i.flow_control() {
            FlowControl::Call | FlowControl::IndirectCall
                if group_targets(function, i, entries).is_some() =>
            {
                return_sites.push(i.next_ip());
            }
            FlowControl::ConditionalBranch if !function.is_conditional_tail_jump(i) => {
                leaders.push(i.near_branch_target());
            }
            FlowControl::UnconditionalBranch if !function.is_tail_jump(i) => {
                leaders.push(i.near_branch_target());
            }
            FlowControl::IndirectBranch => {
                if let Some(table) = function.jump_tables.get(&i.ip()) {
                    leaders.extend(table.targets.iter().copied());
                }
            }
            _ => {}
        }
    }
    leaders.extend_from_slice(&return_sites);
    leaders.sort_unstable();
    leaders.dedup();
    // Blocks in address order; the entry is always first in that order because
    // it is the lowest address reached... unless code jumps backwards before
    // the entry, so put the entry block first explicitly. A group of several
    // members has a dispatch block before all.
    let mut starts: Vec<u64> = leaders;
    let entry_pos = starts.iter().position(|&a| a == function.address).unwrap();
    starts.remove(entry_pos);
    starts.insert(0, function.address);
    let first_code_block = usize::from(entries.len() > 1);
    let index: super::fxhash::FxHashMap<u64, usize> = starts
        .iter()
        .enumerate()
        .map(|(i, &a)| (a, i + first_code_block))
        .collect();
    let id_of = |address: u64, at: u64| -> Result<BlockId, TranspileError> {
        index
            .get(&address)
            .copied()
            .map(BlockId)
            .ok_or_else(|| TranspileError::ControlFlow {
                function: function.name.clone(),
                address: at,
                reason: format!("branch to {address:#x}, which is not decoded code"),
            })
    };
    let group_edges = |i: &Instruction| -> Result<Option<Vec<(u64, BlockId)>>, TranspileError> {
        group_targets(function, i, entries)
            .map(|targets| {
                targets
                    .into_iter()
                    .map(|a| Ok((a, id_of(a, i.ip())?)))
                    .collect::<Result<Vec<_>, TranspileError>>()
            })
            .transpose()
    };
    let sites = return_sites
        .iter()
        .map(|&a| Ok((a, id_of(a, a)?)))
        .collect::<Result<Vec<_>, TranspileError>>()?;
    let mut blocks = Vec::with_capacity(starts.len() + first_code_block);
    if first_code_block == 1 {
        blocks.push(Block {
            start: function.address,
            instructions: 0..0,
            body: 0,
            terminator: Terminator::Dispatch {
                targets: entries
                    .iter()
                    .map(|&e| id_of(e, e))
                    .collect::<Result<_, _>>()?,
            },
            sets_label: None,
        });
    }
    // In a group, a tail jump out of it ends the member's invocation as a
    // `ret` does: back to a return site when a call of the group is pending
    // (`lower/calls.rs`, `group_return`).
    let in_group = |t: Terminator| match t {
        Terminator::TailCall if !entries.is_empty() => Terminator::GroupReturn {
            sites: sites.clone(),
        },
        t => t,
    };
    let mut tail_blocks: Vec<(usize, usize)> = Vec::new();
    for &start in &starts {
        let first = function
            .index_of(start)
            .ok_or_else(|| TranspileError::ControlFlow {
                function: function.name.clone(),
                address: start,
                reason: "block start is not an instruction".into(),
            })?;
        let mut last = first;
        loop {
            if ends_block(function, last, entries) {
                break;
            }
            match ins.get(last + 1) {
                Some(n) if n.ip() == ins[last].next_ip() && !index.contains_key(&n.ip()) => {
                    last += 1
                }
                _ => break,
            }
        }
        let term = &ins[last];
        let (terminator, body) = match term.flow_control() {
            _ if function.is_trap(term) => (Terminator::Trap, last - first),
            FlowControl::Call | FlowControl::IndirectCall if !entries.is_empty() => {
                match group_edges(term)? {
                    Some(targets) => (
                        Terminator::GroupCall {
                            targets,
                            indirect: !function.calls.contains_key(&term.ip()),
                            returns_to: Some(id_of(term.next_ip(), term.ip())?),
                        },
                        last - first,
                    ),
                    None => (
                        Terminator::Goto(id_of(term.next_ip(), term.ip())?),
                        last - first + 1,
                    ),
                }
            }
            FlowControl::ConditionalBranch if function.is_conditional_tail_jump(term) => {
                let not_taken = id_of(term.next_ip(), term.ip())?;
                match group_edges(term)? {
                    // a conditional tail jump inside the group: a branch
                    Some(targets) => (
                        Terminator::Branch {
                            taken: targets[0].1,
                            not_taken,
                        },
                        last - first,
                    ),
                    None => {
                        // the taken edge goes to a block of its own that
                        // tail-calls; it holds just the `jcc`, so the
                        // lowering finds the target
                        tail_blocks.push((blocks.len(), last));
                        (
                            Terminator::Branch {
                                taken: BlockId(usize::MAX), // patched below
                                not_taken,
                            },
                            last - first,
                        )
                    }
                }
            }
            FlowControl::ConditionalBranch => (
                Terminator::Branch {
                    taken: id_of(term.near_branch_target(), term.ip())?,
                    not_taken: id_of(term.next_ip(), term.ip())?,
                },
                last - first,
            ),
            FlowControl::UnconditionalBranch if function.is_tail_jump(term) => {
                match group_edges(term)? {
                    Some(targets) => (Terminator::Goto(targets[0].1), last - first),
                    None => (Terminator::TailCall, last - first),
                }
            }
            FlowControl::UnconditionalBranch => (
                Terminator::Goto(id_of(term.near_branch_target(), term.ip())?),
                last - first,
            ),
            FlowControl::IndirectBranch => match function.jump_tables.get(&term.ip()) {
                Some(table) => {
                    let targets = table
                        .targets
                        .iter()
                        .map(|&t| id_of(t, term.ip()))
                        .collect::<Result<Vec<_>, _>>()?;
                    (Terminator::Switch { targets }, last - first)
                }
                None => match group_edges(term)? {
                    Some(targets) => (
                        Terminator::GroupCall {
                            targets,
                            indirect: true,
                            returns_to: None,
                        },
                        last - first,
                    ),
                    None => (Terminator::TailCall, last - first),
                },
            },
            FlowControl::Return if !entries.is_empty() => (
                Terminator::GroupReturn {
                    sites: sites.clone(),
                },
                last - first,
            ),
            FlowControl::Return => (Terminator::Return, last - first),
            FlowControl::Exception | FlowControl::Interrupt => (Terminator::Trap, last - first),
            _ if term.mnemonic() == Mnemonic::Hlt => (Terminator::Trap, last - first),
            _ => (
                Terminator::Goto(id_of(term.next_ip(), term.ip())?),
                last - first + 1,
            ),
        };
        blocks.push(Block {
            start,
            instructions: first..last + 1,
            body,
            terminator: in_group(terminator),
            sets_label: None,
        });
    }
    for (from, jcc) in tail_blocks {
        let id = BlockId(blocks.len());
        blocks.push(Block {
            start: ins[jcc].near_branch_target(),
            instructions: jcc..jcc + 1,
            body: 0,
            terminator: in_group(Terminator::TailCall),
            sets_label: None,
        });
        if let Terminator::Branch { taken, .. } = &mut blocks[from].terminator {
            *taken = id;
        }
    }
    Ok(Cfg { blocks })
}

/// The group functions (by entry address) a call or tail jump `i` of a
/// group's merged function reaches: `None` when it leaves the group (or
/// when there is no group). Through a register, every group function
/// whose address the group loads: all of its indirect targets are the
/// group's or none are (`recursion.rs`).
fn group_targets(function: &Function, i: &Instruction, entries: &[u64]) -> Option<Vec<u64>> {
    if entries.is_empty() || function.is_trap(i) {
        return None;
    }
    let is_transfer = match i.flow_control() {
        FlowControl::Call | FlowControl::IndirectCall => true,
        FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch => {
            function.calls.contains_key(&i.ip())
        }
        FlowControl::IndirectBranch => !function.jump_tables.contains_key(&i.ip()),
        _ => false,
    };
    if !is_transfer {
        return None;
    }
    match function.calls.get(&i.ip()) {
        Some(Target::Function(a)) if entries.contains(a) => Some(vec![*a]),
        Some(_) => None,
        None => {
            let targets: Vec<u64> = function
                .indirect
                .values()
                .filter_map(|t| match t {
                    Target::Function(a) if entries.contains(a) => Some(*a),
                    _ => None,
                })
                .collect();
            (!targets.is_empty()).then_some(targets)
        }
    }
}

/// True when instruction `k` transfers control (so the next one starts a
/// block): a call inside a recursion group does.
fn ends_block(function: &Function, k: usize, entries: &[u64]) -> bool {
    let i = &function.instructions[k];
    if function.is_trap(i) || group_targets(function, i, entries).is_some() {
        return true;
    }
    !matches!(
        i.flow_control(),
        FlowControl::Next | FlowControl::Call | FlowControl::IndirectCall
    ) || i.mnemonic() == Mnemonic::Hlt
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `jcc` with both edges to one block counts twice (the block is a
    /// merge point); a jump table's repeated target once; both as
    /// `successors` lists them.
    #[test]
    fn predecessors_count_edges_as_successors_lists_them() {
        let cfg = Cfg {
            blocks: vec![
                Block::ending(Terminator::Branch {
                    taken: BlockId(1),
                    not_taken: BlockId(1),
                }),
                Block::ending(Terminator::Switch {
                    targets: vec![BlockId(2), BlockId(3), BlockId(2), BlockId(2)],
                }),
                Block::ending(Terminator::Goto(BlockId(3))),
                Block::ending(Terminator::Return),
            ],
        };
        let preds = cfg.predecessors();
        assert_eq!(preds[0], []);
        assert_eq!(preds[1], [BlockId(0), BlockId(0)]);
        assert_eq!(preds[2], [BlockId(1)]);
        assert_eq!(preds[3], [BlockId(1), BlockId(2)]);
        // the same from the successor lists
        let mut from_successors = vec![Vec::new(); cfg.blocks.len()];
        for (i, b) in cfg.blocks.iter().enumerate() {
            for s in b.successors() {
                from_successors[s.0].push(BlockId(i));
            }
        }
        assert_eq!(preds, from_successors);
    }
}
