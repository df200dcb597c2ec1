//! Stage 3, **cfg**: a decoded function as basic blocks and edges. A block
//! ends at a control transfer or just before a branch target; its last
//! instruction is kept in the block and marked as the terminator, so the
//! lowering can fuse a compare with the branch that reads it. Jump tables
//! become multi-way `Switch` terminators.

use std::collections::BTreeSet;
use std::ops::Range;

use iced_x86::{FlowControl, Mnemonic};

use super::decode::Function;
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
    /// An irreducible region's entry dispatch (made by `structure`): jumps to
    /// `targets[label]` where `label` is set by the edge that came here.
    Dispatch {
        /// Target of each label value.
        targets: Vec<BlockId>,
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
            _ => None,
        }
    }

    /// Successor blocks in order.
    pub fn successors(&self) -> Vec<BlockId> {
        match &self.terminator {
            Terminator::Goto(b) => vec![*b],
            Terminator::Branch { taken, not_taken } => vec![*taken, *not_taken],
            Terminator::Switch { targets } | Terminator::Dispatch { targets } => {
                let mut seen = BTreeSet::new();
                targets
                    .iter()
                    .copied()
                    .filter(|t| seen.insert(*t))
                    .collect()
            }
            Terminator::Return | Terminator::TailCall | Terminator::Trap => vec![],
        }
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
            match &b.terminator {
                Terminator::Switch { targets } | Terminator::Dispatch { targets } => {
                    for t in targets {
                        // a repeat of this block's edge is the last one pushed
                        if preds[t.0].last() != Some(&BlockId(i)) {
                            preds[t.0].push(BlockId(i));
                        }
                    }
                }
                _ => b.each_successor(|s| preds[s.0].push(BlockId(i))),
            }
        }
        preds
    }
}

/// Entry point of the stage.
pub fn build(function: &Function) -> Result<Cfg, TranspileError> {
    let ins = &function.instructions;
    let mut leaders: Vec<u64> = vec![function.address];
    for (k, i) in ins.iter().enumerate() {
        let ends = ends_block(function, k);
        if ends {
            if let Some(next) = ins.get(k + 1) {
                leaders.push(next.ip());
            }
        }
        match i.flow_control() {
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
    leaders.sort_unstable();
    leaders.dedup();
    // Blocks in address order; the entry is always first in that order because
    // it is the lowest address reached... unless code jumps backwards before
    // the entry, so put the entry block first explicitly.
    let mut starts: Vec<u64> = leaders;
    let entry_pos = starts.iter().position(|&a| a == function.address).unwrap();
    starts.remove(entry_pos);
    starts.insert(0, function.address);
    let index: super::fxhash::FxHashMap<u64, usize> =
        starts.iter().enumerate().map(|(i, &a)| (a, i)).collect();
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
    let mut blocks = Vec::with_capacity(starts.len());
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
            if ends_block(function, last) {
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
            _ if function.is_trap_call(term) => (Terminator::Trap, last - first),
            FlowControl::ConditionalBranch if function.is_conditional_tail_jump(term) => {
                // the taken edge goes to a block of its own that tail-calls;
                // it holds just the `jcc`, so the lowering finds the target
                tail_blocks.push((blocks.len(), last));
                (
                    Terminator::Branch {
                        taken: BlockId(usize::MAX), // patched below
                        not_taken: id_of(term.next_ip(), term.ip())?,
                    },
                    last - first,
                )
            }
            FlowControl::ConditionalBranch => (
                Terminator::Branch {
                    taken: id_of(term.near_branch_target(), term.ip())?,
                    not_taken: id_of(term.next_ip(), term.ip())?,
                },
                last - first,
            ),
            FlowControl::UnconditionalBranch if function.is_tail_jump(term) => {
                (Terminator::TailCall, last - first)
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
                None => (Terminator::TailCall, last - first),
            },
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
            terminator,
            sets_label: None,
        });
    }
    for (from, jcc) in tail_blocks {
        let id = BlockId(blocks.len());
        blocks.push(Block {
            start: ins[jcc].near_branch_target(),
            instructions: jcc..jcc + 1,
            body: 0,
            terminator: Terminator::TailCall,
            sets_label: None,
        });
        if let Terminator::Branch { taken, .. } = &mut blocks[from].terminator {
            *taken = id;
        }
    }
    Ok(Cfg { blocks })
}

/// True when instruction `k` transfers control (so the next one starts a block).
fn ends_block(function: &Function, k: usize) -> bool {
    let i = &function.instructions[k];
    if function.is_trap_call(i) {
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
