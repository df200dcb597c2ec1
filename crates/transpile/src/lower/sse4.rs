//! SSE3, SSSE3 and SSE4.1/4.2's integer, shuffle, blend and insert/extract
//! instructions (x86-64-v2, and with VEX `x86-64-v3`): `pshufb`, `palignr`,
//! `pabs*`, `pmin*`/`pmax*`, `pmulld`, `pmuldq`, `pcmpeqq`, `pcmpgtq`,
//! `packusdw`, `pmovsx*`/`pmovzx*`, the blends, `ptest`, `pinsr*`/`pextr*`,
//! `extractps`, `insertps`, `phminposuw`, `mpsadbw`, `movddup`,
//! `movshdup`, `movsldup`, and SSE4.2's string compares (`pcmpistri` &
//! co.). The float horizontals (`haddps` & co.) are in
//! `float.rs`, for x86's NaN rules. The rounding of floats
//! (`roundsd` & co.) is in `float.rs`.

use iced_x86::{Mnemonic, OpKind};
use wasm_encoder::Instruction as W;

use super::flags::{CF, OF, PF, SF, ZF};
use super::Reg;
use crate::layout::mem;
use super::sse::{read_x, set_x};
use super::Ctx;
use crate::error::TranspileError;

type R = Result<(), TranspileError>;

/// Lowers `c.ins` if it is one of this file's; false if not.
pub(super) fn lower(c: &mut Ctx) -> Result<bool, TranspileError> {
    use Mnemonic as M;
    match c.ins.mnemonic() {
        M::Pshufb => {
            // an index with bit 7 set gives 0, as swizzle's out-of-range ones
            binop_with(c, |c, d, s| {
                c.emit_all([
                    W::LocalGet(d),
                    W::LocalGet(s),
                    W::V128Const(0x8f8f_8f8f_8f8f_8f8f_8f8f_8f8f_8f8f_8f8fu128 as i128),
                    W::V128And,
                    W::I8x16Swizzle,
                ]);
            })?
        }
        M::Pabsb => unary(c, &[W::I8x16Abs])?,
        M::Pabsw => unary(c, &[W::I16x8Abs])?,
        M::Pabsd => unary(c, &[W::I32x4Abs])?,
        M::Pminsb => binop(c, W::I8x16MinS)?,
        M::Pmaxsb => binop(c, W::I8x16MaxS)?,
        M::Pminuw => binop(c, W::I16x8MinU)?,
        M::Pmaxuw => binop(c, W::I16x8MaxU)?,
        M::Pminsd => binop(c, W::I32x4MinS)?,
        M::Pmaxsd => binop(c, W::I32x4MaxS)?,
        M::Pminud => binop(c, W::I32x4MinU)?,
        M::Pmaxud => binop(c, W::I32x4MaxU)?,
        M::Pmulld => binop(c, W::I32x4Mul)?,
        M::Pcmpeqq => binop(c, W::I64x2Eq)?,
        M::Pcmpgtq => binop(c, W::I64x2GtS)?,
        M::Packusdw => binop(c, W::I16x8NarrowI32x4U)?,
        M::Pmuldq => {
            // the even dwords, sign-extended, multiplied to quadwords
            let even = lanes(|i| [0, 1, 2, 3, 8, 9, 10, 11][i % 8]);
            binop_with(c, |c, d, s| {
                c.emit_all([
                    W::LocalGet(d),
                    W::LocalGet(d),
                    W::I8x16Shuffle(even),
                    W::LocalGet(s),
                    W::LocalGet(s),
                    W::I8x16Shuffle(even),
                    W::I64x2ExtMulLowI32x4S,
                ]);
            })?
        }
        M::Palignr => palignr(c)?,
        M::Pmaddubsw => pmaddubsw(c)?,
        M::Pmulhrsw => pmulhrsw(c)?,
        M::Psignb => sign(c, W::I8x16Neg, W::I8x16LtS, W::I8x16Eq, W::I8x16Splat)?,
        M::Psignw => sign(c, W::I16x8Neg, W::I16x8LtS, W::I16x8Eq, W::I16x8Splat)?,
        M::Psignd => sign(c, W::I32x4Neg, W::I32x4LtS, W::I32x4Eq, W::I32x4Splat)?,
        M::Phaddw => horizontal(c, 2, W::I16x8Add)?,
        M::Phaddd => horizontal(c, 4, W::I32x4Add)?,
        M::Phaddsw => horizontal(c, 2, W::I16x8AddSatS)?,
        M::Phsubw => horizontal(c, 2, W::I16x8Sub)?,
        M::Phsubd => horizontal(c, 4, W::I32x4Sub)?,
        M::Phsubsw => horizontal(c, 2, W::I16x8SubSatS)?,
        M::Pmovsxbw => unary(c, &[W::I16x8ExtendLowI8x16S])?,
        M::Pmovsxbd => unary(c, &[W::I16x8ExtendLowI8x16S, W::I32x4ExtendLowI16x8S])?,
        M::Pmovsxbq => unary(
            c,
            &[
                W::I16x8ExtendLowI8x16S,
                W::I32x4ExtendLowI16x8S,
                W::I64x2ExtendLowI32x4S,
            ],
        )?,
        M::Pmovsxwd => unary(c, &[W::I32x4ExtendLowI16x8S])?,
        M::Pmovsxwq => unary(c, &[W::I32x4ExtendLowI16x8S, W::I64x2ExtendLowI32x4S])?,
        M::Pmovsxdq => unary(c, &[W::I64x2ExtendLowI32x4S])?,
        M::Pmovzxbw => unary(c, &[W::I16x8ExtendLowI8x16U])?,
        M::Pmovzxbd => unary(c, &[W::I16x8ExtendLowI8x16U, W::I32x4ExtendLowI16x8U])?,
        M::Pmovzxbq => unary(
            c,
            &[
                W::I16x8ExtendLowI8x16U,
                W::I32x4ExtendLowI16x8U,
                W::I64x2ExtendLowI32x4U,
            ],
        )?,
        M::Pmovzxwd => unary(c, &[W::I32x4ExtendLowI16x8U])?,
        M::Pmovzxwq => unary(c, &[W::I32x4ExtendLowI16x8U, W::I64x2ExtendLowI32x4U])?,
        M::Pmovzxdq => unary(c, &[W::I64x2ExtendLowI32x4U])?,
        M::Pblendvb => blend_variable(c, W::I8x16ShrS, 7)?,
        M::Blendvps => blend_variable(c, W::I32x4ShrS, 31)?,
        M::Blendvpd => blend_variable(c, W::I64x2ShrS, 63)?,
        M::Pblendw => blend(c, 2, 8)?,
        M::Blendps => blend(c, 4, 4)?,
        M::Blendpd => blend(c, 8, 2)?,
        M::Ptest => ptest(c)?,
        M::Pinsrb => insert(c, 16)?,
        M::Pinsrd => insert(c, 4)?,
        M::Pinsrq => insert(c, 2)?,
        M::Pextrb => extract(c, 16)?,
        M::Pextrd | M::Extractps => extract(c, 4)?,
        M::Pextrq => extract(c, 2)?,
        M::Pcmpestri | M::Pcmpestri64 => string_compare(c, true, false)?,
        M::Pcmpestrm | M::Pcmpestrm64 => string_compare(c, true, true)?,
        M::Pcmpistri => string_compare(c, false, false)?,
        M::Pcmpistrm => string_compare(c, false, true)?,
        M::Insertps => insertps(c)?,
        M::Phminposuw => phminposuw(c)?,
        M::Mpsadbw => mpsadbw(c)?,
        M::Movddup => unary(c, &[W::I64x2ExtractLane(0), W::I64x2Splat])?,
        M::Movshdup => dwords(c, [1, 1, 3, 3])?,
        M::Movsldup => dwords(c, [0, 0, 2, 2])?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// The 16 lane indices of an `i8x16.shuffle`, byte by byte.
fn lanes(byte: impl Fn(usize) -> u8) -> [u8; 16] {
    std::array::from_fn(byte)
}

/// dst = `op(dst, src)`.
fn binop(c: &mut Ctx, op: W<'static>) -> R {
    binop_with(c, |c, d, s| c.emit_all([W::LocalGet(d), W::LocalGet(s), op]))
}

/// dst = what `code` pushes from the locals of dst and src.
fn binop_with(c: &mut Ctx, code: impl FnOnce(&mut Ctx, u32, u32)) -> R {
    let d = read_x(c, 0)?;
    let s = read_x(c, 1)?;
    code(c, d, s);
    set_x(c, 0)
}

/// dst = `ops` applied to src.
fn unary(c: &mut Ctx, ops: &[W<'static>]) -> R {
    let s = source(c)?;
    c.emit(W::LocalGet(s));
    for op in ops {
        c.emit(op.clone());
    }
    set_x(c, 0)
}

/// The source (operand 1) as a v128 local: its register, or the bytes the
/// instruction reads from memory (2 for `pmovsxbq`: no other SSE operand
/// is that small).
fn source(c: &mut Ctx) -> Result<u32, TranspileError> {
    if c.ins.op1_kind() == OpKind::Memory && c.ins.memory_size().size() == 2 {
        let t = c.locals.tv(1);
        let offset = c.address()?;
        c.emit_all([W::V128Load16Splat(mem(offset)), W::LocalSet(t)]);
        return Ok(t);
    }
    read_x(c, 1)
}

/// `movshdup`/`movsldup`: dwords of the source.
fn dwords(c: &mut Ctx, pick: [u8; 4]) -> R {
    let s = source(c)?;
    c.emit_all([
        W::LocalGet(s),
        W::LocalGet(s),
        W::I8x16Shuffle(lanes(|i| 4 * pick[i / 4] + i as u8 % 4)),
    ]);
    set_x(c, 0)
}

/// `palignr dst, src, n`: bytes n..n+16 of src:dst (src the low 16), zero
/// past them.
fn palignr(c: &mut Ctx) -> R {
    let n = c.ins.immediate(2).min(32) as usize;
    binop_with(c, |c, d, s| {
        // over (src, dst) indices 0-31 are bytes of src:dst; over (dst,
        // zero) 16-31 are zeros
        let (a, b, first) = if n < 16 { (s, d, n) } else { (d, u32::MAX, n - 16) };
        c.emit(W::LocalGet(a));
        if b == u32::MAX {
            c.emit(W::V128Const(0));
        } else {
            c.emit(W::LocalGet(b));
        }
        c.emit(W::I8x16Shuffle(lanes(|i| (first + i).min(31) as u8)));
    })
}

/// `pblendvb`/`blendvps`/`blendvpd dst, src, <xmm0>`: each element from src
/// where xmm0's element has its sign bit set.
fn blend_variable(c: &mut Ctx, sign: W<'static>, bits: i32) -> R {
    let mask = c.locals.reg(super::Reg::Xmm(0));
    binop_with(c, |c, d, s| {
        c.emit_all([
            W::LocalGet(s),
            W::LocalGet(d),
            W::LocalGet(mask),
            W::I32Const(bits),
            sign,
            W::V128Bitselect,
        ]);
    })
}

/// `pblendw`/`blendps`/`blendpd dst, src, imm`: element i (of `bytes`
/// bytes, `count` of them) from src where bit i of imm is set.
fn blend(c: &mut Ctx, bytes: usize, count: usize) -> R {
    let imm = c.ins.immediate(2) as usize;
    binop_with(c, |c, d, s| {
        let pick = lanes(|i| {
            let element = i / bytes % count;
            i as u8 + if imm >> element & 1 == 1 { 16 } else { 0 }
        });
        c.emit_all([W::LocalGet(d), W::LocalGet(s), W::I8x16Shuffle(pick)]);
    })
}

/// `ptest a, b`: ZF when `a & b` is zero, CF when `!a & b` is; the other
/// flags cleared.
fn ptest(c: &mut Ctx) -> R {
    let a = read_x(c, 0)?;
    let b = read_x(c, 1)?;
    c.flags_begin(c.ins.rflags_modified());
    if c.flags_needed(ZF) {
        c.emit_all([
            W::LocalGet(a),
            W::LocalGet(b),
            W::V128And,
            W::V128AnyTrue,
            W::I32Eqz,
        ]);
        c.set_flag(ZF);
    }
    if c.flags_needed(CF) {
        c.emit_all([
            W::LocalGet(b),
            W::LocalGet(a),
            W::V128AndNot,
            W::V128AnyTrue,
            W::I32Eqz,
        ]);
        c.set_flag(CF);
    }
    for flag in [PF, SF, OF] {
        if c.flags_needed(flag) {
            c.emit(W::I32Const(0));
            c.set_flag(flag);
        }
    }
    Ok(())
}

/// `pinsrb`/`pinsrd`/`pinsrq dst, r/m, imm`: element `imm` (of `count`)
/// replaced.
fn insert(c: &mut Ctx, count: u64) -> R {
    let d = read_x(c, 0)?;
    let lane = (c.ins.immediate(2) % count) as u8;
    c.emit(W::LocalGet(d));
    match count {
        16 => {
            c.read_sized(1, 8)?;
            c.emit_all([W::I32WrapI64, W::I8x16ReplaceLane(lane)]);
        }
        4 => {
            c.read_sized(1, 32)?;
            c.emit_all([W::I32WrapI64, W::I32x4ReplaceLane(lane)]);
        }
        _ => {
            c.read_sized(1, 64)?;
            c.emit(W::I64x2ReplaceLane(lane));
        }
    }
    set_x(c, 0)
}

/// `pextrb`/`pextrd`/`pextrq`/`extractps r/m, src, imm`: element `imm` (of
/// `count`), zero-extended into a register or stored.
fn extract(c: &mut Ctx, count: u64) -> R {
    let s = read_x(c, 1)?;
    let lane = (c.ins.immediate(2) % count) as u8;
    let value = |c: &mut Ctx| {
        c.emit(W::LocalGet(s));
        match count {
            16 => c.emit_all([W::I8x16ExtractLaneU(lane), W::I64ExtendI32U]),
            4 => c.emit_all([W::I32x4ExtractLane(lane), W::I64ExtendI32U]),
            _ => c.emit(W::I64x2ExtractLane(lane)),
        }
    };
    if c.ins.op0_kind() == OpKind::Memory {
        let offset = c.address()?;
        value(c);
        c.emit(match count {
            16 => W::I64Store8(mem(offset)),
            4 => W::I64Store32(mem(offset)),
            _ => W::I64Store(mem(offset)),
        });
        return Ok(());
    }
    let register = c.ins.op0_register();
    c.write_reg(register, register.size() as u32 * 8, |c| {
        value(c);
        Ok(())
    })
}

/// `pmaddubsw dst, src`: word i = dst's bytes 2i and 2i+1 (unsigned) times
/// src's (signed), the two products added with signed saturation.
fn pmaddubsw(c: &mut Ctx) -> R {
    binop_with(c, |c, d, s| {
        // (each product fits in 16 bits: 255 * -128 and 255 * 127)
        c.emit_all([
            W::LocalGet(d),
            W::V128Const(0x00ff_00ff_00ff_00ff_00ff_00ff_00ff_00ff),
            W::V128And,
            W::LocalGet(s),
            W::I32Const(8),
            W::I16x8Shl,
            W::I32Const(8),
            W::I16x8ShrS,
            W::I16x8Mul,
            W::LocalGet(d),
            W::I32Const(8),
            W::I16x8ShrU,
            W::LocalGet(s),
            W::I32Const(8),
            W::I16x8ShrS,
            W::I16x8Mul,
            W::I16x8AddSatS,
        ]);
    })
}

/// `pmulhrsw dst, src`: `(a * b + 0x4000) >> 15` per word, which is
/// wasm's `q15mulr_sat_s` except where both are -32768: x86 wraps to
/// -32768, wasm saturates to 32767.
fn pmulhrsw(c: &mut Ctx) -> R {
    binop_with(c, |c, d, s| {
        let min = W::V128Const(0x8000_8000_8000_8000_8000_8000_8000_8000u128 as i128);
        c.emit_all([
            W::LocalGet(d),
            W::LocalGet(s),
            W::I16x8Q15MulrSatS,
            W::LocalGet(d),
            min.clone(),
            W::I16x8Eq,
            W::LocalGet(s),
            min,
            W::I16x8Eq,
            W::V128And,
            W::V128Xor,
        ]);
    })
}

/// `psignb`/`psignw`/`psignd dst, src`: each element of dst negated where
/// src's is negative, zeroed where it is zero.
fn sign(
    c: &mut Ctx,
    neg: W<'static>,
    less: W<'static>,
    equal: W<'static>,
    splat: W<'static>,
) -> R {
    binop_with(c, |c, d, s| {
        c.emit_all([
            W::LocalGet(d),
            neg,
            W::LocalGet(d),
            W::LocalGet(s),
            W::I32Const(0),
            splat.clone(),
            less,
            W::V128Bitselect,
            W::LocalGet(s),
            W::I32Const(0),
            splat,
            equal,
            W::V128AndNot,
        ]);
    })
}

/// `phaddw`/`phsubd` & co.: pairs of adjacent elements (of `bytes` each)
/// combined, dst's pairs in the low half and src's in the high.
fn horizontal(c: &mut Ctx, bytes: usize, op: W<'static>) -> R {
    // element i of the pairs' first (second) members: element 2i (2i+1)
    // of dst:src
    let member = |second: usize| {
        lanes(|i| {
            let element = 2 * (i / bytes) + second;
            (element * bytes + i % bytes) as u8
        })
    };
    binop_with(c, |c, d, s| {
        c.emit_all([
            W::LocalGet(d),
            W::LocalGet(s),
            W::I8x16Shuffle(member(0)),
            W::LocalGet(d),
            W::LocalGet(s),
            W::I8x16Shuffle(member(1)),
            op,
        ]);
    })
}

/// `insertps dst, src, imm`: dword `imm[7:6]` of src (from memory: the
/// dword read) into dword `imm[5:4]` of dst, then the dwords of `imm[3:0]`
/// zeroed. As integers: no float is rounded or quieted.
fn insertps(c: &mut Ctx) -> R {
    let imm = c.ins.immediate(2) as u8;
    let from = if c.ins.op1_kind() == OpKind::Memory { 0 } else { imm >> 6 };
    let d = read_x(c, 0)?;
    let s = read_x(c, 1)?;
    c.emit_all([
        W::LocalGet(d),
        W::LocalGet(s),
        W::I32x4ExtractLane(from),
        W::I32x4ReplaceLane(imm >> 4 & 3),
    ]);
    if imm & 0xf != 0 {
        let keep = lanes(|i| if imm >> (i / 4) & 1 == 1 { 0 } else { 0xff });
        c.emit_all([W::V128Const(i128::from_le_bytes(keep)), W::V128And]);
    }
    set_x(c, 0)
}

/// `phminposuw dst, src`: the least unsigned word of src in word 0, its
/// index (the first, on a tie) in bits 18:16, the rest zero.
fn phminposuw(c: &mut Ctx) -> R {
    let s = read_x(c, 1)?;
    let least = c.locals.tv(2);
    // halves, then dwords, then words against each other: every word is
    // then the least
    c.emit(W::LocalGet(s));
    for swap in [8u8, 4, 2] {
        c.emit_all([
            W::LocalTee(least),
            W::LocalGet(least),
            W::LocalGet(least),
            W::I8x16Shuffle(lanes(|i| i as u8 ^ swap)),
            W::I16x8MinU,
        ]);
    }
    c.emit_all([
        W::LocalSet(least),
        W::V128Const(0),
        W::LocalGet(least),
        W::I16x8ExtractLaneU(0),
        W::LocalGet(s),
        W::LocalGet(least),
        W::I16x8Eq,
        W::I16x8Bitmask,
        W::I32Ctz,
        W::I32Const(16),
        W::I32Shl,
        W::I32Or,
        W::I32x4ReplaceLane(0),
    ]);
    set_x(c, 0)
}

/// `mpsadbw dst, src, imm`: word i (0-7) = the sum over j (0-3) of
/// |dst byte `4*imm[2] + i + j` - src byte `4*imm[1:0] + j`| (unsigned).
fn mpsadbw(c: &mut Ctx) -> R {
    let imm = c.ins.immediate(2) as usize;
    let (first, second) = (4 * (imm >> 2 & 1), 4 * (imm & 3));
    binop_with(c, |c, d, s| {
        // (tv(1) may hold src, read from memory)
        let (a, b) = (c.locals.tv(2), c.locals.tv(3));
        for j in 0..4 {
            // bytes first+i+j of dst (i = 0-7), and src's byte second+j in each
            c.emit_all([
                W::LocalGet(d),
                W::LocalGet(d),
                W::I8x16Shuffle(lanes(|i| (first + i % 8 + j) as u8)),
                W::LocalSet(a),
                W::LocalGet(s),
                W::LocalGet(s),
                W::I8x16Shuffle(lanes(|_| (second + j) as u8)),
                W::LocalSet(b),
                W::LocalGet(a),
                W::LocalGet(b),
                W::I8x16MaxU,
                W::LocalGet(a),
                W::LocalGet(b),
                W::I8x16MinU,
                W::I8x16Sub,
                W::I16x8ExtendLowI8x16U,
            ]);
            if j > 0 {
                c.emit(W::I16x8Add);
            }
        }
    })
}

/// `pcmpestri`/`pcmpestrm` (`explicit`: the lengths in eax and edx, rax
/// and rdx for the 64-bit forms) and `pcmpistri`/`pcmpistrm` (each string
/// ends at its first zero element) `a, b, imm`, as the Intel SDM's section
/// 4.1 says: elements are bytes or words (`imm[0]`), signed or not
/// (`imm[1]`); `imm[3:2]` aggregates the comparisons of a's and b's
/// elements into a bit per element of b (equal any, ranges, equal each,
/// equal ordered, with the SDM's rules for elements past a string's end);
/// `imm[5:4]` negates it (all bits, or those of b's valid elements). The
/// `i` forms write ecx, the index of its lowest (`imm[6]`: highest) set bit
/// or the element count when none is; the `m` forms write xmm0, the bits
/// (`imm[6]`: each element all ones or zero). CF: some bit set; ZF: b
/// ends early; SF: a ends early; OF: bit 0; PF (and AF) cleared.
fn string_compare(c: &mut Ctx, explicit: bool, mask_out: bool) -> R {
    let imm = c.ins.immediate(2) as u32;
    let words = imm & 1 != 0;
    let signed = imm & 2 != 0;
    let (n, size) = if words { (8u32, 2usize) } else { (16, 1) };
    let full = (1i32 << n) - 1;
    let a = read_x(c, 0)?;
    let b = read_x(c, 1)?;
    let (la, lb, acc) = (c.locals.t32(0), c.locals.t32(1), c.locals.t32(2));
    let (eq, bitmask, ge, le) = match (words, signed) {
        (false, false) => (W::I8x16Eq, W::I8x16Bitmask, W::I8x16GeU, W::I8x16LeU),
        (false, true) => (W::I8x16Eq, W::I8x16Bitmask, W::I8x16GeS, W::I8x16LeS),
        (true, false) => (W::I16x8Eq, W::I16x8Bitmask, W::I16x8GeU, W::I16x8LeU),
        (true, true) => (W::I16x8Eq, W::I16x8Bitmask, W::I16x8GeS, W::I16x8LeS),
    };
    // the lengths: |eax| and |edx| at most n; or where the first zero is
    if explicit {
        // (a VEX form arrives here as its legacy form: vex.rs)
        let wide = matches!(c.ins.mnemonic(), Mnemonic::Pcmpestri64 | Mnemonic::Pcmpestrm64);
        let v = c.locals.t(0);
        for (local, register) in [(la, Reg::Gpr(0)), (lb, Reg::Gpr(2))] {
            c.emit(W::LocalGet(c.locals.reg(register)));
            if !wide {
                c.emit_all([W::I32WrapI64, W::I64ExtendI32S]);
            }
            // |v| (|MIN| stays MIN: as unsigned, past n)
            c.emit_all([
                W::LocalTee(v),
                W::I64Const(0),
                W::LocalGet(v),
                W::I64Sub,
                W::LocalGet(v),
                W::I64Const(0),
                W::I64GeS,
                W::Select,
                W::LocalTee(v),
                W::I64Const(n as i64),
                W::LocalGet(v),
                W::I64Const(n as i64),
                W::I64LtU,
                W::Select,
                W::I32WrapI64,
                W::LocalSet(local),
            ]);
        }
    } else {
        for (local, v) in [(la, a), (lb, b)] {
            c.emit_all([
                W::LocalGet(v),
                W::V128Const(0),
                eq.clone(),
                bitmask.clone(),
                W::I32Ctz,
                W::LocalTee(local),
                W::I32Const(n as i32),
                W::LocalGet(local),
                W::I32Const(n as i32),
                W::I32LtU,
                W::Select,
                W::LocalSet(local),
            ]);
        }
    }
    // the valid elements' bits: (1 << length) - 1
    let valid = |c: &mut Ctx, length: u32| {
        c.emit_all([W::I32Const(1), W::LocalGet(length), W::I32Shl, W::I32Const(1), W::I32Sub]);
    };
    // a's element i in every lane
    let splat = |i: usize| W::I8x16Shuffle(lanes(|k| (i * size + k % size) as u8));
    // the bits of b's elements equal to a's element i
    let equal_to = |c: &mut Ctx, i: usize| {
        c.emit_all([W::LocalGet(a), W::LocalGet(a), splat(i), W::LocalGet(b)]);
        c.emit_all([eq.clone(), bitmask.clone()]);
    };
    // pushes `bits` if `i < length`, else `otherwise`
    let when_valid = |c: &mut Ctx, i: u32, length: u32, otherwise: i32| {
        c.emit_all([
            W::I32Const(otherwise),
            W::I32Const(i as i32),
            W::LocalGet(length),
            W::I32LtU,
            W::Select,
        ]);
    };
    match imm >> 2 & 3 {
        0 => {
            // equal any: b's element j equals some valid element of a
            c.emit_all([W::I32Const(0), W::LocalSet(acc)]);
            for i in 0..n as usize {
                equal_to(c, i);
                when_valid(c, i as u32, la, 0);
                c.emit_all([W::LocalGet(acc), W::I32Or, W::LocalSet(acc)]);
            }
            c.emit(W::LocalGet(acc));
            valid(c, lb);
            c.emit_all([W::I32And, W::LocalSet(acc)]);
        }
        1 => {
            // ranges: b's element j within some valid pair (a[2k], a[2k+1])
            c.emit_all([W::I32Const(0), W::LocalSet(acc)]);
            for k in 0..n as usize / 2 {
                c.emit_all([
                    W::LocalGet(b),
                    W::LocalGet(a),
                    W::LocalGet(a),
                    splat(2 * k),
                    ge.clone(),
                    W::LocalGet(b),
                    W::LocalGet(a),
                    W::LocalGet(a),
                    splat(2 * k + 1),
                    le.clone(),
                    W::V128And,
                    bitmask.clone(),
                ]);
                when_valid(c, 2 * k as u32 + 1, la, 0);
                c.emit_all([W::LocalGet(acc), W::I32Or, W::LocalSet(acc)]);
            }
            c.emit(W::LocalGet(acc));
            valid(c, lb);
            c.emit_all([W::I32And, W::LocalSet(acc)]);
        }
        2 => {
            // equal each: a[j] == b[j] where both are valid, true where
            // neither is, false where one is
            c.emit_all([W::LocalGet(a), W::LocalGet(b), eq.clone(), bitmask.clone()]);
            valid(c, la);
            valid(c, lb);
            c.emit_all([W::I32And, W::I32And]);
            valid(c, la);
            valid(c, lb);
            c.emit_all([W::I32Or, W::I32Const(full), W::I32Xor, W::I32Or, W::LocalSet(acc)]);
        }
        _ => {
            // equal ordered: a (up to its end) found in b from element j
            // on: a[k] == b[j+k] for each valid k with j+k < n; a valid
            // a[k] against a b[j+k] past b's end is false
            c.emit_all([W::I32Const(full), W::LocalSet(acc)]);
            for k in 0..n as usize {
                let beyond = full & !((1i32 << (n as usize - k)) - 1);
                equal_to(c, k);
                valid(c, lb);
                c.emit_all([
                    W::I32And,
                    W::I32Const(k as i32),
                    W::I32ShrU,
                    W::I32Const(beyond),
                    W::I32Or,
                ]);
                when_valid(c, k as u32, la, full);
                c.emit_all([W::LocalGet(acc), W::I32And, W::LocalSet(acc)]);
            }
        }
    }
    // polarity
    match imm >> 4 & 3 {
        1 => c.emit_all([W::LocalGet(acc), W::I32Const(full), W::I32Xor, W::LocalSet(acc)]),
        3 => {
            c.emit(W::LocalGet(acc));
            valid(c, lb);
            c.emit_all([W::I32Xor, W::LocalSet(acc)]);
        }
        _ => {}
    }
    c.flags_begin(c.ins.rflags_modified());
    let flags: [(u32, &[W<'static>]); 5] = [
        (CF, &[W::LocalGet(acc), W::I32Const(0), W::I32Ne]),
        (ZF, &[W::LocalGet(lb), W::I32Const(n as i32), W::I32LtU]),
        (SF, &[W::LocalGet(la), W::I32Const(n as i32), W::I32LtU]),
        (OF, &[W::LocalGet(acc), W::I32Const(1), W::I32And]),
        (PF, &[W::I32Const(0)]),
    ];
    for (flag, code) in flags {
        if c.flags_needed(flag) {
            for w in code {
                c.emit(w.clone());
            }
            c.set_flag(flag);
        }
    }
    if !mask_out {
        // ecx: the lowest (highest) set bit's index, or n
        let most = imm & 0x40 != 0;
        return c.write_reg(iced_x86::Register::ECX, 32, |c| {
            if most {
                c.emit_all([W::I32Const(31), W::LocalGet(acc), W::I32Clz, W::I32Sub]);
            } else {
                c.emit_all([W::LocalGet(acc), W::I32Ctz]);
            }
            // (the index when acc is not zero)
            c.emit_all([
                W::I32Const(n as i32),
                W::LocalGet(acc),
                W::Select,
                W::I64ExtendI32U,
            ]);
            Ok(())
        });
    }
    let xmm0 = c.locals.reg(Reg::Xmm(0));
    if imm & 0x40 == 0 {
        c.emit_all([W::V128Const(0), W::LocalGet(acc), W::I32x4ReplaceLane(0), W::LocalSet(xmm0)]);
    } else {
        // each element all ones where its bit is set
        // element j's bit: words j in their low byte, bytes j % 8
        let bit: [u8; 16] = match words {
            true => lanes(|i| if i % 2 == 0 { 1 << (i / 2) } else { 0 }),
            false => lanes(|i| 1 << (i % 8)),
        };
        c.emit_all([W::LocalGet(acc), W::I16x8Splat]);
        if !words {
            // bits 0-7 in lanes 0-7, bits 8-15 in lanes 8-15
            c.emit_all([
                W::LocalTee(xmm0),
                W::LocalGet(xmm0),
                W::I8x16Shuffle(lanes(|i| (i / 8) as u8)),
            ]);
        }
        let compare = if words { W::I16x8Eq } else { W::I8x16Eq };
        c.emit_all([
            W::V128Const(i128::from_le_bytes(bit)),
            W::V128And,
            W::V128Const(i128::from_le_bytes(bit)),
            compare,
            W::LocalSet(xmm0),
        ]);
    }
    Ok(())
}
