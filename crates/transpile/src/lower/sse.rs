//! XMM registers: moves and the packed-integer SSE2 set LLVM emits for
//! integer loops, mapped to wasm SIMD128 where the semantics agree and
//! emulated where they do not (shift counts past the lane width, `psadbw`,
//! `pmuludq`, the high-half multiplies). Floating-point arithmetic is not here
//! yet; it is an unsupported-instruction error until then.

use iced_x86::{Mnemonic, OpKind};
use wasm_encoder::Instruction as W;

use super::{mem, Ctx, Reg};
use crate::error::TranspileError;

type R = Result<(), TranspileError>;

/// Lowers `ctx.ins` if it is an SSE instruction we implement; false if not.
pub(super) fn lower(c: &mut Ctx) -> Result<bool, TranspileError> {
    use Mnemonic as M;
    if !(0..c.ins.op_count())
        .any(|i| {
            c.ins.op_kind(i) == OpKind::Register
                && (c.ins.op_register(i).is_xmm() || c.ins.op_register(i).is_ymm())
        })
    {
        return Ok(false);
    }
    if c.locals.tv(0) == u32::MAX {
        return Err(c.unsupported()); // the ABI pass saw no XMM use: cannot happen
    }
    if (0..c.ins.op_count()).any(|i| c.scalar_local(i).is_some()) {
        // registers that hold one float: moves and masks on lane 0 only
        return super::float::scalar_move_or_mask(c);
    }
    match c.ins.mnemonic() {
        M::Movdqa | M::Movdqu | M::Movaps | M::Movups | M::Movapd | M::Movupd | M::Lddqu => {
            let v = read_x(c, 1)?;
            write_x(c, 0, v)?;
        }
        M::Movd | M::Movq => movd_q(c)?,
        M::Movss | M::Movsd => mov_scalar(c)?,
        M::Movlps | M::Movlpd | M::Movhps | M::Movhpd => halves(c)?,
        M::Pxor | M::Xorps | M::Xorpd => binop(c, &[W::V128Xor])?,
        M::Por | M::Orps | M::Orpd => binop(c, &[W::V128Or])?,
        M::Pand | M::Andps | M::Andpd => binop(c, &[W::V128And])?,
        M::Pandn | M::Andnps | M::Andnpd => swapped_binop(c, &[W::V128AndNot])?,
        M::Paddb => binop(c, &[W::I8x16Add])?,
        M::Paddw => binop(c, &[W::I16x8Add])?,
        M::Paddd => binop(c, &[W::I32x4Add])?,
        M::Paddq => binop(c, &[W::I64x2Add])?,
        M::Psubb => binop(c, &[W::I8x16Sub])?,
        M::Psubw => binop(c, &[W::I16x8Sub])?,
        M::Psubd => binop(c, &[W::I32x4Sub])?,
        M::Psubq => binop(c, &[W::I64x2Sub])?,
        M::Paddsb => binop(c, &[W::I8x16AddSatS])?,
        M::Paddsw => binop(c, &[W::I16x8AddSatS])?,
        M::Paddusb => binop(c, &[W::I8x16AddSatU])?,
        M::Paddusw => binop(c, &[W::I16x8AddSatU])?,
        M::Psubsb => binop(c, &[W::I8x16SubSatS])?,
        M::Psubsw => binop(c, &[W::I16x8SubSatS])?,
        M::Psubusb => binop(c, &[W::I8x16SubSatU])?,
        M::Psubusw => binop(c, &[W::I16x8SubSatU])?,
        M::Pcmpeqb => binop(c, &[W::I8x16Eq])?,
        M::Pcmpeqw => binop(c, &[W::I16x8Eq])?,
        M::Pcmpeqd => binop(c, &[W::I32x4Eq])?,
        M::Pcmpgtb => binop(c, &[W::I8x16GtS])?,
        M::Pcmpgtw => binop(c, &[W::I16x8GtS])?,
        M::Pcmpgtd => binop(c, &[W::I32x4GtS])?,
        M::Pminub => binop(c, &[W::I8x16MinU])?,
        M::Pmaxub => binop(c, &[W::I8x16MaxU])?,
        M::Pminsw => binop(c, &[W::I16x8MinS])?,
        M::Pmaxsw => binop(c, &[W::I16x8MaxS])?,
        M::Pavgb => binop(c, &[W::I8x16AvgrU])?,
        M::Pavgw => binop(c, &[W::I16x8AvgrU])?,
        M::Pmullw => binop(c, &[W::I16x8Mul])?,
        M::Pmaddwd => binop(c, &[W::I32x4DotI16x8S])?,
        M::Packsswb => binop(c, &[W::I8x16NarrowI16x8S])?,
        M::Packssdw => binop(c, &[W::I16x8NarrowI32x4S])?,
        M::Packuswb => binop(c, &[W::I8x16NarrowI16x8U])?,
        M::Pmulhw | M::Pmulhuw => multiply_high(c)?,
        M::Pmuludq => pmuludq(c)?,
        M::Psadbw => psadbw(c)?,
        M::Punpcklbw => interleave(c, 1, false)?,
        M::Punpcklwd => interleave(c, 2, false)?,
        M::Punpckldq | M::Unpcklps => interleave(c, 4, false)?,
        M::Punpcklqdq | M::Unpcklpd | M::Movlhps => interleave(c, 8, false)?,
        M::Punpckhbw => interleave(c, 1, true)?,
        M::Punpckhwd => interleave(c, 2, true)?,
        M::Punpckhdq | M::Unpckhps => interleave(c, 4, true)?,
        M::Punpckhqdq | M::Unpckhpd => interleave(c, 8, true)?,
        M::Movhlps => {
            // dst.low = src.high
            let d = read_x(c, 0)?;
            let s = read_x(c, 1)?;
            c.emit_all([
                W::LocalGet(d),
                W::LocalGet(s),
                W::I8x16Shuffle(lanes(&[
                    24, 25, 26, 27, 28, 29, 30, 31, 8, 9, 10, 11, 12, 13, 14, 15,
                ])),
            ]);
            set_x(c, 0)?;
        }
        M::Pshufd => {
            let imm = c.ins.immediate(2) as usize;
            let words: Vec<usize> = (0..4).map(|i| (imm >> (2 * i)) & 3).collect();
            dword_shuffle(c, &words, false)?;
        }
        M::Shufps => {
            let imm = c.ins.immediate(2) as usize;
            let words: Vec<usize> = (0..4)
                .map(|i| ((imm >> (2 * i)) & 3) + if i >= 2 { 4 } else { 0 })
                .collect();
            dword_shuffle(c, &words, true)?;
        }
        M::Shufpd => {
            let imm = c.ins.immediate(2) as usize;
            let words = [
                2 * (imm & 1),
                2 * (imm & 1) + 1,
                4 + 2 * ((imm >> 1) & 1),
                5 + 2 * ((imm >> 1) & 1),
            ];
            dword_shuffle(c, &words, true)?;
        }
        M::Pshuflw | M::Pshufhw => {
            let imm = c.ins.immediate(2) as usize;
            let high = c.ins.mnemonic() == M::Pshufhw;
            let mut words: Vec<usize> = (0..8).collect();
            for i in 0..4 {
                let from = (imm >> (2 * i)) & 3;
                if high {
                    words[4 + i] = 4 + from;
                } else {
                    words[i] = from;
                }
            }
            let s = read_x(c, 1)?;
            let bytes: Vec<u8> = words
                .iter()
                .flat_map(|&w| [2 * w as u8, 2 * w as u8 + 1])
                .collect();
            c.emit_all([
                W::LocalGet(s),
                W::LocalGet(s),
                W::I8x16Shuffle(lanes(&bytes)),
            ]);
            set_x(c, 0)?;
        }
        M::Pslldq | M::Psrldq => byte_shift(c)?,
        M::Psllw | M::Pslld | M::Psllq | M::Psrlw | M::Psrld | M::Psrlq | M::Psraw | M::Psrad => {
            shift(c)?
        }
        M::Pmovmskb | M::Movmskps | M::Movmskpd => {
            let s = read_x(c, 1)?;
            let op = match c.ins.mnemonic() {
                M::Pmovmskb => W::I8x16Bitmask,
                M::Movmskps => W::I32x4Bitmask,
                _ => W::I64x2Bitmask,
            };
            let dst = c.ins.op0_register();
            c.write_reg(dst, 32, |c| {
                c.emit_all([W::LocalGet(s), op, W::I64ExtendI32U]);
                Ok(())
            })?;
        }
        M::Pextrw => {
            let s = read_x(c, 1)?;
            let lane = (c.ins.immediate(2) & 7) as u8;
            if c.ins.op0_kind() == OpKind::Memory {
                // the SSE4.1 form stores the word
                let offset = c.address()?;
                c.emit_all([
                    W::LocalGet(s),
                    W::I16x8ExtractLaneU(lane),
                    W::I32Store16(mem(offset)),
                ]);
            } else {
                let dst = c.ins.op0_register();
                let bits = dst.size() as u32 * 8;
                c.write_reg(dst, bits, |c| {
                    c.emit_all([W::LocalGet(s), W::I16x8ExtractLaneU(lane), W::I64ExtendI32U]);
                    Ok(())
                })?;
            }
        }
        M::Pinsrw => {
            let d = read_x(c, 0)?;
            let lane = (c.ins.immediate(2) & 7) as u8;
            c.emit(W::LocalGet(d));
            c.read_sized(1, 16)?;
            c.emit_all([W::I32WrapI64, W::I16x8ReplaceLane(lane)]);
            set_x(c, 0)?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn lanes(bytes: &[u8]) -> [u8; 16] {
    let mut l = [0u8; 16];
    l.copy_from_slice(bytes);
    l
}

/// The v128 local of register operand `op`: an XMM register's, or the
/// half of a YMM register's being lowered (`vex.rs`).
pub(super) fn xmm_local(c: &Ctx, op: u32) -> Option<u32> {
    if let (Some(saved), 1, None) = (c.vex_source, op, c.scalar_local(op)) {
        return Some(saved);
    }
    if c.ins.op_kind(op) != OpKind::Register {
        return None;
    }
    let register = c.ins.op_register(op);
    let n = register.number() as u8;
    if register.is_ymm() && c.high_half.is_some() {
        return Some(c.locals.reg(Reg::High(n)));
    }
    (register.is_xmm() || register.is_ymm()).then(|| c.locals.reg(Reg::Xmm(n)))
}

/// Operand `op` as a v128 in a local (the register's own, or a scratch local
/// loaded from memory). Returns the local.
pub(super) fn read_x(c: &mut Ctx, op: u32) -> Result<u32, TranspileError> {
    if let Some(l) = xmm_local(c, op) {
        return Ok(l);
    }
    if c.ins.op_kind(op) != OpKind::Memory {
        return Err(c.unsupported());
    }
    let t = if op == 0 {
        c.locals.tv(0)
    } else {
        c.locals.tv(1)
    };
    let offset = c.address()?;
    let m = mem(offset);
    c.emit(match c.ins.memory_size().size() {
        16 => W::V128Load(m),
        8 => W::V128Load64Zero(m),
        4 => W::V128Load32Zero(m),
        _ => return Err(c.unsupported()),
    });
    c.emit(W::LocalSet(t));
    Ok(t)
}

/// Writes the v128 in local `v` to operand `op`.
fn write_x(c: &mut Ctx, op: u32, v: u32) -> R {
    if let Some(l) = xmm_local(c, op) {
        if l != v {
            c.emit_all([W::LocalGet(v), W::LocalSet(l)]);
        }
        return Ok(());
    }
    let offset = c.address()?;
    c.emit(W::LocalGet(v));
    let m = mem(offset);
    c.emit(match c.ins.memory_size().size() {
        16 => W::V128Store(m),
        8 => W::V128Store64Lane { memarg: m, lane: 0 },
        4 => W::V128Store32Lane { memarg: m, lane: 0 },
        _ => return Err(c.unsupported()),
    });
    Ok(())
}

/// Pops a v128 into XMM operand `op` (a register).
pub(super) fn set_x(c: &mut Ctx, op: u32) -> R {
    let l = xmm_local(c, op).ok_or_else(|| c.unsupported())?;
    c.emit(W::LocalSet(l));
    Ok(())
}

/// dst = op(dst, src).
fn binop(c: &mut Ctx, ops: &[W<'static>]) -> R {
    let d = read_x(c, 0)?;
    let s = read_x(c, 1)?;
    c.emit_all([W::LocalGet(d), W::LocalGet(s)]);
    for op in ops {
        c.emit(op.clone());
    }
    set_x(c, 0)
}

/// dst = op(src, dst) (`pandn`: !dst & src = andnot(src, dst)).
fn swapped_binop(c: &mut Ctx, ops: &[W<'static>]) -> R {
    let d = read_x(c, 0)?;
    let s = read_x(c, 1)?;
    c.emit_all([W::LocalGet(s), W::LocalGet(d)]);
    for op in ops {
        c.emit(op.clone());
    }
    set_x(c, 0)
}

/// `movd`/`movq` between general registers, memory and XMM.
fn movd_q(c: &mut Ctx) -> R {
    let bits = if c.ins.mnemonic() == Mnemonic::Movd {
        32
    } else {
        64
    };
    if let Some(d) = xmm_local(c, 0) {
        // into XMM: the rest is zeroed
        if let Some(s) = xmm_local(c, 1) {
            c.emit_all([
                W::LocalGet(s),
                W::V128Const(0),
                W::I8x16Shuffle(lanes(&[
                    0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23,
                ])),
            ]);
        } else {
            c.emit(W::V128Const(0));
            c.read_sized(1, bits)?;
            c.emit(W::I64x2ReplaceLane(0));
        }
        c.emit(W::LocalSet(d));
        return Ok(());
    }
    let s = xmm_local(c, 1).ok_or_else(|| c.unsupported())?;
    c.write(0, |c| {
        c.emit_all([W::LocalGet(s), W::I64x2ExtractLane(0)]);
        Ok(())
    })
}

/// `movss`/`movsd` (the SSE moves, not the string op): loads zero the upper
/// lanes, register moves replace only the low lane, stores write the low lane.
fn mov_scalar(c: &mut Ctx) -> R {
    let size = if c.ins.mnemonic() == Mnemonic::Movss {
        4
    } else {
        8
    };
    match (xmm_local(c, 0), xmm_local(c, 1)) {
        (Some(d), Some(s)) => {
            let keep: Vec<u8> = (0..16).map(|i| if i < size { 16 + i } else { i }).collect();
            c.emit_all([
                W::LocalGet(d),
                W::LocalGet(s),
                W::I8x16Shuffle(lanes(&keep)),
                W::LocalSet(d),
            ]);
            Ok(())
        }
        (Some(_), None) => {
            let v = read_x(c, 1)?;
            write_x(c, 0, v)
        }
        (None, Some(s)) => write_x(c, 0, s),
        _ => Err(c.unsupported()),
    }
}

/// `movlps`/`movhps`/`movlpd`/`movhpd`: one 64-bit half to or from memory.
fn halves(c: &mut Ctx) -> R {
    let high = matches!(c.ins.mnemonic(), Mnemonic::Movhps | Mnemonic::Movhpd);
    let lane = high as u8;
    if let Some(d) = xmm_local(c, 0) {
        let offset = c.address()?;
        c.emit(W::LocalGet(d));
        c.emit(W::V128Load64Lane {
            memarg: mem(offset),
            lane,
        });
        c.emit(W::LocalSet(d));
    } else {
        let s = xmm_local(c, 1).ok_or_else(|| c.unsupported())?;
        let offset = c.address()?;
        c.emit(W::LocalGet(s));
        c.emit(W::V128Store64Lane {
            memarg: mem(offset),
            lane,
        });
    }
    Ok(())
}

/// `punpckl*`/`punpckh*`/`unpck*`: interleave elements of `width` bytes from
/// the low or high halves of dst and src.
fn interleave(c: &mut Ctx, width: u8, high: bool) -> R {
    let d = read_x(c, 0)?;
    let s = read_x(c, 1)?;
    let base = if high { 8 } else { 0 };
    let mut bytes = Vec::with_capacity(16);
    for k in 0..(8 / width) {
        for b in 0..width {
            bytes.push(base + k * width + b);
        }
        for b in 0..width {
            bytes.push(16 + base + k * width + b);
        }
    }
    c.emit_all([
        W::LocalGet(d),
        W::LocalGet(s),
        W::I8x16Shuffle(lanes(&bytes)),
    ]);
    set_x(c, 0)
}

/// A dword shuffle: `words[i]` picks dword i from dst (0-3) or src (4-7);
/// `two` reads both operands, else only the source.
fn dword_shuffle(c: &mut Ctx, words: &[usize], two: bool) -> R {
    let (a, b) = if two {
        let d = read_x(c, 0)?;
        (d, read_x(c, 1)?)
    } else {
        let s = read_x(c, 1)?;
        (s, s)
    };
    let bytes: Vec<u8> = words
        .iter()
        .flat_map(|&w| (0..4).map(move |k| (4 * w + k) as u8))
        .collect();
    c.emit_all([
        W::LocalGet(a),
        W::LocalGet(b),
        W::I8x16Shuffle(lanes(&bytes)),
    ]);
    set_x(c, 0)
}

/// `pslldq`/`psrldq`: whole-register byte shifts, zero filled.
fn byte_shift(c: &mut Ctx) -> R {
    let n = c.ins.immediate(1).min(16) as u8;
    let d = read_x(c, 0)?;
    let left = c.ins.mnemonic() == Mnemonic::Pslldq;
    // shuffle over (d, zero): byte i takes d[i -/+ n] or a zero byte (16)
    let bytes: Vec<u8> = (0..16u8)
        .map(|i| {
            if left {
                if i >= n {
                    i - n
                } else {
                    16
                }
            } else if i + n < 16 {
                i + n
            } else {
                16
            }
        })
        .collect();
    c.emit_all([
        W::LocalGet(d),
        W::V128Const(0),
        W::I8x16Shuffle(lanes(&bytes)),
    ]);
    set_x(c, 0)
}

/// Packed shifts: x86 zeroes (or sign-fills) for counts past the lane width,
/// where wasm would take the count modulo the width.
fn shift(c: &mut Ctx) -> R {
    use Mnemonic as M;
    let m = c.ins.mnemonic();
    let (width, op) = match m {
        M::Psllw => (16, W::I16x8Shl),
        M::Pslld => (32, W::I32x4Shl),
        M::Psllq => (64, W::I64x2Shl),
        M::Psrlw => (16, W::I16x8ShrU),
        M::Psrld => (32, W::I32x4ShrU),
        M::Psrlq => (64, W::I64x2ShrU),
        M::Psraw => (16, W::I16x8ShrS),
        _ => (32, W::I32x4ShrS),
    };
    let arithmetic = matches!(m, M::Psraw | M::Psrad);
    let d = read_x(c, 0)?;
    let n = c.locals.t(0);
    if c.ins.op1_kind() == OpKind::Immediate8 {
        c.emit_all([W::I64Const(c.ins.immediate(1) as i64), W::LocalSet(n)]);
    } else {
        let s = read_x(c, 1)?;
        c.emit_all([W::LocalGet(s), W::I64x2ExtractLane(0), W::LocalSet(n)]);
    }
    // count >= width: zero, or (arithmetic) a shift by width-1
    if arithmetic {
        c.emit_all([
            W::LocalGet(d),
            W::LocalGet(n),
            W::I64Const(width - 1),
            W::LocalGet(n),
            W::I64Const(width - 1),
            W::I64LtU,
            W::Select,
            W::I32WrapI64,
            op,
        ]);
    } else {
        c.emit_all([
            W::LocalGet(d),
            W::LocalGet(n),
            W::I32WrapI64,
            op,
            W::V128Const(0),
            W::LocalGet(n),
            W::I64Const(width),
            W::I64LtU,
            W::TypedSelect(wasm_encoder::ValType::V128),
        ]);
    }
    set_x(c, 0)
}

/// `pmulhw`/`pmulhuw`: the high 16 bits of each 16x16 product.
fn multiply_high(c: &mut Ctx) -> R {
    let signed = c.ins.mnemonic() == Mnemonic::Pmulhw;
    let d = read_x(c, 0)?;
    let s = read_x(c, 1)?;
    let (lo, hi) = (c.locals.tv(2), c.locals.tv(3));
    let (ml, mh) = if signed {
        (W::I32x4ExtMulLowI16x8S, W::I32x4ExtMulHighI16x8S)
    } else {
        (W::I32x4ExtMulLowI16x8U, W::I32x4ExtMulHighI16x8U)
    };
    c.emit_all([
        W::LocalGet(d),
        W::LocalGet(s),
        ml,
        W::LocalSet(lo),
        W::LocalGet(d),
        W::LocalGet(s),
        mh,
        W::LocalSet(hi),
    ]);
    // the upper halves of the 8 dwords, in order
    c.emit_all([
        W::LocalGet(lo),
        W::LocalGet(hi),
        W::I8x16Shuffle(lanes(&[
            2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31,
        ])),
    ]);
    set_x(c, 0)
}

/// `pmuludq`: dwords 0 and 2 multiplied into two u64.
fn pmuludq(c: &mut Ctx) -> R {
    let d = read_x(c, 0)?;
    let s = read_x(c, 1)?;
    let pick = W::I8x16Shuffle(lanes(&[0, 1, 2, 3, 8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11]));
    c.emit_all([
        W::LocalGet(d),
        W::LocalGet(d),
        pick.clone(),
        W::LocalGet(s),
        W::LocalGet(s),
        pick,
        W::I64x2ExtMulLowI32x4U,
    ]);
    set_x(c, 0)
}

/// `psadbw`: sums of absolute byte differences per 8-byte half, in the low
/// 16 bits of each quadword.
fn psadbw(c: &mut Ctx) -> R {
    let d = read_x(c, 0)?;
    let s = read_x(c, 1)?;
    let t = c.locals.tv(2);
    c.emit_all([
        W::LocalGet(d),
        W::LocalGet(s),
        W::I8x16MaxU,
        W::LocalGet(d),
        W::LocalGet(s),
        W::I8x16MinU,
        W::I8x16Sub,
        W::I16x8ExtAddPairwiseI8x16U,
        W::I32x4ExtAddPairwiseI16x8U,
        W::LocalTee(t),
        W::V128Const(0x0000_0000_ffff_ffff_0000_0000_ffff_ffff),
        W::V128And,
        W::LocalGet(t),
        W::I32Const(32),
        W::I64x2ShrU,
        W::I64x2Add,
    ]);
    set_x(c, 0)
}
