//! Stage 4, **structure**: a CFG as structured wasm control flow, following
//! Ramsey, "Beyond Relooper: recursive translation of unstructured control flow
//! to structured control flow", ICFP 2022.
//!
//! Every block is placed by the dominator tree: a node's code is followed by
//! its dominator-tree children that are merge nodes (two or more forward
//! in-edges), each after a wasm `block` whose end it follows, innermost first
//! in reverse postorder; a loop header is wrapped in a wasm `loop`. A branch is
//! a `br` to the enclosing `loop` (back edge) or `block` (merge node), or the
//! target's own tree inlined when the branch is its only way in.
//!
//! The algorithm needs a reducible graph. An irreducible region (a strongly
//! connected component with more than one entry) gets a dispatch block of its
//! own that becomes the region's single header: each edge into the region sets
//! a label local and goes to the dispatch, which `br_table`s to the entry. Only
//! that region pays for the dispatch; the rest of the function is untouched.

use super::cfg::{Block, BlockId, Cfg, Terminator};
use super::graph::strongly_connected;

/// Structured control flow, ready to lower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// `block ... end`: a `br` to it continues after it.
    Block(Vec<Control>),
    /// `loop ... end`: a `br` to it starts it again.
    Loop(Vec<Control>),
    /// The straight-line code of a basic block (its body, without terminator).
    Code(BlockId),
    /// `if` on the `jcc` that ends `block`: `then` when the branch is taken.
    If {
        /// The block whose `jcc` decides.
        block: BlockId,
        /// Code when the branch is taken.
        then: Vec<Control>,
        /// Code when it is not.
        otherwise: Vec<Control>,
    },
    /// `br_table` on the jump-table index of `block`.
    Switch {
        /// The block ending in the table jump.
        block: BlockId,
        /// Label depth for each index.
        depths: Vec<u32>,
        /// Label depth for an index past the table.
        default: u32,
    },
    /// `br_table` on the dispatch label local.
    Dispatch {
        /// Label depth for each label value.
        depths: Vec<u32>,
        /// Label depth for any other value.
        default: u32,
    },
    /// `br` to an enclosing label.
    Br(u32),
    /// The `ret` that ends `block`.
    Return(BlockId),
    /// The tail jump that ends `block`.
    TailCall(BlockId),
    /// The trap that ends `block` (`ud2`, a panic call, ...).
    Trap(BlockId),
    /// A trap with no instruction behind it (a jump table's impossible default).
    Unreachable,
    /// A return to the wasm caller with no instruction of its own: a
    /// recursion group's `ret` (which popped the address already) to an
    /// address no call of the group pushed.
    Exit,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    IfThenElse,
    LoopHeadedBy(BlockId),
    BlockFollowedBy(BlockId),
    SwitchCase,
}

/// Entry point of the stage. May add dispatch blocks to `cfg` (irreducible
/// regions). An error names a branch the structuring could not place (a bug).
pub fn structure(cfg: &mut Cfg) -> Result<Vec<Control>, String> {
    let graph = Analysis::new(cfg);
    if graph.is_reducible() {
        return graph.tree();
    }
    make_reducible(cfg);
    Analysis::new(cfg).tree()
}

/// Reverse postorder, dominators and edge kinds of a reducible CFG.
struct Analysis<'a> {
    cfg: &'a Cfg,
    rpo: Vec<usize>, // rpo number per block; usize::MAX = unreachable
    preds: Vec<Vec<BlockId>>,
    children: Vec<Vec<BlockId>>, // dominator tree
    idom: Vec<usize>,
}

fn reverse_postorder(cfg: &Cfg) -> Vec<BlockId> {
    let n = cfg.blocks.len();
    let mut visited = vec![false; n];
    let mut order = Vec::with_capacity(n);
    // iterative DFS: (node, next successor index)
    let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
    visited[0] = true;
    // (a repeated switch target finds its block visited: the order is that of
    // the distinct successors)
    while let Some(&mut (b, ref mut k)) = stack.last_mut() {
        if let Some(s) = cfg.blocks[b].nth_successor(*k) {
            *k += 1;
            if !visited[s.0] {
                visited[s.0] = true;
                stack.push((s.0, 0));
            }
        } else {
            order.push(BlockId(b));
            stack.pop();
        }
    }
    order.reverse();
    order
}

impl<'a> Analysis<'a> {
    fn new(cfg: &'a Cfg) -> Analysis<'a> {
        let n = cfg.blocks.len();
        let order = reverse_postorder(cfg);
        let mut rpo = vec![usize::MAX; n];
        for (i, b) in order.iter().enumerate() {
            rpo[b.0] = i;
        }
        let preds: Vec<Vec<BlockId>> = cfg
            .predecessors()
            .into_iter()
            .map(|p| p.into_iter().filter(|b| rpo[b.0] != usize::MAX).collect())
            .collect();
        // Cooper, Harvey, Kennedy: "A Simple, Fast Dominance Algorithm".
        let mut idom = vec![usize::MAX; n];
        idom[0] = 0;
        let mut changed = true;
        while changed {
            changed = false;
            for &b in order.iter().skip(1) {
                let mut new = usize::MAX;
                for p in &preds[b.0] {
                    if idom[p.0] == usize::MAX {
                        continue;
                    }
                    new = if new == usize::MAX {
                        p.0
                    } else {
                        intersect(&idom, &rpo, p.0, new)
                    };
                }
                if new != idom[b.0] {
                    idom[b.0] = new;
                    changed = true;
                }
            }
        }
        let mut children = vec![Vec::new(); n];
        for &b in order.iter().skip(1) {
            children[idom[b.0]].push(b);
        }
        Analysis {
            cfg,
            rpo,
            preds,
            children,
            idom,
        }
    }

    /// The structured code of the whole (reducible) graph.
    fn tree(&self) -> Result<Vec<Control>, String> {
        let mut out = Vec::new();
        self.do_tree(BlockId(0), &mut Vec::new(), &mut out)?;
        out.push(Control::Unreachable); // every path above ends in br/return/trap
        Ok(out)
    }

    /// True when every edge back in reverse postorder goes to a block that
    /// dominates its source (a loop header): then `make_reducible` has
    /// nothing to do, and most functions skip its SCC search.
    fn is_reducible(&self) -> bool {
        (0..self.cfg.blocks.len())
            .filter(|&b| self.rpo[b] != usize::MAX)
            .all(|from| {
                let mut ok = true;
                self.cfg.blocks[from].each_successor(|to| {
                    if self.is_backward(BlockId(from), to) && !self.dominates(to.0, from) {
                        ok = false;
                    }
                });
                ok
            })
    }

    /// True when block `a` dominates block `b` (both reachable).
    fn dominates(&self, a: usize, mut b: usize) -> bool {
        loop {
            if b == a {
                return true;
            }
            if b == 0 {
                return false;
            }
            b = self.idom[b];
        }
    }

    fn is_backward(&self, from: BlockId, to: BlockId) -> bool {
        self.rpo[to.0] <= self.rpo[from.0]
    }

    fn is_loop_header(&self, b: BlockId) -> bool {
        self.preds[b.0].iter().any(|&p| self.is_backward(p, b))
    }

    fn is_merge_node(&self, b: BlockId) -> bool {
        self.preds[b.0]
            .iter()
            .filter(|&&p| !self.is_backward(p, b))
            .count()
            >= 2
    }

    /// Appends the code of the dominator subtree of `x` to `out`.
    fn do_tree(
        &self,
        x: BlockId,
        ctx: &mut Vec<Context>,
        out: &mut Vec<Control>,
    ) -> Result<(), String> {
        let mut merges: Vec<BlockId> = self.children[x.0]
            .iter()
            .copied()
            .filter(|&c| self.is_merge_node(c))
            .collect();
        merges.sort_by_key(|b| std::cmp::Reverse(self.rpo[b.0]));
        if self.is_loop_header(x) {
            ctx.push(Context::LoopHeadedBy(x));
            let mut body = Vec::new();
            self.node_within(x, &merges, ctx, &mut body)?;
            ctx.pop();
            out.push(Control::Loop(body));
            Ok(())
        } else {
            self.node_within(x, &merges, ctx, out)
        }
    }

    fn node_within(
        &self,
        x: BlockId,
        merges: &[BlockId],
        ctx: &mut Vec<Context>,
        out: &mut Vec<Control>,
    ) -> Result<(), String> {
        match merges.split_first() {
            Some((&y, rest)) => {
                ctx.push(Context::BlockFollowedBy(y));
                let mut inner = Vec::new();
                self.node_within(x, rest, ctx, &mut inner)?;
                ctx.pop();
                out.push(Control::Block(inner));
                self.do_tree(y, ctx, out)
            }
            None => {
                out.push(Control::Code(x));
                self.terminator(x, ctx, out)
            }
        }
    }

    fn terminator(
        &self,
        x: BlockId,
        ctx: &mut Vec<Context>,
        out: &mut Vec<Control>,
    ) -> Result<(), String> {
        match &self.cfg.blocks[x.0].terminator {
            Terminator::Goto(y) => self.do_branch(x, *y, ctx, out)?,
            Terminator::Branch { taken, not_taken } => {
                ctx.push(Context::IfThenElse);
                let (mut then, mut otherwise) = (Vec::new(), Vec::new());
                self.do_branch(x, *taken, ctx, &mut then)?;
                self.do_branch(x, *not_taken, ctx, &mut otherwise)?;
                ctx.pop();
                out.push(Control::If {
                    block: x,
                    then,
                    otherwise,
                });
            }
            Terminator::GroupCall {
                targets,
                indirect: false,
                ..
            } => self.do_branch(x, targets[0].1, ctx, out)?,
            Terminator::Switch { .. }
            | Terminator::Dispatch { .. }
            | Terminator::GroupCall { .. }
            | Terminator::GroupReturn { .. } => {
                let targets: Vec<BlockId> = {
                    let mut all = Vec::new();
                    self.cfg.blocks[x.0].each_successor(|t| all.push(t));
                    all
                };
                let mut distinct: Vec<BlockId> = Vec::new();
                for t in &targets {
                    if !distinct.contains(t) {
                        distinct.push(*t);
                    }
                }
                // Label j (innermost = 0) is the default (a trap, or a
                // group's return to its wasm caller), then each target.
                let depth_of =
                    |t: &BlockId| distinct.iter().position(|d| d == t).unwrap() as u32 + 1;
                let depths = targets.iter().map(depth_of).collect();
                let terminator = &self.cfg.blocks[x.0].terminator;
                let table = match terminator {
                    Terminator::Dispatch { .. } => Control::Dispatch { depths, default: 0 },
                    _ => Control::Switch {
                        block: x,
                        depths,
                        default: 0,
                    },
                };
                let default = match terminator {
                    Terminator::GroupReturn { .. } => Control::Exit,
                    _ => Control::Unreachable,
                };
                let cases: Vec<Option<BlockId>> = std::iter::once(None)
                    .chain(distinct.iter().copied().map(Some))
                    .collect();
                self.switch_cases(x, &cases, table, &default, ctx, out)?
            }
            Terminator::Return => out.push(Control::Return(x)),
            Terminator::TailCall => out.push(Control::TailCall(x)),
            Terminator::Trap => out.push(Control::Trap(x)),
        }
        Ok(())
    }

    /// `block(case n) .. block(case 0) br_table end code(case 0) .. end
    /// code(case n)`; case 0 (`None`) is `default`.
    fn switch_cases(
        &self,
        x: BlockId,
        cases: &[Option<BlockId>],
        table: Control,
        default: &Control,
        ctx: &mut Vec<Context>,
        out: &mut Vec<Control>,
    ) -> Result<(), String> {
        let Some((last, inner)) = cases.split_last() else {
            out.push(table);
            return Ok(());
        };
        ctx.push(Context::SwitchCase);
        let mut nested = Vec::new();
        self.switch_cases(x, inner, table, default, ctx, &mut nested)?;
        ctx.pop();
        out.push(Control::Block(nested));
        match last {
            Some(target) => self.do_branch(x, *target, ctx, out),
            None => {
                out.push(default.clone());
                Ok(())
            }
        }
    }

    fn do_branch(
        &self,
        from: BlockId,
        to: BlockId,
        ctx: &mut Vec<Context>,
        out: &mut Vec<Control>,
    ) -> Result<(), String> {
        let wanted = if self.is_backward(from, to) {
            Some(Context::LoopHeadedBy(to))
        } else if self.is_merge_node(to) {
            Some(Context::BlockFollowedBy(to))
        } else {
            None
        };
        match wanted {
            Some(label) => {
                let at = ctx.iter().rposition(|c| *c == label).ok_or_else(|| {
                    format!(
                        "no enclosing label for the branch from block {} to block {}",
                        from.0, to.0
                    )
                })?;
                out.push(Control::Br((ctx.len() - 1 - at) as u32));
                Ok(())
            }
            None => self.do_tree(to, ctx, out),
        }
    }
}

fn intersect(idom: &[usize], rpo: &[usize], mut a: usize, mut b: usize) -> usize {
    while a != b {
        while rpo[a] > rpo[b] {
            a = idom[a];
        }
        while rpo[b] > rpo[a] {
            b = idom[b];
        }
    }
    a
}

/// Gives every irreducible region a dispatch header (see the module doc).
fn make_reducible(cfg: &mut Cfg) {
    let order = reverse_postorder(cfg);
    let nodes: Vec<usize> = order.iter().map(|b| b.0).collect();
    let mut edges = Edges::of(cfg);
    split_regions(cfg, &mut edges, &nodes, None);
}

/// Successors and predecessors by block number, rebuilt only when a dispatch
/// block changes the graph.
struct Edges {
    succs: Vec<Vec<usize>>,
    preds: Vec<Vec<BlockId>>,
    /// Reachable from the entry: only those predecessors make a region entry.
    reachable: Vec<bool>,
}

impl Edges {
    fn of(cfg: &Cfg) -> Edges {
        let mut reachable = vec![false; cfg.blocks.len()];
        for b in reverse_postorder(cfg) {
            reachable[b.0] = true;
        }
        Edges {
            succs: cfg
                .blocks
                .iter()
                .map(|b| b.successors().into_iter().map(|s| s.0).collect())
                .collect(),
            preds: cfg.predecessors(),
            reachable,
        }
    }
}

/// Finds the loops among `nodes` (the body of the enclosing loop minus its
/// header), fixes those with several entries, and recurses into each.
fn split_regions(cfg: &mut Cfg, edges: &mut Edges, nodes: &[usize], header: Option<usize>) {
    let sccs = strongly_connected(&edges.succs, nodes, header);
    for scc in sccs {
        let cyclic = scc.len() > 1 || edges.succs[scc[0]].contains(&scc[0]);
        if !cyclic {
            continue;
        }
        let mut inside = vec![false; cfg.blocks.len()];
        for &b in &scc {
            inside[b] = true;
        }
        let entries: Vec<usize> = scc
            .iter()
            .copied()
            .filter(|&b| {
                b == 0
                    || edges.preds[b]
                        .iter()
                        .any(|p| edges.reachable[p.0] && !inside[p.0])
            })
            .collect();
        let (region_header, mut body) = if entries.len() <= 1 {
            let h = entries.first().copied().unwrap_or(scc[0]);
            (h, scc.clone())
        } else {
            let (dispatch, setters) = insert_dispatch(cfg, &entries);
            *edges = Edges::of(cfg);
            let preds = &edges.preds;
            let mut body: Vec<usize> = scc.clone();
            // setters on edges from inside the region belong to the region
            body.extend(
                setters
                    .into_iter()
                    .filter(|s| preds[*s].iter().any(|p| p.0 < inside.len() && inside[p.0])),
            );
            (dispatch, body)
        };
        body.retain(|&b| b != region_header);
        split_regions(cfg, edges, &body, Some(region_header));
    }
}

/// Adds a dispatch block for `entries` and reroutes every edge into them
/// through a block that sets the entry's label. Returns the dispatch block and
/// the new label-setting blocks.
fn insert_dispatch(cfg: &mut Cfg, entries: &[usize]) -> (usize, Vec<usize>) {
    let dispatch = cfg.blocks.len();
    let start = cfg.blocks[entries[0]].start;
    cfg.blocks.push(Block {
        start,
        instructions: 0..0,
        body: 0,
        terminator: Terminator::Dispatch {
            targets: entries.iter().map(|&e| BlockId(e)).collect(),
        },
        sets_label: None,
    });
    let mut setters = Vec::new();
    for from in 0..dispatch {
        let retarget = |t: &mut BlockId, cfg_blocks: &mut Vec<Block>, setters: &mut Vec<usize>| {
            if let Some(label) = entries.iter().position(|&e| e == t.0) {
                let s = cfg_blocks.len();
                cfg_blocks.push(Block {
                    start: cfg_blocks[t.0].start,
                    instructions: 0..0,
                    body: 0,
                    terminator: Terminator::Goto(BlockId(dispatch)),
                    sets_label: Some(label as u32),
                });
                setters.push(s);
                *t = BlockId(s);
            }
        };
        let mut term = cfg.blocks[from].terminator.clone();
        match &mut term {
            Terminator::Goto(t) => retarget(t, &mut cfg.blocks, &mut setters),
            Terminator::Branch { taken, not_taken } => {
                retarget(taken, &mut cfg.blocks, &mut setters);
                retarget(not_taken, &mut cfg.blocks, &mut setters);
            }
            Terminator::Switch { targets } | Terminator::Dispatch { targets } => {
                for t in targets.iter_mut() {
                    retarget(t, &mut cfg.blocks, &mut setters);
                }
            }
            Terminator::GroupCall { targets, .. } | Terminator::GroupReturn { sites: targets } => {
                for (_, t) in targets.iter_mut() {
                    retarget(t, &mut cfg.blocks, &mut setters);
                }
            }
            _ => {}
        }
        cfg.blocks[from].terminator = term;
    }
    (dispatch, setters)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goto(b: usize) -> Terminator {
        Terminator::Goto(BlockId(b))
    }

    fn branch(t: usize, f: usize) -> Terminator {
        Terminator::Branch {
            taken: BlockId(t),
            not_taken: BlockId(f),
        }
    }

    #[test]
    fn shapes_structure_without_dispatch_when_reducible() {
        // (name, blocks, expected number of Loop nodes, dispatch blocks added)
        let cases: Vec<(&str, Vec<Terminator>, usize, usize)> = vec![
            ("straight", vec![goto(1), Terminator::Return], 0, 0),
            (
                "diamond",
                vec![branch(1, 2), goto(3), goto(3), Terminator::Return],
                0,
                0,
            ),
            (
                "loop",
                vec![goto(1), branch(1, 2), Terminator::Return],
                1,
                0,
            ),
            (
                "nested loops",
                vec![
                    goto(1),
                    goto(2),
                    branch(2, 3),
                    branch(1, 4),
                    Terminator::Return,
                ],
                2,
                0,
            ),
            // 0 -> 1 | 2, 1 <-> 2: two entries into the cycle {1, 2}
            (
                "irreducible",
                vec![branch(1, 2), branch(2, 3), branch(1, 3), Terminator::Return],
                1,
                1,
            ),
        ];
        for (name, terms, loops, dispatches) in cases {
            let mut cfg = Cfg {
                blocks: terms.into_iter().map(Block::ending).collect(),
            };
            let before = cfg.blocks.len();
            let tree = structure(&mut cfg).unwrap();
            let added = cfg
                .blocks
                .iter()
                .skip(before)
                .filter(|b| matches!(b.terminator, Terminator::Dispatch { .. }))
                .count();
            assert_eq!(added, dispatches, "{name}: dispatch blocks");
            assert_eq!(count_loops(&tree), loops, "{name}: loops in {tree:?}");
        }
    }

    /// A random graph of 1 to `max` blocks (xorshift state `x`): returns,
    /// gotos, two-way branches and switches to any block, so irreducible
    /// regions and unreachable blocks are common.
    fn random_cfg(x: &mut u64, max: u64) -> Cfg {
        let mut next = |n: u64| {
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            *x % n
        };
        let n = 1 + next(max);
        let terms: Vec<Terminator> = (0..n)
            .map(|_| match next(6) {
                0 => Terminator::Return,
                1 => goto(next(n) as usize),
                2 => Terminator::Switch {
                    targets: (0..1 + next(4))
                        .map(|_| BlockId(next(n) as usize))
                        .collect(),
                },
                _ => branch(next(n) as usize, next(n) as usize),
            })
            .collect();
        Cfg {
            blocks: terms.into_iter().map(Block::ending).collect(),
        }
    }

    /// Random graphs, reducible or not: structuring never panics, and every
    /// reachable block's code appears exactly once.
    #[test]
    fn random_graphs_structure_with_each_block_once() {
        let mut x: u64 = 0x1234_5678;
        for _ in 0..30_000 {
            let mut cfg = random_cfg(&mut x, 12);
            let original = cfg.clone();
            let tree = structure(&mut cfg).unwrap_or_else(|e| panic!("{e:?} for {original:?}"));
            let mut seen = vec![0; cfg.blocks.len()];
            count_code(&tree, &mut seen);
            let reachable = reverse_postorder(&cfg);
            for b in reachable {
                assert_eq!(
                    seen[b.0], 1,
                    "block {} placed {} times in {tree:?} for {original:?}",
                    b.0, seen[b.0]
                );
            }
        }
    }

    /// The block a path takes at its `visit`-th arrival at `b` (both walks
    /// below use the same choices).
    fn choice(b: usize, visit: usize, seed: u64) -> u64 {
        let mut x = seed ^ ((b as u64) << 32) ^ visit as u64 ^ 0x9E37_79B9_7F4A_7C15;
        x ^= x >> 31;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^ (x >> 29)
    }

    const STEPS: usize = 200;

    fn walk_cfg(cfg: &Cfg, seed: u64) -> Vec<usize> {
        let mut visits = vec![0; cfg.blocks.len()];
        let (mut b, mut path) = (0, Vec::new());
        while path.len() < STEPS {
            path.push(b);
            visits[b] += 1;
            b = match &cfg.blocks[b].terminator {
                Terminator::Goto(y) => y.0,
                Terminator::Branch { taken, not_taken } => {
                    if choice(b, visits[b], seed).is_multiple_of(2) {
                        taken.0
                    } else {
                        not_taken.0
                    }
                }
                Terminator::Switch { targets } => {
                    targets[(choice(b, visits[b], seed) % targets.len() as u64) as usize].0
                }
                _ => break,
            };
        }
        path
    }

    enum Flow {
        Next,
        Br(u32),
        Stop,
    }

    struct Walk<'a> {
        cfg: &'a Cfg,
        original: usize,
        seed: u64,
        visits: Vec<usize>,
        label: u32,
        path: Vec<usize>,
    }

    impl Walk<'_> {
        fn run(&mut self, nodes: &[Control]) -> Flow {
            for n in nodes {
                let flow = match n {
                    Control::Block(body) => match self.run(body) {
                        Flow::Br(0) => Flow::Next,
                        Flow::Br(d) => Flow::Br(d - 1),
                        f => f,
                    },
                    Control::Loop(body) => loop {
                        match self.run(body) {
                            Flow::Br(0) => continue,
                            Flow::Br(d) => break Flow::Br(d - 1),
                            f => break f,
                        }
                    },
                    Control::Code(b) => {
                        if b.0 < self.original {
                            if self.path.len() >= STEPS {
                                return Flow::Stop;
                            }
                            self.path.push(b.0);
                            self.visits[b.0] += 1;
                        }
                        if let Some(l) = self.cfg.blocks[b.0].sets_label {
                            self.label = l;
                        }
                        Flow::Next
                    }
                    Control::If {
                        block,
                        then,
                        otherwise,
                    } => {
                        let taken =
                            choice(block.0, self.visits[block.0], self.seed).is_multiple_of(2);
                        match self.run(if taken { then } else { otherwise }) {
                            Flow::Br(0) => Flow::Next,
                            Flow::Br(d) => Flow::Br(d - 1),
                            f => f,
                        }
                    }
                    Control::Switch { block, depths, .. } => {
                        let k =
                            choice(block.0, self.visits[block.0], self.seed) % depths.len() as u64;
                        Flow::Br(depths[k as usize])
                    }
                    Control::Dispatch { depths, .. } => Flow::Br(depths[self.label as usize]),
                    Control::Br(d) => Flow::Br(*d),
                    _ => Flow::Stop,
                };
                if !matches!(flow, Flow::Next) {
                    return flow;
                }
            }
            Flow::Next
        }
    }

    /// The structured tree takes exactly the path the CFG takes, for random
    /// graphs (irreducible ones included) and random branch choices.
    #[test]
    fn structured_code_follows_the_graph() {
        let mut x: u64 = 0xfeed;
        for round in 0..5_000u64 {
            let original = random_cfg(&mut x, 10);
            let n = original.blocks.len();
            let mut cfg = original.clone();
            let tree = structure(&mut cfg).unwrap();
            for seed in 0..4 {
                let expected = walk_cfg(&original, round * 8 + seed);
                let mut walk = Walk {
                    cfg: &cfg,
                    original: n,
                    seed: round * 8 + seed,
                    visits: vec![0; cfg.blocks.len()],
                    label: 0,
                    path: Vec::new(),
                };
                walk.run(&tree);
                assert_eq!(
                    walk.path, expected,
                    "path differs for {original:?}\ntree {tree:?}"
                );
            }
        }
    }

    fn count_code(nodes: &[Control], seen: &mut [usize]) {
        for n in nodes {
            match n {
                Control::Code(b) => seen[b.0] += 1,
                Control::Block(b) | Control::Loop(b) => count_code(b, seen),
                Control::If {
                    then, otherwise, ..
                } => {
                    count_code(then, seen);
                    count_code(otherwise, seen);
                }
                _ => {}
            }
        }
    }

    fn count_loops(nodes: &[Control]) -> usize {
        nodes
            .iter()
            .map(|n| match n {
                Control::Loop(b) => 1 + count_loops(b),
                Control::Block(b) => count_loops(b),
                Control::If {
                    then, otherwise, ..
                } => count_loops(then) + count_loops(otherwise),
                _ => 0,
            })
            .sum()
    }
}
