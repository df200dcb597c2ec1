//! Callbacks of the kind UI apps have, compiled with release optimisation and used
//! to prove the transpiler: each one is run natively and as transpiled wasm on the
//! same inputs, and the return value and the state bytes must agree.
//!
//! Every callback is `#[no_mangle] pub extern "C"`, takes the state by pointer
//! first, and is listed in [`CALLBACKS`] with its signature in the transpiler's
//! `NAME(T,...)->R` syntax. The float callbacks exercise scalar SSE math and
//! libm rounding; `heap_fmt.rs` allocates, formats and calls through trait
//! objects, as ordinary Rust does.

#![allow(clippy::missing_safety_doc)]
// Callbacks take the state by raw pointer: that is the ABI the transpiler
// serves (`extern "C" fn(*mut State, ...)`), as a UI app's callbacks do.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod heap_fmt;
mod lists;
pub use heap_fmt::*;
pub use lists::*;

/// The state every callback works on: plain old data, no padding, no pointers.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct State {
    pub counter: i64,
    pub step: i32,
    pub small: i16,
    pub tiny: i8,
    pub flag: u8,
    pub seed: u64,
    pub words: [u32; 16],
    pub bytes: [u8; 32],
    pub list: [i32; 24],
    pub board: [u8; 256],
    pub history: [i64; 8],
    pub wide: [u64; 4],
    pub pos: [f32; 4],
    pub vel: [f32; 4],
    pub temps: [f64; 4],
    pub samples: [f32; 64],
    pub entries: FixedVec<Entry, ENTRIES>,
}

/// The size of [`State`] in bytes (what the tests copy into linear memory).
pub const STATE_SIZE: usize = core::mem::size_of::<State>();

impl State {
    /// A state filled from a seed, so every field has varied, reproducible bits.
    pub fn from_seed(seed: u64) -> State {
        let mut bytes = [0u8; STATE_SIZE];
        let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
        for b in bytes.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = (x >> 24) as u8;
        }
        // lists of every length, and a quarter with a length past the
        // capacity (read as full), rather than almost all past it
        if !seed.is_multiple_of(4) {
            let at = core::mem::offset_of!(State, entries);
            bytes[at..at + 4].copy_from_slice(&(seed as u32 % 14).to_le_bytes());
        }
        // SAFETY: State is repr(C) with only integer and float fields and no
        // padding, so every bit pattern of its size is a valid value.
        unsafe { core::mem::transmute::<[u8; STATE_SIZE], State>(bytes) }
    }

    /// The raw bytes of the state.
    pub fn as_bytes(&self) -> &[u8; STATE_SIZE] {
        // SAFETY: see from_seed; State has no padding.
        unsafe { &*(self as *const State as *const [u8; STATE_SIZE]) }
    }
}

macro_rules! st {
    ($p:expr) => {
        // SAFETY: callers pass a valid, exclusive pointer to a State.
        unsafe { &mut *$p }
    };
}

// ---------------------------------------------------------------- counters

#[no_mangle]
pub extern "C" fn increment_counter(s: *mut State) {
    st!(s).counter = st!(s).counter.wrapping_add(1);
}

#[no_mangle]
pub extern "C" fn decrement_counter(s: *mut State) {
    st!(s).counter = st!(s).counter.wrapping_sub(1);
}

#[no_mangle]
pub extern "C" fn reset_counter(s: *mut State) {
    st!(s).counter = 0;
}

#[no_mangle]
pub extern "C" fn add_step_clamped(s: *mut State, lo: i32, hi: i32) -> i64 {
    let s = st!(s);
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    s.counter = s
        .counter
        .saturating_add(s.step as i64)
        .clamp(lo as i64, hi as i64);
    s.counter
}

#[no_mangle]
pub extern "C" fn set_step(s: *mut State, step: i32) -> i32 {
    let s = st!(s);
    s.step = step.clamp(-100, 100);
    s.step
}

#[no_mangle]
pub extern "C" fn counter_is_even(s: *mut State) -> bool {
    st!(s).counter % 2 == 0
}

// ------------------------------------------------------- saturating & wrapping

#[no_mangle]
pub extern "C" fn saturating_i8(s: *mut State, d: i8) -> i8 {
    let s = st!(s);
    s.tiny = s.tiny.saturating_add(d);
    s.tiny
}

#[no_mangle]
pub extern "C" fn saturating_u8(s: *mut State, d: u8) -> u8 {
    let s = st!(s);
    s.flag = s.flag.saturating_sub(d);
    s.flag
}

#[no_mangle]
pub extern "C" fn wrapping_i16(s: *mut State, d: i16) -> i16 {
    let s = st!(s);
    s.small = s.small.wrapping_mul(d).wrapping_add(3);
    s.small
}

#[no_mangle]
pub extern "C" fn saturating_u16(a: u16, b: u16) -> u16 {
    a.saturating_add(b).saturating_mul(3)
}

#[no_mangle]
pub extern "C" fn saturating_i32(a: i32, b: i32) -> i32 {
    a.saturating_mul(b).saturating_sub(a)
}

#[no_mangle]
pub extern "C" fn saturating_u64(a: u64, b: u64) -> u64 {
    a.saturating_mul(b).saturating_add(b)
}

#[no_mangle]
pub extern "C" fn checked_add_or(a: i64, b: i64) -> i64 {
    a.checked_add(b).unwrap_or(-1)
}

#[no_mangle]
pub extern "C" fn overflowing_u32(a: u32, b: u32) -> u32 {
    let (v, o) = a.overflowing_sub(b);
    v ^ (o as u32)
}

// ---------------------------------------------------------------- division

#[no_mangle]
pub extern "C" fn div_by_constants(a: i64) -> i64 {
    a / 7 + a / 10 - a % 3 + (a as u64 / 1000) as i64
}

#[no_mangle]
pub extern "C" fn div_u32_constants(a: u32) -> u32 {
    a / 3 + a / 60 + a % 17 + a / 1024
}

#[no_mangle]
pub extern "C" fn div_i8(a: i8, b: i8) -> i8 {
    if b == 0 || (a == i8::MIN && b == -1) {
        0
    } else {
        a / b + a % b
    }
}

#[no_mangle]
pub extern "C" fn div_variables(s: *mut State, d: i64) -> i64 {
    let s = st!(s);
    if d == 0 {
        return 0;
    }
    s.counter
        .wrapping_div(d)
        .wrapping_add(s.counter.wrapping_rem(d))
}

#[no_mangle]
pub extern "C" fn div_unsigned(a: u64, b: u64) -> u64 {
    a.checked_div(b).unwrap_or(u64::MAX) ^ a.checked_rem(b).unwrap_or(7)
}

#[no_mangle]
pub extern "C" fn gcd(a: u64, b: u64) -> u64 {
    let (mut a, mut b) = (a, b);
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

#[no_mangle]
pub extern "C" fn mul_u128_high(a: u64, b: u64) -> u64 {
    ((a as u128 * b as u128) >> 64) as u64
}

#[no_mangle]
pub extern "C" fn mul_i128_mix(a: i64, b: i64) -> i64 {
    let p = a as i128 * b as i128;
    (p >> 64) as i64 ^ p as i64
}

#[no_mangle]
pub extern "C" fn div_u128(s: *mut State, d: u64) -> u64 {
    let s = st!(s);
    let n = ((s.wide[0] as u128) << 64) | s.wide[1] as u128;
    let d = (d as u128) | 1;
    let q = n / d;
    s.wide[2] = q as u64;
    s.wide[3] = (q >> 64) as u64;
    (n % d) as u64
}

#[no_mangle]
pub extern "C" fn div_i128(a: i64, b: i64) -> i64 {
    let n = (a as i128) << 40;
    let d = (b as i128) | 1;
    (n / d) as i64 ^ (n % d) as i64
}

// ------------------------------------------------------- shifts and bit tricks

#[no_mangle]
pub extern "C" fn shifts(a: u64, n: u32) -> u64 {
    (a << (n & 63)) ^ (a >> ((n + 7) & 63)) ^ ((a as i64 >> (n % 64)) as u64)
}

#[no_mangle]
pub extern "C" fn shifts_i16(a: i16, n: u8) -> i16 {
    a.wrapping_shl(n as u32) ^ a.wrapping_shr(n as u32 + 1)
}

#[no_mangle]
pub extern "C" fn rotates(a: u32, n: u32) -> u32 {
    a.rotate_left(n) ^ a.rotate_right(n / 2) ^ (a as u8).rotate_left(3) as u32
}

#[no_mangle]
pub extern "C" fn rotate_u64(a: u64, n: u32) -> u64 {
    a.rotate_right(n) ^ a.rotate_left(17)
}

#[no_mangle]
pub extern "C" fn bit_counts(a: u64) -> u32 {
    a.count_ones() * 3 + a.leading_zeros() * 5 + a.trailing_zeros() * 7
}

#[no_mangle]
pub extern "C" fn bit_counts_u16(a: u16) -> u32 {
    a.leading_zeros() + a.trailing_ones() * 2 + a.count_zeros() * 4
}

#[no_mangle]
pub extern "C" fn swap_bytes(a: u64, b: u32) -> u64 {
    a.swap_bytes() ^ b.swap_bytes() as u64 ^ (b as u16).swap_bytes() as u64
}

#[no_mangle]
pub extern "C" fn next_power_of_two(a: u32) -> u32 {
    (a & 0x7fff_ffff).next_power_of_two()
}

#[no_mangle]
pub extern "C" fn toggle_bit(s: *mut State, bit: u32) -> u32 {
    let s = st!(s);
    let i = (bit as usize / 32) % 16;
    s.words[i] ^= 1 << (bit % 32);
    s.words[i]
}

#[no_mangle]
pub extern "C" fn is_power_of_two(a: u64) -> bool {
    a.is_power_of_two()
}

#[no_mangle]
pub extern "C" fn abs_diff(a: i32, b: i32) -> u32 {
    a.abs_diff(b)
}

#[no_mangle]
pub extern "C" fn signum_mix(a: i64, b: i16) -> i64 {
    a.signum() * 100 + b.signum() as i64 * 10 + (a.unsigned_abs() % 9) as i64
}

// ----------------------------------------------------------- match with arms

#[no_mangle]
pub extern "C" fn match_dense(op: u32, a: i64, b: i64) -> i64 {
    match op {
        0 => a + b,
        1 => a - b,
        2 => a.wrapping_mul(b),
        3 => a & b,
        4 => a | b,
        5 => a ^ b,
        6 => a << (b & 63),
        7 => a >> (b & 63),
        8 => !a,
        9 => -a,
        10 => a.min(b),
        11 => a.max(b),
        _ => 0,
    }
}

#[no_mangle]
pub extern "C" fn match_sparse(key: u32) -> u32 {
    match key {
        1 => 10,
        7 => 70,
        100 => 3,
        1000 => 4,
        65535 => 5,
        0x1234_5678 => 6,
        _ => key.wrapping_mul(3),
    }
}

#[no_mangle]
pub extern "C" fn match_lookup(day: u8) -> u8 {
    match day % 8 {
        0 => 31,
        1 => 28,
        2 => 31,
        3 => 30,
        4 => 31,
        5 => 30,
        6 => 31,
        _ => 0,
    }
}

#[no_mangle]
pub extern "C" fn apply_command(s: *mut State, cmd: u8, arg: i32) -> i64 {
    let s = st!(s);
    match cmd % 10 {
        0 => s.counter += 1,
        1 => s.counter -= 1,
        2 => s.counter = 0,
        3 => s.step = arg,
        4 => s.counter += s.step as i64,
        5 => s.counter *= 2,
        6 => s.flag = !s.flag,
        7 => s.tiny = s.tiny.wrapping_neg(),
        8 => s.small = s.small.rotate_left(arg as u32),
        _ => s.counter = arg as i64,
    }
    s.counter ^ s.flag as i64
}

// ------------------------------------------------------------ loops on state

#[no_mangle]
pub extern "C" fn sum_list(s: *mut State) -> i64 {
    st!(s).list.iter().map(|&x| x as i64).sum()
}

#[no_mangle]
pub extern "C" fn max_list(s: *mut State) -> i32 {
    *st!(s).list.iter().max().unwrap_or(&0)
}

#[no_mangle]
pub extern "C" fn count_above(s: *mut State, t: i32) -> u32 {
    st!(s).list.iter().filter(|&&x| x > t).count() as u32
}

#[no_mangle]
pub extern "C" fn sort_list(s: *mut State) {
    // Insertion sort written out: what a small UI list sort looks like.
    let l = &mut st!(s).list;
    for i in 1..l.len() {
        let mut j = i;
        while j > 0 && l[j - 1] > l[j] {
            l.swap(j - 1, j);
            j -= 1;
        }
    }
}

#[no_mangle]
pub extern "C" fn sort_unstable_bytes(s: *mut State) {
    st!(s).bytes.sort_unstable();
}

#[no_mangle]
pub extern "C" fn reverse_words(s: *mut State) {
    st!(s).words.reverse();
}

#[no_mangle]
pub extern "C" fn checksum_bytes(s: *mut State) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in st!(s).bytes.iter() {
        h = (h ^ b as u32).wrapping_mul(0x0100_0193);
    }
    h
}

#[no_mangle]
pub extern "C" fn find_byte(s: *mut State, needle: u8) -> i32 {
    match st!(s).bytes.iter().position(|&b| b == needle) {
        Some(i) => i as i32,
        None => -1,
    }
}

#[no_mangle]
pub extern "C" fn push_history(s: *mut State, v: i64) {
    let s = st!(s);
    s.history.copy_within(0..7, 1);
    s.history[0] = v;
}

#[no_mangle]
pub extern "C" fn copy_words_to_list(s: *mut State) {
    let s = st!(s);
    let mut tmp = [0i32; 16];
    for (t, w) in tmp.iter_mut().zip(s.words.iter()) {
        *t = *w as i32;
    }
    s.list[4..20].copy_from_slice(&tmp);
}

#[no_mangle]
pub extern "C" fn fill_board(s: *mut State, v: u8) {
    st!(s).board.fill(v);
}

#[no_mangle]
pub extern "C" fn clear_list(s: *mut State) {
    st!(s).list.fill(0);
}

#[no_mangle]
pub extern "C" fn bytes_equal_halves(s: *mut State) -> bool {
    let b = &st!(s).bytes;
    b[..16] == b[16..]
}

#[no_mangle]
pub extern "C" fn life_neighbours(s: *mut State, x: u32, y: u32) -> u32 {
    let b = &st!(s).board;
    let (x, y) = ((x % 16) as i32, (y % 16) as i32);
    let mut n = 0;
    for dy in -1..=1 {
        for dx in -1..=1 {
            if dx == 0 && dy == 0 {
                continue;
            }
            let (cx, cy) = ((x + dx).rem_euclid(16), (y + dy).rem_euclid(16));
            n += (b[(cy * 16 + cx) as usize] & 1) as u32;
        }
    }
    n
}

#[no_mangle]
pub extern "C" fn xorshift_next(s: *mut State) -> u64 {
    let s = st!(s);
    let mut x = s.seed | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s.seed = x;
    x
}

#[no_mangle]
pub extern "C" fn randomize_board(s: *mut State) {
    let s = st!(s);
    let mut x = s.seed | 1;
    for cell in s.board.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *cell = (x >> 61 == 0) as u8;
    }
    s.seed = x;
}

// ---------------------------------------------------- recursion and helpers

#[no_mangle]
pub extern "C" fn fib_recursive(n: u32) -> u64 {
    let n = n % 24;
    if n < 2 {
        n as u64
    } else {
        fib_recursive(n - 1).wrapping_add(fib_recursive(n - 2))
    }
}

#[no_mangle]
pub extern "C" fn fib_iterative(n: u32) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n % 4096 {
        let t = a.wrapping_add(b);
        a = b;
        b = t;
    }
    a
}

#[no_mangle]
pub extern "C" fn collatz_steps(n: u64) -> u32 {
    let mut n = n | 1;
    let mut steps = 0;
    while n != 1 && steps < 1000 {
        n = if n.is_multiple_of(2) {
            n / 2
        } else {
            n.wrapping_mul(3).wrapping_add(1)
        };
        steps += 1;
    }
    steps
}

#[inline(never)]
fn helper_mix(a: u64, b: u64) -> u64 {
    a.rotate_left(5) ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[inline(never)]
#[allow(clippy::too_many_arguments)] // eight arguments: two go on the stack
fn helper_many_args(a: u64, b: u32, c: u16, d: u8, e: i64, f: i32, g: i8, h: u64) -> u64 {
    a ^ b as u64 ^ c as u64 ^ d as u64 ^ e as u64 ^ f as u64 ^ g as u64 ^ h.rotate_left(7)
}

#[no_mangle]
pub extern "C" fn hash_state(s: *mut State) -> u64 {
    let s = st!(s);
    let mut h = 0;
    for &w in s.words.iter() {
        h = helper_mix(h, w as u64);
    }
    helper_mix(h, s.counter as u64)
}

#[no_mangle]
pub extern "C" fn call_many_args(a: u64, b: u32) -> u64 {
    let x = std::hint::black_box(a);
    helper_many_args(
        x,
        b,
        b as u16,
        x as u8,
        -(x as i64),
        b as i32,
        b as i8,
        x ^ 5,
    )
}

#[no_mangle]
pub extern "C" fn ackermann_small(m: u32, n: u32) -> u32 {
    fn ack(m: u32, n: u32, depth: u32) -> u32 {
        if depth > 200 {
            return 0;
        }
        match (m, n) {
            (0, n) => n + 1,
            (m, 0) => ack(m - 1, 1, depth + 1),
            (m, n) => ack(m - 1, ack(m, n - 1, depth + 1), depth + 1),
        }
    }
    ack(m % 3, n % 5, 0)
}

#[no_mangle]
pub extern "C" fn widths_mix(a: u8, b: i8, c: u16, d: i16, e: u32, f: i32) -> i64 {
    (a as i64) - (b as i64) * 3 + (c as i64) * 5 - (d as i64) + (e as i64 >> 3) + (f as i64) * 7
}

#[no_mangle]
pub extern "C" fn index_checked(s: *mut State, i: u32) -> i32 {
    let s = st!(s);
    s.list.get(i as usize).copied().unwrap_or(-7)
}

// ------------------------------------------------------- more shapes of code

#[no_mangle]
pub extern "C" fn pow_mix(base: u32, exp: u8) -> u64 {
    let e = (exp % 40) as u32;
    (base as u64).wrapping_pow(e) ^ (base as u64).checked_pow(e % 5).unwrap_or(17)
}

#[no_mangle]
pub extern "C" fn isqrt_u64(a: u64) -> u64 {
    a.isqrt() + (a as u32).isqrt() as u64
}

#[no_mangle]
pub extern "C" fn rem_euclid_mix(a: i32, b: i32) -> i32 {
    let b = if b == 0 || (a == i32::MIN && b == -1) {
        7
    } else {
        b
    };
    a.rem_euclid(b) + a.div_euclid(b)
}

#[no_mangle]
pub extern "C" fn u128_shifts(a: u64, b: u64, n: u8) -> u64 {
    let x = ((a as u128) << 64) | b as u128;
    let y = x.rotate_left(n as u32) ^ (x >> (n % 128)) ^ (x << (n % 100));
    (y >> 64) as u64 ^ y as u64
}

#[no_mangle]
pub extern "C" fn i128_arith(a: i64, b: i64) -> i64 {
    let x = (a as i128) * 1_000_003 - (b as i128) * 77;
    let y = x.wrapping_mul(b as i128 | 1) >> 3;
    (y as i64) ^ ((y >> 64) as i64) ^ (x.signum() as i64)
}

#[no_mangle]
pub extern "C" fn binary_search_list(s: *mut State, needle: i32) -> i32 {
    let s = st!(s);
    let mut sorted = s.list;
    sorted.sort_unstable();
    match sorted.binary_search(&needle) {
        Ok(i) => i as i32,
        Err(i) => -(i as i32) - 1,
    }
}

#[no_mangle]
pub extern "C" fn windows_max_sum(s: *mut State) -> i64 {
    st!(s)
        .list
        .windows(3)
        .map(|w| w.iter().map(|&x| x as i64).sum::<i64>())
        .max()
        .unwrap_or(0)
}

#[no_mangle]
pub extern "C" fn chunks_xor(s: *mut State) -> u32 {
    st!(s).bytes.chunks(4).fold(0u32, |acc, c| {
        acc.rotate_left(5) ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]])
    })
}

#[no_mangle]
pub extern "C" fn rotate_array(s: *mut State, n: u8) {
    let s = st!(s);
    s.words.rotate_left((n % 16) as usize);
    s.bytes.swap(0, 31);
}

#[no_mangle]
pub extern "C" fn rev_position(s: *mut State, t: u8) -> i32 {
    st!(s)
        .bytes
        .iter()
        .rposition(|&b| b < t)
        .map_or(-1, |i| i as i32)
}

/// A small enum decoded from a byte, as UI message handlers do.
#[derive(Clone, Copy)]
enum Msg {
    Add(i32),
    Mul(i32),
    Neg,
    Reset,
    Nothing,
}

fn decode_msg(code: u8, arg: i32) -> Msg {
    match code % 6 {
        0 => Msg::Add(arg),
        1 => Msg::Mul(arg % 100),
        2 => Msg::Neg,
        3 => Msg::Reset,
        _ => Msg::Nothing,
    }
}

#[no_mangle]
pub extern "C" fn handle_messages(s: *mut State, codes: u64, arg: i32) -> i64 {
    let s = st!(s);
    for i in 0..8 {
        s.counter = match decode_msg((codes >> (8 * i)) as u8, arg) {
            Msg::Add(a) => s.counter.wrapping_add(a as i64),
            Msg::Mul(m) => s.counter.wrapping_mul(m as i64),
            Msg::Neg => s.counter.wrapping_neg(),
            Msg::Reset => 0,
            Msg::Nothing => s.counter,
        };
    }
    s.counter
}

#[no_mangle]
pub extern "C" fn option_chain(s: *mut State, i: u32, j: u32) -> i32 {
    let s = st!(s);
    s.list
        .get(i as usize % 30)
        .zip(s.list.get(j as usize % 30))
        .and_then(|(a, b)| a.checked_add(*b))
        .and_then(|x| x.checked_mul(3))
        .unwrap_or(-1)
}

#[no_mangle]
pub extern "C" fn histogram(s: *mut State) -> u32 {
    let s = st!(s);
    let mut h = [0u8; 16];
    for &b in s.board.iter() {
        h[(b & 15) as usize] = h[(b & 15) as usize].wrapping_add(1);
    }
    s.bytes[..16].copy_from_slice(&h);
    h.iter()
        .enumerate()
        .map(|(i, &c)| i as u32 * c as u32)
        .sum()
}

#[no_mangle]
pub extern "C" fn life_step(s: *mut State) {
    // one Game of Life step on the 16x16 board, wrapping at the edges
    let s = st!(s);
    let old = s.board;
    for y in 0..16usize {
        for x in 0..16usize {
            let mut n = 0;
            for (dx, dy) in [
                (15, 15),
                (0, 15),
                (1, 15),
                (15, 0),
                (1, 0),
                (15, 1),
                (0, 1),
                (1, 1),
            ] {
                n += old[((y + dy) % 16) * 16 + (x + dx) % 16] & 1;
            }
            let alive = old[y * 16 + x] & 1 == 1;
            s.board[y * 16 + x] = (n == 3 || (alive && n == 2)) as u8;
        }
    }
}

#[no_mangle]
pub extern "C" fn saturating_cast_mix(a: i64) -> i32 {
    let x = i32::try_from(a).unwrap_or(if a < 0 { i32::MIN } else { i32::MAX });
    let y = u8::try_from(a & 0x1ff).unwrap_or(255);
    x.wrapping_add(y as i32)
}

// ----------------------------------------------- jump tables, unchecked

/// HTML-escaped length of the first `n % 32` bytes: a `match` on each char
/// in a loop, whose jump table's base LLVM loads once, before the loop.
#[no_mangle]
pub extern "C" fn escaped_length(s: *mut State, n: u8) -> u32 {
    let s = st!(s);
    let text = &s.bytes[..(n % 32) as usize];
    let mut length = 0u32;
    for &b in text {
        length += match b {
            b'&' => 5,
            b'<' | b'>' => 4,
            b'"' => 6,
            b'\'' => 5,
            b'#' => 7,
            b'%' => 9,
            0 => 3,
            _ => 1,
        };
    }
    length
}

/// An operation chosen by a tag the code never compares (as an enum's tag
/// loaded from memory is not): `% 7` and an unreachable default tell LLVM
/// its range, so the jump table has no bounds check, and a second table of
/// the same function follows the first in memory.
#[no_mangle]
pub extern "C" fn unchecked_tags(s: *mut State, k: u32) -> i64 {
    let s = st!(s);
    let first = s.bytes[0] % 7;
    let a = match first {
        0 => s.counter.wrapping_mul(3),
        1 => s.counter ^ 0x55,
        2 => s.counter.rotate_left(9),
        3 => s.counter.wrapping_sub(s.step as i64),
        4 => s.counter >> 3,
        5 => !s.counter,
        6 => s.counter.wrapping_add(77),
        // SAFETY: `% 7` leaves 0 to 6
        _ => unsafe { std::hint::unreachable_unchecked() },
    };
    let second = (k as u8 ^ s.bytes[1]) % 6;
    let b = match second {
        0 => a.wrapping_add(s.history[0]),
        1 => a ^ s.history[1],
        2 => a.wrapping_mul(s.history[2] | 1),
        3 => a.wrapping_sub(s.history[3]),
        4 => a.rotate_right(s.words[0] % 64),
        5 => a & s.history[5],
        // SAFETY: `% 6` leaves 0 to 5
        _ => unsafe { std::hint::unreachable_unchecked() },
    };
    s.counter = b;
    b
}

/// A state machine over the text's bytes: each arm sets the next state
/// from the byte (a constant, or `setae`/`add` arithmetic), and the next
/// turn's `match` jumps through a table with no bounds check in front of
/// it (`movzx; add -2; movsxd; jmp`): only the states that reach the jump
/// on every path bound it (the transpiler's `ranges.rs`).
#[no_mangle]
pub extern "C" fn state_machine(s: *mut State, n: u8) -> i64 {
    let s = st!(s);
    let text = &s.bytes[..(n % 32) as usize];
    let mut mode: u8 = 2;
    let mut acc = s.counter;
    for &b in text {
        match mode {
            2 => {
                acc = acc.wrapping_mul(3);
                mode = if b < 64 { 3 } else { 5 };
            }
            3 => {
                acc ^= (b as i64) << 3;
                mode = if b & 1 == 0 { 4 } else { 6 };
            }
            4 => {
                acc = acc.wrapping_mul(10).wrapping_add(b as i64);
                mode = if b > 200 { 7 } else { 2 };
            }
            5 => {
                acc = acc.rotate_left(7);
                mode = if b == b' ' { 3 } else { 6 };
            }
            6 => {
                acc = acc.wrapping_sub(b as i64 * 31);
                mode = if b % 3 == 0 { 2 } else { 4 };
            }
            7 => {
                acc ^= 0x5555;
                mode = 7;
            }
            // SAFETY: every arm sets `mode` to 2..=7
            _ => unsafe { std::hint::unreachable_unchecked() },
        }
    }
    s.counter = acc;
    acc
}

/// The features `is_x86_feature_detected!` finds, one bit each in
/// [`CPU_FEATURES`] order: natively this machine's, in wasm the CPU a
/// module claims to be (docs/abi.md). Not a callback: the two differ.
// (x86 only: the code-quality bench builds the corpus for wasm32 too)
#[cfg(target_arch = "x86_64")]
#[no_mangle]
pub extern "C" fn cpu_features() -> u32 {
    let found = [
        std::is_x86_feature_detected!("sse2"),
        std::is_x86_feature_detected!("popcnt"),
        std::is_x86_feature_detected!("lzcnt"),
        std::is_x86_feature_detected!("sse3"),
        std::is_x86_feature_detected!("ssse3"),
        std::is_x86_feature_detected!("sse4.1"),
        std::is_x86_feature_detected!("sse4.2"),
        std::is_x86_feature_detected!("avx"),
        std::is_x86_feature_detected!("avx2"),
        std::is_x86_feature_detected!("bmi1"),
        std::is_x86_feature_detected!("bmi2"),
        std::is_x86_feature_detected!("fma"),
    ];
    found
        .iter()
        .enumerate()
        .fold(0, |bits, (k, &on)| bits | (on as u32) << k)
}

/// The features [`cpu_features`] asks about, in its bit order.
pub const CPU_FEATURES: [&str; 12] = [
    "sse2", "popcnt", "lzcnt", "sse3", "ssse3", "sse4.1", "sse4.2", "avx", "avx2", "bmi1", "bmi2",
    "fma",
];

/// Which of [`CPU_FEATURES`] this crate was compiled for (`-C
/// target-cpu=x86-64-v3` turns most on): `is_x86_feature_detected!` says
/// yes to those without asking `cpuid`.
pub const COMPILED_FEATURES: [bool; 12] = [
    cfg!(target_feature = "sse2"),
    cfg!(target_feature = "popcnt"),
    cfg!(target_feature = "lzcnt"),
    cfg!(target_feature = "sse3"),
    cfg!(target_feature = "ssse3"),
    cfg!(target_feature = "sse4.1"),
    cfg!(target_feature = "sse4.2"),
    cfg!(target_feature = "avx"),
    cfg!(target_feature = "avx2"),
    cfg!(target_feature = "bmi1"),
    cfg!(target_feature = "bmi2"),
    cfg!(target_feature = "fma"),
];

// ------------------------------------------- data behind pointers, panics

/// A static table of `&str`: 12 (pointer, length) pairs in `.data.rel.ro`,
/// each pointing at its text.
static MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "June", "July", "Aug", "Sept", "Oct", "Nov", "Dec",
];

/// A static table of slices of different lengths.
static ROWS: [&[u32]; 4] = [&[1, 2, 3], &[40, 50], &[600], &[7000, 8000, 9000, 10000]];

/// The input that would take the panicking paths below: random and edge
/// inputs never are it, so the native code never panics in the tests,
/// while the compiler cannot leave the panic calls out.
const NEVER: u64 = 0x5eed_dead_beef_f00d;

#[no_mangle]
pub extern "C" fn month_label(s: *mut State, m: i32) -> i32 {
    let s = st!(s);
    let name = MONTHS[m.rem_euclid(12) as usize];
    s.bytes[..name.len()].copy_from_slice(name.as_bytes());
    s.bytes[31] = name.len() as u8;
    name.len() as i32
}

/// A `match` that picks a `&str`: LLVM makes it a table of 32-bit offsets
/// from the table to each string (no relocations), whose strings the
/// module must place all the same.
#[no_mangle]
pub extern "C" fn op_name(s: *mut State, k: u8) -> u32 {
    let s = st!(s);
    let name = match k % 7 {
        0 => "t",
        1 => "attribute",
        2 => "remove",
        3 => "Replace",
        4 => "insert it",
        5 => "delete",
        _ => "move a child",
    };
    s.bytes[..name.len()].copy_from_slice(name.as_bytes());
    name.len() as u32
}

#[no_mangle]
pub extern "C" fn sum_row(s: *mut State, r: u32) -> u32 {
    let s = st!(s);
    let row = ROWS[r as usize % ROWS.len()];
    let total = row.iter().fold(0u32, |a, &x| a.wrapping_add(x));
    s.words[0] = row.len() as u32;
    total
}

#[no_mangle]
pub extern "C" fn month_prefix(s: *mut State, m: u32, k: u64) -> u32 {
    // `&str` slicing checks the char boundary (str::slice_error_fail), and
    // the byte slice its range (slice_index_fail): both never fail here.
    let s = st!(s);
    let name = MONTHS[m as usize % 12];
    let k = (k % 8) as usize + if k == NEVER { 9 } else { 0 };
    let prefix = &name[..k.min(name.len()) + if k > 8 { 1 } else { 0 }];
    let end = prefix.len() + if k == NEVER as usize { 40 } else { 0 };
    s.bytes[8..8 + end].copy_from_slice(prefix.as_bytes());
    prefix.len() as u32
}

#[no_mangle]
pub extern "C" fn checked_ratio(s: *mut State, a: i64, b: u64) -> i64 {
    // expect() and unwrap() calls whose failure paths share one `ud2`.
    let s = st!(s);
    // (positive and odd: `i64::MIN / -1` would overflow for an edge input)
    let d = ((b >> 1) | 1).wrapping_add(if b == NEVER { u64::MAX } else { 0 }) as i64;
    let q = a.checked_div(d).expect("never zero");
    let m = (s.step as i64)
        .checked_add(if b == NEVER { i64::MAX } else { 1 })
        .unwrap();
    s.counter = q.wrapping_add(m);
    s.counter
}

#[no_mangle]
pub extern "C" fn quadrant_op(s: *mut State, k: i32) -> i64 {
    // match on k.rem_euclid(4): the jump table's bound is an `and` with 3.
    let s = st!(s);
    s.counter = match k.rem_euclid(4) {
        0 => s.counter.wrapping_mul(3).wrapping_add(s.step as i64),
        1 => s.counter.rotate_left(7) ^ 0x55,
        2 => (s.counter >> 3).wrapping_sub(s.small as i64 * 11),
        _ => s.counter.wrapping_neg().wrapping_add(k as i64) | 1,
    };
    s.history[k.rem_euclid(8) as usize] = s.counter;
    s.counter
}

#[no_mangle]
pub extern "C" fn copy_overlapping(s: *mut State, from: u8, to: u8, n: u8) -> u32 {
    // copy_within is memmove; a loop that reads what it wrote is not.
    let s = st!(s);
    let (from, to, n) = ((from % 16) as usize, (to % 16) as usize, (n % 16) as usize);
    s.bytes.copy_within(from..from + n, to);
    for i in 0..n {
        s.board[to + i] = s.board[from + i];
    }
    s.bytes
        .iter()
        .chain(&s.board[..32])
        .fold(0u32, |h, &b| h.rotate_left(5) ^ b as u32)
}

// ------------------------------------------------- deep and tail recursion

/// Mutual recursion the compiler turns into tail jumps (`jmp is_odd`):
/// natively it runs in constant stack at any depth.
#[inline(never)]
fn is_even(n: u32) -> bool {
    if n == 0 {
        true
    } else {
        is_odd(n - 1)
    }
}

#[inline(never)]
fn is_odd(n: u32) -> bool {
    if n == 0 {
        false
    } else {
        is_even(n - 1)
    }
}

#[no_mangle]
pub extern "C" fn parity_by_recursion(n: u32) -> u32 {
    is_even(n % 100_000) as u32
}

/// Plain recursion no compiler turns into a loop (the result of the call
/// is rotated before it is combined): one x86 frame per level.
#[inline(never)]
fn mix_down(n: u32) -> u64 {
    if n == 0 {
        0x9e37_79b9
    } else {
        mix_down(n - 1).rotate_left(7) ^ n as u64
    }
}

#[no_mangle]
pub extern "C" fn recursion_depth(n: u32) -> u64 {
    mix_down(n % 5_000)
}

#[no_mangle]
pub extern "C" fn gcd_recursive(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd_recursive(b, a % b)
    }
}

// Not callbacks of the corpus (their depth is unbounded, or their frame is
// larger than a test thread's stack): the engine and stack tests call them.

/// [`is_even`] of any `n`: tail jumps all the way down.
#[no_mangle]
pub extern "C" fn parity_to(n: u32) -> u32 {
    is_even(n) as u32
}

/// [`mix_down`] of any `n`: `n` frames deep.
#[no_mangle]
pub extern "C" fn mix_down_to(n: u32) -> u64 {
    mix_down(n)
}

/// A 1,050,000-byte array on the stack (more than the 1 MiB the module's
/// stack once had), filled and hashed.
#[no_mangle]
pub extern "C" fn stack_array_hash(seed: u8) -> u64 {
    let mut a = [0u8; 1_050_000];
    for (i, b) in a.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(seed | 1);
    }
    core::hint::black_box(&mut a);
    a.iter()
        .step_by(997)
        .fold(0u64, |h, &b| h.rotate_left(5) ^ b as u64)
}

/// A 9 MiB array on the stack: more than the 8 MiB stack holds.
#[no_mangle]
pub extern "C" fn stack_array_too_big(seed: u8) -> u64 {
    let mut a = [0u8; 9 << 20];
    a[0] = seed;
    core::hint::black_box(&mut a);
    a[0] as u64 + a[(9 << 20) - 1] as u64
}

/// Not a callback of the corpus: it writes a static variable, so each wasm
/// instance counts on its own copy (`Module::variables` reports it).
#[no_mangle]
pub extern "C" fn count_calls(step: u32) -> u32 {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    CALLS.fetch_add(step, std::sync::atomic::Ordering::Relaxed) + step
}

// ------------------------------------------------------------------ floats

#[no_mangle]
pub extern "C" fn celsius_to_fahrenheit(c: f64) -> f64 {
    c * 9.0 / 5.0 + 32.0
}

// Results left untouched in xmm0: the function returns its first float
// argument without writing the register (a bare `ret` at the end), so the
// value must come from the register's entry value.

#[no_mangle]
pub extern "C" fn float_identity(x: f64) -> f64 {
    x
}

#[no_mangle]
pub extern "C" fn float_identity_f32(x: f32) -> f32 {
    x
}

#[no_mangle]
pub extern "C" fn store_then_float(s: *mut State, n: i32, a: f64) -> f64 {
    if n > 5 {
        st!(s).step = n;
    }
    a
}

#[no_mangle]
pub extern "C" fn count_then_float_f32(s: *mut State, x: f32) -> f32 {
    // a `lock inc` of the counter, then the argument as it came
    let counter: *mut i64 = &mut st!(s).counter;
    // SAFETY: the state is exclusively ours and `counter` is aligned to 8.
    unsafe { std::sync::atomic::AtomicI64::from_ptr(counter) }
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    x
}

#[no_mangle]
pub extern "C" fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

#[no_mangle]
pub extern "C" fn physics_step(s: *mut State, dt: f32) {
    let s = st!(s);
    for i in 0..4 {
        s.vel[i] -= 9.81 * dt;
        s.pos[i] += s.vel[i] * dt;
        if s.pos[i] < 0.0 {
            s.pos[i] = -s.pos[i];
            s.vel[i] = -s.vel[i] * 0.9;
        }
    }
}

#[no_mangle]
pub extern "C" fn saturating_float_casts(x: f64) -> i64 {
    (x as i32) as i64
        ^ (((x as u8) as i64) << 40)
        ^ (x as i64).rotate_left(7)
        ^ ((x as f32) as i16) as i64
}

#[no_mangle]
pub extern "C" fn ints_to_float(a: i64, b: u32, c: i8) -> f64 {
    a as f64 * 0.5 + b as f64 - c as f64 + (a as f32) as f64
}

#[no_mangle]
pub extern "C" fn clamp_f64(x: f64, lo: f64, hi: f64) -> f64 {
    x.max(lo).min(hi)
}

/// A fused multiply-add, rounded once: `vfmadd` in a build for x86-64-v3,
/// the library's `fma` at the baseline (compiler-builtins', which picks
/// FMA3, AMD's FMA4 or software by `cpuid`). Not in [`CALLBACKS`]: the
/// baseline's is refused (`tests/corpus.rs` says why).
#[no_mangle]
pub extern "C" fn fused_mul_add(a: f64, b: f64, c: f64) -> f64 {
    a.mul_add(b, c)
}

#[no_mangle]
pub extern "C" fn fused_mul_add_f32(a: f32, b: f32, c: f32) -> f32 {
    a.mul_add(b, c) + b.mul_add(c, -a)
}

#[no_mangle]
pub extern "C" fn hypot_sqrt(a: f64, b: f32) -> f64 {
    (a * a + (b * b) as f64).sqrt() + (b.abs()).sqrt() as f64
}

/// Calls into libm through the PLT (`sin`, `exp`, `pow`, `hypot`, `log`,
/// `sinf`, `expf`): in wasm, libm's own code for this CPU (`link.rs`).
#[no_mangle]
pub extern "C" fn libm_calls(a: f64, b: f32) -> f64 {
    let x = a.sin() + (a / 64.0).exp() - a.abs().powf(0.75) + a.hypot(b as f64);
    x + (a.abs() + 1.0).ln() + (b.sin() * b.exp()) as f64
}

#[no_mangle]
pub extern "C" fn rounding_mix(x: f64) -> f64 {
    x.floor() + x.ceil() * 2.0 + x.round() * 4.0 + x.trunc() * 8.0
}

#[no_mangle]
pub extern "C" fn rounding_mix_f32(x: f32) -> f32 {
    x.round() - x.floor() * 0.5 + x.ceil() - x.trunc()
}

#[no_mangle]
pub extern "C" fn average_temps(s: *mut State) -> f64 {
    let s = st!(s);
    let mut sum = 0.0;
    for t in s.temps {
        sum += t;
    }
    s.temps[0] = sum / 4.0;
    s.temps[0]
}

#[no_mangle]
pub extern "C" fn float_compare_mix(a: f64, b: f64) -> u32 {
    (a < b) as u32
        | ((a <= b) as u32) << 1
        | ((a == b) as u32) << 2
        | ((a > b) as u32) << 3
        | ((a != b) as u32) << 4
        | ((a.is_nan()) as u32) << 5
        | ((a.total_cmp(&b) as i8 as u8 as u32) << 8)
}

#[no_mangle]
pub extern "C" fn scale_samples(s: *mut State, k: f32) {
    // an auto-vectorised float loop (mulps/addps)
    for x in st!(s).samples.iter_mut() {
        *x = *x * k + 0.5;
    }
}

#[no_mangle]
#[allow(clippy::manual_clamp)] // max/min, not clamp: a NaN becomes -1000 here
pub extern "C" fn mix_samples(s: *mut State, t: f32) -> f32 {
    let s = st!(s);
    let mut acc = 0.0f32;
    for i in 0..64 {
        let v = s.samples[i] * (1.0 - t) + s.pos[i % 4] * t;
        s.samples[i] = v.max(-1000.0).min(1000.0);
        acc += s.samples[i];
    }
    acc
}

#[no_mangle]
pub extern "C" fn scale_temps(s: *mut State, k: f64) -> f64 {
    let s = st!(s);
    for t in s.temps.iter_mut() {
        *t = *t * k - 1.0;
    }
    s.temps[1]
}

#[inline(never)]
fn tail_helper(a: u64, b: u64) -> u64 {
    a.rotate_left(b as u32 & 63)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ b
}

#[no_mangle]
pub extern "C" fn conditional_tail_call(a: u64, b: u64) -> u64 {
    // LLVM turns this into `cmp; ja tail_helper` (a conditional tail call)
    if a > b {
        return tail_helper(a, b);
    }
    a ^ b
}

extern "C" {
    fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32;
    fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32;
    fn fmin(a: f64, b: f64) -> f64;
    fn fmax(a: f64, b: f64) -> f64;
    fn fminf(a: f32, b: f32) -> f32;
    fn fmaxf(a: f32, b: f32) -> f32;
    fn sqrt(x: f64) -> f64;
    fn sqrtf(x: f32) -> f32;
}

/// The module's `memcmp` and `bcmp` against glibc's, called through opaque
/// pointers: `n % 64` bytes of the board from `at`, against a copy with one
/// byte changed at `flip`'s place in the run (or none, `flip` >= 128), so
/// that runs are equal for 0 to 63 bytes before they differ. The result
/// packs memcmp's difference and whether bcmp saw one.
#[no_mangle]
pub extern "C" fn c_memcmp(s: *mut State, at: u8, n: u8, flip: u8) -> i32 {
    let s = st!(s);
    let (at, n) = (at as usize % 64, (n % 64) as usize);
    let mut copy = s.board;
    if flip < 128 {
        copy[at + flip as usize % (n + 1)] ^= 1 + (flip & 0x3f);
    }
    let f =
        std::hint::black_box(memcmp as unsafe extern "C" fn(*const u8, *const u8, usize) -> i32);
    let g = std::hint::black_box(bcmp as unsafe extern "C" fn(*const u8, *const u8, usize) -> i32);
    // SAFETY: both runs lie inside the 256-byte arrays (at + n < 128).
    let (order, differs) = unsafe {
        (
            f(s.board.as_ptr().add(at), copy.as_ptr().add(at), n),
            g(s.board.as_ptr().add(at), copy.as_ptr().add(at), n) != 0,
        )
    };
    order.wrapping_mul(2) | differs as i32
}

// Called through an opaque pointer: LLVM would otherwise inline fmin as its
// own minnum sequence, and the module's fmin would go untested.
#[no_mangle]
pub extern "C" fn c_fmin(a: f64, b: f64) -> f64 {
    let f = std::hint::black_box(fmin as unsafe extern "C" fn(f64, f64) -> f64);
    // SAFETY: libm's fmin is a pure function.
    unsafe { f(a, b) }
}

#[no_mangle]
pub extern "C" fn c_fmax_f32(a: f32, b: f32) -> f32 {
    let f = std::hint::black_box(fmaxf as unsafe extern "C" fn(f32, f32) -> f32);
    // SAFETY: libm's fmaxf is a pure function.
    unsafe { f(a, b) }
}

#[no_mangle]
pub extern "C" fn libm_mix(a: f64, b: f32) -> f64 {
    // SAFETY: pure libm functions.
    unsafe { fmax(a, 0.5) + sqrt(a) * 2.0 + (fminf(b, 1.5) + sqrtf(b)) as f64 }
}

/// One callback of the corpus: its name, its signature in the transpiler's
/// syntax, and a native entry that takes the arguments as u64 (the test casts).
pub struct Callback {
    /// The exported symbol name.
    pub name: &'static str,
    /// `NAME(T,...)->R` as `x64wasm transpile --export` takes it.
    pub signature: &'static str,
    /// Runs the callback natively on a state and arguments given as u64 bits,
    /// returning the result as u64 bits (zero for void).
    pub native: fn(*mut State, &[u64]) -> u64,
}

macro_rules! callbacks {
    ($( $name:ident ( $($arg:ident : $t:ty),* ) $(-> $r:ty)? = $sig:literal ;)*) => {
        /// Every callback of the corpus.
        pub const CALLBACKS: &[Callback] = &[
            $(Callback {
                name: stringify!($name),
                signature: $sig,
                native: |_s, _a| {
                    let mut _i = 0;
                    $( let $arg: $t = cast_arg(_s, _a, &mut _i); )*
                    #[allow(clippy::unit_arg, clippy::let_unit_value)]
                    let r = $name($($arg),*);
                    ret_bits(r)
                },
            },)*
        ];
    };
}

/// Argument conversion from the tests' u64 bits.
pub trait FromBits {
    fn from_bits(s: *mut State, bits: u64) -> Self;
}
macro_rules! from_bits_int {
    ($($t:ty),*) => {$(impl FromBits for $t { fn from_bits(_: *mut State, b: u64) -> Self { b as $t } })*};
}
from_bits_int!(u8, i8, u16, i16, u32, i32, u64, i64);
impl FromBits for f32 {
    fn from_bits(_: *mut State, b: u64) -> Self {
        f32::from_bits(b as u32)
    }
}
impl FromBits for f64 {
    fn from_bits(_: *mut State, b: u64) -> Self {
        f64::from_bits(b)
    }
}
impl FromBits for *mut State {
    fn from_bits(s: *mut State, _: u64) -> Self {
        s
    }
}

fn cast_arg<T: FromBits>(s: *mut State, args: &[u64], i: &mut usize) -> T {
    let v = T::from_bits(s, args.get(*i).copied().unwrap_or(0));
    *i += 1;
    v
}

/// Result conversion to u64 bits, sign- or zero-extended as the type says.
pub trait RetBits {
    fn bits(self) -> u64;
}
macro_rules! ret_bits_int {
    ($($t:ty),*) => {$(impl RetBits for $t { fn bits(self) -> u64 { self as i64 as u64 } })*};
}
ret_bits_int!(u8, i8, u16, i16, u32, i32, u64, i64);
impl RetBits for f32 {
    fn bits(self) -> u64 {
        self.to_bits() as u64
    }
}
impl RetBits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}
impl RetBits for bool {
    fn bits(self) -> u64 {
        self as u64
    }
}
impl RetBits for () {
    fn bits(self) -> u64 {
        0
    }
}
fn ret_bits<R: RetBits>(r: R) -> u64 {
    r.bits()
}

callbacks! {
    increment_counter(s: *mut State) = "increment_counter(ptr)->void";
    decrement_counter(s: *mut State) = "decrement_counter(ptr)->void";
    reset_counter(s: *mut State) = "reset_counter(ptr)->void";
    add_step_clamped(s: *mut State, lo: i32, hi: i32) -> i64 = "add_step_clamped(ptr,i32,i32)->i64";
    set_step(s: *mut State, step: i32) -> i32 = "set_step(ptr,i32)->i32";
    counter_is_even(s: *mut State) -> bool = "counter_is_even(ptr)->bool";
    saturating_i8(s: *mut State, d: i8) -> i8 = "saturating_i8(ptr,i8)->i8";
    saturating_u8(s: *mut State, d: u8) -> u8 = "saturating_u8(ptr,u8)->u8";
    wrapping_i16(s: *mut State, d: i16) -> i16 = "wrapping_i16(ptr,i16)->i16";
    saturating_u16(a: u16, b: u16) -> u16 = "saturating_u16(u16,u16)->u16";
    saturating_i32(a: i32, b: i32) -> i32 = "saturating_i32(i32,i32)->i32";
    saturating_u64(a: u64, b: u64) -> u64 = "saturating_u64(u64,u64)->u64";
    checked_add_or(a: i64, b: i64) -> i64 = "checked_add_or(i64,i64)->i64";
    overflowing_u32(a: u32, b: u32) -> u32 = "overflowing_u32(u32,u32)->u32";
    div_by_constants(a: i64) -> i64 = "div_by_constants(i64)->i64";
    div_u32_constants(a: u32) -> u32 = "div_u32_constants(u32)->u32";
    div_i8(a: i8, b: i8) -> i8 = "div_i8(i8,i8)->i8";
    div_variables(s: *mut State, d: i64) -> i64 = "div_variables(ptr,i64)->i64";
    div_unsigned(a: u64, b: u64) -> u64 = "div_unsigned(u64,u64)->u64";
    gcd(a: u64, b: u64) -> u64 = "gcd(u64,u64)->u64";
    mul_u128_high(a: u64, b: u64) -> u64 = "mul_u128_high(u64,u64)->u64";
    mul_i128_mix(a: i64, b: i64) -> i64 = "mul_i128_mix(i64,i64)->i64";
    div_u128(s: *mut State, d: u64) -> u64 = "div_u128(ptr,u64)->u64";
    div_i128(a: i64, b: i64) -> i64 = "div_i128(i64,i64)->i64";
    shifts(a: u64, n: u32) -> u64 = "shifts(u64,u32)->u64";
    shifts_i16(a: i16, n: u8) -> i16 = "shifts_i16(i16,u8)->i16";
    rotates(a: u32, n: u32) -> u32 = "rotates(u32,u32)->u32";
    rotate_u64(a: u64, n: u32) -> u64 = "rotate_u64(u64,u32)->u64";
    bit_counts(a: u64) -> u32 = "bit_counts(u64)->u32";
    bit_counts_u16(a: u16) -> u32 = "bit_counts_u16(u16)->u32";
    swap_bytes(a: u64, b: u32) -> u64 = "swap_bytes(u64,u32)->u64";
    next_power_of_two(a: u32) -> u32 = "next_power_of_two(u32)->u32";
    toggle_bit(s: *mut State, bit: u32) -> u32 = "toggle_bit(ptr,u32)->u32";
    is_power_of_two(a: u64) -> bool = "is_power_of_two(u64)->bool";
    abs_diff(a: i32, b: i32) -> u32 = "abs_diff(i32,i32)->u32";
    signum_mix(a: i64, b: i16) -> i64 = "signum_mix(i64,i16)->i64";
    match_dense(op: u32, a: i64, b: i64) -> i64 = "match_dense(u32,i64,i64)->i64";
    match_sparse(key: u32) -> u32 = "match_sparse(u32)->u32";
    match_lookup(day: u8) -> u8 = "match_lookup(u8)->u8";
    apply_command(s: *mut State, cmd: u8, arg: i32) -> i64 = "apply_command(ptr,u8,i32)->i64";
    sum_list(s: *mut State) -> i64 = "sum_list(ptr)->i64";
    max_list(s: *mut State) -> i32 = "max_list(ptr)->i32";
    count_above(s: *mut State, t: i32) -> u32 = "count_above(ptr,i32)->u32";
    sort_list(s: *mut State) = "sort_list(ptr)->void";
    sort_unstable_bytes(s: *mut State) = "sort_unstable_bytes(ptr)->void";
    reverse_words(s: *mut State) = "reverse_words(ptr)->void";
    checksum_bytes(s: *mut State) -> u32 = "checksum_bytes(ptr)->u32";
    find_byte(s: *mut State, needle: u8) -> i32 = "find_byte(ptr,u8)->i32";
    push_history(s: *mut State, v: i64) = "push_history(ptr,i64)->void";
    copy_words_to_list(s: *mut State) = "copy_words_to_list(ptr)->void";
    fill_board(s: *mut State, v: u8) = "fill_board(ptr,u8)->void";
    clear_list(s: *mut State) = "clear_list(ptr)->void";
    bytes_equal_halves(s: *mut State) -> bool = "bytes_equal_halves(ptr)->bool";
    life_neighbours(s: *mut State, x: u32, y: u32) -> u32 = "life_neighbours(ptr,u32,u32)->u32";
    xorshift_next(s: *mut State) -> u64 = "xorshift_next(ptr)->u64";
    randomize_board(s: *mut State) = "randomize_board(ptr)->void";
    list_push(s: *mut State, key: u32, value: i32) -> bool = "list_push(ptr,u32,i32)->bool";
    list_insert(s: *mut State, at: u32, key: u32) -> bool = "list_insert(ptr,u32,u32)->bool";
    list_remove(s: *mut State, at: u32) -> i64 = "list_remove(ptr,u32)->i64";
    list_pop_and_truncate(s: *mut State, len: u32) -> i64 = "list_pop_and_truncate(ptr,u32)->i64";
    list_retain(s: *mut State, below: i32) -> i64 = "list_retain(ptr,i32)->i64";
    list_sort(s: *mut State) -> i64 = "list_sort(ptr)->i64";
    list_extend_and_clear(s: *mut State, n: u32) -> i64 = "list_extend_and_clear(ptr,u32)->i64";
    list_sum_values(s: *mut State) -> i64 = "list_sum_values(ptr)->i64";
    fib_recursive(n: u32) -> u64 = "fib_recursive(u32)->u64";
    fib_iterative(n: u32) -> u64 = "fib_iterative(u32)->u64";
    collatz_steps(n: u64) -> u32 = "collatz_steps(u64)->u32";
    hash_state(s: *mut State) -> u64 = "hash_state(ptr)->u64";
    call_many_args(a: u64, b: u32) -> u64 = "call_many_args(u64,u32)->u64";
    ackermann_small(m: u32, n: u32) -> u32 = "ackermann_small(u32,u32)->u32";
    widths_mix(a: u8, b: i8, c: u16, d: i16, e: u32, f: i32) -> i64 = "widths_mix(u8,i8,u16,i16,u32,i32)->i64";
    index_checked(s: *mut State, i: u32) -> i32 = "index_checked(ptr,u32)->i32";
    pow_mix(base: u32, exp: u8) -> u64 = "pow_mix(u32,u8)->u64";
    isqrt_u64(a: u64) -> u64 = "isqrt_u64(u64)->u64";
    rem_euclid_mix(a: i32, b: i32) -> i32 = "rem_euclid_mix(i32,i32)->i32";
    u128_shifts(a: u64, b: u64, n: u8) -> u64 = "u128_shifts(u64,u64,u8)->u64";
    i128_arith(a: i64, b: i64) -> i64 = "i128_arith(i64,i64)->i64";
    binary_search_list(s: *mut State, needle: i32) -> i32 = "binary_search_list(ptr,i32)->i32";
    windows_max_sum(s: *mut State) -> i64 = "windows_max_sum(ptr)->i64";
    chunks_xor(s: *mut State) -> u32 = "chunks_xor(ptr)->u32";
    rotate_array(s: *mut State, n: u8) = "rotate_array(ptr,u8)->void";
    rev_position(s: *mut State, t: u8) -> i32 = "rev_position(ptr,u8)->i32";
    handle_messages(s: *mut State, codes: u64, arg: i32) -> i64 = "handle_messages(ptr,u64,i32)->i64";
    option_chain(s: *mut State, i: u32, j: u32) -> i32 = "option_chain(ptr,u32,u32)->i32";
    histogram(s: *mut State) -> u32 = "histogram(ptr)->u32";
    life_step(s: *mut State) = "life_step(ptr)->void";
    saturating_cast_mix(a: i64) -> i32 = "saturating_cast_mix(i64)->i32";
    celsius_to_fahrenheit(c: f64) -> f64 = "celsius_to_fahrenheit(f64)->f64";
    float_identity(x: f64) -> f64 = "float_identity(f64)->f64";
    float_identity_f32(x: f32) -> f32 = "float_identity_f32(f32)->f32";
    store_then_float(s: *mut State, n: i32, a: f64) -> f64 = "store_then_float(ptr,i32,f64)->f64";
    count_then_float_f32(s: *mut State, x: f32) -> f32 = "count_then_float_f32(ptr,f32)->f32";
    lerp(a: f32, b: f32, t: f32) -> f32 = "lerp(f32,f32,f32)->f32";
    physics_step(s: *mut State, dt: f32) = "physics_step(ptr,f32)->void";
    saturating_float_casts(x: f64) -> i64 = "saturating_float_casts(f64)->i64";
    ints_to_float(a: i64, b: u32, c: i8) -> f64 = "ints_to_float(i64,u32,i8)->f64";
    clamp_f64(x: f64, lo: f64, hi: f64) -> f64 = "clamp_f64(f64,f64,f64)->f64";
    hypot_sqrt(a: f64, b: f32) -> f64 = "hypot_sqrt(f64,f32)->f64";
    libm_calls(a: f64, b: f32) -> f64 = "libm_calls(f64,f32)->f64";
    rounding_mix(x: f64) -> f64 = "rounding_mix(f64)->f64";
    rounding_mix_f32(x: f32) -> f32 = "rounding_mix_f32(f32)->f32";
    average_temps(s: *mut State) -> f64 = "average_temps(ptr)->f64";
    float_compare_mix(a: f64, b: f64) -> u32 = "float_compare_mix(f64,f64)->u32";
    scale_samples(s: *mut State, k: f32) = "scale_samples(ptr,f32)->void";
    mix_samples(s: *mut State, t: f32) -> f32 = "mix_samples(ptr,f32)->f32";
    scale_temps(s: *mut State, k: f64) -> f64 = "scale_temps(ptr,f64)->f64";
    conditional_tail_call(a: u64, b: u64) -> u64 = "conditional_tail_call(u64,u64)->u64";
    c_fmin(a: f64, b: f64) -> f64 = "c_fmin(f64,f64)->f64";
    c_fmax_f32(a: f32, b: f32) -> f32 = "c_fmax_f32(f32,f32)->f32";
    libm_mix(a: f64, b: f32) -> f64 = "libm_mix(f64,f32)->f64";
    escaped_length(s: *mut State, n: u8) -> u32 = "escaped_length(ptr,u8)->u32";
    unchecked_tags(s: *mut State, k: u32) -> i64 = "unchecked_tags(ptr,u32)->i64";
    state_machine(s: *mut State, n: u8) -> i64 = "state_machine(ptr,u8)->i64";
    month_label(s: *mut State, m: i32) -> i32 = "month_label(ptr,i32)->i32";
    op_name(s: *mut State, k: u8) -> u32 = "op_name(ptr,u8)->u32";
    sum_row(s: *mut State, r: u32) -> u32 = "sum_row(ptr,u32)->u32";
    month_prefix(s: *mut State, m: u32, k: u64) -> u32 = "month_prefix(ptr,u32,u64)->u32";
    checked_ratio(s: *mut State, a: i64, b: u64) -> i64 = "checked_ratio(ptr,i64,u64)->i64";
    quadrant_op(s: *mut State, k: i32) -> i64 = "quadrant_op(ptr,i32)->i64";
    copy_overlapping(s: *mut State, from: u8, to: u8, n: u8) -> u32 = "copy_overlapping(ptr,u8,u8,u8)->u32";
    parity_by_recursion(n: u32) -> u32 = "parity_by_recursion(u32)->u32";
    recursion_depth(n: u32) -> u64 = "recursion_depth(u32)->u64";
    gcd_recursive(a: u64, b: u64) -> u64 = "gcd_recursive(u64,u64)->u64";
    sort_stable_short(s: *mut State) -> i32 = "sort_stable_short(ptr)->i32";
    sort_stable_long(s: *mut State) -> i32 = "sort_stable_long(ptr)->i32";
    collect_sort_dedup(s: *mut State, limit: i32) -> i32 = "collect_sort_dedup(ptr,i32)->i32";
    sort_words(s: *mut State) -> u32 = "sort_words(ptr)->u32";
    binary_heap_top(s: *mut State, k: u32) -> i64 = "binary_heap_top(ptr,u32)->i64";
    string_build(s: *mut State, n: u32) -> u32 = "string_build(ptr,u32)->u32";
    utf8_lossy(s: *mut State) -> u32 = "utf8_lossy(ptr)->u32";
    to_string_and_parse(s: *mut State) -> i64 = "to_string_and_parse(ptr)->i64";
    format_padding(s: *mut State, n: i32) -> u32 = "format_padding(ptr,i32)->u32";
    format_floats(s: *mut State) -> u32 = "format_floats(ptr)->u32";
    format_debug_nested(s: *mut State) -> u32 = "format_debug_nested(ptr)->u32";
    write_into_cursor(s: *mut State, n: i32) -> u32 = "write_into_cursor(ptr,i32)->u32";
    write_into_buffer(s: *mut State, x: u32) -> u32 = "write_into_buffer(ptr,u32)->u32";
    write_through_dyn(s: *mut State) -> u32 = "write_through_dyn(ptr)->u32";
    dyn_tool_choice(s: *mut State, k: u32) -> i64 = "dyn_tool_choice(ptr,u32)->i64";
    boxed_tools(s: *mut State) -> i64 = "boxed_tools(ptr)->i64";
    fn_pointer_table(s: *mut State, codes: u32) -> i64 = "fn_pointer_table(ptr,u32)->i64";
    boxed_closures(s: *mut State, k: i32) -> i64 = "boxed_closures(ptr,i32)->i64";
    rc_refcell_shared(s: *mut State) -> i64 = "rc_refcell_shared(ptr)->i64";
    vecdeque_flood_fill(s: *mut State, start: u32) -> u32 = "vecdeque_flood_fill(ptr,u32)->u32";
    btreemap_counts(s: *mut State) -> u32 = "btreemap_counts(ptr)->u32";
    vec_edits(s: *mut State, k: i32) -> i32 = "vec_edits(ptr,i32)->i32";
    nested_vecs(s: *mut State) -> i64 = "nested_vecs(ptr)->i64";
    alloc_and_free_loop(s: *mut State, n: u32) -> u64 = "alloc_and_free_loop(ptr,u32)->u64";
    thread_local_counter(s: *mut State, k: u32) -> u32 = "thread_local_counter(ptr,u32)->u32";
    c_memcmp(s: *mut State, at: u8, n: u8, flip: u8) -> i32 = "c_memcmp(ptr,u8,u8,u8)->i32";
}
