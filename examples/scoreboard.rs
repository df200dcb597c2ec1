//! A user's own app on x64wasm: a scoreboard for two teams.
//!
//! Run it with `cargo run --release --example scoreboard` (add `-- --headless`
//! for the server only; build with `--release`: in a debug build some
//! callbacks may run on the server only). Everything an app needs is here: a plain-data state, a
//! render function, and `#[no_mangle] pub extern "C"` callbacks turned into
//! handles with `callback!`, which the view calls and the app registers. No
//! JavaScript, no second build: the views run these very functions as wasm
//! transpiled from this binary.
//!
//! `toss_coin` reads the CPU's time-stamp counter, which has no WebAssembly
//! equivalent: the server says why it cannot be transpiled, and its clicks
//! run on the server only (the view waits for the answer instead of
//! predicting it).

use std::process::ExitCode;

use bytemuck::{Pod, Zeroable};
use x64wasm::dom::{button, el, Node};
use x64wasm::{bound, callback, App, Callback};

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

/// The callbacks as the view calls them: the argument types after the
/// state are part of the handle's type, so `.call(ADD_POINTS, (0, 3))` is
/// checked by the compiler.
const ADD_POINTS: Callback<Score, (u32, u32)> = callback!(add_points(u32, u32));
const NEXT_PERIOD: Callback<Score> = callback!(next_period);
const NEW_GAME: Callback<Score> = callback!(new_game);
const TOSS_COIN: Callback<Score> = callback!(toss_coin);

fn render(score: &Score) -> Node {
    let team =
        |name: &str, index: u32, points: Node| {
            el("section")
                .id(name.to_ascii_lowercase())
                .child(el("h2").text(name))
                .child(el("div").class("value").child(points))
                .child(el("div").class("row").children(
                    [1, 2, 3].map(|p| button(format!("+{p}")).call(ADD_POINTS, (index, p))),
                ))
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
                .child(team("Home", 0, bound!(score, home)))
                .child(team("Away", 1, bound!(score, away))),
        )
        .child(
            el("section")
                .child(
                    el("p")
                        .text("Period ")
                        .child(bound!(score, period))
                        .text(format!(" · coin: {coin}")),
                )
                .child(
                    el("div")
                        .class("row")
                        .child(button("Next period").call(NEXT_PERIOD, ()))
                        .child(button("Toss coin").call(TOSS_COIN, ()))
                        .child(button("New game").call(NEW_GAME, ())),
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
        .id("scoreboard")
        .callback(ADD_POINTS)
        .callback(NEXT_PERIOD)
        .callback(NEW_GAME)
        .callback(TOSS_COIN)
        .run()
}
