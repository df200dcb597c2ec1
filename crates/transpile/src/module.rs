//! Stage 6, **module**: assembles the lowered functions into one wasm module
//! with the ABI of `docs/abi.md`, and validates it before anyone sees it.
//!
//! Memory layout (linear address = the ELF's virtual address):
//!
//! ```text
//! 0 ........ image (data segments where the code reads) ........ end
//! end↑16 ... stack (STACK_SIZE) ... __stack_pointer = __heap_base ... heap
//! ```
//!
//! Wasm function indices: the program's functions in decode order, then the
//! helpers (`mulhu`, `divu128`, `divs128`), then the builtins the code calls,
//! then one wrapper per export.

use std::collections::{BTreeMap, BTreeSet};

use wasm_encoder::{
    CodeSection, ConstExpr, DataSection, ExportKind, ExportSection, Function,
    FunctionSection, GlobalSection, GlobalType, Instruction as W, MemorySection, MemoryType,
    Section, TypeSection, ValType,
};

use super::builtins::{helper_divs128, helper_divu128, helper_mulhu, Builtin};
use super::heap;
use super::decode::{Program, Target, WHOLE};
use super::error::TranspileError;
use super::image::{Image, Pointer};
use super::lower::float::{nan_fix_helper, nan_fix_of, NanFix};
use super::lower::{self, Abi, Callees, Helpers, Reg, Unit, RAX, RSP};
use super::recursion::{self, Group};
use super::signature::{ScalarType, Signature};

/// Bytes of x86 stack in the module: 8 MiB, as Linux gives a main thread.
pub const STACK_SIZE: u64 = 8 << 20;
/// Bytes from `__heap_base` (the caller's data) to `__malloc_base` (the
/// module's heap, `heap.rs`) unless the caller moves the latter.
pub const HEAP_SIZE: u64 = 1 << 16;
/// Bytes of the module's heap in the initial memory (it grows as needed).
const MALLOC_INITIAL: u64 = 1 << 16;
/// The most bytes one data reference pulls in when no symbol bounds it.
const DATA_WINDOW: u64 = 1 << 16;

/// A finished module and what it was made of.
#[derive(Clone, Debug)]
pub struct Module {
    /// The validated wasm binary.
    pub wasm: Vec<u8>,
    /// Names of the x86 functions in it, in wasm order.
    pub functions: Vec<String>,
    /// x86 instructions transpiled.
    pub instructions: usize,
    /// Bytes of x86 code transpiled.
    pub code_bytes: usize,
    /// Static variables the code refers to (in `.data` or `.bss`): where,
    /// and the symbol or section that holds them. The module starts from
    /// their values in the binary, while the running program may have
    /// changed them, so a caller that keeps state there can see the module
    /// compute something else.
    pub variables: Vec<(u64, String)>,
}

/// The most bytes of data one module places: past this a program's data
/// (pointers followed transitively) is refused rather than cut short.
const DATA_MAX: u64 = 4 << 20;
/// The most distinct objects one module's data may take in.
const DATA_OBJECTS_MAX: usize = 100_000;

/// The image ranges a module's data segments hold: every object the code
/// refers to, whole, and whatever the relocated pointers inside them point
/// to, transitively (a table of `&str` and its strings, a vtable's
/// neighbours). An object is what a sized data symbol covers; without one,
/// it runs to the next symbol or the end of its section, and an object whose
/// end cannot be found within [`DATA_WINDOW`] is an error: the module never
/// holds part of what a load may read. A GOT slot is its 8 bytes.
pub fn data_ranges(image: &Image, program: &Program) -> Result<Vec<(u64, u64)>, TranspileError> {
    // (address, bytes read there or WHOLE, the function that reaches it)
    let mut work: Vec<(u64, u64, usize)> = program
        .functions
        .iter()
        .enumerate()
        .flat_map(|(k, f)| f.data_refs.iter().map(move |(&a, &n)| (a, n, k)))
        .collect();
    let mut seen = BTreeSet::new();
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    while let Some((address, bytes, k)) = work.pop() {
        if !seen.insert((address, bytes)) {
            continue;
        }
        let Some(section) = image.section_at(address) else {
            continue;
        };
        let refuse = |reason: String| TranspileError::Data {
            function: program.functions[k].name.clone(),
            address,
            reason,
        };
        let section_end = section.address + section.bytes.len() as u64;
        let (start, end) = if section.name.starts_with(".got") {
            (address, (address + 8).min(section_end))
        } else {
            match image.symbol_containing(address) {
                Some(s) if !s.is_function => (s.address, (s.address + s.size).min(section_end)),
                // one read of a known size: those bytes
                _ if bytes != WHOLE => (address, (address + bytes).min(section_end)),
                _ => {
                    let next = image
                        .next_symbol_after(address)
                        .map_or(section_end, |s| s.address)
                        .min(section_end);
                    if next > address + DATA_WINDOW {
                        return Err(refuse(format!(
                            "no symbol bounds it within {} KiB, in {}",
                            DATA_WINDOW / 1024,
                            section.name
                        )));
                    }
                    (address, next.max(address + 1))
                }
            }
        };
        for (_, pointer) in image.pointers.range(start..end) {
            if let Pointer::Address(a) = pointer {
                if !image.is_code(*a) {
                    work.push((*a, WHOLE, k));
                }
            }
        }
        ranges.push((start, end));
        if seen.len() > DATA_OBJECTS_MAX {
            return Err(refuse(format!(
                "with what it points to, more than {DATA_OBJECTS_MAX} objects"
            )));
        }
    }
    ranges.sort();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (s, e) in ranges {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    let placed: u64 = merged.iter().map(|(s, e)| e - s).sum();
    if placed > DATA_MAX {
        let (function, address) = program
            .functions
            .iter()
            .find_map(|f| Some((f.name.clone(), *f.data_refs.keys().next()?)))
            .unwrap_or_default();
        return Err(TranspileError::Data {
            function,
            address,
            reason: format!(
                "with what it points to, more than {} MiB of data",
                DATA_MAX >> 20
            ),
        });
    }
    Ok(merged)
}

/// Where everything goes in a module of `program`: each function's ABI,
/// and the wasm function indices (the program's functions, then the larger
/// recursion groups, then the helpers and builtins it needs, then the export
/// wrappers).
pub struct Plan {
    /// Each program function's registers in and out.
    pub abis: Vec<Abi>,
    /// The indices the lowering calls.
    pub callees: Callees,
    /// The recursion groups (`recursion.rs`), each with the wasm index of
    /// its body: its member's own for a group of one; for a larger group,
    /// one after the program's functions, while its members' indices hold
    /// stubs that enter it.
    pub groups: Vec<(Group, u32)>,
    builtins_used: BTreeSet<Builtin>,
    first_wrapper: u32,
}


impl Plan {
    /// The wasm functions to lower, in index order: every program function
    /// outside a larger group, and each group. (The stubs of a larger
    /// group's members are made by [`assemble`].)
    pub fn jobs<'a>(&'a self, program: &'a Program) -> Vec<Unit<'a>> {
        let mut grouped: Vec<Option<usize>> = vec![None; program.functions.len()];
        for (g, (group, _)) in self.groups.iter().enumerate() {
            for &m in &group.members {
                grouped[m] = Some(g);
            }
        }
        let group_job = |g: usize| {
            let group = &self.groups[g].0;
            Unit {
                function: &group.function,
                members: group.members.iter().map(|&m| &program.functions[m]).collect(),
                group: true,
                abi: &self.abis[group.members[0]],
            }
        };
        let mut jobs = Vec::new();
        for (k, f) in program.functions.iter().enumerate() {
            match grouped[k] {
                None => jobs.push(Unit {
                    function: f,
                    members: vec![f],
                    group: false,
                    abi: &self.abis[k],
                }),
                Some(g) if self.groups[g].0.members.len() == 1 => jobs.push(group_job(g)),
                Some(_) => {} // a stub
            }
        }
        for (g, (group, _)) in self.groups.iter().enumerate() {
            if group.members.len() > 1 {
                jobs.push(group_job(g));
            }
        }
        jobs
    }
}

/// The lowest address of the x86 stack: the image's end, aligned to 16.
fn stack_base(image: &Image) -> u64 {
    (image.end + 15) & !15
}

/// The plan of a module for `program` of `image` (before any function is
/// lowered).
pub fn plan(image: &Image, program: &Program) -> Plan {
    let groups = recursion::groups(program);
    let members: Vec<Vec<usize>> = groups.iter().map(|g| g.members.clone()).collect();
    let abis = lower::abis(program, &members);
    let n = program.functions.len() as u32;
    let mut next_group = n;
    let groups: Vec<(Group, u32)> = groups
        .into_iter()
        .map(|g| {
            let index = if g.members.len() == 1 {
                g.members[0] as u32
            } else {
                next_group += 1;
                next_group - 1
            };
            (g, index)
        })
        .collect();
    let builtins_used: BTreeSet<Builtin> = program
        .functions
        .iter()
        .flat_map(|f| f.calls.values().chain(f.indirect.values()))
        .filter_map(|t| {
            if let Target::Builtin(b) = t {
                Some(*b)
            } else {
                None
            }
        })
        .collect();
    // Helpers only where some instruction needs them: smaller modules
    // encode and validate faster.
    let (need_mulhu, need_divu, need_divs, nan_fixes) = helpers_needed(program);
    let mut next = next_group;
    let mut take = |needed: bool| {
        if needed {
            next += 1;
            next - 1
        } else {
            u32::MAX
        }
    };
    let helpers = Helpers {
        mulhu: take(need_mulhu),
        divu128: take(need_divu || need_divs),
        divs128: take(need_divs),
        nan_fix: nan_fixes.map(&mut take),
    };
    let mut builtins = BTreeMap::new();
    for b in builtins_used.iter() {
        builtins.insert(*b, take(true));
    }
    let first_wrapper = next;
    let callees = Callees {
        functions: (0..n).collect(),
        builtins: builtins.clone(),
        helpers,
        stack_base: stack_base(image),
    };
    Plan {
        abis,
        callees,
        groups,
        builtins_used,
        first_wrapper,
    }
}

/// Runs `lower` (cfg, structure, lower) on every job, in order; a large
/// program's jobs are shared out among threads (they are independent here),
/// and the first error in job order is the one reported, as when lowering
/// in sequence.
pub fn each_job(
    jobs: &[Unit],
    lower: impl Fn(&Unit) -> Result<Vec<u8>, TranspileError> + Sync,
) -> Result<Vec<Vec<u8>>, TranspileError> {
    let instructions = jobs.iter().map(|j| j.function.instructions.len()).sum();
    let threads = threads_for(instructions, PARALLEL_INSTRUCTIONS);
    each_on_threads(jobs, threads, lower).into_iter().collect()
}

/// Stage 6: the module from the lowered `bodies` (of `plan.jobs`, in
/// order), the stubs of larger recursion groups, the helpers and builtins
/// of `plan`, one wrapper per export, the `data` ranges as segments;
/// validated.
pub fn assemble(
    image: &Image,
    program: &Program,
    exports: &[Signature],
    data_ranges: &[(u64, u64)],
    plan: &Plan,
    bodies: Vec<Vec<u8>>,
) -> Result<Module, TranspileError> {
    let Plan {
        abis,
        callees,
        groups,
        builtins_used,
        first_wrapper,
    } = plan;
    let (helpers, first_wrapper) = (callees.helpers, *first_wrapper);
    let mut types = Types::default();
    let mut functions = FunctionSection::new();
    let mut code = CodeSection::new();
    let instructions = program.functions.iter().map(|f| f.instructions.len()).sum();
    let code_bytes = program
        .functions
        .iter()
        .flat_map(|f| &f.instructions)
        .map(|i| i.len())
        .sum();
    // the entry of each member of a larger group: its group's index, its
    // position in the group
    let mut stub_of: Vec<Option<(u32, u32)>> = vec![None; program.functions.len()];
    for (group, index) in groups.iter().filter(|(g, _)| g.members.len() > 1) {
        for (position, &m) in group.members.iter().enumerate() {
            stub_of[m] = Some((*index, position as u32));
        }
    }
    let mut bodies = bodies.into_iter();
    for k in 0..program.functions.len() {
        let (params, results) = abis[k].func_type();
        functions.function(types.index(params.clone(), results));
        match stub_of[k] {
            Some((group, position)) => code.function(&stub(params.len() as u32, group, position)),
            None => code.raw(&bodies.next().expect("a body per job")),
        };
    }
    for (group, _) in groups.iter().filter(|(g, _)| g.members.len() > 1) {
        let (mut params, results) = abis[group.members[0]].func_type();
        params.push(ValType::I32); // the member to enter
        functions.function(types.index(params, results));
        code.raw(&bodies.next().expect("a body per job"));
    }
    // helpers, in index order
    let i64x2 = vec![ValType::I64, ValType::I64];
    if helpers.mulhu != u32::MAX {
        functions.function(types.index(i64x2.clone(), vec![ValType::I64]));
        code.function(&helper_mulhu());
    }
    if helpers.divu128 != u32::MAX {
        let div_type = types.index(vec![ValType::I64; 3], i64x2.clone());
        functions.function(div_type);
        code.function(&helper_divu128());
    }
    if helpers.divs128 != u32::MAX {
        let div_type = types.index(vec![ValType::I64; 3], i64x2.clone());
        functions.function(div_type);
        code.function(&helper_divs128(helpers.divu128));
    }
    for (k, fix) in NAN_FIXES.iter().enumerate() {
        if helpers.nan_fix[k] != u32::MAX {
            let (params, results) = fix.func_type();
            functions.function(types.index(params, results));
            code.function(&nan_fix_helper(*fix));
        }
    }
    for b in builtins_used {
        let (params, results) = b.shape().func_type();
        functions.function(types.index(params, results));
        code.function(&b.body());
    }

    // layout: image, stack, the caller's data, the heap
    let stack_top = callees.stack_base + STACK_SIZE;
    let malloc_base = (stack_top + HEAP_SIZE).next_multiple_of(65536);
    if malloc_base + MALLOC_INITIAL > u32::MAX as u64 {
        return Err(TranspileError::Elf(format!(
            "the image ends at {:#x}: too high for a 32-bit wasm memory",
            image.end
        )));
    }
    let pages = (malloc_base + MALLOC_INITIAL) / 65536;
    let has_heap = builtins_used.iter().any(|b| b.is_heap());

    let mut exports_section = ExportSection::new();
    exports_section.export("memory", ExportKind::Memory, 0);
    exports_section.export("__stack_pointer", ExportKind::Global, 0);
    exports_section.export("__heap_base", ExportKind::Global, 1);
    exports_section.export("__malloc_base", ExportKind::Global, heap::MALLOC_BASE);
    for (k, sig) in exports.iter().enumerate() {
        let root = program.roots[k];
        let params: Vec<ValType> = sig.params.iter().map(|p| p.wasm()).collect();
        let results: Vec<ValType> = sig.result.iter().map(|r| r.wasm()).collect();
        functions.function(types.index(params, results));
        code.function(&wrapper(sig, &abis[root], root as u32, has_heap));
        exports_section.export(&sig.name, ExportKind::Func, first_wrapper + k as u32);
    }

    let mut memory = MemorySection::new();
    memory.memory(MemoryType {
        minimum: pages,
        maximum: Some(65536),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut globals = GlobalSection::new();
    globals.global(
        GlobalType {
            val_type: ValType::I32,
            mutable: true,
            shared: false,
        },
        &ConstExpr::i32_const(stack_top as u32 as i32),
    );
    globals.global(
        GlobalType {
            val_type: ValType::I32,
            mutable: false,
            shared: false,
        },
        &ConstExpr::i32_const(stack_top as u32 as i32),
    );
    // __malloc_base, and the heap's bump pointer
    for mutable in [true, true] {
        globals.global(
            GlobalType {
                val_type: ValType::I32,
                mutable,
                shared: false,
            },
            &ConstExpr::i32_const(malloc_base as u32 as i32),
        );
    }
    let mut data = DataSection::new();
    let mut data_bytes = 0;
    for &(start, end) in data_ranges {
        let Some(bytes) = image.read(start, (end - start) as usize) else {
            continue;
        };
        // zero runs need no segment: wasm memory starts zeroed
        for run in nonzero_runs(bytes) {
            data_bytes += run.len() + 8;
            data.active(
                0,
                &ConstExpr::i32_const((start + run.start as u64) as u32 as i32),
                bytes[run].iter().copied(),
            );
        }
    }

    // What `wasm_encoder::Module` writes, into one allocation sized up
    // front (growing it section by section was a tenth of the allocations
    // of a small transpile); the small sections fit in the slack.
    let mut wasm = Vec::with_capacity(code.byte_len() + data_bytes + 4096);
    wasm.extend_from_slice(b"\0asm\x01\0\0\0"); // magic, version 1
    types.section.append_to(&mut wasm);
    functions.append_to(&mut wasm);
    memory.append_to(&mut wasm);
    globals.append_to(&mut wasm);
    exports_section.append_to(&mut wasm);
    code.append_to(&mut wasm);
    data.append_to(&mut wasm);
    validate(&wasm)?;
    Ok(Module {
        wasm,
        functions: program.functions.iter().map(|f| f.name.clone()).collect(),
        instructions,
        code_bytes,
        variables: variables(image, program),
    })
}

/// The static variables `program` refers to: addresses in sections that
/// hold them ([`Section::mutable`](super::image::Section::mutable)), named
/// by their symbol, else their section.
fn variables(image: &Image, program: &Program) -> Vec<(u64, String)> {
    let refs: BTreeSet<u64> = program
        .functions
        .iter()
        .flat_map(|f| f.data_refs.keys().copied())
        .collect();
    refs.into_iter()
        .filter_map(|address| {
            let section = image.section_at(address).filter(|s| s.mutable)?;
            let name = image
                .symbol_containing(address)
                .map_or_else(|| section.name.clone(), |s| s.name.clone());
            Some((address, name))
        })
        .collect()
}

/// The parts of `bytes` that need a data segment: runs of 16-byte blocks
/// (counted from the start of `bytes`) that are not all zero, without their
/// leading and trailing zeros. Whole blocks are tested at once (a data
/// reference can pull in tens of KB of read-only data).
fn nonzero_runs(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    const BLOCK: usize = 16;
    let zero_block = |k: usize| {
        let block = &bytes[k * BLOCK..((k + 1) * BLOCK).min(bytes.len())];
        match <[u8; BLOCK]>::try_from(block) {
            Ok(b) => u128::from_ne_bytes(b) == 0,
            Err(_) => block.iter().all(|&b| b == 0),
        }
    };
    let blocks = bytes.len().div_ceil(BLOCK);
    let mut runs = Vec::new();
    let mut k = 0;
    while k < blocks {
        if zero_block(k) {
            k += 1;
            continue;
        }
        let first = k;
        while k < blocks && !zero_block(k) {
            k += 1;
        }
        let run = &bytes[first * BLOCK..(k * BLOCK).min(bytes.len())];
        let lead = run.iter().take_while(|&&b| b == 0).count();
        let trail = run.iter().rev().take_while(|&&b| b == 0).count();
        runs.push(first * BLOCK + lead..first * BLOCK + run.len() - trail);
    }
    runs
}

/// Programs with at least this many instructions per thread are lowered on
/// several threads: below it, starting a thread (tens of µs) costs more than
/// it saves (measured on the corpus: sort_unstable_bytes, 1,080 instructions,
/// 600 -> 435 µs on two cores).
const PARALLEL_INSTRUCTIONS: usize = 600;
/// Modules with at least this many bytes per thread have their function
/// bodies validated on several threads, for the same reason.
const PARALLEL_WASM_BYTES: usize = 12 * 1024;

/// How many threads a job of `size` (of which `threshold` repays one more
/// thread) gets: at most one per core, at most four.
fn threads_for(size: usize, threshold: usize) -> usize {
    // (asked once: on Linux the answer reads cgroup files, tens of µs)
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    (size / threshold).clamp(1, cores.min(4))
}

/// Splits `0..weights.len()` into `parts` contiguous ranges of about equal
/// total weight.
fn split_by_weight(weights: &[usize], parts: usize) -> Vec<std::ops::Range<usize>> {
    let total: usize = weights.iter().sum();
    let mut ranges = Vec::with_capacity(parts);
    let (mut start, mut acc) = (0, 0);
    for (k, w) in weights.iter().enumerate() {
        acc += w;
        if ranges.len() + 1 < parts && acc * parts >= total * (ranges.len() + 1) {
            ranges.push(start..k + 1);
            start = k + 1;
        }
    }
    ranges.push(start..weights.len());
    ranges
}

/// Runs `job` on every item, on up to one thread per core (at most four),
/// each thread taking the next item when it is done with one (items differ
/// widely in cost); results in item order. For many independent modules:
/// every callback of an app at start (the transpile bench times that).
#[cfg(any(test, feature = "internals"))]
pub fn each_on_cores<T: Sync, R: Send>(items: &[T], job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    each_on_threads(items, threads_for(items.len(), 1), job)
}

/// [`each_on_cores`] on `threads` threads.
fn each_on_threads<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    job: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if threads <= 1 {
        return items.iter().map(job).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = run_parts(vec![(); threads], |()| {
        let mut done = Vec::new();
        loop {
            let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(k) else {
                return done;
            };
            done.push((k, job(item)));
        }
    });
    let mut results: Vec<Option<R>> = items.iter().map(|_| None).collect();
    for (k, result) in done.into_iter().flatten() {
        results[k] = Some(result);
    }
    results
        .into_iter()
        .map(|r| r.expect("every item was taken by a thread"))
        .collect()
}

/// Runs `job` on each part, the first on this thread and the others on
/// threads of their own; results in part order.
fn run_parts<P: Send, T: Send>(parts: Vec<P>, job: impl Fn(P) -> T + Sync) -> Vec<T> {
    std::thread::scope(|scope| {
        let mut parts = parts.into_iter();
        let first = parts.next();
        let others: Vec<_> = parts
            .map(|part| {
                let job = &job;
                scope.spawn(move || job(part))
            })
            .collect();
        let mut results: Vec<T> = first.map(&job).into_iter().collect();
        for handle in others {
            match handle.join() {
                Ok(result) => results.push(result),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results
    })
}

/// The NaN-fixing helpers in [`Helpers::nan_fix`] order.
const NAN_FIXES: [NanFix; 4] = [NanFix::S, NanFix::D, NanFix::PackedS, NanFix::PackedD];

/// Which helpers the program needs, in one pass over its instructions:
/// (mulhu, divu128, divs128, the NaN fixes by [`NAN_FIXES`] index). 64-bit
/// multiplies may need the high half (one-operand forms, and the overflow
/// flags of the others); 64-bit divides need the 128-bit division.
fn helpers_needed(program: &Program) -> (bool, bool, bool, [bool; 4]) {
    use iced_x86::Mnemonic as M;
    let (mut mul, mut divu, mut divs) = (false, false, false);
    let mut nan_fixes = [false; 4];
    for ins in program.functions.iter().flat_map(|f| &f.instructions) {
        let wide = match ins.op0_kind() {
            iced_x86::OpKind::Register => ins.op0_register().size() == 8,
            iced_x86::OpKind::Memory => ins.memory_size().size() == 8,
            _ => false,
        };
        match ins.mnemonic() {
            M::Mul | M::Imul if wide => mul = true,
            M::Div if wide => divu = true,
            M::Idiv if wide => divs = true,
            _ => {}
        }
        if let Some(fix) = nan_fix_of(ins) {
            nan_fixes[fix as usize] = true;
        }
    }
    (mul, divu, divs, nan_fixes)
}

/// Validates a module with wasmparser (SIMD, multi-value, bulk memory on):
/// the sections in order, then the function bodies, on several threads when
/// the module is large (wasmparser validates bodies independently).
pub fn validate(wasm: &[u8]) -> Result<(), TranspileError> {
    // (A fresh validator per module: reusing one through `reset` measured
    // slower, 8.9 against 6.9 µs for a trivial callback, as its type list is
    // committed and cloned at every module end, and grows.)
    let mut validator = wasmparser::Validator::new_with_features(FEATURES);
    let invalid = |e: wasmparser::BinaryReaderError| TranspileError::InvalidModule(e.to_string());
    let mut bodies = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::ValidPayload::Func(func, body) = validator
            .payload(&payload.map_err(invalid)?)
            .map_err(invalid)?
        {
            bodies.push((func, body));
        }
    }
    type Body<'a> = (
        wasmparser::FuncToValidate<wasmparser::ValidatorResources>,
        wasmparser::FunctionBody<'a>,
    );
    let check = |part: Vec<Body>| -> Result<(), TranspileError> {
        let mut allocations = REUSED_ALLOCATIONS.take();
        for (func, body) in part {
            let mut f = func.into_validator(allocations);
            f.validate(&body).map_err(invalid)?;
            allocations = f.into_allocations();
        }
        REUSED_ALLOCATIONS.set(allocations);
        Ok(())
    };
    let threads = threads_for(wasm.len(), PARALLEL_WASM_BYTES);
    if threads == 1 {
        return check(bodies);
    }
    let weights: Vec<usize> = bodies
        .iter()
        .map(|(_, b)| (b.range().end - b.range().start) as usize)
        .collect();
    // owned parts, last first so each `split_off` takes the tail
    let mut parts = Vec::with_capacity(threads);
    for range in split_by_weight(&weights, threads).into_iter().rev() {
        parts.push(bodies.split_off(range.start));
    }
    parts.reverse();
    run_parts(parts, check).into_iter().collect()
}

/// The WebAssembly 2.0 feature set (multi-value, SIMD, bulk memory, sign
/// extension, saturating conversions, mutable globals) and tail calls
/// (`return_call`, WebAssembly 3.0): all the modules use, and what Chrome
/// 112+, Firefox 121+, Safari 18.2+ and WebKitGTK 2.46+ run. wasmparser's
/// default set also accepts GC, exceptions, threads...: a lowering bug
/// emitting one of those would pass validation and fail in a browser.
const FEATURES: wasmparser::WasmFeatures =
    wasmparser::WasmFeatures::WASM2.union(wasmparser::WasmFeatures::TAIL_CALL);

thread_local! {
    /// The function validators' buffers (operand and control stacks,
    /// locals), kept from one module to the next on each thread.
    static REUSED_ALLOCATIONS: std::cell::Cell<wasmparser::FuncValidatorAllocations> =
        std::cell::Cell::new(Default::default());
}

/// The type section, each distinct function type once.
#[derive(Default)]
struct Types {
    section: TypeSection,
    /// The types so far, by index: a module has a handful, so a linear
    /// search beats hashing two vectors.
    seen: Vec<(Vec<ValType>, Vec<ValType>)>,
}

impl Types {
    fn index(&mut self, params: Vec<ValType>, results: Vec<ValType>) -> u32 {
        if let Some(k) = self
            .seen
            .iter()
            .position(|(p, r)| *p == params && *r == results)
        {
            return k as u32;
        }
        self.section
            .ty()
            .function(params.iter().copied(), results.iter().copied());
        self.seen.push((params, results));
        self.seen.len() as u32 - 1
    }
}

/// The wasm function of a member of a larger recursion group: its
/// `params` registers, and its `position`, handed to the group's function
/// `group`, whose results are the member's.
fn stub(params: u32, group: u32, position: u32) -> Function {
    let mut f = Function::new([]);
    for p in 0..params {
        f.instruction(&W::LocalGet(p));
    }
    f.instruction(&W::I32Const(position as i32));
    f.instruction(&W::ReturnCall(group));
    f.instruction(&W::End);
    f
}

/// The export wrapper: the heap emptied (when the module has one), C
/// arguments into registers, a fake return address on the stack, the call,
/// a check that it returned there, and the result out of rax/xmm0.
fn wrapper(sig: &Signature, abi: &Abi, root: u32, has_heap: bool) -> Function {
    let outputs: Vec<ValType> = abi.outputs.iter().map(|r| r.val_type()).collect();
    let first_local = sig.params.len() as u32;
    let mut f = Function::new_with_locals_types(outputs.iter().copied().chain([ValType::I64]));
    if has_heap {
        for i in heap::reset() {
            f.instruction(&i);
        }
    }
    let rsp_local = first_local + outputs.len() as u32;
    // rsp = __stack_pointer - 8, with a zero return address there
    f.instruction(&W::GlobalGet(0));
    f.instruction(&W::I64ExtendI32U);
    f.instruction(&W::I64Const(8));
    f.instruction(&W::I64Sub);
    f.instruction(&W::LocalTee(rsp_local));
    f.instruction(&W::I32WrapI64);
    f.instruction(&W::I64Const(0));
    f.instruction(&W::I64Store(lower::mem(0)));
    const INT_ARGS: [u8; 6] = [7, 6, 2, 1, 8, 9];
    let mut int_regs = BTreeMap::new();
    let mut float_regs = BTreeMap::new();
    for (i, p) in sig.params.iter().enumerate() {
        if p.is_float() {
            float_regs.insert(float_regs.len() as u8, (i as u32, *p));
        } else {
            int_regs.insert(INT_ARGS[int_regs.len()], (i as u32, *p));
        }
    }
    for r in &abi.inputs {
        match r {
            Reg::Gpr(RSP) => {
                f.instruction(&W::LocalGet(rsp_local));
            }
            Reg::Gpr(g) => match int_regs.get(g) {
                Some(&(local, ty)) => {
                    f.instruction(&W::LocalGet(local));
                    extend_arg(&mut f, ty);
                }
                None => {
                    f.instruction(&W::I64Const(0));
                }
            },
            Reg::Xmm(x) => match float_regs.get(x) {
                Some(&(local, ScalarType::F32)) => {
                    f.instruction(&W::LocalGet(local));
                    f.instruction(&W::F32x4Splat);
                }
                Some(&(local, _)) => {
                    f.instruction(&W::LocalGet(local));
                    f.instruction(&W::F64x2Splat);
                }
                None => {
                    f.instruction(&W::V128Const(0));
                }
            },
        }
    }
    f.instruction(&W::Call(root));
    for k in (0..outputs.len()).rev() {
        f.instruction(&W::LocalSet(first_local + k as u32));
    }
    // the function returned to the wrapper's return address: rsp back above
    // it, the address (0) still there; anything else traps
    if let Some(k) = abi.outputs.iter().position(|r| *r == Reg::Gpr(RSP)) {
        for i in [
            W::LocalGet(first_local + k as u32),
            W::LocalGet(rsp_local),
            W::I64Const(8),
            W::I64Add,
            W::I64Ne,
            W::LocalGet(rsp_local),
            W::I32WrapI64,
            W::I64Load(lower::mem(0)),
            W::I64Const(0),
            W::I64Ne,
            W::I32Or,
            W::If(wasm_encoder::BlockType::Empty),
            W::Unreachable,
            W::End,
        ] {
            f.instruction(&i);
        }
    }
    if let Some(ty) = sig.result {
        let from = if ty.is_float() {
            Reg::Xmm(0)
        } else {
            Reg::Gpr(RAX)
        };
        match abi.outputs.iter().position(|r| *r == from) {
            Some(k) => {
                f.instruction(&W::LocalGet(first_local + k as u32));
                narrow_result(&mut f, ty);
            }
            None => {
                // the function never writes its result register: x86 would
                // return whatever was there; the wrapper starts it at zero
                f.instruction(&match ty.wasm() {
                    ValType::I64 => W::I64Const(0),
                    ValType::F32 => W::F32Const(0.0.into()),
                    ValType::F64 => W::F64Const(0.0.into()),
                    _ => W::I32Const(0),
                });
            }
        }
    }
    f.instruction(&W::End);
    f
}

/// i32/i64 wasm argument → the 64-bit register value, extended per its C type.
fn extend_arg(f: &mut Function, ty: ScalarType) {
    let (bits, signed) = ty.int_bits();
    if bits == 64 {
        return;
    }
    match (bits, signed) {
        (8, true) => f.instruction(&W::I32Extend8S),
        (16, true) => f.instruction(&W::I32Extend16S),
        (8, false) => f.instruction(&W::I32Const(0xff)).instruction(&W::I32And),
        (16, false) => f.instruction(&W::I32Const(0xffff)).instruction(&W::I32And),
        _ => f,
    };
    f.instruction(if signed {
        &W::I64ExtendI32S
    } else {
        &W::I64ExtendI32U
    });
}

/// rax (i64) or xmm0 (v128) → the wasm result, narrowed per its C type.
fn narrow_result(f: &mut Function, ty: ScalarType) {
    match ty {
        ScalarType::F32 => {
            f.instruction(&W::F32x4ExtractLane(0));
        }
        ScalarType::F64 => {
            f.instruction(&W::F64x2ExtractLane(0));
        }
        ScalarType::I64 | ScalarType::U64 => {}
        _ => {
            f.instruction(&W::I32WrapI64);
            match ty.int_bits() {
                (8, true) => f.instruction(&W::I32Extend8S),
                (16, true) => f.instruction(&W::I32Extend16S),
                (8, false) => f.instruction(&W::I32Const(0xff)).instruction(&W::I32And),
                (16, false) => f.instruction(&W::I32Const(0xffff)).instruction(&W::I32And),
                _ => f,
            };
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_on_cores_keeps_item_order() {
        for n in [0, 1, 2, 3, 17, 200] {
            let items: Vec<usize> = (0..n).collect();
            // uneven costs, so threads finish out of order
            let squares = each_on_cores(&items, |&k| {
                std::thread::sleep(std::time::Duration::from_micros((k % 7) as u64 * 20));
                k * k
            });
            assert_eq!(squares, items.iter().map(|k| k * k).collect::<Vec<_>>());
        }
    }

    #[test]
    fn data_segments_cover_every_nonzero_byte_and_skip_zero_blocks() {
        let mut far = vec![0u8; 100];
        far[3] = 1;
        far[70] = 2;
        // (bytes, expected runs as (start, end))
        type Case = (Vec<u8>, Vec<(usize, usize)>);
        let cases: Vec<Case> = vec![
            (vec![], vec![]),
            (vec![0; 40], vec![]),
            (vec![7], vec![(0, 1)]),
            (vec![0, 0, 5, 0, 6, 0], vec![(2, 5)]),
            (far, vec![(3, 4), (70, 71)]),
            // a zero gap inside one 16-byte block does not split
            ([[1u8].as_slice(), &[0; 14], &[1]].concat(), vec![(0, 16)]),
        ];
        for (bytes, expected) in cases {
            let runs: Vec<(usize, usize)> = nonzero_runs(&bytes)
                .iter()
                .map(|r| (r.start, r.end))
                .collect();
            assert_eq!(runs, expected, "{bytes:?}");
        }
        // random bytes, mostly zero: every nonzero byte in exactly one run,
        // runs in order, starting and ending on nonzero bytes
        let mut seed = 0x1234_5678_9abc_def0u64;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    if seed.is_multiple_of(23) {
                        (seed >> 8) as u8 | 1
                    } else {
                        0
                    }
                })
                .collect();
            let runs = nonzero_runs(&bytes);
            let mut covered = vec![false; len];
            let mut last_end = 0;
            for r in &runs {
                assert!(r.start >= last_end && r.start < r.end && r.end <= len);
                assert!(bytes[r.start] != 0 && bytes[r.end - 1] != 0);
                covered[r.clone()].fill(true);
                last_end = r.end;
            }
            for (k, &b) in bytes.iter().enumerate() {
                assert!(b == 0 || covered[k], "byte {k} of {len} not covered");
            }
        }
    }

    #[test]
    fn parts_cover_everything_in_order_with_balanced_weights() {
        // (weights, parts, expected ranges as (start, end))
        type Case = (&'static [usize], usize, &'static [(usize, usize)]);
        let table: &[Case] = &[
            (&[1, 1, 1, 1], 2, &[(0, 2), (2, 4)]),
            (&[5, 1, 1, 1, 1, 1], 2, &[(0, 1), (1, 6)]),
            (&[1, 1, 1, 1, 1, 5], 2, &[(0, 5), (5, 6)]),
            (&[3], 2, &[(0, 1), (1, 1)]),
            (&[], 2, &[(0, 0)]),
            (&[2, 2, 2, 2, 2, 2], 3, &[(0, 2), (2, 4), (4, 6)]),
            (&[7, 7], 1, &[(0, 2)]),
        ];
        for (weights, parts, expected) in table {
            let ranges: Vec<(usize, usize)> = split_by_weight(weights, *parts)
                .into_iter()
                .map(|r| (r.start, r.end))
                .collect();
            assert_eq!(&ranges, expected, "{weights:?} in {parts}");
        }
    }

    /// A module of `n` functions `() -> i32`; function `bad` (if any) adds an
    /// i64 to an i32.
    fn module_of(n: u32, bad: Option<u32>) -> Vec<u8> {
        let mut types = TypeSection::new();
        types.ty().function([], [ValType::I32]);
        let mut functions = FunctionSection::new();
        let mut code = CodeSection::new();
        for k in 0..n {
            functions.function(0);
            let mut f = Function::new([]);
            f.instruction(&W::I32Const(1));
            for _ in 0..200 {
                f.instruction(&W::I32Const(k as i32));
                f.instruction(&W::I32Add);
            }
            if bad == Some(k) {
                f.instruction(&W::I64Const(1));
                f.instruction(&W::I32Add);
            }
            f.instruction(&W::End);
            code.function(&f);
        }
        let mut module = wasm_encoder::Module::new();
        module.section(&types).section(&functions).section(&code);
        module.finish()
    }

    #[test]
    fn validation_on_threads_finds_an_error_in_any_function() {
        // large enough to be validated on several threads (where cores allow)
        let n = 200;
        assert!(module_of(n, None).len() >= 2 * PARALLEL_WASM_BYTES);
        assert!(validate(&module_of(n, None)).is_ok());
        for bad in [0, n / 2, n - 1] {
            let error = validate(&module_of(n, Some(bad))).unwrap_err();
            assert!(
                matches!(error, TranspileError::InvalidModule(ref m) if m.contains("type mismatch")),
                "function {bad}: {error}"
            );
        }
        // and the small path
        assert!(validate(&module_of(2, Some(1))).is_err());
    }
}
