//! Operands: effective addresses, reading and writing registers and
//! memory at every operand size with x86's sub-register rules.

use super::*;


impl<'a> Ctx<'a> {
    /// The size in bits of operand `op`.
    pub fn op_bits(&self, op: u32) -> u32 {
        match self.ins.op_kind(op) {
            OpKind::Register => self.ins.op_register(op).size() as u32 * 8,
            OpKind::Memory => self.ins.memory_size().size() as u32 * 8,
            OpKind::Immediate8 => 8,
            OpKind::Immediate16 | OpKind::Immediate8to16 => 16,
            OpKind::Immediate32 | OpKind::Immediate8to32 => 32,
            _ => 64,
        }
    }

    /// Pushes the effective address of the memory operand as i32 and returns
    /// the constant offset to put in the load/store (16 more while the
    /// high half of a 256-bit operand is lowered: `vex.rs`).
    pub fn address(&mut self) -> Result<u64, TranspileError> {
        let bias = self.high_half.unwrap_or(0);
        Ok(self.operand_address()? + bias)
    }

    fn operand_address(&mut self) -> Result<u64, TranspileError> {
        let ins = self.ins;
        let mut have = false;
        match ins.memory_segment() {
            // thread-local storage: fs's base is the thread pointer
            Register::FS => {
                let tp = self.callees.thread_pointer;
                self.emit(W::I32Const(tp as u32 as i32));
                have = true;
            }
            Register::GS => return Err(self.unsupported()),
            _ => {}
        }
        if ins.is_ip_rel_memory_operand() {
            if have {
                return Err(self.unsupported());
            }
            let a = ins.ip_rel_memory_address();
            self.emit(W::I32Const(a as u32 as i32));
            return Ok(0);
        }
        let base = Reg::of(ins.memory_base());
        let index = Reg::of(ins.memory_index());
        let disp = ins.memory_displacement64();
        if let Some(b) = base {
            self.emit_all([W::LocalGet(self.locals.reg(b)), W::I32WrapI64]);
            if have {
                self.emit(W::I32Add);
            }
            have = true;
        }
        if let Some(i) = index {
            self.emit_all([W::LocalGet(self.locals.reg(i)), W::I32WrapI64]);
            let scale = ins.memory_index_scale();
            if scale > 1 {
                self.emit_all([W::I32Const(scale.trailing_zeros() as i32), W::I32Shl]);
            }
            if have {
                self.emit(W::I32Add);
            }
            have = true;
        }
        if ins.memory_base().size() == 4 {
            // 32-bit address size: the sum wraps at 32 bits, which i32 does.
            if !have {
                self.emit(W::I32Const(0));
            }
            self.emit_all([W::I32Const(disp as u32 as i32), W::I32Add]);
            return Ok(0);
        }
        if !have {
            self.emit(W::I32Const(disp as u32 as i32));
            return Ok(0);
        }
        if (disp as i64) >= 0 && disp < 0x8000_0000 {
            Ok(disp)
        } else {
            self.emit_all([W::I32Const(disp as u32 as i32), W::I32Add]);
            Ok(0)
        }
    }

    /// Pushes operand `op` as an i64, zero-extended from its size.
    pub fn read(&mut self, op: u32) -> Result<(), TranspileError> {
        let bits = self.op_bits(op);
        self.read_sized(op, bits)
    }

    /// Pushes operand `op` read at `bits`, zero-extended to i64.
    pub fn read_sized(&mut self, op: u32, bits: u32) -> Result<(), TranspileError> {
        self.read_inner(op, bits, true)
    }

    /// Pushes operand `op` with only its low `bits` meaningful: a register is
    /// not masked. For operations whose low result bits depend only on the
    /// low operand bits (add, sub, logic) when the write masks anyway.
    pub fn read_low(&mut self, op: u32, bits: u32) -> Result<(), TranspileError> {
        self.read_inner(op, bits, false)
    }

    fn read_inner(&mut self, op: u32, bits: u32, zero_extend: bool) -> Result<(), TranspileError> {
        match self.ins.op_kind(op) {
            OpKind::Register => {
                let register = self.ins.op_register(op);
                let r = Reg::of(register).ok_or_else(|| self.unsupported())?;
                if let Reg::Xmm(_) = r {
                    return Err(self.unsupported());
                }
                self.emit(W::LocalGet(self.locals.reg(r)));
                if is_high_byte(register) {
                    self.emit_all([W::I64Const(8), W::I64ShrU]);
                }
                if bits == 32 && zero_extend {
                    // (3 bytes where the mask takes 8; the peephole knows
                    // the result's upper half is zero)
                    self.emit_all([W::I32WrapI64, W::I64ExtendI32U]);
                } else if bits < 64 && zero_extend {
                    self.emit_all([W::I64Const(mask(bits) as i64), W::I64And]);
                }
            }
            OpKind::Memory => {
                let offset = self.address()?;
                let m = mem(offset);
                self.emit(match bits {
                    8 => W::I64Load8U(m),
                    16 => W::I64Load16U(m),
                    32 => W::I64Load32U(m),
                    64 => W::I64Load(m),
                    _ => return Err(self.unsupported()),
                });
            }
            kind if is_immediate(kind) => {
                let v = self.ins.immediate(op) & mask(bits);
                self.emit(W::I64Const(v as i64));
            }
            _ => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// Writes operand `op` (size from the operand) with the i64 that `value`
    /// pushes; only its low bits count. x86 rules: a 32-bit register write
    /// zeroes bits 32..63, 8- and 16-bit writes keep the rest.
    pub fn write(
        &mut self,
        op: u32,
        value: impl FnOnce(&mut Self) -> Result<(), TranspileError>,
    ) -> Result<(), TranspileError> {
        let bits = self.op_bits(op);
        match self.ins.op_kind(op) {
            OpKind::Register => {
                let register = self.ins.op_register(op);
                self.write_reg(register, bits, value)
            }
            OpKind::Memory => {
                let offset = self.address()?;
                value(self)?;
                let m = mem(offset);
                self.emit(match bits {
                    8 => W::I64Store8(m),
                    16 => W::I64Store16(m),
                    32 => W::I64Store32(m),
                    64 => W::I64Store(m),
                    _ => return Err(self.unsupported()),
                });
                Ok(())
            }
            _ => Err(self.unsupported()),
        }
    }

    /// Writes a general register at `bits` with x86's sub-register rules.
    pub fn write_reg(
        &mut self,
        register: Register,
        bits: u32,
        value: impl FnOnce(&mut Self) -> Result<(), TranspileError>,
    ) -> Result<(), TranspileError> {
        let r = Reg::of(register).ok_or_else(|| self.unsupported())?;
        let local = self.locals.reg(r);
        match bits {
            64 => {
                value(self)?;
                self.emit(W::LocalSet(local));
            }
            32 => {
                value(self)?;
                // zero-extend from 32 bits (one machine `mov r32, r32` in V8)
                self.emit_all([W::I32WrapI64, W::I64ExtendI32U, W::LocalSet(local)]);
            }
            8 | 16 => {
                let shift = if is_high_byte(register) { 8 } else { 0 };
                let m = mask(bits) << shift;
                self.emit_all([W::LocalGet(local), W::I64Const(!m as i64), W::I64And]);
                value(self)?;
                if shift != 0 {
                    self.emit_all([W::I64Const(shift), W::I64Shl]);
                }
                self.emit_all([
                    W::I64Const(m as i64),
                    W::I64And,
                    W::I64Or,
                    W::LocalSet(local),
                ]);
            }
            _ => return Err(self.unsupported()),
        }
        Ok(())
    }
}

/// True for the operand kinds of an immediate (iced's `immediate(op)` reads
/// them, sign-extended where the kind says so).
pub fn is_immediate(kind: OpKind) -> bool {
    matches!(
        kind,
        OpKind::Immediate8
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate64
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32
            | OpKind::Immediate8to64
            | OpKind::Immediate32to64
    )
}

/// True for `ah`, `ch`, `dh`, `bh`.
pub fn is_high_byte(r: Register) -> bool {
    matches!(r, Register::AH | Register::CH | Register::DH | Register::BH)
}

/// The low `bits` bits set.
pub fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}


