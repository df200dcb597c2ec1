//! The built-in demo: a counter with a clamped step and a description made
//! with `write!`, a 16×16 Game of Life with its busiest rows (a sorted
//! `Vec`), and a panel of integer functions. Every button is a callback the
//! views run as wasm transpiled from this binary's own machine code.
//!
//! Callbacks are `#[no_mangle] pub extern "C"` so the binary names them
//! (a stripped binary's are found by their addresses). They use wrapping or
//! saturating arithmetic: a panic inside an `extern "C"` function aborts the
//! process.

use bytemuck::{Pod, Zeroable};
use x64wasm::dom::{button, el, value, Element, Node, On};
use x64wasm::{bound, callback, App, Callback, FixedStr, Text};

/// Board side: the Game of Life board is `SIDE × SIDE` cells.
pub const SIDE: usize = 16;

/// The demo's state: plain old data, the same bytes natively and in wasm.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct DemoState {
    /// The counter.
    pub counter: i64,
    /// What "Add step" adds (1..=1000).
    pub step: i32,
    /// Game of Life generations stepped since the last Clear or Randomize.
    pub generation: u32,
    /// The xorshift state Randomize draws from (never 0).
    pub seed: u64,
    /// The integer panel's input n.
    pub number: u64,
    /// gcd(n, 462), when computed.
    pub gcd: u64,
    /// Collatz steps of n to reach 1, when computed.
    pub collatz: u64,
    /// Fibonacci(n mod 94) (fits a u64), when computed.
    pub fibonacci: u64,
    /// The board, row-major, 1 = alive.
    pub cells: [u8; SIDE * SIDE],
    /// The label: what Describe wrote, or what was typed in the label field.
    pub label: FixedStr<64>,
    /// How many of `busiest` hold a row (0..=8).
    pub busiest_len: u32,
    /// The rows with the most live cells, busiest first (ties: upper first).
    pub busiest: [u8; 8],
}

impl Default for DemoState {
    fn default() -> DemoState {
        DemoState {
            counter: 0,
            step: 1,
            generation: 0,
            seed: 0x9e37_79b9_7f4a_7c15,
            number: 27,
            gcd: 0,
            collatz: 0,
            fibonacci: 0,
            cells: [0; SIDE * SIDE],
            label: FixedStr::new(),
            busiest_len: 0,
            busiest: [0; 8],
        }
    }
}

/// Adds one to the counter.
#[no_mangle]
pub extern "C" fn increment_counter(state: &mut DemoState) {
    state.counter = state.counter.wrapping_add(1);
}

/// Subtracts one from the counter.
#[no_mangle]
pub extern "C" fn decrement_counter(state: &mut DemoState) {
    state.counter = state.counter.wrapping_sub(1);
}

/// Sets the counter to zero.
#[no_mangle]
pub extern "C" fn reset_counter(state: &mut DemoState) {
    state.counter = 0;
}

/// Sets the step, clamped to 1..=1000.
#[no_mangle]
pub extern "C" fn set_step(state: &mut DemoState, step: i32) {
    state.step = step.clamp(1, 1000);
}

/// Adds the step, clamped to `[lo, hi]` (either order); returns the counter.
#[no_mangle]
pub extern "C" fn add_step_clamped(state: &mut DemoState, lo: i32, hi: i32) -> i64 {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    state.counter = state
        .counter
        .saturating_add(state.step as i64)
        .clamp(lo as i64, hi as i64);
    state.counter
}

/// Flips one cell of the board (indexes past the board do nothing).
#[no_mangle]
pub extern "C" fn toggle_cell(state: &mut DemoState, index: u32) {
    if let Some(cell) = state.cells.get_mut(index as usize) {
        *cell ^= 1;
    }
}

/// One Game of Life generation on a torus (edges wrap).
#[no_mangle]
pub extern "C" fn life_step(state: &mut DemoState) {
    let old = state.cells;
    for row in 0..SIDE {
        for col in 0..SIDE {
            let mut neighbours = 0;
            for dr in [SIDE - 1, 0, 1] {
                for dc in [SIDE - 1, 0, 1] {
                    if dr == 0 && dc == 0 {
                        continue;
                    }
                    let r = (row + dr) % SIDE;
                    let c = (col + dc) % SIDE;
                    neighbours += old[r * SIDE + c] as u32;
                }
            }
            let alive = old[row * SIDE + col] != 0;
            state.cells[row * SIDE + col] = (neighbours == 3 || (alive && neighbours == 2)) as u8;
        }
    }
    state.generation = state.generation.wrapping_add(1);
}

/// Kills every cell.
#[no_mangle]
pub extern "C" fn life_clear(state: &mut DemoState) {
    state.cells.fill(0);
    state.generation = 0;
}

/// Fills the board at random (about 3 cells in 8 alive) from the seed kept
/// in the state, so every view draws the same board.
#[no_mangle]
pub extern "C" fn life_randomize(state: &mut DemoState) {
    let mut x = state.seed | 1;
    for cell in state.cells.iter_mut() {
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *cell = ((x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 61) < 3) as u8;
    }
    state.seed = x;
    state.generation = 0;
}

/// Adds `delta` to n, keeping it in 1..=10^12.
#[no_mangle]
pub extern "C" fn change_number(state: &mut DemoState, delta: i64) {
    let n = (state.number as i64).saturating_add(delta);
    state.number = n.clamp(1, 1_000_000_000_000) as u64;
}

/// gcd(n, other) by Euclid's algorithm (division by a variable).
#[no_mangle]
pub extern "C" fn compute_gcd(state: &mut DemoState, other: u64) -> u64 {
    let (mut a, mut b) = (state.number, other);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    state.gcd = a;
    a
}

/// Collatz steps of n to reach 1 (capped at 100,000).
#[no_mangle]
pub extern "C" fn compute_collatz(state: &mut DemoState) -> u64 {
    let mut n = state.number.max(1);
    let mut steps = 0;
    while n != 1 && steps < 100_000 {
        n = if n.is_multiple_of(2) {
            n / 2
        } else {
            n.wrapping_mul(3).wrapping_add(1)
        };
        steps += 1;
    }
    state.collatz = steps;
    steps
}

/// Fibonacci(n mod 94), the largest that fits a u64.
#[no_mangle]
pub extern "C" fn compute_fibonacci(state: &mut DemoState) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..state.number % 94 {
        (a, b) = (b, a.wrapping_add(b));
    }
    state.fibonacci = a;
    a
}

/// Describes the counter in words with `write!` (integer and float
/// formatting, into the state's text): `core::fmt` runs as wasm too.
#[no_mangle]
pub extern "C" fn describe_counter(state: &mut DemoState) {
    use std::fmt::Write;
    let product = state.counter as f64 * state.step as f64;
    state.label.clear();
    // (a label longer than 64 bytes is cut on a char boundary)
    let _ = write!(
        state.label,
        "{} × {} = {product:.3e}, generation {}",
        state.counter, state.step, state.generation
    );
}

/// Sets the label to what was typed, trimmed and upper-cased (text as a
/// callback argument; Unicode case mapping runs as wasm too).
#[no_mangle]
pub extern "C" fn set_label(state: &mut DemoState, text: Text) {
    state.label.set(&text.as_str().trim().to_uppercase());
}

/// Finds the rows with the most live cells: a `Vec` collected, filtered
/// and sorted (the allocation runs in the module's own heap).
#[no_mangle]
pub extern "C" fn find_busiest_rows(state: &mut DemoState) {
    let mut rows: Vec<(usize, u8)> = state
        .cells
        .chunks(SIDE)
        .enumerate()
        .map(|(r, row)| (row.iter().filter(|&&c| c != 0).count(), r as u8))
        .filter(|&(alive, _)| alive > 0)
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    rows.truncate(8);
    state.busiest = [0; 8];
    for (slot, &(_, row)) in state.busiest.iter_mut().zip(&rows) {
        *slot = row;
    }
    state.busiest_len = rows.len() as u32;
}

/// The demo's callbacks as the view calls them and the app registers them.
const INCREMENT_COUNTER: Callback<DemoState> = callback!(increment_counter);
const DECREMENT_COUNTER: Callback<DemoState> = callback!(decrement_counter);
const RESET_COUNTER: Callback<DemoState> = callback!(reset_counter);
const SET_STEP: Callback<DemoState, (i32,)> = callback!(set_step(i32));
const ADD_STEP_CLAMPED: Callback<DemoState, (i32, i32)> =
    callback!(add_step_clamped(i32, i32) -> i64);
const TOGGLE_CELL: Callback<DemoState, (u32,)> = callback!(toggle_cell(u32));
const LIFE_STEP: Callback<DemoState> = callback!(life_step);
const LIFE_CLEAR: Callback<DemoState> = callback!(life_clear);
const LIFE_RANDOMIZE: Callback<DemoState> = callback!(life_randomize);
const CHANGE_NUMBER: Callback<DemoState, (i64,)> = callback!(change_number(i64));
const COMPUTE_GCD: Callback<DemoState, (u64,)> = callback!(compute_gcd(u64) -> u64);
const COMPUTE_COLLATZ: Callback<DemoState> = callback!(compute_collatz() -> u64);
const COMPUTE_FIBONACCI: Callback<DemoState> = callback!(compute_fibonacci() -> u64);
const DESCRIBE_COUNTER: Callback<DemoState> = callback!(describe_counter);
const FIND_BUSIEST_ROWS: Callback<DemoState> = callback!(find_busiest_rows);
const SET_LABEL: Callback<DemoState, (Text,)> = callback!(set_label(Text));

/// The demo's view.
pub fn render(state: &DemoState) -> Node {
    let counter = el("section")
        .id("counter")
        .child(el("h2").text("Counter"))
        .child(
            el("div")
                .class("row")
                .child(el("span").class("value").child(bound!(state, counter)))
                .child(
                    button("Increment")
                        .call(INCREMENT_COUNTER, ())
                        .class("primary"),
                )
                .child(button("Decrement").call(DECREMENT_COUNTER, ()))
                .child(button("Reset").call(RESET_COUNTER, ())),
        )
        .child(
            el("div")
                .class("row")
                .child(el("span").text("Step "))
                .child(el("strong").child(bound!(state, step)))
                .child(el("span").text(": "))
                .children([1, 5, 25].map(|s| button(format!("{s}")).call(SET_STEP, (s,))))
                .child(button("Add step, clamped to ±100").call(ADD_STEP_CLAMPED, (-100, 100))),
        )
        .child(
            el("div")
                .class("row")
                .child(button("Describe").call(DESCRIBE_COUNTER, ()))
                .child(
                    el("input")
                        .attr("type", "text")
                        .attr("aria-label", "label")
                        .attr("placeholder", "or type a label")
                        .class("label-field")
                        .on(On::input().debounce(150), SET_LABEL, (value(),)),
                )
                .child(el("span").class("label").child(bound!(state, label))),
        );
    // plain classes: the page renders each state it predicts, so a flip or
    // a step draws the board (and the count below) at once
    let board = (0..SIDE * SIDE).map(|i| {
        button("")
            .call(TOGGLE_CELL, (i as u32,))
            .attr("aria-label", format!("cell {} {}", i / SIDE, i % SIDE))
            .class_if("alive", state.cells[i] != 0)
    });
    let alive = state.cells.iter().filter(|&&c| c != 0).count();
    let life = el("section")
        .id("life")
        .child(el("h2").text("Game of Life"))
        .child(
            el("p")
                .class("muted")
                .text("Generation ")
                .child(bound!(state, generation))
                .text(format!(", {alive} alive. Click a cell to flip it.")),
        )
        .child(el("div").class("board").children(board))
        .child(
            el("div")
                .class("row")
                .child(button("Step").call(LIFE_STEP, ()).class("primary"))
                .child(button("Clear").call(LIFE_CLEAR, ()))
                .child(button("Randomize").call(LIFE_RANDOMIZE, ())),
        )
        .child(
            el("div")
                .class("row")
                .child(button("Busiest rows").call(FIND_BUSIEST_ROWS, ()))
                .child(
                    el("span").class("busiest").text(
                        state.busiest[..(state.busiest_len as usize).min(8)]
                            .iter()
                            .map(|r| r.to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                ),
        );
    let result = |label: &str, value: Node| -> [Element; 2] {
        [
            el("span").class("muted").text(label),
            el("span").child(value),
        ]
    };
    let numbers = el("section")
        .id("numbers")
        .child(el("h2").text("Integer functions"))
        .child(
            el("div")
                .class("row")
                .child(el("span").text("n = "))
                .child(el("strong").child(bound!(state, number)))
                .children([-10i64, -1, 1, 10, 1000].map(|d| {
                    let label = if d > 0 {
                        format!("+{d}")
                    } else {
                        format!("{d}")
                    };
                    button(label).call(CHANGE_NUMBER, (d,))
                })),
        )
        .child(
            el("div")
                .class("row")
                .child(button("gcd(n, 462)").call(COMPUTE_GCD, (462,)))
                .child(button("Collatz steps").call(COMPUTE_COLLATZ, ()))
                .child(button("Fibonacci(n mod 94)").call(COMPUTE_FIBONACCI, ())),
        )
        .child(
            el("div")
                .class("results")
                .children(result("gcd(n, 462)", bound!(state, gcd)))
                .children(result("Collatz steps", bound!(state, collatz)))
                .children(result("Fibonacci", bound!(state, fibonacci))),
        );
    el("div")
        .child(el("h1").text("x64wasm demo"))
        .child(el("p").class("lead").text(
            "Every button runs a Rust callback twice: here, at once, as WebAssembly the server \
             transpiled from its own x86-64 code, and on the server, which updates every view.",
        ))
        .child(counter)
        .child(el("div").class("columns").child(life).child(numbers))
        .into()
}

/// The demo app with all its callbacks.
pub fn app() -> App<DemoState> {
    App::new(DemoState::default(), render)
        .title("x64wasm demo")
        .id("x64wasm-demo")
        .callback(INCREMENT_COUNTER)
        .callback(DECREMENT_COUNTER)
        .callback(RESET_COUNTER)
        .callback(SET_STEP)
        .callback(ADD_STEP_CLAMPED)
        .callback(TOGGLE_CELL)
        .callback(LIFE_STEP)
        .callback(LIFE_CLEAR)
        .callback(LIFE_RANDOMIZE)
        .callback(CHANGE_NUMBER)
        .callback(COMPUTE_GCD)
        .callback(COMPUTE_COLLATZ)
        .callback(COMPUTE_FIBONACCI)
        .callback(DESCRIBE_COUNTER)
        .callback(FIND_BUSIEST_ROWS)
        .callback(SET_LABEL)
}
