//! The client runtime and style sheet, embedded in the binary from `ui/`.

/// `ui/runtime.js`: event delegation, wasm prediction, events.
pub const RUNTIME_JS: &str = include_str!("../../ui/runtime.js");
/// `ui/style.css`.
pub const STYLE_CSS: &str = include_str!("../../ui/style.css");
/// `ui/favicon.svg`, served at `/favicon.svg` (which the page links) and
/// `/favicon.ico` (which browsers try on their own).
pub const FAVICON_SVG: &str = include_str!("../../ui/favicon.svg");
