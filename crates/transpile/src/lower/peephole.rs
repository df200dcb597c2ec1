//! `Ctx::emit`: every wasm instruction goes through a one-instruction
//! peephole (constant folding of wraps and extensions, identity ops,
//! set+get into tee, wrap+extend of values known to be zero-extended).

use super::*;


impl<'a> Ctx<'a> {
    /// Appends one wasm instruction, through a one-instruction peephole
    /// that folds what the generic lowering spells long-hand: a constant
    /// followed by a wrap or extend becomes one constant, an identity
    /// operation on a constant operand (`x & -1`, `x | 0`, `x + 0`, `x << 0`,
    /// ...) disappears, `x == 0` becomes `eqz`, `local.set t; local.get t`
    /// becomes `local.tee t`, `i32.wrap_i64; i64.extend_i32_u` of a value
    /// known to have a zero upper half (also a local last set to one, within
    /// straight-line code) disappears, and so do `extend_i32_u;
    /// wrap`; two sign or zero extensions in a row become one.
    /// Each rewrite leaves the stack and every local exactly as before.
    #[inline]
    pub fn emit(&mut self, i: W<'static>) {
        self.emit_ref(&i);
        discard(i);
    }

    fn emit_ref(&mut self, i: &W<'static>) {
        // one dispatch on the wasm-encoder variant; the rest works on `k`
        let k = Kind::of(i);
        // a pending flag producer reading a register about to change, or
        // control flow about to split, keeps its own copy first
        match k {
            Kind::Set(l) | Kind::Tee(l) if self.flags.refers_to(Some(l)) => {
                self.spill_flag_operands(Some(l))
            }
            Kind::Opens if self.flags.refers_to(None) => self.spill_flag_operands(None),
            _ => {}
        }
        if self.last_wraps_zext && k == Kind::Byte(op::I64_EXTEND_I32_U) {
            // `wrap; extend_u` of a value whose upper half is zero: the value
            self.body.truncate(self.last_at);
            self.last = Kind::Other;
            self.last_wraps_zext = false;
            self.top_is_zext = true;
            return;
        }
        let top_was_zext = self.top_is_zext;
        let top_was_const = match self.last {
            Kind::I64Const(c) => Some(c),
            _ => None,
        };
        let folded = match (self.last, k) {
            (Kind::I64Const(c), Kind::Byte(op::I32_WRAP_I64)) => Some(Kind::I32Const(c as i32)),
            (Kind::I32Const(c), Kind::Byte(op::I64_EXTEND_I32_U)) => {
                Some(Kind::I64Const(c as u32 as i64))
            }
            (Kind::I32Const(c), Kind::Byte(op::I64_EXTEND_I32_S)) => Some(Kind::I64Const(c as i64)),
            (Kind::I64Const(-1), Kind::Byte(op::I64_AND))
            | (
                Kind::I64Const(0),
                Kind::Byte(
                    op::I64_OR
                    | op::I64_XOR
                    | op::I64_ADD
                    | op::I64_SUB
                    | op::I64_SHL
                    | op::I64_SHR_U
                    | op::I64_SHR_S,
                ),
            )
            | (Kind::I64Const(1), Kind::Byte(op::I64_MUL))
            | (Kind::I32Const(-1), Kind::Byte(op::I32_AND))
            | (
                Kind::I32Const(0),
                Kind::Byte(op::I32_OR | op::I32_XOR | op::I32_ADD | op::I32_SUB),
            ) => Some(Kind::Other),
            (Kind::Set(a), Kind::Get(b)) if a == b => Some(Kind::Tee(a)),
            (Kind::I64Const(0), Kind::Byte(op::I64_EQ)) => Some(Kind::Byte(op::I64_EQZ)),
            (Kind::I32Const(0), Kind::Byte(op::I32_EQ)) => Some(Kind::Byte(op::I32_EQZ)),
            // extensions of extensions
            (Kind::Byte(op::I64_EXTEND_I32_U), Kind::Byte(op::I64_EXTEND32_S)) => {
                Some(Kind::Byte(op::I64_EXTEND_I32_S))
            }
            (Kind::Byte(op::I32_WRAP_I64), Kind::Byte(op::I64_EXTEND_I32_S)) => {
                Some(Kind::Byte(op::I64_EXTEND32_S))
            }
            (Kind::Byte(op::I64_EXTEND_I32_U), Kind::Byte(op::I32_WRAP_I64)) => Some(Kind::Other),
            _ => None,
        };
        if let Some(replacement) = folded {
            // the last instruction and this one become `replacement`
            // (`Other`: nothing)
            self.body.truncate(self.last_at);
            self.top_is_zext = match replacement {
                Kind::I64Const(c) => (0..=u32::MAX as i64).contains(&c),
                Kind::Tee(_) => self.last_sets_zext,
                _ => false,
            };
            self.last_sets_zext = false;
            self.last_wraps_zext = false;
            if replacement != Kind::Other {
                let encoded = replacement.encode(&mut self.body);
                debug_assert!(encoded);
            }
            self.last = replacement;
            return;
        }
        // what `i` leaves on the stack, from what was on top before it
        self.last_wraps_zext = top_was_zext && k == Kind::Byte(op::I32_WRAP_I64);
        self.last_sets_zext = top_was_zext && matches!(k, Kind::Set(_));
        match k {
            Kind::Set(l) | Kind::Tee(l) if l < 64 => {
                if top_was_zext {
                    self.zext_locals |= 1 << l;
                } else {
                    self.zext_locals &= !(1 << l);
                }
            }
            Kind::Opens | Kind::Control => self.zext_locals = 0,
            _ => {}
        }
        self.top_is_zext = match k {
            Kind::Get(l) => self.local_is_zext(l),
            Kind::Memory {
                opcode: op::I64_LOAD8_U | op::I64_LOAD16_U | op::I64_LOAD32_U,
                ..
            }
            | Kind::Byte(op::I64_EXTEND_I32_U | op::I64_POPCNT | op::I64_CLZ | op::I64_CTZ) => true,
            Kind::I64Const(c) => (0..=u32::MAX as i64).contains(&c),
            // and: no wider than its second operand; tee: the value stays
            Kind::Byte(op::I64_AND) | Kind::Tee(_) => top_was_zext,
            Kind::Byte(op::I64_SHR_U) => top_was_const.is_some_and(|c| c & 63 >= 32),
            _ => false,
        };
        self.last_at = self.body.len();
        self.last = k;
        encode(k, i, &mut self.body);
    }

    /// Appends several wasm instructions.
    #[inline]
    pub fn emit_all<const N: usize>(&mut self, is: [W<'static>; N]) {
        // by reference, then the array dropped at once as [`discard`] drops
        // one: moving each element out of the array measured 4% slower
        for i in &is {
            self.emit_ref(i);
        }
        if is.iter().any(|i| matches!(i, W::BrTable(..))) {
            drop(is);
        } else {
            std::mem::forget(is);
        }
    }

    /// True when operand `op` read at 32 bits is its whole 64-bit value as
    /// well: a 32-bit load (zero-extending), or a register the peephole knows
    /// was last set to a value with a zero upper half in this straight-line
    /// code.
    pub fn zero_extended(&self, op: u32) -> bool {
        match self.ins.op_kind(op) {
            OpKind::Memory => true,
            OpKind::Register => {
                let register = self.ins.op_register(op);
                match Reg::of(register) {
                    Some(r @ Reg::Gpr(_)) if !is_high_byte(register) => {
                        self.local_is_zext(self.locals.reg(r))
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    }

    /// True if local `l` holds a value with a zero upper half, as far as
    /// the peephole knows (`zext_locals`).
    fn local_is_zext(&self, l: u32) -> bool {
        l < 64 && self.zext_locals & (1 << l) != 0
    }
}
