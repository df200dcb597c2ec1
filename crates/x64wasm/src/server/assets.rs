//! The client runtime, style sheet and icon, embedded in the binary from
//! `ui/`.

/// The client runtime's ES modules (`ui/runtime/`), served at
/// `/runtime/NAME`: the page loads `main.js`, which imports the others.
pub const RUNTIME: &[(&str, &str)] = &[
    ("main.js", include_str!("../../ui/runtime/main.js")),
    ("sync.js", include_str!("../../ui/runtime/sync.js")),
    ("wasm.js", include_str!("../../ui/runtime/wasm.js")),
    ("patch.js", include_str!("../../ui/runtime/patch.js")),
    ("fields.js", include_str!("../../ui/runtime/fields.js")),
    ("encoding.js", include_str!("../../ui/runtime/encoding.js")),
    ("events.js", include_str!("../../ui/runtime/events.js")),
    ("bindings.js", include_str!("../../ui/runtime/bindings.js")),
    ("check.js", include_str!("../../ui/runtime/check.js")),
];

/// The runtime module called `name`, if there is one.
pub fn runtime_module(name: &str) -> Option<&'static str> {
    RUNTIME.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
}

/// `ui/style.css`.
pub const STYLE_CSS: &str = include_str!("../../ui/style.css");
/// `ui/favicon.svg`, served at `/favicon.svg` (which the page links) and
/// `/favicon.ico` (which browsers try on their own).
pub const FAVICON_SVG: &str = include_str!("../../ui/favicon.svg");

#[cfg(test)]
mod tests {
    #[test]
    fn every_runtime_module_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/runtime");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut served: Vec<String> = super::RUNTIME.iter().map(|(n, _)| n.to_string()).collect();
        files.sort();
        served.sort();
        assert_eq!(served, files);
    }
}
