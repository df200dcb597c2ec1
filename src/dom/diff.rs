//! Tree diff: the patches that turn the view a browser shows (the last
//! rendered tree) into the new one, so a click sends a few bytes instead of
//! the whole body.
//!
//! Patches address nodes by their path of `childNodes` indexes from the app's
//! root element, and apply in order, each to the DOM the previous ones left.
//! That only works if the tree's children are the DOM's: [`normalize`] merges
//! adjacent text and drops empty text, as an HTML parser would.
//!
//! Wire form (JSON arrays, short on purpose: a counter click is one patch):
//!
//! | patch | meaning |
//! | --- | --- |
//! | `["t", path, text]` | set a text node's text |
//! | `["a", path, name, value]` | set an attribute |
//! | `["r", path, name]` | remove an attribute |
//! | `["R", path, html]` | replace the node with `html` |
//! | `["i", path, index, html]` | insert `html` as child `index` of the node |
//! | `["d", path]` | remove the node |
//! | `["m", path, from, to]` | move child `from` of the node to index `to` (keyed lists) |
//!
//! Children whose elements all carry a distinct `data-key` are matched by
//! key (moves, inserts and removals keep the other children's DOM nodes);
//! other children are matched by position.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value as Json};

use super::{attributes, html, Element, Node};

/// One change to the DOM; see the module documentation.
#[derive(Clone, Debug, PartialEq)]
pub enum Patch {
    /// Set the text of the text node at the path.
    Text(Vec<usize>, String),
    /// Set an attribute of the element at the path.
    SetAttribute(Vec<usize>, String, String),
    /// Remove an attribute of the element at the path.
    RemoveAttribute(Vec<usize>, String),
    /// Replace the node at the path.
    Replace(Vec<usize>, Node),
    /// Insert a child at an index of the node at the path.
    Insert(Vec<usize>, usize, Node),
    /// Remove the node at the path.
    Remove(Vec<usize>),
    /// Move a child of the node at the path from one index to another.
    Move(Vec<usize>, usize, usize),
}

/// The patch operations on the wire (docs/protocol.md): op code and the
/// fields after the path. The client applies the same table
/// (`ui/runtime/patch.js`; a test checks that the two agree).
pub const PATCH_OPS: &[(&str, &[&str])] = &[
    ("t", &["text"]),
    ("a", &["name", "value"]),
    ("r", &["name"]),
    ("R", &["html"]),
    ("i", &["index", "html"]),
    ("d", &[]),
    ("m", &["from", "to"]),
];

impl Patch {
    /// The op code ([`PATCH_OPS`]).
    pub fn op(&self) -> &'static str {
        let row = match self {
            Patch::Text(..) => 0,
            Patch::SetAttribute(..) => 1,
            Patch::RemoveAttribute(..) => 2,
            Patch::Replace(..) => 3,
            Patch::Insert(..) => 4,
            Patch::Remove(..) => 5,
            Patch::Move(..) => 6,
        };
        PATCH_OPS[row].0
    }

    /// The patch's JSON form: `[op, path, fields…]`.
    pub fn to_json(&self) -> Json {
        let op = self.op();
        match self {
            Patch::Text(p, t) => json!([op, p, t]),
            Patch::SetAttribute(p, n, v) => json!([op, p, n, v]),
            Patch::RemoveAttribute(p, n) => json!([op, p, n]),
            Patch::Replace(p, node) => json!([op, p, node.to_html()]),
            Patch::Insert(p, i, node) => json!([op, p, i, node.to_html()]),
            Patch::Remove(p) => json!([op, p]),
            Patch::Move(p, from, to) => json!([op, p, from, to]),
        }
    }
}

/// The tree as a browser's DOM holds it after parsing its HTML: adjacent
/// text merged, empty text gone, void elements without children. Takes the
/// tree by value: a render's fresh tree is reshaped, not copied.
pub fn normalize(node: Node) -> Node {
    match node {
        Node::Element(mut e) => {
            // A void element's children never reach the DOM.
            e.children = if html::is_void(&e.tag) {
                Vec::new()
            } else {
                normalize_children(std::mem::take(&mut e.children))
            };
            Node::Element(e)
        }
        other => other,
    }
}

fn normalize_children(children: Vec<Node>) -> Vec<Node> {
    let mut out: Vec<Node> = Vec::with_capacity(children.len());
    for child in children {
        match child {
            Node::Text(t) if t.is_empty() => {}
            Node::Text(t) => match out.last_mut() {
                Some(Node::Text(previous)) => previous.push_str(&t),
                _ => out.push(Node::Text(t)),
            },
            other => out.push(normalize(other)),
        }
    }
    out
}

/// The patches that turn `old` into `new` (both normalized, and both the
/// content of the same root element).
pub fn diff(old: &Node, new: &Node) -> Vec<Patch> {
    let mut patches = Vec::new();
    let mut path = Vec::new();
    diff_node(old, new, &mut path, &mut patches);
    patches
}

/// The key of a keyed child.
fn key(node: &Node) -> Option<&str> {
    match node {
        Node::Element(e) => e
            .attributes
            .iter()
            .find(|(n, _)| n == attributes::KEY)
            .map(|(_, v)| v.as_str()),
        _ => None,
    }
}

/// The keys of `children` if every child has one and they are distinct.
fn keys(children: &[Node]) -> Option<Vec<&str>> {
    let keys: Vec<&str> = children.iter().map(key).collect::<Option<_>>()?;
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    sorted.dedup();
    (sorted.len() == keys.len()).then_some(keys)
}

/// The parts of an element its bindings (`data-bound`, the same before and
/// after) set from the state: the page's runtime applies them from the
/// state bytes every event carries, so they need no patch of their own.
struct Bound {
    /// Boolean attributes and `value` set by a binding.
    attributes: Vec<String>,
    /// Classes toggled by a binding.
    classes: Vec<String>,
}

impl Bound {
    fn of(a: &Element, b: &Element) -> Bound {
        let list = |e: &Element| {
            e.attributes
                .iter()
                .find(|(n, _)| n == attributes::BOUND)
                .map(|(_, v)| v.clone())
        };
        let mut bound = Bound {
            attributes: Vec::new(),
            classes: Vec::new(),
        };
        let (Some(before), Some(after)) = (list(a), list(b)) else {
            return bound;
        };
        if before != after {
            return bound;
        }
        // (read as text: the diff runs in the page as wasm, without a JSON
        // parser)
        bound.attributes = super::json_values(&after, "prop")
            .into_iter()
            .filter(|prop| matches!(prop.as_str(), "checked" | "disabled" | "hidden" | "value"))
            .collect();
        bound.classes = super::json_values(&after, "class");
        bound
    }

    /// Whether the change of attribute `name` from `was` to `now` is the
    /// bindings' work alone.
    fn explains(&self, name: &str, was: Option<&String>, now: Option<&String>) -> bool {
        if self.attributes.iter().any(|a| a == name) {
            return true;
        }
        if name != "class" || self.classes.is_empty() {
            return false;
        }
        let unbound = |v: Option<&String>| -> Vec<String> {
            v.map_or("", |s| s.as_str())
                .split_whitespace()
                .filter(|c| !self.classes.iter().any(|b| b == c))
                .map(str::to_string)
                .collect()
        };
        unbound(was) == unbound(now)
    }
}

fn diff_node(old: &Node, new: &Node, path: &mut Vec<usize>, out: &mut Vec<Patch>) {
    match (old, new) {
        (Node::Text(a), Node::Text(b)) => {
            if a != b {
                out.push(Patch::Text(path.clone(), b.clone()));
            }
        }
        (Node::Bound(a), Node::Bound(b)) if a.offset == b.offset && a.ty == b.ty => {
            if a.text != b.text {
                if a.text.is_empty() || b.text.is_empty() {
                    out.push(Patch::Replace(path.clone(), new.clone()));
                } else {
                    path.push(0);
                    out.push(Patch::Text(path.clone(), b.text.clone()));
                    path.pop();
                }
            }
        }
        (Node::Element(a), Node::Element(b)) if a.tag == b.tag && key(old) == key(new) => {
            // the bindings are parsed only when an attribute changed (a
            // render of an unchanged element costs no JSON parse)
            let mut bound = None;
            let mut explained = |name: &str, was: Option<&String>, now: Option<&String>| {
                bound
                    .get_or_insert_with(|| Bound::of(a, b))
                    .explains(name, was, now)
            };
            for (name, value) in &b.attributes {
                let was = a.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v);
                if was != Some(value) && !explained(name, was, Some(value)) {
                    out.push(Patch::SetAttribute(
                        path.clone(),
                        name.clone(),
                        value.clone(),
                    ));
                }
            }
            for (name, value) in &a.attributes {
                if !b.attributes.iter().any(|(n, _)| n == name)
                    && !explained(name, Some(value), None)
                {
                    out.push(Patch::RemoveAttribute(path.clone(), name.clone()));
                }
            }
            match (keys(&a.children), keys(&b.children)) {
                (Some(_), Some(_)) if !a.children.is_empty() && !b.children.is_empty() => {
                    diff_keyed(&a.children, &b.children, path, out)
                }
                _ => diff_positional(&a.children, &b.children, path, out),
            }
        }
        _ => {
            if old != new {
                out.push(Patch::Replace(path.clone(), new.clone()));
            }
        }
    }
}

fn diff_positional(old: &[Node], new: &[Node], path: &mut Vec<usize>, out: &mut Vec<Patch>) {
    let common = old.len().min(new.len());
    for i in 0..common {
        path.push(i);
        diff_node(&old[i], &new[i], path, out);
        path.pop();
    }
    for (i, node) in new.iter().enumerate().skip(common) {
        out.push(Patch::Insert(path.clone(), i, node.clone()));
    }
    for i in (common..old.len()).rev() {
        path.push(i);
        out.push(Patch::Remove(path.clone()));
        path.pop();
    }
}

/// Keyed children: walk the new order, moving or inserting each key into
/// place in a simulation of the DOM's list, then drop what is left over.
/// Keys are looked up in ordered maps (a `HashMap`'s random seed would keep
/// the view module out of the page), so a list of 10,000 rows costs
/// `n log n` lookups, plus a scan of the list per moved row.
fn diff_keyed(old: &[Node], new: &[Node], path: &mut Vec<usize>, out: &mut Vec<Patch>) {
    let new_keys: BTreeSet<&str> = new.iter().filter_map(key).collect();
    let old_at: BTreeMap<&str, usize> = old
        .iter()
        .enumerate()
        .filter_map(|(j, n)| key(n).map(|k| (k, j)))
        .collect();
    // First drop the keys that are gone (from the end, so each index is
    // still the DOM's), so they are not moved around.
    let gone = |j: usize| key(&old[j]).is_some_and(|k| !new_keys.contains(k));
    for j in (0..old.len()).rev().filter(|&j| gone(j)) {
        path.push(j);
        out.push(Patch::Remove(path.clone()));
        path.pop();
    }
    // The DOM's current children, as indexes into `old` (None: inserted).
    let mut current: Vec<Option<usize>> = (0..old.len()).filter(|&j| !gone(j)).map(Some).collect();
    let old_index = |k: &str| old_at.get(k).copied();
    for (i, node) in new.iter().enumerate() {
        let k = key(node).expect("keyed");
        let here = current.get(i).copied().flatten().and_then(|j| key(&old[j]));
        if here == Some(k) {
            let j = current[i].expect("old child");
            path.push(i);
            diff_node(&old[j], node, path, out);
            path.pop();
            continue;
        }
        let found = old_index(k).and_then(|j| {
            current
                .iter()
                .skip(i)
                .position(|c| *c == Some(j))
                .map(|at| (j, at + i))
        });
        match found {
            Some((j, at)) => {
                out.push(Patch::Move(path.clone(), at, i));
                let moved = current.remove(at);
                current.insert(i, moved);
                path.push(i);
                diff_node(&old[j], node, path, out);
                path.pop();
            }
            None => {
                out.push(Patch::Insert(path.clone(), i, node.clone()));
                current.insert(i, None);
            }
        }
    }
    for i in (new.len()..current.len()).rev() {
        path.push(i);
        out.push(Patch::Remove(path.clone()));
        path.pop();
    }
}

/// Applies patches to a tree the way the client runtime applies them to the
/// DOM (for tests, and to check the diff against itself). `None` when a path
/// does not resolve.
pub fn apply(root: &Node, patches: &[Patch]) -> Option<Node> {
    let mut root = root.clone();
    for patch in patches {
        match patch {
            Patch::Text(p, text) => *text_at(&mut root, p)? = text.clone(),
            Patch::SetAttribute(p, name, value) => {
                let Node::Element(e) = node_at(&mut root, p)? else {
                    return None;
                };
                match e.attributes.iter_mut().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = value.clone(),
                    None => e.attributes.push((name.clone(), value.clone())),
                }
            }
            Patch::RemoveAttribute(p, name) => {
                let Node::Element(e) = node_at(&mut root, p)? else {
                    return None;
                };
                e.attributes.retain(|(n, _)| n != name);
            }
            Patch::Replace(p, node) => *node_at(&mut root, p)? = node.clone(),
            Patch::Insert(p, i, node) => {
                let children = children_at(&mut root, p)?;
                if *i > children.len() {
                    return None;
                }
                children.insert(*i, node.clone());
            }
            Patch::Remove(p) => {
                let (last, parent) = p.split_last()?;
                let children = children_at(&mut root, parent)?;
                if *last >= children.len() {
                    return None;
                }
                children.remove(*last);
            }
            Patch::Move(p, from, to) => {
                let children = children_at(&mut root, p)?;
                if *from >= children.len() || *to >= children.len() {
                    return None;
                }
                let moved = children.remove(*from);
                children.insert(*to, moved);
            }
        }
    }
    Some(root)
}

fn node_at<'a>(root: &'a mut Node, path: &[usize]) -> Option<&'a mut Node> {
    let mut node = root;
    for &i in path {
        node = match node {
            Node::Element(e) => e.children.get_mut(i)?,
            _ => return None,
        };
    }
    Some(node)
}

/// The text at `path`: a text node, or the text of a bound span (its child 0).
fn text_at<'a>(root: &'a mut Node, path: &[usize]) -> Option<&'a mut String> {
    let Some((&last, parent)) = path.split_last() else {
        return match root {
            Node::Text(t) => Some(t),
            _ => None,
        };
    };
    match node_at(root, parent)? {
        Node::Element(e) => match e.children.get_mut(last)? {
            Node::Text(t) => Some(t),
            _ => None,
        },
        Node::Bound(b) if last == 0 && !b.text.is_empty() => Some(&mut b.text),
        _ => None,
    }
}

fn children_at<'a>(root: &'a mut Node, path: &[usize]) -> Option<&'a mut Vec<Node>> {
    match node_at(root, path)? {
        Node::Element(e) => Some(&mut e.children),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dom::{button, el, Node};

    /// A small deterministic generator (xorshift64*).
    pub(crate) struct Rng(u64);
    impl Rng {
        pub(crate) fn new(seed: u64) -> Rng {
            Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }
        pub(crate) fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
        }
    }

    /// A random tree of the shapes views have: a few tags and attributes,
    /// text (empty too), bound text, keyed lists, void elements.
    pub(crate) fn random_node(rng: &mut Rng, depth: usize) -> Node {
        match rng.below(if depth == 0 { 3 } else { 8 }) {
            0 => Node::Text(["", "a", "b", "<&>"][rng.below(4)].to_string()),
            1 => super::super::fixtures::bound_at(rng.below(2) * 8, [1i64, 2, 30][rng.below(3)]),
            2 => el("input").attr("value", ["x", "y"][rng.below(2)]).into(),
            _ => {
                let mut e = el(["div", "p", "span", "button"][rng.below(4)]);
                if rng.below(2) == 0 {
                    e = e.class(["a", "b", "a b"][rng.below(3)]);
                }
                if rng.below(3) == 0 {
                    e = e.attr("data-x", ["1", "2"][rng.below(2)]);
                }
                let n = rng.below(5);
                if rng.below(3) == 0 {
                    // A keyed list: distinct keys in a random order.
                    let mut keys: Vec<usize> = (0..6).collect();
                    for i in (1..keys.len()).rev() {
                        keys.swap(i, rng.below(i + 1));
                    }
                    for &k in keys.iter().take(n) {
                        let item = el("li")
                            .key(format!("k{k}"))
                            .child(random_node(rng, depth - 1));
                        e = e.child(item);
                    }
                } else {
                    for _ in 0..n {
                        e = e.child(random_node(rng, depth - 1));
                    }
                }
                e.into()
            }
        }
    }

    /// `node` with a few random changes, so old and new share structure.
    pub(crate) fn mutate(node: &Node, rng: &mut Rng, depth: usize) -> Node {
        if rng.below(8) == 0 {
            return random_node(rng, depth);
        }
        match node {
            Node::Element(e) => {
                let mut e = e.clone();
                if rng.below(4) == 0 {
                    e.attributes.retain(|(n, _)| n == attributes::KEY);
                    if rng.below(2) == 0 {
                        e.attributes.push(("class".into(), "c".into()));
                    }
                }
                let mut children: Vec<Node> = e
                    .children
                    .iter()
                    .map(|c| mutate(c, rng, depth.saturating_sub(1)))
                    .collect();
                if !children.is_empty() && rng.below(3) == 0 {
                    let i = rng.below(children.len());
                    let moved = children.remove(i);
                    let to = rng.below(children.len() + 1);
                    children.insert(to, moved);
                }
                if !children.is_empty() && rng.below(4) == 0 {
                    children.remove(rng.below(children.len()));
                }
                e.children = children;
                Node::Element(e)
            }
            Node::Text(_) | Node::Bound(_) if rng.below(2) == 0 => random_node(rng, 0),
            other => other.clone(),
        }
    }

    /// The tree with each element's attributes sorted: attribute order means
    /// nothing in the DOM (a patch appends a new attribute at the end).
    pub(crate) fn canonical(node: &Node) -> Node {
        match node {
            Node::Element(e) => {
                let mut e = e.clone();
                e.attributes.sort();
                e.children = e.children.iter().map(canonical).collect();
                Node::Element(e)
            }
            other => other.clone(),
        }
    }

    #[test]
    fn patches_turn_the_old_tree_into_the_new_one() {
        let mut rng = Rng::new(7);
        for case in 0..20_000 {
            let old = normalize(random_node(&mut rng, 4));
            let new = normalize(mutate(&old, &mut rng, 4));
            let patches = diff(&old, &new);
            assert_eq!(
                apply(&old, &patches).map(|n| canonical(&n)),
                Some(canonical(&new)),
                "case {case}: {old:?}\n -> {new:?}\n patches {patches:?}"
            );
            if old == new {
                assert!(patches.is_empty(), "case {case}: no change, no patch");
            }
        }
    }

    #[test]
    fn parts_set_by_bindings_need_no_patch() {
        use crate::dom::fixtures::State;
        use crate::field;
        let item = |done: i64, extra: &str| {
            let s = State {
                count: done,
                ..State::default()
            };
            Node::from(
                el("li")
                    .class(format!("todo {extra}").trim().to_string())
                    .class_when("completed", field!(&s, count).eq(1))
                    .child(el("input").checked_when(field!(&s, count).eq(1))),
            )
        };
        // (old, new, patch ops)
        let cases: Vec<(Node, Node, Vec<&str>)> = vec![
            (item(0, ""), item(1, ""), vec![]),
            (item(1, ""), item(0, ""), vec![]),
            (item(0, ""), item(1, "starred"), vec!["a"]),
        ];
        for (old, new, ops) in cases {
            let patches = diff(&normalize(old), &normalize(new));
            let got: Vec<&str> = patches.iter().map(Patch::op).collect();
            assert_eq!(got, ops, "{patches:?}");
        }
    }

    #[test]
    fn small_changes_make_small_patches() {
        let view = |count: i64, class: &str, keys: &[&str]| -> Node {
            normalize(
                el("div")
                    .child(
                        el("span")
                            .text("Count ")
                            .child(super::super::fixtures::bound_at(0, count))
                            .text(""),
                    )
                    .child(
                        button("+1")
                            .class(class)
                            .call(super::super::fixtures::INC, ()),
                    )
                    .child(el("ul").children(keys.iter().map(|k| el("li").key(*k).text(*k))))
                    .into(),
            )
        };
        let old = view(41, "a", &["x", "y", "z"]);
        let cases: &[(Node, &[&str])] = &[
            (view(42, "a", &["x", "y", "z"]), &[r#"["t",[0,1,0],"42"]"#]),
            (
                view(41, "b", &["x", "y", "z"]),
                &[r#"["a",[1],"class","b"]"#],
            ),
            (view(41, "a", &["z", "x", "y"]), &[r#"["m",[2],2,0]"#]),
            (view(41, "a", &["x", "z"]), &[r#"["d",[2,1]]"#]),
            (
                view(41, "a", &["x", "w", "y", "z"]),
                &[r#"["i",[2],1,"<li data-key=\"w\">w</li>"]"#],
            ),
            (view(41, "a", &["x", "y", "z"]), &[]),
        ];
        for (new, want) in cases {
            let got: Vec<String> = diff(&old, new)
                .iter()
                .map(|p| p.to_json().to_string())
                .collect();
            assert_eq!(got, *want);
        }
    }

    #[test]
    fn normalize_merges_text_like_an_html_parser() {
        let node: Node = el("p")
            .text("a")
            .text("")
            .text("b")
            .child(el("br").text("dropped"))
            .text("c")
            .into();
        let want: Node = el("p").text("ab").child(el("br")).text("c").into();
        assert_eq!(normalize(node), want);
    }
}
