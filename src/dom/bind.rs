//! Bound attributes, classes and styles: parts of an element that follow a
//! state field, so a click's prediction changes them at once in the page
//! (before the server answers), like bound text.
//!
//! ```
//! use x64wasm::dom::el;
//! use x64wasm::{field, FixedStr};
//!
//! #[repr(C)]
//! #[derive(Clone, Copy)]
//! pub struct State { done: [u8; 4], flags: u32, percent: f64, draft: FixedStr<32> }
//! let state = State { done: [0, 1, 0, 0], flags: 0b10, percent: 42.5, draft: FixedStr::new() };
//!
//! let item = el("li")
//!     .class("todo")
//!     .class_when("completed", field!(&state, done[1]).eq(1))
//!     .class_when("starred", field!(&state, flags).bit(1));
//! assert!(item.to_html().starts_with(r#"<li class="todo completed starred" data-bound="#));
//! let toggle = el("input").attr("type", "checkbox").checked_when(field!(&state, done[1]).ne(0));
//! let bar = el("div").style_of("width", field!(&state, percent), "%");
//! let draft = el("input").value_of(field!(&state, draft));
//! ```
//!
//! The server renders each part as it is now (a class in `class`, a
//! boolean attribute present or not, `value`); a style is applied by the
//! runtime only, through the CSSOM, since the page's Content-Security-Policy
//! refuses `style` attributes. Each element lists its bindings in
//! `data-bound`, a JSON list (docs/protocol.md).

use serde_json::{json, Value as Json};

use super::{attributes, BindType, Element, FieldType};

/// A state field as a view refers to it: its byte offset, type and value
/// now. Made by [`field!`](crate::field)`(state, path)`.
#[derive(Clone, Copy, Debug)]
pub struct Field<T> {
    offset: usize,
    value: T,
}

impl<T: BindType> Field<T> {
    /// `field`, a field of `state` (what [`field!`](crate::field) calls).
    ///
    /// # Panics
    /// When `field` does not lie inside `state`.
    pub fn of<S>(state: &S, field: &T) -> Field<T> {
        let start = state as *const S as usize;
        let at = field as *const T as usize;
        let offset = at.wrapping_sub(start);
        assert!(
            at >= start && offset + std::mem::size_of::<T>() <= std::mem::size_of::<S>(),
            "the field is not inside the state"
        );
        Field {
            offset,
            value: *field,
        }
    }

    /// Its byte offset in the state.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Its value now.
    pub fn value(&self) -> T {
        self.value
    }

    fn json(&self) -> Json {
        json!({ "at": self.offset, "type": T::TYPE.name() })
    }

    /// True while the field equals `value` (compared as the page shows
    /// both: the same text).
    pub fn eq(self, value: T) -> Condition {
        let want = value.show();
        let now = self.value.show() == want;
        self.condition("eq", Json::String(want), now)
    }

    /// True while the field differs from `value`.
    pub fn ne(self, value: T) -> Condition {
        let want = value.show();
        let now = self.value.show() != want;
        self.condition("ne", Json::String(want), now)
    }

    fn condition(self, test: &str, operand: Json, now: bool) -> Condition {
        let mut json = self.json();
        json[test] = operand;
        Condition { json, now }
    }
}

/// Integer field types, whose bits a [`Condition`] can test.
pub trait IntegerField: BindType {
    /// The value's bit `n` (0 = least significant).
    fn bit(self, n: u32) -> bool;
}

macro_rules! integer_fields {
    ($($t:ty),*) => {$(
        impl IntegerField for $t {
            fn bit(self, n: u32) -> bool {
                n < <$t>::BITS && (self >> n) & 1 == 1
            }
        }
    )*};
}
integer_fields!(i8, u8, i16, u16, i32, u32, i64, u64);

impl<T: IntegerField> Field<T> {
    /// True while bit `n` of the field is set (0 = least significant).
    pub fn bit(self, n: u32) -> Condition {
        let now = self.value.bit(n);
        self.condition("bit", json!(n), now)
    }
}

/// A test of a state field: [`Field::eq`], [`Field::ne`], [`Field::bit`].
#[derive(Clone, Debug)]
pub struct Condition {
    json: Json,
    now: bool,
}

impl Condition {
    /// Whether it holds for the state the view is rendered from.
    pub fn holds(&self) -> bool {
        self.now
    }
}

impl Element {
    fn add_binding(self, binding: Json) -> Element {
        let list = self.attributes.iter().find(|(n, _)| n == attributes::BOUND);
        let list = super::push_json(list.map(|(_, v)| v.as_str()), &binding.to_string());
        self.attr(attributes::BOUND, list)
    }

    fn set_flag(self, name: &str, on: bool) -> Element {
        let mut e = self;
        if on {
            e = e.attr(name, "");
        } else {
            e.attributes.retain(|(n, _)| n != name);
        }
        e
    }

    /// Has class `class` while `condition` holds (other classes stay).
    pub fn class_when(self, class: &str, condition: Condition) -> Element {
        assert!(
            !class.is_empty() && !class.contains(char::is_whitespace),
            "a class name has no spaces: {class:?}"
        );
        let mut e = self;
        if condition.now {
            let classes = e
                .attributes
                .iter()
                .find(|(n, _)| n == "class")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            if !classes.split_whitespace().any(|c| c == class) {
                let joined = if classes.is_empty() {
                    class.to_string()
                } else {
                    format!("{classes} {class}")
                };
                e = e.attr("class", joined);
            }
        }
        let mut binding = condition.json;
        binding["class"] = json!(class);
        e.add_binding(binding)
    }

    fn flag_when(self, flag: &str, condition: Condition) -> Element {
        let mut binding = condition.json;
        binding["prop"] = json!(flag);
        self.set_flag(flag, condition.now).add_binding(binding)
    }

    /// `checked` (attribute and property) while `condition` holds.
    pub fn checked_when(self, condition: Condition) -> Element {
        self.flag_when("checked", condition)
    }

    /// `disabled` while `condition` holds.
    pub fn disabled_when(self, condition: Condition) -> Element {
        self.flag_when("disabled", condition)
    }

    /// `hidden` while `condition` holds.
    pub fn hidden_when(self, condition: Condition) -> Element {
        self.flag_when("hidden", condition)
    }

    /// Takes the focus (caret at the end) when `condition` becomes true,
    /// e.g. the edit field of the item being edited.
    pub fn focus_when(self, condition: Condition) -> Element {
        let mut binding = condition.json;
        binding["prop"] = json!("focus");
        self.add_binding(binding)
    }

    /// A field's `value` follows `field` (text or a number as the page
    /// shows it). A focused field keeps what the user typed; see
    /// docs/protocol.md for when the app's value replaces it.
    pub fn value_of<T: BindType>(self, field: Field<T>) -> Element {
        let mut binding = field.json();
        binding["prop"] = json!("value");
        self.attr("value", field.value.show()).add_binding(binding)
    }

    /// The style property `property` (e.g. `width`) is the field's value
    /// followed by `unit` (e.g. `%`), applied by the runtime.
    pub fn style_of<T: BindType>(self, property: &str, field: Field<T>, unit: &str) -> Element {
        assert!(
            property.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "a CSS property name: {property:?}"
        );
        assert!(matches!(T::TYPE, FieldType::Scalar(_)), "a numeric field");
        let mut binding = field.json();
        binding["style"] = json!(property);
        binding["unit"] = json!(unit);
        self.add_binding(binding)
    }
}

/// A state field as a view refers to it, for bound parts of elements:
/// `field!(state, count)`, `field!(state, todos[i].done)` (see
/// [`Field`]).
#[macro_export]
macro_rules! field {
    ($state:expr, $($path:tt)+) => {{
        let state = $state;
        $crate::dom::Field::of(state, &state.$($path)+)
    }};
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dom::el;
    use crate::dom::fixtures::State;

    #[test]
    fn bound_parts_render_as_they_are_now_and_list_their_bindings() {
        let s = State {
            count: 6,
            ratio: 0.5,
            small: -3,
            pad: 0,
        };
        // (element, its HTML)
        let cases: Vec<(Element, &str)> = vec![
            (
                el("li")
                    .class("todo")
                    .class_when("done", field!(&s, count).eq(6)),
                r#"<li class="todo done" data-bound='[{"at":0,"class":"done","eq":"6","type":"i64"}]'></li>"#,
            ),
            (
                el("li").class_when("odd", field!(&s, count).bit(0)),
                r#"<li data-bound='[{"at":0,"bit":0,"class":"odd","type":"i64"}]'></li>"#,
            ),
            (
                el("input").checked_when(field!(&s, small).ne(0)),
                r#"<input checked="" data-bound='[{"at":16,"ne":"0","prop":"checked","type":"i32"}]'>"#,
            ),
            (
                el("button")
                    .attr("disabled", "")
                    .disabled_when(field!(&s, small).eq(0)),
                r#"<button data-bound='[{"at":16,"eq":"0","prop":"disabled","type":"i32"}]'></button>"#,
            ),
            (
                el("input").value_of(field!(&s, ratio)),
                r#"<input value="0.5" data-bound='[{"at":8,"prop":"value","type":"f64"}]'>"#,
            ),
            (
                el("div").style_of("width", field!(&s, ratio), "%"),
                r#"<div data-bound='[{"at":8,"style":"width","type":"f64","unit":"%"}]'></div>"#,
            ),
        ];
        for (element, html) in cases {
            assert_eq!(element.to_html(), html);
        }
        // two bindings on one element
        let both = el("li")
            .class_when("a", field!(&s, count).eq(1))
            .hidden_when(field!(&s, small).eq(-3));
        let html = both.to_html();
        assert!(
            html.starts_with("<li data-bound=") && html.ends_with(r#" hidden=""></li>"#),
            "{html}"
        );
        assert!(html.contains(r#""class":"a""#) && html.contains(r#""prop":"hidden""#));
    }

    #[test]
    fn bits_past_the_width_are_clear() {
        assert!(5u8.bit(0) && !5u8.bit(1) && 5u8.bit(2));
        assert!(!u8::MAX.bit(8) && (-1i64).bit(63));
    }
}
