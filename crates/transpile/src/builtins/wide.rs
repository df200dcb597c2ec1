//! The integer helpers a module carries for what wasm lacks: the high
//! half of a 64 x 64-bit product, and 128 / 64-bit division, as wasm
//! functions. A leaf: every other module may use it.

use wasm_encoder::{BlockType, Function, Instruction as W, ValType};

/// A function of `code` with `locals` after its parameters.
pub(crate) fn body(locals: &[ValType], code: &[W<'static>]) -> Function {
    let mut f = Function::new_with_locals_types(locals.iter().copied());
    for i in code {
        f.instruction(i);
    }
    f.instruction(&W::End);
    f
}

/// High 64 bits of an unsigned 64x64 product, from four 32x32 products.
pub fn helper_mulhu() -> Function {
    // params a=0 b=1; locals al=2 ah=3 bl=4 bh=5 p1=6 p2=7 mid=8
    let m = 0xffff_ffffi64;
    body(
        &[ValType::I64; 7],
        &[
            W::LocalGet(0),
            W::I64Const(m),
            W::I64And,
            W::LocalSet(2),
            W::LocalGet(0),
            W::I64Const(32),
            W::I64ShrU,
            W::LocalSet(3),
            W::LocalGet(1),
            W::I64Const(m),
            W::I64And,
            W::LocalSet(4),
            W::LocalGet(1),
            W::I64Const(32),
            W::I64ShrU,
            W::LocalSet(5),
            W::LocalGet(2),
            W::LocalGet(5),
            W::I64Mul,
            W::LocalSet(6), // al*bh
            W::LocalGet(3),
            W::LocalGet(4),
            W::I64Mul,
            W::LocalSet(7), // ah*bl
            // mid = (al*bl >> 32) + lo32(p1) + lo32(p2)
            W::LocalGet(2),
            W::LocalGet(4),
            W::I64Mul,
            W::I64Const(32),
            W::I64ShrU,
            W::LocalGet(6),
            W::I64Const(m),
            W::I64And,
            W::I64Add,
            W::LocalGet(7),
            W::I64Const(m),
            W::I64And,
            W::I64Add,
            W::LocalSet(8),
            // hi = ah*bh + (p1 >> 32) + (p2 >> 32) + (mid >> 32)
            W::LocalGet(3),
            W::LocalGet(5),
            W::I64Mul,
            W::LocalGet(6),
            W::I64Const(32),
            W::I64ShrU,
            W::I64Add,
            W::LocalGet(7),
            W::I64Const(32),
            W::I64ShrU,
            W::I64Add,
            W::LocalGet(8),
            W::I64Const(32),
            W::I64ShrU,
            W::I64Add,
        ],
    )
}

/// Unsigned (hi:lo) / d → (quotient, remainder); traps like x86 `div` (#DE)
/// when d is 0 or the quotient needs more than 64 bits.
pub fn helper_divu128() -> Function {
    // params hi=0 lo=1 d=2; locals i=3 carry=4
    body(
        &[ValType::I64, ValType::I64],
        &[
            W::LocalGet(2),
            W::I64Eqz,
            W::LocalGet(0),
            W::LocalGet(2),
            W::I64GeU,
            W::I32Or,
            W::If(BlockType::Empty),
            W::Unreachable,
            W::End,
            W::LocalGet(0),
            W::I64Eqz,
            W::If(BlockType::Empty),
            W::LocalGet(1),
            W::LocalGet(2),
            W::I64DivU,
            W::LocalGet(1),
            W::LocalGet(2),
            W::I64RemU,
            W::Return,
            W::End,
            // shift-subtract: r = hi (kept in 0), q = lo (kept in 1)
            W::I64Const(64),
            W::LocalSet(3),
            W::Loop(BlockType::Empty),
            W::LocalGet(0),
            W::I64Const(63),
            W::I64ShrU,
            W::LocalSet(4),
            W::LocalGet(0),
            W::I64Const(1),
            W::I64Shl,
            W::LocalGet(1),
            W::I64Const(63),
            W::I64ShrU,
            W::I64Or,
            W::LocalSet(0),
            W::LocalGet(1),
            W::I64Const(1),
            W::I64Shl,
            W::LocalSet(1),
            W::LocalGet(4),
            W::I64Eqz,
            W::I32Eqz,
            W::LocalGet(0),
            W::LocalGet(2),
            W::I64GeU,
            W::I32Or,
            W::If(BlockType::Empty),
            W::LocalGet(0),
            W::LocalGet(2),
            W::I64Sub,
            W::LocalSet(0),
            W::LocalGet(1),
            W::I64Const(1),
            W::I64Or,
            W::LocalSet(1),
            W::End,
            W::LocalGet(3),
            W::I64Const(1),
            W::I64Sub,
            W::LocalTee(3),
            W::I64Eqz,
            W::I32Eqz,
            W::BrIf(0),
            W::End,
            W::LocalGet(1),
            W::LocalGet(0),
        ],
    )
}

/// Signed (hi:lo) / d → (quotient, remainder), truncating like x86 `idiv`;
/// traps on a zero divisor or a quotient outside i64.
pub fn helper_divs128(divu128: u32) -> Function {
    // params hi=0 lo=1 d=2; locals neg_n=3(i32) neg_d=4(i32) q=5 r=6
    body(
        &[ValType::I32, ValType::I32, ValType::I64, ValType::I64],
        &[
            // fast path: the dividend fits in i64 (i64.div_s traps on MIN/-1 as x86 does)
            W::LocalGet(0),
            W::LocalGet(1),
            W::I64Const(63),
            W::I64ShrS,
            W::I64Eq,
            W::If(BlockType::Empty),
            W::LocalGet(1),
            W::LocalGet(2),
            W::I64DivS,
            W::LocalGet(1),
            W::LocalGet(2),
            W::I64RemS,
            W::Return,
            W::End,
            W::LocalGet(0),
            W::I64Const(0),
            W::I64LtS,
            W::LocalSet(3),
            W::LocalGet(2),
            W::I64Const(0),
            W::I64LtS,
            W::LocalSet(4),
            // |n|: negate the 128-bit value
            W::LocalGet(3),
            W::If(BlockType::Empty),
            W::LocalGet(0),
            W::I64Const(-1),
            W::I64Xor,
            W::LocalGet(1),
            W::I64Eqz,
            W::I64ExtendI32U,
            W::I64Add,
            W::LocalSet(0),
            W::I64Const(0),
            W::LocalGet(1),
            W::I64Sub,
            W::LocalSet(1),
            W::End,
            // |d|
            W::LocalGet(4),
            W::If(BlockType::Empty),
            W::I64Const(0),
            W::LocalGet(2),
            W::I64Sub,
            W::LocalSet(2),
            W::End,
            W::LocalGet(0),
            W::LocalGet(1),
            W::LocalGet(2),
            W::Call(divu128),
            W::LocalSet(6),
            W::LocalSet(5),
            // quotient sign and range
            W::LocalGet(3),
            W::LocalGet(4),
            W::I32Xor,
            W::If(BlockType::Empty),
            W::LocalGet(5),
            W::I64Const(i64::MIN),
            W::I64GtU,
            W::If(BlockType::Empty),
            W::Unreachable,
            W::End,
            W::I64Const(0),
            W::LocalGet(5),
            W::I64Sub,
            W::LocalSet(5),
            W::Else,
            W::LocalGet(5),
            W::I64Const(0),
            W::I64LtS,
            W::If(BlockType::Empty),
            W::Unreachable,
            W::End,
            W::End,
            W::LocalGet(3),
            W::If(BlockType::Empty),
            W::I64Const(0),
            W::LocalGet(6),
            W::I64Sub,
            W::LocalSet(6),
            W::End,
            W::LocalGet(5),
            W::LocalGet(6),
        ],
    )
}
