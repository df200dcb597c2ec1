//! General-purpose integer instructions, one section per family. Values are
//! pushed as i64 zero-extended from their operand size; `Ctx::write` applies
//! x86's sub-register rules.

use iced_x86::{Mnemonic, OpKind};
use wasm_encoder::{BlockType, Instruction as W};

use super::flags::{Producer, Val, CF, OF, PF, SF, STATUS, ZF};
use super::{is_high_byte, is_immediate, mask, mem, Ctx, Reg, RAX, RDX, RSP};
use crate::error::TranspileError;

type R = Result<(), TranspileError>;

/// Lowers `ctx.ins` if it is an integer instruction; false if not ours.
pub(super) fn lower(c: &mut Ctx) -> Result<bool, TranspileError> {
    use Mnemonic as M;
    let m = c.ins.mnemonic();
    // A `lock` prefix needs nothing: wasm runs the module on one thread.
    match m {
        M::Nop
        | M::Endbr64
        | M::Endbr32
        | M::Pause
        | M::Prefetchnta
        | M::Prefetcht0
        | M::Prefetcht1
        | M::Prefetcht2
        | M::Prefetchw
        | M::Lfence
        | M::Mfence
        | M::Sfence
        | M::Cld => {}
        // the write keeps the low bits only: no need to mask the source
        M::Mov => {
            let bits = c.op_bits(0);
            c.write(0, |c| c.read_low(1, bits))?
        }
        M::Movzx => c.write(0, |c| c.read(1))?,
        M::Movsx | M::Movsxd => movsx(c)?,
        M::Lea => lea(c)?,
        M::Xchg => xchg(c)?,
        M::Add | M::Sub | M::Adc | M::Sbb | M::Cmp | M::And | M::Or | M::Xor | M::Test => alu(c)?,
        M::Inc | M::Dec => inc_dec(c)?,
        M::Xadd => xadd(c)?,
        M::Cmpxchg => cmpxchg(c)?,
        M::Neg => neg(c)?,
        M::Not => c.write(0, |c| {
            c.read(0)?;
            c.emit_all([W::I64Const(-1), W::I64Xor]);
            Ok(())
        })?,
        M::Imul if c.ins.op_count() == 1 => mul_wide(c, true)?,
        M::Imul => imul(c)?,
        M::Mul => mul_wide(c, false)?,
        M::Div => div(c, false)?,
        M::Idiv => div(c, true)?,
        M::Shl | M::Sal | M::Shr | M::Sar => shift(c)?,
        M::Rol | M::Ror => rotate(c)?,
        M::Rcl | M::Rcr => rotate_through_carry(c)?,
        M::Shld | M::Shrd => double_shift(c)?,
        M::Bt | M::Bts | M::Btr | M::Btc => bit_test(c)?,
        M::Bsf | M::Bsr => bit_scan(c)?,
        M::Tzcnt | M::Lzcnt | M::Popcnt => bit_count(c)?,
        M::Bswap => bswap(c)?,
        M::Cbw | M::Cwde | M::Cdqe => widen_accumulator(c)?,
        M::Cwd | M::Cdq | M::Cqo => sign_into_rdx(c)?,
        M::Cpuid => cpuid(c)?,
        M::Xgetbv => xgetbv(c)?,
        M::Xtest => xtest(c),
        M::Stmxcsr => stmxcsr(c)?,
        M::Ldmxcsr => ldmxcsr(c)?,
        M::Push => push(c)?,
        M::Pop => pop(c)?,
        M::Leave if c.ins.code() == iced_x86::Code::Leaveq => leave(c),
        M::Pushfq => c.push_value(|c| c.push_rflags()),
        M::Popfq => popfq(c),
        M::Clc | M::Stc | M::Cmc => carry_ops(c),
        M::Stosb | M::Stosw | M::Stosd | M::Stosq | M::Movsb | M::Movsw | M::Movsq => string_op(c)?,
        M::Movsd if c.ins.op0_kind() == OpKind::MemoryESRDI => string_op(c)?,
        _ if is_setcc(m) => {
            let cc = c.ins.condition_code();
            c.write(0, |c| {
                c.condition(cc);
                c.emit(W::I64ExtendI32U);
                Ok(())
            })?
        }
        _ if is_cmovcc(m) && c.op_bits(0) == 32 && c.zero_extended(0) && c.zero_extended(1) => {
            // Both values already have a zero upper half, so has the one
            // chosen: the 32-bit write needs no wrap and extend.
            let cc = c.ins.condition_code();
            let dst = Reg::of(c.ins.op0_register()).ok_or_else(|| c.unsupported())?;
            c.read_low(1, 32)?;
            c.read_low(0, 32)?;
            c.condition(cc);
            c.emit_all([W::Select, W::LocalSet(c.locals.reg(dst))]);
        }
        _ if is_cmovcc(m) => {
            let cc = c.ins.condition_code();
            let bits = c.op_bits(0);
            c.write(0, |c| {
                c.read_low(1, bits)?;
                c.read_low(0, bits)?;
                c.condition(cc);
                c.emit(W::Select);
                Ok(())
            })?
        }
        _ => return Ok(false),
    }
    Ok(true)
}

pub(crate) fn is_setcc(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
        M::Seto
            | M::Setno
            | M::Setb
            | M::Setae
            | M::Sete
            | M::Setne
            | M::Setbe
            | M::Seta
            | M::Sets
            | M::Setns
            | M::Setp
            | M::Setnp
            | M::Setl
            | M::Setge
            | M::Setle
            | M::Setg
    )
}

pub(crate) fn is_cmovcc(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
        M::Cmovo
            | M::Cmovno
            | M::Cmovb
            | M::Cmovae
            | M::Cmove
            | M::Cmovne
            | M::Cmovbe
            | M::Cmova
            | M::Cmovs
            | M::Cmovns
            | M::Cmovp
            | M::Cmovnp
            | M::Cmovl
            | M::Cmovge
            | M::Cmovle
            | M::Cmovg
    )
}

/// Pushes the sign-extension to i64 of the i64 on the stack from `bits`.
fn sext(c: &mut Ctx, bits: u32) {
    match bits {
        8 => c.emit(W::I64Extend8S),
        16 => c.emit(W::I64Extend16S),
        32 => c.emit(W::I64Extend32S),
        _ => {}
    }
}

fn movsx(c: &mut Ctx) -> R {
    let from = c.op_bits(1);
    c.write(0, |c| {
        c.read(1)?;
        sext(c, from);
        Ok(())
    })
}

fn lea(c: &mut Ctx) -> R {
    let ins = c.ins;
    c.write(0, |c| {
        if ins.is_ip_rel_memory_operand() {
            c.emit(W::I64Const(ins.ip_rel_memory_address() as i64));
            return Ok(());
        }
        let mut terms = 0;
        if let Some(b) = Reg::of(ins.memory_base()) {
            c.emit(W::LocalGet(c.locals.reg(b)));
            terms += 1;
        }
        if let Some(i) = Reg::of(ins.memory_index()) {
            c.emit(W::LocalGet(c.locals.reg(i)));
            let scale = ins.memory_index_scale();
            if scale > 1 {
                c.emit_all([W::I64Const(scale.trailing_zeros() as i64), W::I64Shl]);
            }
            terms += 1;
            if terms == 2 {
                c.emit(W::I64Add);
            }
        }
        let disp = ins.memory_displacement64() as i64;
        if terms == 0 {
            c.emit(W::I64Const(disp));
        } else if disp != 0 {
            c.emit_all([W::I64Const(disp), W::I64Add]);
        }
        Ok(())
    })
}

fn xchg(c: &mut Ctx) -> R {
    let (t0, t1) = (c.locals.t(0), c.locals.t(1));
    c.read(0)?;
    c.emit(W::LocalSet(t0));
    c.read(1)?;
    c.emit(W::LocalSet(t1));
    c.write(0, |c| {
        c.emit(W::LocalGet(t1));
        Ok(())
    })?;
    c.write(1, |c| {
        c.emit(W::LocalGet(t0));
        Ok(())
    })
}

// ---------------------------------------------------------------- add, sub, logic

fn alu(c: &mut Ctx) -> R {
    use Mnemonic as M;
    let m = c.ins.mnemonic();
    let bits = c.op_bits(0);
    let (a, b, r, fc) = (c.locals.fa(), c.locals.fb(), c.locals.fr(), c.locals.fc());
    if matches!(m, M::Adc | M::Sbb) {
        c.get_flag(CF);
        c.emit(W::LocalSet(fc));
    }
    c.flags_begin(STATUS);
    if !c.flags_needed(STATUS) {
        return alu_without_flags(c, fc);
    }
    let kind = match m {
        M::Add => Producer::Add,
        M::Adc => Producer::Adc,
        M::Sub | M::Cmp => Producer::Sub,
        M::Sbb => Producer::Sbb,
        _ => Producer::Logic,
    };
    if matches!(m, M::Cmp | M::Test) {
        // nothing is written: the flags' readers take the operands where
        // they are and compute the result only if they need it
        let a = c.flag_operand(0, bits, a)?;
        let b = c.flag_operand(1, bits, b)?;
        c.flags_pending_at(kind, bits, STATUS, [a, b, Val::Lazy]);
        return Ok(());
    }
    // A logic op's flags need only the result; the others keep the first
    // operand's old value (the write replaces it) and a constant second one
    // stays a constant.
    let logic = kind == Producer::Logic;
    let first = if logic { Val::Unused } else { Val::Local(a) };
    let second = match c.ins.op1_kind() {
        _ if logic => Val::Unused,
        OpKind::Register | OpKind::Memory => Val::Local(b),
        _ => c.flag_operand(1, bits, b)?,
    };
    // the result: in the destination register itself, else in `fr`
    let result = match c.ins.op0_kind() {
        OpKind::Register if !is_high_byte(c.ins.op0_register()) => {
            match Reg::of(c.ins.op0_register()) {
                Some(r @ Reg::Gpr(_)) => Val::Reg(c.locals.reg(r)),
                _ => Val::Local(r),
            }
        }
        _ => Val::Local(r),
    };
    c.write(0, |c| {
        c.read(0)?;
        if first != Val::Unused {
            c.emit(W::LocalTee(a));
        }
        c.read_sized(1, bits)?;
        if second == Val::Local(b) {
            c.emit(W::LocalTee(b));
        }
        alu_op(c, m, fc);
        if bits < 64 {
            c.emit_all([W::I64Const(mask(bits) as i64), W::I64And]);
        }
        if result == Val::Local(r) {
            c.emit(W::LocalTee(r));
        }
        Ok(())
    })?;
    c.flags_pending_at(kind, bits, STATUS, [first, second, result]);
    Ok(())
}

/// The operation of add/adc/sub/sbb/and/or/xor on the two i64 operands on
/// the stack (the carry in, for adc/sbb, in i32 local `fc`).
fn alu_op(c: &mut Ctx, m: Mnemonic, fc: u32) {
    use Mnemonic as M;
    match m {
        M::Add => c.emit(W::I64Add),
        M::Adc => c.emit_all([W::I64Add, W::LocalGet(fc), W::I64ExtendI32U, W::I64Add]),
        M::Sub => c.emit(W::I64Sub),
        M::Sbb => c.emit_all([W::I64Sub, W::LocalGet(fc), W::I64ExtendI32U, W::I64Sub]),
        M::And => c.emit(W::I64And),
        M::Or => c.emit(W::I64Or),
        _ => c.emit(W::I64Xor),
    }
}

/// The common case: no flag of this instruction is read later, so the result
/// is computed straight into the destination (`cmp`/`test` vanish).
fn alu_without_flags(c: &mut Ctx, fc: u32) -> R {
    use Mnemonic as M;
    let m = c.ins.mnemonic();
    if matches!(m, M::Cmp | M::Test) {
        return Ok(());
    }
    let same_register = c.ins.op0_kind() == OpKind::Register
        && c.ins.op1_kind() == OpKind::Register
        && c.ins.op0_register() == c.ins.op1_register();
    if same_register && matches!(m, M::Xor | M::Sub) {
        // the zeroing idiom
        return c.write(0, |c| {
            c.emit(W::I64Const(0));
            Ok(())
        });
    }
    let bits = c.op_bits(0);
    c.write(0, |c| {
        // the write keeps only the low bits, which these ops take from the
        // operands' low bits alone: no masking of the inputs
        c.read_low(0, bits)?;
        c.read_low(1, bits)?;
        alu_op(c, m, fc);
        Ok(())
    })
}

/// `xadd dst, src`: src gets the old dst, dst the sum (flags as `add`).
fn xadd(c: &mut Ctx) -> R {
    let bits = c.op_bits(0);
    let (a, b, r) = (c.locals.fa(), c.locals.fb(), c.locals.fr());
    c.flags_begin(STATUS);
    c.read(0)?;
    c.emit(W::LocalSet(a));
    c.read(1)?;
    c.emit(W::LocalSet(b));
    c.emit_all([
        W::LocalGet(a),
        W::LocalGet(b),
        W::I64Add,
        W::I64Const(mask(bits) as i64),
        W::I64And,
        W::LocalSet(r),
    ]);
    c.write(1, |c| {
        c.emit(W::LocalGet(a));
        Ok(())
    })?;
    c.write(0, |c| {
        c.emit(W::LocalGet(r));
        Ok(())
    })?;
    c.flags_pending(Producer::Add, bits, STATUS);
    Ok(())
}

/// `cmpxchg dst, src`: compares the accumulator with dst (flags as `cmp`);
/// equal: dst = src; else the accumulator gets dst.
fn cmpxchg(c: &mut Ctx) -> R {
    use iced_x86::Register as X;
    let bits = c.op_bits(0);
    let (a, b, r) = (c.locals.fa(), c.locals.fb(), c.locals.fr());
    let acc = match bits {
        8 => X::AL,
        16 => X::AX,
        32 => X::EAX,
        _ => X::RAX,
    };
    c.flags_begin(STATUS);
    c.emit_all([
        W::LocalGet(c.locals.gpr(RAX)),
        W::I64Const(mask(bits) as i64),
        W::I64And,
        W::LocalSet(a),
    ]);
    c.read(0)?;
    c.emit(W::LocalSet(b));
    c.emit_all([
        W::LocalGet(a),
        W::LocalGet(b),
        W::I64Sub,
        W::I64Const(mask(bits) as i64),
        W::I64And,
        W::LocalSet(r),
    ]);
    c.emit_all([
        W::LocalGet(a),
        W::LocalGet(b),
        W::I64Eq,
        W::If(BlockType::Empty),
    ]);
    c.write(0, |c| c.read(1))?;
    c.emit(W::Else);
    // (memory is "written back" unchanged; a 32-bit register destination is
    // not written at all: its upper half stays, as the CPU shows)
    c.write_reg(acc, bits, |c| {
        c.emit(W::LocalGet(b));
        Ok(())
    })?;
    c.emit(W::End);
    c.flags_pending(Producer::Sub, bits, STATUS);
    Ok(())
}

fn inc_dec(c: &mut Ctx) -> R {
    let bits = c.op_bits(0);
    let (a, r) = (c.locals.fa(), c.locals.fr());
    let written = STATUS & !CF;
    c.flags_begin(written);
    c.read(0)?;
    c.emit(W::LocalTee(a));
    let inc = c.ins.mnemonic() == Mnemonic::Inc;
    c.emit_all([W::I64Const(1), if inc { W::I64Add } else { W::I64Sub }]);
    if bits < 64 {
        c.emit_all([W::I64Const(mask(bits) as i64), W::I64And]);
    }
    c.emit(W::LocalSet(r));
    c.write(0, |c| {
        c.emit(W::LocalGet(r));
        Ok(())
    })?;
    c.flags_pending(
        if inc { Producer::Inc } else { Producer::Dec },
        bits,
        written,
    );
    Ok(())
}

fn neg(c: &mut Ctx) -> R {
    let bits = c.op_bits(0);
    let (a, r) = (c.locals.fa(), c.locals.fr());
    c.flags_begin(STATUS);
    c.emit(W::I64Const(0));
    c.read(0)?;
    c.emit(W::LocalTee(a));
    c.emit(W::I64Sub);
    if bits < 64 {
        c.emit_all([W::I64Const(mask(bits) as i64), W::I64And]);
    }
    c.emit(W::LocalSet(r));
    c.write(0, |c| {
        c.emit(W::LocalGet(r));
        Ok(())
    })?;
    c.flags_pending(Producer::Neg, bits, STATUS);
    Ok(())
}

// ---------------------------------------------------------------- multiply, divide

/// Sets CF and OF (where live) to the i32 the closure pushes; SF, ZF, PF are
/// undefined after multiplies and left as they are.
fn set_carry_overflow(c: &mut Ctx, value: impl FnOnce(&mut Ctx)) {
    if c.flags_needed(CF | OF) {
        let t = c.locals.t32(0);
        value(c);
        c.emit(W::LocalTee(t));
        c.set_flag(CF);
        c.emit(W::LocalGet(t));
        c.set_flag(OF);
    }
}

/// Pushes the signed high 64 bits of t0 * t1 (locals) using the unsigned helper.
fn mulhs(c: &mut Ctx, x: u32, y: u32) {
    let h = c.callees.helpers.mulhu;
    c.emit_all([
        W::LocalGet(x),
        W::LocalGet(y),
        W::Call(h),
        W::LocalGet(y),
        W::I64Const(0),
        W::LocalGet(x),
        W::I64Const(0),
        W::I64LtS,
        W::Select,
        W::I64Sub,
        W::LocalGet(x),
        W::I64Const(0),
        W::LocalGet(y),
        W::I64Const(0),
        W::I64LtS,
        W::Select,
        W::I64Sub,
    ]);
}

/// One-operand `mul`/`imul`: rdx:rax (or dx:ax, ax) = accumulator * source.
fn mul_wide(c: &mut Ctx, signed: bool) -> R {
    let bits = c.op_bits(0);
    let (x, y, lo, hi) = (c.locals.t(0), c.locals.t(1), c.locals.t(2), c.locals.t(3));
    c.flags_begin(STATUS);
    let rax = c.locals.gpr(RAX);
    c.emit(W::LocalGet(rax));
    if bits < 64 {
        c.emit_all([W::I64Const(mask(bits) as i64), W::I64And]);
    }
    if signed {
        sext(c, bits);
    }
    c.emit(W::LocalSet(x));
    c.read(0)?;
    if signed {
        sext(c, bits);
    }
    c.emit(W::LocalSet(y));
    if bits == 64 {
        c.emit_all([W::LocalGet(x), W::LocalGet(y), W::I64Mul, W::LocalSet(lo)]);
        if signed {
            mulhs(c, x, y);
        } else {
            c.emit_all([
                W::LocalGet(x),
                W::LocalGet(y),
                W::Call(c.callees.helpers.mulhu),
            ]);
        }
        c.emit(W::LocalSet(hi));
    } else {
        // the whole product fits in i64
        c.emit_all([
            W::LocalGet(x),
            W::LocalGet(y),
            W::I64Mul,
            W::LocalTee(lo),
            W::I64Const(bits as i64),
            if signed { W::I64ShrS } else { W::I64ShrU },
            W::LocalSet(hi),
        ]);
    }
    // results
    if bits == 8 {
        // ax = product (16 bits)
        c.write_reg(iced_x86::Register::AX, 16, |c| {
            c.emit(W::LocalGet(lo));
            Ok(())
        })?;
    } else {
        let (acc, dx) = match bits {
            16 => (iced_x86::Register::AX, iced_x86::Register::DX),
            32 => (iced_x86::Register::EAX, iced_x86::Register::EDX),
            _ => (iced_x86::Register::RAX, iced_x86::Register::RDX),
        };
        c.write_reg(acc, bits, |c| {
            c.emit(W::LocalGet(lo));
            Ok(())
        })?;
        c.write_reg(dx, bits, |c| {
            c.emit(W::LocalGet(hi));
            Ok(())
        })?;
    }
    set_carry_overflow(c, |c| {
        if signed {
            // the high half is not just the sign of the low half
            c.emit(W::LocalGet(hi));
            if bits < 64 {
                c.emit_all([W::I64Const(mask(bits) as i64), W::I64And]);
            }
            c.emit(W::LocalGet(lo));
            c.emit_all([
                W::I64Const(64 - bits as i64),
                W::I64Shl,
                W::I64Const(63),
                W::I64ShrS,
            ]);
            if bits < 64 {
                c.emit_all([W::I64Const(mask(bits) as i64), W::I64And]);
            }
            c.emit(W::I64Ne);
        } else {
            c.emit(W::LocalGet(hi));
            if bits < 64 {
                c.emit_all([W::I64Const(mask(bits) as i64), W::I64And]);
            }
            c.emit_all([W::I64Const(0), W::I64Ne]);
        }
    });
    Ok(())
}

/// Two- and three-operand `imul`: truncated product; CF = OF = it overflowed.
fn imul(c: &mut Ctx) -> R {
    let bits = c.op_bits(0);
    let (x, y, p) = (c.locals.t(0), c.locals.t(1), c.locals.t(2));
    c.flags_begin(STATUS);
    let (first, second) = if c.ins.op_count() == 3 {
        (1, 2)
    } else {
        (0, 1)
    };
    if !c.flags_needed(CF | OF) {
        // the low half of a product needs only the low halves of its factors
        return c.write(0, |c| {
            c.read_low(first, bits)?;
            c.read_low(second, bits)?;
            c.emit(W::I64Mul);
            Ok(())
        });
    }
    c.read_sized(first, bits)?;
    sext(c, bits);
    c.emit(W::LocalSet(x));
    c.read_sized(second, bits)?;
    sext(c, bits);
    c.emit(W::LocalSet(y));
    c.emit_all([W::LocalGet(x), W::LocalGet(y), W::I64Mul, W::LocalSet(p)]);
    c.write(0, |c| {
        c.emit(W::LocalGet(p));
        Ok(())
    })?;
    set_carry_overflow(c, |c| {
        if bits == 64 {
            mulhs(c, x, y);
            c.emit_all([W::LocalGet(p), W::I64Const(63), W::I64ShrS, W::I64Ne]);
        } else {
            c.emit(W::LocalGet(p));
            sext(c, bits);
            c.emit_all([W::LocalGet(p), W::I64Ne]);
        }
    });
    Ok(())
}

/// Whether the instruction before `div`/`idiv` in its block made the
/// dividend's high half the extension of its low half: `xor edx, edx` (or
/// `mov edx, 0`) before `div`, `cqo`/`cdq` before `idiv`. Then the quotient
/// fits whenever wasm's own division does not trap.
fn high_half_is_extension(c: &Ctx, bits: u32, signed: bool) -> bool {
    let Some(prev) = c.prev_in_block else {
        return false;
    };
    let is_rdx = |k: u32| {
        prev.op_kind(k) == OpKind::Register
            && prev.op_register(k).full_register() == iced_x86::Register::RDX
            && prev.op_register(k).size() >= 4
    };
    match (signed, bits) {
        (false, 32 | 64) => match prev.mnemonic() {
            Mnemonic::Xor => is_rdx(0) && is_rdx(1),
            Mnemonic::Mov => is_rdx(0) && is_immediate(prev.op1_kind()) && prev.immediate(1) == 0,
            _ => false,
        },
        (true, 64) => prev.mnemonic() == Mnemonic::Cqo,
        _ => false,
    }
}

/// `div`/`idiv`: x86 raises #DE on a zero divisor or a quotient that does not
/// fit; wasm traps in both cases.
fn div(c: &mut Ctx, signed: bool) -> R {
    let bits = c.op_bits(0);
    let (n, d, q, r) = (c.locals.t(0), c.locals.t(1), c.locals.t(2), c.locals.t(3));
    let extended = high_half_is_extension(c, bits, signed);
    c.flags_begin(STATUS);
    c.read(0)?;
    if signed {
        sext(c, bits);
    }
    c.emit(W::LocalSet(d));
    let rax = c.locals.gpr(RAX);
    let rdx = c.locals.gpr(RDX);
    if bits == 64 && extended {
        // rdx:rax is rax extended: wasm's 64-bit division is x86's, traps
        // (zero divisor; MIN / -1) included
        let (div, rem) = if signed {
            (W::I64DivS, W::I64RemS)
        } else {
            (W::I64DivU, W::I64RemU)
        };
        c.emit_all([
            W::LocalGet(rax),
            W::LocalGet(d),
            div,
            W::LocalGet(rax),
            W::LocalGet(d),
            rem,
            W::LocalSet(rdx),
            W::LocalSet(rax),
        ]);
        return Ok(());
    }
    if bits == 64 {
        let helper = if signed {
            c.callees.helpers.divs128
        } else {
            c.callees.helpers.divu128
        };
        c.emit_all([
            W::LocalGet(rdx),
            W::LocalGet(rax),
            W::LocalGet(d),
            W::Call(helper),
            W::LocalSet(rdx),
            W::LocalSet(rax),
        ]);
        return Ok(());
    }
    // dividend: ax (8-bit), dx:ax (16), edx:eax (32), as one i64
    match bits {
        8 => c.emit_all([W::LocalGet(rax), W::I64Const(0xffff), W::I64And]),
        _ => c.emit_all([
            W::LocalGet(rdx),
            W::I64Const(mask(bits) as i64),
            W::I64And,
            W::I64Const(bits as i64),
            W::I64Shl,
            W::LocalGet(rax),
            W::I64Const(mask(bits) as i64),
            W::I64And,
            W::I64Or,
        ]),
    }
    if signed {
        sext(c, if bits == 8 { 16 } else { 2 * bits });
    }
    c.emit(W::LocalSet(n));
    c.emit_all([
        W::LocalGet(n),
        W::LocalGet(d),
        if signed { W::I64DivS } else { W::I64DivU },
        W::LocalSet(q),
        W::LocalGet(n),
        W::LocalGet(d),
        if signed { W::I64RemS } else { W::I64RemU },
        W::LocalSet(r),
    ]);
    // quotient overflow is #DE (never from a zero-extended dividend)
    if !signed && extended {
        // no check
    } else if signed {
        let min = -(1i64 << (bits - 1));
        let max = (1i64 << (bits - 1)) - 1;
        c.emit_all([
            W::LocalGet(q),
            W::I64Const(min),
            W::I64LtS,
            W::LocalGet(q),
            W::I64Const(max),
            W::I64GtS,
            W::I32Or,
        ]);
    } else {
        c.emit_all([W::LocalGet(q), W::I64Const(mask(bits) as i64), W::I64GtU]);
    }
    if signed || !extended {
        c.emit_all([W::If(BlockType::Empty), W::Unreachable, W::End]);
    }
    if bits == 8 {
        c.write_reg(iced_x86::Register::AX, 16, |c| {
            c.emit_all([
                W::LocalGet(r),
                W::I64Const(0xff),
                W::I64And,
                W::I64Const(8),
                W::I64Shl,
                W::LocalGet(q),
                W::I64Const(0xff),
                W::I64And,
                W::I64Or,
            ]);
            Ok(())
        })?;
    } else {
        let (acc, dx) = if bits == 16 {
            (iced_x86::Register::AX, iced_x86::Register::DX)
        } else {
            (iced_x86::Register::EAX, iced_x86::Register::EDX)
        };
        c.write_reg(acc, bits, |c| {
            c.emit(W::LocalGet(q));
            Ok(())
        })?;
        c.write_reg(dx, bits, |c| {
            c.emit(W::LocalGet(r));
            Ok(())
        })?;
    }
    Ok(())
}

// ---------------------------------------------------------------- shifts, rotates

/// The shift count operand's value masked as x86 masks it; `Some` when constant.
fn shift_count(c: &mut Ctx, op: u32, bits: u32, into: u32) -> Result<Option<u64>, TranspileError> {
    let limit = if bits == 64 { 63 } else { 31 };
    if c.ins.op_count() <= op {
        c.emit_all([W::I64Const(1), W::LocalSet(into)]);
        return Ok(Some(1));
    }
    if c.ins.op_kind(op) == OpKind::Register {
        c.read_sized(op, 8)?;
        c.emit_all([W::I64Const(limit), W::I64And, W::LocalSet(into)]);
        return Ok(None);
    }
    let v = c.ins.immediate(op) & limit as u64;
    c.emit_all([W::I64Const(v as i64), W::LocalSet(into)]);
    Ok(Some(v))
}

/// Sets the flags in `flags` (where live) from closures; when `count` (an i64
/// local) may be zero, each flag keeps its old value for a zero count.
fn set_flags_guarded(c: &mut Ctx, constant: bool, count: u32, flags: &[FlagRef]) {
    for (flag, value) in flags {
        if !c.flags_needed(*flag) {
            continue;
        }
        value(c);
        if !constant {
            c.emit_all([
                W::LocalGet(c.flag_local(*flag)),
                W::LocalGet(count),
                W::I64Const(0),
                W::I64Ne,
                W::Select,
            ]);
        }
        c.set_flag(*flag);
    }
}

/// Pushes bit `bit` (i64 const) of i64 local `l` as i32.
fn bit_of(c: &mut Ctx, l: u32, bit: i64) {
    c.emit_all([
        W::LocalGet(l),
        W::I64Const(bit),
        W::I64ShrU,
        W::I32WrapI64,
        W::I32Const(1),
        W::I32And,
    ]);
}

/// A flag and the code computing it.
type FlagCode = (u32, Box<dyn Fn(&mut Ctx)>);
/// A flag and a reference to the code computing it.
type FlagRef<'a> = (u32, &'a dyn Fn(&mut Ctx));

/// ZF, SF and PF of the `bits`-wide result in scratch local t[2].
fn result_flags(bits: u32) -> [FlagCode; 3] {
    [
        (
            ZF,
            Box::new(move |c: &mut Ctx| {
                let r = c.locals.t(2);
                c.emit_all([
                    W::LocalGet(r),
                    W::I64Const(mask(bits) as i64),
                    W::I64And,
                    W::I64Eqz,
                ]);
            }),
        ),
        (
            SF,
            Box::new(move |c: &mut Ctx| bit_of(c, c.locals.t(2), bits as i64 - 1)),
        ),
        (PF, Box::new(|c: &mut Ctx| c.parity_of(c.locals.t(2)))),
    ]
}

fn shift(c: &mut Ctx) -> R {
    use Mnemonic as M;
    let m = c.ins.mnemonic();
    let bits = c.op_bits(0);
    let (v, n, r) = (c.locals.t(0), c.locals.t(1), c.locals.t(2));
    if !c.flags_needed(STATUS) {
        // no flag of it is read: the shift straight into the destination
        // (a count of 0 still writes: a 32-bit write zero-extends)
        c.flags_begin(STATUS);
        let limit = if bits == 64 { 63 } else { 31 };
        return c.write(0, |c| {
            c.read(0)?;
            if m == M::Sar {
                sext(c, bits);
            }
            if c.ins.op_count() < 2 {
                c.emit(W::I64Const(1));
            } else if c.ins.op_kind(1) == OpKind::Register {
                c.read_sized(1, 8)?;
                c.emit_all([W::I64Const(limit), W::I64And]);
            } else {
                c.emit(W::I64Const((c.ins.immediate(1) & limit as u64) as i64));
            }
            c.emit(match m {
                M::Shr => W::I64ShrU,
                M::Sar => W::I64ShrS,
                _ => W::I64Shl,
            });
            Ok(())
        });
    }
    let constant = shift_count(c, 1, bits, n)?;
    if constant == Some(0) {
        return c.write(0, |c| c.read(0)); // flags untouched; a 32-bit write still zero-extends
    }
    c.flags_begin(if constant.is_some() { STATUS } else { 0 });
    c.read(0)?;
    if m == M::Sar {
        sext(c, bits);
    }
    c.emit(W::LocalTee(v));
    c.emit(W::LocalGet(n));
    c.emit(match m {
        M::Shr => W::I64ShrU,
        M::Sar => W::I64ShrS,
        _ => W::I64Shl,
    });
    c.emit(W::LocalSet(r));
    c.write(0, |c| {
        c.emit(W::LocalGet(r));
        Ok(())
    })?;
    let carry = move |c: &mut Ctx| {
        // the last bit shifted out
        let (v, n) = (c.locals.t(0), c.locals.t(1));
        if m == M::Shl || m == M::Sal {
            c.emit_all([
                W::LocalGet(v),
                W::LocalGet(n),
                W::I64Const(1),
                W::I64Sub,
                W::I64Shl,
                W::I64Const(bits as i64 - 1),
                W::I64ShrU,
            ]);
        } else {
            c.emit_all([
                W::LocalGet(v),
                W::LocalGet(n),
                W::I64Const(1),
                W::I64Sub,
                W::I64ShrU,
            ]);
        }
        c.emit_all([W::I32WrapI64, W::I32Const(1), W::I32And]);
    };
    let overflow = move |c: &mut Ctx| match m {
        M::Sar => c.emit(W::I32Const(0)),
        M::Shr => bit_of(c, c.locals.t(0), bits as i64 - 1),
        _ => {
            bit_of(c, c.locals.t(2), bits as i64 - 1);
            carry(c);
            c.emit(W::I32Xor);
        }
    };
    let rf = result_flags(bits);
    set_flags_guarded(
        c,
        constant.is_some(),
        n,
        &[
            (CF, &carry),
            (OF, &overflow),
            (rf[0].0, &*rf[0].1),
            (rf[1].0, &*rf[1].1),
            (rf[2].0, &*rf[2].1),
        ],
    );
    Ok(())
}

fn rotate(c: &mut Ctx) -> R {
    let left = c.ins.mnemonic() == Mnemonic::Rol;
    let bits = c.op_bits(0);
    let (v, n, r) = (c.locals.t(0), c.locals.t(1), c.locals.t(2));
    let constant = shift_count(c, 1, bits, n)?;
    if constant == Some(0) {
        return c.write(0, |c| c.read(0));
    }
    c.flags_begin(if constant.is_some() { CF | OF } else { 0 });
    c.read(0)?;
    c.emit(W::LocalSet(v));
    match bits {
        64 => c.emit_all([
            W::LocalGet(v),
            W::LocalGet(n),
            if left { W::I64Rotl } else { W::I64Rotr },
        ]),
        32 => c.emit_all([
            W::LocalGet(v),
            W::I32WrapI64,
            W::LocalGet(n),
            W::I32WrapI64,
            if left { W::I32Rotl } else { W::I32Rotr },
            W::I64ExtendI32U,
        ]),
        _ => {
            // 8/16: rotate by n mod bits inside a zero-extended i64
            let k = c.locals.t(3);
            c.emit_all([
                W::LocalGet(n),
                W::I64Const(bits as i64),
                W::I64RemU,
                W::LocalSet(k),
            ]);
            let (toward, back) = if left {
                (W::I64Shl, W::I64ShrU)
            } else {
                (W::I64ShrU, W::I64Shl)
            };
            c.emit_all([
                W::LocalGet(v),
                W::LocalGet(k),
                toward,
                W::LocalGet(v),
                W::I64Const(bits as i64),
                W::LocalGet(k),
                W::I64Sub,
                back,
                W::I64Or,
                W::I64Const(mask(bits) as i64),
                W::I64And,
            ]);
        }
    }
    c.emit(W::LocalSet(r));
    c.write(0, |c| {
        c.emit(W::LocalGet(r));
        Ok(())
    })?;
    let carry = move |c: &mut Ctx| bit_of(c, c.locals.t(2), if left { 0 } else { bits as i64 - 1 });
    let overflow = move |c: &mut Ctx| {
        bit_of(c, c.locals.t(2), bits as i64 - 1);
        if left {
            bit_of(c, c.locals.t(2), 0);
        } else {
            bit_of(c, c.locals.t(2), bits as i64 - 2);
        }
        c.emit(W::I32Xor);
    };
    set_flags_guarded(c, constant.is_some(), n, &[(CF, &carry), (OF, &overflow)]);
    Ok(())
}

/// `rcl`/`rcr`: rotation through CF, one bit at a time in a wasm loop (counts
/// are at most 64; compilers emit these with a count of 1, for averages).
fn rotate_through_carry(c: &mut Ctx) -> R {
    let left = c.ins.mnemonic() == Mnemonic::Rcl;
    let bits = c.op_bits(0);
    let (v, n, carry, next) = (
        c.locals.t(0),
        c.locals.t(1),
        c.locals.t32(0),
        c.locals.t32(1),
    );
    let constant = shift_count(c, 1, bits, n)?;
    if constant == Some(0) {
        return c.write(0, |c| c.read(0));
    }
    let count = c.locals.t(3); // the masked count, before the modulo
    c.emit_all([W::LocalGet(n), W::LocalSet(count)]);
    if bits < 32 {
        c.emit_all([
            W::LocalGet(n),
            W::I64Const(bits as i64 + 1),
            W::I64RemU,
            W::LocalSet(n),
        ]);
    }
    c.get_flag(CF);
    c.emit(W::LocalSet(carry));
    c.flags_begin(if constant.is_some() { CF | OF } else { 0 });
    c.read(0)?;
    c.emit(W::LocalSet(v));
    let top = bits as i64 - 1;
    c.emit_all([W::Block(BlockType::Empty), W::Loop(BlockType::Empty)]);
    c.emit_all([W::LocalGet(n), W::I64Eqz, W::BrIf(1)]);
    if left {
        // next carry = msb; v = (v << 1) | carry
        c.emit_all([
            W::LocalGet(v),
            W::I64Const(top),
            W::I64ShrU,
            W::I32WrapI64,
            W::I32Const(1),
            W::I32And,
            W::LocalSet(next),
        ]);
        c.emit_all([
            W::LocalGet(v),
            W::I64Const(1),
            W::I64Shl,
            W::LocalGet(carry),
            W::I64ExtendI32U,
            W::I64Or,
        ]);
        c.emit_all([W::I64Const(mask(bits) as i64), W::I64And, W::LocalSet(v)]);
    } else {
        // next carry = lsb; v = (v >> 1) | (carry << top)
        c.emit_all([
            W::LocalGet(v),
            W::I32WrapI64,
            W::I32Const(1),
            W::I32And,
            W::LocalSet(next),
        ]);
        c.emit_all([
            W::LocalGet(v),
            W::I64Const(1),
            W::I64ShrU,
            W::LocalGet(carry),
            W::I64ExtendI32U,
            W::I64Const(top),
            W::I64Shl,
            W::I64Or,
            W::LocalSet(v),
        ]);
    }
    c.emit_all([W::LocalGet(next), W::LocalSet(carry)]);
    c.emit_all([
        W::LocalGet(n),
        W::I64Const(1),
        W::I64Sub,
        W::LocalSet(n),
        W::Br(0),
        W::End,
        W::End,
    ]);
    let r = c.locals.t(2);
    c.emit_all([W::LocalGet(v), W::LocalSet(r)]);
    c.write(0, |c| {
        c.emit(W::LocalGet(r));
        Ok(())
    })?;
    let carry_flag = move |c: &mut Ctx| c.emit(W::LocalGet(c.locals.t32(0)));
    let overflow = move |c: &mut Ctx| {
        bit_of(c, c.locals.t(2), bits as i64 - 1);
        if left {
            c.emit(W::LocalGet(c.locals.t32(0)));
        } else {
            bit_of(c, c.locals.t(2), bits as i64 - 2);
        }
        c.emit(W::I32Xor);
    };
    // flags change only when the masked count (before the modulo) is not 0
    set_flags_guarded(
        c,
        constant.is_some(),
        count,
        &[(CF, &carry_flag), (OF, &overflow)],
    );
    Ok(())
}

fn double_shift(c: &mut Ctx) -> R {
    let left = c.ins.mnemonic() == Mnemonic::Shld;
    let bits = c.op_bits(0);
    let (d, n, r, s) = (c.locals.t(0), c.locals.t(1), c.locals.t(2), c.locals.t(3));
    let constant = shift_count(c, 2, bits, n)?;
    if constant == Some(0) {
        return c.write(0, |c| c.read(0));
    }
    c.flags_begin(if constant.is_some() { STATUS } else { 0 });
    c.read(0)?;
    c.emit(W::LocalSet(d));
    c.read(1)?;
    c.emit(W::LocalSet(s));
    if bits == 64 {
        if left {
            c.emit_all([
                W::LocalGet(d),
                W::LocalGet(n),
                W::I64Shl,
                W::LocalGet(s),
                W::I64Const(64),
                W::LocalGet(n),
                W::I64Sub,
                W::I64ShrU,
                W::I64Or,
            ]);
        } else {
            c.emit_all([
                W::LocalGet(d),
                W::LocalGet(n),
                W::I64ShrU,
                W::LocalGet(s),
                W::I64Const(64),
                W::LocalGet(n),
                W::I64Sub,
                W::I64Shl,
                W::I64Or,
            ]);
        }
        // a zero count would shift by 64 (0 in wasm): keep the destination
        c.emit_all([
            W::LocalGet(d),
            W::LocalGet(n),
            W::I64Const(0),
            W::I64Ne,
            W::Select,
        ]);
    } else if left {
        // ((d:s) << n) >> bits, in one i64
        c.emit_all([
            W::LocalGet(d),
            W::I64Const(bits as i64),
            W::I64Shl,
            W::LocalGet(s),
            W::I64Or,
            W::LocalGet(n),
            W::I64Shl,
            W::I64Const(bits as i64),
            W::I64ShrU,
            W::I64Const(mask(bits) as i64),
            W::I64And,
        ]);
    } else {
        c.emit_all([
            W::LocalGet(s),
            W::I64Const(bits as i64),
            W::I64Shl,
            W::LocalGet(d),
            W::I64Or,
            W::LocalGet(n),
            W::I64ShrU,
            W::I64Const(mask(bits) as i64),
            W::I64And,
        ]);
    }
    c.emit(W::LocalSet(r));
    c.write(0, |c| {
        c.emit(W::LocalGet(r));
        Ok(())
    })?;
    let carry = move |c: &mut Ctx| {
        let (d, n) = (c.locals.t(0), c.locals.t(1));
        if left {
            c.emit_all([
                W::LocalGet(d),
                W::I64Const(bits as i64),
                W::LocalGet(n),
                W::I64Sub,
                W::I64ShrU,
            ]);
        } else {
            c.emit_all([
                W::LocalGet(d),
                W::LocalGet(n),
                W::I64Const(1),
                W::I64Sub,
                W::I64ShrU,
            ]);
        }
        c.emit_all([W::I32WrapI64, W::I32Const(1), W::I32And]);
    };
    let overflow = move |c: &mut Ctx| {
        bit_of(c, c.locals.t(2), bits as i64 - 1);
        bit_of(c, c.locals.t(0), bits as i64 - 1);
        c.emit(W::I32Xor);
    };
    let rf = result_flags(bits);
    set_flags_guarded(
        c,
        constant.is_some(),
        n,
        &[
            (CF, &carry),
            (OF, &overflow),
            (rf[0].0, &*rf[0].1),
            (rf[1].0, &*rf[1].1),
            (rf[2].0, &*rf[2].1),
        ],
    );
    Ok(())
}

// ---------------------------------------------------------------- bits

fn bit_test(c: &mut Ctx) -> R {
    use Mnemonic as M;
    let m = c.ins.mnemonic();
    let bits = c.op_bits(0);
    let (v, pos, addr) = (c.locals.t(0), c.locals.t(1), c.locals.t32(1));
    let written = c.ins.rflags_modified() & STATUS;
    c.flags_begin(written);
    let memory = c.ins.op0_kind() == OpKind::Memory;
    let register_offset = c.ins.op1_kind() == OpKind::Register;
    let m_arg;
    if memory {
        // the bit offset may select another operand-sized word of the bit string
        let offset = c.address()?;
        m_arg = mem(offset);
        if register_offset {
            c.read_sized(1, bits)?;
            sext(c, bits);
            c.emit_all([
                W::I64Const(bits.trailing_zeros() as i64),
                W::I64ShrS,
                W::I64Const((bits / 8).trailing_zeros() as i64),
                W::I64Shl,
                W::I32WrapI64,
                W::I32Add,
            ]);
        }
        c.emit(W::LocalTee(addr));
        c.emit(match bits {
            16 => W::I64Load16U(m_arg),
            32 => W::I64Load32U(m_arg),
            _ => W::I64Load(m_arg),
        });
    } else {
        m_arg = mem(0);
        c.read(0)?;
    }
    c.emit(W::LocalSet(v));
    c.read_sized(1, bits)?;
    c.emit_all([W::I64Const(bits as i64 - 1), W::I64And, W::LocalSet(pos)]);
    if c.flags_needed(CF) {
        c.emit_all([
            W::LocalGet(v),
            W::LocalGet(pos),
            W::I64ShrU,
            W::I32WrapI64,
            W::I32Const(1),
            W::I32And,
        ]);
        c.set_flag(CF);
    }
    if m == M::Bt {
        return Ok(());
    }
    let value = move |c: &mut Ctx| {
        c.emit(W::LocalGet(v));
        c.emit_all([W::I64Const(1), W::LocalGet(pos), W::I64Shl]);
        match m {
            M::Bts => c.emit(W::I64Or),
            M::Btr => c.emit_all([W::I64Const(-1), W::I64Xor, W::I64And]),
            _ => c.emit(W::I64Xor),
        }
    };
    if memory {
        c.emit(W::LocalGet(addr));
        value(c);
        c.emit(match bits {
            16 => W::I64Store16(m_arg),
            32 => W::I64Store32(m_arg),
            _ => W::I64Store(m_arg),
        });
        Ok(())
    } else {
        c.write(0, |c| {
            value(c);
            Ok(())
        })
    }
}

/// `bsf`/`bsr`: the destination keeps its value when the source is 0.
fn bit_scan(c: &mut Ctx) -> R {
    let forward = c.ins.mnemonic() == Mnemonic::Bsf;
    let v = c.locals.t(0);
    let written = c.ins.rflags_modified() & STATUS;
    c.flags_begin(written);
    c.read(1)?;
    c.emit(W::LocalSet(v));
    if c.flags_needed(ZF) {
        c.emit_all([W::LocalGet(v), W::I64Eqz]);
        c.set_flag(ZF);
    }
    c.emit_all([
        W::LocalGet(v),
        W::I64Eqz,
        W::I32Eqz,
        W::If(BlockType::Empty),
    ]);
    c.write(0, |c| {
        if forward {
            c.emit_all([W::LocalGet(v), W::I64Ctz]);
        } else {
            c.emit_all([W::I64Const(63), W::LocalGet(v), W::I64Clz, W::I64Sub]);
        }
        Ok(())
    })?;
    c.emit(W::End);
    Ok(())
}

fn bit_count(c: &mut Ctx) -> R {
    use Mnemonic as M;
    let m = c.ins.mnemonic();
    let bits = c.op_bits(0);
    let (v, r) = (c.locals.t(0), c.locals.t(2));
    let written = c.ins.rflags_modified() & STATUS;
    c.flags_begin(written);
    c.read(1)?;
    c.emit(W::LocalSet(v));
    match m {
        M::Tzcnt => {
            c.emit(W::LocalGet(v));
            if bits < 64 {
                c.emit_all([W::I64Const(1i64 << bits), W::I64Or]);
            }
            c.emit(W::I64Ctz);
        }
        M::Lzcnt => {
            c.emit_all([W::LocalGet(v), W::I64Clz]);
            if bits < 64 {
                c.emit_all([W::I64Const(64 - bits as i64), W::I64Sub]);
            }
        }
        _ => c.emit_all([W::LocalGet(v), W::I64Popcnt]),
    }
    c.emit(W::LocalSet(r));
    c.write(0, |c| {
        c.emit(W::LocalGet(r));
        Ok(())
    })?;
    let zero_source = |c: &mut Ctx| c.emit_all([W::LocalGet(c.locals.t(0)), W::I64Eqz]);
    match m {
        M::Popcnt => {
            for flag in [CF, PF, SF, OF] {
                if c.flags_needed(flag) {
                    c.emit(W::I32Const(0));
                    c.set_flag(flag);
                }
            }
            if c.flags_needed(ZF) {
                zero_source(c);
                c.set_flag(ZF);
            }
        }
        _ => {
            if c.flags_needed(CF) {
                zero_source(c);
                c.set_flag(CF);
            }
            if c.flags_needed(ZF) {
                c.emit_all([W::LocalGet(r), W::I64Eqz]);
                c.set_flag(ZF);
            }
        }
    }
    Ok(())
}

fn bswap(c: &mut Ctx) -> R {
    let bits = c.op_bits(0);
    if bits == 16 {
        // undefined in the manual; Intel and AMD processors clear the word
        return c.write(0, |c| {
            c.emit(W::I64Const(0));
            Ok(())
        });
    }
    let v = c.locals.t(0);
    c.read(0)?;
    c.emit(W::LocalSet(v));
    c.write(0, |c| {
        let n = bits / 8;
        c.emit(W::I64Const(0));
        for i in 0..n {
            let from = 8 * i as i64;
            let to = 8 * (n - 1 - i) as i64;
            c.emit_all([
                W::LocalGet(v),
                W::I64Const(from),
                W::I64ShrU,
                W::I64Const(0xff),
                W::I64And,
                W::I64Const(to),
                W::I64Shl,
                W::I64Or,
            ]);
        }
        Ok(())
    })
}

// ---------------------------------------------------------------- widening

fn widen_accumulator(c: &mut Ctx) -> R {
    use iced_x86::Register as X;
    let (dst, from) = match c.ins.mnemonic() {
        Mnemonic::Cbw => (X::AX, 8),
        Mnemonic::Cwde => (X::EAX, 16),
        _ => (X::RAX, 32),
    };
    let rax = c.locals.gpr(RAX);
    c.write_reg(dst, from * 2, |c| {
        c.emit(W::LocalGet(rax));
        sext(c, from);
        Ok(())
    })
}

fn sign_into_rdx(c: &mut Ctx) -> R {
    use iced_x86::Register as X;
    let (dst, bits) = match c.ins.mnemonic() {
        Mnemonic::Cwd => (X::DX, 16),
        Mnemonic::Cdq => (X::EDX, 32),
        _ => (X::RDX, 64),
    };
    let rax = c.locals.gpr(RAX);
    c.write_reg(dst, bits, |c| {
        c.emit(W::LocalGet(rax));
        c.emit_all([
            W::I64Const(64 - bits as i64),
            W::I64Shl,
            W::I64Const(63),
            W::I64ShrS,
        ]);
        Ok(())
    })
}

// ---------------------------------------------------------------- the CPU

/// What `cpuid` answers in a module, by leaf (`eax`; the subleaf in `ecx`
/// is not read): `[eax, ebx, ecx, edx]`; every other leaf reads zeros. The
/// module claims to be the CPU it runs as (docs/abi.md, "The CPU a module
/// is"): an x86-64 with SSE2, POPCNT and LZCNT and nothing later, vendor
/// "WebAssembly ", so code that picks a path by CPU (std's
/// `is_x86_feature_detected!`, the memchr crate, compiler-builtins) picks
/// the one the transpiler runs.
pub const CPUID: &[(u32, [u32; 4])] = &[
    // the highest basic leaf; the vendor in ebx, edx, ecx
    (
        0,
        [
            1,
            u32::from_le_bytes(*b"WebA"),
            u32::from_le_bytes(*b"bly "),
            u32::from_le_bytes(*b"ssem"),
        ],
    ),
    // ecx: POPCNT (23); edx: CX8 (8), CMOV (15), SSE (25), SSE2 (26)
    (1, [0, 0, 1 << 23, (1 << 8) | (1 << 15) | (1 << 25) | (1 << 26)]),
    // the highest extended leaf
    (0x8000_0000, [0x8000_0001, 0, 0, 0]),
    // ecx: LZCNT (5); edx: long mode (29)
    (0x8000_0001, [0, 0, 1 << 5, 1 << 29]),
];

/// `cpuid`: [`CPUID`]'s row for the leaf in eax, or zeros.
fn cpuid(c: &mut Ctx) -> R {
    use iced_x86::Register as X;
    let leaf = c.locals.t(0);
    let rax = c.locals.gpr(RAX);
    c.emit_all([W::LocalGet(rax), W::I64Const(0xffff_ffff), W::I64And, W::LocalSet(leaf)]);
    // eax last: the others are computed from the leaf it held
    for (k, dst) in [(1, X::EBX), (2, X::ECX), (3, X::EDX), (0, X::EAX)] {
        c.write_reg(dst, 32, |c| {
            // select(row 0, select(row 1, … select(row n, 0, leaf n) …, leaf 1), leaf 0)
            for (_, row) in CPUID {
                c.emit(W::I64Const(row[k] as i64));
            }
            c.emit(W::I64Const(0));
            for (at, _) in CPUID.iter().rev() {
                c.emit_all([W::LocalGet(leaf), W::I64Const(*at as i64), W::I64Eq, W::Select]);
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// `xgetbv`: XCR0 says x87 and SSE state are on (no AVX: leaf 1 has no
/// OSXSAVE, so code that follows [`CPUID`] never asks).
fn xgetbv(c: &mut Ctx) -> R {
    use iced_x86::Register as X;
    c.write_reg(X::EAX, 32, |c| {
        c.emit(W::I64Const(3));
        Ok(())
    })?;
    c.write_reg(X::EDX, 32, |c| {
        c.emit(W::I64Const(0));
        Ok(())
    })
}

/// `xtest`: a module never runs in a hardware transaction (RTM), so ZF is
/// set and the other flags clear (glibc's `_rtm` string functions ask
/// before `vzeroupper`).
fn xtest(c: &mut Ctx) {
    let t = c.locals.t(0);
    c.emit_all([W::I64Const(1 << 6), W::LocalSet(t)]);
    c.flags_from_rflags(t);
}

/// MXCSR as a module has it, always: round to nearest, every exception
/// masked, no flush to zero, no exception flag raised (wasm's floats are
/// IEEE's defaults, and the module does not track the sticky flags).
pub const MXCSR: u32 = 0x1f80;
/// The bits of MXCSR that change results (rounding, flush to zero, denormals
/// are zero) and masks: everything but the six sticky exception flags.
const MXCSR_CONTROL: u32 = 0xffc0;

/// `stmxcsr m32` stores [`MXCSR`] in a linked library's code (glibc's libm
/// saves it to set round to nearest and restore it: `SET_RESTORE_ROUND`);
/// in a program's own code it is refused.
fn stmxcsr(c: &mut Ctx) -> R {
    // Only in a linked library's code (glibc's SET_RESTORE_ROUND, which
    // puts the flags back as it found them): a program's own `_mm_getcsr`
    // may test the exception flags, which the module does not track.
    if c.image.library_at(c.ins.ip()).is_none() {
        return Err(c.unsupported());
    }
    let offset = c.address()?;
    c.emit_all([W::I32Const(MXCSR as i32), W::I32Store(mem(offset))]);
    Ok(())
}

/// `ldmxcsr m32`: a value whose control bits are [`MXCSR`]'s changes
/// nothing the module computes (the flag bits are not tracked); any other
/// (another rounding, flush to zero) traps: the module cannot compute in
/// that mode, and the caller runs the call natively instead.
fn ldmxcsr(c: &mut Ctx) -> R {
    let offset = c.address()?;
    c.emit_all([
        W::I32Load(mem(offset)),
        W::I32Const(MXCSR_CONTROL as i32),
        W::I32And,
        W::I32Const((MXCSR & MXCSR_CONTROL) as i32),
        W::I32Ne,
        W::If(wasm_encoder::BlockType::Empty),
        W::Unreachable,
        W::End,
    ]);
    Ok(())
}

// ---------------------------------------------------------------- stack

fn push(c: &mut Ctx) -> R {
    let size = (-c.ins.stack_pointer_increment()) as i64;
    let t = c.locals.t(0);
    // `push rsp` and `push [rsp + x]` read rsp before it moves
    let reads_rsp = match c.ins.op0_kind() {
        OpKind::Register => c.ins.op0_register().full_register() == iced_x86::Register::RSP,
        OpKind::Memory => [c.ins.memory_base(), c.ins.memory_index()]
            .iter()
            .any(|r| r.full_register() == iced_x86::Register::RSP),
        _ => false,
    };
    if reads_rsp {
        c.read_sized(0, 8 * size as u32)?;
        c.emit(W::LocalSet(t));
    }
    let rsp = c.locals.gpr(RSP);
    c.emit_all([
        W::LocalGet(rsp),
        W::I64Const(size),
        W::I64Sub,
        W::LocalTee(rsp),
        W::I32WrapI64,
    ]);
    if reads_rsp {
        c.emit(W::LocalGet(t));
    } else {
        c.read_sized(0, 8 * size as u32)?;
    }
    c.emit(if size == 8 {
        W::I64Store(mem(0))
    } else {
        W::I64Store16(mem(0))
    });
    Ok(())
}

/// True for `push r64` and `pop r64` of a register other than rsp.
pub(super) fn is_plain_push_or_pop(ins: &iced_x86::Instruction) -> bool {
    ins.op_count() == 1
        && ins.op0_kind() == OpKind::Register
        && ins.op0_register().is_gpr64()
        && ins.op0_register() != iced_x86::Register::RSP
}

/// A run of `push r64` or of `pop r64` ([`is_plain_push_or_pop`]): one
/// move of rsp, and each register stored or loaded at its offset, as the
/// instructions one by one would.
pub(super) fn push_pop_run(c: &mut Ctx, run: &[iced_x86::Instruction]) {
    let rsp = c.locals.gpr(RSP);
    let bytes = 8 * run.len() as i64;
    let regs: Vec<u32> = run
        .iter()
        .map(|i| c.locals.reg(Reg::of(i.op0_register()).expect("a 64-bit register")))
        .collect();
    if run[0].mnemonic() == Mnemonic::Push {
        c.emit_all([W::LocalGet(rsp), W::I64Const(bytes), W::I64Sub, W::LocalSet(rsp)]);
        for (j, r) in regs.iter().enumerate() {
            // the first push is the highest
            let offset = bytes as u64 - 8 * (j as u64 + 1);
            c.emit_all([
                W::LocalGet(rsp),
                W::I32WrapI64,
                W::LocalGet(*r),
                W::I64Store(mem(offset)),
            ]);
        }
    } else {
        for (j, r) in regs.iter().enumerate() {
            c.emit_all([
                W::LocalGet(rsp),
                W::I32WrapI64,
                W::I64Load(mem(8 * j as u64)),
                W::LocalSet(*r),
            ]);
        }
        c.emit_all([W::LocalGet(rsp), W::I64Const(bytes), W::I64Add, W::LocalSet(rsp)]);
    }
}

fn pop(c: &mut Ctx) -> R {
    let size = c.ins.stack_pointer_increment() as i64;
    let t = c.locals.t(0);
    let rsp = c.locals.gpr(RSP);
    let load = if size == 8 {
        W::I64Load(mem(0))
    } else {
        W::I64Load16U(mem(0))
    };
    // `pop reg64` (not rsp): the value straight into the register; a memory
    // destination's address and `pop rsp` see rsp after the increment, so
    // those go through a temporary
    let direct = c.ins.op0_kind() == OpKind::Register
        && size == 8
        && c.ins.op0_register().full_register() != iced_x86::Register::RSP;
    if direct {
        c.write(0, |c| {
            c.emit_all([W::LocalGet(rsp), W::I32WrapI64, load]);
            Ok(())
        })?;
        c.emit_all([
            W::LocalGet(rsp),
            W::I64Const(size),
            W::I64Add,
            W::LocalSet(rsp),
        ]);
        return Ok(());
    }
    c.emit_all([W::LocalGet(rsp), W::I32WrapI64]);
    c.emit(load);
    c.emit_all([
        W::LocalSet(t),
        W::LocalGet(rsp),
        W::I64Const(size),
        W::I64Add,
        W::LocalSet(rsp),
    ]);
    c.write(0, |c| {
        c.emit(W::LocalGet(t));
        Ok(())
    })
}

fn leave(c: &mut Ctx) {
    let (rsp, rbp) = (c.locals.gpr(RSP), c.locals.gpr(5));
    c.emit_all([
        W::LocalGet(rbp),
        W::I32WrapI64,
        W::I64Load(mem(0)),
        W::LocalGet(rbp),
        W::I64Const(8),
        W::I64Add,
        W::LocalSet(rsp),
        W::LocalSet(rbp),
    ]);
}

fn popfq(c: &mut Ctx) {
    let (t, rsp) = (c.locals.t(0), c.locals.gpr(RSP));
    c.flags_begin(STATUS);
    c.emit_all([
        W::LocalGet(rsp),
        W::I32WrapI64,
        W::I64Load(mem(0)),
        W::LocalSet(t),
        W::LocalGet(rsp),
        W::I64Const(8),
        W::I64Add,
        W::LocalSet(rsp),
    ]);
    c.flags_from_rflags(t);
}

fn carry_ops(c: &mut Ctx) {
    let t = c.locals.t32(0);
    match c.ins.mnemonic() {
        Mnemonic::Cmc => {
            c.get_flag(CF);
            c.emit_all([W::I32Const(1), W::I32Xor, W::LocalSet(t)]);
        }
        Mnemonic::Stc => c.emit_all([W::I32Const(1), W::LocalSet(t)]),
        _ => c.emit_all([W::I32Const(0), W::LocalSet(t)]),
    }
    c.flags_begin(CF);
    c.emit(W::LocalGet(t));
    c.set_flag(CF);
}

// ---------------------------------------------------------------- strings

/// `stos*`/`movs*`, with or without `rep`, direction flag clear (`std`,
/// which would set it, is refused as an unsupported instruction).
fn string_op(c: &mut Ctx) -> R {
    use Mnemonic as M;
    let m = c.ins.mnemonic();
    let size: i64 = match m {
        M::Stosb | M::Movsb => 1,
        M::Stosw | M::Movsw => 2,
        M::Stosd | M::Movsd => 4,
        _ => 8,
    };
    let rep = c.ins.has_rep_prefix() || c.ins.has_repe_prefix();
    let (rdi, rsi, rcx, rax) = (
        c.locals.gpr(7),
        c.locals.gpr(6),
        c.locals.gpr(1),
        c.locals.gpr(RAX),
    );
    let store = match size {
        1 => W::I64Store8(mem(0)),
        2 => W::I64Store16(mem(0)),
        4 => W::I64Store32(mem(0)),
        _ => W::I64Store(mem(0)),
    };
    let load = match size {
        1 => W::I64Load8U(mem(0)),
        2 => W::I64Load16U(mem(0)),
        4 => W::I64Load32U(mem(0)),
        _ => W::I64Load(mem(0)),
    };
    let stos = matches!(m, M::Stosb | M::Stosw | M::Stosd | M::Stosq);
    let n = c.locals.t(0);
    if rep {
        c.emit_all([
            W::LocalGet(rcx),
            W::I64Const(size),
            W::I64Mul,
            W::LocalSet(n),
        ]);
        if stos && size == 1 {
            c.emit_all([
                W::LocalGet(rdi),
                W::I32WrapI64,
                W::LocalGet(rax),
                W::I32WrapI64,
                W::LocalGet(n),
                W::I32WrapI64,
                W::MemoryFill(0),
            ]);
        } else if stos {
            // element loop: a pattern wider than a byte
            c.emit_all([W::Block(BlockType::Empty), W::Loop(BlockType::Empty)]);
            c.emit_all([W::LocalGet(rcx), W::I64Eqz, W::BrIf(1)]);
            c.emit_all([W::LocalGet(rdi), W::I32WrapI64, W::LocalGet(rax), store]);
            c.emit_all([
                W::LocalGet(rdi),
                W::I64Const(size),
                W::I64Add,
                W::LocalSet(rdi),
            ]);
            c.emit_all([
                W::LocalGet(rcx),
                W::I64Const(1),
                W::I64Sub,
                W::LocalSet(rcx),
                W::Br(0),
                W::End,
                W::End,
            ]);
            return Ok(());
        } else {
            // x86 copies element by element, forwards: where the destination
            // starts inside the source (rsi < rdi < rsi + n) it reads bytes it
            // has just written (`rep movsb` with rdi = rsi + 1 spreads the
            // first byte). memory.copy is memmove; it gives the same bytes
            // in every other case, so only that one takes the element loop.
            c.emit_all([
                W::LocalGet(rdi),
                W::LocalGet(rsi),
                W::I64GtU,
                W::LocalGet(rdi),
                W::LocalGet(rsi),
                W::I64Sub,
                W::LocalGet(n),
                W::I64LtU,
                W::I32And,
                W::If(BlockType::Empty),
                W::Block(BlockType::Empty),
                W::Loop(BlockType::Empty),
                W::LocalGet(rcx),
                W::I64Eqz,
                W::BrIf(1),
                W::LocalGet(rdi),
                W::I32WrapI64,
                W::LocalGet(rsi),
                W::I32WrapI64,
                load,
                store,
            ]);
            for r in [rdi, rsi] {
                c.emit_all([W::LocalGet(r), W::I64Const(size), W::I64Add, W::LocalSet(r)]);
            }
            c.emit_all([
                W::LocalGet(rcx),
                W::I64Const(1),
                W::I64Sub,
                W::LocalSet(rcx),
                W::Br(0),
                W::End,
                W::End,
                W::Else,
                W::LocalGet(rdi),
                W::I32WrapI64,
                W::LocalGet(rsi),
                W::I32WrapI64,
                W::LocalGet(n),
                W::I32WrapI64,
                W::MemoryCopy {
                    src_mem: 0,
                    dst_mem: 0,
                },
                W::LocalGet(rsi),
                W::LocalGet(n),
                W::I64Add,
                W::LocalSet(rsi),
                W::LocalGet(rdi),
                W::LocalGet(n),
                W::I64Add,
                W::LocalSet(rdi),
                W::I64Const(0),
                W::LocalSet(rcx),
                W::End,
            ]);
            return Ok(());
        }
        c.emit_all([
            W::LocalGet(rdi),
            W::LocalGet(n),
            W::I64Add,
            W::LocalSet(rdi),
            W::I64Const(0),
            W::LocalSet(rcx),
        ]);
        return Ok(());
    }
    c.emit_all([W::LocalGet(rdi), W::I32WrapI64]);
    if stos {
        c.emit(W::LocalGet(rax));
    } else {
        c.emit_all([W::LocalGet(rsi), W::I32WrapI64, load]);
    }
    c.emit(store);
    c.emit_all([
        W::LocalGet(rdi),
        W::I64Const(size),
        W::I64Add,
        W::LocalSet(rdi),
    ]);
    if !stos {
        c.emit_all([
            W::LocalGet(rsi),
            W::I64Const(size),
            W::I64Add,
            W::LocalSet(rsi),
        ]);
    }
    Ok(())
}
