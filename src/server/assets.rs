//! The client runtime, style sheet and icon, embedded in the binary from
//! `ui/`.

use std::collections::HashMap;

use super::coding::Encoded;

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
    ("stream.js", include_str!("../../ui/runtime/stream.js")),
    ("queue.js", include_str!("../../ui/runtime/queue.js")),
    (
        "attributes.js",
        include_str!("../../ui/runtime/attributes.js"),
    ),
];

/// `ui/style.css`.
pub const STYLE_CSS: &str = include_str!("../../ui/style.css");
/// `ui/favicon.svg`, served at `/favicon.svg` (which the page links) and
/// `/favicon.ico` (which browsers try on their own).
pub const FAVICON_SVG: &str = include_str!("../../ui/favicon.svg");

/// The files served as they are, by path, each hashed for its ETag once
/// at start and gzipped the first time a browser takes gzip.
pub(crate) struct Assets(HashMap<String, Encoded>);

impl Assets {
    /// The runtime, the style sheet, the icon and the app's own style
    /// sheet, if it has one.
    pub fn new(app_css: Option<&'static str>) -> Assets {
        const JS: &str = "text/javascript; charset=utf-8";
        const CSS: &str = "text/css; charset=utf-8";
        const SVG: &str = "image/svg+xml";
        let runtime = RUNTIME
            .iter()
            .map(|(name, body)| (format!("/runtime/{name}"), *body, JS));
        let others = [
            ("/style.css".to_string(), STYLE_CSS, CSS),
            ("/favicon.svg".to_string(), FAVICON_SVG, SVG),
            ("/favicon.ico".to_string(), FAVICON_SVG, SVG),
        ];
        let app = app_css.map(|css| ("/app.css".to_string(), css, CSS));
        Assets(
            runtime
                .chain(others)
                .chain(app)
                .map(|(path, body, kind)| (path, Encoded::hashed(body.as_bytes().into(), kind)))
                .collect(),
        )
    }

    /// The file served at `path`, if there is one.
    pub fn get(&self, path: &str) -> Option<&Encoded> {
        self.0.get(path)
    }
}

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
