//! A leaf every stage may use: how a module lays out its linear memory and
//! its wasm globals (one table), and how its code addresses memory.
//!
//! ```text
//! 0 ........ image (data segments where the code reads) ........ end
//! end↑16 ... stack (STACK_SIZE) ... __stack_pointer = __heap_base ... heap
//! ```
//!
//! (Linear address = the ELF's virtual address; the module's heap, its
//! `__malloc_base`, starts [`HEAP_SIZE`] past `__heap_base`, page-aligned.)

use wasm_encoder::MemArg;

/// Bytes of x86 stack in the module: 8 MiB, as Linux gives a main thread.
pub const STACK_SIZE: u64 = 8 << 20;
/// Bytes from `__heap_base` (the caller's data) to `__malloc_base` (the
/// module's heap, `builtins/heap.rs`) unless the caller moves the latter.
pub const HEAP_SIZE: u64 = 1 << 16;

/// The module's wasm globals, by index: `module.rs` declares them in this
/// order, each with [`Global::declaration`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Global {
    /// `__stack_pointer` (exported, i32, mutable): the top of the x86 stack.
    StackPointer = 0,
    /// `__heap_base` (exported, i32): where a caller may put its data.
    HeapBase = 1,
    /// `__malloc_base` (exported, i32, mutable): the module's heap.
    MallocBase = 2,
    /// The heap's bump pointer (i32, mutable; 0: not started).
    Bump = 3,
    /// The thread pointer (i32): the TCB, which the pthread builtins keep
    /// their keys past.
    ThreadPointer = 4,
}

impl Global {
    /// Every global, in index order.
    pub const ALL: [Global; 5] = [
        Global::StackPointer,
        Global::HeapBase,
        Global::MallocBase,
        Global::Bump,
        Global::ThreadPointer,
    ];

    /// Its wasm index.
    pub const fn index(self) -> u32 {
        self as u32
    }

    /// Its export name, if exported, and whether it is mutable.
    pub const fn declaration(self) -> (Option<&'static str>, bool) {
        match self {
            Global::StackPointer => (Some("__stack_pointer"), true),
            Global::HeapBase => (Some("__heap_base"), false),
            Global::MallocBase => (Some("__malloc_base"), true),
            Global::Bump => (None, true),
            Global::ThreadPointer => (None, false),
        }
    }
}

/// A memory argument with no alignment promise (x86 allows any).
pub fn mem(offset: u64) -> MemArg {
    MemArg {
        offset,
        align: 0,
        target: wasm_encoder::MemArgTarget::Memory(0),
        ordering: None,
    }
}
