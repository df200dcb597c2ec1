//! Callbacks on a [`FixedVec`], the list type apps keep in their state: the
//! library's own source (`src/list.rs`), compiled here as part of the
//! corpus, so that every operation is proven against the CPU on lists of
//! any bytes (a length past the capacity included).

#[path = "../../src/list.rs"]
mod list;
pub use list::FixedVec;

use super::State;

/// An item: two fields of different widths, as a todo or a row has.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Entry {
    pub key: u32,
    pub value: i32,
}

/// The list's capacity in the corpus state.
pub const ENTRIES: usize = 12;

macro_rules! st {
    ($p:expr) => {
        // SAFETY: callers pass a valid, exclusive pointer to a State.
        unsafe { &mut *$p }
    };
}

/// A checksum of the list's items in use, so a result shows them all.
fn checksum(list: &FixedVec<Entry, ENTRIES>) -> i64 {
    list.iter().fold(list.len() as i64, |h, e| {
        h.rotate_left(7) ^ ((e.key as i64) << 32 | e.value as u32 as i64)
    })
}

#[no_mangle]
pub extern "C" fn list_push(s: *mut State, key: u32, value: i32) -> bool {
    st!(s).entries.push(Entry { key, value })
}

#[no_mangle]
pub extern "C" fn list_insert(s: *mut State, at: u32, key: u32) -> bool {
    let list = &mut st!(s).entries;
    let at = at as usize % (list.len() + 1);
    list.insert(
        at,
        Entry {
            key,
            value: -(key as i32),
        },
    )
}

#[no_mangle]
pub extern "C" fn list_remove(s: *mut State, at: u32) -> i64 {
    let list = &mut st!(s).entries;
    match list.len() {
        0 => -1,
        n => list.remove(at as usize % n).key as i64,
    }
}

#[no_mangle]
pub extern "C" fn list_pop_and_truncate(s: *mut State, len: u32) -> i64 {
    let list = &mut st!(s).entries;
    let popped = list.pop().map_or(-1, |e| e.value as i64);
    list.truncate(len as usize % (ENTRIES + 2));
    popped ^ checksum(list)
}

#[no_mangle]
pub extern "C" fn list_retain(s: *mut State, below: i32) -> i64 {
    let list = &mut st!(s).entries;
    list.retain(|e| e.value < below);
    checksum(list)
}

#[no_mangle]
pub extern "C" fn list_sort(s: *mut State) -> i64 {
    // a stable sort (by key mod 16, then by value falling: equal pairs keep
    // their order), then the slice's own binary search
    let list = &mut st!(s).entries;
    list.sort_by(|a, b| (a.key % 16).cmp(&(b.key % 16)).then(b.value.cmp(&a.value)));
    let found = list.binary_search_by(|e| (e.key % 16).cmp(&7)).is_ok();
    checksum(list) ^ found as i64
}

#[no_mangle]
pub extern "C" fn list_extend_and_clear(s: *mut State, n: u32) -> i64 {
    let list = &mut st!(s).entries;
    let more: Vec<Entry> = (0..n % 8)
        .map(|i| Entry {
            key: i,
            value: i as i32 * 3,
        })
        .collect();
    let all = list.extend_from_slice(&more);
    let sum = checksum(list) ^ all as i64;
    if n.is_multiple_of(5) {
        list.clear();
    }
    sum
}

#[no_mangle]
pub extern "C" fn list_sum_values(s: *mut State) -> i64 {
    // iteration through the slice the list derefs to
    st!(s).entries.iter().map(|e| e.value as i64).sum()
}
