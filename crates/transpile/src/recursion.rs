//! Stage 2b, **recursion**: the functions that call one another in a cycle
//! (a strongly connected component of the call graph: a function calling
//! itself, or `is_even` and `is_odd` tail-jumping to each other) become one
//! *group*, lowered as one wasm function.
//!
//! Inside a group a `call` is what the CPU does: the return address is
//! pushed on the x86 stack and control jumps to the callee's entry; `ret`
//! pops an address and jumps to the return site that pushed it (or returns
//! to the wasm caller when no call of the group pushed it). So recursion
//! uses the x86 stack alone, 8 MiB in linear memory as natively, and never
//! the engine's own call stack, which browsers keep near 1 MB: a recursion
//! goes as deep in the browser as natively. Registers stay in the group
//! function's locals across such calls, which also spares passing them as
//! parameters and results.
//!
//! A cycle is left to ordinary calls (each function its own wasm function)
//! when its functions share instructions, or when an indirect call or jump in
//! it may reach both functions of the group and functions outside it.

use std::collections::BTreeMap;

use super::decode::{Function, Program, Target};
use super::fxhash::FxHashSet;
use super::graph::strongly_connected;

/// Functions lowered together as one wasm function.
#[derive(Clone, Debug)]
pub struct Group {
    /// The program functions in it (indices into `Program::functions`), in
    /// program order.
    pub members: Vec<usize>,
    /// Their code as one function: the instructions of all (sorted by
    /// address), and their calls, indirect targets, jump tables and data.
    pub function: Function,
}

/// Entry point of the stage: the recursion groups of `program`, by their
/// first member.
pub fn groups(program: &Program) -> Vec<Group> {
    let n = program.functions.len();
    let callees: Vec<Vec<usize>> = program
        .functions
        .iter()
        .map(|f| {
            let mut out: Vec<usize> = f
                .calls
                .values()
                .chain(f.indirect.values())
                .filter_map(|t| match t {
                    Target::Function(a) => program.function_index(*a),
                    _ => None,
                })
                .collect();
            out.sort_unstable();
            out.dedup();
            out
        })
        .collect();
    let mut groups = Vec::new();
    let all: Vec<usize> = (0..n).collect();
    for mut members in strongly_connected(&callees, &all, None) {
        let recursive = members.len() > 1 || callees[members[0]].contains(&members[0]);
        if !recursive {
            continue;
        }
        members.sort_unstable();
        if let Some(function) = merge(program, &members) {
            groups.push(Group { members, function });
        }
    }
    groups.sort_by_key(|g| g.members[0]);
    groups
}

/// The members' code as one function, or `None` when they cannot be one
/// (shared instructions, indirect calls reaching both in and out).
fn merge(program: &Program, members: &[usize]) -> Option<Function> {
    let functions: Vec<&Function> = members.iter().map(|&k| &program.functions[k]).collect();
    let inside: FxHashSet<u64> = functions.iter().map(|f| f.address).collect();
    let mut seen: FxHashSet<u64> = FxHashSet::default();
    for f in &functions {
        for i in &f.instructions {
            if !seen.insert(i.ip()) {
                return None; // code shared between two members
            }
        }
    }
    let mut indirect = BTreeMap::new();
    for f in &functions {
        indirect.extend(f.indirect.iter().map(|(a, t)| (*a, t.clone())));
    }
    // an indirect call in a member may take any of these: all in the group
    // (a jump inside it) or none (an ordinary call)
    let internal = indirect
        .values()
        .filter(|t| matches!(t, Target::Function(a) if inside.contains(a)))
        .count();
    if internal != 0 && internal != indirect.len() {
        return None;
    }
    let mut merged = Function {
        name: functions
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(" + "),
        address: functions[0].address,
        end: None,
        instructions: functions
            .iter()
            .flat_map(|f| f.instructions.iter().copied())
            .collect(),
        calls: BTreeMap::new(),
        indirect,
        jump_tables: BTreeMap::new(),
        data_refs: BTreeMap::new(),
        unreadable: BTreeMap::new(),
    };
    merged.instructions.sort_by_key(|i| i.ip());
    for f in &functions {
        merged.calls.extend(f.calls.iter().map(|(a, t)| (*a, t.clone())));
        merged
            .jump_tables
            .extend(f.jump_tables.iter().map(|(a, t)| (*a, t.clone())));
        for (a, n) in &f.data_refs {
            merged.data_refs.insert(*a, *n);
        }
        merged
            .unreadable
            .extend(f.unreadable.iter().map(|(a, w)| (*a, w.clone())));
    }
    Some(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_of_small_call_graphs() {
        // (edges, components with more than one member or a self edge)
        type Graph<'a> = &'a [&'a [usize]];
        let cases: &[(Graph, Graph)] = &[
            (&[&[1], &[2], &[]], &[]),              // a chain
            (&[&[0]], &[&[0]]),                     // self recursion
            (&[&[1], &[0], &[1]], &[&[0, 1]]),      // mutual, entered from 2
            (&[&[1], &[2], &[0, 3], &[3]], &[&[0, 1, 2], &[3]]),
        ];
        for (edges, want) in cases {
            let succs: Vec<Vec<usize>> = edges.iter().map(|e| e.to_vec()).collect();
            let all: Vec<usize> = (0..succs.len()).collect();
            let mut got: Vec<Vec<usize>> = strongly_connected(&succs, &all, None)
                .into_iter()
                .filter(|c| c.len() > 1 || succs[c[0]].contains(&c[0]))
                .map(|mut c| {
                    c.sort();
                    c
                })
                .collect();
            got.sort();
            let want: Vec<Vec<usize>> = want.iter().map(|c| c.to_vec()).collect();
            assert_eq!(got, want, "{edges:?}");
        }
    }
}
