//! Fused multiply-add as module helpers (and, with it, F16C's rounding of
//! a single to half precision, [`helper_f32_to_f16`]): `x * y + z` rounded once (to
//! nearest even), as x86's FMA instructions compute it, which wasm cannot
//! (its `relaxed_madd` may round twice).
//!
//! f64 (`fma64`): the operands' significands as integers, the product
//! exact in 128 bits, the addend aligned to it with a sticky bit for what
//! falls off, the sum normalised and rounded once, subnormal and overflowing
//! results included. f32 (`fma32`): the product is exact in f64, and the
//! sum rounded to odd in f64 and then to nearest in f32 is the correctly
//! rounded sum (Boldo and Melquiond, "Emulation of FMA and correctly
//! rounded sums: proved algorithms using rounding to odd", 2008: f64 has
//! more than 24 + 2 bits).
//!
//! Both take `(x, y, z, mode)` as bits and give bits. `mode` bit 0 negates
//! the product, bit 1 the addend (`vfmsub`, `vfnmadd`, `vfnmsub`). A NaN
//! operand gives the first NaN of x, y, z, quieted, unnegated; an invalid
//! operation (0 * inf, inf - inf) the default NaN (Intel SDM vol. 1,
//! table 14-17).

use wasm_encoder::{BlockType, Function, Instruction as W, ValType};

use super::wide::body;

/// The f64 default NaN ("QNaN indefinite").
const INDEFINITE64: i64 = 0xfff8_0000_0000_0000u64 as i64;
/// The f32 default NaN.
const INDEFINITE32: i32 = 0xffc0_0000u32 as i32;

/// Code as a list of instructions, with named locals.
struct Code {
    code: Vec<W<'static>>,
}

impl Code {
    fn op(&mut self, i: W<'static>) -> &mut Self {
        self.code.push(i);
        self
    }
    fn ops(&mut self, is: impl IntoIterator<Item = W<'static>>) -> &mut Self {
        self.code.extend(is);
        self
    }
}

// ---------------------------------------------------------------- f64

// fma64's locals: parameters x, y, z (i64), mode (i32), then i64 locals.
const X: u32 = 0;
const Y: u32 = 1;
const Z: u32 = 2;
const MODE: u32 = 3;
/// Significands and exponents: value = m * 2^e.
const MX: u32 = 4;
const EX: u32 = 5;
const MY: u32 = 6;
const EY: u32 = 7;
const MZ: u32 = 8;
const EZ: u32 = 9;
/// The product (ph:pl) * 2^ep and the addend (ch:cl) * 2^ec, 128 bits each.
const PH: u32 = 10;
const PL: u32 = 11;
const EP: u32 = 12;
const CH: u32 = 13;
const CL: u32 = 14;
const EC: u32 = 15;
/// Scratch: a shift count, a sticky bit, a sign, the result's exponent.
const K: u32 = 16;
const ST: u32 = 17;
const SIGN: u32 = 18;
const E: u32 = 19;
const T: u32 = 20;
const LOCALS64: u32 = 17; // i64 locals after the 4 parameters

/// `(x, y, z: i64, mode: i32) -> i64`; `mulhu` is the module's 64x64 high
/// product helper.
pub fn helper_fma64(mulhu: u32) -> Function {
    let mut c = Code { code: Vec::new() };
    nan_first(&mut c, [X, Y, Z], Fmt::D);
    negate(&mut c, Fmt::D);
    // (x and y finite and nonzero, z finite: the integer path; a zero
    // addend leaves the product's own rounding; the rest is exact in f64)
    special64(&mut c);
    decompose(&mut c, X, MX, EX);
    decompose(&mut c, Y, MY, EY);
    decompose(&mut c, Z, MZ, EZ);
    // the product, exact: 105 or 106 bits, moved to have its top bit at 125
    c.ops([
        W::LocalGet(MX),
        W::LocalGet(MY),
        W::Call(mulhu),
        W::LocalSet(PH),
        W::LocalGet(MX),
        W::LocalGet(MY),
        W::I64Mul,
        W::LocalSet(PL),
        W::LocalGet(PH),
        W::I64Clz,
        W::I64Const(2),
        W::I64Sub,
        W::LocalSet(K),
        W::LocalGet(PH),
        W::LocalGet(K),
        W::I64Shl,
        W::LocalGet(PL),
        W::I64Const(64),
        W::LocalGet(K),
        W::I64Sub,
        W::I64ShrU,
        W::I64Or,
        W::LocalSet(PH),
        W::LocalGet(PL),
        W::LocalGet(K),
        W::I64Shl,
        W::LocalSet(PL),
        W::LocalGet(EX),
        W::LocalGet(EY),
        W::I64Add,
        W::LocalGet(K),
        W::I64Sub,
        W::LocalSet(EP),
        // the addend: 53 bits, top bit at 125
        W::LocalGet(MZ),
        W::I64Const(9),
        W::I64Shl,
        W::LocalSet(CH),
        W::I64Const(0),
        W::LocalSet(CL),
        W::LocalGet(EZ),
        W::I64Const(73),
        W::I64Sub,
        W::LocalSet(EC),
    ]);
    // the larger magnitude into (ph:pl), its sign into SIGN; the other's
    // sign into ST for now
    c.ops([
        W::LocalGet(X),
        W::LocalGet(Y),
        W::I64Xor,
        W::I64Const(63),
        W::I64ShrU,
        W::LocalSet(SIGN),
        W::LocalGet(Z),
        W::I64Const(63),
        W::I64ShrU,
        W::LocalSet(ST),
        // swap when ec > ep, or equal and (ch:cl) > (ph:pl)
        W::LocalGet(EC),
        W::LocalGet(EP),
        W::I64GtS,
        W::LocalGet(EC),
        W::LocalGet(EP),
        W::I64Eq,
        W::LocalGet(CH),
        W::LocalGet(PH),
        W::I64GtU,
        W::LocalGet(CH),
        W::LocalGet(PH),
        W::I64Eq,
        W::LocalGet(CL),
        W::LocalGet(PL),
        W::I64GtU,
        W::I32And,
        W::I32Or,
        W::I32And,
        W::I32Or,
        W::If(BlockType::Empty),
    ]);
    for (a, b) in [(PH, CH), (PL, CL), (EP, EC), (SIGN, ST)] {
        c.ops([
            W::LocalGet(a),
            W::LocalGet(b),
            W::LocalSet(a),
            W::LocalSet(b),
        ]);
    }
    c.op(W::End);
    // the smaller shifted to the larger's exponent; the sign of the
    // smaller kept in T (shr_sticky uses ST)
    c.ops([
        W::LocalGet(ST),
        W::LocalSet(T),
        W::LocalGet(EP),
        W::LocalGet(EC),
        W::I64Sub,
        W::LocalSet(K),
    ]);
    shr_sticky(&mut c, CH, CL);
    // same signs: add; else subtract (the larger minus the smaller)
    c.ops([
        W::LocalGet(SIGN),
        W::LocalGet(T),
        W::I64Eq,
        W::If(BlockType::Empty),
        W::LocalGet(PL),
        W::LocalGet(CL),
        W::I64Add,
        W::LocalTee(T),
        W::LocalGet(PL),
        W::I64LtU,
        W::I64ExtendI32U,
        W::LocalGet(PH),
        W::LocalGet(CH),
        W::I64Add,
        W::I64Add,
        W::LocalSet(PH),
        W::LocalGet(T),
        W::LocalSet(PL),
        W::Else,
        W::LocalGet(PH),
        W::LocalGet(CH),
        W::I64Sub,
        W::LocalGet(PL),
        W::LocalGet(CL),
        W::I64LtU,
        W::I64ExtendI32U,
        W::I64Sub,
        W::LocalSet(PH),
        W::LocalGet(PL),
        W::LocalGet(CL),
        W::I64Sub,
        W::LocalSet(PL),
        W::End,
        // an exact zero: +0
        W::LocalGet(PH),
        W::LocalGet(PL),
        W::I64Or,
        W::I64Eqz,
        W::If(BlockType::Empty),
        W::I64Const(0),
        W::Return,
        W::End,
    ]);
    // the top bit's position (msb) into K; biased exponent e + msb + 1023
    c.ops([
        W::LocalGet(PH),
        W::I64Eqz,
        W::If(BlockType::Result(ValType::I64)),
        W::I64Const(63),
        W::LocalGet(PL),
        W::I64Clz,
        W::I64Sub,
        W::Else,
        W::I64Const(127),
        W::LocalGet(PH),
        W::I64Clz,
        W::I64Sub,
        W::End,
        W::LocalTee(K),
        W::LocalGet(EP),
        W::I64Add,
        W::I64Const(1023),
        W::I64Add,
        W::LocalSet(E),
        // overflow: infinity
        W::LocalGet(E),
        W::I64Const(2047),
        W::I64GeS,
        W::If(BlockType::Empty),
        W::LocalGet(SIGN),
        W::I64Const(63),
        W::I64Shl,
        W::I64Const(0x7ff0_0000_0000_0000),
        W::I64Or,
        W::Return,
        W::End,
        // the shift that leaves 53 bits and two more (round, sticky):
        // msb - 54, and 1 - e more for a subnormal result
        W::LocalGet(K),
        W::I64Const(54),
        W::I64Sub,
        W::I64Const(1),
        W::LocalGet(E),
        W::I64Sub,
        W::I64Const(0),
        W::I64Const(1),
        W::LocalGet(E),
        W::I64Sub,
        W::I64Const(0),
        W::I64GtS,
        W::Select,
        W::I64Add,
        W::LocalSet(K),
        W::LocalGet(K),
        W::I64Const(0),
        W::I64LtS,
        W::If(BlockType::Empty),
        // fewer than 55 bits: exact, moved up
        W::LocalGet(PL),
        W::I64Const(0),
        W::LocalGet(K),
        W::I64Sub,
        W::I64Shl,
        W::LocalSet(PL),
        W::Else,
    ]);
    shr_sticky(&mut c, PH, PL);
    c.ops([
        W::End,
        // significand with round-to-nearest-even: pl = m << 2 | round << 1 | sticky
        W::LocalGet(PL),
        W::I64Const(2),
        W::I64ShrU,
        W::LocalTee(T),
        W::LocalGet(PL),
        W::I64Const(1),
        W::I64ShrU,
        W::LocalGet(PL),
        W::LocalGet(T),
        W::I64Or,
        W::I64And,
        W::I64Const(1),
        W::I64And,
        W::I64Add,
        W::LocalSet(T),
        // bits: sign, then (exponent - 1) << 52 plus the significand (its
        // bit 52, or a carry into 53, counts in the exponent); a subnormal
        // result has exponent field 0 and no bit 52 unless rounded up
        W::LocalGet(SIGN),
        W::I64Const(63),
        W::I64Shl,
        W::LocalGet(E),
        W::I64Const(1),
        W::I64Sub,
        W::I64Const(0),
        W::LocalGet(E),
        W::I64Const(0),
        W::I64GtS,
        W::Select,
        W::I64Const(52),
        W::I64Shl,
        W::LocalGet(T),
        W::I64Add,
        W::I64Or,
    ]);
    body(&[ValType::I64; LOCALS64 as usize], &c.code)
}

/// Returns early for what is not the integer path: a zero or infinite
/// x or y, or an infinite or zero z.
fn special64(c: &mut Code) {
    let magnitude = |v: u32| [W::LocalGet(v), W::I64Const(i64::MAX), W::I64And];
    let is_inf = |v: u32| {
        let mut m = magnitude(v).to_vec();
        m.extend([W::I64Const(0x7ff0_0000_0000_0000), W::I64Eq]);
        m
    };
    let is_zero = |v: u32| {
        let mut m = magnitude(v).to_vec();
        m.push(W::I64Eqz);
        m
    };
    let as_f64 = |v: u32| [W::LocalGet(v), W::F64ReinterpretI64];
    // z infinite, x and y finite: z
    c.ops(is_inf(Z))
        .ops(is_inf(X))
        .ops(is_inf(Y))
        .op(W::I32Or)
        .op(W::I32Eqz)
        .op(W::I32And)
        .ops([W::If(BlockType::Empty), W::LocalGet(Z), W::Return, W::End]);
    // x or y zero or infinite, or z infinite: x * y is exact (a zero, an
    // infinity, or invalid), so is the sum but for its one rounding
    c.ops(is_zero(X))
        .ops(is_zero(Y))
        .op(W::I32Or)
        .ops(is_inf(X))
        .op(W::I32Or)
        .ops(is_inf(Y))
        .op(W::I32Or)
        .ops(is_inf(Z))
        .op(W::I32Or)
        .op(W::If(BlockType::Empty))
        .ops(as_f64(X))
        .ops(as_f64(Y))
        .op(W::F64Mul)
        .ops(as_f64(Z))
        .ops([W::F64Add, W::I64ReinterpretF64, W::LocalSet(T)])
        .ops(invalid_to_indefinite64())
        .ops([W::Select, W::Return, W::End]);
    // z zero: the product's own rounding (x * y + 0 never changes it)
    c.ops(is_zero(Z))
        .op(W::If(BlockType::Empty))
        .ops(as_f64(X))
        .ops(as_f64(Y))
        .ops([W::F64Mul, W::I64ReinterpretF64, W::Return, W::End]);
}

/// The result's bits in T, or the default NaN if they are a NaN (made by
/// an invalid operation: NaN operands returned earlier).
fn invalid_to_indefinite64() -> [W<'static>; 7] {
    [
        W::I64Const(INDEFINITE64),
        W::LocalGet(T),
        W::LocalGet(T),
        W::I64Const(i64::MAX),
        W::I64And,
        W::I64Const(0x7ff0_0000_0000_0000),
        W::I64GtU,
    ]
}

/// Value `v` (finite, nonzero, any sign) as m * 2^e, m in [2^52, 2^53).
fn decompose(c: &mut Code, v: u32, m: u32, e: u32) {
    c.ops([
        // m0: the fraction, with bit 52 for a normal number
        W::LocalGet(v),
        W::I64Const(0x000f_ffff_ffff_ffff),
        W::I64And,
        W::LocalGet(v),
        W::I64Const(0x7ff0_0000_0000_0000),
        W::I64And,
        W::I64Const(0),
        W::I64Ne,
        W::I64ExtendI32U,
        W::I64Const(52),
        W::I64Shl,
        W::I64Or,
        W::LocalSet(m),
        // e0: exponent field - 1075 (a subnormal's field counts as 1)
        W::LocalGet(v),
        W::I64Const(52),
        W::I64ShrU,
        W::I64Const(0x7ff),
        W::I64And,
        W::LocalTee(e),
        W::I64Const(1),
        W::LocalGet(e),
        W::I64Eqz,
        W::I32Eqz,
        W::Select,
        W::I64Const(1075),
        W::I64Sub,
        W::LocalSet(e),
        // normalised: bit 52 the top one (a subnormal moves up)
        W::LocalGet(m),
        W::I64Clz,
        W::I64Const(11),
        W::I64Sub,
        W::LocalSet(K),
        W::LocalGet(m),
        W::LocalGet(K),
        W::I64Shl,
        W::LocalSet(m),
        W::LocalGet(e),
        W::LocalGet(K),
        W::I64Sub,
        W::LocalSet(e),
    ]);
}

/// (h:l) >>= K (K >= 0), with every bit shifted out ORed into bit 0.
fn shr_sticky(c: &mut Code, h: u32, l: u32) {
    c.ops([
        W::LocalGet(K),
        W::I64Const(128),
        W::I64GeU,
        W::If(BlockType::Empty),
        W::LocalGet(h),
        W::LocalGet(l),
        W::I64Or,
        W::I64Const(0),
        W::I64Ne,
        W::I64ExtendI32U,
        W::LocalSet(l),
        W::I64Const(0),
        W::LocalSet(h),
        W::Else,
        W::LocalGet(K),
        W::I64Const(64),
        W::I64GeU,
        W::If(BlockType::Empty),
        // sticky: l, and h's bits below k - 64 (none when k is 64)
        W::LocalGet(l),
        W::I64Const(0),
        W::I64Ne,
        W::LocalGet(h),
        W::I64Const(128),
        W::LocalGet(K),
        W::I64Sub,
        W::I64Shl,
        W::I64Const(0),
        W::I64Ne,
        W::LocalGet(K),
        W::I64Const(64),
        W::I64GtU,
        W::I32And,
        W::I32Or,
        W::I64ExtendI32U,
        W::LocalGet(h),
        W::LocalGet(K),
        W::I64Const(64),
        W::I64Sub,
        W::I64ShrU,
        W::I64Or,
        W::LocalSet(l),
        W::I64Const(0),
        W::LocalSet(h),
        W::Else,
        W::LocalGet(K),
        W::I64Eqz,
        W::I32Eqz,
        W::If(BlockType::Empty),
        W::LocalGet(l),
        W::I64Const(64),
        W::LocalGet(K),
        W::I64Sub,
        W::I64Shl,
        W::I64Const(0),
        W::I64Ne,
        W::I64ExtendI32U,
        W::LocalGet(l),
        W::LocalGet(K),
        W::I64ShrU,
        W::I64Or,
        W::LocalGet(h),
        W::I64Const(64),
        W::LocalGet(K),
        W::I64Sub,
        W::I64Shl,
        W::I64Or,
        W::LocalSet(l),
        W::LocalGet(h),
        W::LocalGet(K),
        W::I64ShrU,
        W::LocalSet(h),
        W::End,
        W::End,
        W::End,
    ]);
}

// ---------------------------------------------------------------- f32

// fma32's locals: parameters x, y, z (i32), mode (i32); then f64 s, p,
// err, and i64 bits.
const S: u32 = 4;
const P: u32 = 5;
const ERR: u32 = 6;
const BITS: u32 = 7;

/// `(x, y, z: i32, mode: i32) -> i32`.
pub fn helper_fma32() -> Function {
    let mut c = Code { code: Vec::new() };
    nan_first(&mut c, [X, Y, Z], Fmt::S);
    negate(&mut c, Fmt::S);
    let wide = |v: u32| [W::LocalGet(v), W::F32ReinterpretI32, W::F64PromoteF32];
    // s = p + z in f64 (p = x * y exact), and its error (two-sum: exact
    // unless s is infinite or NaN)
    c.ops(wide(X))
        .ops(wide(Y))
        .ops([W::F64Mul, W::LocalTee(P)])
        .ops(wide(Z))
        .ops([W::F64Add, W::LocalSet(S)]);
    // an invalid operation (x * y or the sum): the default NaN
    c.ops([
        W::LocalGet(S),
        W::LocalGet(S),
        W::F64Ne,
        W::If(BlockType::Empty),
        W::I32Const(INDEFINITE32),
        W::Return,
        W::End,
    ]);
    // err = (p - (s - (s - p))) + (z - (s - p)), for finite s
    c.ops([
        W::LocalGet(S),
        W::LocalGet(S),
        W::F64Sub,
        W::F64Const(0.0.into()),
        W::F64Eq,
        W::If(BlockType::Empty),
        W::LocalGet(P),
        W::LocalGet(S),
        W::LocalGet(S),
        W::LocalGet(P),
        W::F64Sub,
        W::LocalTee(ERR),
        W::F64Sub,
        W::F64Sub,
    ])
    .ops(wide(Z))
    .ops([
        W::LocalGet(ERR),
        W::F64Sub,
        W::F64Add,
        W::LocalSet(ERR),
        // rounded to odd: an inexact s with an even significand moves one
        // step toward the exact sum
        W::LocalGet(ERR),
        W::F64Const(0.0.into()),
        W::F64Ne,
        W::LocalGet(S),
        W::I64ReinterpretF64,
        W::LocalTee(BITS),
        W::I64Const(1),
        W::I64And,
        W::I64Eqz,
        W::I32And,
        W::If(BlockType::Empty),
        W::LocalGet(BITS),
        W::I64Const(1),
        W::I64Const(-1),
        W::LocalGet(ERR),
        W::F64Const(0.0.into()),
        W::F64Gt,
        W::LocalGet(S),
        W::F64Const(0.0.into()),
        W::F64Gt,
        W::I32Eq,
        W::Select,
        W::I64Add,
        W::F64ReinterpretI64,
        W::LocalSet(S),
        W::End,
        W::End,
        W::LocalGet(S),
        W::F32DemoteF64,
        W::I32ReinterpretF32,
    ]);
    body(
        &[ValType::F64, ValType::F64, ValType::F64, ValType::I64],
        &c.code,
    )
}

// ---------------------------------------------------------------- both

/// The two formats.
#[derive(Clone, Copy, PartialEq)]
enum Fmt {
    S,
    D,
}

/// Returns the first NaN of `order`, quieted.
fn nan_first(c: &mut Code, order: [u32; 3], fmt: Fmt) {
    for v in order {
        match fmt {
            Fmt::D => c.ops([
                W::LocalGet(v),
                W::I64Const(i64::MAX),
                W::I64And,
                W::I64Const(0x7ff0_0000_0000_0000),
                W::I64GtU,
                W::If(BlockType::Empty),
                W::LocalGet(v),
                W::I64Const(0x0008_0000_0000_0000),
                W::I64Or,
                W::Return,
                W::End,
            ]),
            Fmt::S => c.ops([
                W::LocalGet(v),
                W::I32Const(i32::MAX),
                W::I32And,
                W::I32Const(0x7f80_0000),
                W::I32GtU,
                W::If(BlockType::Empty),
                W::LocalGet(v),
                W::I32Const(0x0040_0000),
                W::I32Or,
                W::Return,
                W::End,
            ]),
        };
    }
}

/// Applies `mode`: bit 0 negates x (so the product), bit 1 z.
fn negate(c: &mut Code, fmt: Fmt) {
    for (v, bit) in [(X, 0), (Z, 1)] {
        match fmt {
            Fmt::D => c.ops([
                W::LocalGet(v),
                W::LocalGet(MODE),
                W::I32Const(bit),
                W::I32ShrU,
                W::I32Const(1),
                W::I32And,
                W::I64ExtendI32U,
                W::I64Const(63),
                W::I64Shl,
                W::I64Xor,
                W::LocalSet(v),
            ]),
            Fmt::S => c.ops([
                W::LocalGet(v),
                W::LocalGet(MODE),
                W::I32Const(bit),
                W::I32ShrU,
                W::I32Const(1),
                W::I32And,
                W::I32Const(31),
                W::I32Shl,
                W::I32Xor,
                W::LocalSet(v),
            ]),
        };
    }
}

// ---------------------------------------------------------------- f16

/// `(bits: i32, mode: i32) -> i32`: an f32 as IEEE half precision (F16C's
/// `vcvtps2ph`), rounded as `mode` says (0 to nearest even, 1 down, 2 up,
/// 3 toward zero); a NaN quieted, its payload's top bits kept.
pub fn helper_f32_to_f16() -> Function {
    // params: bits 0, mode 1; locals: sign 2, a 3, e 4, m 5, drop 6, r 7,
    // inexact 8, up 9 (whether the rounding goes away from zero)
    const BITS: u32 = 0;
    const MODE: u32 = 1;
    const SIGN: u32 = 2;
    const A: u32 = 3;
    const EH: u32 = 4;
    const M: u32 = 5;
    const DROP: u32 = 6;
    const R: u32 = 7;
    const INEXACT: u32 = 8;
    const AWAY: u32 = 9;
    let mut c = Code { code: Vec::new() };
    c.ops([
        W::LocalGet(BITS),
        W::I32Const(16),
        W::I32ShrU,
        W::I32Const(0x8000),
        W::I32And,
        W::LocalSet(SIGN),
        W::LocalGet(BITS),
        W::I32Const(i32::MAX),
        W::I32And,
        W::LocalTee(A),
        // NaN: quiet, the payload's top 9 bits
        W::I32Const(0x7f80_0000),
        W::I32GtU,
        W::If(BlockType::Empty),
        W::LocalGet(SIGN),
        W::I32Const(0x7e00),
        W::I32Or,
        W::LocalGet(A),
        W::I32Const(13),
        W::I32ShrU,
        W::I32Const(0x1ff),
        W::I32And,
        W::I32Or,
        W::Return,
        W::End,
        // whether a rounding that moves goes away from zero: to nearest
        // (decided by the bits below), up for a positive value, down for
        // a negative one
        W::LocalGet(MODE),
        W::I32Const(0),
        W::I32Eq,
        W::LocalGet(MODE),
        W::I32Const(2),
        W::I32Eq,
        W::LocalGet(SIGN),
        W::I32Eqz,
        W::I32And,
        W::I32Or,
        W::LocalGet(MODE),
        W::I32Const(1),
        W::I32Eq,
        W::LocalGet(SIGN),
        W::I32Const(0),
        W::I32Ne,
        W::I32And,
        W::I32Or,
        W::LocalSet(AWAY),
        // infinity, or too large for a half: infinity or the largest half
        W::LocalGet(A),
        W::I32Const(0x4780_0000), // 65536.0
        W::I32GeU,
        W::If(BlockType::Empty),
        W::LocalGet(SIGN),
        W::I32Const(0x7c00),
        W::I32Const(0x7bff),
        W::LocalGet(AWAY),
        W::LocalGet(A),
        W::I32Const(0x7f80_0000),
        W::I32Eq,
        W::I32Or,
        W::Select,
        W::I32Or,
        W::Return,
        W::End,
        // the significand with its implicit bit (24 bits), the half's
        // biased exponent, and the bits to drop: 13, more below the
        // smallest normal half
        W::LocalGet(A),
        W::I32Const(0x7f_ffff),
        W::I32And,
        W::LocalGet(A),
        W::I32Const(0x7f80_0000),
        W::I32And,
        W::I32Const(0),
        W::I32Ne,
        W::I32Const(23),
        W::I32Shl,
        W::I32Or,
        W::LocalSet(M),
        W::LocalGet(A),
        W::I32Const(23),
        W::I32ShrU,
        W::I32Const(112),
        W::I32Sub,
        W::LocalSet(EH),
        W::I32Const(13),
        W::I32Const(1),
        W::LocalGet(EH),
        W::I32Sub,
        W::I32Const(0),
        W::I32Const(1),
        W::LocalGet(EH),
        W::I32Sub,
        W::I32Const(0),
        W::I32GtS,
        W::Select,
        W::I32Add,
        W::LocalTee(DROP),
        W::I32Const(25),
        W::I32GtU,
        W::If(BlockType::Empty),
        // below half the smallest half: all of it dropped
        W::I32Const(25),
        W::LocalSet(DROP),
        W::End,
        // kept bits, and whether any dropped bit is set
        W::LocalGet(M),
        W::LocalGet(DROP),
        W::I32ShrU,
        W::LocalSet(R),
        W::LocalGet(M),
        W::I32Const(1),
        W::LocalGet(DROP),
        W::I32Shl,
        W::I32Const(1),
        W::I32Sub,
        W::I32And,
        W::LocalSet(INEXACT),
        W::LocalGet(MODE),
        W::I32Eqz,
        W::If(BlockType::Result(ValType::I32)),
        // to nearest even: the half-way bit set, and a lower bit or the
        // kept one odd
        W::LocalGet(M),
        W::LocalGet(DROP),
        W::I32Const(1),
        W::I32Sub,
        W::I32ShrU,
        W::I32Const(1),
        W::I32And,
        W::LocalGet(INEXACT),
        W::I32Const(1),
        W::LocalGet(DROP),
        W::I32Const(1),
        W::I32Sub,
        W::I32Shl,
        W::I32Const(1),
        W::I32Sub,
        W::I32And,
        W::I32Const(0),
        W::I32Ne,
        W::LocalGet(R),
        W::I32Const(1),
        W::I32And,
        W::I32Or,
        W::I32And,
        W::Else,
        // directed: any dropped bit, when the direction is away from zero
        W::LocalGet(INEXACT),
        W::I32Const(0),
        W::I32Ne,
        W::LocalGet(AWAY),
        W::I32And,
        W::End,
        W::LocalGet(R),
        W::I32Add,
        W::LocalSet(R),
        // bits: (exponent - 1) << 10 plus the significand, whose bit 10
        // (or a carry into 11) counts in the exponent; a subnormal half has
        // exponent field 0
        W::LocalGet(SIGN),
        W::LocalGet(EH),
        W::I32Const(1),
        W::I32Sub,
        W::I32Const(0),
        W::LocalGet(EH),
        W::I32Const(0),
        W::I32GtS,
        W::Select,
        W::I32Const(10),
        W::I32Shl,
        W::LocalGet(R),
        W::I32Add,
        W::I32Or,
    ]);
    body(&[ValType::I32; 8], &c.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, ExportKind, ExportSection, FunctionSection, Module, TypeSection,
    };

    /// The helpers in a module of their own, run in wasmi.
    struct Helpers {
        store: wasmi::Store<()>,
        fma64: wasmi::TypedFunc<(i64, i64, i64, i32), i64>,
        fma32: wasmi::TypedFunc<(i32, i32, i32, i32), i32>,
    }

    fn helpers() -> Helpers {
        let mut types = TypeSection::new();
        types
            .ty()
            .function([ValType::I64, ValType::I64], [ValType::I64]);
        types.ty().function(
            [ValType::I64, ValType::I64, ValType::I64, ValType::I32],
            [ValType::I64],
        );
        types.ty().function([ValType::I32; 4], [ValType::I32]);
        let mut functions = FunctionSection::new();
        functions.function(0).function(1).function(2);
        let mut exports = ExportSection::new();
        exports.export("fma64", ExportKind::Func, 1);
        exports.export("fma32", ExportKind::Func, 2);
        let mut code = CodeSection::new();
        code.function(&crate::builtins::wide::helper_mulhu());
        code.function(&helper_fma64(0));
        code.function(&helper_fma32());
        let mut module = Module::new();
        module
            .section(&types)
            .section(&functions)
            .section(&exports)
            .section(&code);
        let wasm = module.finish();
        let engine = wasmi::Engine::default();
        let module = wasmi::Module::new(&engine, &wasm[..]).expect("valid");
        let mut store = wasmi::Store::new(&engine, ());
        let instance = wasmi::Linker::new(&engine)
            .instantiate_and_start(&mut store, &module)
            .unwrap();
        Helpers {
            fma64: instance.get_typed_func(&store, "fma64").unwrap(),
            fma32: instance.get_typed_func(&store, "fma32").unwrap(),
            store,
        }
    }

    #[test]
    fn helpers_round_once_on_special_and_hard_cases() {
        let mut h = helpers();
        let (inf, tiny) = (f64::INFINITY, f64::from_bits(1));
        let ulp = f64::EPSILON;
        // (x, y, z): infinities, zeros, cancellation, halfway, subnormal
        // and overflowing results
        let cases: &[(f64, f64, f64)] = &[
            (inf, -inf, -inf),
            (inf, 0.5, 2f64.powi(63)),
            (-0.0, 1.0, 0.0),
            (1.0 + ulp, 1.0 - ulp / 2.0, -1.0),
            (1.0 + ulp, 1.0 + ulp, -(1.0 + 2.0 * ulp)),
            (3.0, 1.0 / 3.0, -1.0),
            (tiny, 0.5, 0.0),
            (tiny, 0.5, -tiny),
            (f64::MAX, 2.0, -f64::MAX),
            (f64::MAX, 1.0 + ulp, 0.0),
            (2f64.powi(-537), 2f64.powi(-537), -2f64.powi(-1074)),
            (1e308, 10.0, -inf),
        ];
        for &(x, y, z) in cases {
            let got = h
                .fma64
                .call(
                    &mut h.store,
                    (
                        x.to_bits() as i64,
                        y.to_bits() as i64,
                        z.to_bits() as i64,
                        0,
                    ),
                )
                .unwrap();
            assert_eq!(
                f64::from_bits(got as u64).to_bits(),
                x.mul_add(y, z).to_bits(),
                "{x:e} * {y:e} + {z:e}"
            );
            let (a, b, c) = (x as f32, y as f32, z as f32);
            let got = h
                .fma32
                .call(
                    &mut h.store,
                    (
                        a.to_bits() as i32,
                        b.to_bits() as i32,
                        c.to_bits() as i32,
                        0,
                    ),
                )
                .unwrap();
            assert_eq!(
                got as u32,
                a.mul_add(b, c).to_bits(),
                "{a:e} * {b:e} + {c:e} (f32)"
            );
        }
    }
}
