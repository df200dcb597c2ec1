//! Scalar SSE floating point (`*ss`/`*sd`): arithmetic, square root, min/max,
//! conversions and compares, bit-exact with the CPU under the default MXCSR
//! (round to nearest, exceptions masked, no FTZ/DAZ).
//!
//! Values are handled as their bits (i32 for f32, i64 for f64), so NaN
//! payloads survive. Where wasm leaves a NaN result unspecified, x86's rule is
//! applied explicitly: a NaN operand comes back quieted (the first operand if
//! both are NaN), and an invalid operation on ordinary numbers (inf - inf,
//! 0 * inf, 0 / 0, sqrt of a negative) gives the "real indefinite" default NaN.
//! Scalar instructions change lane 0 and keep the other lanes.

use iced_x86::Mnemonic;
use wasm_encoder::{BlockType, Instruction as W, ValType};

use super::flags::{CF, OF, PF, SF, STATUS, ZF};
use super::sse::{read_x, set_x, xmm_local};
use super::Ctx;
use crate::error::TranspileError;

type R = Result<(), TranspileError>;

/// Single or double precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fp {
    S,
    D,
}

impl Fp {
    /// The wasm type of a scalar register of this precision.
    pub(crate) fn val_type(self) -> ValType {
        match self {
            Fp::S => ValType::F32,
            Fp::D => ValType::F64,
        }
    }
    fn sign(self) -> i64 {
        match self {
            Fp::S => 0x8000_0000,
            Fp::D => i64::MIN,
        }
    }
    fn exponent(self) -> i64 {
        match self {
            Fp::S => 0x7f80_0000,
            Fp::D => 0x7ff0_0000_0000_0000,
        }
    }
    fn quiet_bit(self) -> i64 {
        match self {
            Fp::S => 0x0040_0000,
            Fp::D => 0x0008_0000_0000_0000,
        }
    }
    /// x86's "real indefinite" QNaN.
    fn indefinite(self) -> i64 {
        match self {
            Fp::S => 0xffc0_0000,
            Fp::D => 0xfff8_0000_0000_0000u64 as i64,
        }
    }
}

/// Lowers `ctx.ins` if it is a scalar float instruction; false if not ours.
pub(super) fn lower(c: &mut Ctx) -> Result<bool, TranspileError> {
    use Mnemonic as M;
    match c.ins.mnemonic() {
        M::Addsd => arith(c, Fp::D, W::F64Add)?,
        M::Subsd => arith(c, Fp::D, W::F64Sub)?,
        M::Mulsd => arith(c, Fp::D, W::F64Mul)?,
        M::Divsd => arith(c, Fp::D, W::F64Div)?,
        M::Addss => arith(c, Fp::S, W::F32Add)?,
        M::Subss => arith(c, Fp::S, W::F32Sub)?,
        M::Mulss => arith(c, Fp::S, W::F32Mul)?,
        M::Divss => arith(c, Fp::S, W::F32Div)?,
        M::Sqrtsd => sqrt(c, Fp::D)?,
        M::Sqrtss => sqrt(c, Fp::S)?,
        M::Roundsd => round(c, Fp::D)?,
        M::Roundss => round(c, Fp::S)?,
        M::Roundpd => packed_round(c, Fp::D)?,
        M::Roundps => packed_round(c, Fp::S)?,
        M::Minsd => min_max(c, Fp::D, W::F64Lt)?,
        M::Maxsd => min_max(c, Fp::D, W::F64Gt)?,
        M::Minss => min_max(c, Fp::S, W::F32Lt)?,
        M::Maxss => min_max(c, Fp::S, W::F32Gt)?,
        M::Cvtsi2sd => int_to_float(c, Fp::D)?,
        M::Cvtsi2ss => int_to_float(c, Fp::S)?,
        M::Cvttsd2si => float_to_int(c, Fp::D, false)?,
        M::Cvttss2si => float_to_int(c, Fp::S, false)?,
        M::Cvtsd2si => float_to_int(c, Fp::D, true)?,
        M::Cvtss2si => float_to_int(c, Fp::S, true)?,
        M::Cvtss2sd => widen(c)?,
        M::Cvtsd2ss => narrow(c)?,
        M::Ucomisd | M::Comisd => compare_flags(c, Fp::D)?,
        M::Ucomiss | M::Comiss => compare_flags(c, Fp::S)?,
        M::Addps => packed_arith(c, Fp::S, W::F32x4Add)?,
        M::Subps => packed_arith(c, Fp::S, W::F32x4Sub)?,
        M::Mulps => packed_arith(c, Fp::S, W::F32x4Mul)?,
        M::Divps => packed_arith(c, Fp::S, W::F32x4Div)?,
        M::Addpd => packed_arith(c, Fp::D, W::F64x2Add)?,
        M::Subpd => packed_arith(c, Fp::D, W::F64x2Sub)?,
        M::Mulpd => packed_arith(c, Fp::D, W::F64x2Mul)?,
        M::Divpd => packed_arith(c, Fp::D, W::F64x2Div)?,
        M::Haddps => horizontal_arith(c, Fp::S, W::F32x4Add)?,
        M::Hsubps => horizontal_arith(c, Fp::S, W::F32x4Sub)?,
        M::Haddpd => horizontal_arith(c, Fp::D, W::F64x2Add)?,
        M::Hsubpd => horizontal_arith(c, Fp::D, W::F64x2Sub)?,
        M::Dpps => dot_product(c, Fp::S)?,
        M::Dppd => dot_product(c, Fp::D)?,
        M::Addsubps => addsub(c, Fp::S)?,
        M::Addsubpd => addsub(c, Fp::D)?,
        M::Sqrtps => packed_sqrt(c, Fp::S)?,
        M::Sqrtpd => packed_sqrt(c, Fp::D)?,
        M::Minps => packed_min_max(c, W::F32x4Lt)?,
        M::Maxps => packed_min_max(c, W::F32x4Gt)?,
        M::Minpd => packed_min_max(c, W::F64x2Lt)?,
        M::Maxpd => packed_min_max(c, W::F64x2Gt)?,
        M::Cvtdq2ps => packed_unary(c, &[W::F32x4ConvertI32x4S])?,
        M::Cvtdq2pd => packed_unary(c, &[W::F64x2ConvertLowI32x4S])?,
        M::Cvttps2dq => cvttps2dq(c)?,
        M::Cvttpd2dq => cvttpd2dq(c)?,
        M::Cmpps => packed_compare(c, Fp::S)?,
        M::Cmppd => packed_compare(c, Fp::D)?,
        M::Cvtps2pd => cvtps2pd(c)?,
        M::Cvtpd2ps => cvtpd2ps(c)?,
        M::Cvtpd2dq => {
            round_then(c, W::F64x2Nearest)?;
            cvttpd2dq(c)?
        }
        M::Cvtps2dq => {
            // round to nearest even first, then as cvttps2dq
            round_then(c, W::F32x4Nearest)?;
            cvttps2dq(c)?
        }
        M::Cmpsd | M::Cmpss if xmm_local(c, 0).is_some() => compare_mask(
            c,
            if c.ins.mnemonic() == M::Cmpsd {
                Fp::D
            } else {
                Fp::S
            },
        )?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Pushes the bits of lane 0 of operand `op`: a scalar register's own local,
/// a vector register's lane, or the value in memory.
fn operand_lane(c: &mut Ctx, op: u32, fp: Fp) -> R {
    if let Some(f) = c.scalar_local(op) {
        c.emit(W::LocalGet(f));
        c.emit(match fp {
            Fp::S => W::I32ReinterpretF32,
            Fp::D => W::I64ReinterpretF64,
        });
        return Ok(());
    }
    if c.ins.op_kind(op) == iced_x86::OpKind::Memory {
        let offset = c.address()?;
        c.emit(match fp {
            Fp::S => W::I32Load(super::mem(offset)),
            Fp::D => W::I64Load(super::mem(offset)),
        });
        return Ok(());
    }
    let v = read_x(c, op)?;
    lane(c, v, fp);
    Ok(())
}

/// Pushes the bits of lane 0 of v128 local `v`.
fn lane(c: &mut Ctx, v: u32, fp: Fp) {
    c.emit(W::LocalGet(v));
    c.emit(match fp {
        Fp::S => W::I32x4ExtractLane(0),
        Fp::D => W::I64x2ExtractLane(0),
    });
}

/// Pushes the float whose bits are in local `bits`.
fn as_float(c: &mut Ctx, bits: u32, fp: Fp) {
    c.emit(W::LocalGet(bits));
    c.emit(match fp {
        Fp::S => W::F32ReinterpretI32,
        Fp::D => W::F64ReinterpretI64,
    });
}

fn bits_local(c: &Ctx, fp: Fp, k: usize) -> u32 {
    match fp {
        Fp::S => c.locals.t32(k + 1),
        Fp::D => c.locals.t(k),
    }
}

fn konst(fp: Fp, v: i64) -> W<'static> {
    match fp {
        Fp::S => W::I32Const(v as i32),
        Fp::D => W::I64Const(v),
    }
}

/// Pushes i32 1 when the bits in local `x` are a NaN.
fn is_nan(c: &mut Ctx, x: u32, fp: Fp) {
    c.emit_all(is_nan_code(x, fp));
}

/// The code of [`is_nan`]: the magnitude above the infinity's.
fn is_nan_code(x: u32, fp: Fp) -> [W<'static>; 5] {
    let (and, gt) = match fp {
        Fp::S => (W::I32And, W::I32GtU),
        Fp::D => (W::I64And, W::I64GtU),
    };
    [
        W::LocalGet(x),
        konst(fp, !fp.sign()),
        and,
        konst(fp, fp.exponent()),
        gt,
    ]
}

/// The module helpers that pick x86's NaN result, by index in
/// [`super::Helpers::nan_fix`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NanFix {
    /// scalar f32 bits: `(a: i32, b: i32) -> i32`
    S = 0,
    /// scalar f64 bits: `(a: i64, b: i64) -> i64`
    D = 1,
    /// f32x4: `(r, a, b: v128) -> v128`
    PackedS = 2,
    /// f64x2: same
    PackedD = 3,
}

impl NanFix {
    /// The helper's wasm type: `(params, results)`.
    pub(crate) fn func_type(self) -> (Vec<ValType>, Vec<ValType>) {
        match self {
            NanFix::S => (vec![ValType::I32; 2], vec![ValType::I32]),
            NanFix::D => (vec![ValType::I64; 2], vec![ValType::I64]),
            NanFix::PackedS | NanFix::PackedD => (vec![ValType::V128; 3], vec![ValType::V128]),
        }
    }
}

/// The NaN-fixing helper instruction `ins` calls, if any.
pub(crate) fn nan_fix_of(ins: &iced_x86::Instruction) -> Option<NanFix> {
    use Mnemonic as M;
    Some(match super::vex::mnemonic(ins) {
        M::Addss | M::Subss | M::Mulss | M::Divss | M::Sqrtss | M::Roundss => NanFix::S,
        M::Addsd | M::Subsd | M::Mulsd | M::Divsd | M::Sqrtsd | M::Roundsd => NanFix::D,
        M::Addps | M::Subps | M::Mulps | M::Divps | M::Sqrtps | M::Roundps => NanFix::PackedS,
        M::Haddps | M::Hsubps | M::Addsubps | M::Dpps => NanFix::PackedS,
        M::Addpd | M::Subpd | M::Mulpd | M::Divpd | M::Sqrtpd | M::Roundpd => NanFix::PackedD,
        M::Haddpd | M::Hsubpd | M::Addsubpd | M::Dppd => NanFix::PackedD,
        _ => return None,
    })
}

/// The body of helper `fix`: x86's NaN result from the operands (the quieted
/// first NaN operand, else the quieted second, else the default NaN); the
/// packed ones keep each lane of `r` that is not NaN.
pub(crate) fn nan_fix_helper(fix: NanFix) -> wasm_encoder::Function {
    let mut code: Vec<W<'static>> = Vec::new();
    match fix {
        NanFix::S | NanFix::D => {
            let fp = if fix == NanFix::S { Fp::S } else { Fp::D };
            let or = if fp == Fp::S { W::I32Or } else { W::I64Or };
            let quieted = |x: u32| [W::LocalGet(x), konst(fp, fp.quiet_bit()), or.clone()];
            // isnan(a) ? quiet(a) : (isnan(b) ? quiet(b) : indefinite)
            code.extend(quieted(0));
            code.extend(quieted(1));
            code.push(konst(fp, fp.indefinite()));
            code.extend(is_nan_code(1, fp));
            code.push(W::Select);
            code.extend(is_nan_code(0, fp));
            code.push(W::Select);
        }
        NanFix::PackedS | NanFix::PackedD => {
            let fp = if fix == NanFix::PackedS { Fp::S } else { Fp::D };
            let ne = if fp == Fp::S { W::F32x4Ne } else { W::F64x2Ne };
            let (r, a, b) = (0, 1, 2);
            // per lane: isnan(r) ? (isnan(a) ? quiet(a) : isnan(b) ? quiet(b)
            // : indefinite) : r
            code.extend([
                W::LocalGet(a),
                splat(fp, fp.quiet_bit()),
                W::V128Or,
                W::LocalGet(b),
                splat(fp, fp.quiet_bit()),
                W::V128Or,
                splat(fp, fp.indefinite()),
                W::LocalGet(b),
                W::LocalGet(b),
                ne.clone(),
                W::V128Bitselect,
                W::LocalGet(a),
                W::LocalGet(a),
                ne.clone(),
                W::V128Bitselect,
                W::LocalGet(r),
                W::LocalGet(r),
                W::LocalGet(r),
                ne,
                W::V128Bitselect,
            ]);
        }
    }
    let mut f = wasm_encoder::Function::new([]);
    for i in &code {
        f.instruction(i);
    }
    f.instruction(&W::End);
    f
}

/// If the result bits in `r` are a NaN, replaces them by x86's choice (the
/// helper's): a NaN test inline, the choice in the helper, which ordinary
/// results never reach. `a` is `None` for a one-operand operation.
fn fix_nan(c: &mut Ctx, fp: Fp, r: u32, a: Option<u32>, b: u32) {
    // (on the bits: V8 runs this faster than a float `r != r`, measured with
    // benches/code_quality.sh: mix_samples 2.2x against 1.8x)
    is_nan(c, r, fp);
    let helper =
        c.callees.helpers.nan_fix[if fp == Fp::S { NanFix::S } else { NanFix::D } as usize];
    c.emit_all([
        W::If(BlockType::Empty),
        W::LocalGet(a.unwrap_or(b)),
        W::LocalGet(b),
        W::Call(helper),
        W::LocalSet(r),
        W::End,
    ]);
}

/// Writes the bits in local `r` to lane 0 of XMM operand 0.
fn set_lane0(c: &mut Ctx, r: u32, fp: Fp) -> R {
    if let Some(f) = c.scalar_local(0) {
        c.emit_all([
            W::LocalGet(r),
            match fp {
                Fp::S => W::F32ReinterpretI32,
                Fp::D => W::F64ReinterpretI64,
            },
            W::LocalSet(f),
        ]);
        return Ok(());
    }
    let d = xmm_local(c, 0).ok_or_else(|| c.unsupported())?;
    c.emit_all([
        W::LocalGet(d),
        W::LocalGet(r),
        match fp {
            Fp::S => W::I32x4ReplaceLane(0),
            Fp::D => W::I64x2ReplaceLane(0),
        },
    ]);
    set_x(c, 0)
}

/// Pushes the bits of the float on the stack.
fn to_bits(c: &mut Ctx, fp: Fp) {
    c.emit(match fp {
        Fp::S => W::I32ReinterpretF32,
        Fp::D => W::I64ReinterpretF64,
    });
}

fn arith(c: &mut Ctx, fp: Fp, op: W<'static>) -> R {
    let (a, b, r) = (
        bits_local(c, fp, 0),
        bits_local(c, fp, 1),
        bits_local(c, fp, 2),
    );
    operand_lane(c, 0, fp)?;
    c.emit(W::LocalSet(a));
    operand_lane(c, 1, fp)?;
    c.emit(W::LocalSet(b));
    as_float(c, a, fp);
    as_float(c, b, fp);
    c.emit(op);
    to_bits(c, fp);
    c.emit(W::LocalSet(r));
    fix_nan(c, fp, r, Some(a), b);
    set_lane0(c, r, fp)
}

fn sqrt(c: &mut Ctx, fp: Fp) -> R {
    let (b, r) = (bits_local(c, fp, 1), bits_local(c, fp, 0));
    operand_lane(c, 1, fp)?;
    c.emit(W::LocalSet(b));
    as_float(c, b, fp);
    c.emit(if fp == Fp::S { W::F32Sqrt } else { W::F64Sqrt });
    to_bits(c, fp);
    c.emit(W::LocalSet(r));
    fix_nan(c, fp, r, None, b);
    set_lane0(c, r, fp)
}

/// The wasm rounding of `roundsd` & co.'s immediate: bits 1:0 pick it, or,
/// with bit 2 set, MXCSR's mode, which is round to nearest here.
fn rounding(imm: u64, fp: Fp, packed: bool) -> W<'static> {
    let mode = if imm & 4 != 0 { 0 } else { imm & 3 };
    match (mode, fp, packed) {
        (0, Fp::D, false) => W::F64Nearest,
        (1, Fp::D, false) => W::F64Floor,
        (2, Fp::D, false) => W::F64Ceil,
        (_, Fp::D, false) => W::F64Trunc,
        (0, Fp::S, false) => W::F32Nearest,
        (1, Fp::S, false) => W::F32Floor,
        (2, Fp::S, false) => W::F32Ceil,
        (_, Fp::S, false) => W::F32Trunc,
        (0, Fp::D, true) => W::F64x2Nearest,
        (1, Fp::D, true) => W::F64x2Floor,
        (2, Fp::D, true) => W::F64x2Ceil,
        (_, Fp::D, true) => W::F64x2Trunc,
        (0, Fp::S, true) => W::F32x4Nearest,
        (1, Fp::S, true) => W::F32x4Floor,
        (2, Fp::S, true) => W::F32x4Ceil,
        (_, Fp::S, true) => W::F32x4Trunc,
    }
}

/// `roundsd`/`roundss dst, src, imm`: lane 0 of src rounded to an integer
/// (a NaN comes back quieted); dst's other lanes kept.
fn round(c: &mut Ctx, fp: Fp) -> R {
    let (b, r) = (bits_local(c, fp, 1), bits_local(c, fp, 0));
    let op = rounding(c.ins.immediate(2), fp, false);
    operand_lane(c, 1, fp)?;
    c.emit(W::LocalSet(b));
    as_float(c, b, fp);
    c.emit(op);
    to_bits(c, fp);
    c.emit(W::LocalSet(r));
    fix_nan(c, fp, r, None, b);
    set_lane0(c, r, fp)
}

/// `roundpd`/`roundps dst, src, imm`: each lane rounded.
fn packed_round(c: &mut Ctx, fp: Fp) -> R {
    let op = rounding(c.ins.immediate(2), fp, true);
    let s = read_x(c, 1)?;
    let (b, r) = (c.locals.tv(1), c.locals.tv(2));
    c.emit_all([W::LocalGet(s), W::LocalSet(b), W::LocalGet(b), op, W::LocalSet(r)]);
    packed_fix_nan(c, fp, r, None, b);
    c.emit(W::LocalGet(r));
    set_x(c, 0)
}

/// x86 min/max: the second operand unless the first compares strictly
/// smaller (larger), so a NaN anywhere or two zeros give the second operand.
fn min_max(c: &mut Ctx, fp: Fp, compare: W<'static>) -> R {
    let (a, b, r) = (
        bits_local(c, fp, 0),
        bits_local(c, fp, 1),
        bits_local(c, fp, 2),
    );
    operand_lane(c, 0, fp)?;
    c.emit(W::LocalSet(a));
    operand_lane(c, 1, fp)?;
    c.emit(W::LocalSet(b));
    c.emit_all([W::LocalGet(a), W::LocalGet(b)]);
    as_float(c, a, fp);
    as_float(c, b, fp);
    c.emit_all([compare, W::Select, W::LocalSet(r)]);
    set_lane0(c, r, fp)
}

fn int_to_float(c: &mut Ctx, fp: Fp) -> R {
    let bits = c.op_bits(1);
    let r = bits_local(c, fp, 0);
    c.read(1)?;
    if bits == 32 {
        c.emit(W::I64Extend32S);
    }
    c.emit(if fp == Fp::S {
        W::F32ConvertI64S
    } else {
        W::F64ConvertI64S
    });
    to_bits(c, fp);
    c.emit(W::LocalSet(r));
    set_lane0(c, r, fp)
}

/// `cvtt*2si` truncates, `cvt*2si` rounds to nearest even; NaN and values out
/// of range give the "integer indefinite" (the minimum integer).
fn float_to_int(c: &mut Ctx, fp: Fp, round: bool) -> R {
    let bits = c.op_bits(0);
    let x = c.locals.t(4);
    // the value as f64 (exact for f32), then rounded
    operand_lane(c, 1, fp)?;
    match fp {
        Fp::S => c.emit_all([W::F32ReinterpretI32, W::F64PromoteF32]),
        Fp::D => c.emit(W::F64ReinterpretI64),
    }
    c.emit(if round { W::F64Nearest } else { W::F64Trunc });
    c.emit_all([W::I64ReinterpretF64, W::LocalSet(x)]);
    let limit = if bits == 64 {
        9_223_372_036_854_775_808.0f64
    } else {
        2_147_483_648.0f64
    };
    let indefinite = if bits == 64 { i64::MIN } else { 0x8000_0000 };
    c.write(0, |c| {
        c.emit_all([
            W::LocalGet(x),
            W::F64ReinterpretI64,
            W::I64TruncSatF64S,
            W::I64Const(indefinite),
            W::LocalGet(x),
            W::F64ReinterpretI64,
            W::F64Const((-limit).into()),
            W::F64Ge,
            W::LocalGet(x),
            W::F64ReinterpretI64,
            W::F64Const(limit.into()),
            W::F64Lt,
            W::I32And,
            W::Select,
        ]);
        Ok(())
    })
}

/// `cvtss2sd`: exact, with x86's NaN widening (payload kept, quieted).
fn widen(c: &mut Ctx) -> R {
    let (a, r) = (c.locals.t32(1), c.locals.t(0));
    operand_lane(c, 1, Fp::S)?;
    c.emit(W::LocalSet(a));
    c.emit_all([
        // NaN: sign | 0x7ff8... | payload << 29
        W::LocalGet(a),
        W::I64ExtendI32U,
        W::I64Const(0x8000_0000),
        W::I64And,
        W::I64Const(32),
        W::I64Shl,
        W::I64Const(0x7ff8_0000_0000_0000),
        W::I64Or,
        W::LocalGet(a),
        W::I64ExtendI32U,
        W::I64Const(0x003f_ffff),
        W::I64And,
        W::I64Const(29),
        W::I64Shl,
        W::I64Or,
        W::LocalGet(a),
        W::F32ReinterpretI32,
        W::F64PromoteF32,
        W::I64ReinterpretF64,
    ]);
    is_nan(c, a, Fp::S);
    c.emit_all([W::Select, W::LocalSet(r)]);
    set_lane0(c, r, Fp::D)
}

/// `cvtsd2ss`: rounded to nearest, with x86's NaN narrowing.
fn narrow(c: &mut Ctx) -> R {
    let (a, r) = (c.locals.t(0), c.locals.t32(1));
    operand_lane(c, 1, Fp::D)?;
    c.emit(W::LocalSet(a));
    c.emit_all([
        W::LocalGet(a),
        W::I64Const(63),
        W::I64ShrU,
        W::I64Const(31),
        W::I64Shl,
        W::I64Const(0x7fc0_0000),
        W::I64Or,
        W::LocalGet(a),
        W::I64Const(29),
        W::I64ShrU,
        W::I64Const(0x003f_ffff),
        W::I64And,
        W::I64Or,
        W::I32WrapI64,
        W::LocalGet(a),
        W::F64ReinterpretI64,
        W::F32DemoteF64,
        W::I32ReinterpretF32,
    ]);
    is_nan(c, a, Fp::D);
    c.emit_all([W::Select, W::LocalSet(r)]);
    set_lane0(c, r, Fp::S)
}

/// `ucomis*`/`comis*`: ZF, PF, CF = 111 unordered, 000 greater, 001 less,
/// 100 equal; OF, SF (and AF) cleared.
fn compare_flags(c: &mut Ctx, fp: Fp) -> R {
    let (a, b) = (bits_local(c, fp, 0), bits_local(c, fp, 1));
    operand_lane(c, 0, fp)?;
    c.emit(W::LocalSet(a));
    operand_lane(c, 1, fp)?;
    c.emit(W::LocalSet(b));
    c.flags_begin(STATUS);
    let (eq, lt) = if fp == Fp::S {
        (W::F32Eq, W::F32Lt)
    } else {
        (W::F64Eq, W::F64Lt)
    };
    let unordered = |c: &mut Ctx| {
        is_nan(c, a, fp);
        is_nan(c, b, fp);
        c.emit(W::I32Or);
    };
    if c.flags_needed(ZF) {
        unordered(c);
        as_float(c, a, fp);
        as_float(c, b, fp);
        c.emit_all([eq, W::I32Or]);
        c.set_flag(ZF);
    }
    if c.flags_needed(PF) {
        unordered(c);
        c.set_flag(PF);
    }
    if c.flags_needed(CF) {
        unordered(c);
        as_float(c, a, fp);
        as_float(c, b, fp);
        c.emit_all([lt, W::I32Or]);
        c.set_flag(CF);
    }
    for flag in [OF, SF] {
        if c.flags_needed(flag) {
            c.emit(W::I32Const(0));
            c.set_flag(flag);
        }
    }
    Ok(())
}

/// `cmpsd`/`cmpss` with predicate imm8 & 7: lane 0 becomes all ones or zero.
fn compare_mask(c: &mut Ctx, fp: Fp) -> R {
    let (a, b, r) = (
        bits_local(c, fp, 0),
        bits_local(c, fp, 1),
        bits_local(c, fp, 2),
    );
    operand_lane(c, 0, fp)?;
    c.emit(W::LocalSet(a));
    operand_lane(c, 1, fp)?;
    c.emit(W::LocalSet(b));
    let (eq, lt, le) = if fp == Fp::S {
        (W::F32Eq, W::F32Lt, W::F32Le)
    } else {
        (W::F64Eq, W::F64Lt, W::F64Le)
    };
    let predicate = c.ins.immediate(2) & 7;
    c.emit_all([konst(fp, -1), konst(fp, 0)]);
    match predicate & 3 {
        0 => {
            as_float(c, a, fp);
            as_float(c, b, fp);
            c.emit(eq);
        }
        1 => {
            as_float(c, a, fp);
            as_float(c, b, fp);
            c.emit(lt);
        }
        2 => {
            as_float(c, a, fp);
            as_float(c, b, fp);
            c.emit(le);
        }
        _ => {
            is_nan(c, a, fp);
            is_nan(c, b, fp);
            c.emit(W::I32Or);
        }
    }
    if predicate >= 4 {
        c.emit(W::I32Eqz); // neq, nlt, nle, ord: the negations
    }
    c.emit_all([W::Select, W::LocalSet(r)]);
    set_lane0(c, r, fp)
}

// ------------------------------------------------------------------ packed

/// A v128 constant with every lane's bits equal to `v`.
fn splat(fp: Fp, v: i64) -> W<'static> {
    let mut bytes = [0u8; 16];
    match fp {
        Fp::S => bytes
            .chunks_mut(4)
            .for_each(|c| c.copy_from_slice(&(v as u32).to_le_bytes())),
        Fp::D => bytes
            .chunks_mut(8)
            .for_each(|c| c.copy_from_slice(&v.to_le_bytes())),
    }
    W::V128Const(i128::from_le_bytes(bytes))
}

/// Per-lane NaN fix-up of the packed result in local `r`: lanes where the
/// result is NaN become quiet(a) if a is NaN, else quiet(b) if b is NaN, else
/// the default NaN (x86's rules; wasm leaves those NaNs unspecified).
fn packed_fix_nan(c: &mut Ctx, fp: Fp, r: u32, a: Option<u32>, b: u32) {
    // (lanes checked inline; the helper runs only when some lane is NaN)
    let ne = if fp == Fp::S { W::F32x4Ne } else { W::F64x2Ne };
    let fix = if fp == Fp::S {
        NanFix::PackedS
    } else {
        NanFix::PackedD
    };
    let helper = c.callees.helpers.nan_fix[fix as usize];
    c.emit_all([
        W::LocalGet(r),
        W::LocalGet(r),
        ne,
        W::V128AnyTrue,
        W::If(BlockType::Empty),
        W::LocalGet(r),
        W::LocalGet(a.unwrap_or(b)),
        W::LocalGet(b),
        W::Call(helper),
        W::LocalSet(r),
        W::End,
    ]);
}

fn packed_arith(c: &mut Ctx, fp: Fp, op: W<'static>) -> R {
    let d = read_x(c, 0)?;
    let s = read_x(c, 1)?;
    let (a, b, r) = (c.locals.tv(0), c.locals.tv(1), c.locals.tv(2));
    c.emit_all([
        W::LocalGet(d),
        W::LocalSet(a),
        W::LocalGet(s),
        W::LocalSet(b),
    ]);
    c.emit_all([W::LocalGet(a), W::LocalGet(b), op, W::LocalSet(r)]);
    packed_fix_nan(c, fp, r, Some(a), b);
    c.emit(W::LocalGet(r));
    set_x(c, 0)
}

/// `haddps`/`hsubps`/`haddpd`/`hsubpd dst, src` (SSE3): adjacent pairs
/// of dst:src combined, dst's pairs in the low half and src's in the high.
/// The even element is the first operand of either: a difference is the
/// even minus the odd, and of two NaNs a sum returns the even one's, as
/// the CPU does (the Intel SDM writes the sum `SRC1[63:32] + SRC1[31:0]`,
/// but `cpu_differential.rs` finds the even element's NaN).
fn horizontal_arith(c: &mut Ctx, fp: Fp, op: W<'static>) -> R {
    let d = read_x(c, 0)?;
    let s = read_x(c, 1)?;
    let (even, odd, r) = (c.locals.tv(0), c.locals.tv(1), c.locals.tv(2));
    // element i of the even (odd) members: element 2i (2i+1) of dst:src
    let bytes = if fp == Fp::S { 4 } else { 8 };
    let member = |second: usize| -> [u8; 16] {
        std::array::from_fn(|i| ((2 * (i / bytes) + second) * bytes + i % bytes) as u8)
    };
    for (local, second) in [(even, 0), (odd, 1)] {
        c.emit_all([
            W::LocalGet(d),
            W::LocalGet(s),
            W::I8x16Shuffle(member(second)),
            W::LocalSet(local),
        ]);
    }
    c.emit_all([W::LocalGet(even), W::LocalGet(odd), op, W::LocalSet(r)]);
    packed_fix_nan(c, fp, r, Some(even), odd);
    c.emit(W::LocalGet(r));
    set_x(c, 0)
}

/// `dpps`/`dppd dst, src, imm` (SSE4.1), as the Intel SDM's
/// `DP_primitive`: the products of the elements `imm[7:4]` (`dppd`:
/// `imm[5:4]`) selects, +0.0 elsewhere, each rounded; summed in pairs,
/// then the two pair sums, each sum rounded; the total in the elements
/// `imm[3:0]` selects, +0.0 elsewhere. Every step has x86's NaN rules, and
/// the order of each sum is the CPU's, which differs by element (the SDM
/// writes one total for all; `cpu_differential.rs` finds which NaN each
/// element returns): `dpps` element i is `(p[i^1] + p[i]) + (p[i^3] +
/// p[i^2])`, its neighbour first within a pair and its own pair first
/// after; `dppd` element i is `p[i] + p[i^1]`. So it is computed as a
/// butterfly: each element and its neighbour, then each pair sum and the
/// other.
fn dot_product(c: &mut Ctx, fp: Fp) -> R {
    let imm = c.ins.immediate(2) as usize;
    let d = read_x(c, 0)?;
    let s = read_x(c, 1)?;
    let (a, b, r) = (c.locals.tv(0), c.locals.tv(1), c.locals.tv(2));
    let (mul, add, bytes) = match fp {
        Fp::S => (W::F32x4Mul, W::F32x4Add, 4),
        Fp::D => (W::F64x2Mul, W::F64x2Add, 8),
    };
    // the elements of bits 0.. of `bits` kept, the others +0.0
    let selected = |bits: usize| {
        let keep: [u8; 16] =
            std::array::from_fn(|i| if bits >> (i / bytes) & 1 == 1 { 0xff } else { 0 });
        W::V128Const(i128::from_le_bytes(keep))
    };
    let step = |c: &mut Ctx, op: W<'static>| {
        c.emit_all([W::LocalGet(a), W::LocalGet(b), op, W::LocalSet(r)]);
        packed_fix_nan(c, fp, r, Some(a), b);
    };
    c.emit_all([W::LocalGet(d), W::LocalSet(a), W::LocalGet(s), W::LocalSet(b)]);
    step(c, mul);
    let count = 16 / bytes;
    let products = selected(imm >> 4 & ((1 << count) - 1));
    c.emit_all([W::LocalGet(r), products, W::V128And, W::LocalSet(r)]);
    // element i and element i^1 (dpps: the neighbour first), then (dpps)
    // that and element i^2 of it (its own first)
    for distance in [1, 2].into_iter().take(count / 2) {
        let partner: [u8; 16] = std::array::from_fn(|i| (i ^ (distance * bytes)) as u8);
        let (own, other) = match fp == Fp::S && distance == 1 {
            true => (b, a),
            false => (a, b),
        };
        c.emit_all([
            W::LocalGet(r),
            W::LocalTee(own),
            W::LocalGet(r),
            W::I8x16Shuffle(partner),
            W::LocalSet(other),
        ]);
        step(c, add.clone());
    }
    c.emit_all([W::LocalGet(r), selected(imm & ((1 << count) - 1)), W::V128And]);
    set_x(c, 0)
}

/// `addsubps`/`addsubpd dst, src` (SSE3): even elements dst - src, odd
/// ones dst + src. Both take dst as the first operand, so one NaN fix-up
/// serves the lanes of either.
fn addsub(c: &mut Ctx, fp: Fp) -> R {
    let d = read_x(c, 0)?;
    let s = read_x(c, 1)?;
    let (a, b, r) = (c.locals.tv(0), c.locals.tv(1), c.locals.tv(2));
    let (sub, add) = match fp {
        Fp::S => (W::F32x4Sub, W::F32x4Add),
        Fp::D => (W::F64x2Sub, W::F64x2Add),
    };
    let bytes = if fp == Fp::S { 4 } else { 8 };
    // even elements from the difference (lanes 0-15), odd from the sum
    let pick: [u8; 16] = std::array::from_fn(|i| (i + i / bytes % 2 * 16) as u8);
    c.emit_all([
        W::LocalGet(d),
        W::LocalSet(a),
        W::LocalGet(s),
        W::LocalSet(b),
        W::LocalGet(a),
        W::LocalGet(b),
        sub,
        W::LocalGet(a),
        W::LocalGet(b),
        add,
        W::I8x16Shuffle(pick),
        W::LocalSet(r),
    ]);
    packed_fix_nan(c, fp, r, Some(a), b);
    c.emit(W::LocalGet(r));
    set_x(c, 0)
}

fn packed_sqrt(c: &mut Ctx, fp: Fp) -> R {
    let s = read_x(c, 1)?;
    let (b, r) = (c.locals.tv(1), c.locals.tv(2));
    c.emit_all([W::LocalGet(s), W::LocalSet(b), W::LocalGet(b)]);
    c.emit(if fp == Fp::S {
        W::F32x4Sqrt
    } else {
        W::F64x2Sqrt
    });
    c.emit(W::LocalSet(r));
    packed_fix_nan(c, fp, r, None, b);
    c.emit(W::LocalGet(r));
    set_x(c, 0)
}

/// x86 min/max per lane: the second operand unless the first compares
/// strictly smaller (larger).
fn packed_min_max(c: &mut Ctx, compare: W<'static>) -> R {
    let d = read_x(c, 0)?;
    let s = read_x(c, 1)?;
    c.emit_all([
        W::LocalGet(d),
        W::LocalGet(s),
        W::LocalGet(d),
        W::LocalGet(s),
        compare,
        W::V128Bitselect,
    ]);
    set_x(c, 0)
}

fn packed_unary(c: &mut Ctx, ops: &[W<'static>]) -> R {
    let s = read_x(c, 1)?;
    c.emit(W::LocalGet(s));
    for op in ops {
        c.emit(op.clone());
    }
    set_x(c, 0)
}

/// Rounds the source of a conversion into a scratch register first
/// (`cvtps2dq` = nearest-even rounding + the truncating conversion).
fn round_then(c: &mut Ctx, round: W<'static>) -> R {
    let s = read_x(c, 1)?;
    let t = c.locals.tv(2);
    c.emit_all([W::LocalGet(s), round, W::LocalSet(t)]);
    Ok(())
}

/// `cvttps2dq`: truncation; NaN and out-of-range lanes give 0x80000000.
fn cvttps2dq(c: &mut Ctx) -> R {
    let s = if c.ins.mnemonic() == Mnemonic::Cvtps2dq {
        c.locals.tv(2)
    } else {
        read_x(c, 1)?
    };
    let limit = 2_147_483_648.0f32;
    c.emit_all([
        W::LocalGet(s),
        W::I32x4TruncSatF32x4S,
        splat(Fp::S, 0x8000_0000),
        W::LocalGet(s),
        W::F32Const((-limit).into()),
        W::F32x4Splat,
        W::F32x4Ge,
        W::LocalGet(s),
        W::F32Const(limit.into()),
        W::F32x4Splat,
        W::F32x4Lt,
        W::V128And,
        W::V128Bitselect,
    ]);
    set_x(c, 0)
}

/// `cvttpd2dq`: two truncated lanes, the upper two zero; NaN and out-of-range
/// lanes give 0x80000000.
fn cvttpd2dq(c: &mut Ctx) -> R {
    let s = if c.ins.mnemonic() == Mnemonic::Cvtpd2dq {
        c.locals.tv(2)
    } else {
        read_x(c, 1)?
    };
    let limit = 2_147_483_648.0f64;
    c.emit_all([
        W::LocalGet(s),
        W::I32x4TruncSatF64x2SZero,
        W::V128Const(0x8000_0000_8000_0000),
        // valid lanes as i64x2 masks (x > -2^31 - 1 and x < 2^31), narrowed to dwords 0 and 1
        W::LocalGet(s),
        W::F64Const((-limit - 1.0).into()),
        W::F64x2Splat,
        W::F64x2Gt,
        W::LocalGet(s),
        W::F64Const(limit.into()),
        W::F64x2Splat,
        W::F64x2Lt,
        W::V128And,
        W::V128Const(0),
        W::I8x16Shuffle([0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 16, 17, 18, 19]),
        W::V128Bitselect,
    ]);
    set_x(c, 0)
}

/// `cmpps`/`cmppd` with predicate imm8 & 7: each lane all ones or zero.
fn packed_compare(c: &mut Ctx, fp: Fp) -> R {
    let d = read_x(c, 0)?;
    let s = read_x(c, 1)?;
    let (eq, lt, le, ne) = match fp {
        Fp::S => (W::F32x4Eq, W::F32x4Lt, W::F32x4Le, W::F32x4Ne),
        Fp::D => (W::F64x2Eq, W::F64x2Lt, W::F64x2Le, W::F64x2Ne),
    };
    let predicate = c.ins.immediate(2) & 7;
    match predicate & 3 {
        0 => c.emit_all([W::LocalGet(d), W::LocalGet(s), eq]),
        1 => c.emit_all([W::LocalGet(d), W::LocalGet(s), lt]),
        2 => c.emit_all([W::LocalGet(d), W::LocalGet(s), le]),
        _ => c.emit_all([
            W::LocalGet(d),
            W::LocalGet(d),
            ne.clone(),
            W::LocalGet(s),
            W::LocalGet(s),
            ne,
            W::V128Or,
        ]),
    }
    if predicate >= 4 {
        c.emit(W::V128Not); // neq, nlt, nle, ord
    }
    set_x(c, 0)
}

/// `cvtps2pd`: the low two f32 lanes widened exactly; NaNs keep their payload.
fn cvtps2pd(c: &mut Ctx) -> R {
    let s = read_x(c, 1)?;
    let (wide, t) = (c.locals.tv(2), c.locals.tv(3));
    // x86's NaN widening, computed on the integer lanes: sign | 0x7ff8.. | payload << 29
    c.emit_all([
        W::LocalGet(s),
        W::I64x2ExtendLowI32x4U,
        W::LocalSet(t),
        W::LocalGet(t),
        W::V128Const(0x8000_0000_i128 | (0x8000_0000_i128 << 64)),
        W::V128And,
        W::I32Const(32),
        W::I64x2Shl,
        splat(Fp::D, 0x7ff8_0000_0000_0000),
        W::V128Or,
        W::LocalGet(t),
        W::V128Const(0x003f_ffff_i128 | (0x003f_ffff_i128 << 64)),
        W::V128And,
        W::I32Const(29),
        W::I64x2Shl,
        W::V128Or,
        W::LocalGet(s),
        W::F64x2PromoteLowF32x4,
        W::LocalTee(wide),
        W::LocalGet(wide),
        W::LocalGet(wide),
        W::F64x2Ne,
        W::V128Bitselect,
    ]);
    set_x(c, 0)
}

/// `cvtpd2ps`: two f64 lanes rounded to f32 in the low half, upper half zero;
/// NaNs narrowed as x86 does.
fn cvtpd2ps(c: &mut Ctx) -> R {
    let s = read_x(c, 1)?;
    let t = c.locals.tv(2);
    // NaN bits per 64-bit lane: (sign >> 32) | 0x7fc00000 | ((x >> 29) & 0x3fffff), in the low dword
    c.emit_all([
        W::LocalGet(s),
        W::I32Const(63),
        W::I64x2ShrU,
        W::I32Const(31),
        W::I64x2Shl,
        splat(Fp::D, 0x7fc0_0000),
        W::V128Or,
        W::LocalGet(s),
        W::I32Const(29),
        W::I64x2ShrU,
        splat(Fp::D, 0x003f_ffff),
        W::V128And,
        W::V128Or,
        W::V128Const(0),
        W::I8x16Shuffle([0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 16, 17, 18, 19]),
        W::LocalSet(t),
        W::LocalGet(t),
        W::LocalGet(s),
        W::F32x4DemoteF64x2Zero,
        // which lanes are NaN: the f64 masks narrowed the same way
        W::LocalGet(s),
        W::LocalGet(s),
        W::F64x2Ne,
        W::V128Const(0),
        W::I8x16Shuffle([0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 16, 17, 18, 19]),
        W::V128Bitselect,
    ]);
    set_x(c, 0)
}

// ------------------------------------------------------------ scalar registers

/// Which XMM registers hold one scalar float for the whole function, so the
/// lowering can keep them in a plain `f64`/`f32` local: every instruction that
/// names the register uses only lane 0 as one precision (scalar arithmetic,
/// conversions, compares, `movsd`/`movss`/`movq`/`movd`), or copies or masks it
/// register to register with another such register (`movaps`, `xorps`,
/// `andpd`, ... including the zeroing idiom). The upper lanes of such a
/// register are then never read inside the function: they are dead. Anything
/// else (a packed operation, a 16-byte store, a shuffle) keeps it a `v128`.
pub(super) fn scalar_registers(function: &crate::decode::Function) -> [Option<Fp>; 16] {
    use Mnemonic as M;
    #[derive(Clone, Copy, PartialEq)]
    enum Class {
        Unknown,
        Is(Fp),
        Vector,
    }
    fn join(a: Class, b: Class) -> Class {
        match (a, b) {
            (Class::Unknown, x) | (x, Class::Unknown) => x,
            (Class::Is(p), Class::Is(q)) if p == q => Class::Is(p),
            _ => Class::Vector,
        }
    }
    let mut class = [Class::Unknown; 16];
    let mut copies: Vec<(usize, usize)> = Vec::new();
    for original in &function.instructions {
        // a VEX form is its legacy form, after a copy of its first source
        // into its destination
        let legacy = super::vex::legacy(original);
        if let Some(super::vex::Legacy {
            ins,
            first_source: Some(source),
        }) = &legacy
        {
            copies.push((ins.op0_register().number(), source.number()));
        }
        let ins = &legacy.map_or(*original, |l| l.ins);
        if matches!(ins.mnemonic(), M::Pcmpestrm | M::Pcmpestrm64 | M::Pcmpistrm) {
            // (they write xmm0, which is no operand)
            class[0] = Class::Vector;
        }
        // (at most 5 operands: an array, not a Vec per instruction)
        let mut found = [(0u32, 0usize); 5];
        let mut count = 0;
        for i in 0..ins.op_count() {
            if ins.op_kind(i) == iced_x86::OpKind::Register
                && (ins.op_register(i).is_xmm() || ins.op_register(i).is_ymm())
            {
                found[count] = (i, ins.op_register(i).number());
                count += 1;
            }
        }
        let xmms = &found[..count];
        if xmms.is_empty() {
            continue;
        }
        let memory = (0..ins.op_count()).any(|i| ins.op_kind(i) == iced_x86::OpKind::Memory);
        let each = |c: Class, class: &mut [Class; 16]| {
            for &(_, r) in xmms {
                class[r] = join(class[r], c);
            }
        };
        if xmms.iter().any(|&(i, _)| ins.op_register(i).is_ymm()) {
            // a whole YMM register: every lane of its low half counts
            each(Class::Vector, &mut class);
            continue;
        }
        match ins.mnemonic() {
            M::Addsd
            | M::Subsd
            | M::Mulsd
            | M::Divsd
            | M::Sqrtsd
            | M::Minsd
            | M::Maxsd
            | M::Ucomisd
            | M::Comisd
            | M::Cvtsi2sd
            | M::Cvttsd2si
            | M::Cvtsd2si
            | M::Movsd
            | M::Movq
            | M::Roundsd
            | M::Cmpsd => each(Class::Is(Fp::D), &mut class),
            M::Addss
            | M::Subss
            | M::Mulss
            | M::Divss
            | M::Sqrtss
            | M::Minss
            | M::Maxss
            | M::Ucomiss
            | M::Comiss
            | M::Cvtsi2ss
            | M::Cvttss2si
            | M::Cvtss2si
            | M::Movss
            | M::Movd
            | M::Roundss
            | M::Cmpss => each(Class::Is(Fp::S), &mut class),
            M::Cvtss2sd | M::Cvtsd2ss => {
                let (wide, narrow) = if ins.mnemonic() == M::Cvtss2sd {
                    (Fp::D, Fp::S)
                } else {
                    (Fp::S, Fp::D)
                };
                for &(i, r) in xmms {
                    class[r] = join(class[r], Class::Is(if i == 0 { wide } else { narrow }));
                }
            }
            // register copies and bit masks: the same class on both sides
            M::Movaps | M::Movapd | M::Movups | M::Movupd | M::Movdqa | M::Movdqu if !memory => {
                copies.push((xmms[0].1, xmms[1].1));
            }
            M::Xorps
            | M::Xorpd
            | M::Andps
            | M::Andpd
            | M::Andnps
            | M::Andnpd
            | M::Orps
            | M::Orpd
            | M::Pxor
            | M::Pand
            | M::Pandn
            | M::Por => {
                if xmms.len() == 2 {
                    copies.push((xmms[0].1, xmms[1].1));
                }
            }
            _ => each(Class::Vector, &mut class),
        }
    }
    // classes flow along copies until nothing changes
    let mut changed = true;
    while changed {
        changed = false;
        for &(a, b) in &copies {
            let j = join(class[a], class[b]);
            if j != class[a] || j != class[b] {
                class[a] = j;
                class[b] = j;
                changed = true;
            }
        }
    }
    class.map(|c| {
        if let Class::Is(fp) = c {
            Some(fp)
        } else {
            None
        }
    })
}

/// Moves and bit masks on scalar registers (see [`scalar_registers`]): the
/// lane-0 value only, in the register's f64/f32 local. False for the scalar
/// arithmetic, which [`lower`] handles.
pub(super) fn scalar_move_or_mask(c: &mut Ctx) -> Result<bool, TranspileError> {
    use Mnemonic as M;
    let reg_fp = |c: &Ctx, op: u32| -> Option<Fp> {
        if c.ins.op_kind(op) == iced_x86::OpKind::Register && c.ins.op_register(op).is_xmm() {
            c.locals.scalar[c.ins.op_register(op).number()].map(|(_, fp)| fp)
        } else {
            None
        }
    };
    let fp = match reg_fp(c, 0).or_else(|| reg_fp(c, 1)) {
        Some(fp) => fp,
        None => return Ok(false),
    };
    let r = bits_local(c, fp, 0);
    match c.ins.mnemonic() {
        // copies: register to register, loads and stores of the low 4/8 bytes
        M::Movaps
        | M::Movapd
        | M::Movups
        | M::Movupd
        | M::Movdqa
        | M::Movdqu
        | M::Movss
        | M::Movsd => {
            if c.scalar_local(0).is_some() {
                operand_lane(c, 1, fp)?;
                c.emit(W::LocalSet(r));
                set_lane0(c, r, fp)?;
            } else {
                // a store of the low lane
                let offset = c.address()?;
                operand_lane(c, 1, fp)?;
                c.emit(match fp {
                    Fp::S => W::I32Store(super::mem(offset)),
                    Fp::D => W::I64Store(super::mem(offset)),
                });
            }
        }
        M::Movq | M::Movd => {
            if c.scalar_local(0).is_some() {
                // from a general register, memory or another scalar register
                if c.ins.op_kind(1) == iced_x86::OpKind::Register && c.ins.op_register(1).is_xmm() {
                    operand_lane(c, 1, fp)?;
                } else {
                    let bits = if fp == Fp::D { 64 } else { 32 };
                    c.read_sized(1, bits)?;
                    if fp == Fp::S {
                        c.emit(W::I32WrapI64);
                    }
                }
                c.emit(W::LocalSet(r));
                set_lane0(c, r, fp)?;
            } else {
                operand_lane(c, 1, fp)?;
                if fp == Fp::S {
                    c.emit(W::I64ExtendI32U);
                }
                let t = c.locals.t(3);
                c.emit(W::LocalSet(t));
                c.write(0, |c| {
                    c.emit(W::LocalGet(t));
                    Ok(())
                })?;
            }
        }
        M::Xorps
        | M::Xorpd
        | M::Pxor
        | M::Andps
        | M::Andpd
        | M::Pand
        | M::Orps
        | M::Orpd
        | M::Por
        | M::Andnps
        | M::Andnpd
        | M::Pandn => {
            let m = c.ins.mnemonic();
            let same = c.ins.op1_kind() == iced_x86::OpKind::Register
                && c.ins.op0_register() == c.ins.op1_register();
            if same
                && matches!(
                    m,
                    M::Xorps | M::Xorpd | M::Pxor | M::Andnps | M::Andnpd | M::Pandn
                )
            {
                c.emit(konst(fp, 0)); // the zeroing idiom
            } else {
                let d32 = fp == Fp::S;
                operand_lane(c, 0, fp)?;
                if matches!(m, M::Andnps | M::Andnpd | M::Pandn) {
                    c.emit_all([konst(fp, -1), if d32 { W::I32Xor } else { W::I64Xor }]);
                }
                operand_lane(c, 1, fp)?;
                c.emit(match m {
                    M::Xorps | M::Xorpd | M::Pxor => {
                        if d32 {
                            W::I32Xor
                        } else {
                            W::I64Xor
                        }
                    }
                    M::Orps | M::Orpd | M::Por => {
                        if d32 {
                            W::I32Or
                        } else {
                            W::I64Or
                        }
                    }
                    _ => {
                        if d32 {
                            W::I32And
                        } else {
                            W::I64And
                        }
                    }
                });
            }
            c.emit(W::LocalSet(r));
            set_lane0(c, r, fp)?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}
