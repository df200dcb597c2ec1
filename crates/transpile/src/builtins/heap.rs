//! The module's own heap: `malloc`, `free` and the rest of the C and Rust
//! allocation entry points (`builtins/mod.rs` lists them), as wasm.
//!
//! The heap is the linear memory from the exported global `__malloc_base`
//! up (`docs/abi.md`): its first 128 bytes are 32 free-list heads, then
//! blocks are carved upwards from a bump pointer (an internal global),
//! growing memory as needed. A block is a power of two of 32 bytes or more;
//! the 16 bytes before a payload hold its size class and its distance from
//! the block's start (more than 16 when the payload was aligned further).
//! A freed block goes on its class's list and the next allocation of that
//! class takes it, so what a call frees it can allocate again. The heap
//! lives as long as the instance (a pointer a thread-local keeps stays
//! good), and starts at the first allocation, where `__malloc_base` is then
//! (a caller moves it before its first call). Running out (memory cannot
//! grow, a size past 2 GiB, an alignment past 64 KiB) traps: an allocation
//! never fails quietly where the native one would succeed.

use wasm_encoder::{BlockType, Function, Instruction as W, ValType};

use super::Builtin;
use crate::layout::{mem, Global};

/// Index of the exported global `__malloc_base` (i32, mutable).
pub const MALLOC_BASE: u32 = Global::MallocBase.index();
/// Index of the internal global holding the bump pointer (i32, mutable).
pub const BUMP: u32 = Global::Bump.index();
/// Bytes of free-list heads at `__malloc_base`: one i32 per size class.
pub const HEADS: u32 = 128;
/// The smallest block class: 2^5 = 32 bytes (16 of header).
const MIN_CLASS: i32 = 5;
/// The largest request served (bytes); more traps.
const MAX_SIZE: i64 = 0x7fff_0000;
/// The largest alignment served; more traps.
const MAX_ALIGN: i64 = 1 << 16;

// Locals of every entry's body: the four argument registers (rdi, rsi, rdx,
// rcx as i64 parameters), then scratch.
const ARG0: u32 = 0;
const ARG1: u32 = 1;
const ARG2: u32 = 2;
const ARG3: u32 = 3;
const SIZE: u32 = 4; // i64
const ALIGN: u32 = 5; // i64
const END: u32 = 6; // i64
const K: u32 = 7; // i32
const B: u32 = 8; // i32
const P: u32 = 9; // i32
const H: u32 = 10; // i32
const Q: u32 = 11; // i32
const N: u32 = 12; // i32
const KEEP: u32 = 13; // i32
const LOCALS: [ValType; 10] = [
    ValType::I64,
    ValType::I64,
    ValType::I64,
    ValType::I32,
    ValType::I32,
    ValType::I32,
    ValType::I32,
    ValType::I32,
    ValType::I32,
    ValType::I32,
];

/// The header before a payload: its size class, this many bytes below it.
const CLASS_BELOW: i32 = 16;
/// The header before a payload: its distance from the block's start, this
/// many bytes below it.
const DISTANCE_BELOW: i32 = 12;

/// Loads the header field `below` bytes under the payload in `local`.
fn header(local: u32, below: i32) -> [W<'static>; 4] {
    [
        W::LocalGet(local),
        W::I32Const(below),
        W::I32Sub,
        W::I32Load(mem32()),
    ]
}

fn mem32() -> wasm_encoder::MemArg {
    mem(0)
}

/// The wasm body of heap builtin `entry` (see [`Builtin`] for each):
/// `(rdi, rsi, rdx, rcx) -> rax`, all i64.
pub fn body(entry: Builtin) -> Function {
    let mut c: Vec<W<'static>> = Vec::new();
    match entry {
        Builtin::Malloc
        | Builtin::Calloc
        | Builtin::AlignedAlloc
        | Builtin::RustAlloc
        | Builtin::RustAllocZeroed => {
            let (size, align) = match entry {
                Builtin::Malloc => (vec![W::LocalGet(ARG0)], vec![W::I64Const(16)]),
                Builtin::Calloc => (checked_product(ARG0, ARG1), vec![W::I64Const(16)]),
                Builtin::AlignedAlloc => (vec![W::LocalGet(ARG1)], vec![W::LocalGet(ARG0)]),
                _ => (vec![W::LocalGet(ARG0)], vec![W::LocalGet(ARG1)]),
            };
            c.extend(size);
            c.push(W::LocalSet(SIZE));
            c.extend(align);
            c.push(W::LocalSet(ALIGN));
            if entry == Builtin::AlignedAlloc {
                // glibc rounds an alignment up to a power of two
                c.extend([
                    // (0 and 1 stay: `allocate` makes them 16)
                    W::LocalGet(ALIGN),
                    W::I64Const(1),
                    W::I64Const(64),
                    W::LocalGet(ALIGN),
                    W::I64Const(1),
                    W::I64Sub,
                    W::I64Clz,
                    W::I64Sub,
                    W::I64Shl,
                    W::LocalGet(ALIGN),
                    W::I64Const(2),
                    W::I64LtU,
                    W::Select,
                    W::LocalSet(ALIGN),
                ]);
            }
            allocate(&mut c);
            if matches!(entry, Builtin::Calloc | Builtin::RustAllocZeroed) {
                c.extend([
                    W::LocalGet(P),
                    W::I32Const(0),
                    W::LocalGet(SIZE),
                    W::I32WrapI64,
                    W::MemoryFill(0),
                ]);
            }
            c.extend([W::LocalGet(P), W::I64ExtendI32U]);
        }
        Builtin::Free | Builtin::RustDealloc => {
            c.extend([W::LocalGet(ARG0), W::I32WrapI64, W::LocalSet(P)]);
            free(&mut c);
            c.push(W::I64Const(0));
        }
        Builtin::PosixMemalign => {
            // EINVAL unless the alignment is a power of two times 8
            c.extend([
                W::LocalGet(ARG1),
                W::LocalGet(ARG1),
                W::I64Const(1),
                W::I64Sub,
                W::I64And,
                W::I64Const(0),
                W::I64Ne,
                W::LocalGet(ARG1),
                W::I64Const(8),
                W::I64LtU,
                W::I32Or,
                W::If(BlockType::Empty),
                W::I64Const(22),
                W::Return,
                W::End,
                W::LocalGet(ARG2),
                W::LocalSet(SIZE),
                W::LocalGet(ARG1),
                W::LocalSet(ALIGN),
            ]);
            allocate(&mut c);
            c.extend([
                W::LocalGet(ARG0),
                W::I32WrapI64,
                W::LocalGet(P),
                W::I64ExtendI32U,
                W::I64Store(mem(0)),
                W::I64Const(0),
            ]);
        }
        Builtin::Realloc | Builtin::RustRealloc | Builtin::ReallocAligned => {
            // (ptr, new size, align, bytes to keep at most): Rust's shim
            // passes the old size, the others keep what the block holds
            let rust = entry == Builtin::RustRealloc;
            let (new_size, align) = match entry {
                Builtin::RustRealloc => (ARG3, Some(ARG2)),
                Builtin::ReallocAligned => (ARG1, Some(ARG2)),
                _ => (ARG1, None),
            };
            c.extend([W::LocalGet(new_size), W::LocalSet(SIZE)]);
            match align {
                Some(align) => c.extend([W::LocalGet(align), W::LocalSet(ALIGN)]),
                None => c.extend([W::I64Const(16), W::LocalSet(ALIGN)]),
            }
            // realloc(null, n) is an allocation
            c.extend([W::LocalGet(ARG0), W::I64Eqz, W::If(BlockType::Empty)]);
            allocate(&mut c);
            c.extend([W::LocalGet(P), W::I64ExtendI32U, W::Return, W::End]);
            c.extend([W::LocalGet(ARG0), W::I32WrapI64, W::LocalSet(Q)]);
            if entry == Builtin::Realloc {
                // realloc(p, 0) frees p and returns null (glibc)
                c.extend([
                    W::LocalGet(SIZE),
                    W::I64Eqz,
                    W::If(BlockType::Empty),
                    W::LocalGet(Q),
                    W::LocalSet(P),
                ]);
                free(&mut c);
                c.extend([W::I64Const(0), W::Return, W::End]);
            }
            // capacity of the block: 2^k - distance of the payload
            c.push(W::I32Const(1));
            c.extend(header(Q, CLASS_BELOW));
            c.push(W::I32Shl);
            c.extend(header(Q, DISTANCE_BELOW));
            c.extend([
                W::I32Sub,
                W::LocalSet(N),
                // fits: the same block
                W::LocalGet(SIZE),
                W::LocalGet(N),
                W::I64ExtendI32U,
                W::I64LeU,
                W::If(BlockType::Empty),
                W::LocalGet(ARG0),
                W::Return,
                W::End,
            ]);
            if rust {
                // keep the old size's bytes (less than the new size here)
                c.extend([W::LocalGet(ARG1), W::I32WrapI64, W::LocalSet(N)]);
            }
            allocate(&mut c);
            c.extend([
                W::LocalGet(P),
                W::LocalGet(Q),
                W::LocalGet(N),
                W::LocalGet(SIZE),
                W::I32WrapI64,
                W::LocalGet(N),
                W::LocalGet(SIZE),
                W::I32WrapI64,
                W::I32LtU,
                W::Select,
                W::MemoryCopy {
                    src_mem: 0,
                    dst_mem: 0,
                },
                W::LocalGet(P),
                W::LocalSet(KEEP), // the new block, while the old one is freed
                W::LocalGet(Q),
                W::LocalSet(P),
            ]);
            free(&mut c);
            c.extend([W::LocalGet(KEEP), W::I64ExtendI32U]);
        }
        Builtin::ThreadAtexit => {
            // registering a thread-local's destructor: no thread of the
            // module ever exits
            c.push(W::I64Const(0));
        }
        _ => unreachable!("{entry:?} is not a heap builtin"),
    }
    let mut f = Function::new_with_locals_types(LOCALS);
    for i in &c {
        f.instruction(i);
    }
    f.instruction(&W::End);
    f
}

/// `count * size` as an i64, trapping when it does not fit in 64 bits
/// (calloc; a product that fits but is too large traps in `allocate`).
fn checked_product(count: u32, size: u32) -> Vec<W<'static>> {
    vec![
        // overflow: count != 0 and product / count != size
        W::LocalGet(count),
        W::I64Const(0),
        W::I64Ne,
        W::If(BlockType::Empty),
        W::LocalGet(count),
        W::LocalGet(size),
        W::I64Mul,
        W::LocalGet(count),
        W::I64DivU,
        W::LocalGet(size),
        W::I64Ne,
        W::If(BlockType::Empty),
        W::Unreachable,
        W::End,
        W::End,
        W::LocalGet(count),
        W::LocalGet(size),
        W::I64Mul,
    ]
}

/// Traps unless the i64 in `local` is a power of two.
fn trap_unless_power_of_two(c: &mut Vec<W<'static>>, local: u32) {
    c.extend([
        W::LocalGet(local),
        W::I64Popcnt,
        W::I64Const(1),
        W::I64Ne,
        W::If(BlockType::Empty),
        W::Unreachable,
        W::End,
    ]);
}

/// P := a payload of SIZE bytes aligned to ALIGN (both i64 locals).
fn allocate(c: &mut Vec<W<'static>>) {
    c.extend([
        // align := max(align, 16); absurd requests trap
        W::LocalGet(ALIGN),
        W::I64Const(16),
        W::LocalGet(ALIGN),
        W::I64Const(16),
        W::I64GtU,
        W::Select,
        W::LocalSet(ALIGN),
        W::LocalGet(SIZE),
        W::I64Const(MAX_SIZE),
        W::I64GtU,
        W::LocalGet(ALIGN),
        W::I64Const(MAX_ALIGN),
        W::I64GtU,
        W::I32Or,
        W::If(BlockType::Empty),
        W::Unreachable,
        W::End,
    ]);
    trap_unless_power_of_two(c, ALIGN);
    c.extend([
        // class k: the block holds the header, the payload and the slack
        // aligning it (size + align bytes), at least 2^5
        W::I64Const(64),
        W::LocalGet(SIZE),
        W::LocalGet(ALIGN),
        W::I64Add,
        W::I64Const(1),
        W::I64Sub,
        W::I64Clz,
        W::I64Sub,
        W::I32WrapI64,
        W::LocalTee(K),
        W::I32Const(MIN_CLASS),
        W::LocalGet(K),
        W::I32Const(MIN_CLASS),
        W::I32GtU,
        W::Select,
        W::LocalSet(K),
        // the first allocation starts the heap: the bump pointer past the
        // free-list heads (zero: memory there is fresh)
        W::GlobalGet(BUMP),
        W::I32Eqz,
        W::If(BlockType::Empty),
        W::GlobalGet(MALLOC_BASE),
        W::I32Const(HEADS as i32),
        W::I32Add,
        W::GlobalSet(BUMP),
        W::End,
        // a free block of the class, or a new one
        W::GlobalGet(MALLOC_BASE),
        W::LocalGet(K),
        W::I32Const(2),
        W::I32Shl,
        W::I32Add,
        W::LocalTee(H),
        W::I32Load(mem32()),
        W::LocalTee(B),
        W::If(BlockType::Empty),
        W::LocalGet(H),
        W::LocalGet(B),
        W::I32Load(mem32()),
        W::I32Store(mem32()),
        W::Else,
        W::GlobalGet(BUMP),
        W::LocalTee(B),
        W::I64ExtendI32U,
        W::I64Const(1),
        W::LocalGet(K),
        W::I64ExtendI32U,
        W::I64Shl,
        W::I64Add,
        W::LocalTee(END),
        // past 4 GiB less a page: no wasm32 memory holds it
        W::I64Const(0xffff_0000),
        W::I64GtU,
        W::If(BlockType::Empty),
        W::Unreachable,
        W::End,
        W::LocalGet(END),
        W::MemorySize(0),
        W::I64ExtendI32U,
        W::I64Const(16),
        W::I64Shl,
        W::I64GtU,
        W::If(BlockType::Empty),
        // grow by the pages missing
        W::LocalGet(END),
        W::MemorySize(0),
        W::I64ExtendI32U,
        W::I64Const(16),
        W::I64Shl,
        W::I64Sub,
        W::I64Const(0xffff),
        W::I64Add,
        W::I64Const(16),
        W::I64ShrU,
        W::I32WrapI64,
        W::MemoryGrow(0),
        W::I32Const(-1),
        W::I32Eq,
        W::If(BlockType::Empty),
        W::Unreachable,
        W::End,
        W::End,
        W::LocalGet(END),
        W::I32WrapI64,
        W::GlobalSet(BUMP),
        W::End,
        // the payload: past the header, aligned
        W::LocalGet(B),
        W::I32Const(15),
        W::I32Add,
        W::LocalGet(ALIGN),
        W::I32WrapI64,
        W::I32Add,
        W::LocalGet(ALIGN),
        W::I32WrapI64,
        W::I32Const(1),
        W::I32Sub,
        W::I32Const(-1),
        W::I32Xor,
        W::I32And,
        W::LocalTee(P),
        W::I32Const(CLASS_BELOW),
        W::I32Sub,
        W::LocalGet(K),
        W::I32Store(mem32()),
        W::LocalGet(P),
        W::I32Const(DISTANCE_BELOW),
        W::I32Sub,
        W::LocalGet(P),
        W::LocalGet(B),
        W::I32Sub,
        W::I32Store(mem32()),
    ]);
}

/// Frees the payload in local P (null: nothing). A pointer whose header is
/// not one of the heap's traps.
fn free(c: &mut Vec<W<'static>>) {
    c.extend([W::LocalGet(P), W::If(BlockType::Empty)]);
    // class and block start, checked
    c.extend(header(P, CLASS_BELOW));
    c.extend([W::LocalSet(K), W::LocalGet(P)]);
    c.extend(header(P, DISTANCE_BELOW));
    c.extend([
        W::I32Sub,
        W::LocalSet(B),
        W::LocalGet(K),
        W::I32Const(MIN_CLASS),
        W::I32LtU,
        W::LocalGet(K),
        W::I32Const(31),
        W::I32GtU,
        W::I32Or,
        W::LocalGet(B),
        W::GlobalGet(MALLOC_BASE),
        W::I32Const(HEADS as i32),
        W::I32Add,
        W::I32LtU,
        W::I32Or,
        W::LocalGet(B),
        W::GlobalGet(BUMP),
        W::I32GeU,
        W::I32Or,
        W::If(BlockType::Empty),
        W::Unreachable,
        W::End,
        // freed: no class (freeing it again traps, whatever the payload's
        // distance from the block's start)
        W::LocalGet(P),
        W::I32Const(CLASS_BELOW),
        W::I32Sub,
        W::I32Const(0),
        W::I32Store(mem32()),
        // onto the class's list
        W::LocalGet(B),
        W::GlobalGet(MALLOC_BASE),
        W::LocalGet(K),
        W::I32Const(2),
        W::I32Shl,
        W::I32Add,
        W::LocalTee(H),
        W::I32Load(mem32()),
        W::I32Store(mem32()),
        W::LocalGet(H),
        W::LocalGet(B),
        W::I32Store(mem32()),
        W::End,
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, ConstExpr, ExportKind, ExportSection, FunctionSection, GlobalSection,
        GlobalType, MemorySection, MemoryType, Module, TypeSection,
    };

    /// A module of the heap builtins alone: memory, the four globals (the
    /// bump pointer 0: the heap not started), one export per builtin.
    fn heap_module(builtins: &[Builtin]) -> Vec<u8> {
        let mut types = TypeSection::new();
        types.ty().function([ValType::I64; 4], [ValType::I64]);
        let mut functions = FunctionSection::new();
        let mut code = CodeSection::new();
        let mut exports = ExportSection::new();
        for (k, b) in builtins.iter().enumerate() {
            functions.function(0);
            code.function(&body(*b));
            exports.export(&format!("{b:?}"), ExportKind::Func, k as u32);
        }
        exports.export("memory", ExportKind::Memory, 0);
        let mut memory = MemorySection::new();
        memory.memory(MemoryType {
            minimum: 2,
            maximum: Some(65536),
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        let mut globals = GlobalSection::new();
        for value in [65536, 65536, 65536, 0] {
            globals.global(
                GlobalType {
                    val_type: ValType::I32,
                    mutable: true,
                    shared: false,
                },
                &ConstExpr::i32_const(value),
            );
        }
        let mut m = Module::new();
        m.section(&types)
            .section(&functions)
            .section(&memory)
            .section(&globals)
            .section(&exports)
            .section(&code);
        m.finish()
    }

    const ALL: [Builtin; 12] = [
        Builtin::Malloc,
        Builtin::Calloc,
        Builtin::Realloc,
        Builtin::Free,
        Builtin::PosixMemalign,
        Builtin::AlignedAlloc,
        Builtin::RustAlloc,
        Builtin::RustAllocZeroed,
        Builtin::RustDealloc,
        Builtin::RustRealloc,
        Builtin::ReallocAligned,
        Builtin::ThreadAtexit,
    ];

    #[test]
    fn every_heap_builtin_validates() {
        for b in ALL {
            let wasm = heap_module(&[b]);
            crate::validate(&wasm).unwrap_or_else(|e| panic!("{b:?}: {e}"));
        }
    }

    /// The heap in wasmi: calls by name with four i64 arguments.
    struct Heap {
        store: wasmi::Store<()>,
        instance: wasmi::Instance,
    }

    impl Heap {
        fn new() -> Heap {
            let engine = wasmi::Engine::default();
            let module = wasmi::Module::new(&engine, &heap_module(&ALL)[..]).unwrap();
            let mut store = wasmi::Store::new(&engine, ());
            let instance = wasmi::Linker::<()>::new(&engine)
                .instantiate_and_start(&mut store, &module)
                .unwrap();
            Heap { store, instance }
        }

        fn call(&mut self, b: Builtin, args: [i64; 4]) -> Result<i64, wasmi::Error> {
            self.instance
                .get_typed_func::<(i64, i64, i64, i64), i64>(&self.store, &format!("{b:?}"))
                .unwrap()
                .call(&mut self.store, (args[0], args[1], args[2], args[3]))
        }

        fn memory(&mut self) -> &mut [u8] {
            let m = self.instance.get_memory(&self.store, "memory").unwrap();
            m.data_mut(&mut self.store)
        }
    }

    #[test]
    fn the_heap_keeps_blocks_apart_aligned_and_reuses_what_is_freed() {
        // a model: every live block's range and the byte written into it
        let mut heap = Heap::new();
        let mut live: Vec<(i64, i64, u8)> = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut highest = 0;
        for step in 0..20_000 {
            let op = next(10);
            if op < 4 || live.is_empty() {
                // sizes up to 4 KiB, alignments 1 to 256
                let size = next(4096) as i64;
                let align = 1i64 << next(9);
                let (b, args) = match op {
                    0 => (Builtin::Malloc, [size, 0, 0, 0]),
                    1 => (Builtin::Calloc, [size / 8, 8, 0, 0]),
                    _ => (Builtin::RustAlloc, [size, align, 0, 0]),
                };
                let size = if b == Builtin::Calloc {
                    size / 8 * 8
                } else {
                    size
                };
                let p = heap.call(b, args).unwrap();
                let align = if b == Builtin::RustAlloc {
                    align.max(16)
                } else {
                    16
                };
                assert_eq!(
                    p % align,
                    0,
                    "step {step}: {b:?} {size} not aligned to {align}"
                );
                if b == Builtin::Calloc {
                    assert!(heap.memory()[p as usize..(p + size) as usize]
                        .iter()
                        .all(|&x| x == 0));
                }
                let tag = (step % 251) as u8;
                heap.memory()[p as usize..(p + size) as usize].fill(tag);
                live.push((p, size, tag));
            } else if op < 7 {
                let (p, size, tag) = live.swap_remove(next(live.len() as u64) as usize);
                assert!(
                    heap.memory()[p as usize..(p + size) as usize]
                        .iter()
                        .all(|&x| x == tag),
                    "step {step}: a block was overwritten"
                );
                let b = if op == 4 {
                    Builtin::Free
                } else {
                    Builtin::RustDealloc
                };
                heap.call(b, [p, size, 16, 0]).unwrap();
            } else {
                // grow or shrink, keeping the contents
                let k = next(live.len() as u64) as usize;
                let (p, size, tag) = live[k];
                let new = next(8192) as i64 + 1;
                let q = match op {
                    7 => heap.call(Builtin::Realloc, [p, new, 0, 0]).unwrap(),
                    // mimalloc's (ptr, new size, align)
                    6 => heap.call(Builtin::ReallocAligned, [p, new, 64, 0]).unwrap(),
                    _ => heap.call(Builtin::RustRealloc, [p, size, 16, new]).unwrap(),
                };
                if op == 6 {
                    assert_eq!(q % 64, 0, "step {step}: mi_realloc_aligned alignment");
                }
                let kept = size.min(new) as usize;
                assert!(heap.memory()[q as usize..q as usize + kept]
                    .iter()
                    .all(|&x| x == tag));
                heap.memory()[q as usize..(q + new) as usize].fill(tag);
                live[k] = (q, new, tag);
            }
            // live blocks never overlap
            let mut sorted: Vec<(i64, i64)> = live.iter().map(|&(p, n, _)| (p, p + n)).collect();
            sorted.sort();
            assert!(
                sorted.windows(2).all(|w| w[0].1 <= w[1].0),
                "step {step}: overlap"
            );
            highest = highest.max(sorted.last().map_or(0, |r| r.1));
        }
        // what is freed is reused: a few hundred live blocks of up to 8 KiB
        // never need more than a few MiB
        assert!(highest < 65536 + (16 << 20), "the heap reached {highest}");
    }

    #[test]
    fn an_allocation_loop_that_frees_runs_in_constant_memory_and_excess_traps() {
        let mut heap = Heap::new();
        let first = heap.call(Builtin::Malloc, [1000, 0, 0, 0]).unwrap();
        heap.call(Builtin::Free, [first, 0, 0, 0]).unwrap();
        for _ in 0..100_000 {
            let p = heap.call(Builtin::Malloc, [1000, 0, 0, 0]).unwrap();
            assert_eq!(p, first, "a freed block of the same class is taken again");
            heap.call(Builtin::Free, [p, 0, 0, 0]).unwrap();
        }
        // more than wasm32 memory can hold, an absurd size or alignment, a
        // pointer the heap never gave: traps, never a null or a wrong block
        let traps: [(Builtin, [i64; 4]); 5] = [
            (Builtin::Malloc, [i64::MAX, 0, 0, 0]),
            (Builtin::Calloc, [1 << 40, 1 << 40, 0, 0]),
            (Builtin::RustAlloc, [64, 1 << 20, 0, 0]),
            (Builtin::AlignedAlloc, [1 << 17, 64, 0, 0]),
            (Builtin::Free, [first + 8, 0, 0, 0]),
        ];
        for (b, args) in traps {
            assert!(heap.call(b, args).is_err(), "{b:?}{args:?} did not trap");
        }
        let mut grown = Heap::new();
        let mut last = Ok(0);
        for _ in 0..40 {
            last = grown.call(Builtin::Malloc, [0x7000_0000, 0, 0, 0]);
            if last.is_err() {
                break;
            }
        }
        assert!(last.is_err(), "allocating past 4 GiB traps");
        // C's edge cases (a double free traps: the list's link is where
        // the class was)
        let r = heap.call(Builtin::Malloc, [100, 0, 0, 0]).unwrap();
        assert_eq!(heap.call(Builtin::Realloc, [r, 0, 0, 0]).unwrap(), 0);
        assert!(
            heap.call(Builtin::Free, [r, 0, 0, 0]).is_err(),
            "double free"
        );
        let mut out = 0;
        assert_eq!(
            heap.call(Builtin::PosixMemalign, [out, 24, 8, 0]).unwrap(),
            22
        );
        out = 70_000;
        assert_eq!(
            heap.call(Builtin::PosixMemalign, [out, 64, 8, 0]).unwrap(),
            0
        );
        let p = i64::from_le_bytes(heap.memory()[70_000..70_008].try_into().unwrap());
        assert_eq!(p % 64, 0);
        // an aligned block freed twice traps too (its payload is not at the
        // block's start, where the list's link goes)
        heap.call(Builtin::Free, [p, 0, 0, 0]).unwrap();
        assert!(
            heap.call(Builtin::Free, [p, 0, 0, 0]).is_err(),
            "aligned double free"
        );
        // calloc of zero bytes whatever the count; memalign rounds its
        // alignment up to a power of two, as glibc
        assert_ne!(heap.call(Builtin::Calloc, [1 << 32, 0, 0, 0]).unwrap(), 0);
        let q = heap.call(Builtin::AlignedAlloc, [48, 96, 0, 0]).unwrap();
        assert_eq!(q % 64, 0);
    }
}
