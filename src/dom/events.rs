//! Events with values: a view runs a callback on an event other than a
//! click, with arguments taken from the event (the element's value as text
//! or a number, a checkbox's `checked`, the key) mixed freely with
//! constants. No JavaScript is written by the app: the element carries a
//! `data-on` attribute that the client runtime reads (docs/protocol.md).
//!
//! ```
//! use x64wasm::dom::{el, checked, key, value, On};
//! use x64wasm::{callback, Callback, FixedStr, Text};
//!
//! #[repr(C)]
//! #[derive(Clone, Copy)]
//! pub struct State { draft: FixedStr<64>, done: u8 }
//!
//! #[no_mangle]
//! pub extern "C" fn set_draft(s: &mut State, text: Text) { s.draft.set(text.as_str()); }
//! #[no_mangle]
//! pub extern "C" fn set_done(s: &mut State, row: u32, done: bool) { s.done = done as u8; }
//! const SET_DRAFT: Callback<State, (Text,)> = callback!(set_draft(Text));
//! const SET_DONE: Callback<State, (u32, bool)> = callback!(set_done(u32, bool));
//!
//! let field = el("input")
//!     .on(On::input().debounce(200), SET_DRAFT, (value(),))
//!     .on(On::keydown(&["Enter"]), SET_DRAFT, (value(),));
//! let toggle = el("input").attr("type", "checkbox").on(On::change(), SET_DONE, (7, checked()));
//! assert!(toggle.to_html().contains("data-on="));
//! ```

use std::marker::PhantomData;

use serde_json::{json, Value as Json};

use super::{attributes, Element};
use crate::callbacks::{Arg, Args, Callback};
use crate::text::Text;

/// The events a view can react to, with the DOM event each listens for:
/// (name in [`On`] and `data-on`, DOM event type). `blur` listens for
/// `focusout`, which bubbles (so one listener at the root sees it).
pub const EVENTS: &[(&str, &str)] = &[
    ("click", "click"),
    ("dblclick", "dblclick"),
    ("input", "input"),
    ("change", "change"),
    ("submit", "submit"),
    ("keydown", "keydown"),
    ("blur", "focusout"),
];

/// An event an element reacts to: `On::input().debounce(300)`,
/// `On::keydown(&["Enter", "Escape"])`, `On::change()`, …
#[derive(Clone, Debug, PartialEq)]
pub struct On {
    event: &'static str,
    keys: Vec<String>,
    debounce_ms: u32,
}

impl On {
    fn new(event: &'static str) -> On {
        debug_assert!(EVENTS.iter().any(|(n, _)| *n == event));
        On {
            event,
            keys: Vec::new(),
            debounce_ms: 0,
        }
    }
    /// A click (what [`Element::call`] does with constant arguments).
    pub fn click() -> On {
        On::new("click")
    }
    /// A double click.
    pub fn dblclick() -> On {
        On::new("dblclick")
    }
    /// Every change of a field's value as the user types (see
    /// [`debounce`](Self::debounce)).
    pub fn input() -> On {
        On::new("input")
    }
    /// A committed change: a checkbox toggled, a select chosen, a text
    /// field left after editing.
    pub fn change() -> On {
        On::new("change")
    }
    /// A form submitted (Enter in one of its fields, or its submit button);
    /// the page does not navigate.
    pub fn submit() -> On {
        On::new("submit")
    }
    /// A key pressed, only the named keys (`KeyboardEvent.key` values such
    /// as `Enter`, `Escape`, `ArrowUp`, `a`); no keys: every key.
    pub fn keydown(keys: &[&str]) -> On {
        On {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            ..On::new("keydown")
        }
    }
    /// Focus leaving the element (DOM `focusout`).
    pub fn blur() -> On {
        On::new("blur")
    }
    /// Runs the callback only once the events stop for `ms` milliseconds,
    /// with the values of the last one (like LiveView's `phx-debounce`).
    pub fn debounce(mut self, ms: u32) -> On {
        self.debounce_ms = ms;
        self
    }
}

/// An argument taken from the event when it fires: [`value`], [`checked`]
/// or [`key`]. `T` is the callback parameter's type.
#[derive(Clone, Copy, Debug)]
pub struct EventValue<T> {
    source: &'static str,
    ty: PhantomData<fn() -> T>,
}

/// A type an element's value converts to (docs/protocol.md states the
/// rules): [`Text`] as typed; `i32`, `i64`, `u32`, `u64` from a decimal
/// integer in range; `f64` from an HTML valid floating-point number. An
/// empty or invalid value runs nothing (the page logs why).
pub trait FromValue: Arg {}
impl FromValue for Text {}
impl FromValue for i32 {}
impl FromValue for i64 {}
impl FromValue for u32 {}
impl FromValue for u64 {}
impl FromValue for f64 {}

/// The element's `value` when the event fires (for `submit`, the value of
/// the form's first field), as `T`.
pub fn value<T: FromValue>() -> EventValue<T> {
    EventValue {
        source: "value",
        ty: PhantomData,
    }
}

/// A checkbox's (or radio button's) `checked`.
pub fn checked() -> EventValue<bool> {
    EventValue {
        source: "checked",
        ty: PhantomData,
    }
}

/// The key of a `keydown` (`KeyboardEvent.key`: `Enter`, `a`, …).
pub fn key() -> EventValue<Text> {
    EventValue {
        source: "key",
        ty: PhantomData,
    }
}

/// Where one argument of type `T` comes from: a constant of that type, or
/// an [`EventValue`] of it.
pub trait ArgSource<T: Arg> {
    /// Its form in `data-on`: the constant's JSON, or `{"event": source}`.
    fn to_json(&self) -> Json;
}

impl<T: Arg> ArgSource<T> for T {
    fn to_json(&self) -> Json {
        Arg::to_json(*self)
    }
}

impl<T: Arg> ArgSource<T> for EventValue<T> {
    fn to_json(&self) -> Json {
        json!({ "event": self.source })
    }
}

/// A tuple of [`ArgSource`]s for a callback's argument tuple `A`.
pub trait ArgSources<A: Args> {
    /// Their forms in `data-on`, in order.
    fn to_json(&self) -> Vec<Json>;
}

macro_rules! arg_sources {
    ($($a:ident $s:ident $i:tt),*) => {
        impl<$($a: Arg, $s: ArgSource<$a>),*> ArgSources<($($a,)*)> for ($($s,)*) {
            fn to_json(&self) -> Vec<Json> {
                vec![$(self.$i.to_json()),*]
            }
        }
    };
}
arg_sources!();
arg_sources!(A0 S0 0);
arg_sources!(A0 S0 0, A1 S1 1);
arg_sources!(A0 S0 0, A1 S1 1, A2 S2 2);
arg_sources!(A0 S0 0, A1 S1 1, A2 S2 2, A3 S3 3);
arg_sources!(A0 S0 0, A1 S1 1, A2 S2 2, A3 S3 3, A4 S4 4);

impl Element {
    /// On `event`, runs `callback` with `args` (in the view as wasm, and on
    /// the server natively), each a constant or an event's value:
    /// `.on(On::change(), SET_DONE, (7, checked()))`. An element may react
    /// to several events; they go in its `data-on` attribute, a JSON list
    /// of `{"on", "call", "args", "keys"?, "debounce"?}`.
    pub fn on<S: 'static, A: Args>(
        self,
        event: On,
        callback: Callback<S, A>,
        args: impl ArgSources<A>,
    ) -> Element {
        let mut entry = json!({
            "on": event.event,
            "call": callback.name,
            "args": args.to_json(),
        });
        if !event.keys.is_empty() {
            entry["keys"] = json!(event.keys);
        }
        if event.debounce_ms > 0 {
            entry["debounce"] = json!(event.debounce_ms);
        }
        let list = self.attributes.iter().find(|(n, _)| n == attributes::ON);
        let list = super::push_json(list.map(|(_, v)| v.as_str()), &entry.to_string());
        self.attr(attributes::ON, list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callback;
    use crate::dom::el;
    use crate::dom::fixtures::{State, F, G};

    extern "C" fn say(_: &mut State, _: Text, _: i32) {}
    const SAY: Callback<State, (Text, i32)> = callback!(say(Text, i32));

    #[test]
    fn events_and_their_arguments_go_in_data_on() {
        // (element, the data-on it gets)
        let cases: Vec<(Element, &str)> = vec![
            (
                el("input").on(On::input().debounce(250), SAY, (value(), 3)),
                r#"[{"args":[{"event":"value"},3],"call":"say","debounce":250,"on":"input"}]"#,
            ),
            (
                el("input")
                    .on(On::keydown(&["Enter", "Escape"]), SAY, (key(), -1))
                    .on(On::blur(), SAY, (Text::new("left"), 0)),
                r#"[{"args":[{"event":"key"},-1],"call":"say","keys":["Enter","Escape"],"on":"keydown"},{"args":["left",0],"call":"say","on":"blur"}]"#,
            ),
            (
                el("input").on(On::change(), F, (value::<i32>(), 9i64)),
                r#"[{"args":[{"event":"value"},9],"call":"f","on":"change"}]"#,
            ),
            (
                el("li").on(On::dblclick(), G, (4,)),
                r#"[{"args":[4],"call":"g","on":"dblclick"}]"#,
            ),
        ];
        for (element, data_on) in cases {
            let got = element
                .attributes
                .iter()
                .find(|(n, _)| n == attributes::ON)
                .map(|(_, v)| v.as_str());
            assert_eq!(got, Some(data_on));
        }
    }
}
