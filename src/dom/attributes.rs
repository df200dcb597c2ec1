//! The `data-*` attributes x64wasm writes into a page and its runtime reads:
//! one table on this side (`ATTRIBUTES`), one in `ui/runtime/attributes.js`,
//! checked against each other by `tests/runtime.rs` (docs/protocol.md says
//! what each holds).

/// On a clickable element: the callback a click runs (`Element::call`).
pub const CALL: &str = "data-call";
/// On a clickable element: the click's constant arguments, a JSON list.
pub const ARGS: &str = "data-args";
/// Events with values (`Element::on`): a JSON list of `{call, event, args}`.
pub const ON: &str = "data-on";
/// A text node showing a state field: `OFFSET:TYPE` (`bound!`).
pub const BIND: &str = "data-bind";
/// Bound parts of an element (`class_when`, `hidden_when`, …): a JSON list.
pub const BOUND: &str = "data-bound";
/// A child's key: keyed children move instead of being rebuilt (the diff).
pub const KEY: &str = "data-key";
/// On the app root: the app's id, which names its queue in the page.
pub const APP: &str = "data-app";
/// On the app root: the build that served the page.
pub const BUILD: &str = "data-build";
/// On the app root: the version of the state the page was rendered at.
pub const VERSION: &str = "data-version";
/// On the app root: that state's bytes, base64.
pub const STATE: &str = "data-state";
/// On the app root: every callback's signature, a JSON object.
pub const CALLBACKS: &str = "data-callbacks";
/// On the app root of an app with view state: the view's id.
pub const VIEW: &str = "data-view";
/// On the app root of an app with view state: where the view's own part
/// starts in the state bytes.
pub const VIEW_OFFSET: &str = "data-view-offset";

/// Every attribute above, by the name `attributes.js` gives it.
pub const ATTRIBUTES: &[(&str, &str)] = &[
    ("call", CALL),
    ("args", ARGS),
    ("on", ON),
    ("bind", BIND),
    ("bound", BOUND),
    ("key", KEY),
    ("app", APP),
    ("build", BUILD),
    ("version", VERSION),
    ("state", STATE),
    ("callbacks", CALLBACKS),
    ("view", VIEW),
    ("viewOffset", VIEW_OFFSET),
];
