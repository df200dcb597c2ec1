//! Helpers for tests with the desktop window: an Xvfb display, finding and
//! closing windows.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// An Xvfb server on a display number of its own choosing.
pub struct Xvfb {
    child: Child,
    /// `:N`
    pub display: String,
}

impl Xvfb {
    /// Starts Xvfb (1280×900).
    pub fn start() -> Xvfb {
        // -displayfd 1: Xvfb picks a free display and prints its number.
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x900x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (`make test` installs the xvfb package)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let number: u32 = line.trim().parse().expect("Xvfb display number");
        Xvfb {
            child,
            display: format!(":{number}"),
        }
    }

    /// Waits for a window titled `title` and returns its id.
    pub fn find_window(&self, title: &str) -> String {
        let out = Command::new("timeout")
            .args([
                "60",
                "xdotool",
                "search",
                "--sync",
                "--onlyvisible",
                "--name",
                title,
            ])
            .env("DISPLAY", &self.display)
            .output()
            .expect("xdotool (`make test` installs it)");
        let id = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        assert!(!id.is_empty(), "no window titled {title:?} appeared");
        id
    }

    /// Starts `binary` (`--port 0`) with its desktop window on this display
    /// and waits until the window titled `title` is shown and its page has
    /// connected (the server counts one view); the app and the window id.
    pub fn open_app(&self, binary: &Path, title: &str) -> (super::server::App, String) {
        self.open_app_with(binary, title, &[])
    }

    /// As [`open_app`](Xvfb::open_app), with more arguments.
    pub fn open_app_with(
        &self,
        binary: &Path,
        title: &str,
        args: &[&str],
    ) -> (super::server::App, String) {
        let args = [&["--port", "0"], args].concat();
        let app = super::server::App::start(binary, &args, &[("DISPLAY", &self.display)]);
        assert!(
            app.wait_for_output("desktop window open", Duration::from_secs(60)),
            "{}",
            app.output()
        );
        let window = self.find_window(title);
        // The webview loads the page after the window maps; its runtime then
        // opens the event stream, which the server counts as a view.
        app.wait_views(
            1,
            Duration::from_secs(60),
            "the window's page never connected",
        );
        (app, window)
    }

    /// Asks window `id` to close as a window manager's close button does
    /// (WM_DELETE_WINDOW).
    pub fn close_window(&self, id: &str) {
        let status = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/desktop/close_window.py"))
            .arg(id)
            .env("DISPLAY", &self.display)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
