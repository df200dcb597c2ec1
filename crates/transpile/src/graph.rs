//! A leaf every stage may use: graph algorithms over node indices (a
//! function's blocks, a program's functions).

/// Tarjan's strongly connected components of the subgraph on `nodes`, never
/// entering `exclude` (the enclosing header). Iterative, so deep graphs cannot
/// overflow the stack. (The loops of `structure.rs`, the call graph's
/// recursion groups of `recursion.rs` and the stack guard's loops of
/// `lower/stack.rs`.)
pub fn strongly_connected(
    succs: &[Vec<usize>],
    nodes: &[usize],
    exclude: Option<usize>,
) -> Vec<Vec<usize>> {
    let n = succs.len();
    let mut member = vec![false; n];
    for &b in nodes {
        member[b] = true;
    }
    if let Some(h) = exclude {
        member[h] = false;
    }
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut out = Vec::new();
    for &root in nodes {
        if !member[root] || index[root] != usize::MAX {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut k)) = call.last_mut() {
            if let Some(&w) = succs[v].get(*k) {
                *k += 1;
                if !member[w] {
                    continue;
                }
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut scc = Vec::new();
                    loop {
                        let w = stack.pop().unwrap();
                        on_stack[w] = false;
                        scc.push(w);
                        if w == v {
                            break;
                        }
                    }
                    out.push(scc);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::Path;

    /// The pipeline's stages in order (lib.rs): a stage may use the ones
    /// before it, never one after.
    const STAGES: [&str; 8] = [
        "image",
        "link",
        "decode",
        "recursion",
        "cfg",
        "structure",
        "lower",
        "module",
    ];

    /// The top-level modules each top-level module of `src` names: `crate::m`
    /// (also inside `crate::{...}`), `super::m` in a top-level file or a
    /// folder's `mod.rs`, and `super::super::m` in the folder's other files;
    /// comments aside.
    fn module_graph(src: &Path) -> BTreeMap<String, Vec<String>> {
        fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut all = Vec::new();
        files(src, &mut all);
        let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for path in all {
            let relative = path.strip_prefix(src).unwrap();
            let depth = relative.components().count();
            let top = relative
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let top = top.trim_end_matches(".rs").to_string();
            if top == "lib" {
                continue;
            }
            let text: String = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .map(|line| line.split("//").next().unwrap())
                .collect::<Vec<_>>()
                .join("\n");
            // (a folder's `mod.rs` is the module itself: its `super` is the crate)
            let is_mod = relative.file_name().is_some_and(|f| f == "mod.rs");
            let super_path = match depth == 1 || (depth == 2 && is_mod) {
                true => "super::",
                false => "super::super::",
            };
            let mut named = Vec::new();
            for prefix in ["crate::", super_path] {
                for (at, _) in text.match_indices(prefix) {
                    // `super::super::m` also contains `super::m`: skip the inner match
                    if prefix == "super::" && text[..at].ends_with("super::") {
                        continue;
                    }
                    let rest = &text[at + prefix.len()..];
                    let group = rest
                        .strip_prefix('{')
                        .map(|g| &g[..g.find('}').unwrap_or(0)]);
                    match group {
                        Some(group) => named.extend(
                            group
                                .split(',')
                                .map(|item| item.trim().split("::").next().unwrap().to_string()),
                        ),
                        None => named.push(
                            rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                                .next()
                                .unwrap()
                                .to_string(),
                        ),
                    }
                }
            }
            graph.entry(top.clone()).or_default().extend(named);
        }
        let modules: Vec<String> = graph.keys().cloned().collect();
        for (module, named) in graph.iter_mut() {
            named.retain(|m| m != module && modules.contains(m));
            named.sort();
            named.dedup();
        }
        graph
    }

    #[test]
    fn the_transpilers_modules_import_one_way() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let graph = module_graph(&src);
        let names: Vec<&String> = graph.keys().collect();
        assert!(names.len() > 10, "read only {names:?}");
        let succs: Vec<Vec<usize>> = graph
            .values()
            .map(|named| {
                named
                    .iter()
                    .map(|m| names.iter().position(|n| *n == m).unwrap())
                    .collect()
            })
            .collect();
        let nodes: Vec<usize> = (0..names.len()).collect();
        let cycles: Vec<Vec<&String>> = strongly_connected(&succs, &nodes, None)
            .into_iter()
            .filter(|scc| scc.len() > 1)
            .map(|scc| scc.into_iter().map(|k| names[k]).collect())
            .collect();
        assert!(
            cycles.is_empty(),
            "modules that import each other: {cycles:?}"
        );
        for (module, named) in &graph {
            let Some(stage) = STAGES.iter().position(|s| s == module) else {
                continue;
            };
            for later in named
                .iter()
                .filter_map(|m| STAGES.iter().position(|s| s == m))
            {
                assert!(
                    later < stage,
                    "stage {module} uses {}, a later stage",
                    STAGES[later]
                );
            }
        }
        // (the reader itself: a known edge)
        assert!(
            graph["lower"].contains(&"structure".to_string()),
            "{graph:?}"
        );
    }
}
