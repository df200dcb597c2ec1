//! HTML output. Every text and attribute value is escaped; names were
//! checked when the tree was built.

use super::{attributes, Element, Node};

/// Elements that have no end tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];

/// True for elements that have no end tag (and so no children).
pub(super) fn is_void(tag: &str) -> bool {
    VOID.contains(&tag)
}

/// Escapes text for HTML content and double- or single-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(text, &mut out);
    out
}

fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // what an HTML parser makes of NUL in an attribute (in text it
            // drops it): the page's bound text shows the same
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Appends the HTML of `node` to `out`.
pub(super) fn node(node: &Node, out: &mut String) {
    match node {
        Node::Element(e) => element(e, out),
        Node::Text(t) => escape_into(t, out),
        Node::Bound(b) => {
            out.push_str(&format!(
                r#"<span {}="{}:{}">"#,
                attributes::BIND,
                b.offset,
                b.ty.name()
            ));
            escape_into(&b.text, out);
            out.push_str("</span>");
        }
    }
}

/// Appends the HTML of `e` to `out`.
pub(super) fn element(e: &Element, out: &mut String) {
    out.push('<');
    out.push_str(&e.tag);
    for (name, value) in &e.attributes {
        out.push(' ');
        out.push_str(name);
        if value.contains('"') && !value.contains('\'') {
            // JSON values (data-on, data-bound, data-args) read shorter in
            // single quotes: `"` stays one byte instead of `&quot;`
            out.push_str("='");
            for c in value.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '\0' => out.push('\u{FFFD}'),
                    c => out.push(c),
                }
            }
            out.push('\'');
        } else {
            out.push_str("=\"");
            escape_into(value, out);
            out.push('"');
        }
    }
    out.push('>');
    if is_void(&e.tag) {
        return;
    }
    for child in &e.children {
        node(child, out);
    }
    out.push_str("</");
    out.push_str(&e.tag);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{State, F, G};
    use super::super::{button, el, Node};

    #[test]
    fn html_escapes_every_text_and_attribute() {
        let state = State {
            ratio: 0.5,
            small: -3,
            ..State::default()
        };
        let cases: &[(Node, &str)] = &[
            (Node::from("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;"),
            (Node::from("a\0b"), "a\u{FFFD}b"),
            (
                el("div").attr("title", "\"><script>x</script>").into(),
                r#"<div title='"&gt;&lt;script&gt;x&lt;/script&gt;'></div>"#,
            ),
            (
                // both quotes: double quotes, each escaped
                el("div").attr("title", "'\"").into(),
                r#"<div title="&#39;&quot;"></div>"#,
            ),
            (
                button("<b>").call(F, (1, 1 << 60)).into(),
                r#"<button type="button" data-call="f" data-args='[1,"1152921504606846976"]'>&lt;b&gt;</button>"#,
            ),
            (
                Node::bound(&state, &state.small),
                r#"<span data-bind="16:i32">-3</span>"#,
            ),
            (
                crate::bound!(&state, ratio),
                r#"<span data-bind="8:f64">0.5</span>"#,
            ),
            (
                el("input").attr("value", "x").into(),
                r#"<input value="x">"#,
            ),
            (
                el("P").class("a").class("b").text("t").into(),
                r#"<p class="b">t</p>"#,
            ),
        ];
        for (node, want) in cases {
            assert_eq!(node.to_html(), *want);
        }
    }

    #[test]
    #[should_panic(expected = "inline handler `onclick` refused")]
    fn inline_handlers_are_refused() {
        let _ = el("div").attr("onclick", "alert(1)");
    }

    #[test]
    #[should_panic(expected = "invalid attribute name")]
    fn attribute_names_are_checked() {
        let _ = el("div").attr("a b", "");
    }

    #[test]
    fn call_names_lists_each_callback_once() {
        let view = el("div")
            .child(button("a").call(F, (0, 0)))
            .child(el("p").child(button("b").call(G, (2,))))
            .child(button("c").call(F, (1, 1)));
        assert_eq!(Node::from(view).call_names(), ["f", "g"]);
    }

    #[test]
    #[should_panic(expected = "the field is not inside the state")]
    fn a_bound_field_must_be_the_states() {
        let (state, other) = (State::default(), State::default());
        let _ = Node::bound(&state, &other.count);
    }
}
