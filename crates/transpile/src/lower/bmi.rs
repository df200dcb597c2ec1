//! BMI1 and BMI2: the VEX-encoded general-register instructions that
//! `-C target-cpu=x86-64-v3` emits for shifts, rotates, masks and wide
//! multiplies (`shlx`, `shrx`, `sarx`, `rorx`, `andn`, `blsr`, `blsi`,
//! `blsmsk`, `bzhi`, `bextr`, `mulx`, `pdep`, `pext`), after the Intel
//! SDM's pseudo-code. `tzcnt` and `lzcnt` are legacy-encoded (`int.rs`).
//!
//! Each writes its flags at once (the instructions that write any are
//! rare next to `add`/`cmp`, which use the lazy producer of `flags.rs`):
//! only those a later instruction reads, and none the manual leaves
//! undefined.

use iced_x86::Mnemonic;
use wasm_encoder::{BlockType, Instruction as W};

use super::flags::{CF, OF, SF, ZF};
use super::{mask, Ctx, RDX};
use crate::error::TranspileError;

type R = Result<(), TranspileError>;

/// Lowers `c.ins` if it is a BMI1/BMI2 instruction; false if not ours.
pub(super) fn lower(c: &mut Ctx) -> Result<bool, TranspileError> {
    use Mnemonic as M;
    match c.ins.mnemonic() {
        M::Shlx => shift(c, W::I64Shl, false)?,
        M::Shrx => shift(c, W::I64ShrU, false)?,
        M::Sarx => shift(c, W::I64ShrS, true)?,
        M::Rorx => rorx(c)?,
        M::Andn => andn(c)?,
        M::Blsr | M::Blsi | M::Blsmsk => lowest_set_bit(c)?,
        M::Bzhi => bzhi(c)?,
        M::Bextr => bextr(c)?,
        M::Mulx => mulx(c)?,
        M::Pdep => deposit_or_extract(c, true)?,
        M::Pext => deposit_or_extract(c, false)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// `shlx`/`shrx`/`sarx dst, src, count`: the count masked to the operand
/// size, no flags.
fn shift(c: &mut Ctx, op: W<'static>, arithmetic: bool) -> R {
    let bits = c.op_bits(0);
    c.write(0, |c| {
        c.read(1)?;
        if arithmetic && bits == 32 {
            c.emit(W::I64Extend32S);
        }
        c.read(2)?;
        c.emit_all([W::I64Const(bits as i64 - 1), W::I64And, op]);
        Ok(())
    })
}

/// `rorx dst, src, imm`: a rotate by a constant, no flags.
fn rorx(c: &mut Ctx) -> R {
    let bits = c.op_bits(0);
    let count = c.ins.immediate(2) & (bits as u64 - 1);
    c.write(0, |c| {
        c.read(1)?;
        if bits == 32 {
            c.emit_all([
                W::I32WrapI64,
                W::I32Const(count as i32),
                W::I32Rotr,
                W::I64ExtendI32U,
            ]);
        } else {
            c.emit_all([W::I64Const(count as i64), W::I64Rotr]);
        }
        Ok(())
    })
}

/// Sets ZF and SF from the result in local `r` (masked to `bits`) and
/// clears OF, where a later instruction reads them.
fn result_flags(c: &mut Ctx, r: u32, bits: u32) {
    if c.flags_needed(ZF) {
        c.emit_all([W::LocalGet(r), W::I64Eqz]);
        c.set_flag(ZF);
    }
    if c.flags_needed(SF) && c.ins.rflags_undefined() & SF == 0 {
        c.emit_all([
            W::LocalGet(r),
            W::I64Const(bits as i64 - 1),
            W::I64ShrU,
            W::I32WrapI64,
        ]);
        c.set_flag(SF);
    }
    if c.flags_needed(OF) {
        c.emit(W::I32Const(0));
        c.set_flag(OF);
    }
}

/// [`result_flags`], and CF cleared (`andn`, `bextr`).
fn logic_flags(c: &mut Ctx, r: u32, bits: u32) {
    result_flags(c, r, bits);
    if c.flags_needed(CF) {
        c.emit(W::I32Const(0));
        c.set_flag(CF);
    }
}

/// Computes the value `value` pushes (masked to the operand size) into a
/// scratch local, writes it to operand 0, and returns the local.
fn compute(c: &mut Ctx, value: impl FnOnce(&mut Ctx) -> R) -> Result<u32, TranspileError> {
    let bits = c.op_bits(0);
    let r = c.locals.t(2);
    value(c)?;
    if bits < 64 {
        c.emit_all([W::I64Const(mask(bits) as i64), W::I64And]);
    }
    c.emit(W::LocalSet(r));
    c.write(0, |c| {
        c.emit(W::LocalGet(r));
        Ok(())
    })?;
    Ok(r)
}

/// `andn dst, a, b`: `!a & b`; ZF and SF from it, CF = OF = 0.
fn andn(c: &mut Ctx) -> R {
    let bits = c.op_bits(0);
    c.flags_begin(c.ins.rflags_modified());
    let r = compute(c, |c| {
        c.read(1)?;
        c.emit_all([W::I64Const(-1), W::I64Xor]);
        c.read(2)?;
        c.emit(W::I64And);
        Ok(())
    })?;
    logic_flags(c, r, bits);
    Ok(())
}

/// `blsr` (`s & (s - 1)`), `blsi` (`s & -s`), `blsmsk` (`s ^ (s - 1)`):
/// CF says whether the source is zero (`blsi`: nonzero).
fn lowest_set_bit(c: &mut Ctx) -> R {
    let bits = c.op_bits(0);
    let m = c.ins.mnemonic();
    let s = c.locals.t(0);
    c.flags_begin(c.ins.rflags_modified());
    c.read(1)?;
    c.emit(W::LocalSet(s));
    let r = compute(c, |c| {
        match m {
            Mnemonic::Blsi => c.emit_all([
                W::I64Const(0),
                W::LocalGet(s),
                W::I64Sub,
                W::LocalGet(s),
                W::I64And,
            ]),
            _ => c.emit_all([
                W::LocalGet(s),
                W::I64Const(1),
                W::I64Sub,
                W::LocalGet(s),
                if m == Mnemonic::Blsr {
                    W::I64And
                } else {
                    W::I64Xor
                },
            ]),
        }
        Ok(())
    })?;
    result_flags(c, r, bits);
    if c.flags_needed(CF) {
        c.emit_all([W::LocalGet(s), W::I64Eqz]);
        if m == Mnemonic::Blsi {
            c.emit(W::I32Eqz);
        }
        c.set_flag(CF);
    }
    Ok(())
}

/// `bzhi dst, src, index`: the bits of `src` below `index[7:0]`; CF when
/// that index is past the operand.
fn bzhi(c: &mut Ctx) -> R {
    let bits = c.op_bits(0);
    let (s, n) = (c.locals.t(0), c.locals.t(1));
    c.flags_begin(c.ins.rflags_modified());
    c.read(1)?;
    c.emit(W::LocalSet(s));
    c.read(2)?;
    c.emit_all([W::I64Const(0xff), W::I64And, W::LocalSet(n)]);
    // index < bits ? s & ((1 << index) - 1) : s
    let r = compute(c, |c| {
        c.emit_all([
            W::LocalGet(s),
            W::I64Const(1),
            W::LocalGet(n),
            W::I64Shl,
            W::I64Const(1),
            W::I64Sub,
            W::I64And,
            W::LocalGet(s),
            W::LocalGet(n),
            W::I64Const(bits as i64),
            W::I64LtU,
            W::Select,
        ]);
        Ok(())
    })?;
    result_flags(c, r, bits);
    if c.flags_needed(CF) {
        c.emit_all([
            W::LocalGet(n),
            W::I64Const(bits as i64 - 1),
            W::I64GtU,
        ]);
        c.set_flag(CF);
    }
    Ok(())
}

/// `bextr dst, src, control`: `len` bits of `src` from bit `start`
/// (control's bytes 0 and 1), zeros past the operand; ZF from the result,
/// CF = OF = 0.
fn bextr(c: &mut Ctx) -> R {
    let bits = c.op_bits(0);
    let (s, start, len) = (c.locals.t(0), c.locals.t(1), c.locals.t(3));
    c.flags_begin(c.ins.rflags_modified());
    c.read(1)?;
    c.emit(W::LocalSet(s));
    c.read(2)?;
    c.emit_all([
        W::LocalTee(len),
        W::I64Const(0xff),
        W::I64And,
        W::LocalSet(start),
        W::LocalGet(len),
        W::I64Const(8),
        W::I64ShrU,
        W::I64Const(0xff),
        W::I64And,
        W::LocalSet(len),
    ]);
    let r = compute(c, |c| {
        // (start < bits ? s >> start : 0) & (len < bits ? (1 << len) - 1 : all)
        c.emit_all([
            W::LocalGet(s),
            W::LocalGet(start),
            W::I64ShrU,
            W::I64Const(0),
            W::LocalGet(start),
            W::I64Const(bits as i64),
            W::I64LtU,
            W::Select,
            W::I64Const(1),
            W::LocalGet(len),
            W::I64Shl,
            W::I64Const(1),
            W::I64Sub,
            W::I64Const(-1),
            W::LocalGet(len),
            W::I64Const(bits as i64),
            W::I64LtU,
            W::Select,
            W::I64And,
        ]);
        Ok(())
    })?;
    logic_flags(c, r, bits);
    Ok(())
}

/// `mulx high, low, src`: rdx (edx) times `src`, unsigned, no flags; the
/// low half is written first, so `high` wins when both name one register.
fn mulx(c: &mut Ctx) -> R {
    let bits = c.op_bits(0);
    let (x, y, lo, hi) = (c.locals.t(0), c.locals.t(1), c.locals.t(2), c.locals.t(3));
    c.emit(W::LocalGet(c.locals.gpr(RDX)));
    if bits < 64 {
        c.emit_all([W::I64Const(mask(bits) as i64), W::I64And]);
    }
    c.emit(W::LocalSet(x));
    c.read(2)?;
    c.emit(W::LocalSet(y));
    c.emit_all([W::LocalGet(x), W::LocalGet(y), W::I64Mul, W::LocalSet(lo)]);
    if bits == 64 {
        c.emit_all([
            W::LocalGet(x),
            W::LocalGet(y),
            W::Call(c.callees.helpers.mulhu),
            W::LocalSet(hi),
        ]);
    } else {
        c.emit_all([
            W::LocalGet(lo),
            W::I64Const(32),
            W::I64ShrU,
            W::LocalSet(hi),
        ]);
    }
    c.write(1, |c| {
        c.emit(W::LocalGet(lo));
        Ok(())
    })?;
    c.write(0, |c| {
        c.emit(W::LocalGet(hi));
        Ok(())
    })
}

/// `pdep dst, src, mask` puts the low bits of `src`, in order, at the set
/// bits of `mask`; `pext dst, src, mask` gathers the bits of `src` at the
/// set bits of `mask` into the low bits. One turn per set bit of `mask`.
fn deposit_or_extract(c: &mut Ctx, deposit: bool) -> R {
    let (s, m, r, k, low) = (
        c.locals.t(0),
        c.locals.t(1),
        c.locals.t(2),
        c.locals.t(3),
        c.locals.t(4),
    );
    c.read(1)?;
    c.emit(W::LocalSet(s));
    c.read(2)?;
    c.emit_all([
        W::LocalSet(m),
        W::I64Const(0),
        W::LocalSet(r),
        W::I64Const(1),
        W::LocalSet(k),
        W::Block(BlockType::Empty),
        W::Loop(BlockType::Empty),
        W::LocalGet(m),
        W::I64Eqz,
        W::BrIf(1),
        // the lowest set bit of the mask
        W::I64Const(0),
        W::LocalGet(m),
        W::I64Sub,
        W::LocalGet(m),
        W::I64And,
        W::LocalSet(low),
    ]);
    // deposit: src's bit k goes to the mask's bit; extract: the other way
    let (test, put) = if deposit { (k, low) } else { (low, k) };
    c.emit_all([
        W::LocalGet(s),
        W::LocalGet(test),
        W::I64And,
        W::I64Eqz,
        W::I32Eqz,
        W::If(BlockType::Empty),
        W::LocalGet(r),
        W::LocalGet(put),
        W::I64Or,
        W::LocalSet(r),
        W::End,
        W::LocalGet(m),
        W::LocalGet(low),
        W::I64Xor,
        W::LocalSet(m),
        W::LocalGet(k),
        W::I64Const(1),
        W::I64Shl,
        W::LocalSet(k),
        W::Br(0),
        W::End,
        W::End,
    ]);
    c.write(0, |c| {
        c.emit(W::LocalGet(r));
        Ok(())
    })
}
