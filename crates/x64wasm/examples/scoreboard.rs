//! A user's own app on x64wasm: a scoreboard for two teams.
//!
//! Run it with `cargo run --example scoreboard` (add `-- --headless` for the
//! server only). Everything an app needs is here: a plain-data state, a
//! render function, and `#[no_mangle] pub extern "C"` callbacks registered
//! with `callback!`. No JavaScript, no second build: the views run these very
//! functions as wasm transpiled from this binary.
//!
//! `toss_coin` reads the CPU's time-stamp counter, which has no WebAssembly
//! equivalent: the server says why it cannot be transpiled, and its clicks
//! run on the server only (the view waits for the answer instead of
//! predicting it).

use std::mem::offset_of;
use std::process::ExitCode;

use bytemuck::{Pod, Zeroable};
use serde_json::json;
use x64wasm::dom::{button, el, Node};
use x64wasm::{callback, App};

/// The whole app state: `#[repr(C)]`, no padding, no pointers.
#[repr(C)]
#[derive(Clone, Copy, Default, Pod, Zeroable)]
pub struct Score {
    /// Home team's points.
    pub home: u32,
    /// Away team's points.
    pub away: u32,
    /// The period, 1 to 4.
    pub period: u32,
    /// 0: not tossed yet, 1: heads, 2: tails.
    pub coin: u32,
}

/// Adds points to a team (0 = home, anything else = away).
#[no_mangle]
pub extern "C" fn add_points(score: &mut Score, team: u32, points: u32) {
    let total = if team == 0 {
        &mut score.home
    } else {
        &mut score.away
    };
    *total = total.saturating_add(points);
}

/// Moves to the next period, 1 to 4 and round again.
#[no_mangle]
pub extern "C" fn next_period(score: &mut Score) {
    score.period = score.period % 4 + 1;
}

/// Starts a new game.
#[no_mangle]
pub extern "C" fn new_game(score: &mut Score) {
    *score = Score {
        period: 1,
        ..Score::default()
    };
}

/// Tosses a coin from the CPU's time-stamp counter (server only: see above).
#[no_mangle]
pub extern "C" fn toss_coin(score: &mut Score) {
    // SAFETY: rdtsc has no preconditions on x86-64.
    let ticks = unsafe { core::arch::x86_64::_rdtsc() };
    score.coin = 1 + (ticks >> 4 & 1) as u32;
}

fn render(score: &Score) -> Node {
    let team =
        |name: &str, index: u32, points: u32, offset: usize| {
            el("section")
                .id(name.to_ascii_lowercase())
                .child(el("h2").text(name))
                .child(el("div").class("value").child(Node::bound(offset, points)))
                .child(el("div").class("row").children([1, 2, 3].map(|p| {
                    button(format!("+{p}")).call("add_points", &[json!(index), json!(p)])
                })))
        };
    let coin = match score.coin {
        0 => "not tossed",
        1 => "heads",
        _ => "tails",
    };
    el("div")
        .child(el("h1").text("Scoreboard"))
        .child(
            el("div")
                .class("columns")
                .child(team("Home", 0, score.home, offset_of!(Score, home)))
                .child(team("Away", 1, score.away, offset_of!(Score, away))),
        )
        .child(
            el("section")
                .child(
                    el("p")
                        .text("Period ")
                        .child(Node::bound(offset_of!(Score, period), score.period))
                        .text(format!(" · coin: {coin}")),
                )
                .child(
                    el("div")
                        .class("row")
                        .child(button("Next period").call("next_period", &[]))
                        .child(button("Toss coin").call("toss_coin", &[]))
                        .child(button("New game").call("new_game", &[])),
                ),
        )
        .into()
}

fn main() -> ExitCode {
    let start = Score {
        period: 1,
        ..Score::default()
    };
    App::new(start, render)
        .title("Scoreboard")
        .callback(callback!(add_points(u32, u32)))
        .callback(callback!(next_period))
        .callback(callback!(new_game))
        .callback(callback!(toss_coin))
        .run()
}
