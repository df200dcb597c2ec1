//! The integer instructions x86-64-v2 and v3 add beyond the baseline (and
//! beyond BMI, `bmi.rs`): `movbe` (v3), `crc32` and `cmpxchg16b` (v2).

use iced_x86::{Mnemonic, OpKind};
use wasm_encoder::{BlockType, Instruction as W};

use super::flags::ZF;
use crate::layout::mem;
use super::{Ctx, RAX, RDX};
use crate::error::TranspileError;

type R = Result<(), TranspileError>;

/// CRC-32C's polynomial, bit-reflected (Intel SDM, CRC32: "iSCSI").
const CRC32C: i64 = 0x82f6_3b78;

/// Lowers `c.ins` if it is one of this file's; false if not.
pub(super) fn lower(c: &mut Ctx) -> Result<bool, TranspileError> {
    match c.ins.mnemonic() {
        Mnemonic::Movbe => movbe(c)?,
        Mnemonic::Crc32 => crc32(c)?,
        Mnemonic::Cmpxchg16b => cmpxchg16b(c)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// `movbe dst, src`: a load or a store with the bytes of the value
/// reversed (16-bit forms too, unlike `bswap`); no flags.
fn movbe(c: &mut Ctx) -> R {
    let bits = c.op_bits(0);
    let v = c.locals.t(0);
    c.read(1)?;
    c.emit(W::LocalSet(v));
    c.write(0, |c| {
        let n = bits / 8;
        c.emit(W::I64Const(0));
        for i in 0..n {
            c.emit_all([
                W::LocalGet(v),
                W::I64Const(8 * i as i64),
                W::I64ShrU,
                W::I64Const(0xff),
                W::I64And,
                W::I64Const(8 * (n - 1 - i) as i64),
                W::I64Shl,
                W::I64Or,
            ]);
        }
        Ok(())
    })
}

/// `crc32 dst, src`: CRC-32C of src's bytes (low first), continued from
/// dst's low 32 bits, zero-extended into dst; no flags. Bit by bit, eight
/// steps per byte in a loop over the bytes.
fn crc32(c: &mut Ctx) -> R {
    let bytes = c.op_bits(1) / 8;
    let (crc, data, left) = (c.locals.t(0), c.locals.t(1), c.locals.t(2));
    c.read_sized(0, 32)?;
    c.emit(W::LocalSet(crc));
    c.read(1)?;
    c.emit_all([
        W::LocalSet(data),
        W::I64Const(bytes as i64),
        W::LocalSet(left),
        W::Loop(BlockType::Empty),
        // crc ^= the next byte
        W::LocalGet(crc),
        W::LocalGet(data),
        W::I64Const(0xff),
        W::I64And,
        W::I64Xor,
        W::LocalSet(crc),
        W::LocalGet(data),
        W::I64Const(8),
        W::I64ShrU,
        W::LocalSet(data),
    ]);
    for _ in 0..8 {
        // crc = crc >> 1 ^ (CRC32C if its low bit was set)
        c.emit_all([
            W::LocalGet(crc),
            W::I64Const(1),
            W::I64ShrU,
            W::I64Const(0),
            W::LocalGet(crc),
            W::I64Const(1),
            W::I64And,
            W::I64Sub,
            W::I64Const(CRC32C),
            W::I64And,
            W::I64Xor,
            W::LocalSet(crc),
        ]);
    }
    c.emit_all([
        W::LocalGet(left),
        W::I64Const(1),
        W::I64Sub,
        W::LocalTee(left),
        W::I64Const(0),
        W::I64Ne,
        W::BrIf(0),
        W::End,
    ]);
    let register = c.ins.op0_register();
    c.write_reg(register, register.size() as u32 * 8, |c| {
        c.emit(W::LocalGet(crc));
        Ok(())
    })
}

/// `cmpxchg16b m128`: when m128 equals rdx:rax, it becomes rcx:rbx and ZF
/// is set; otherwise rdx:rax becomes m128 and ZF is cleared. (One thread:
/// the `lock` needs nothing.)
fn cmpxchg16b(c: &mut Ctx) -> R {
    if c.ins.op0_kind() != OpKind::Memory {
        return Err(c.unsupported());
    }
    let (address, low, high, equal) = (c.locals.t32(0), c.locals.t(0), c.locals.t(1), c.locals.t32(1));
    let (rax, rdx) = (c.locals.gpr(RAX), c.locals.gpr(RDX));
    let (rbx, rcx) = (c.locals.gpr(3), c.locals.gpr(1));
    c.flags_begin(ZF);
    let offset = c.address()?;
    c.emit_all([
        W::LocalTee(address),
        W::I64Load(mem(offset)),
        W::LocalSet(low),
        W::LocalGet(address),
        W::I64Load(mem(offset + 8)),
        W::LocalSet(high),
        W::LocalGet(low),
        W::LocalGet(rax),
        W::I64Eq,
        W::LocalGet(high),
        W::LocalGet(rdx),
        W::I64Eq,
        W::I32And,
        W::LocalTee(equal),
        W::If(BlockType::Empty),
        W::LocalGet(address),
        W::LocalGet(rbx),
        W::I64Store(mem(offset)),
        W::LocalGet(address),
        W::LocalGet(rcx),
        W::I64Store(mem(offset + 8)),
        W::Else,
        W::LocalGet(low),
        W::LocalSet(rax),
        W::LocalGet(high),
        W::LocalSet(rdx),
        W::End,
    ]);
    if c.flags_needed(ZF) {
        c.emit(W::LocalGet(equal));
        c.set_flag(ZF);
    }
    Ok(())
}
