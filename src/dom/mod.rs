//! The view: a small node tree that `render(&State)` builds, and its HTML.
//!
//! ```
//! use x64wasm::{bound, callback, Callback};
//! use x64wasm::dom::{button, el};
//!
//! #[repr(C)]
//! #[derive(Clone, Copy)]
//! pub struct State { count: i64, step: i32, pad: i32 }
//!
//! #[no_mangle]
//! pub extern "C" fn add_times(state: &mut State, times: i32) {
//!     state.count += state.step as i64 * times as i64;
//! }
//! const ADD_TIMES: Callback<State, (i32,)> = callback!(add_times(i32));
//!
//! let state = State { count: 41, step: 1, pad: 0 };
//! let view = el("div")
//!     .class("counter")
//!     .child(bound!(&state, count))
//!     .child(button("+3").call(ADD_TIMES, (3,)));
//! let html = view.to_html();
//! assert!(html.contains(r#"<span data-bind="0:i64">41</span>"#));
//! assert!(html.contains(r#"data-call="add_times" data-args="[3]""#));
//! ```
//!
//! Clickable elements carry `data-call="name"` and `data-args="[…]"`; there
//! are no inline `on*` handlers, so a strict Content-Security-Policy holds.
//! A bound text node (`data-bind="offset:type"`) shows a state field the
//! client runtime can update the moment the wasm callback returns.

pub mod attributes;
mod bind;
mod check;
mod diff;
mod events;
mod html;
pub mod wire;

use crate::callbacks::{Args, Callback, ScalarType};
use crate::text::FixedStr;

pub use bind::{Condition, Field, IntegerField};
pub use check::{view_hash, UNCHECKED_ATTRIBUTES};
pub use diff::{apply, diff, normalize, Patch, PATCH_OPS};
pub use events::{checked, key, value, ArgSource, ArgSources, EventValue, FromValue, On, EVENTS};
pub use html::escape;

/// A node of the view.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// An element with attributes and children.
    Element(Element),
    /// Plain text (escaped on output).
    Text(String),
    /// Text showing a state field: its byte offset, type and current value.
    Bound(Bound),
}

/// An element: tag, attributes in order, children.
#[derive(Clone, Debug, PartialEq)]
pub struct Element {
    /// The tag name (`div`, `button`, …).
    pub tag: String,
    /// Attributes in the order they were set (one entry per name).
    pub attributes: Vec<(String, String)>,
    /// Child nodes.
    pub children: Vec<Node>,
}

/// A text node bound to a state field.
#[derive(Clone, Debug, PartialEq)]
pub struct Bound {
    /// Byte offset of the field in the state.
    pub offset: usize,
    /// The field's type.
    pub ty: FieldType,
    /// The value as the server renders it.
    pub text: String,
}

/// The type of a bound state field, as `data-bind="offset:type"` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// A scalar (any but `ptr` and `text`): its name (`i64`, `bool`, …).
    Scalar(ScalarType),
    /// A [`FixedStr`] of this capacity: `textN` (e.g. `text64`).
    Text(usize),
}

impl FieldType {
    /// Its name in `data-bind`.
    pub fn name(self) -> String {
        match self {
            FieldType::Scalar(t) => t.name().to_string(),
            FieldType::Text(capacity) => format!("text{capacity}"),
        }
    }
}

/// A state field type a text node can be bound to.
pub trait BindType: Copy {
    /// The type (its name goes in `data-bind`).
    const TYPE: FieldType;
    /// The value as the page shows it (the runtime formats the same way).
    fn show(self) -> String;
}

macro_rules! bind_types {
    ($($t:ty => $s:ident),*) => {$(
        impl BindType for $t {
            const TYPE: FieldType = FieldType::Scalar(ScalarType::$s);
            fn show(self) -> String {
                self.to_string()
            }
        }
    )*};
}
bind_types!(i8 => I8, u8 => U8, i16 => I16, u16 => U16, i32 => I32, u32 => U32, i64 => I64, u64 => U64, bool => Bool);

impl<const N: usize> BindType for FixedStr<N> {
    const TYPE: FieldType = FieldType::Text(N);
    fn show(self) -> String {
        self.as_str().to_string()
    }
}

impl BindType for f64 {
    const TYPE: FieldType = FieldType::Scalar(ScalarType::F64);
    fn show(self) -> String {
        js_number(self)
    }
}
impl BindType for f32 {
    const TYPE: FieldType = FieldType::Scalar(ScalarType::F32);
    fn show(self) -> String {
        js_number(self as f64)
    }
}

/// A float as JavaScript's `String(x)` writes the common cases.
fn js_number(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{x}")
    }
}

/// An element with no attributes or children yet.
pub fn el(tag: &str) -> Element {
    assert!(is_name(tag), "invalid tag name {tag:?}");
    Element {
        tag: tag.to_ascii_lowercase(),
        attributes: Vec::new(),
        children: Vec::new(),
    }
}

/// A `<button type="button">` with a text label.
pub fn button(label: impl Into<String>) -> Element {
    el("button").attr("type", "button").text(label)
}

/// A text node.
pub fn text(text: impl Into<String>) -> Node {
    Node::Text(text.into())
}

/// Names of tags and attributes: letters, digits and `-`, starting with a letter.
/// `list`, a JSON list this module wrote (`data-on`, `data-bound`), with
/// `entry` (a JSON value's text) added at its end; a new list if there is
/// none. Done on the text: `render`, which pages run as wasm, then carries
/// no JSON parser and none of its error paths.
pub(crate) fn push_json(list: Option<&str>, entry: &str) -> String {
    match list {
        Some(list) if list.len() > 2 && list.starts_with('[') && list.ends_with(']') => {
            format!("{},{entry}]", &list[..list.len() - 1])
        }
        _ => format!("[{entry}]"),
    }
}

/// The string values of `key` in the objects of `list`, a JSON list this
/// module wrote (keys at the objects' top level only: a string's own text
/// never holds `"key":"`, since its quotes are escaped).
pub(crate) fn json_values(list: &str, key: &str) -> Vec<String> {
    let marker = format!("\"{key}\":\"");
    let mut values = Vec::new();
    let mut rest = list;
    while let Some(at) = rest.find(&marker) {
        let mut value = String::new();
        let mut chars = rest[at + marker.len()..].char_indices();
        let mut end = rest.len() - at - marker.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    end = i + 1;
                    break;
                }
                '\\' => match chars.next().map(|(_, e)| e) {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some('r') => value.push('\r'),
                    Some('b') => value.push('\u{8}'),
                    Some('f') => value.push('\u{c}'),
                    Some('u') => {
                        let hex: String = chars.by_ref().take(4).map(|(_, h)| h).collect();
                        let code = u32::from_str_radix(&hex, 16).ok();
                        value.push(code.and_then(char::from_u32).unwrap_or('\u{fffd}'));
                    }
                    Some(other) => value.push(other),
                    None => {}
                },
                c => value.push(c),
            }
        }
        values.push(value);
        rest = &rest[at + marker.len() + end..];
    }
    values
}

fn is_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl Element {
    /// Sets an attribute (replacing an earlier value). Inline event handlers
    /// (`on…`) are refused: clicks go through `data-call`.
    pub fn attr(mut self, name: &str, value: impl Into<String>) -> Element {
        assert!(is_name(name), "invalid attribute name {name:?}");
        let name = name.to_ascii_lowercase();
        assert!(
            !name.starts_with("on"),
            "inline handler `{name}` refused: use .call(callback, args)"
        );
        let value = value.into();
        match self.attributes.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((name, value)),
        }
        self
    }

    /// Sets `class`.
    pub fn class(self, class: impl Into<String>) -> Element {
        self.attr("class", class)
    }

    /// Adds `class` to the element's classes when `on` (a class the view
    /// computes: `.class_if("completed", todo.done)`).
    pub fn class_if(self, class: &str, on: bool) -> Element {
        if !on {
            return self;
        }
        let classes = match self.attributes.iter().find(|(n, _)| n == "class") {
            Some((_, v)) if !v.is_empty() => format!("{v} {class}"),
            _ => class.to_string(),
        };
        self.attr("class", classes)
    }

    /// A boolean attribute (`checked`, `hidden`, `disabled`, …), present
    /// when `on`.
    pub fn flag(self, name: &str, on: bool) -> Element {
        if on {
            self.attr(name, "")
        } else {
            self
        }
    }

    /// Sets `data-key`: children that all have distinct keys are matched by
    /// key when the view changes (moved, not rebuilt).
    pub fn key(self, key: impl Into<String>) -> Element {
        self.attr(attributes::KEY, key)
    }

    /// Sets `id`.
    pub fn id(self, id: impl Into<String>) -> Element {
        self.attr("id", id)
    }

    /// A click runs `callback` with `args` (in the view as wasm, and on the
    /// server natively): `.call(ADD, (3,))`. The arguments' types are the
    /// callback's, checked by the compiler.
    pub fn call<S: 'static, A: Args>(self, callback: Callback<S, A>, args: A) -> Element {
        let args = serde_json::Value::Array(args.to_json()).to_string();
        self.attr(attributes::CALL, callback.name)
            .attr(attributes::ARGS, args)
    }

    /// Appends a child.
    pub fn child(mut self, child: impl Into<Node>) -> Element {
        self.children.push(child.into());
        self
    }

    /// Appends children.
    pub fn children<N: Into<Node>>(mut self, children: impl IntoIterator<Item = N>) -> Element {
        self.children.extend(children.into_iter().map(Into::into));
        self
    }

    /// Appends a text child.
    pub fn text(self, text: impl Into<String>) -> Element {
        self.child(Node::Text(text.into()))
    }

    /// The element's HTML.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        html::element(self, &mut out);
        out
    }
}

impl Node {
    /// Text bound to `field`, a field of `state` (the field's offset and
    /// value both come from the one reference, so they cannot disagree):
    /// what [`bound!`](crate::bound)`(state, field)` writes.
    ///
    /// # Panics
    /// When `field` does not lie inside `state`.
    pub fn bound<S, T: BindType>(state: &S, field: &T) -> Node {
        let field = Field::of(state, field);
        Node::Bound(Bound {
            offset: field.offset(),
            ty: T::TYPE,
            text: field.value().show(),
        })
    }

    /// The node's HTML.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        html::node(self, &mut out);
        out
    }

    /// Every callback name a `data-call` in this tree refers to.
    pub fn call_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        fn walk(node: &Node, names: &mut Vec<String>) {
            if let Node::Element(e) = node {
                for (name, v) in &e.attributes {
                    let called: Vec<String> = match name.as_str() {
                        attributes::CALL => vec![v.clone()],
                        // what `Element::on` writes: [{"call": name, …}, …]
                        attributes::ON => serde_json::from_str::<Vec<serde_json::Value>>(v)
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|entry| entry["call"].as_str().map(str::to_string))
                            .collect(),
                        _ => continue,
                    };
                    for c in called {
                        if !names.contains(&c) {
                            names.push(c);
                        }
                    }
                }
                e.children.iter().for_each(|c| walk(c, names));
            }
        }
        walk(self, &mut names);
        names
    }
}

impl From<Element> for Node {
    fn from(e: Element) -> Node {
        Node::Element(e)
    }
}

impl From<&str> for Node {
    fn from(t: &str) -> Node {
        Node::Text(t.to_string())
    }
}

impl From<String> for Node {
    fn from(t: String) -> Node {
        Node::Text(t)
    }
}

/// Text bound to a field of the state: `bound!(state, count)`,
/// `bound!(state, player.score)`, `bound!(state, scores[2])`. The page shows
/// the field's value and updates it the moment a callback's wasm returns.
#[macro_export]
macro_rules! bound {
    ($state:expr, $($field:tt)+) => {{
        let state = $state;
        $crate::dom::Node::bound(state, &state.$($field)+)
    }};
}

/// Callbacks and states for the view's tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::{callback, Callback};

    /// A state with fields of two types.
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    pub struct State {
        pub count: i64,
        pub ratio: f64,
        pub small: i32,
        pub pad: i32,
    }

    pub extern "C" fn f(_: &mut State, _: i32, _: i64) {}
    pub extern "C" fn g(_: &mut State, _: u8) {}
    pub extern "C" fn inc(s: &mut State) {
        s.count += 1;
    }
    pub const F: Callback<State, (i32, i64)> = callback!(f(i32, i64));
    pub const G: Callback<State, (u8,)> = callback!(g(u8));
    pub const INC: Callback<State> = callback!(inc);

    /// Text bound to the field at `offset` (8-byte fields) showing `value`.
    pub fn bound_at(offset: usize, value: i64) -> super::Node {
        super::Node::Bound(super::Bound {
            offset,
            ty: super::FieldType::Scalar(crate::callbacks::ScalarType::I64),
            text: value.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{json_values, push_json};
    use serde_json::json;

    #[test]
    fn json_lists_grow_and_are_read_as_text_as_serde_json_reads_them() {
        // entries pushed one by one: the text parses as the list of them,
        // and the values of "class" read from it are serde_json's
        let entries = [
            json!({"class": "done", "when": {"eq": [0, "\"class\":\"x\""]}}),
            json!({"prop": "checked", "class": "a\"b\\c\n\u{1}é"}),
            json!({"prop": "value"}),
            json!({"class": ""}),
        ];
        let mut list = None;
        for (k, entry) in entries.iter().enumerate() {
            let grown = push_json(list.as_deref(), &entry.to_string());
            let parsed: Vec<serde_json::Value> = serde_json::from_str(&grown).unwrap();
            assert_eq!(parsed, entries[..=k], "{grown}");
            let want: Vec<String> = entries[..=k]
                .iter()
                .filter_map(|e| e["class"].as_str().map(str::to_string))
                .collect();
            assert_eq!(json_values(&grown, "class"), want, "{grown}");
            list = Some(grown);
        }
        assert_eq!(push_json(Some("[]"), "1"), "[1]");
        assert_eq!(push_json(Some("not a list"), "1"), "[1]");
        assert_eq!(json_values("[1,2]", "class"), Vec::<String>::new());
    }
}
