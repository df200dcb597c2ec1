//! Stage 2, **decode**: the instructions of each function, found by recursive
//! descent from its entry (so data in `.text` and padding are never decoded),
//! and the functions it reaches: direct calls, tail-call `jmp`s, calls through
//! the GOT and through registers loaded from the GOT all pull their callee into
//! the same module, up to [`MAX_FUNCTIONS`].
//!
//! Jump tables (`cmp idx, N; ja` then `lea`/`movsxd`/`add`/`jmp reg`, or
//! `jmp [table + 8*idx]`) are recovered here because their targets are code
//! that must be decoded too.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use iced_x86::{
    Code, Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory,
    InstructionInfoOptions, Mnemonic, OpAccess, OpKind, Register,
};

use super::error::{hex_bytes, TranspileError};
use super::fxhash::{FxHashMap, FxHashSet};
use super::image::{Image, Pointer};
use super::builtins::Builtin;
use super::link;
pub use super::data::WHOLE;
use super::data::{self, DataWalk};
use super::noreturn::{import_never_returns, Returns, Verdict};
use super::ranges;
use super::signature::Signature;

/// The most functions one module may pull in.
pub const MAX_FUNCTIONS: usize = 1024;
/// The most instructions one function may have.
pub const MAX_INSTRUCTIONS: usize = 200_000;

/// What a call or tail jump reaches.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A function of the image, by address.
    Function(u64),
    /// A C library function the module provides.
    Builtin(Builtin),
    /// A function that never returns (a panic): calling it traps.
    Trap,
}

/// A recovered jump table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JumpTable {
    /// The instruction at which `index_register` holds the table index.
    pub index_at: u64,
    /// The 64-bit register holding the index there.
    pub index_register: Register,
    /// Target address of each entry.
    pub targets: Vec<u64>,
    /// The `cmp` or `and` in front of the jump whose check bounds the
    /// index, if one does: valid only if no path enters between it and
    /// the jump (checked once the function is decoded).
    pub bound_from: Option<u64>,
    /// A computed goto (gcc's labels as values: `jmp reg` after a load
    /// from a table of label addresses, or `jmp [reg + 8*i]`): the jump's
    /// operand is the target address itself (`index_register` is the
    /// register, or none for a memory operand), and `targets` are the
    /// addresses of the function's own code in the data it refers to. Any
    /// other address traps.
    pub by_address: bool,
}

/// One decoded function.
#[derive(Clone, Debug)]
pub struct Function {
    /// Symbol name, or `sub_ADDR`.
    pub name: String,
    /// Entry address.
    pub address: u64,
    /// End of the symbol when its size is known.
    pub end: Option<u64>,
    /// The reachable instructions, sorted by address.
    pub instructions: Vec<Instruction>,
    /// Call and tail-jump targets by instruction address (direct and through the GOT).
    pub calls: BTreeMap<u64, Target>,
    /// Functions whose address this function loads, by the value the register
    /// then holds: what `call reg` may reach.
    pub indirect: BTreeMap<u64, Target>,
    /// Jump tables by the address of their `jmp`.
    pub jump_tables: BTreeMap<u64, JumpTable>,
    /// Data the code refers to: address, and the bytes one instruction
    /// reads there, or [`WHOLE`] when the code takes the address (`lea`) or
    /// indexes from it, and so may read the whole object.
    pub data_refs: BTreeMap<u64, u64>,
    /// Instructions that load the address of run-time state from a GOT
    /// slot ([`data::run_time_state_load`]), and what it is: each becomes
    /// a trap that ends its path.
    pub unreadable: BTreeMap<u64, String>,
}

impl Function {
    /// Records that the code reads `bytes` at `address` ([`WHOLE`]: the
    /// object there); the widest reading counts.
    fn refers_to(&mut self, address: u64, bytes: u64) {
        let size = self.data_refs.entry(address).or_insert(bytes);
        if *size != WHOLE {
            *size = if bytes == WHOLE { WHOLE } else { (*size).max(bytes) };
        }
    }
}

impl Function {
    /// The index of the instruction at `address`.
    pub fn index_of(&self, address: u64) -> Option<usize> {
        self.instructions
            .binary_search_by_key(&address, |i| i.ip())
            .ok()
    }

    /// True for a `jmp` whose target is outside this function (a tail call).
    pub fn is_tail_jump(&self, instruction: &Instruction) -> bool {
        instruction.flow_control() == FlowControl::UnconditionalBranch
            && self.calls.contains_key(&instruction.ip())
    }

    /// True for an instruction that becomes a trap: a `call` that never
    /// returns (a panic), or a load of the address of run-time state.
    pub fn is_trap(&self, instruction: &Instruction) -> bool {
        let ip = instruction.ip();
        match instruction.flow_control() {
            FlowControl::Call | FlowControl::IndirectCall => {
                self.calls.get(&ip) == Some(&Target::Trap)
            }
            _ => self.unreadable.contains_key(&ip),
        }
    }

    /// True for a `jcc` whose taken target is another function (a
    /// conditional tail call).
    pub fn is_conditional_tail_jump(&self, instruction: &Instruction) -> bool {
        instruction.flow_control() == FlowControl::ConditionalBranch
            && self.calls.contains_key(&instruction.ip())
    }
}

/// All functions of one module; `functions[i]` for `roots[k]` is export k's code.
#[derive(Clone, Debug)]
pub struct Program {
    /// Every function, callees after their callers in discovery order:
    /// first those the roots' code reaches, then those only data points to.
    pub functions: Vec<Function>,
    /// Index in `functions` of each requested root.
    pub roots: Vec<usize>,
    /// How many of `functions` the roots' code reaches (the rest are
    /// reached only through pointers in data: a vtable's methods, a table
    /// of handlers).
    pub required: usize,
    /// The image ranges the module places as data (`data.rs`), sorted and
    /// merged.
    pub data: Vec<(u64, u64)>,
    /// The functions an indirect call may reach, by address, sorted: those
    /// whose address code loads and those data points to. An indirect call
    /// to any other address traps.
    pub address_taken: Vec<u64>,
    /// Functions data points to that could not be decoded, and why: a call
    /// through a pointer to one traps.
    pub unavailable: Vec<(u64, String)>,
    /// Every function's [`Function::unreadable`], for reports.
    pub unreadable: BTreeMap<u64, String>,
}

impl Program {
    /// The index of the function at `address`.
    pub fn function_index(&self, address: u64) -> Option<usize> {
        self.functions.iter().position(|f| f.address == address)
    }
}

/// The addresses of the functions to export, checked against the image.
pub fn roots(image: &Image, exports: &[Signature]) -> Result<Vec<u64>, TranspileError> {
    exports
        .iter()
        .map(|s| match image.symbol(&s.name) {
            Some(sym) if sym.is_function => Ok(sym.address),
            Some(_) => Err(TranspileError::UnknownSymbol {
                name: s.name.clone(),
                why: "it is data, not a function".into(),
            }),
            None => Err(TranspileError::UnknownSymbol {
                name: s.name.clone(),
                why: "no function symbol of this name in the binary".into(),
            }),
        })
        .collect()
}

/// Entry point of the stage: decodes `roots` (function addresses) and every
/// function they reach, and the data they can read (`data.rs`). Functions
/// the data points to (a vtable's methods, a table of handlers) join the
/// program one at a time, each with what it reaches: one that cannot be
/// decoded is left out (recorded in [`Program::unavailable`]) and a call
/// through a pointer to it traps; a root or anything its code reaches that
/// cannot be decoded is an error.
pub fn decode(image: &Image, roots: &[u64]) -> Result<Program, TranspileError> {
    let mut d = ProgramDecoding {
        image,
        functions: Vec::new(),
        index: FxHashMap::default(),
        returns: Returns::new(image),
        data: DataWalk::default(),
        root: roots.first().copied().unwrap_or_default(),
        came_from: FxHashMap::default(),
    };
    d.reach(roots)?;
    let required = d.functions.len();
    let mut unavailable = Vec::new();
    let mut k = 0;
    while k < d.data.functions.len() {
        let candidate = d.data.functions[k];
        k += 1;
        if d.index.contains_key(&candidate) {
            continue;
        }
        // all of it or nothing
        let (functions, data) = (d.functions.len(), d.data.clone());
        if let Err(e) = d.reach(&[candidate]) {
            for f in d.functions.drain(functions..) {
                d.index.remove(&f.address);
            }
            d.data = data;
            unavailable.push((candidate, e.to_string()));
        }
    }
    let mut address_taken: Vec<u64> = d
        .functions
        .iter()
        .flat_map(|f| f.indirect.values())
        .filter_map(|t| match t {
            Target::Function(a) => Some(*a),
            _ => None,
        })
        .chain(d.data.functions.iter().copied())
        .filter(|a| d.index.contains_key(a))
        .collect();
    address_taken.sort_unstable();
    address_taken.dedup();
    let data = d.data.ranges()?;
    let unreadable = d
        .functions
        .iter()
        .flat_map(|f| f.unreadable.iter().map(|(&at, what)| (at, what.clone())))
        .collect();
    let roots = roots.iter().map(|a| d.index[a]).collect();
    Ok(Program {
        functions: d.functions,
        roots,
        required,
        data,
        address_taken,
        unavailable,
        unreadable,
    })
}

/// The functions decoded so far and the data they reach.
struct ProgramDecoding<'a> {
    image: &'a Image,
    functions: Vec<Function>,
    index: FxHashMap<u64, usize>,
    returns: Returns<'a>,
    data: DataWalk,
    /// The first root (named in errors).
    root: u64,
    /// Each function's first caller (the way it was reached, for errors).
    came_from: FxHashMap<u64, u64>,
}

impl ProgramDecoding<'_> {
    /// Decodes `starts` and every function their code reaches, with the
    /// data each reads.
    fn reach(&mut self, starts: &[u64]) -> Result<(), TranspileError> {
        let mut queue: VecDeque<u64> = starts.iter().copied().collect();
        while let Some(address) = queue.pop_front() {
            if self.index.contains_key(&address) {
                continue;
            }
            if self.functions.len() >= MAX_FUNCTIONS {
                return Err(TranspileError::TooManyFunctions {
                    root: self.image.describe(self.root),
                    limit: MAX_FUNCTIONS,
                });
            }
            let function = decode_function(self.image, address, &mut self.returns)
                .map_err(|e| self.reached(address, e))?;
            for target in function.calls.values().chain(function.indirect.values()) {
                if let Target::Function(callee) = target {
                    self.came_from.entry(*callee).or_insert(address);
                    queue.push_back(*callee);
                }
            }
            self.data.add(self.image, &function.name, &function.data_refs)?;
            self.index.insert(address, self.functions.len());
            self.functions.push(function);
        }
        Ok(())
    }

    /// `error` of the function at `address`, with the calls that reached
    /// it from a root (none for a root: its name is in the error).
    fn reached(&self, address: u64, error: TranspileError) -> TranspileError {
        let mut path = Vec::new();
        let mut at = address;
        // (each function's first caller was decoded before it: no cycle)
        while let Some(&caller) = self.came_from.get(&at) {
            path.push(function_name(self.image, caller));
            at = caller;
        }
        if path.is_empty() {
            return error;
        }
        path.reverse();
        TranspileError::Reached {
            path,
            error: Box::new(link::in_library(self.image, error)),
        }
    }
}

/// The thread-descriptor field a linked library's instruction reads at a
/// constant offset past the thread pointer, other than the ones a module's
/// thread has: fs:0 (its own address, TLS addresses start from it) and
/// fs:0x28 (the stack protector's canary, 0 in a module as in its check).
fn thread_descriptor_field(image: &Image, ins: &Instruction) -> Option<u64> {
    let in_library = image.library_at(ins.ip()).is_some();
    let constant = ins.memory_segment() == Register::FS
        && ins.memory_base() == Register::None
        && ins.memory_index() == Register::None;
    let field = ins.memory_displacement64();
    (in_library && constant && field != 0 && field != 0x28 && (field as i64) > 0).then_some(field)
}

fn function_name(image: &Image, address: u64) -> String {
    image
        .function_at(address)
        .map(|s| s.name.clone())
        .unwrap_or_else(|| format!("sub_{address:x}"))
}

/// Names that mark Rust's panic entry points: the fallback when the code
/// cannot tell whether a callee returns (see `noreturn.rs`).
fn is_panic_name(name: &str) -> bool {
    const MARKS: [&str; 9] = [
        "panicking",
        "unwrap_failed",
        "expect_failed",
        "panic_bounds_check",
        "index_len_fail",
        "index_order_fail",
        "handle_alloc_error",
        "capacity_overflow",
        "rust_panic",
    ];
    MARKS.iter().any(|m| name.contains(m)) || matches!(name.split('@').next(), Some("abort"))
}

/// The instruction addresses decoded so far: a bit per byte of the
/// function's symbol (no hashing on the hot path), a set for any beyond it.
struct Seen {
    base: u64,
    bits: Vec<u64>,
    beyond: FxHashSet<u64>,
}

impl Seen {
    fn new(address: u64, end: Option<u64>) -> Seen {
        let bytes = end.map_or(0, |e| e.saturating_sub(address).min(1 << 20));
        Seen {
            base: address,
            bits: vec![0; bytes.div_ceil(64) as usize],
            beyond: FxHashSet::default(),
        }
    }

    fn contains(&self, ip: u64) -> bool {
        match self.bits.get((ip.wrapping_sub(self.base) / 64) as usize) {
            Some(word) => word & (1 << (ip.wrapping_sub(self.base) % 64)) != 0,
            None => self.beyond.contains(&ip),
        }
    }

    fn insert(&mut self, ip: u64) {
        match self
            .bits
            .get_mut((ip.wrapping_sub(self.base) / 64) as usize)
        {
            Some(word) => *word |= 1 << (ip.wrapping_sub(self.base) % 64),
            None => {
                self.beyond.insert(ip);
            }
        }
    }
}

/// What the code before a jump table proves about its index.
#[derive(Clone, Copy, Debug)]
struct TableBound {
    /// At most this many entries (None: nothing bounds it).
    count: Option<u64>,
    /// The `cmp` or `and` that proved it (when `checked`).
    from: Option<u64>,
    /// Whether a compare and branch, or a mask, proved the count; a
    /// zero-extended byte (256) reaches past most tables, into the next one.
    checked: bool,
}

/// Where a run of code was found: through a guessed jump table entry
/// (past what the code proves of its index), as the jump's address and the
/// entry's index, or not (`None`).
type Guess = Option<(u64, usize)>;

struct Decoding<'a, 'r> {
    image: &'a Image,
    function: Function,
    /// Entries kept of jump tables (by the jump's address), found on an
    /// earlier try: where guessed entries led to something that is no code,
    /// or what the values reaching the jump prove.
    limits: &'r BTreeMap<u64, Limit>,
    /// Jump tables of the `lea base, [rip+table]` form: the jump, the base
    /// register and the table, checked once the function is decoded (see
    /// `base_reaches_jump`).
    table_bases: Vec<(u64, Register, u64)>,
    /// Data addresses taken with `lea`: the instruction, its register, the
    /// address. Data only a call that never returns can read (a panic's
    /// message and location) needs no place in the module.
    taken: Vec<(u64, Register, u64)>,
    /// Which callees never return (shared by the module's functions).
    returns: &'r mut Returns<'a>,
}

/// How many entries of a jump table a try of [`decode_once`] reads.
#[derive(Clone, Copy, Debug)]
struct Limit {
    entries: usize,
    /// The index never goes past them ([`ranges`]): a failure to decode
    /// one is an error, not a guess gone wrong.
    proven: bool,
    /// A path enters between the check in front of the jump and the jump:
    /// the check bounds nothing.
    unchecked: bool,
}

/// Decodes the function at `address`. A jump table whose index no check
/// in front of it bounds (an enum's tag loaded from memory, a byte, a state
/// an earlier `match` set) is read entry by entry while each target is code
/// of the function: an entry past the table proper (the next table's,
/// offset from another base) usually names no instruction, and then the
/// function is decoded again with the table ending before that entry, where
/// its index never goes. Once it decodes, the values that reach each such
/// jump ([`ranges`]) may prove fewer entries: it is decoded again with those.
fn decode_function<'a>(
    image: &'a Image,
    address: u64,
    returns: &mut Returns<'a>,
) -> Result<Function, TranspileError> {
    let mut limits = BTreeMap::new();
    loop {
        match decode_once(image, address, returns, &limits) {
            Ok(function) if function.jump_tables.is_empty() => return Ok(function),
            Ok(function) => {
                let bypassed = bypassed_checks(&function, &limits);
                if !bypassed.is_empty() {
                    limits.extend(bypassed);
                    continue;
                }
                let proven = proven_limits(&function, &limits);
                if proven.is_empty() {
                    return Ok(function);
                }
                limits.extend(proven);
            }
            Err((_, Some((jmp, entry)))) => {
                let unchecked = limits.get(&jmp).is_some_and(|l| l.unchecked);
                let limit = Limit {
                    entries: entry,
                    proven: false,
                    unchecked,
                };
                limits.insert(jmp, limit);
            }
            Err((e, None)) => return Err(e),
        }
    }
}

/// The jump tables of `function` bounded by a check in front of the jump
/// that some path skips: a branch (or a table's entry) lands after the
/// check and at or before the jump (a loop's `and` that a `je` jumps past).
/// Each is decoded again as if nothing checked its index.
fn bypassed_checks(function: &Function, limits: &BTreeMap<u64, Limit>) -> Vec<(u64, Limit)> {
    let targets = entered_at(function);
    function
        .jump_tables
        .iter()
        .filter(|(jmp, _)| !limits.get(jmp).is_some_and(|l| l.unchecked))
        .filter_map(|(&jmp, t)| {
            let from = t.bound_from?;
            targets.range(from + 1..=jmp).next()?;
            let limit = Limit {
                entries: 4096,
                proven: false,
                unchecked: true,
            };
            Some((jmp, limit))
        })
        .collect()
}

/// Where control enters `function` other than by falling through: the
/// targets of its branches and of its tables' entries.
fn entered_at(function: &Function) -> BTreeSet<u64> {
    let mut targets: BTreeSet<u64> = function
        .instructions
        .iter()
        .filter(|i| {
            matches!(
                i.flow_control(),
                FlowControl::ConditionalBranch | FlowControl::UnconditionalBranch
            ) && i.op0_kind() == OpKind::NearBranch64
        })
        .map(|i| i.near_branch_target())
        .collect();
    targets.extend(function.jump_tables.values().flat_map(|t| t.targets.iter().copied()));
    targets
}

/// The jump tables of `function` whose index the values reaching the jump
/// keep below the entries read (by guess): the entries they prove, each
/// table once.
fn proven_limits(function: &Function, limits: &BTreeMap<u64, Limit>) -> Vec<(u64, Limit)> {
    // (a computed goto's register holds an address, not an index: the
    // analysis cannot follow it to its labels, so it proves nothing here)
    if function.jump_tables.values().any(|t| t.by_address) {
        return Vec::new();
    }
    let tables: Vec<ranges::Table> = function
        .jump_tables
        .iter()
        .map(|(&jmp, t)| ranges::Table {
            jmp,
            index_at: t.index_at,
            index_register: t.index_register,
            targets: &t.targets,
        })
        .collect();
    let indices = ranges::table_indices(&function.instructions, function.address, &tables);
    tables
        .iter()
        .zip(indices)
        .filter_map(|(t, range)| {
            let (_, hi) = range?;
            let entries = hi as usize + 1;
            let earlier = limits.get(&t.jmp);
            let known = earlier.is_some_and(|l| l.proven);
            let limit = Limit {
                entries,
                proven: true,
                unchecked: earlier.is_some_and(|l| l.unchecked),
            };
            (!known && entries < t.targets.len()).then_some((t.jmp, limit))
        })
        .collect()
}

/// One try of [`decode_function`]: on failure, the error and the guessed
/// table entry that led to it, if one did.
fn decode_once<'a>(
    image: &'a Image,
    address: u64,
    returns: &mut Returns<'a>,
    limits: &BTreeMap<u64, Limit>,
) -> Result<Function, (TranspileError, Guess)> {
    let name = function_name(image, address);
    let end = image
        .function_at(address)
        .filter(|s| s.size > 0)
        .map(|s| s.address + s.size);
    if !image.is_code(address) {
        return Err((
            TranspileError::Decode {
                function: name,
                address,
                bytes: String::new(),
                reason: "address is not in an executable section".into(),
            },
            None,
        ));
    }
    let mut d = Decoding {
        image,
        limits,
        table_bases: Vec::new(),
        returns,
        taken: Vec::new(),
        function: Function {
            name,
            address,
            end,
            instructions: Vec::new(),
            calls: BTreeMap::new(),
            indirect: BTreeMap::new(),
            jump_tables: BTreeMap::new(),
            data_refs: BTreeMap::new(),
            unreadable: BTreeMap::new(),
        },
    };
    // instructions in the order decoded, and the addresses seen
    let guess = end.map_or(64, |e| {
        (e.saturating_sub(address) / 4).min(1 << 16) as usize
    });
    let mut instructions: Vec<Instruction> = Vec::with_capacity(guess);
    let mut seen = Seen::new(address, end);
    // each run of straight-line code: its first address, its instructions
    // and whether a guessed table entry led to it
    let mut runs: Vec<(u64, std::ops::Range<usize>, Guess)> = Vec::new();
    let mut decoder: Option<(u64, Decoder)> = None;
    let mut work: Vec<(u64, Guess)> = vec![(address, None)];
    while let Some((start, guess)) = work.pop() {
        let from = instructions.len();
        d.decode_run(start, guess, &mut decoder, &mut seen, &mut instructions, &mut work)
            .map_err(|e| (e, guess))?;
        if instructions.len() > from {
            runs.push((start, from..instructions.len(), guess));
        }
    }
    // the guess behind each instruction, by address (for the check below)
    let guesses: BTreeMap<u64, (u64, usize)> = runs
        .iter()
        .filter_map(|(_, range, guess)| guess.map(|g| (range.clone(), g)))
        .flat_map(|(range, g)| instructions[range].iter().map(move |i| (i.ip(), g)))
        .collect();
    // Runs are in address order inside; putting them in order of their
    // first address usually orders them all (copying instead of sorting
    // 40-byte instructions). A run that began inside another run's
    // instruction is out of order then: the full sort puts it next to the
    // instruction it overlaps, for the check below.
    if runs.len() > 1 {
        runs.sort_unstable_by_key(|r| r.0);
        let mut ordered = Vec::with_capacity(instructions.len());
        for (_, range, _) in &runs {
            ordered.extend_from_slice(&instructions[range.clone()]);
        }
        instructions = ordered;
    }
    if !instructions.is_sorted_by_key(|i| i.ip()) {
        instructions.sort_unstable_by_key(|i| i.ip());
    }
    // code reached at two offsets of one instruction: neighbours overlap
    if let Some(w) = instructions.windows(2).find(|w| w[0].next_ip() > w[1].ip()) {
        let guess = [w[1].ip(), w[0].ip()]
            .iter()
            .find_map(|ip| guesses.get(ip).copied());
        return Err((
            d.error(w[1].ip(), "a jump lands inside another instruction"),
            guess,
        ));
    }
    // a table's base must come from a `lea` of the table on every path
    for &(jmp, base, table) in &d.table_bases {
        if let Err(why) = base_reaches_jump(&instructions, &d.function, jmp, base, table) {
            return Err((
                d.error(
                    jmp,
                    format!(
                        "a jump table at {table:#x} based on {base:?}, but {why}: \
                         its table is unknown"
                    ),
                ),
                None,
            ));
        }
    }
    d.function.instructions = instructions;
    if let Some(at) = got_base_sum(image, &d.function.instructions) {
        return Err((
            d.error(
                at,
                "takes the GOT's address to add offsets to (gcc's -mcmodel=large with \
                 -fPIC), which the transpiler does not follow: build with the small or \
                 medium code model",
            ),
            None,
        ));
    }
    for (at, register, address) in std::mem::take(&mut d.taken) {
        if address_may_be_read(&d.function, at, register) {
            d.function.refers_to(address, WHOLE);
        }
    }
    for target in d.relative_table_targets() {
        d.function.refers_to(target, WHOLE);
    }
    Ok(d.function)
}

/// The `movabs` of `instructions` whose immediate, added to the target of
/// one of their `lea r, [rip+x]`, is the GOT's address (gcc's large code
/// model with -fPIC, however far apart the two are).
fn got_base_sum(image: &Image, instructions: &[Instruction]) -> Option<u64> {
    let got = |address: u64| {
        image
            .section_at(address)
            .is_some_and(|s| s.name.starts_with(".got") && s.address == address)
            || image
                .symbol("_GLOBAL_OFFSET_TABLE_")
                .is_some_and(|s| s.address == address)
    };
    let leas: Vec<u64> = instructions
        .iter()
        .filter(|i| i.mnemonic() == Mnemonic::Lea && i.is_ip_rel_memory_operand())
        .map(|i| i.ip_rel_memory_address())
        .collect();
    instructions
        .iter()
        .filter(|i| i.code() == Code::Mov_r64_imm64)
        .find(|i| leas.iter().any(|&t| got(t.wrapping_add(i.immediate64()))))
        .map(|i| i.ip())
}

/// Whether every path that reaches the jump `jmp` of `function` (its
/// `instructions`, sorted) last wrote `base` with `lea base, [rip+table]`:
/// walking back from the jump, each path meets such a `lea` before any other
/// write of the register, before the function's entry, and (for a register
/// a call may clobber: not callee-saved in the System V ABI) before any
/// call. Otherwise, why not.
fn base_reaches_jump(
    instructions: &[Instruction],
    function: &Function,
    jmp: u64,
    base: Register,
    table: u64,
) -> Result<(), String> {
    const CALLEE_SAVED: [Register; 6] = [
        Register::RBX,
        Register::RBP,
        Register::R12,
        Register::R13,
        Register::R14,
        Register::R15,
    ];
    let index_of = |ip: u64| instructions.binary_search_by_key(&ip, |i| i.ip()).ok();
    // predecessors of each instruction, by index
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); instructions.len()];
    for (k, ins) in instructions.iter().enumerate() {
        let mut successors: Vec<u64> = Vec::new();
        match ins.flow_control() {
            FlowControl::Next | FlowControl::Call | FlowControl::IndirectCall => {
                successors.push(ins.next_ip())
            }
            FlowControl::ConditionalBranch => {
                successors.push(ins.next_ip());
                successors.push(ins.near_branch_target());
            }
            FlowControl::UnconditionalBranch => successors.push(ins.near_branch_target()),
            FlowControl::IndirectBranch => {
                if let Some(table) = function.jump_tables.get(&ins.ip()) {
                    successors.extend(&table.targets);
                }
            }
            _ => {}
        }
        for t in successors.into_iter().filter_map(index_of) {
            preds[t].push(k);
        }
    }
    let mut info = InstructionInfoFactory::new();
    let writes_base = |info: &mut InstructionInfoFactory, ins: &Instruction| {
        info.info_options(ins, InstructionInfoOptions::NO_MEMORY_USAGE)
            .used_registers()
            .iter()
            .any(|u| {
                u.register().full_register() == base
                    && !matches!(u.access(), OpAccess::Read | OpAccess::CondRead)
            })
    };
    let Some(start) = index_of(jmp) else {
        return Err("the jump is not decoded".into());
    };
    let mut work = vec![start];
    let mut visited = FxHashSet::default();
    while let Some(k) = work.pop() {
        if !visited.insert(k) {
            continue;
        }
        for &p in &preds[k] {
            let ins = &instructions[p];
            let loads_table = ins.mnemonic() == Mnemonic::Lea
                && ins.is_ip_rel_memory_operand()
                && ins.op0_register().full_register() == base
                && ins.ip_rel_memory_address() == table;
            if loads_table {
                continue;
            }
            if writes_base(&mut info, ins) {
                return Err(format!("{:#x} writes it too", ins.ip()));
            }
            let call = matches!(ins.flow_control(), FlowControl::Call | FlowControl::IndirectCall);
            if call && !CALLEE_SAVED.contains(&base) {
                return Err(format!("the call at {:#x} may change it", ins.ip()));
            }
            work.push(p);
        }
        if instructions[k].ip() == function.address {
            return Err("a path from the function's entry does not load it".into());
        }
    }
    Ok(())
}

/// Whether the address `lea` at `at` put in `register` may be read: some
/// path from there mentions the register (any mention counts) or leaves it
/// to other code (a return, a tail jump, a call that returns, an indirect
/// jump) before it ends in a trap or a call that never returns. Past 256
/// instructions, yes.
fn address_may_be_read(function: &Function, at: u64, register: Register) -> bool {
    let instructions = &function.instructions;
    let index_of = |ip: u64| instructions.binary_search_by_key(&ip, |i| i.ip()).ok();
    let Some(start) = index_of(at) else {
        return true;
    };
    let mut work = vec![start + 1];
    let mut visited = FxHashSet::default();
    let mut steps = 0;
    while let Some(k) = work.pop() {
        let Some(ins) = instructions.get(k) else {
            return true;
        };
        if !visited.insert(k) {
            continue;
        }
        steps += 1;
        if steps > 256 {
            return true;
        }
        let mentions = (0..ins.op_count()).any(|op| match ins.op_kind(op) {
            OpKind::Register => ins.op_register(op).full_register() == register,
            OpKind::Memory => {
                ins.memory_base().full_register() == register
                    || ins.memory_index().full_register() == register
            }
            _ => false,
        });
        let call_target = function.calls.get(&ins.ip());
        match ins.flow_control() {
            FlowControl::Call | FlowControl::IndirectCall => {
                if call_target == Some(&Target::Trap) {
                    continue; // never returns: what it takes is never read
                }
                return true;
            }
            _ if mentions => return true,
            FlowControl::Next => work.push(k + 1),
            FlowControl::ConditionalBranch | FlowControl::UnconditionalBranch => {
                if call_target.is_some() {
                    return true; // a tail jump out of the function
                }
                match index_of(ins.near_branch_target()) {
                    Some(t) => work.push(t),
                    None => return true,
                }
                if ins.flow_control() == FlowControl::ConditionalBranch {
                    work.push(k + 1);
                }
            }
            FlowControl::IndirectBranch => match function.jump_tables.get(&ins.ip()) {
                Some(table) => {
                    for &t in &table.targets {
                        match index_of(t) {
                            Some(t) => work.push(t),
                            None => return true,
                        }
                    }
                }
                None => return true,
            },
            FlowControl::Exception | FlowControl::Interrupt => {} // ud2, int3
            _ => return true, // a return, anything else
        }
    }
    false
}

impl<'a> Decoding<'a, '_> {
    fn error(&self, address: u64, reason: impl Into<String>) -> TranspileError {
        let bytes = self
            .image
            .read(address, 8)
            .or_else(|| self.image.bytes_from(address));
        TranspileError::Decode {
            function: self.function.name.clone(),
            address,
            bytes: bytes.map(hex_bytes).unwrap_or_default(),
            reason: reason.into(),
        }
    }

    /// True when `target` lies in gcc's cold part of this function (`f.cold`
    /// or `f.cold.N`: its unlikely paths, moved to `.text.unlikely`, which
    /// jump back into it and may be a jump table's entries): code of the
    /// function, though its symbol is another.
    fn in_cold_part(&self, target: u64) -> bool {
        self.image.symbol_containing(target).is_some_and(|s| {
            s.name
                .strip_prefix(self.function.name.as_str())
                .is_some_and(|rest| rest == ".cold" || rest.starts_with(".cold."))
        })
    }

    /// `jmp reg` as a computed goto: the addresses of this function's own
    /// code held by the runs of pointers that start where the data it
    /// refers to or takes the address of so far starts (gcc's `static void *ops[] = {
    /// &&add, … }`), when its symbol's size says where it ends (so that a
    /// tail call through a register is never taken for one).
    fn computed_goto(&self, instruction: &Instruction) -> Option<JumpTable> {
        // the address in a register, or read by the jump itself (`jmp
        // [table + 8*i]`, the table's address in a register: -fPIC)
        let register = match instruction.op0_kind() {
            OpKind::Register if instruction.op0_register().size() == 8 => {
                instruction.op0_register()
            }
            // (an index scaled by 8: a table; a vtable's slot, `jmp [rax +
            // 0x18]`, is a tail call)
            OpKind::Memory
                if instruction.memory_size().size() == 8
                    && instruction.memory_index() != Register::None
                    && instruction.memory_index_scale() == 8 =>
            {
                Register::None
            }
            _ => return None,
        };
        let end = self.function.end?;
        // a relocated pointer, or in a file without relocations there (a
        // non-PIE executable's `.rodata`) the address it holds
        let label = |at: u64| {
            let a = match self.image.pointers.get(&at) {
                Some(Pointer::Address(a)) => *a,
                Some(Pointer::Import(_)) => return None,
                None if self.image.position_dependent => {
                    u64::from_le_bytes(self.image.read(at, 8)?.try_into().unwrap())
                }
                None => return None,
            };
            (a > self.function.address && a < end).then_some(a)
        };
        let mut targets: Vec<u64> = Vec::new();
        let taken = self.taken.iter().map(|&(_, _, address)| address);
        for start in taken.chain(self.function.data_refs.keys().copied()) {
            let mut at = start;
            while let Some(a) = label(at) {
                targets.push(a);
                at += 8;
            }
        }
        targets.sort_unstable();
        targets.dedup();
        (!targets.is_empty()).then_some(JumpTable {
            index_at: instruction.ip(),
            index_register: register,
            targets,
            bound_from: None,
            by_address: true,
        })
    }

    fn inside(&self, target: u64) -> bool {
        if target == self.function.address || self.in_cold_part(target) {
            return true;
        }
        if self.image.function_at(target).is_some() {
            return false;
        }
        match self.function.end {
            Some(end) => target > self.function.address && target < end,
            None => self.image.is_code(target),
        }
    }

    /// Decodes straight-line code from `start` until an unconditional transfer
    /// or code already decoded; queues branch targets on `work`.
    fn decode_run(
        &mut self,
        start: u64,
        guess: Guess,
        decoder: &mut Option<(u64, Decoder<'a>)>,
        seen: &mut Seen,
        decoded: &mut Vec<Instruction>,
        work: &mut Vec<(u64, Guess)>,
    ) -> Result<(), TranspileError> {
        if seen.contains(start) {
            return Ok(());
        }
        // one decoder per section, moved to each run (making one costs
        // about as much as decoding several instructions)
        let decoder = match decoder {
            Some((base, d)) if start >= *base && start - *base < d.max_position() as u64 => {
                d.set_position((start - *base) as usize)
                    .map_err(|_| self.error(start, "code address not mapped"))?;
                d.set_ip(start);
                d
            }
            _ => {
                let section = self
                    .image
                    .section_at(start)
                    .filter(|s| !s.bytes.is_empty())
                    .ok_or_else(|| self.error(start, "code address not mapped"))?;
                let mut d =
                    Decoder::with_ip(64, &section.bytes, section.address, DecoderOptions::NONE);
                d.set_position((start - section.address) as usize)
                    .map_err(|_| self.error(start, "code address not mapped"))?;
                d.set_ip(start);
                &mut decoder.insert((section.address, d)).1
            }
        };
        let run_start = decoded.len(); // this run is `decoded[run_start..]`
        // every call of the function runs this far (from its entry, no
        // branch yet)
        let mut every_call = start == self.function.address && run_start == 0;
        let mut instruction = Instruction::default();
        loop {
            if !decoder.can_decode() {
                return Err(self.error(decoder.ip(), "code runs off the end of its section"));
            }
            let ip = decoder.ip();
            if ip != start && seen.contains(ip) {
                break; // falls through into code we have
            }
            decoder.decode_out(&mut instruction);
            if instruction.code() == Code::INVALID {
                return Err(self.error(
                    ip,
                    format!("invalid instruction ({:?})", decoder.last_error()),
                ));
            }
            if decoded.len() >= MAX_INSTRUCTIONS {
                return Err(self.error(ip, "function too large"));
            }
            if let Some(field) = thread_descriptor_field(self.image, &instruction) {
                // libc's `struct pthread` lies past the thread pointer; a
                // module's thread has only its first words (its own address,
                // the canary), so a field past them (the thread id at
                // fs:0x2d0, via pthread_self's fs:0x10) would read zeros
                return Err(self.error(
                    ip,
                    format!(
                        "reads the thread's descriptor (fs:{field:#x}), which a module's \
                         thread does not have"
                    ),
                ));
            }
            if matches!(instruction.mnemonic(), Mnemonic::Syscall | Mnemonic::Sysenter) {
                // (refused here, by the function's name, rather than when
                // lowered: a function only data reaches is then left out
                // with all it pulled in)
                return Err(TranspileError::SystemCall {
                    function: self.function.name.clone(),
                    address: ip,
                });
            }
            seen.insert(ip);
            decoded.push(instruction);
            if self.takes_got_base(&instruction) {
                // the GOT's address, to add offsets to (the large code
                // model, -mcmodel=large -fPIC): what those reach is not told
                return Err(self.error(
                    ip,
                    "takes the GOT's address to add offsets to (gcc's -mcmodel=large \
                     with -fPIC), which the transpiler does not follow: build with the \
                     small or medium code model",
                ));
            }
            if let Some(what) = data::run_time_state_load(self.image, &instruction) {
                // the module has no copy of it: the load traps and the path
                // ends here (the slot is not placed); where every call
                // would trap, the function is refused
                if every_call {
                    return Err(TranspileError::Data {
                        function: self.function.name.clone(),
                        address: instruction.ip_rel_memory_address(),
                        reason: format!("it is {what}: a module has no copy of it"),
                    });
                }
                self.function.unreadable.insert(ip, what);
                break;
            }
            self.note_references(&instruction);
            match instruction.flow_control() {
                FlowControl::Next => {}
                FlowControl::ConditionalBranch => {
                    every_call = false;
                    let target = instruction.near_branch_target();
                    if instruction.mnemonic() != Mnemonic::Jrcxz
                        && instruction.mnemonic() != Mnemonic::Jecxz
                        && instruction.condition_code() == iced_x86::ConditionCode::None
                    {
                        return Err(self.unsupported(&instruction));
                    }
                    if self.inside(target) {
                        work.push((target, guess));
                    } else {
                        // a conditional tail call (`jne other_function`)
                        let t = self.call_target(ip, target)?;
                        self.function.calls.insert(ip, t);
                    }
                }
                FlowControl::UnconditionalBranch => {
                    if instruction.op0_kind() == OpKind::NearBranch64 {
                        let target = instruction.near_branch_target();
                        if self.inside(target) {
                            work.push((target, guess));
                        } else {
                            let t = self.call_target(ip, target)?;
                            self.function.calls.insert(ip, t);
                        }
                    } else {
                        return Err(self.unsupported(&instruction));
                    }
                    break;
                }
                FlowControl::IndirectBranch => {
                    if let Some((table, proven)) =
                        self.jump_table(&instruction, decoded, run_start)?
                    {
                        // code reached through a guessed entry is a guess
                        // too (a run from a guess keeps the first guess)
                        work.extend(table.targets.iter().enumerate().map(|(k, &t)| {
                            (t, guess.or((k >= proven).then_some((ip, k))))
                        }));
                        self.function.jump_tables.insert(ip, table);
                    } else if let Some(t) = self.indirect_target(&instruction)? {
                        self.function.calls.insert(ip, t);
                    } else if let Some(table) = self.computed_goto(&instruction) {
                        work.extend(table.targets.iter().map(|&t| (t, guess)));
                        self.function.jump_tables.insert(ip, table);
                    }
                    // Otherwise an indirect tail call through a register or a
                    // pointer in memory, dispatched over `indirect` at lowering.
                    break;
                }
                FlowControl::Call => {
                    let t = if followed_by_trap(self.image, &instruction) {
                        Target::Trap
                    } else {
                        self.call_target(ip, instruction.near_branch_target())?
                    };
                    self.function.calls.insert(ip, t);
                    if self.function.calls[&ip] == Target::Trap {
                        break;
                    }
                }
                FlowControl::IndirectCall => {
                    if followed_by_trap(self.image, &instruction) {
                        self.function.calls.insert(ip, Target::Trap);
                        break;
                    }
                    if let Some(t) = self.indirect_target(&instruction)? {
                        // `call [rip+GOT]`: the slot's function is known
                        let t = self.unless_it_never_returns(t);
                        let trap = t == Target::Trap;
                        self.function.calls.insert(ip, t);
                        if trap {
                            break;
                        }
                    }
                    // otherwise a call through a register or a pointer in
                    // memory: dispatched over `indirect` at lowering
                }
                FlowControl::Return | FlowControl::Exception | FlowControl::Interrupt => break,
                FlowControl::XbeginXabortXend => return Err(self.unsupported(&instruction)),
            }
        }
        Ok(())
    }

    /// The data a relative lookup table points to. LLVM turns a `match`
    /// that picks a value (a `&str`, say) into a table of 32-bit offsets
    /// from the table's own address: `lea b, [rip+table]; movsxd r,
    /// [b+i*4]; … [r+b]`. The offsets are no relocations, so the data they
    /// name is found here: each entry the index may reach (a checked bound,
    /// or while entries name data) plus the table's address, when it lies
    /// in an object the module can place whole.
    fn relative_table_targets(&self) -> Vec<u64> {
        let f = &self.function;
        let jump_loads: FxHashSet<u64> = f.jump_tables.values().map(|t| t.index_at).collect();
        let entered = entered_at(f);
        let mut targets = Vec::new();
        for (k, ins) in f.instructions.iter().enumerate() {
            let is_load = ins.mnemonic() == Mnemonic::Movsxd
                && ins.op1_kind() == OpKind::Memory
                && ins.memory_index_scale() == 4
                && ins.memory_displacement64() == 0
                && ins.memory_base() != Register::None
                && !ins.is_ip_rel_memory_operand();
            if !is_load || jump_loads.contains(&ins.ip()) {
                continue;
            }
            // the base's `lea` in the straight line before the load
            let base = ins.memory_base().full_register();
            let Some(lea) = f.instructions[k.saturating_sub(16)..k]
                .iter()
                .rev()
                .take_while(|i| i.flow_control() == FlowControl::Next)
                .find(|i| {
                    i.op_count() > 0
                        && i.op0_kind() == OpKind::Register
                        && i.op0_register().full_register() == base
                })
                .filter(|i| i.mnemonic() == Mnemonic::Lea && i.is_ip_rel_memory_operand())
            else {
                continue;
            };
            let table = lea.ip_rel_memory_address();
            if self.image.is_code(table) {
                continue;
            }
            let bound = self.table_bound(&f.instructions[..k], ins.memory_index());
            // (a check that a path enters past bounds nothing)
            let bypassed = bound
                .from
                .is_some_and(|from| entered.range(from + 1..=ins.ip()).next().is_some());
            let count = if bound.checked && !bypassed {
                bound.count.unwrap_or(0).min(4096)
            } else {
                64
            };
            for entry in 0..count {
                let Some(bytes) = self.image.read(table + 4 * entry, 4) else {
                    break;
                };
                let offset = i32::from_le_bytes(bytes.try_into().unwrap()) as i64 as u64;
                let target = table.wrapping_add(offset);
                let placeable = self.image.section_at(target).is_some()
                    && !self.image.is_code(target)
                    && match self.image.symbol_containing(target) {
                        Some(s) => !s.is_function,
                        None => self
                            .image
                            .next_symbol_after(target)
                            .is_some_and(|s| s.address - target <= 1 << 16),
                    };
                if !placeable {
                    if bound.checked {
                        continue;
                    }
                    break; // past the table (the bound was a guess)
                }
                targets.push(target);
            }
        }
        targets
    }

    fn unsupported(&self, instruction: &Instruction) -> TranspileError {
        let bytes = self
            .image
            .read(instruction.ip(), instruction.len())
            .unwrap_or(&[]);
        TranspileError::Unsupported {
            function: self.function.name.clone(),
            address: instruction.ip(),
            bytes: hex_bytes(bytes),
            mnemonic: format!("{instruction}"),
        }
    }

    /// True when `instruction` takes the address of the GOT itself, to add
    /// offsets to (`lea r, [rip+GOT]`: gcc's large code model with -fPIC;
    /// the other form, `lea` of the code and a `movabs` to add, is found
    /// once the function is decoded: [`got_base_sum`]).
    fn takes_got_base(&self, instruction: &Instruction) -> bool {
        if instruction.mnemonic() != Mnemonic::Lea || !instruction.is_ip_rel_memory_operand() {
            return false;
        }
        let address = instruction.ip_rel_memory_address();
        // (a slot of run-time state is refused as that, once its data is
        // walked: a general-dynamic thread-local access takes its pair)
        self.image
            .section_at(address)
            .is_some_and(|s| s.name.starts_with(".got"))
            && self.image.run_time_state_in(address, address + 8).is_none()
    }

    /// Records data addresses and function addresses taken by this instruction.
    fn note_references(&mut self, instruction: &Instruction) {
        // a non-PIE program's address as an immediate (`mov edi, offset
        // table`, `push offset x`; `movabs` in the large code model): an
        // address taken, as by `lea`; data stored to memory, one the
        // program may read
        if self.image.position_dependent {
            for op in 0..instruction.op_count() {
                if !matches!(
                    instruction.op_kind(op),
                    OpKind::Immediate32 | OpKind::Immediate32to64 | OpKind::Immediate64
                ) {
                    continue;
                }
                let address = instruction.immediate(op);
                if self.image.function_at(address).is_some() {
                    // a function's address (`movabs rax, offset f; call
                    // rax`), as `lea reg, [rip+f]` takes it
                    if let Ok(t) = self.resolve(instruction.ip(), address) {
                        self.function.indirect.insert(address, t);
                    }
                    continue;
                }
                if self.image.section_at(address).is_none_or(|s| s.executable) {
                    continue;
                }
                match instruction.op0_kind() {
                    OpKind::Register if instruction.mnemonic() == Mnemonic::Mov => {
                        let register = instruction.op0_register().full_register();
                        self.taken.push((instruction.ip(), register, address));
                    }
                    _ => self.function.refers_to(address, WHOLE),
                }
            }
        }
        for op in 0..instruction.op_count() {
            if instruction.op_kind(op) != OpKind::Memory {
                continue;
            }
            let address = if instruction.is_ip_rel_memory_operand() {
                instruction.ip_rel_memory_address()
            } else if instruction.memory_base() == Register::None
                && instruction.memory_displacement64() != 0
            {
                instruction.memory_displacement64() // absolute (non-PIE) address
            } else {
                continue;
            };
            let is_lea = instruction.mnemonic() == Mnemonic::Lea;
            if is_lea && !self.image.is_code(address) {
                // an address taken: data if anything may read it (decided
                // once the function is decoded)
                let register = instruction.op0_register().full_register();
                self.taken.push((instruction.ip(), register, address));
                continue;
            }
            if is_lea && self.image.is_code(address) {
                // `lea reg, [rip+f]` takes a function's address.
                if self.image.function_at(address).is_some() {
                    if let Ok(t) = self.resolve(instruction.ip(), address) {
                        self.function.indirect.insert(address, t);
                    }
                }
                continue;
            }
            if !is_lea && instruction.mnemonic() == Mnemonic::Mov {
                if let Some(pointer) = self.image.pointer_at(address).cloned() {
                    let value = match &pointer {
                        Pointer::Address(a) => Some(*a),
                        Pointer::Import(name) => self.image.import_value(name),
                    };
                    if let (Ok(t), Some(value)) =
                        (self.resolve_pointer(instruction.ip(), &pointer), value)
                    {
                        self.function.indirect.insert(value, t);
                    }
                }
            }
            // One read of the operand's size, unless an index register
            // (non-PIE code: `mov eax, [table + rcx*4]`) reaches further.
            let bytes = if instruction.memory_index() == Register::None {
                (instruction.memory_size().size() as u64).max(1)
            } else {
                WHOLE
            };
            self.function.refers_to(address, bytes);
        }
    }

    /// The target of `call [rip+slot]` / `jmp [rip+slot]`; None for a register.
    fn indirect_target(&self, instruction: &Instruction) -> Result<Option<Target>, TranspileError> {
        if instruction.op0_kind() != OpKind::Memory {
            return Ok(None);
        }
        let slot = if instruction.is_ip_rel_memory_operand() {
            instruction.ip_rel_memory_address()
        } else if instruction.memory_base() == Register::None
            && instruction.memory_index() == Register::None
        {
            instruction.memory_displacement64()
        } else {
            return Ok(None);
        };
        match self.image.pointer_at(slot).cloned() {
            Some(p) => self.resolve_pointer(instruction.ip(), &p).map(Some),
            None => Err(TranspileError::Callee {
                function: self.function.name.clone(),
                address: instruction.ip(),
                callee: format!("the pointer at {slot:#x}"),
                reason: "no relocation says what this slot holds".into(),
            }),
        }
    }

    fn resolve_pointer(&self, at: u64, pointer: &Pointer) -> Result<Target, TranspileError> {
        match pointer {
            Pointer::Address(a) => self.resolve(at, *a),
            Pointer::Import(name) => self.resolve_import(at, name),
        }
    }

    fn resolve_import(&self, at: u64, name: &str) -> Result<Target, TranspileError> {
        if let Some(b) = Builtin::by_name(name) {
            return Ok(Target::Builtin(b));
        }
        if import_never_returns(name) || is_panic_name(name) {
            return Ok(Target::Trap);
        }
        Err(TranspileError::Callee {
            function: self.function.name.clone(),
            address: at,
            callee: format!("imported `{name}`"),
            reason: format!(
                "the module provides only {} (and Rust's allocator)",
                Builtin::provided()
            ),
        })
    }

    /// What a call or tail jump to `target` does: a function that never
    /// returns (proven from its code; when that cannot be told, a known
    /// panic entry point by name) is a trap, anything else as [`resolve`]
    /// says.
    ///
    /// [`resolve`]: Decoding::resolve
    fn call_target(&mut self, at: u64, target: u64) -> Result<Target, TranspileError> {
        let resolved = self.resolve(at, target)?;
        Ok(self.unless_it_never_returns(resolved))
    }

    /// `Target::Trap` for a function that never returns (see
    /// [`call_target`](Decoding::call_target)), else `resolved` itself.
    fn unless_it_never_returns(&mut self, resolved: Target) -> Target {
        let Target::Function(callee) = resolved else {
            return resolved;
        };
        let never = match self.returns.of(callee) {
            Verdict::Never => true,
            Verdict::MayReturn => false,
            Verdict::Unknown => self
                .image
                .function_at(callee)
                .is_some_and(|s| is_panic_name(&s.name)),
        };
        if never {
            Target::Trap
        } else {
            resolved
        }
    }

    /// What a call to `target` reaches: PLT stubs are followed to their GOT slot.
    fn resolve(&self, at: u64, target: u64) -> Result<Target, TranspileError> {
        if let Some(name) = self.image.import_at(target) {
            return self.resolve_import(at, name);
        }
        let in_plt = self
            .image
            .section_at(target)
            .is_some_and(|s| s.name.starts_with(".plt"));
        if in_plt {
            return match self.plt_slot(target) {
                Some(p) => self.resolve_pointer(at, &p),
                None => Err(TranspileError::Callee {
                    function: self.function.name.clone(),
                    address: at,
                    callee: self.image.describe(target),
                    reason: "PLT stub without a resolvable GOT slot".into(),
                }),
            };
        }
        if let Some(symbol) = self.image.function_at(target) {
            // a statically linked memcpy & co. (vectorised, ifunc-dispatched)
            // is replaced by the module's own; a libm function the binary
            // carries is its real code and is transpiled like any other
            if let Some(b) = Builtin::by_name(&symbol.name).filter(|b| !b.is_float()) {
                return Ok(Target::Builtin(b));
            }
        }
        if self.image.is_code(target) {
            return Ok(Target::Function(target));
        }
        Err(TranspileError::Callee {
            function: self.function.name.clone(),
            address: at,
            callee: self.image.describe(target),
            reason: "target is not code of this binary".into(),
        })
    }

    /// The GOT slot a PLT stub jumps through (`endbr64; bnd jmp [rip+x]` and friends).
    fn plt_slot(&self, stub: u64) -> Option<Pointer> {
        let bytes = self.image.bytes_from(stub)?;
        let mut decoder = Decoder::with_ip(64, bytes, stub, DecoderOptions::NONE);
        for _ in 0..4 {
            let i = decoder.decode();
            if i.mnemonic() == Mnemonic::Jmp && i.is_ip_rel_memory_operand() {
                return self.image.pointer_at(i.ip_rel_memory_address()).cloned();
            }
        }
        None
    }

    /// Recognises a jump table ending in `jmp` (the last instruction of
    /// `run`): the table, and how many of its entries the code proves
    /// (see [`TableBound`]).
    fn jump_table(
        &mut self,
        jmp: &Instruction,
        decoded: &[Instruction],
        run_start: usize,
    ) -> Result<Option<(JumpTable, usize)>, TranspileError> {
        let run = &decoded[run_start..];
        let before = &run[..run.len() - 1];
        // Non-PIE: jmp qword ptr [table + 8*idx]
        if jmp.op0_kind() == OpKind::Memory {
            if jmp.memory_base() != Register::None
                || jmp.memory_index() == Register::None
                || jmp.memory_index_scale() != 8
            {
                return Ok(None);
            }
            let table = jmp.memory_displacement64();
            let index = jmp.memory_index();
            let bound = self.bound_of(jmp.ip(), before, index);
            let targets = self.table_entries(jmp.ip(), table, 8, bound, |image, at| {
                image
                    .read(at, 8)
                    .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
            })?;
            return Ok(targets.map(|(targets, proven)| {
                (
                    JumpTable {
                        index_at: jmp.ip(),
                        index_register: index,
                        targets,
                        bound_from: bound.from,
                        by_address: false,
                    },
                    proven,
                )
            }));
        }
        // PIE: lea base,[rip+table]; movsxd r,[base+4*idx]; add r,base; jmp r
        let target_reg = jmp.op0_register();
        let mut i = before.len();
        let writes = |ins: &Instruction, reg: Register| {
            ins.op_count() > 0
                && ins.op0_kind() == OpKind::Register
                && ins.op0_register().full_register() == reg.full_register()
        };
        // find `add target_reg, base`
        let add = loop {
            if i == 0 {
                return Ok(None);
            }
            i -= 1;
            if writes(&before[i], target_reg) {
                break before[i];
            }
        };
        if add.mnemonic() != Mnemonic::Add || add.op1_kind() != OpKind::Register {
            return Ok(None);
        }
        let other = add.op1_register();
        // find the load into target_reg (or into `other`, when the add is reversed)
        let mut load = None;
        let mut table = None;
        for ins in before[..i].iter().rev() {
            // (an entry at `[base + 4*idx + disp]` with a displacement is
            // another shape: entry idx + disp/4, not taken)
            if load.is_none()
                && (writes(ins, target_reg) || writes(ins, other))
                && matches!(ins.mnemonic(), Mnemonic::Movsxd)
                && ins.op1_kind() == OpKind::Memory
                && ins.memory_index_scale() == 4
                && ins.memory_displacement64() == 0
            {
                load = Some(*ins);
                continue;
            }
            if let Some(l) = load {
                if ins.mnemonic() == Mnemonic::Lea
                    && ins.is_ip_rel_memory_operand()
                    && ins.op0_register().full_register() == l.memory_base().full_register()
                {
                    table = Some(ins.ip_rel_memory_address());
                    break;
                }
            }
        }
        // The base may be loaded once, before a loop, in another run
        // (`lea r15, [rip+table]` in the prologue): taken when the function
        // has one such `lea` of the register. Either way, that the `lea`'s
        // value reaches the jump is checked once the function is decoded.
        if let (Some(l), None) = (load, table) {
            let base = l.memory_base().full_register();
            let mut loads = decoded[..run_start]
                .iter()
                .filter(|ins| {
                    ins.mnemonic() == Mnemonic::Lea
                        && ins.is_ip_rel_memory_operand()
                        && ins.op0_register().full_register() == base
                })
                .map(|ins| ins.ip_rel_memory_address());
            // (LLVM may load it again after using the register for
            // something else: every such `lea` must name the one table)
            if let Some(first) = loads.next() {
                if loads.all(|t| t == first) {
                    table = Some(first);
                }
            }
        }
        let (Some(load), Some(table)) = (load, table) else {
            return Ok(None);
        };
        self.table_bases
            .push((jmp.ip(), load.memory_base().full_register(), table));
        let index = load.memory_index().full_register();
        let before_load = &before[..run.iter().position(|x| x.ip() == load.ip()).unwrap_or(0)];
        let bound = self.bound_of(jmp.ip(), before_load, index);
        let targets = self.table_entries(jmp.ip(), table, 4, bound, |image, at| {
            image.read(at, 4).map(|b| {
                table.wrapping_add(i32::from_le_bytes(b.try_into().unwrap()) as i64 as u64)
            })
        })?;
        Ok(targets.map(|(targets, proven)| {
            (
                JumpTable {
                    index_at: load.ip(),
                    index_register: index,
                    targets,
                    bound_from: bound.from,
                    by_address: false,
                },
                proven,
            )
        }))
    }

    /// [`Decoding::table_bound`], unless an earlier try found that a path
    /// enters between its check and the jump (then nothing bounds it).
    fn bound_of(&self, jmp: u64, before: &[Instruction], index: Register) -> TableBound {
        match self.limits.get(&jmp) {
            Some(limit) if limit.unchecked => TableBound {
                count: None,
                from: None,
                checked: false,
            },
            _ => self.table_bound(before, index),
        }
    }

    /// The entry count the code before the table proves: a bounds check
    /// `cmp idx, N` + `ja`/`jae`, or a mask `and idx, N` (`match k % 4`
    /// compiles to `and ecx, 3`), or (not `checked`) a byte zero-extended
    /// into the index.
    fn table_bound(&self, before: &[Instruction], index: Register) -> TableBound {
        let mut tracked: Vec<Register> = vec![index.full_register()];
        // A byte bounds the index to 256; a check on the byte can do better.
        let mut byte = None;
        let tighter = |bound: Option<u64>, byte: Option<u64>, from: u64| match (bound, byte) {
            (Some(a), Some(b)) => TableBound {
                count: Some(a.min(b)),
                from: Some(from),
                checked: true,
            },
            (Some(a), None) => TableBound {
                count: Some(a),
                from: Some(from),
                checked: true,
            },
            (None, b) => TableBound {
                count: b,
                from: None,
                checked: false,
            },
        };
        let unchecked = |byte: Option<u64>| TableBound {
            count: byte,
            from: None,
            checked: false,
        };
        let n = before.len();
        for k in (0..n).rev().take(16) {
            let ins = &before[k];
            let on_index = ins.op_count() > 0
                && ins.op0_kind() == OpKind::Register
                && tracked.contains(&ins.op0_register().full_register());
            if on_index
                && ins.mnemonic() == Mnemonic::Movzx
                && ins.op1_kind() == OpKind::Register
                && ins.op1_register().size() == 1
            {
                byte = Some(256);
                tracked.push(ins.op1_register().full_register());
                continue;
            }
            // follow `mov`/`movzx` copies backwards
            if matches!(ins.mnemonic(), Mnemonic::Mov | Mnemonic::Movzx)
                && ins.op0_kind() == OpKind::Register
                && ins.op1_kind() == OpKind::Register
                && tracked.contains(&ins.op0_register().full_register())
            {
                tracked.push(ins.op1_register().full_register());
                continue;
            }
            let immediate = matches!(
                ins.op1_kind(),
                OpKind::Immediate8to32
                    | OpKind::Immediate32
                    | OpKind::Immediate8to64
                    | OpKind::Immediate32to64
                    | OpKind::Immediate8
                    | OpKind::Immediate16
            );
            if on_index && ins.mnemonic() == Mnemonic::And && immediate {
                // the index is at most the mask (a negative mask bounds nothing)
                let mask = ins.immediate(1) as i64;
                let bound = (0..4096).contains(&mask).then_some(mask as u64 + 1);
                return tighter(bound, byte, ins.ip());
            }
            let reads_only = matches!(
                ins.mnemonic(),
                Mnemonic::Cmp | Mnemonic::Test | Mnemonic::Bt | Mnemonic::Push
            );
            if on_index && !reads_only {
                return unchecked(byte); // the index was computed here some other way
            }
            if ins.mnemonic() == Mnemonic::Cmp
                && ins.op0_kind() == OpKind::Register
                && tracked.contains(&ins.op0_register().full_register())
                && matches!(
                    ins.op1_kind(),
                    OpKind::Immediate8to32
                        | OpKind::Immediate32
                        | OpKind::Immediate8to64
                        | OpKind::Immediate32to64
                        | OpKind::Immediate8
                        | OpKind::Immediate16
                )
            {
                // A compare of a byte or word bounds the index only when the
                // index is that byte, zero-extended.
                let size = ins.op0_register().size();
                if !(size >= 4 || (size == 1 && byte.is_some())) {
                    return unchecked(byte);
                }
                let bound = ins.immediate(1);
                // the branch after the cmp decides inclusive vs exclusive
                let checked = match before.get(k + 1).map(|j| j.mnemonic()) {
                    Some(Mnemonic::Ja) => Some(bound + 1),
                    Some(Mnemonic::Jae) => Some(bound),
                    _ => None,
                };
                return tighter(checked, byte, ins.ip());
            }
        }
        unchecked(byte)
    }

    /// Reads the table's entries of `entry_size` bytes: at most `count` (a
    /// proven bound on the index; 4,096 without one), and only up to the
    /// first that is not code of this function or the next symbol. An index
    /// past them traps at run time (the switch's default): a table read
    /// short (a bound from a zero-extended byte reaches past a five-entry
    /// table into the next one) never sends an index to the wrong place,
    /// since the code could not have jumped there either.
    fn table_entries(
        &self,
        jmp: u64,
        table: u64,
        entry_size: u64,
        bound: TableBound,
        entry: impl Fn(&Image, u64) -> Option<u64>,
    ) -> Result<Option<(Vec<u64>, usize)>, TranspileError> {
        let end = self
            .image
            .next_symbol_after(table)
            .map_or(u64::MAX, |s| s.address);
        let limit = self.limits.get(&jmp).copied().unwrap_or(Limit {
            entries: 4096,
            proven: false,
            unchecked: false,
        });
        if limit.entries == 0 {
            return Err(self.error(
                jmp,
                "a jump table whose first entry is no instruction of this function \
                 (nothing before the jump bounds its index)",
            ));
        }
        // entries read now must be the ones the jump reads then
        if self.image.section_at(table).is_none_or(|s| s.mutable)
            || self.image.run_time_state_in(table, table + entry_size).is_some()
        {
            return Err(self.error(
                jmp,
                format!(
                    "a jump table at {table:#x} in writable data: the program may change \
                     its entries while it runs"
                ),
            ));
        }
        let count = bound.count.unwrap_or(4096).min(4096).min(limit.entries as u64);
        let targets: Vec<u64> = (0..count)
            .map_while(|k| {
                let at = table + k * entry_size;
                let t = entry(self.image, at)?;
                (at + entry_size <= end && self.inside(t)).then_some(t)
            })
            .collect();
        // entries past a checked or proven bound are never read; without
        // one, each entry but the first is a guess the decoding of its
        // target confirms
        let proven = if bound.checked || limit.proven { targets.len() } else { 1 };
        Ok((!targets.is_empty()).then_some((targets, proven)))
    }
}

/// True when the instruction after `call` is `ud2` (or nothing): rustc puts
/// `ud2` after every call that cannot return, such as a panic.
fn followed_by_trap(image: &Image, call: &Instruction) -> bool {
    let bytes = image.bytes_from(call.next_ip()).unwrap_or(&[]);
    let mut decoder = Decoder::with_ip(64, bytes, call.next_ip(), DecoderOptions::NONE);
    !decoder.can_decode() || decoder.decode().mnemonic() == Mnemonic::Ud2
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `code` at 0x1000 as one function `f` (its symbol sized to
    /// the code when `sized`).
    fn decode_code(code: &[u8], sized: bool) -> Result<Function, TranspileError> {
        let size = if sized { code.len() as u64 } else { 0 };
        let image = Image::from_code(0x1000, code, &[("f", 0x1000, size)]);
        decode(&image, &[0x1000]).map(|p| p.functions.into_iter().next().unwrap())
    }

    /// Runs are decoded out of address order (a forward jump, code after
    /// it, a backward jump): the instructions come out in address order all
    /// the same, with or without the symbol's size.
    #[test]
    fn instructions_come_out_in_address_order() {
        let code = [
            0x31, 0xc0, // 1000 xor eax, eax
            0xeb, 0x04, // 1002 jmp 1008
            0xff, 0xc0, // 1004 inc eax
            0xeb, 0x04, // 1006 jmp 100c
            0x85, 0xc0, // 1008 test eax, eax
            0x74, 0xf8, // 100a je 1004
            0xc3, // 100c ret
        ];
        for sized in [true, false] {
            let f = decode_code(&code, sized).unwrap();
            let ips: Vec<u64> = f.instructions.iter().map(|i| i.ip()).collect();
            assert_eq!(
                ips,
                [0x1000, 0x1002, 0x1004, 0x1006, 0x1008, 0x100a, 0x100c]
            );
        }
    }

    /// `lea r15, [rip+table]`, then 7 bytes of `between`, then a bounded
    /// jump through the table (three cases at 101c, 1022, 1028), then the
    /// table (as gcc -O2 writes it; `as` made the bytes).
    fn table_through_r15(between: [u8; 7]) -> Vec<u8> {
        let mut code = vec![0x4c, 0x8d, 0x3d, 0x2d, 0x00, 0x00, 0x00]; // lea r15, [rip+0x2d]
        code.extend(between);
        code.extend([
            0x83, 0xff, 0x02, // 100e cmp edi, 2
            0x77, 0x1b, // 1011 ja 102e
            0x49, 0x63, 0x04, 0xbf, // 1013 movsxd rax, [r15+rdi*4]
            0x4c, 0x01, 0xf8, // 1017 add rax, r15
            0xff, 0xe0, // 101a jmp rax
            0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3, // 101c mov eax, 1; ret
            0xb8, 0x02, 0x00, 0x00, 0x00, 0xc3, // 1022 mov eax, 2; ret
            0xb8, 0x03, 0x00, 0x00, 0x00, 0xc3, // 1028 mov eax, 3; ret
            0x31, 0xc0, 0xc3, // 102e xor eax, eax; ret
            0x0f, 0x1f, 0x00, // 1031 nop
            0xe8, 0xff, 0xff, 0xff, 0xee, 0xff, 0xff, 0xff, 0xf4, 0xff, 0xff, 0xff, // 1034 table
        ]);
        code
    }

    /// A jump table's base is taken from the `lea` that loads it, in the
    /// jump's run or (hoisted before a loop) in another, only when every
    /// path to the jump last wrote the register there.
    #[test]
    fn a_table_base_is_the_lea_that_reaches_the_jump() {
        // (the 7 bytes, the table's targets or what the error says)
        type Case = ([u8; 7], Result<&'static [u64], &'static str>);
        let cases: [Case; 3] = [
            // nops: the lea is in the jump's run
            ([0x90; 7], Ok(&[0x101c, 0x1022, 0x1028])),
            // jmp 100e: the jump's run starts past the lea
            ([0xeb, 0x05, 0x90, 0x90, 0x90, 0x90, 0x90], Ok(&[0x101c, 0x1022, 0x1028])),
            // test esi, esi; je 100e; mov r15, rdx: on one path r15 is not the table
            (
                [0x85, 0xf6, 0x74, 0x03, 0x49, 0x89, 0xd7],
                Err("0x100b writes it too"),
            ),
        ];
        for (between, want) in cases {
            let got = decode_code(&table_through_r15(between), true);
            match (got, want) {
                (Ok(f), Ok(targets)) => {
                    let table = f.jump_tables.get(&0x101a).expect("a jump table");
                    assert_eq!(table.targets, targets, "{between:02x?}");
                }
                (Err(e), Err(why)) => {
                    let e = e.to_string();
                    assert!(e.contains(why) && e.contains("0x101a"), "{e}");
                }
                (got, want) => panic!("{between:02x?}: {got:?}, want {want:?}"),
            }
        }
    }

    /// A state machine's table with no check in front of it: the states
    /// that reach the jump (0, 1, 2, each set by a constant) keep its three
    /// entries; the two words after them, which name code of the function
    /// too and which a guess would take, are left out, and so is the code
    /// only they reach.
    #[test]
    fn a_table_is_bounded_by_the_states_that_reach_it() {
        let code = [
            0x48, 0x8d, 0x15, 0x21, 0x00, 0x00, 0x00, // 1000 lea rdx, [rip+table]
            0xb1, 0x00, // 1007 mov cl, 0
            0x0f, 0xb6, 0xc1, // 1009 movzx eax, cl
            0x48, 0x63, 0x04, 0x82, // 100c movsxd rax, [rdx+rax*4]
            0x48, 0x01, 0xd0, // 1010 add rax, rdx
            0xff, 0xe0, // 1013 jmp rax
            0xb1, 0x01, 0xeb, 0xf0, // 1015 mov cl, 1; jmp 1009
            0xb1, 0x02, 0xeb, 0xec, // 1019 mov cl, 2; jmp 1009
            0x31, 0xc0, 0xc3, // 101d xor eax, eax; ret
            0xb8, 0x09, 0x00, 0x00, 0x00, 0xc3, // 1020 mov eax, 9; ret
            0x90, 0x90, // 1026
            0xed, 0xff, 0xff, 0xff, 0xf1, 0xff, 0xff, 0xff, 0xf5, 0xff, 0xff, 0xff, // 1028 table
            0xf8, 0xff, 0xff, 0xff, 0xf8, 0xff, 0xff, 0xff, // 1034 past it: 1020 twice
        ];
        let f = decode_code(&code, true).unwrap();
        let table = f.jump_tables.get(&0x1013).expect("a jump table");
        assert_eq!(table.targets, [0x1015, 0x1019, 0x101d]);
        assert_eq!(f.index_of(0x1020), None, "code only the guess reached");
    }

    /// A mask in front of the table that one path jumps past (an attack
    /// review's case: `and edx, 3` inside a branch the `jz` skips) bounds
    /// nothing: the table keeps its sixteen entries, as the first `and`
    /// and the values that reach the jump say.
    #[test]
    fn a_check_that_a_path_jumps_past_bounds_nothing() {
        let mut code = vec![
            0x89, 0xfa, // 1000 mov edx, edi
            0x83, 0xe2, 0x0f, // 1002 and edx, 15
            0xf7, 0xc7, 0x10, 0x00, 0x00, 0x00, // 1005 test edi, 16
            0x74, 0x03, // 100b jz 1010
            0x83, 0xe2, 0x03, // 100d and edx, 3
            0x0f, 0xb6, 0xc2, // 1010 movzx eax, dl
            0xff, 0x24, 0xc5, 0x80, 0x10, 0x00, 0x00, // 1013 jmp [rax*8 + 1080]
        ];
        for k in 0..16u8 {
            code.extend([0xb8, k, 0, 0, 0, 0xc3]); // 101a + 6k: mov eax, k; ret
        }
        code.resize(0x80, 0x90);
        for k in 0..16u64 {
            code.extend((0x101a + 6 * k).to_le_bytes()); // 1080: the table
        }
        let f = decode_code(&code, true).unwrap();
        let table = f.jump_tables.get(&0x1013).expect("a jump table");
        let want: Vec<u64> = (0..16).map(|k| 0x101a + 6 * k).collect();
        assert_eq!(table.targets, want);
    }

    /// `movsxd rax, [rdx + rax*4 - 4]`: entry idx - 1 of the table, not a
    /// table the decoder reads from its start; not taken as one (it was
    /// taken, one entry off: a wrong result on every input).
    #[test]
    fn a_table_load_with_a_displacement_is_not_taken_for_a_table() {
        let code = [
            0x48, 0x8d, 0x15, 0x13, 0x00, 0x00, 0x00, // 1000 lea rdx, [rip+0x13] (101a)
            0x48, 0x63, 0x44, 0x82, 0xfc, // 1007 movsxd rax, [rdx+rax*4-4]
            0x48, 0x01, 0xd0, // 100c add rax, rdx
            0xff, 0xe0, // 100f jmp rax
            0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3, // 1011 mov eax, 1; ret
            0x90, 0x90, 0x90, // 1017
            0xf7, 0xff, 0xff, 0xff, 0xf7, 0xff, 0xff, 0xff, // 101a table: 1011 twice
        ];
        match decode_code(&code, true) {
            Ok(f) => assert!(f.jump_tables.is_empty(), "{:?}", f.jump_tables),
            Err(e) => assert!(e.to_string().contains("0x100f"), "{e}"),
        }
    }

    /// A jump into the middle of an instruction is refused, whichever run
    /// is decoded first.
    #[test]
    fn a_jump_into_an_instruction_is_an_error() {
        let cases: [&[u8]; 2] = [
            // 1000 je 1005 (inside the mov); 1002 mov eax, imm32; ret
            &[0x74, 0x03, 0xb8, 0x90, 0x90, 0xc3, 0xc3, 0xc3],
            // 1000 mov eax, imm32 (c3 inside); 1005 jne 1003; ret
            &[0xb8, 0x90, 0x90, 0xc3, 0x90, 0x75, 0xfc, 0xc3],
        ];
        for code in cases {
            for sized in [true, false] {
                let e = decode_code(code, sized).unwrap_err().to_string();
                assert!(e.contains("lands inside another instruction"), "{e}");
            }
        }
    }
}
