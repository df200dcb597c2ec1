//! The built-in demo app's callbacks: a counter with a clamped step. They are
//! `#[no_mangle] extern "C"` so the binary's own symbol table names them and
//! `make run` can transpile them from the running executable.

/// The demo's state: plain old data, the same bytes natively and in wasm.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DemoState {
    /// The counter shown on the page.
    pub counter: i64,
    /// How much Add step adds.
    pub step: i32,
    /// Padding made explicit, so the struct has no hidden bytes.
    pub reserved: i32,
}

/// Adds one to the counter.
///
/// # Safety
/// `state` must point to a valid, exclusively borrowed `DemoState`.
#[no_mangle]
pub unsafe extern "C" fn increment_counter(state: *mut DemoState) {
    // SAFETY: the caller guarantees a valid exclusive pointer.
    let s = unsafe { &mut *state };
    s.counter = s.counter.wrapping_add(1);
}

/// Subtracts one from the counter.
///
/// # Safety
/// `state` must point to a valid, exclusively borrowed `DemoState`.
#[no_mangle]
pub unsafe extern "C" fn decrement_counter(state: *mut DemoState) {
    // SAFETY: the caller guarantees a valid exclusive pointer.
    let s = unsafe { &mut *state };
    s.counter = s.counter.wrapping_sub(1);
}

/// Sets the counter to zero.
///
/// # Safety
/// `state` must point to a valid, exclusively borrowed `DemoState`.
#[no_mangle]
pub unsafe extern "C" fn reset_counter(state: *mut DemoState) {
    // SAFETY: the caller guarantees a valid exclusive pointer.
    unsafe { (*state).counter = 0 };
}

/// Adds the step, clamped to `[lo, hi]`; returns the new counter.
///
/// # Safety
/// `state` must point to a valid, exclusively borrowed `DemoState`.
#[no_mangle]
pub unsafe extern "C" fn add_step_clamped(state: *mut DemoState, lo: i32, hi: i32) -> i64 {
    // SAFETY: the caller guarantees a valid exclusive pointer.
    let s = unsafe { &mut *state };
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    s.counter = s
        .counter
        .saturating_add(s.step as i64)
        .clamp(lo as i64, hi as i64);
    s.counter
}

/// The signatures of the demo callbacks, as `x64wasm transpile --export` takes them.
#[allow(dead_code)] // documentation of the exports `make run` uses
pub const DEMO_EXPORTS: [&str; 4] = [
    "increment_counter(ptr)->void",
    "decrement_counter(ptr)->void",
    "reset_counter(ptr)->void",
    "add_step_clamped(ptr,i32,i32)->i64",
];

/// Keeps the callbacks in the binary (an executable drops unreferenced code).
pub fn demo_callbacks() -> [usize; 4] {
    [
        increment_counter as *const () as usize,
        decrement_counter as *const () as usize,
        reset_counter as *const () as usize,
        add_step_clamped as *const () as usize,
    ]
}
