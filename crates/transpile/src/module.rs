//! Stage 6, **module**: assembles the lowered functions into one wasm module
//! with the ABI of `docs/abi.md`, and validates it before anyone sees it.
//!
//! Memory layout and globals: `layout.rs`.
//!
//! Wasm function indices: the program's functions in decode order, then the
//! helpers (`mulhu`, `divu128`, `divs128`), then the builtins the code calls,
//! then one wrapper per export.

use std::collections::{BTreeMap, BTreeSet};

use wasm_encoder::{
    CodeSection, ConstExpr, DataSection, ElementSection, Elements, ExportKind, ExportSection,
    Function, FunctionSection, GlobalSection, GlobalType, Instruction as W, MemorySection,
    MemoryType, RefType, Section, TableSection, TableType, TypeSection, ValType,
};

use super::builtins::Builtin;
use super::builtins::wide::{helper_divs128, helper_divu128, helper_mulhu};
use super::builtins::{fma, threads};
use super::layout::{Global, HEAP_SIZE, STACK_SIZE};
use super::decode::{Program, Target};
use super::error::TranspileError;
use super::image::Image;
use super::lower::float::{nan_fix_helper, nan_fix_of, NanFix};
use super::lower::{self, Abi, Callees, Helpers, Reg, TableCalls, Unit, RAX, RSP};
use super::recursion::{self, Group};
use super::signature::{ScalarType, Signature};

/// Bytes of the module's heap in the initial memory (it grows as needed).
const MALLOC_INITIAL: u64 = 1 << 16;

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
    /// Functions that pointers in the data reach but that could not be
    /// transpiled (a system call, an unsupported instruction), named, with
    /// why: a call through a pointer to one traps.
    pub unavailable: Vec<(String, String)>,
    /// Run-time state (libm's `_LIB_VERSION`) whose address the code loads
    /// from a GOT slot on some path: where (`atan2+0x80`) and what it is.
    /// The module has no copy, so that load traps
    /// ([`Function::unreadable`](super::decode::Function::unreadable)).
    pub unreadable: Vec<(String, String)>,
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
    /// The functions of the function table (`call_indirect`), in address
    /// order (entry i of the table is an adapter to `table[i]`), and the
    /// wasm index of the first adapter.
    table: Vec<usize>,
    first_adapter: u32,
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
                required: group.members.iter().any(|&m| m < program.required),
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
                    required: k < program.required,
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

/// Where the module's one thread lives (past the image): its thread-local
/// storage block (when the image has one), the thread pointer (the TLS
/// block ends there, x86-64's variant II; the thread control block starts
/// there: `fs:[0]` and `fs:[0x10]` hold its own address, `fs:[0x28]` the
/// stack protector's canary, 0 here, and from [`threads::KEYS`] the
/// pthread keys), and the lowest address of the x86 stack, past both.
struct Layout {
    tls_block: Option<u64>,
    thread_pointer: u64,
    stack_base: u64,
}

/// Where the module keeps `errno`, when it has one: 8 bytes below the
/// executable's TLS block, as `link.rs` placed it.
fn errno_address(image: &Image) -> Option<u64> {
    Some(layout(image).thread_pointer - image.errno_offset()?)
}

fn layout(image: &Image) -> Layout {
    // (linked libraries' thread-local variables just below the block)
    let below = image.end + image.foreign_tls();
    let (tls_block, thread_pointer) = match &image.tls {
        None => (None, below.next_multiple_of(64)),
        Some(tls) => {
            let block = below.next_multiple_of(tls.align.max(16));
            (Some(block), block + image.tls_block_size())
        }
    };
    Layout {
        tls_block,
        thread_pointer,
        stack_base: (thread_pointer + threads::TCB_SIZE).next_multiple_of(16),
    }
}

/// The plan of a module for `program` of `image` (before any function is
/// lowered).
pub fn plan(image: &Image, program: &Program) -> Plan {
    let groups = recursion::groups(program);
    let members: Vec<Vec<usize>> = groups.iter().map(|g| g.members.clone()).collect();
    let wide = lower::vex::is_wide(program);
    let (abis, table_abi) = lower::abis(program, &members, wide);
    let pops = lower::ret_pops(program);
    let table: Vec<usize> = program
        .address_taken
        .iter()
        .filter_map(|a| program.function_index(*a))
        .collect();
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
    let (need_mulhu, need_divu, need_divs, nan_fixes, fmas, f16) = helpers_needed(program);
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
        fma: fmas.map(&mut take),
        f32_to_f16: take(f16),
    };
    let mut builtins = BTreeMap::new();
    for b in builtins_used.iter() {
        builtins.insert(*b, take(true));
    }
    let table_lookup = take(!table.is_empty());
    let first_adapter = next;
    next += table.len() as u32;
    let first_wrapper = next;
    let callees = Callees {
        functions: (0..n).collect(),
        builtins: builtins.clone(),
        helpers,
        stack_base: layout(image).stack_base,
        thread_pointer: layout(image).thread_pointer,
        wide,
        table: (!table.is_empty()).then(|| {
            let mut pops: Vec<u64> = table.iter().flat_map(|&k| pops[k].clone()).collect();
            pops.sort_unstable();
            pops.dedup();
            TableCalls {
                lookup: table_lookup,
                abi: table_abi,
                pops,
            }
        }),
        pops,
    };
    Plan {
        abis,
        callees,
        groups,
        table,
        first_adapter,
        builtins_used,
        first_wrapper,
    }
}

/// The lowered wasm bodies of a plan's jobs, in order.
pub struct Bodies {
    /// Each job's body (locals and code, as `CodeSection::raw` takes it).
    pub bodies: Vec<Vec<u8>>,
    /// The jobs only data reaches that could not be lowered (now traps):
    /// their names and why.
    pub trapping: Vec<(String, String)>,
}

/// Runs `lower` (cfg, structure, lower) on every job, in order; a large
/// program's jobs are shared out among threads (they are independent here).
/// A job only data reaches (not [`Unit::required`]) that fails becomes a
/// trap (recorded in [`Bodies::trapping`]); otherwise the first error in job
/// order is the one reported, as when lowering in sequence.
pub fn each_job(
    jobs: &[Unit],
    lower: impl Fn(&Unit) -> Result<Vec<u8>, TranspileError> + Sync,
) -> Result<Bodies, TranspileError> {
    let instructions = jobs.iter().map(|j| j.function.instructions.len()).sum();
    let threads = threads_for(instructions, PARALLEL_INSTRUCTIONS);
    let mut bodies = Vec::with_capacity(jobs.len());
    let mut trapping = Vec::new();
    for (job, result) in jobs.iter().zip(each_on_threads(jobs, threads, lower)) {
        match result {
            Ok(body) => bodies.push(body),
            Err(e) if !job.required => {
                trapping.push((job.function.name.clone(), e.to_string()));
                // no locals; `unreachable`; `end`
                bodies.push(vec![0x00, 0x00, 0x0b]);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Bodies { bodies, trapping })
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
    Bodies { bodies, trapping }: Bodies,
) -> Result<Module, TranspileError> {
    let Plan {
        abis,
        callees,
        groups,
        table,
        first_adapter,
        builtins_used,
        first_wrapper,
    } = plan;
    let (helpers, first_wrapper) = (callees.helpers, *first_wrapper);
    let mut types = Types::default();
    if let Some(t) = &callees.table {
        // the table's type is type 0: `call_indirect` names it so
        let (params, results) = t.abi.func_type();
        assert_eq!(types.index(params, results), lower::TABLE_TYPE);
    }
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
    if helpers.fma[0] != u32::MAX {
        functions.function(types.index(vec![ValType::I32; 4], vec![ValType::I32]));
        code.function(&fma::helper_fma32());
    }
    if helpers.fma[1] != u32::MAX {
        let params = vec![ValType::I64, ValType::I64, ValType::I64, ValType::I32];
        functions.function(types.index(params, vec![ValType::I64]));
        code.function(&fma::helper_fma64(helpers.mulhu));
    }
    if helpers.f32_to_f16 != u32::MAX {
        functions.function(types.index(vec![ValType::I32; 2], vec![ValType::I32]));
        code.function(&fma::helper_f32_to_f16());
    }
    for b in builtins_used {
        let (params, results) = b.shape().func_type();
        functions.function(types.index(params, results));
        code.function(&b.body(errno_address(image)));
    }
    // the function table: its lookup (address to entry) and an adapter per
    // entry from the table's ABI to the function's own
    let mut table_section = TableSection::new();
    let mut elements = ElementSection::new();
    if let Some(t) = &callees.table {
        functions.function(types.index(vec![ValType::I64], vec![ValType::I32]));
        code.function(&table_lookup(&program.address_taken));
        for &k in table {
            functions.function(lower::TABLE_TYPE);
            code.function(&adapter(&t.abi, &abis[k], callees.functions[k]));
        }
        let n = table.len() as u64;
        table_section.table(TableType {
            element_type: RefType::FUNCREF,
            table64: false,
            minimum: n,
            maximum: Some(n),
            shared: false,
        });
        let adapters: Vec<u32> = (0..table.len() as u32).map(|i| first_adapter + i).collect();
        elements.active(
            Some(0),
            &ConstExpr::i32_const(0),
            Elements::Functions(adapters.into()),
        );
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

    let mut exports_section = ExportSection::new();
    exports_section.export("memory", ExportKind::Memory, 0);
    for global in Global::ALL {
        if let (Some(name), _) = global.declaration() {
            exports_section.export(name, ExportKind::Global, global.index());
        }
    }
    for (k, sig) in exports.iter().enumerate() {
        let root = program.roots[k];
        let params: Vec<ValType> = sig
            .params
            .iter()
            .flat_map(|p| p.wasm_params().iter().copied())
            .collect();
        let results: Vec<ValType> = sig.result.iter().map(|r| r.wasm()).collect();
        functions.function(types.index(params, results));
        code.function(&wrapper(sig, &abis[root], root as u32));
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
    for global in Global::ALL {
        let value = match global {
            Global::StackPointer | Global::HeapBase => stack_top,
            Global::MallocBase => malloc_base,
            Global::Bump => 0, // not started
            Global::ThreadPointer => callees.thread_pointer,
        };
        globals.global(
            GlobalType {
                val_type: ValType::I32,
                mutable: global.declaration().1,
                shared: false,
            },
            &ConstExpr::i32_const(value as u32 as i32),
        );
    }
    let mut data = DataSection::new();
    let mut data_bytes = 0;
    // the thread as the loader sets it up: its TLS block from the template,
    // the control block's pointers to itself
    let thread = layout(image);
    if let (Some(tls), Some(block)) = (&image.tls, thread.tls_block) {
        data.active(
            0,
            &ConstExpr::i32_const(block as u32 as i32),
            tls.template.iter().copied(),
        );
        data_bytes += tls.template.len() + 8;
    }
    let tp = thread.thread_pointer;
    let mut tcb = [0u8; 24];
    tcb[..8].copy_from_slice(&tp.to_le_bytes());
    tcb[16..].copy_from_slice(&tp.to_le_bytes());
    data.active(0, &ConstExpr::i32_const(tp as u32 as i32), tcb);
    data_bytes += 32;
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
    if !table.is_empty() {
        table_section.append_to(&mut wasm);
    }
    memory.append_to(&mut wasm);
    globals.append_to(&mut wasm);
    exports_section.append_to(&mut wasm);
    if !table.is_empty() {
        elements.append_to(&mut wasm);
    }
    code.append_to(&mut wasm);
    data.append_to(&mut wasm);
    validate(&wasm)?;
    Ok(Module {
        wasm,
        functions: program.functions.iter().map(|f| f.name.clone()).collect(),
        instructions,
        code_bytes,
        variables: variables(image, program),
        unavailable: program
            .unavailable
            .iter()
            .map(|(a, why)| (image.describe(*a), why.clone()))
            .chain(trapping)
            .collect(),
        unreadable: program
            .unreadable
            .iter()
            .map(|(&at, what)| (image.describe(at), what.clone()))
            .collect(),
    })
}

/// The static variables `program` refers to: addresses in sections that
/// hold them ([`Section::mutable`](super::image::Section::mutable)), named
/// by their symbol, else their section; and its thread-local storage, when
/// its code reads `fs:` (a thread's block lives as long as the thread).
fn variables(image: &Image, program: &Program) -> Vec<(u64, String)> {
    let refs: BTreeSet<u64> = program
        .functions
        .iter()
        .flat_map(|f| f.data_refs.keys().copied())
        .collect();
    let mut variables: Vec<(u64, String)> = refs
        .into_iter()
        .filter_map(|address| {
            let section = image.section_at(address).filter(|s| s.mutable)?;
            let name = image
                .symbol_containing(address)
                .map_or_else(|| section.name.clone(), |s| s.name.clone());
            Some((address, name))
        })
        .collect();
    let uses_tls = program.functions.iter().any(|f| {
        f.instructions
            .iter()
            .any(|i| i.memory_segment() == iced_x86::Register::FS)
    });
    if let (true, Some(block)) = (uses_tls, layout(image).tls_block) {
        variables.push((block, "thread-local storage".into()));
    }
    variables
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
/// every callback of an app at start (the `x64wasm` library calls this, and
/// the transpile bench times it).
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
fn helpers_needed(program: &Program) -> (bool, bool, bool, [bool; 4], [bool; 2], bool) {
    use iced_x86::Mnemonic as M;
    let (mut mul, mut divu, mut divs) = (false, false, false);
    let mut nan_fixes = [false; 4];
    let mut fmas = [false; 2];
    let mut f16 = false;
    for ins in program.functions.iter().flat_map(|f| &f.instructions) {
        let wide = match ins.op0_kind() {
            iced_x86::OpKind::Register => ins.op0_register().size() == 8,
            iced_x86::OpKind::Memory => ins.memory_size().size() == 8,
            _ => false,
        };
        match ins.mnemonic() {
            M::Mul | M::Imul | M::Mulx if wide => mul = true,
            M::Div if wide => divu = true,
            M::Idiv if wide => divs = true,
            M::Vcvtps2ph => f16 = true,
            _ => {}
        }
        if let Some(fix) = nan_fix_of(ins) {
            nan_fixes[fix as usize] = true;
        }
        if let Some(form) = lower::fma::fma_form(ins.mnemonic()) {
            fmas[usize::from(form.double)] = true;
            // (the f64 one multiplies 64 x 64 bits)
            mul |= form.double;
        }
    }
    (mul, divu, divs, nan_fixes, fmas, f16)
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

/// The function table's lookup: `(address: i64) -> i32`, the entry of the
/// function at `address` (`addresses` is sorted), by binary search; any
/// other address traps.
fn table_lookup(addresses: &[u64]) -> Function {
    fn search(f: &mut Function, addresses: &[u64], base: usize) {
        if addresses.len() <= 4 {
            for (i, a) in addresses.iter().enumerate() {
                for ins in [
                    W::LocalGet(0),
                    W::I64Const(*a as i64),
                    W::I64Eq,
                    W::If(wasm_encoder::BlockType::Empty),
                    W::I32Const((base + i) as i32),
                    W::Return,
                    W::End,
                ] {
                    f.instruction(&ins);
                }
            }
            f.instruction(&W::Unreachable);
            return;
        }
        let mid = addresses.len() / 2;
        f.instruction(&W::LocalGet(0));
        f.instruction(&W::I64Const(addresses[mid] as i64));
        f.instruction(&W::I64LtU);
        f.instruction(&W::If(wasm_encoder::BlockType::Empty));
        search(f, &addresses[..mid], base);
        f.instruction(&W::Else);
        search(f, &addresses[mid..], base + mid);
        f.instruction(&W::End);
    }
    let mut f = Function::new([]);
    search(&mut f, addresses, 0);
    f.instruction(&W::Unreachable);
    f.instruction(&W::End);
    f
}

/// A function table entry: takes the table's registers (`table.inputs`),
/// calls wasm function `callee` (whose ABI is `abi`) with its own, and
/// returns the table's outputs: the callee's, and the inputs it does not
/// write, unchanged.
fn adapter(table: &Abi, abi: &Abi, callee: u32) -> Function {
    let param = |r: &Reg| table.inputs.iter().position(|x| x == r).expect("the table's inputs hold every entry's") as u32;
    let first_local = table.inputs.len() as u32;
    let mut f = Function::new_with_locals_types(abi.outputs.iter().map(|r| r.val_type()));
    for r in &abi.inputs {
        f.instruction(&W::LocalGet(param(r)));
    }
    f.instruction(&W::Call(callee));
    for k in (0..abi.outputs.len()).rev() {
        f.instruction(&W::LocalSet(first_local + k as u32));
    }
    for r in &table.outputs {
        match abi.outputs.iter().position(|x| x == r) {
            Some(k) => f.instruction(&W::LocalGet(first_local + k as u32)),
            None => f.instruction(&W::LocalGet(param(r))),
        };
    }
    f.instruction(&W::End);
    f
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

/// The export wrapper: C arguments into registers, a fake return address
/// on the stack, the call, a check that it returned there, and the result
/// out of rax/xmm0.
fn wrapper(sig: &Signature, abi: &Abi, root: u32) -> Function {
    let outputs: Vec<ValType> = abi.outputs.iter().map(|r| r.val_type()).collect();
    let first_local: u32 = sig
        .params
        .iter()
        .map(|p| p.wasm_params().len() as u32)
        .sum();
    let mut f = Function::new_with_locals_types(outputs.iter().copied().chain([ValType::I64]));
    let rsp_local = first_local + outputs.len() as u32;
    // rsp = __stack_pointer - 8, with a zero return address there
    f.instruction(&W::GlobalGet(Global::StackPointer.index()));
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
    // wasm parameters in order: one per C parameter, two for text (its
    // address and length in consecutive integer registers)
    let mut local = 0;
    for p in &sig.params {
        for _ in p.wasm_params() {
            if p.is_float() {
                float_regs.insert(float_regs.len() as u8, (local, *p));
            } else {
                int_regs.insert(INT_ARGS[int_regs.len()], (local, *p));
            }
            local += 1;
        }
    }
    for r in &abi.inputs {
        entry_value(&mut f, *r, rsp_local, &int_regs, &float_regs);
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
                // the function never writes its result register, so x86
                // returns what the register held at entry: the first float
                // argument for xmm0 (`fn id(x: f64) -> f64 { x }` is a bare
                // `ret`), the value the wrapper started it at otherwise
                entry_value(&mut f, from, rsp_local, &int_regs, &float_regs);
                narrow_result(&mut f, ty);
            }
        }
    }
    f.instruction(&W::End);
    f
}

/// Pushes the value register `r` holds when the export wrapper calls the
/// function: a C argument's register gets the argument (extended per its C
/// type, a float splatted into its XMM register), `rsp` the wrapper's stack
/// pointer, any other register zero. The same value stands for a result
/// register the function never writes.
fn entry_value(
    f: &mut Function,
    r: Reg,
    rsp_local: u32,
    int_regs: &BTreeMap<u8, (u32, ScalarType)>,
    float_regs: &BTreeMap<u8, (u32, ScalarType)>,
) {
    match r {
        Reg::Gpr(RSP) => {
            f.instruction(&W::LocalGet(rsp_local));
        }
        Reg::Gpr(g) => match int_regs.get(&g) {
            Some(&(local, ty)) => {
                f.instruction(&W::LocalGet(local));
                extend_arg(f, ty);
            }
            None => {
                f.instruction(&W::I64Const(0));
            }
        },
        Reg::High(_) => {
            f.instruction(&W::V128Const(0));
        }
        Reg::Xmm(x) => match float_regs.get(&x) {
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
