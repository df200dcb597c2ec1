//! AVX's and AVX2's own instructions, which have no legacy SSE form: those
//! that move data between the halves of a YMM register or broadcast one
//! value (`vinserti128`, `vextracti128`, `vbroadcastss`, `vpbroadcastd`,
//! `vperm2i128`, `vpermq`, ...), the masked moves (`vpmaskmovd` & co.)
//! and gathers (`vpgatherdd` & co.),
//! F16C's conversions to and from half precision, and
//! `vzeroupper`/`vzeroall`. A YMM
//! register is its XMM local (bits 127:0) and its [`Reg::High`] local
//! (bits 255:128); see `vex.rs`.

use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register};
use wasm_encoder::Instruction as W;

use crate::layout::mem;
use super::{Ctx, Reg};
use crate::error::TranspileError;

type R = Result<(), TranspileError>;

/// Lowers `c.ins` if it is one of AVX's own instructions; false if not.
pub(super) fn lower(c: &mut Ctx) -> Result<bool, TranspileError> {
    use Mnemonic as M;
    match c.ins.mnemonic() {
        M::Vzeroupper => zero_upper(c, false),
        M::Vzeroall => zero_upper(c, true),
        M::Vinsertf128 | M::Vinserti128 => insert128(c)?,
        M::Vextractf128 | M::Vextracti128 => extract128(c)?,
        M::Vbroadcastss | M::Vpbroadcastd => broadcast(c, 4)?,
        M::Vbroadcastsd | M::Vpbroadcastq => broadcast(c, 8)?,
        M::Vpbroadcastb => broadcast(c, 1)?,
        M::Vpbroadcastw => broadcast(c, 2)?,
        M::Vbroadcastf128 | M::Vbroadcasti128 => broadcast(c, 16)?,
        M::Vperm2f128 | M::Vperm2i128 => permute_halves(c)?,
        M::Vpermq | M::Vpermpd => permute_quadwords(c)?,
        // the 256-bit forms (the 128-bit ones are SSE's, `vex.rs`)
        M::Vpmovmskb if is_ymm(c, 1) => sign_mask(c, W::I8x16Bitmask, 16)?,
        M::Vmovmskps if is_ymm(c, 1) => sign_mask(c, W::I32x4Bitmask, 4)?,
        M::Vmovmskpd if is_ymm(c, 1) => sign_mask(c, W::I64x2Bitmask, 2)?,
        M::Vcvtps2pd if is_ymm(c, 0) => widen(c, Code::Cvtps2pd_xmm_xmmm64, 16)?,
        M::Vcvtdq2pd if is_ymm(c, 0) => widen(c, Code::Cvtdq2pd_xmm_xmmm64, 16)?,
        M::Vcvtpd2ps if is_256_source(c) => narrow(c, Code::Cvtpd2ps_xmm_xmmm128)?,
        M::Vcvtpd2dq if is_256_source(c) => narrow(c, Code::Cvtpd2dq_xmm_xmmm128)?,
        M::Vcvttpd2dq if is_256_source(c) => narrow(c, Code::Cvttpd2dq_xmm_xmmm128)?,
        M::Vpmovsxbw if is_ymm(c, 0) => widen(c, Code::Pmovsxbw_xmm_xmmm64, 16)?,
        M::Vpmovsxbd if is_ymm(c, 0) => widen(c, Code::Pmovsxbd_xmm_xmmm32, 8)?,
        M::Vpmovsxbq if is_ymm(c, 0) => widen(c, Code::Pmovsxbq_xmm_xmmm16, 4)?,
        M::Vpmovsxwd if is_ymm(c, 0) => widen(c, Code::Pmovsxwd_xmm_xmmm64, 16)?,
        M::Vpmovsxwq if is_ymm(c, 0) => widen(c, Code::Pmovsxwq_xmm_xmmm32, 8)?,
        M::Vpmovsxdq if is_ymm(c, 0) => widen(c, Code::Pmovsxdq_xmm_xmmm64, 16)?,
        M::Vpmovzxbw if is_ymm(c, 0) => widen(c, Code::Pmovzxbw_xmm_xmmm64, 16)?,
        M::Vpmovzxbd if is_ymm(c, 0) => widen(c, Code::Pmovzxbd_xmm_xmmm32, 8)?,
        M::Vpmovzxbq if is_ymm(c, 0) => widen(c, Code::Pmovzxbq_xmm_xmmm16, 4)?,
        M::Vpmovzxwd if is_ymm(c, 0) => widen(c, Code::Pmovzxwd_xmm_xmmm64, 16)?,
        M::Vpmovzxwq if is_ymm(c, 0) => widen(c, Code::Pmovzxwq_xmm_xmmm32, 8)?,
        M::Vpmovzxdq if is_ymm(c, 0) => widen(c, Code::Pmovzxdq_xmm_xmmm64, 16)?,
        M::Vptest if is_ymm(c, 0) => test_256(c)?,
        M::Vpblendvb => blend_variable(c, W::I8x16ShrS, 7)?,
        M::Vblendvps => blend_variable(c, W::I32x4ShrS, 31)?,
        M::Vblendvpd => blend_variable(c, W::I64x2ShrS, 63)?,
        M::Vpblendd => blend_dwords(c)?,
        M::Vpermd | M::Vpermps => permute_dwords(c)?,
        M::Vpermilps | M::Vpermilpd => permute_in_halves(c)?,
        M::Vpgatherdd | M::Vgatherdps => gather(c, 4, 4)?,
        M::Vpgatherdq | M::Vgatherdpd => gather(c, 8, 4)?,
        M::Vpgatherqd | M::Vgatherqps => gather(c, 4, 8)?,
        M::Vpgatherqq | M::Vgatherqpd => gather(c, 8, 8)?,
        M::Vmaskmovps | M::Vpmaskmovd => masked_move(c, 4)?,
        M::Vmaskmovpd | M::Vpmaskmovq => masked_move(c, 8)?,
        M::Vcvtph2ps => half_to_single(c)?,
        M::Vcvtps2ph => single_to_half(c)?,
        M::Vpsllvd => variable_shift(c, 4, Shift::Left)?,
        M::Vpsllvq => variable_shift(c, 8, Shift::Left)?,
        M::Vpsrlvd => variable_shift(c, 4, Shift::Right)?,
        M::Vpsrlvq => variable_shift(c, 8, Shift::Right)?,
        M::Vpsravd => variable_shift(c, 4, Shift::Arithmetic)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Whether the source (operand 1) is 256 bits: a YMM register, or 32
/// bytes of memory.
fn is_256_source(c: &Ctx) -> bool {
    is_ymm(c, 1) || (c.ins.op1_kind() == OpKind::Memory && c.ins.memory_size().size() == 32)
}

/// Lowers legacy instruction `legacy` in place of `c.ins`: its operand 1
/// read from local `source` when given ([`Ctx::vex_source`]), on the high
/// halves of YMM operands when `high_half` is given.
fn as_legacy(c: &mut Ctx, legacy: Instruction, source: Option<u32>, high_half: Option<u64>) -> R {
    let own = c.ins;
    c.ins = legacy;
    c.vex_source = source;
    c.high_half = high_half;
    let lowered = c.lower_legacy();
    c.ins = own;
    c.vex_source = None;
    c.high_half = None;
    match lowered {
        Ok(true) => Ok(()),
        Ok(false) | Err(TranspileError::Unsupported { .. }) => Err(c.unsupported()),
        Err(e) => Err(e),
    }
}

/// `vcvtps2pd ymm, xmm/m128`, `vpmovsxbd ymm, xmm/m64` & co.: elements
/// widened into a YMM register, as the legacy instruction on the source's
/// first half into bits 127:0 and on its second half into bits 255:128.
/// `bytes`: how much of the source the 256-bit form reads.
fn widen(c: &mut Ctx, code: Code, bytes: u32) -> R {
    let source = read_xmm(c, 1, bytes, 0)?;
    let (low, high) = (c.locals.avx(0), c.locals.avx(1));
    let shift = (bytes / 2) as u8;
    let upper_elements: [u8; 16] = std::array::from_fn(|i| (shift + i as u8).min(31));
    c.emit_all([
        W::LocalGet(source),
        W::LocalTee(low),
        W::LocalGet(source),
        W::I8x16Shuffle(upper_elements),
        W::LocalSet(high),
    ]);
    // (operand 1 a register, read from the locals above: named as the
    // destination, a vector register, never one kept as a scalar)
    let mut legacy = c.ins;
    legacy.set_code(code);
    legacy.set_op1_kind(OpKind::Register);
    legacy.set_op1_register(xmm_register(c.ins.op0_register().number()));
    as_legacy(c, legacy, Some(low), None)?;
    as_legacy(c, legacy, Some(high), Some(0))
}

/// `vcvtpd2ps xmm, ymm/m256` & co.: four elements narrowed into bits
/// 127:0, as the legacy conversion of each half, put side by side; bits
/// 255:128 zeroed.
fn narrow(c: &mut Ctx, code: Code) -> R {
    let mut legacy = c.ins;
    legacy.set_code(code);
    let destination = halves(c, c.ins.op0_register().number());
    let low = c.locals.avx(0);
    as_legacy(c, legacy, None, None)?;
    c.emit_all([W::LocalGet(destination.0), W::LocalSet(low)]);
    as_legacy(c, legacy, None, Some(16))?;
    let mut lanes = [0u8; 16];
    for (i, lane) in lanes.iter_mut().enumerate() {
        *lane = if i < 8 { i as u8 } else { 8 + i as u8 };
    }
    c.emit_all([
        W::LocalGet(low),
        W::LocalGet(destination.0),
        W::I8x16Shuffle(lanes),
        W::LocalSet(destination.0),
        W::V128Const(0),
        W::LocalSet(destination.1),
    ]);
    Ok(())
}

/// XMM register `n` as iced names it (its enum holds XMM0-XMM31 in order).
fn xmm_register(n: usize) -> Register {
    Register::values()
        .nth(Register::XMM0 as usize + n)
        .unwrap_or(Register::XMM0)
}

/// Whether operand `op` is a YMM register.
fn is_ymm(c: &Ctx, op: u32) -> bool {
    c.ins.op_kind(op) == OpKind::Register && c.ins.op_register(op).is_ymm()
}

/// `vpmovmskb r32, ymm` & co.: the sign bits of every element, bits
/// 127:0's first (`lanes` elements a half).
fn sign_mask(c: &mut Ctx, bitmask: W<'static>, lanes: i64) -> R {
    let (low, high) = read_ymm(c, 1, 0)?;
    c.write(0, |c| {
        c.emit_all([
            W::LocalGet(high),
            bitmask.clone(),
            W::I64ExtendI32U,
            W::I64Const(lanes),
            W::I64Shl,
            W::LocalGet(low),
            bitmask,
            W::I64ExtendI32U,
            W::I64Or,
        ]);
        Ok(())
    })
}

/// The locals of YMM register `n`: bits 127:0 and 255:128.
fn halves(c: &Ctx, n: usize) -> (u32, u32) {
    (
        c.locals.reg(Reg::Xmm(n as u8)),
        c.locals.reg(Reg::High(n as u8)),
    )
}

/// YMM operand `op` as two v128 locals (a register's own, or scratch
/// locals `tv(first)`, `tv(first + 1)` loaded from memory).
fn read_ymm(c: &mut Ctx, op: u32, first: usize) -> Result<(u32, u32), TranspileError> {
    if c.ins.op_kind(op) == OpKind::Register {
        return Ok(halves(c, c.ins.op_register(op).number()));
    }
    let (low, high) = (c.locals.tv(first), c.locals.tv(first + 1));
    for (local, bias) in [(low, 0), (high, 16)] {
        let offset = c.address()?;
        c.emit_all([W::V128Load(mem(offset + bias)), W::LocalSet(local)]);
    }
    Ok((low, high))
}

/// XMM operand `op` as a v128 local (a register's own, or scratch local
/// `tv(scratch)` with the `bytes` the instruction reads from memory).
pub(super) fn read_xmm(c: &mut Ctx, op: u32, bytes: u32, scratch: usize) -> Result<u32, TranspileError> {
    if c.ins.op_kind(op) == OpKind::Register {
        return Ok(halves(c, c.ins.op_register(op).number()).0);
    }
    let t = c.locals.tv(scratch);
    let offset = c.address()?;
    let m = mem(offset);
    c.emit(match bytes {
        1 => W::V128Load8Splat(m),
        2 => W::V128Load16Splat(m),
        4 => W::V128Load32Zero(m),
        8 => W::V128Load64Zero(m),
        _ => W::V128Load(m),
    });
    c.emit(W::LocalSet(t));
    Ok(t)
}

/// Writes the halves `low` and `high` pushed by `value` (low first) to
/// register operand 0: a YMM register whole, an XMM one with bits 255:128
/// zeroed (the module keeps them when it has any YMM instruction).
pub(super) fn write(c: &mut Ctx, value: impl FnOnce(&mut Ctx) -> R) -> R {
    let register = c.ins.op0_register();
    let (low, high) = halves(c, register.number());
    value(c)?;
    if register.is_ymm() {
        c.emit_all([W::LocalSet(high), W::LocalSet(low)]);
    } else {
        c.emit_all([W::Drop, W::LocalSet(low)]);
        if c.callees.wide {
            c.emit_all([W::V128Const(0), W::LocalSet(high)]);
        }
    }
    Ok(())
}

/// `vzeroupper`: bits 255:128 of every YMM register are zero; `vzeroall`:
/// every YMM register. (Only a module that keeps them has them.)
fn zero_upper(c: &mut Ctx, all: bool) {
    for n in 0..16 {
        let (low, high) = halves(c, n);
        if c.callees.wide {
            c.emit_all([W::V128Const(0), W::LocalSet(high)]);
        }
        if all {
            c.emit_all([W::V128Const(0), W::LocalSet(low)]);
            if let Some((scalar, fp)) = c.locals.scalar[n] {
                c.emit_all([
                    match fp {
                        super::float::Fp::S => W::F32Const(0.0.into()),
                        super::float::Fp::D => W::F64Const(0.0.into()),
                    },
                    W::LocalSet(scalar),
                ]);
            }
        }
    }
}

/// `vinserti128 ymm1, ymm2, xmm3/m128, imm`: ymm2 with the half `imm & 1`
/// replaced by xmm3.
fn insert128(c: &mut Ctx) -> R {
    let (low, high) = read_ymm(c, 1, 0)?;
    let part = read_xmm(c, 2, 16, 2)?;
    let upper = c.ins.immediate(3) & 1 == 1;
    write(c, |c| {
        c.emit_all(if upper {
            [W::LocalGet(low), W::LocalGet(part)]
        } else {
            [W::LocalGet(part), W::LocalGet(high)]
        });
        Ok(())
    })
}

/// `vextracti128 xmm1/m128, ymm2, imm`: the half `imm & 1` of ymm2.
fn extract128(c: &mut Ctx) -> R {
    let (low, high) = read_ymm(c, 1, 0)?;
    let part = if c.ins.immediate(2) & 1 == 1 { high } else { low };
    if c.ins.op0_kind() == OpKind::Memory {
        let offset = c.address()?;
        c.emit_all([W::LocalGet(part), W::V128Store(mem(offset))]);
        return Ok(());
    }
    write(c, |c| {
        c.emit_all([W::LocalGet(part), W::V128Const(0)]);
        Ok(())
    })
}

/// `vbroadcastss`, `vpbroadcastd` & co.: the low `bytes` of the source in
/// every element of the destination (16: `vbroadcasti128`, both halves).
fn broadcast(c: &mut Ctx, bytes: u32) -> R {
    let v = read_xmm(c, 1, bytes, 0)?;
    let t = c.locals.tv(1);
    c.emit(W::LocalGet(v));
    match bytes {
        1 => c.emit_all([W::I8x16ExtractLaneU(0), W::I8x16Splat]),
        2 => c.emit_all([W::I16x8ExtractLaneU(0), W::I16x8Splat]),
        4 => c.emit_all([W::I32x4ExtractLane(0), W::I32x4Splat]),
        8 => c.emit_all([W::I64x2ExtractLane(0), W::I64x2Splat]),
        _ => {}
    }
    c.emit(W::LocalSet(t));
    write(c, |c| {
        c.emit_all([W::LocalGet(t), W::LocalGet(t)]);
        Ok(())
    })
}

/// `vperm2i128 ymm1, ymm2, ymm3/m256, imm`: each half of the result is
/// the half of ymm2 or ymm3 that two bits of `imm` pick, or zero.
fn permute_halves(c: &mut Ctx) -> R {
    let a = read_ymm(c, 1, 0)?;
    let b = read_ymm(c, 2, 2)?;
    let imm = c.ins.immediate(3);
    let sources = [a.0, a.1, b.0, b.1];
    write(c, |c| {
        for control in [imm & 0xf, imm >> 4 & 0xf] {
            if control & 8 != 0 {
                c.emit(W::V128Const(0));
            } else {
                c.emit(W::LocalGet(sources[(control & 3) as usize]));
            }
        }
        Ok(())
    })
}

/// `vpermq ymm1, ymm2/m256, imm`: quadword i of the result is quadword
/// `imm >> 2i & 3` of the source.
fn permute_quadwords(c: &mut Ctx) -> R {
    let (low, high) = read_ymm(c, 1, 0)?;
    let imm = c.ins.immediate(2);
    // (i8x16.shuffle picks bytes 0-15 from its first operand, 16-31 from
    // its second: quadword q is bytes 8q..8q+8 of low:high)
    let lanes = |first: u64| {
        let mut l = [0u8; 16];
        for (i, quadword) in [first, first + 1].into_iter().enumerate() {
            let q = (imm >> (2 * quadword) & 3) as u8;
            for k in 0..8 {
                l[8 * i + k] = 8 * q + k as u8;
            }
        }
        l
    };
    write(c, |c| {
        c.emit_all([
            W::LocalGet(low),
            W::LocalGet(high),
            W::I8x16Shuffle(lanes(0)),
            W::LocalGet(low),
            W::LocalGet(high),
            W::I8x16Shuffle(lanes(2)),
        ]);
        Ok(())
    })
}

/// A vector operand as two v128 locals, bits 127:0 and 255:128: a YMM
/// register's, a 32-byte memory operand loaded into scratch locals
/// `tv(first)`, `tv(first + 1)`; an XMM operand's 16 bytes twice (its high
/// half is never read).
pub(super) fn read_vector(c: &mut Ctx, op: u32, first: usize) -> Result<(u32, u32), TranspileError> {
    let whole = is_ymm(c, op)
        || (c.ins.op_kind(op) == OpKind::Memory && c.ins.memory_size().size() == 32);
    if whole {
        return read_ymm(c, op, first);
    }
    let v = read_xmm(c, op, 16, first)?;
    Ok((v, v))
}

/// The halves an instruction computes: one for an XMM destination, two
/// for a YMM one.
fn halves_written(c: &Ctx) -> usize {
    if is_ymm(c, 0) {
        2
    } else {
        1
    }
}

/// Writes the halves that `half(c, k, sources)` pushes for k = 0 (and 1
/// for a YMM destination), each from the `sources` halves.
fn write_each_half(c: &mut Ctx, sources: &[(u32, u32)], half: impl Fn(&mut Ctx, usize, &[u32])) -> R {
    let n = halves_written(c);
    write(c, |c| {
        for k in 0..2 {
            if k < n {
                let these: Vec<u32> = sources.iter().map(|&(l, h)| if k == 0 { l } else { h }).collect();
                half(c, k, &these);
            } else {
                c.emit(W::V128Const(0));
            }
        }
        Ok(())
    })
}

/// `vptest ymm, ymm/m256`: ZF when `a & b` is zero in all 256 bits, CF
/// when `!a & b` is; the other flags cleared.
fn test_256(c: &mut Ctx) -> R {
    use super::flags::{CF, OF, PF, SF, ZF};
    let a = read_ymm(c, 0, 0)?;
    let b = read_ymm(c, 1, 2)?;
    c.flags_begin(c.ins.rflags_modified());
    for (flag, first, second, op) in [
        (ZF, a, b, W::V128And),
        (CF, b, a, W::V128AndNot),
    ] {
        if c.flags_needed(flag) {
            c.emit_all([
                W::LocalGet(first.0),
                W::LocalGet(second.0),
                op.clone(),
                W::LocalGet(first.1),
                W::LocalGet(second.1),
                op,
                W::V128Or,
                W::V128AnyTrue,
                W::I32Eqz,
            ]);
            c.set_flag(flag);
        }
    }
    for flag in [PF, SF, OF] {
        if c.flags_needed(flag) {
            c.emit(W::I32Const(0));
            c.set_flag(flag);
        }
    }
    Ok(())
}

/// `vpblendvb`/`vblendvps`/`vblendvpd dst, a, b, mask`: each element from
/// b where mask's element has its sign bit set, else from a.
fn blend_variable(c: &mut Ctx, sign: W<'static>, bits: i32) -> R {
    let a = read_vector(c, 1, 0)?;
    let b = read_vector(c, 2, 2)?;
    let mask = read_vector(c, 3, 0)?;
    write_each_half(c, &[a, b, mask], |c, _, v| {
        c.emit_all([
            W::LocalGet(v[1]),
            W::LocalGet(v[0]),
            W::LocalGet(v[2]),
            W::I32Const(bits),
            sign.clone(),
            W::V128Bitselect,
        ]);
    })
}

/// `vpblendd dst, a, b, imm`: dword i from b where bit i of imm is set.
fn blend_dwords(c: &mut Ctx) -> R {
    let a = read_vector(c, 1, 0)?;
    let b = read_vector(c, 2, 2)?;
    let imm = c.ins.immediate(3);
    write_each_half(c, &[a, b], |c, k, v| {
        let bits = imm >> (4 * k);
        let pick: [u8; 16] =
            std::array::from_fn(|i| i as u8 + if bits >> (i / 4) & 1 == 1 { 16 } else { 0 });
        c.emit_all([W::LocalGet(v[0]), W::LocalGet(v[1]), W::I8x16Shuffle(pick)]);
    })
}

/// `vpermd ymm, indices, table`: dword i is the table's dword `indices[i]
/// & 7`, picked from each half of the table by byte and then chosen.
fn permute_dwords(c: &mut Ctx) -> R {
    let indices = read_ymm(c, 1, 0)?;
    let table = read_ymm(c, 2, 2)?;
    let bytes = c.locals.avx(0);
    write_each_half(c, &[indices], |c, _, v| {
        c.emit(W::LocalGet(v[0]));
        dword_byte_indices(c);
        c.emit_all([
            W::LocalSet(bytes),
            W::LocalGet(table.1),
            W::LocalGet(bytes),
            W::I8x16Swizzle,
            W::LocalGet(table.0),
            W::LocalGet(bytes),
            W::I8x16Swizzle,
            // index & 4: the high half's
            W::LocalGet(v[0]),
            W::V128Const(0x0000_0004_0000_0004_0000_0004_0000_0004),
            W::V128And,
            W::V128Const(0),
            W::I32x4Ne,
            W::V128Bitselect,
        ]);
    })
}

/// Dword indices (bits 1:0 of each dword on the stack) as the byte
/// indices of `i8x16.swizzle`: dword k is bytes 4k, 4k + 1, 4k + 2, 4k + 3.
fn dword_byte_indices(c: &mut Ctx) {
    c.emit_all([
        W::V128Const(0x0000_0003_0000_0003_0000_0003_0000_0003),
        W::V128And,
        W::I32Const(2),
        W::I32x4Shl,
        W::V128Const(0x0101_0101_0101_0101_0101_0101_0101_0101),
        W::I32x4Mul,
        W::V128Const(0x0302_0100_0302_0100_0302_0100_0302_0100),
        W::I32x4Add,
    ]);
}

/// Which way [`variable_shift`] shifts.
#[derive(Clone, Copy, PartialEq)]
enum Shift {
    Left,
    Right,
    Arithmetic,
}

/// `vpsllvd dst, a, counts` & co.: each element shifted by its own count;
/// a count past the element's width gives 0 (the sign, arithmetic).
fn variable_shift(c: &mut Ctx, bytes: u8, shift: Shift) -> R {
    let a = read_vector(c, 1, 0)?;
    let counts = read_vector(c, 2, 2)?;
    let lanes = 16 / bytes;
    let result = c.locals.avx(1);
    write_each_half(c, &[a, counts], |c, _, v| {
        c.emit_all([W::V128Const(0), W::LocalSet(result)]);
        for lane in 0..lanes {
            c.emit(W::LocalGet(result));
            if bytes == 4 {
                // as i64: counts up to 63 need no test, and the shift of
                // a sign-extended value is the arithmetic one
                c.emit_all([W::LocalGet(v[0]), W::I32x4ExtractLane(lane)]);
                c.emit(if shift == Shift::Arithmetic {
                    W::I64ExtendI32S
                } else {
                    W::I64ExtendI32U
                });
                // (the count, at most 63: that gives 0, or the sign)
                c.emit_all([
                    W::LocalGet(v[1]),
                    W::I32x4ExtractLane(lane),
                    W::I64ExtendI32U,
                    W::I64Const(63),
                    W::LocalGet(v[1]),
                    W::I32x4ExtractLane(lane),
                    W::I32Const(63),
                    W::I32LtU,
                    W::Select,
                ]);
                c.emit_all(match shift {
                    Shift::Left => [W::I64Shl, W::I32WrapI64],
                    Shift::Right => [W::I64ShrU, W::I32WrapI64],
                    Shift::Arithmetic => [W::I64ShrS, W::I32WrapI64],
                });
                c.emit(W::I32x4ReplaceLane(lane));
            } else {
                // a count past 63 gives 0: shift by the count, then keep it
                // only where the count is below 64
                c.emit_all([
                    W::LocalGet(v[0]),
                    W::I64x2ExtractLane(lane),
                    W::LocalGet(v[1]),
                    W::I64x2ExtractLane(lane),
                    if shift == Shift::Left {
                        W::I64Shl
                    } else {
                        W::I64ShrU
                    },
                    W::I64Const(0),
                    W::LocalGet(v[1]),
                    W::I64x2ExtractLane(lane),
                    W::I64Const(64),
                    W::I64LtU,
                    W::Select,
                    W::I64x2ReplaceLane(lane),
                ]);
            }
            c.emit(W::LocalSet(result));
        }
        c.emit(W::LocalGet(result));
    })
}

/// `vpermilps`/`vpermilpd dst, src, imm` (or `, indices`): each element of
/// each half is an element of the same half of src, picked by bits of imm
/// (the same for both halves of `ps`, the next two for `pd`'s high half)
/// or by bits 1:0 (`ps`) or bit 1 (`pd`) of the element's index.
fn permute_in_halves(c: &mut Ctx) -> R {
    let double = c.ins.mnemonic() == Mnemonic::Vpermilpd;
    let source = read_vector(c, 1, 0)?;
    let last = c.ins.op_count() - 1;
    if c.ins.op_kind(last) == OpKind::Immediate8 {
        let imm = c.ins.immediate(last);
        return write_each_half(c, &[source], |c, k, v| {
            let pick: [u8; 16] = if double {
                std::array::from_fn(|i| {
                    let q = imm >> (2 * k + i / 8) & 1;
                    (8 * q) as u8 + i as u8 % 8
                })
            } else {
                std::array::from_fn(|i| {
                    let d = imm >> (2 * (i / 4)) & 3;
                    (4 * d) as u8 + i as u8 % 4
                })
            };
            c.emit_all([W::LocalGet(v[0]), W::LocalGet(v[0]), W::I8x16Shuffle(pick)]);
        });
    }
    let indices = read_vector(c, 2, 2)?;
    write_each_half(c, &[source, indices], |c, _, v| {
        c.emit_all([W::LocalGet(v[0]), W::LocalGet(v[1])]);
        if double {
            // qword index (bit 1) * 8, in every byte of the qword, plus 0-7
            c.emit_all([
                W::V128Const(2 | 2 << 64),
                W::V128And,
                W::I32Const(2),
                W::I64x2Shl,
                // (byte 0 of each qword into all its bytes)
                W::V128Const(0x0808_0808_0808_0808_0000_0000_0000_0000),
                W::I8x16Swizzle,
                W::V128Const(0x0706_0504_0302_0100_0706_0504_0302_0100),
                W::I8x16Add,
            ]);
        } else {
            dword_byte_indices(c);
        }
        c.emit(W::I8x16Swizzle);
    })
}

/// `vcvtph2ps xmm/ymm, xmm/m64/m128`: half-precision elements to singles,
/// exactly: a half's bits moved into a single's place and scaled by
/// 2^112 (subnormal halves become normal singles), infinities and NaNs
/// (quieted) given their exponent.
fn half_to_single(c: &mut Ctx) -> R {
    let halves = if is_ymm(c, 0) { 16 } else { 8 };
    let source = read_xmm(c, 1, halves, 0)?;
    let (v, o) = (c.locals.avx(0), c.locals.avx(1));
    let splat = |x: u32| W::V128Const(i128::from_le_bytes(
        std::array::from_fn(|i| (x >> (8 * (i % 4))) as u8),
    ));
    write(c, |c| {
        for widen in [W::I32x4ExtendLowI16x8U, W::I32x4ExtendHighI16x8U] {
            c.emit_all([
                W::LocalGet(source),
                widen,
                W::LocalTee(v),
                splat(0x7fff),
                W::V128And,
                W::I32Const(13),
                W::I32x4Shl,
                W::LocalTee(o),
                // infinity or NaN: the single's exponent, a NaN quieted
                splat(0x7f80_0000),
                W::V128Or,
                W::LocalGet(v),
                splat(0x3ff),
                W::V128And,
                splat(0),
                W::I32x4Ne,
                splat(0x40_0000),
                W::V128And,
                W::V128Or,
                // a number: scaled
                W::LocalGet(o),
                splat(0x7780_0000), // 2^112
                W::F32x4Mul,
                W::LocalGet(v),
                splat(0x7c00),
                W::V128And,
                splat(0x7c00),
                W::I32x4Eq,
                W::V128Bitselect,
                W::LocalGet(v),
                splat(0x8000),
                W::V128And,
                W::I32Const(16),
                W::I32x4Shl,
                W::V128Or,
            ]);
        }
        Ok(())
    })
}

/// `vcvtps2ph xmm/m64/m128, xmm/ymm, imm`: singles to half precision,
/// rounded as imm says (bit 2: as MXCSR, to nearest here), one helper call
/// (`crate::builtins::fma`'s f32-to-f16) per element; an XMM destination's bits
/// above the halves are zeroed.
fn single_to_half(c: &mut Ctx) -> R {
    let (low, high) = read_vector(c, 1, 0)?;
    let imm = c.ins.immediate(2);
    let mode = if imm & 4 != 0 { 0 } else { (imm & 3) as i32 };
    let helper = c.callees.helpers.f32_to_f16;
    let count = if is_ymm(c, 1) { 8 } else { 4 };
    let result = c.locals.avx(0);
    c.emit_all([W::V128Const(0), W::LocalSet(result)]);
    for lane in 0..count {
        let from = if lane < 4 { low } else { high };
        c.emit_all([
            W::LocalGet(result),
            W::LocalGet(from),
            W::I32x4ExtractLane((lane % 4) as u8),
            W::I32Const(mode),
            W::Call(helper),
            W::I16x8ReplaceLane(lane as u8),
            W::LocalSet(result),
        ]);
    }
    if c.ins.op0_kind() == OpKind::Memory {
        let offset = c.address()?;
        c.emit(W::LocalGet(result));
        c.emit(if count == 8 {
            W::V128Store(mem(offset))
        } else {
            W::V128Store64Lane {
                memarg: mem(offset),
                lane: 0,
            }
        });
        return Ok(());
    }
    write(c, |c| {
        c.emit_all([W::LocalGet(result), W::V128Const(0)]);
        Ok(())
    })
}

/// Pushes whether element `k` (of `bytes` bytes) of the v128 in local
/// `mask` has its sign bit set: what a masked move or a gather tests.
fn sign_set(c: &mut Ctx, mask: u32, k: u8, bytes: u32) {
    c.emit(W::LocalGet(mask));
    c.emit_all(match bytes {
        4 => [W::I32x4ExtractLane(k), W::I32Const(0), W::I32LtS],
        _ => [W::I64x2ExtractLane(k), W::I64Const(0), W::I64LtS],
    });
}

/// `vmaskmovps`/`vpmaskmovd` (`bytes` 4) and `vmaskmovpd`/`vpmaskmovq` (8):
/// each element whose mask element has its sign bit set is moved; from
/// memory, the others are zero; to memory, the others are not written. An
/// element masked off is never read or written (the CPU takes no fault
/// there), so each is its own `if`.
fn masked_move(c: &mut Ctx, bytes: u32) -> R {
    let per_half = 16 / bytes;
    let (extract, zero, load, store, result) = match bytes {
        4 => (
            W::I32x4ExtractLane as fn(u8) -> W<'static>,
            W::I32Const(0),
            W::I32Load as fn(wasm_encoder::MemArg) -> W<'static>,
            W::I32Store as fn(wasm_encoder::MemArg) -> W<'static>,
            wasm_encoder::ValType::I32,
        ),
        _ => (
            W::I64x2ExtractLane as fn(u8) -> W<'static>,
            W::I64Const(0),
            W::I64Load as fn(wasm_encoder::MemArg) -> W<'static>,
            W::I64Store as fn(wasm_encoder::MemArg) -> W<'static>,
            wasm_encoder::ValType::I64,
        ),
    };
    let replace = if bytes == 4 { W::I32x4ReplaceLane } else { W::I64x2ReplaceLane };
    let wide = is_ymm(c, 0) || is_ymm(c, 1) || is_ymm(c, 2);
    let halves_moved = if wide { 2 } else { 1 };
    if c.ins.op0_kind() == OpKind::Memory {
        let mask = read_vector(c, 1, 0)?;
        let source = read_vector(c, 2, 2)?;
        for h in 0..halves_moved {
            let (m, v) = if h == 0 { (mask.0, source.0) } else { (mask.1, source.1) };
            for k in 0..per_half {
                sign_set(c, m, k as u8, bytes);
                c.emit(W::If(wasm_encoder::BlockType::Empty));
                let offset = c.address()? + 16 * h + (k * bytes) as u64;
                c.emit_all([W::LocalGet(v), extract(k as u8), store(mem(offset)), W::End]);
            }
        }
        return Ok(());
    }
    let mask = read_vector(c, 1, 0)?;
    write(c, |c| {
        for h in 0..2 {
            c.emit(W::V128Const(0));
            if h >= halves_moved {
                continue;
            }
            let m = if h == 0 { mask.0 } else { mask.1 };
            for k in 0..per_half {
                sign_set(c, m, k as u8, bytes);
                c.emit(W::If(wasm_encoder::BlockType::Result(result)));
                let offset = c.address()? + 16 * h + (k * bytes) as u64;
                c.emit_all([load(mem(offset)), W::Else, zero.clone(), W::End, replace(k as u8)]);
            }
        }
        Ok(())
    })
}

/// `vpgatherdd`/`vgatherdps` & co. `dst, [base + index*scale + disp],
/// mask`: element j (`data` bytes) of dst is loaded from base + index
/// element j (`index` bytes, sign-extended; the address wraps at 32 bits as
/// every address does) * scale + disp where mask element j has its sign
/// bit set, else kept; as many elements as both dst and index hold. Then
/// dst past those elements and the whole mask are zero (Intel SDM,
/// VPGATHERDD & co.). An element masked off is never read. Operands that
/// share a register are #UD on the CPU: refused.
fn gather(c: &mut Ctx, data: u32, index: u32) -> R {
    let ins = c.ins;
    let (dst, mask, vector) = (ins.op0_register(), ins.op2_register(), ins.memory_index());
    let numbers = [dst.number(), mask.number(), vector.number()];
    if numbers[0] == numbers[1] || numbers[0] == numbers[2] || numbers[1] == numbers[2] {
        return Err(c.unsupported());
    }
    if !matches!(ins.memory_segment(), Register::DS | Register::SS | Register::None)
        || ins.memory_base().size() == 4
    {
        return Err(c.unsupported());
    }
    let width = |r: Register| if r.is_ymm() { 32 } else { 16 };
    let count = (width(dst) / data).min(width(vector) / index);
    let dst = halves(c, dst.number());
    let mask = halves(c, mask.number());
    let vector = halves(c, vector.number());
    let half = |pair: (u32, u32), byte: u32| if byte < 16 { pair.0 } else { pair.1 };
    let disp = ins.memory_displacement64() as u32 as i32;
    let scale = ins.memory_index_scale().trailing_zeros() as i32;
    for j in 0..count {
        let (at, lane) = (j * data, (j * data % 16 / data) as u8);
        let from = half(vector, j * index);
        let index_lane = (j * index % 16 / index) as u8;
        sign_set(c, half(mask, at), lane, data);
        c.emit_all([W::If(wasm_encoder::BlockType::Empty), W::LocalGet(half(dst, at))]);
        // the element's address
        c.emit(W::LocalGet(from));
        match index {
            4 => c.emit(W::I32x4ExtractLane(index_lane)),
            _ => c.emit_all([W::I64x2ExtractLane(index_lane), W::I32WrapI64]),
        }
        if scale > 0 {
            c.emit_all([W::I32Const(scale), W::I32Shl]);
        }
        if let Some(base) = Reg::of(ins.memory_base()) {
            c.emit_all([W::LocalGet(c.locals.reg(base)), W::I32WrapI64, W::I32Add]);
        }
        c.emit_all([W::I32Const(disp), W::I32Add]);
        match data {
            4 => c.emit_all([W::I32Load(mem(0)), W::I32x4ReplaceLane(lane)]),
            _ => c.emit_all([W::I64Load(mem(0)), W::I64x2ReplaceLane(lane)]),
        }
        c.emit_all([W::LocalSet(half(dst, at)), W::End]);
    }
    // dst past the elements gathered, and the mask, are zero
    let gathered = count * data;
    if gathered < 16 {
        let keep: [u8; 16] = std::array::from_fn(|i| if (i as u32) < gathered { 0xff } else { 0 });
        c.emit_all([
            W::LocalGet(dst.0),
            W::V128Const(i128::from_le_bytes(keep)),
            W::V128And,
            W::LocalSet(dst.0),
        ]);
    }
    let mut zero = vec![mask.0];
    if c.callees.wide {
        zero.push(mask.1);
        if gathered <= 16 {
            zero.push(dst.1);
        }
    }
    for local in zero {
        c.emit_all([W::V128Const(0), W::LocalSet(local)]);
    }
    Ok(())
}
