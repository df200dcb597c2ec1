//! The functions every module may carry besides the program's own, in one
//! place: the C library functions the module provides itself (`memcpy` and
//! friends, the libm functions wasm computes exactly), each with the C
//! names that stand for it, the registers it takes and gives, and its wasm
//! body; and the helpers for operations wasm lacks (128-bit products and
//! quotients, in `wide.rs`; fused multiply-add, in `fma.rs`). (x86's NaN
//! choices, also helpers, live with the float lowering in `lower/float.rs`.)

use wasm_encoder::{BlockType, Function, Instruction as W, ValType};

use crate::layout::mem;
use wide::body;

pub mod fma;
pub mod heap;
pub mod threads;
pub mod wide;

/// A C library function the module provides itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Builtin {
    /// `memcpy`
    Memcpy,
    /// `memmove`
    Memmove,
    /// `memset`
    Memset,
    /// `memcmp`
    Memcmp,
    /// `bcmp`
    Bcmp,
    /// libm `floor` on f64
    Floor,
    /// `ceil`
    Ceil,
    /// `trunc`
    Trunc,
    /// `round` (halfway cases away from zero)
    Round,
    /// the f32 versions: `floorf`
    Floorf,
    /// `ceilf`
    Ceilf,
    /// `truncf`
    Truncf,
    /// `roundf`
    Roundf,
    /// `sqrt` (x86 `sqrtsd` semantics, as glibc)
    Sqrt,
    /// `sqrtf`
    Sqrtf,
    /// `fmin`, glibc's NaN rules
    Fmin,
    /// `fmax`
    Fmax,
    /// `fminf`
    Fminf,
    /// `fmaxf`
    Fmaxf,
    /// `malloc(size)` (the heap is `heap.rs`)
    Malloc,
    /// `calloc(count, size)`: zeroed
    Calloc,
    /// `realloc(ptr, size)`: `realloc(ptr, 0)` frees and returns null, as glibc
    Realloc,
    /// `free(ptr)`
    Free,
    /// `posix_memalign(&ptr, align, size)`: 0, or EINVAL (22) for an
    /// alignment that is not a power of two times 8
    PosixMemalign,
    /// `aligned_alloc(align, size)`
    AlignedAlloc,
    /// Rust's `__rust_alloc(size, align)`, whatever the global allocator
    RustAlloc,
    /// `__rust_alloc_zeroed(size, align)`
    RustAllocZeroed,
    /// `__rust_dealloc(ptr, size, align)`
    RustDealloc,
    /// `__rust_realloc(ptr, old_size, align, new_size)`
    RustRealloc,
    /// mimalloc's `mi_realloc_aligned(ptr, new_size, align)`
    ReallocAligned,
    /// `__cxa_thread_atexit_impl(dtor, obj, dso)`: a no-op (no thread of a
    /// module exits)
    ThreadAtexit,
    /// `pthread_key_create(&key, destructor)` (`threads.rs`)
    PthreadKeyCreate,
    /// `pthread_key_delete(key)`
    PthreadKeyDelete,
    /// `pthread_setspecific(key, value)`
    PthreadSetspecific,
    /// `pthread_getspecific(key)`
    PthreadGetspecific,
}

/// How a builtin takes its arguments and gives its result (System V).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `(rdi, rsi, rdx) -> rax`, as three i64 and an i64.
    Memory,
    /// `xmm0 -> xmm0`, as v128.
    Float,
    /// `(xmm0, xmm1) -> xmm0`, as v128.
    Float2,
    /// `(rdi, rsi, rdx, rcx) -> rax`, as four i64 and an i64: the heap.
    Heap,
}

impl Shape {
    /// The wasm function type of a builtin of this shape.
    pub fn func_type(self) -> (Vec<ValType>, Vec<ValType>) {
        match self {
            Shape::Memory => (vec![ValType::I64; 3], vec![ValType::I64]),
            Shape::Float => (vec![ValType::V128], vec![ValType::V128]),
            Shape::Float2 => (vec![ValType::V128; 2], vec![ValType::V128]),
            Shape::Heap => (vec![ValType::I64; 4], vec![ValType::I64]),
        }
    }
}

/// Every builtin: the C names that stand for it (a versioned name such as
/// `memcpy@GLIBC_2.14` counts as its plain name) and its shape.
const BUILTINS: &[(Builtin, &[&str], Shape)] = &[
    (Builtin::Memcpy, &["memcpy", "__memcpy_chk"], Shape::Memory),
    (Builtin::Memmove, &["memmove"], Shape::Memory),
    (Builtin::Memset, &["memset"], Shape::Memory),
    (Builtin::Memcmp, &["memcmp"], Shape::Memory),
    (Builtin::Bcmp, &["bcmp"], Shape::Memory),
    (Builtin::Floor, &["floor"], Shape::Float),
    (Builtin::Ceil, &["ceil"], Shape::Float),
    (Builtin::Trunc, &["trunc"], Shape::Float),
    (Builtin::Round, &["round"], Shape::Float),
    (Builtin::Floorf, &["floorf"], Shape::Float),
    (Builtin::Ceilf, &["ceilf"], Shape::Float),
    (Builtin::Truncf, &["truncf"], Shape::Float),
    (Builtin::Roundf, &["roundf"], Shape::Float),
    (Builtin::Sqrt, &["sqrt"], Shape::Float),
    (Builtin::Sqrtf, &["sqrtf"], Shape::Float),
    (Builtin::Fmin, &["fmin"], Shape::Float2),
    (Builtin::Fmax, &["fmax"], Shape::Float2),
    (Builtin::Fminf, &["fminf"], Shape::Float2),
    (Builtin::Fmaxf, &["fmaxf"], Shape::Float2),
    (Builtin::Malloc, &["malloc"], Shape::Heap),
    (Builtin::Calloc, &["calloc"], Shape::Heap),
    (Builtin::Realloc, &["realloc"], Shape::Heap),
    // mimalloc's entry points too: with LTO, a binary whose global
    // allocator is mimalloc calls them directly instead of `__rust_alloc`
    (Builtin::Free, &["free", "mi_free"], Shape::Heap),
    (Builtin::PosixMemalign, &["posix_memalign"], Shape::Heap),
    (
        Builtin::AlignedAlloc,
        &["aligned_alloc", "memalign"],
        Shape::Heap,
    ),
    (
        Builtin::RustAlloc,
        &["__rust_alloc", "mi_malloc_aligned"],
        Shape::Heap,
    ),
    (
        Builtin::RustAllocZeroed,
        &["__rust_alloc_zeroed", "mi_zalloc_aligned"],
        Shape::Heap,
    ),
    (Builtin::RustDealloc, &["__rust_dealloc"], Shape::Heap),
    (Builtin::RustRealloc, &["__rust_realloc"], Shape::Heap),
    (
        Builtin::ReallocAligned,
        &["mi_realloc_aligned"],
        Shape::Heap,
    ),
    (
        Builtin::ThreadAtexit,
        &["__cxa_thread_atexit_impl"],
        Shape::Heap,
    ),
    (
        Builtin::PthreadKeyCreate,
        &["pthread_key_create"],
        Shape::Heap,
    ),
    (
        Builtin::PthreadKeyDelete,
        &["pthread_key_delete"],
        Shape::Heap,
    ),
    (
        Builtin::PthreadSetspecific,
        &["pthread_setspecific"],
        Shape::Heap,
    ),
    (
        Builtin::PthreadGetspecific,
        &["pthread_getspecific"],
        Shape::Heap,
    ),
];

/// The name of a function of rustc's `__rustc` crate (its allocator shims)
/// from its v0 mangling: `_RNvCs<hash>_7___rustc12___rust_alloc` is
/// `__rustc::__rust_alloc` (an identifier starting with `_` gets a `_`
/// after its length).
fn rustc_shim_name(mangled: &str) -> Option<&str> {
    if !mangled.starts_with("_RNvC") {
        return None;
    }
    let (_, rest) = mangled.split_once("7___rustc")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let len: usize = rest[..digits].parse().ok()?;
    let name = rest[digits..].strip_prefix('_')?;
    (name.len() == len).then_some(name)
}

impl Builtin {
    /// The builtin a C symbol name stands for (`memcpy@GLIBC_2.14`
    /// included), or one of Rust's allocator shims (`__rust_alloc`, which
    /// rustc names `__rustc::__rust_alloc` in its v0 mangling).
    pub fn by_name(name: &str) -> Option<Builtin> {
        let plain = name.split('@').next().unwrap_or(name);
        let plain = rustc_shim_name(plain).unwrap_or(plain);
        BUILTINS
            .iter()
            .find(|(_, names, _)| names.contains(&plain))
            .map(|(b, _, _)| *b)
    }

    /// Every C name the module provides, for error messages.
    pub fn provided() -> String {
        BUILTINS
            .iter()
            .map(|(_, names, _)| names[0])
            .filter(|n| !n.starts_with("__"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// How it takes arguments and gives its result.
    pub fn shape(self) -> Shape {
        BUILTINS
            .iter()
            .find(|(b, _, _)| *b == self)
            .map(|(_, _, shape)| *shape)
            .expect("every builtin is in BUILTINS")
    }

    /// True for the libm functions, which take and return xmm0.
    pub fn is_float(self) -> bool {
        matches!(self.shape(), Shape::Float | Shape::Float2)
    }

    /// The wasm function that serves it (memcpy/memmove/memset/memcmp/bcmp
    /// on (rdi, rsi, rdx) → rax; libm on xmm0 (and xmm1); the heap on
    /// (rdi, rsi, rdx, rcx) → rax). `errno`: where the module keeps
    /// `errno` when it has one (libc linked: `link.rs`), which `sqrt` of a
    /// negative number sets to EDOM as glibc's does.
    pub fn body(self, errno: Option<u64>) -> Function {
        let b = self;
        match b {
            Builtin::Floor
            | Builtin::Ceil
            | Builtin::Trunc
            | Builtin::Round
            | Builtin::Floorf
            | Builtin::Ceilf
            | Builtin::Truncf
            | Builtin::Roundf => float_rounding(b),
            Builtin::Sqrt | Builtin::Sqrtf => libm_sqrt(b == Builtin::Sqrtf, errno),
            Builtin::Malloc
            | Builtin::Calloc
            | Builtin::Realloc
            | Builtin::Free
            | Builtin::PosixMemalign
            | Builtin::AlignedAlloc
            | Builtin::RustAlloc
            | Builtin::RustAllocZeroed
            | Builtin::RustDealloc
            | Builtin::RustRealloc
            | Builtin::ReallocAligned
            | Builtin::ThreadAtexit => heap::body(b),
            Builtin::PthreadKeyCreate
            | Builtin::PthreadKeyDelete
            | Builtin::PthreadSetspecific
            | Builtin::PthreadGetspecific => threads::body(b),
            Builtin::Fmin | Builtin::Fmax | Builtin::Fminf | Builtin::Fmaxf => libm_fmin_fmax(b),
            Builtin::Memcpy | Builtin::Memmove => body(
                &[],
                &[
                    W::LocalGet(0),
                    W::I32WrapI64,
                    W::LocalGet(1),
                    W::I32WrapI64,
                    W::LocalGet(2),
                    W::I32WrapI64,
                    W::MemoryCopy {
                        src_mem: 0,
                        dst_mem: 0,
                    },
                    W::LocalGet(0),
                ],
            ),
            Builtin::Memset => body(
                &[],
                &[
                    W::LocalGet(0),
                    W::I32WrapI64,
                    W::LocalGet(1),
                    W::I32WrapI64,
                    W::LocalGet(2),
                    W::I32WrapI64,
                    W::MemoryFill(0),
                    W::LocalGet(0),
                ],
            ),
            Builtin::Memcmp | Builtin::Bcmp => body(
                // locals: i=3 x=4 y=5 (i64)
                &[ValType::I64; 3],
                &[
                    // 8 bytes at a time while they are equal (the bytes the
                    // byte loop would read, no others); the byte loop then
                    // finds the first difference from there
                    W::Block(BlockType::Empty),
                    W::Loop(BlockType::Empty),
                    W::LocalGet(3),
                    W::I64Const(8),
                    W::I64Add,
                    W::LocalGet(2),
                    W::I64GtU,
                    W::BrIf(1),
                    W::LocalGet(0),
                    W::LocalGet(3),
                    W::I64Add,
                    W::I32WrapI64,
                    W::I64Load(mem(0)),
                    W::LocalGet(1),
                    W::LocalGet(3),
                    W::I64Add,
                    W::I32WrapI64,
                    W::I64Load(mem(0)),
                    W::I64Ne,
                    W::BrIf(1),
                    W::LocalGet(3),
                    W::I64Const(8),
                    W::I64Add,
                    W::LocalSet(3),
                    W::Br(0),
                    W::End,
                    W::End,
                    W::Block(BlockType::Empty),
                    W::Loop(BlockType::Empty),
                    W::LocalGet(3),
                    W::LocalGet(2),
                    W::I64GeU,
                    W::BrIf(1),
                    W::LocalGet(0),
                    W::LocalGet(3),
                    W::I64Add,
                    W::I32WrapI64,
                    W::I64Load8U(mem(0)),
                    W::LocalSet(4),
                    W::LocalGet(1),
                    W::LocalGet(3),
                    W::I64Add,
                    W::I32WrapI64,
                    W::I64Load8U(mem(0)),
                    W::LocalSet(5),
                    W::LocalGet(4),
                    W::LocalGet(5),
                    W::I64Ne,
                    W::If(BlockType::Empty),
                    // glibc returns the difference of the first differing bytes
                    W::LocalGet(4),
                    W::LocalGet(5),
                    W::I64Sub,
                    W::I32WrapI64,
                    W::I64ExtendI32S,
                    W::Return,
                    W::End,
                    W::LocalGet(3),
                    W::I64Const(1),
                    W::I64Add,
                    W::LocalSet(3),
                    W::Br(0),
                    W::End,
                    W::End,
                    W::I64Const(0),
                ],
            ),
        }
    }
}

/// libm rounding on lane 0 of xmm0: `op` on the value, a NaN comes back
/// quieted with its payload (as glibc's `x + x` does).
fn float_rounding(b: Builtin) -> Function {
    let (op, f32) = match b {
        Builtin::Floor => (W::F64Floor, false),
        Builtin::Ceil => (W::F64Ceil, false),
        Builtin::Trunc => (W::F64Trunc, false),
        Builtin::Round => (W::F64Trunc, false),
        Builtin::Floorf => (W::F32Floor, true),
        Builtin::Ceilf => (W::F32Ceil, true),
        Builtin::Truncf => (W::F32Trunc, true),
        _ => (W::F32Trunc, true),
    };
    let round = matches!(b, Builtin::Round | Builtin::Roundf);
    // param 0: xmm0; local 1: x (float), local 2: r (float)
    let ty = if f32 { ValType::F32 } else { ValType::F64 };
    let mut code: Vec<W<'static>> = vec![W::LocalGet(0)];
    code.push(if f32 {
        W::F32x4ExtractLane(0)
    } else {
        W::F64x2ExtractLane(0)
    });
    code.extend([W::LocalTee(1), op, W::LocalSet(2)]);
    if round {
        // C round: halfway cases away from zero. r = trunc(x) + (|x - r| >= 0.5 ? sign(x) : 0)
        let (sub, abs, ge, copysign, add, half, one) = if f32 {
            (
                W::F32Sub,
                W::F32Abs,
                W::F32Ge,
                W::F32Copysign,
                W::F32Add,
                W::F32Const(0.5f32.into()),
                W::F32Const(1.0f32.into()),
            )
        } else {
            (
                W::F64Sub,
                W::F64Abs,
                W::F64Ge,
                W::F64Copysign,
                W::F64Add,
                W::F64Const(0.5f64.into()),
                W::F64Const(1.0f64.into()),
            )
        };
        let zero = if f32 {
            W::F32Const(0.0f32.into())
        } else {
            W::F64Const(0.0f64.into())
        };
        code.extend([
            W::LocalGet(2),
            one,
            W::LocalGet(1),
            copysign.clone(),
            zero.clone(),
            W::LocalGet(1),
            W::LocalGet(2),
            sub,
            abs,
            half,
            ge,
            W::Select,
            add,
            // keep the sign of zero results (round(-0.3) = -0)
            W::LocalGet(1),
            copysign,
            W::LocalSet(2),
        ]);
    }
    // NaN in: quiet it, keeping the payload
    code.push(W::LocalGet(0));
    if f32 {
        code.extend([
            W::LocalGet(1),
            W::I32ReinterpretF32,
            W::I32Const(0x0040_0000),
            W::I32Or,
            W::LocalGet(2),
            W::I32ReinterpretF32,
            W::LocalGet(1),
            W::LocalGet(1),
            W::F32Ne,
            W::Select,
            W::I32x4ReplaceLane(0),
        ]);
    } else {
        code.extend([
            W::LocalGet(1),
            W::I64ReinterpretF64,
            W::I64Const(0x0008_0000_0000_0000),
            W::I64Or,
            W::LocalGet(2),
            W::I64ReinterpretF64,
            W::LocalGet(1),
            W::LocalGet(1),
            W::F64Ne,
            W::Select,
            W::I64x2ReplaceLane(0),
        ]);
    }
    body(&[ty, ty], &code)
}

/// libm `sqrt`: x86 `sqrtsd` (glibc's result): a NaN comes back quieted,
/// a negative number gives the default NaN and sets `errno` (at `errno`,
/// when the module has it) to EDOM.
fn libm_sqrt(f32: bool, errno: Option<u64>) -> Function {
    // param 0: xmm0; local 1: bits in, local 2: bits out
    let (extract, sqrt, replace, bits_ty) = if f32 {
        (
            W::I32x4ExtractLane(0),
            [W::F32ReinterpretI32, W::F32Sqrt, W::I32ReinterpretF32],
            W::I32x4ReplaceLane(0),
            ValType::I32,
        )
    } else {
        (
            W::I64x2ExtractLane(0),
            [W::F64ReinterpretI64, W::F64Sqrt, W::I64ReinterpretF64],
            W::I64x2ReplaceLane(0),
            ValType::I64,
        )
    };
    let (sign, exponent, quiet, indefinite) = nan_constants(f32);
    let mut code = vec![W::LocalGet(0), extract, W::LocalTee(1)];
    code.extend(sqrt);
    code.push(W::LocalSet(2));
    // r is NaN → isnan(x) ? quiet(x) : indefinite
    code.extend(is_nan_bits(2, f32, sign.clone(), exponent.clone()));
    code.extend([
        W::If(BlockType::Empty),
        W::LocalGet(1),
        quiet.clone(),
        or(f32),
        indefinite,
    ]);
    code.extend(is_nan_bits(1, f32, sign.clone(), exponent.clone()));
    code.extend([W::Select, W::LocalSet(2)]);
    if let Some(errno) = errno {
        // a NaN result from a number: x < 0
        code.extend(is_nan_bits(1, f32, sign.clone(), exponent.clone()));
        code.extend([
            W::I32Eqz,
            W::If(BlockType::Empty),
            W::I32Const(errno as u32 as i32),
            W::I32Const(EDOM),
            W::I32Store(mem(0)),
            W::End,
        ]);
    }
    code.extend([W::End, W::LocalGet(0), W::LocalGet(2), replace]);
    body(&[bits_ty, bits_ty], &code)
}

/// `errno` for a domain error (Linux's EDOM).
const EDOM: i32 = 33;

/// glibc's x86-64 `fmin`/`fmax` (checked against the system libm by
/// `tests/libm.rs`): ordered operands give `minsd`/`maxsd`'s answer (x when
/// x < y, else y; `>` for max); one quiet NaN gives the other operand; two
/// NaNs or a signalling one give x + y, that is the quieted first NaN.
fn libm_fmin_fmax(b: Builtin) -> Function {
    let f32 = matches!(b, Builtin::Fminf | Builtin::Fmaxf);
    let max = matches!(b, Builtin::Fmax | Builtin::Fmaxf);
    // params 0: xmm0, 1: xmm1; locals 2: x bits, 3: y bits, 4: result bits
    let (extract, replace, bits_ty) = if f32 {
        (W::I32x4ExtractLane(0), W::I32x4ReplaceLane(0), ValType::I32)
    } else {
        (W::I64x2ExtractLane(0), W::I64x2ReplaceLane(0), ValType::I64)
    };
    let as_float = |l: u32| {
        [
            W::LocalGet(l),
            if f32 {
                W::F32ReinterpretI32
            } else {
                W::F64ReinterpretI64
            },
        ]
    };
    let pick_x = match (f32, max) {
        (false, false) => W::F64Lt,
        (false, true) => W::F64Gt,
        (true, false) => W::F32Lt,
        (true, true) => W::F32Gt,
    };
    let (sign, exponent, quiet, _) = nan_constants(f32);
    let nan = |l: u32| is_nan_bits(l, f32, sign.clone(), exponent.clone());
    let signalling = |l: u32| -> Vec<W<'static>> {
        let mut v = nan(l);
        v.extend([W::LocalGet(l), quiet.clone(), and(f32), eqz(f32), W::I32And]);
        v
    };
    let mut code = vec![
        W::LocalGet(0),
        extract.clone(),
        W::LocalSet(2),
        W::LocalGet(1),
        extract,
        W::LocalSet(3),
    ];
    // ordered: x < y ? x : y (min), x > y ? x : y (max)
    code.extend([W::LocalGet(2), W::LocalGet(3)]);
    code.extend(as_float(2));
    code.extend(as_float(3));
    code.extend([pick_x, W::Select, W::LocalSet(4)]);
    // unordered
    code.extend(nan(2));
    code.extend(nan(3));
    code.extend([W::I32Or, W::If(BlockType::Empty)]);
    code.extend(nan(2));
    code.extend(nan(3));
    code.push(W::I32And);
    code.extend(signalling(2));
    code.push(W::I32Or);
    code.extend(signalling(3));
    code.extend([W::I32Or, W::If(BlockType::Empty)]);
    // x + y: quiet(x) if x is NaN, else quiet(y)
    code.extend([
        W::LocalGet(2),
        quiet.clone(),
        or(f32),
        W::LocalGet(3),
        quiet.clone(),
        or(f32),
    ]);
    code.extend(nan(2));
    code.extend([W::Select, W::LocalSet(4), W::Else]);
    // one quiet NaN: the other operand
    code.extend([W::LocalGet(3), W::LocalGet(2)]);
    code.extend(nan(2));
    code.extend([W::Select, W::LocalSet(4), W::End, W::End]);
    code.extend([W::LocalGet(0), W::LocalGet(4), replace]);
    body(&[bits_ty, bits_ty, bits_ty], &code)
}

/// Sign, exponent, quiet-bit and default-NaN constants as wasm constants.
fn nan_constants(f32: bool) -> (W<'static>, W<'static>, W<'static>, W<'static>) {
    if f32 {
        (
            W::I32Const(0x7fff_ffff),
            W::I32Const(0x7f80_0000),
            W::I32Const(0x0040_0000),
            W::I32Const(0xffc0_0000u32 as i32),
        )
    } else {
        (
            W::I64Const(0x7fff_ffff_ffff_ffff),
            W::I64Const(0x7ff0_0000_0000_0000),
            W::I64Const(0x0008_0000_0000_0000),
            W::I64Const(0xfff8_0000_0000_0000u64 as i64),
        )
    }
}

/// i32 1 when local `l` holds NaN bits (`magnitude_mask` = all but the sign).
fn is_nan_bits(
    l: u32,
    f32: bool,
    magnitude_mask: W<'static>,
    exponent: W<'static>,
) -> Vec<W<'static>> {
    vec![
        W::LocalGet(l),
        magnitude_mask,
        and(f32),
        exponent,
        if f32 { W::I32GtU } else { W::I64GtU },
    ]
}

fn and(f32: bool) -> W<'static> {
    if f32 {
        W::I32And
    } else {
        W::I64And
    }
}

fn or(f32: bool) -> W<'static> {
    if f32 {
        W::I32Or
    } else {
        W::I64Or
    }
}

fn eqz(f32: bool) -> W<'static> {
    if f32 {
        W::I32Eqz
    } else {
        W::I64Eqz
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_has_one_row_and_its_names() {
        for (b, names, _) in BUILTINS {
            assert_eq!(
                BUILTINS.iter().filter(|(other, _, _)| other == b).count(),
                1,
                "{b:?}"
            );
            for name in *names {
                assert_eq!(Builtin::by_name(name), Some(*b));
                assert_eq!(Builtin::by_name(&format!("{name}@GLIBC_2.2.5")), Some(*b));
            }
        }
        // what the module does not provide, and rustc's mangled shims
        let names: &[(&str, Option<Builtin>)] = &[
            ("pow", None),
            ("malloc_usable_size", None),
            (
                "_RNvCsfLfy6EI15iL_7___rustc12___rust_alloc",
                Some(Builtin::RustAlloc),
            ),
            (
                "_RNvCsfLfy6EI15iL_7___rustc14___rust_dealloc",
                Some(Builtin::RustDealloc),
            ),
            (
                "_RNvCs1234_7___rustc19___rust_alloc_zeroed",
                Some(Builtin::RustAllocZeroed),
            ),
            (
                "_RNvCs1234_7___rustc14___rust_realloc",
                Some(Builtin::RustRealloc),
            ),
            // mimalloc's entry points, called directly under LTO
            ("mi_malloc_aligned", Some(Builtin::RustAlloc)),
            ("mi_zalloc_aligned", Some(Builtin::RustAllocZeroed)),
            ("mi_realloc_aligned", Some(Builtin::ReallocAligned)),
            ("mi_free", Some(Builtin::Free)),
            // the lengths must agree
            ("_RNvCs1234_7___rustc13___rust_alloc", None),
            ("_RNvCs1234_7___rustc10rust_panic", None),
        ];
        for (name, want) in names {
            assert_eq!(Builtin::by_name(name), *want, "{name}");
        }
    }
}
