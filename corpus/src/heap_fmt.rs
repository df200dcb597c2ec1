//! Callbacks written the way Rust is written when nobody counts allocations:
//! `Vec`, `String`, `format!`, `write!`, `{:?}`, trait objects, tables of
//! function pointers, boxed closures, `VecDeque`, `BTreeMap`, thread-locals.
//! Each writes what it computes into the state (never a pointer value) and
//! returns a checksum of it.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::fmt::Write as _;
use std::io::Write as _;
use std::rc::Rc;

use super::State;

macro_rules! st {
    ($p:expr) => {
        // SAFETY: callers pass a valid, exclusive pointer to a State.
        unsafe { &mut *$p }
    };
}

/// Copies `text` into the board (cut at 256 bytes) and returns its length
/// mixed with a hash of it.
fn put(s: &mut State, text: &[u8]) -> u32 {
    let n = text.len().min(s.board.len());
    s.board[..n].copy_from_slice(&text[..n]);
    s.board[n..].fill(0);
    text.iter()
        .fold(text.len() as u32, |h, &b| h.rotate_left(5) ^ b as u32)
}

// ------------------------------------------------------------------ sorting

#[no_mangle]
pub extern "C" fn sort_stable_short(s: *mut State) -> i32 {
    // a stable sort of 8 elements: insertion sort, no allocation
    let s = st!(s);
    s.list[..8].sort_by_key(|x| x & 0xf);
    s.list[..8]
        .iter()
        .fold(0, |h: i32, &x| h.rotate_left(3) ^ x)
}

#[no_mangle]
pub extern "C" fn sort_stable_long(s: *mut State) -> i32 {
    // a stable sort of 24: merge sort with a heap buffer
    let s = st!(s);
    s.list.sort_by_key(|a| a.unsigned_abs() % 100);
    s.list.iter().fold(0, |h: i32, &x| h.rotate_left(3) ^ x)
}

#[no_mangle]
pub extern "C" fn collect_sort_dedup(s: *mut State, limit: i32) -> i32 {
    let s = st!(s);
    let mut v: Vec<i32> = s
        .list
        .iter()
        .map(|x| x % 50)
        .filter(|&x| x < limit)
        .collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v.dedup();
    s.list.fill(0);
    s.list[..v.len()].copy_from_slice(&v);
    v.len() as i32
}

#[no_mangle]
pub extern "C" fn sort_words(s: *mut State) -> u32 {
    // words of letters from the bytes, sorted, joined
    let s = st!(s);
    let text: String = s.bytes.iter().map(|b| (b'a' + b % 27) as char).collect();
    let mut words: Vec<&str> = text.split('{').filter(|w| !w.is_empty()).collect();
    words.sort();
    let joined = words.join(",");
    put(s, joined.as_bytes())
}

#[no_mangle]
pub extern "C" fn binary_heap_top(s: *mut State, k: u32) -> i64 {
    let s = st!(s);
    let mut heap: BinaryHeap<i32> = s.list.iter().copied().collect();
    let mut sum = 0i64;
    for _ in 0..k % 30 {
        match heap.pop() {
            Some(x) => sum = sum.wrapping_mul(31).wrapping_add(x as i64),
            None => break,
        }
    }
    sum
}

// ------------------------------------------------------------------ strings

#[no_mangle]
pub extern "C" fn string_build(s: *mut State, n: u32) -> u32 {
    let s = st!(s);
    let mut text = String::new();
    for i in 0..n % 40 {
        text.push_str(["ab", "c", "déf", "€"][i as usize % 4]);
        text.push(char::from(b'0' + (s.bytes[i as usize % 32] % 10)));
    }
    text.insert(0, '[');
    text.push(']');
    put(s, text.as_bytes())
}

#[no_mangle]
pub extern "C" fn utf8_lossy(s: *mut State) -> u32 {
    // invalid UTF-8 in the bytes becomes U+FFFD
    let s = st!(s);
    let text = String::from_utf8_lossy(&s.bytes).into_owned();
    let upper = text.to_uppercase();
    put(s, upper.as_bytes())
}

#[no_mangle]
pub extern "C" fn to_string_and_parse(s: *mut State) -> i64 {
    let s = st!(s);
    let text = format!("{}{}", s.counter, s.step);
    let back: i64 = text.parse().unwrap_or(-1);
    let n: u64 = s.seed.to_string().parse().unwrap();
    put(s, text.as_bytes());
    back.wrapping_add(n as i64)
}

// --------------------------------------------------------------- formatting

#[no_mangle]
pub extern "C" fn format_padding(s: *mut State, n: i32) -> u32 {
    let s = st!(s);
    let text = format!(
        "{:>8}|{:<6}|{:^7}|{:+05}|{:#x}|{:#010b}",
        n, s.step, s.small, s.tiny, s.seed, s.flag
    );
    put(s, text.as_bytes())
}

#[no_mangle]
pub extern "C" fn format_floats(s: *mut State) -> u32 {
    // float formatting is exact: shortest round trip, fixed precision,
    // exponent form, f32 and f64
    let s = st!(s);
    let text = format!(
        "{} {:?} {:.3} {:e} {:10.1} {}",
        s.temps[0], s.pos[1], s.temps[2], s.temps[3], s.vel[0], s.samples[5]
    );
    put(s, text.as_bytes())
}

#[no_mangle]
pub extern "C" fn format_debug_nested(s: *mut State) -> u32 {
    #[derive(Debug)]
    #[allow(dead_code)] // read through Debug
    enum Shape {
        Dot,
        Line { from: i16, to: i16 },
        Many(Vec<u8>),
    }
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Scene<'a> {
        name: &'a str,
        shapes: Vec<Shape>,
        weights: Option<[i8; 3]>,
    }
    let s = st!(s);
    let scene = Scene {
        name: if s.flag & 1 == 0 {
            "even"
        } else {
            "odd \"quoted\""
        },
        shapes: vec![
            Shape::Dot,
            Shape::Line {
                from: s.small,
                to: s.small.wrapping_neg(),
            },
            Shape::Many(s.bytes[..4].to_vec()),
        ],
        weights: (s.tiny > 0).then_some([s.tiny; 3]),
    };
    let text = if s.flag & 2 == 0 {
        format!("{scene:?}")
    } else {
        format!("{scene:#?}")
    };
    put(s, text.as_bytes())
}

#[no_mangle]
pub extern "C" fn write_into_cursor(s: *mut State, n: i32) -> u32 {
    // write! into a fixed buffer through io::Write (a full buffer is an error)
    let s = st!(s);
    let x = s.temps[1];
    let mut board = [0u8; 256];
    let mut cursor = std::io::Cursor::new(&mut board[..]);
    let ok = write!(cursor, "{n}: {x:.2} {:?}", &s.list[..6]).is_ok();
    let len = cursor.position() as usize;
    s.board = board;
    (len as u32) << 1 | ok as u32
}

/// A fixed-capacity text buffer written through `fmt::Write`.
struct Buffer {
    len: usize,
    bytes: [u8; 48],
}

impl std::fmt::Write for Buffer {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.len + text.len();
        if end > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[no_mangle]
pub extern "C" fn write_into_buffer(s: *mut State, x: u32) -> u32 {
    let s = st!(s);
    let mut buffer = Buffer {
        len: 0,
        bytes: [0; 48],
    };
    let ok = write!(buffer, "{x:#x} {:e} {}", s.temps[2], s.counter).is_ok();
    let len = buffer.len;
    s.board[..48].copy_from_slice(&buffer.bytes);
    (len as u32) << 1 | ok as u32
}

fn emit(out: &mut dyn std::fmt::Write, s: &State) -> std::fmt::Result {
    write!(out, "{}/{}", s.step, s.small)?;
    for w in &s.words[..3] {
        write!(out, ";{w}")?;
    }
    Ok(())
}

#[no_mangle]
pub extern "C" fn write_through_dyn(s: *mut State) -> u32 {
    let s = st!(s);
    let mut text = String::new();
    emit(&mut text, s).unwrap();
    put(s, text.as_bytes())
}

// ---------------------------------------------------- calls through pointers

trait Tool {
    fn apply(&self, x: i64) -> i64;
    fn name(&self) -> u8;
}

struct Add(i64);
struct Scale(i64);
struct Clamp {
    lo: i64,
    hi: i64,
}

impl Tool for Add {
    fn apply(&self, x: i64) -> i64 {
        x.wrapping_add(self.0)
    }
    fn name(&self) -> u8 {
        b'+'
    }
}

impl Tool for Scale {
    fn apply(&self, x: i64) -> i64 {
        x.wrapping_mul(self.0)
    }
    fn name(&self) -> u8 {
        b'*'
    }
}

impl Tool for Clamp {
    fn apply(&self, x: i64) -> i64 {
        x.clamp(self.lo, self.hi)
    }
    fn name(&self) -> u8 {
        b'['
    }
}

#[no_mangle]
pub extern "C" fn dyn_tool_choice(s: *mut State, k: u32) -> i64 {
    let s = st!(s);
    let (add, scale, clamp) = (Add(s.step as i64), Scale(3), Clamp { lo: -50, hi: 50 });
    let tool: &dyn Tool = match k % 3 {
        0 => &add,
        1 => &scale,
        _ => &clamp,
    };
    let tool = std::hint::black_box(tool);
    s.bytes[0] = tool.name();
    s.list
        .iter()
        .map(|&x| tool.apply(x as i64))
        .fold(0, i64::wrapping_add)
}

#[no_mangle]
pub extern "C" fn boxed_tools(s: *mut State) -> i64 {
    // a Vec of Box<dyn Tool>, each applied in turn
    let s = st!(s);
    let tools: Vec<Box<dyn Tool>> = vec![
        Box::new(Add(s.step as i64)),
        Box::new(Scale(s.tiny as i64)),
        Box::new(Clamp {
            lo: -(s.small as i64).abs(),
            hi: (s.small as i64).abs(),
        }),
    ];
    let mut x = s.counter;
    for t in &tools {
        x = t.apply(x);
    }
    x
}

fn op_add(a: i64, b: i64) -> i64 {
    a.wrapping_add(b)
}
fn op_sub(a: i64, b: i64) -> i64 {
    a.wrapping_sub(b)
}
fn op_mul(a: i64, b: i64) -> i64 {
    a.wrapping_mul(b)
}
fn op_xor(a: i64, b: i64) -> i64 {
    a ^ b
}

/// Handlers by message code: a table of function pointers in static data.
static HANDLERS: [fn(i64, i64) -> i64; 4] = [op_add, op_sub, op_mul, op_xor];

#[no_mangle]
pub extern "C" fn fn_pointer_table(s: *mut State, codes: u32) -> i64 {
    let s = st!(s);
    let mut x = s.counter;
    for i in 0..8 {
        let code = (codes >> (2 * i)) as usize % HANDLERS.len();
        x = HANDLERS[code](x, s.history[i]);
    }
    s.counter = x;
    x
}

#[no_mangle]
pub extern "C" fn boxed_closures(s: *mut State, k: i32) -> i64 {
    let s = st!(s);
    let base = s.step as i64;
    let mut handlers: Vec<Box<dyn Fn(i64) -> i64>> = Vec::new();
    handlers.push(Box::new(move |x| x + base));
    handlers.push(Box::new(|x| x * 3));
    let offset = k as i64;
    handlers.push(Box::new(move |x| x ^ offset));
    let words = s.words;
    handlers.push(Box::new(move |x| x + words[(x as usize) % 16] as i64));
    handlers.iter().fold(s.counter % 1000, |x, h| h(x))
}

#[no_mangle]
pub extern "C" fn rc_refcell_shared(s: *mut State) -> i64 {
    let s = st!(s);
    let shared = Rc::new(RefCell::new(Vec::<i64>::new()));
    let writers: Vec<Rc<RefCell<Vec<i64>>>> = (0..4).map(|_| Rc::clone(&shared)).collect();
    for (i, w) in writers.iter().enumerate() {
        w.borrow_mut().push(s.history[i] % 1000);
    }
    let v = shared.borrow();
    v.iter().sum::<i64>() + Rc::strong_count(&shared) as i64
}

// ------------------------------------------------------------- collections

#[no_mangle]
pub extern "C" fn vecdeque_flood_fill(s: *mut State, start: u32) -> u32 {
    // breadth-first search over the 16x16 board: cells below 160 are open
    let s = st!(s);
    let start = (start % 256) as usize;
    let mut dist = [u8::MAX; 256];
    let mut queue = VecDeque::new();
    if s.board[start] < 160 {
        dist[start] = 0;
        queue.push_back(start);
    }
    let mut reached = 0;
    while let Some(c) = queue.pop_front() {
        reached += 1;
        let (x, y) = (c % 16, c / 16);
        let near = [
            (x > 0).then(|| c - 1),
            (x < 15).then(|| c + 1),
            (y > 0).then(|| c - 16),
            (y < 15).then(|| c + 16),
        ];
        for n in near.into_iter().flatten() {
            if s.board[n] < 160 && dist[n] == u8::MAX {
                dist[n] = dist[c].saturating_add(1);
                queue.push_back(n);
            }
        }
    }
    s.board = dist;
    reached
}

#[no_mangle]
pub extern "C" fn btreemap_counts(s: *mut State) -> u32 {
    // how often each byte value mod 13 occurs, in key order
    let s = st!(s);
    let mut counts: BTreeMap<u8, u32> = BTreeMap::new();
    for b in s.board.iter() {
        *counts.entry(b % 13).or_insert(0) += 1;
    }
    for (i, (k, n)) in counts.iter().enumerate().take(16) {
        s.words[i] = (*k as u32) << 16 | n;
    }
    counts.len() as u32
}

#[no_mangle]
pub extern "C" fn vec_edits(s: *mut State, k: i32) -> i32 {
    let s = st!(s);
    let mut v: Vec<i32> = s.list.to_vec();
    v.retain(|x| x % 3 != 0);
    v.extend_from_slice(&s.list[..4]);
    v.insert(v.len() / 2, k);
    if !v.is_empty() {
        v.remove(0);
    }
    v.truncate(20);
    let third = v.len() / 3;
    v.rotate_left(third);
    s.list.fill(0);
    s.list[..v.len()].copy_from_slice(&v);
    v.len() as i32
}

#[no_mangle]
pub extern "C" fn nested_vecs(s: *mut State) -> i64 {
    let s = st!(s);
    let rows: Vec<Vec<i64>> = s
        .board
        .chunks(16)
        .map(|r| r.iter().map(|&b| b as i64 - 128).collect())
        .collect();
    let sums: Vec<i64> = rows.iter().map(|r| r.iter().sum()).collect();
    s.history.copy_from_slice(&sums[..8]);
    sums.iter().max().copied().unwrap_or(0)
}

#[no_mangle]
pub extern "C" fn alloc_and_free_loop(s: *mut State, n: u32) -> u64 {
    // a thousand allocations freed as it goes: the heap stays small
    let s = st!(s);
    let mut total = 0u64;
    for i in 0..1000u32 {
        let len = ((n.wrapping_add(i)) % 64 + 1) as usize * 16;
        let v: Vec<u64> = (0..len as u64).map(|x| x ^ s.seed).collect();
        total = total.wrapping_add(v[len / 2]);
        let text = format!("{i}");
        total = total.wrapping_add(text.len() as u64);
    }
    s.wide[0] = total;
    total
}

// ----------------------------------------------------------- thread-locals

thread_local! {
    static CLICKS: Cell<u32> = const { Cell::new(0) };
    // (lazily made on first use, with a destructor registered: the path
    // a thread-local with a runtime initialiser takes)
    #[allow(clippy::missing_const_for_thread_local)]
    static SEEN: RefCell<Vec<u32>> = RefCell::new(Vec::new());
}

#[no_mangle]
pub extern "C" fn thread_local_counter(s: *mut State, k: u32) -> u32 {
    // per thread: natively the test's thread, in wasm the instance
    let s = st!(s);
    let clicks = CLICKS.with(|c| {
        c.set(c.get().wrapping_add(k % 100));
        c.get()
    });
    let seen = SEEN.with(|v| {
        let mut v = v.borrow_mut();
        v.push(k % 7);
        v.iter().sum::<u32>()
    });
    s.words[0] = clicks;
    s.words[1] = seen;
    clicks ^ seen
}

/// Not a callback of the corpus: allocates `mib` MiB (the engines test
/// asks for more than wasm32 memory holds, which must trap).
#[no_mangle]
pub extern "C" fn allocate_mib(mib: u32) -> u64 {
    let v = vec![1u8; (mib as usize) << 20];
    std::hint::black_box(&v)
        .iter()
        .step_by(4096)
        .map(|&b| b as u64)
        .sum()
}

/// Not a callback of the corpus: `HashMap`'s default hasher seeds itself
/// from the operating system's randomness, which no browser can give.
#[no_mangle]
pub extern "C" fn hashmap_count(s: *mut State) -> u32 {
    let s = st!(s);
    let mut counts = std::collections::HashMap::new();
    for b in s.bytes {
        *counts.entry(b % 7).or_insert(0u32) += 1;
    }
    counts.len() as u32
}

/// `powf` is libm's `pow`, linked into the module from libm (`link.rs`).
#[no_mangle]
pub extern "C" fn float_pow(s: *mut State) -> f64 {
    let s = st!(s);
    s.temps[0].powf(s.temps[1])
}

/// UTF-8 text as a callback receives it (the library's `Text`): a pointer
/// and a length, passed by value in two integer registers.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TextArg {
    /// The first byte.
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
}

/// Not in CALLBACKS (their arguments are numbers): text arguments, tested
/// by `text_arguments_run_as_on_the_cpu`. Upper-cases `text` into `bytes`
/// (cut on a char boundary), counts chars into `words[0]` and returns a
/// hash of the words with `step` mixed in.
#[no_mangle]
pub extern "C" fn shout_text(s: *mut State, text: TextArg, step: i32) -> u64 {
    let s = st!(s);
    // SAFETY: the caller passes valid UTF-8 bytes for the call's duration.
    let text =
        unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(text.ptr, text.len)) };
    let upper = text.to_uppercase();
    let mut cut = upper.len().min(s.bytes.len());
    while !upper.is_char_boundary(cut) {
        cut -= 1;
    }
    s.bytes = [0; 32];
    s.bytes[..cut].copy_from_slice(&upper.as_bytes()[..cut]);
    s.words[0] = text.chars().count() as u32;
    s.step = step;
    text.split_whitespace().fold(step as u64, |h, w| {
        h.wrapping_mul(31).wrapping_add(w.len() as u64)
    })
}
