//! The module's one thread: the pthread thread-specific data calls a
//! program makes on it (`pthread_key_create`, `pthread_setspecific`,
//! `pthread_getspecific`, `pthread_key_delete`: Rust's thread-locals with
//! destructors register through them), served in wasm. The keys live in the
//! thread control block, from [`KEYS`] past the thread pointer (global
//! [`THREAD_POINTER`]): a count, then one value per key. No thread of a
//! module exits, so no destructor ever runs, as none would before the
//! thread's end natively.

use wasm_encoder::{BlockType, Function, Instruction as W, ValType};

use super::Builtin;
use crate::layout::{mem, Global};

/// Index of the immutable global holding the thread pointer (i32).
pub const THREAD_POINTER: u32 = Global::ThreadPointer.index();
/// Offset of the pthread keys from the thread pointer: an i64 count of keys
/// created, then [`MAX_KEYS`] i64 values (key k, from 1, at `8 * k`).
pub const KEYS: u64 = 0x40;
/// The most keys a module creates (glibc's own minimum is 128; Rust's
/// runtime makes one).
pub const MAX_KEYS: u64 = 32;
/// Bytes of the thread control block.
pub const TCB_SIZE: u64 = KEYS + 8 + 8 * MAX_KEYS;
/// `EAGAIN`: no key left.
const EAGAIN: i64 = 11;
/// `EINVAL`: not a key.
const EINVAL: i64 = 22;

/// The wasm body of pthread builtin `entry`: `(rdi, rsi, rdx, rcx) -> rax`,
/// all i64, as [`Builtin`] describes each.
pub fn body(entry: Builtin) -> Function {
    // the address of the count; key k's value is 8 * k past it
    let count = [
        W::GlobalGet(THREAD_POINTER),
        W::I32Const(KEYS as i32),
        W::I32Add,
    ];
    let slot = |key: u32| {
        [
            W::GlobalGet(THREAD_POINTER),
            W::I32Const(KEYS as i32),
            W::I32Add,
            W::LocalGet(key),
            W::I32WrapI64,
            W::I32Const(3),
            W::I32Shl,
            W::I32Add,
        ]
    };
    // a key never created is EINVAL (set) or null (get)
    let not_a_key = |key: u32| {
        let mut c = vec![W::LocalGet(key), W::I64Eqz, W::LocalGet(key)];
        c.extend(count.clone());
        c.extend([W::I64Load(mem(0)), W::I64GtU, W::I32Or]);
        c
    };
    let mut c: Vec<W<'static>> = Vec::new();
    match entry {
        Builtin::PthreadKeyCreate => {
            // (key: *u32, destructor) -> 0 or EAGAIN
            c.extend(count.clone());
            c.extend([
                W::I64Load(mem(0)),
                W::I64Const(MAX_KEYS as i64),
                W::I64GeU,
                W::If(BlockType::Empty),
                W::I64Const(EAGAIN),
                W::Return,
                W::End,
            ]);
            c.extend(count.clone());
            c.extend(count.clone());
            c.extend([
                W::I64Load(mem(0)),
                W::I64Const(1),
                W::I64Add,
                W::LocalTee(4),
                W::I64Store(mem(0)),
                W::LocalGet(0),
                W::I32WrapI64,
                W::LocalGet(4),
                W::I64Store32(mem(0)),
                W::I64Const(0),
            ]);
        }
        Builtin::PthreadKeyDelete => c.push(W::I64Const(0)),
        Builtin::PthreadSetspecific => {
            // (key, value) -> 0 or EINVAL
            c.extend(not_a_key(0));
            c.extend([
                W::If(BlockType::Empty),
                W::I64Const(EINVAL),
                W::Return,
                W::End,
            ]);
            c.extend(slot(0));
            c.extend([W::LocalGet(1), W::I64Store(mem(0)), W::I64Const(0)]);
        }
        Builtin::PthreadGetspecific => {
            // (key) -> value, or null
            c.extend(not_a_key(0));
            c.extend([W::If(BlockType::Empty), W::I64Const(0), W::Return, W::End]);
            c.extend(slot(0));
            c.push(W::I64Load(mem(0)));
        }
        _ => unreachable!("{entry:?} is not a pthread builtin"),
    }
    let mut f = Function::new_with_locals_types([ValType::I64]);
    for i in &c {
        f.instruction(i);
    }
    f.instruction(&W::End);
    f
}
