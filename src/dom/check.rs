//! The view check: a hash of a view as the browser's DOM holds it, which
//! the server sends with each version and a page compares with its own DOM
//! (`ui/runtime/check.js`, on in tests and with `x64wasm.enableViewCheck()`).
//! Equal hashes mean the page's predictions and patches left it showing
//! exactly what the server rendered.
//!
//! The canonical form is JSON (both sides' `JSON.stringify` and
//! serde_json write a string the same way): an element is
//! `[tag, [[name, value], …], [child, …]]` with the attributes sorted by
//! name and the class tokens sorted, a text node its string. Left out: the
//! `style` attribute (bound styles are the runtime's, set through the
//! CSSOM) and `value` (a field's text belongs to its user: docs/protocol.md).
//! Strings read as an HTML parser leaves them: NUL as U+FFFD (what the
//! server writes for it), CR LF and CR as LF; tags in lower case.

use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

use super::{attributes, Bound, Node};

/// Attributes the check leaves out (see the module documentation).
pub const UNCHECKED_ATTRIBUTES: &[&str] = &["style", "value"];

/// The first 16 hex digits of the SHA-256 of the canonical form of the
/// content of the app's root (`view`: normalized, as `render` made it).
pub fn view_hash(view: &Node) -> String {
    let text = Json::Array(vec![canonical(view)]).to_string();
    let digest = Sha256::digest(text.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// `text` as the DOM holds it once parsed (see the module documentation).
fn parsed(text: &str) -> Json {
    Json::String(
        text.replace('\0', "\u{FFFD}")
            .replace("\r\n", "\n")
            .replace('\r', "\n"),
    )
}

fn canonical(node: &Node) -> Json {
    match node {
        Node::Text(t) => parsed(t),
        Node::Bound(Bound { offset, ty, text }) => {
            // `<span data-bind="OFFSET:TYPE">text</span>`, as html.rs writes it
            let children: Vec<Json> = if text.is_empty() {
                Vec::new()
            } else {
                vec![parsed(text)]
            };
            json!([
                "span",
                [[attributes::BIND, format!("{offset}:{}", ty.name())]],
                children
            ])
        }
        Node::Element(e) => {
            let mut attributes: Vec<(&str, Json)> = e
                .attributes
                .iter()
                .filter(|(n, _)| !UNCHECKED_ATTRIBUTES.contains(&n.as_str()))
                .map(|(n, v)| {
                    let value = if n == "class" {
                        let mut tokens: Vec<&str> = v.split_ascii_whitespace().collect();
                        tokens.sort_unstable();
                        tokens.dedup();
                        tokens.join(" ")
                    } else {
                        v.clone()
                    };
                    (n.as_str(), parsed(&value))
                })
                .collect();
            attributes.sort_by(|a, b| a.0.cmp(b.0));
            let children: Vec<Json> = e.children.iter().map(canonical).collect();
            json!([e.tag.to_ascii_lowercase(), attributes, children])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dom::el;

    #[test]
    fn what_the_dom_may_order_or_own_does_not_change_the_hash() {
        let a: Node = el("p")
            .class("b a")
            .attr("title", "t")
            .attr("value", "typed")
            .text("x")
            .into();
        let b: Node = el("p").attr("title", "t").class("a  b").text("x").into();
        let other: Node = el("p").attr("title", "t").class("a").text("x").into();
        assert_eq!(view_hash(&a), view_hash(&b));
        assert_ne!(view_hash(&a), view_hash(&other));
        assert_eq!(view_hash(&a).len(), 16);
    }
}
