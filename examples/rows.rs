//! A keyed table in the manner of js-framework-benchmark's keyed
//! implementations: create 1,000 rows, replace them all, update every 10th,
//! select one, swap two, remove one, create 10,000, append 1,000, clear.
//!
//! Run it with `cargo run --release --example rows` (add `-- --headless`
//! for the server only). The rows are computed in `render` from a few
//! numbers per row in the state, and the page runs that render itself (the
//! view module), so every operation shows before the server answers;
//! `crates/cli/benches/rows.rs` times them in Chromium.

use std::process::ExitCode;

use bytemuck::{Pod, Zeroable};
use x64wasm::dom::{button, el, Node};
use x64wasm::{callback, App, Callback, FixedVec};

/// The most rows.
pub const CAPACITY: usize = 10_000;

const ADJECTIVES: [&str; 25] = [
    "pretty",
    "large",
    "big",
    "small",
    "tall",
    "short",
    "long",
    "handsome",
    "plain",
    "quaint",
    "clean",
    "elegant",
    "easy",
    "angry",
    "crazy",
    "helpful",
    "mushy",
    "odd",
    "unsightly",
    "adorable",
    "important",
    "inexpensive",
    "cheap",
    "expensive",
    "fancy",
];
const COLOURS: [&str; 11] = [
    "red", "yellow", "blue", "green", "pink", "brown", "purple", "brown", "white", "black",
    "orange",
];
const NOUNS: [&str; 13] = [
    "table", "chair", "house", "bbq", "desk", "car", "pony", "cookie", "sandwich", "burger",
    "pizza", "mouse", "keyboard",
];

/// One row: its id and the words of its label.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct Row {
    /// A number no other row has had.
    pub id: u32,
    /// Indexes into the word lists.
    pub adjective: u8,
    /// See `adjective`.
    pub colour: u8,
    /// See `adjective`.
    pub noun: u8,
    /// How many times " !!!" was appended.
    pub bangs: u8,
}

/// The table.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct Table {
    /// The rows.
    pub rows: FixedVec<Row, CAPACITY>,
    /// The id the next row gets.
    pub next_id: u32,
    /// The selected row's id (0: none).
    pub selected: u32,
    /// The random generator's state (xorshift32, never 0).
    pub seed: u32,
}

fn random(table: &mut Table, below: u32) -> u8 {
    let mut x = table.seed.max(1);
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    table.seed = x;
    (x % below) as u8
}

/// Appends `n` new rows (as many as fit).
fn append(table: &mut Table, n: usize) {
    for _ in 0..n.min(CAPACITY - table.rows.len()) {
        let row = Row {
            id: table.next_id,
            adjective: random(table, ADJECTIVES.len() as u32),
            colour: random(table, COLOURS.len() as u32),
            noun: random(table, NOUNS.len() as u32),
            bangs: 0,
        };
        table.rows.push(row);
        table.next_id = table.next_id.wrapping_add(1);
    }
}

/// Replaces the rows with `n` new ones.
#[no_mangle]
pub extern "C" fn create_rows(table: &mut Table, n: u32) {
    table.rows.clear();
    table.selected = 0;
    append(table, n as usize);
}

/// Appends `n` new rows.
#[no_mangle]
pub extern "C" fn append_rows(table: &mut Table, n: u32) {
    append(table, n as usize);
}

/// Appends " !!!" to every 10th row's label.
#[no_mangle]
pub extern "C" fn update_every_10th(table: &mut Table) {
    for row in table.rows.iter_mut().step_by(10) {
        row.bangs = row.bangs.saturating_add(1);
    }
}

/// Selects (highlights) the row `id`.
#[no_mangle]
pub extern "C" fn select_row(table: &mut Table, id: u32) {
    table.selected = id;
}

/// Swaps the 2nd and the 999th rows (when there are that many).
#[no_mangle]
pub extern "C" fn swap_rows(table: &mut Table) {
    if table.rows.len() > 998 {
        table.rows.swap(1, 998);
    }
}

/// Removes the row `id`.
#[no_mangle]
pub extern "C" fn remove_row(table: &mut Table, id: u32) {
    if let Some(i) = table.rows.iter().position(|r| r.id == id) {
        table.rows.remove(i);
    }
}

/// Removes every row.
#[no_mangle]
pub extern "C" fn clear_rows(table: &mut Table) {
    table.rows.clear();
    table.selected = 0;
}

const CREATE: Callback<Table, (u32,)> = callback!(create_rows(u32));
const APPEND: Callback<Table, (u32,)> = callback!(append_rows(u32));
const UPDATE: Callback<Table> = callback!(update_every_10th);
const SELECT: Callback<Table, (u32,)> = callback!(select_row(u32));
const SWAP: Callback<Table> = callback!(swap_rows);
const REMOVE: Callback<Table, (u32,)> = callback!(remove_row(u32));
const CLEAR: Callback<Table> = callback!(clear_rows);

/// js-framework-benchmark's markup: a row is
/// `<tr><td>id</td><td><a>label</a></td><td><a>remove</a></td><td></td></tr>`.
fn render(table: &Table) -> Node {
    let rows = table.rows.iter().map(|row| {
        let mut label = format!(
            "{} {} {}",
            ADJECTIVES[row.adjective as usize % ADJECTIVES.len()],
            COLOURS[row.colour as usize % COLOURS.len()],
            NOUNS[row.noun as usize % NOUNS.len()]
        );
        for _ in 0..row.bangs {
            label.push_str(" !!!");
        }
        el("tr")
            .key(row.id.to_string())
            .class_if("danger", row.id == table.selected)
            .child(el("td").class("col-md-1").text(row.id.to_string()))
            .child(
                el("td")
                    .class("col-md-4")
                    .child(el("a").class("lbl").call(SELECT, (row.id,)).text(label)),
            )
            .child(
                el("td")
                    .class("col-md-1")
                    .child(el("a").class("remove").call(REMOVE, (row.id,)).text("×")),
            )
            .child(el("td").class("col-md-6"))
    });
    el("div")
        .class("container")
        .child(
            el("div")
                .class("jumbotron")
                .child(button("Create 1,000 rows").id("run").call(CREATE, (1_000,)))
                .child(
                    button("Create 10,000 rows")
                        .id("runlots")
                        .call(CREATE, (10_000,)),
                )
                .child(button("Append 1,000 rows").id("add").call(APPEND, (1_000,)))
                .child(
                    button("Update every 10th row")
                        .id("update")
                        .call(UPDATE, ()),
                )
                .child(button("Clear").id("clear").call(CLEAR, ()))
                .child(button("Swap rows").id("swaprows").call(SWAP, ())),
        )
        .child(
            el("table")
                .class("table")
                .child(el("tbody").id("tbody").children(rows)),
        )
        .into()
}

fn main() -> ExitCode {
    App::new(
        Table {
            seed: 0x2545_f491,
            next_id: 1,
            ..Table::zeroed()
        },
        render,
    )
    .title("x64wasm • rows")
    .id("x64wasm-rows-1")
    .callback(CREATE)
    .callback(APPEND)
    .callback(UPDATE)
    .callback(SELECT)
    .callback(SWAP)
    .callback(REMOVE)
    .callback(CLEAR)
    .run()
}
