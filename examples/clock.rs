//! A view that reads the clock, and so renders on the server only.
//!
//! Run it with `cargo run --release --example clock` (add `-- --headless` for the
//! server only). Its `render` shows when the server rendered the page, a
//! value no page could compute the same way, so the view cannot run as
//! wasm: the app says why at start ("the view renders on the server only:
//! …"), `/view.wasm` is a 422, and the page works as a view without a view
//! module does: the callback still runs at once as wasm and the bound count
//! changes before the server answers; the rest of the view comes with the
//! server's patches. Keep the clock (and anything else a page cannot know)
//! out of `render`, and put it in the state instead, to have the whole view
//! predicted.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use bytemuck::{Pod, Zeroable};
use x64wasm::dom::{button, el, Node};
use x64wasm::{bound, callback, App, Callback};

/// The state: a count of clicks.
#[repr(C)]
#[derive(Clone, Copy, Default, Pod, Zeroable)]
pub struct Clicks {
    /// Clicks so far.
    pub count: u64,
}

/// One more click.
#[no_mangle]
pub extern "C" fn click(clicks: &mut Clicks) {
    clicks.count = clicks.count.wrapping_add(1);
}

const CLICK: Callback<Clicks> = callback!(click);

/// The view: the count, bound, and the time of the render (seconds since
/// 1970), which reads the clock.
fn render(clicks: &Clicks) -> Node {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    el("div")
        .child(el("p").id("count").child(bound!(clicks, count)))
        .child(
            el("p")
                .id("rendered")
                .text(format!("rendered at {seconds}")),
        )
        .child(
            el("p")
                .id("parity")
                .text(if clicks.count.is_multiple_of(2) {
                    "even"
                } else {
                    "odd"
                }),
        )
        .child(button("Click").call(CLICK, ()))
        .into()
}

fn main() -> ExitCode {
    App::new(Clicks::default(), render)
        .title("A clock in the view")
        .id("x64wasm-clock-1")
        .callback(CLICK)
        .run()
}
