//! Lazy flags. CF, PF, ZF, SF and OF are computed only where a later
//! instruction reads them (backward liveness over the CFG), and an arithmetic
//! instruction whose flags are live does not compute them at all: it records
//! where its operands and result are as the *pending producer*, and a reader
//! derives what it needs from those (`cmp a, b; jl` becomes `i32.lt_s a b`).
//! Flags are stored in their own i32 locals only when the producer is
//! replaced while they are still live, or at a block's end.
//!
//! The operands are not copied when they need not be: a register operand is
//! read from the register's own local, a constant is a constant, and the
//! result of `cmp`/`test` is computed only by a reader that needs it. When a
//! register the producer refers to is about to be overwritten (a
//! `local.set`/`local.tee` of its local), or an instruction opens control flow
//! of its own, [`Ctx::emit`] first copies the old value to the operand's own
//! local (`fa`, `fb`, `fr`): [`Ctx::spill_flag_operands`].
//!
//! Invariant: every flag is either owned by the pending producer (it is in
//! `written`) or up to date in its local.
//!
//! AF is not modelled (nothing rustc or gcc emits for x86-64 reads it);
//! `pushfq` stores it as 0.

use iced_x86::{ConditionCode, FlowControl, Instruction, Mnemonic, OpKind, RflagsBits};
use wasm_encoder::Instruction as W;

use super::Ctx;
use crate::cfg::{BlockId, Cfg, Terminator};
use crate::decode::Function;
use crate::error::TranspileError;

/// CF.
pub const CF: u32 = RflagsBits::CF;
/// PF.
pub const PF: u32 = RflagsBits::PF;
/// ZF.
pub const ZF: u32 = RflagsBits::ZF;
/// SF.
pub const SF: u32 = RflagsBits::SF;
/// OF.
pub const OF: u32 = RflagsBits::OF;
/// The status flags the lowering models.
pub const STATUS: u32 = CF | PF | ZF | SF | OF;
const ORDER: [u32; 5] = [CF, PF, ZF, SF, OF];

/// What computed the pending flags, and how to derive each flag from
/// `fa` (first operand), `fb` (second), `fr` (result), all masked to `bits`,
/// and `fc` (carry in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Producer {
    Add,
    Adc,
    Sub,
    Sbb,
    /// and/or/xor/test: CF = OF = 0.
    Logic,
    Inc,
    Dec,
    Neg,
}

/// Where an operand or the result of the pending producer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val {
    /// An i64 local holding the value masked to the producer's width.
    Local(u32),
    /// A register's i64 local: its low `bits` are the value.
    Reg(u32),
    /// A constant, masked to the producer's width.
    Const(u64),
    /// Not computed: `a - b` (`cmp`) or `a & b` (`test`), made by the reader.
    Lazy,
    /// No flag of this producer reads it (the operands of and/or/xor).
    Unused,
}

/// How [`Ctx::push_val`] pushes a value of the producer's width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum As {
    /// i64, zero-extended.
    Zext,
    /// i64, sign-extended.
    Sext,
    /// i32 (32-bit producers only).
    I32,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    kind: Producer,
    bits: u32,
    written: u32,
    a: Val,
    b: Val,
    r: Val,
}

impl Pending {
    fn refers_to_registers(&self) -> bool {
        [self.a, self.b, self.r]
            .iter()
            .any(|v| matches!(v, Val::Reg(_)))
    }
}

/// Flag bookkeeping of one function.
pub(crate) struct FlagState {
    pending: Option<Pending>,
    live_in: Vec<u32>,
    /// [`effect`] of each instruction, by index in the function: computed
    /// once for the liveness of blocks and of each instruction.
    effects: Vec<(u32, u32)>,
}

impl FlagState {
    pub fn new(function: &Function, cfg: &Cfg) -> FlagState {
        let effects: Vec<(u32, u32)> = function.instructions.iter().map(effect).collect();
        FlagState {
            pending: None,
            live_in: live_in(function, cfg, &effects),
            effects,
        }
    }

    /// At a block start all flags are in their locals.
    pub fn enter_block(&mut self) {
        self.pending = None;
    }

    /// After a call nothing of the pending producer survives; after a
    /// block's terminator has read it, nothing needs it.
    pub fn clobber_all(&mut self) {
        self.pending = None;
    }

    /// True when the pending producer reads `local` (any register local when
    /// `None`): what [`Ctx::emit`] must spill before overwriting it.
    pub fn refers_to(&self, local: Option<u32>) -> bool {
        match (&self.pending, local) {
            (Some(p), None) => p.refers_to_registers(),
            (Some(p), Some(l)) => [p.a, p.b, p.r].contains(&Val::Reg(l)),
            (None, _) => false,
        }
    }

    /// Flags live at the end of block `b`.
    pub fn live_out(&self, cfg: &Cfg, b: BlockId) -> u32 {
        let mut live = 0;
        cfg.blocks[b.0].each_successor(|s| {
            live |= self.live_in.get(s.0).copied().unwrap_or(STATUS);
        });
        live
    }
}

/// Flags an instruction reads and writes, for liveness. A shift or rotate by a
/// count that may be 0 leaves the flags as they were, so it also reads them.
pub fn effect(ins: &Instruction) -> (u32, u32) {
    if matches!(
        ins.flow_control(),
        FlowControl::Call | FlowControl::IndirectCall
    ) {
        return (0, STATUS);
    }
    let read = ins.rflags_read() & STATUS;
    let written = ins.rflags_modified() & STATUS;
    let count_op = match ins.mnemonic() {
        Mnemonic::Shl
        | Mnemonic::Sal
        | Mnemonic::Shr
        | Mnemonic::Sar
        | Mnemonic::Rol
        | Mnemonic::Ror
        | Mnemonic::Rcl
        | Mnemonic::Rcr => Some(1),
        Mnemonic::Shld | Mnemonic::Shrd => Some(2),
        _ => None,
    };
    if let Some(op) = count_op {
        if ins.op_count() <= op {
            return (read, written); // the one-operand form shifts by 1
        }
        if ins.op_kind(op) == OpKind::Register {
            return (read | written, written);
        }
        let bits = if ins.op0_kind() == OpKind::Register {
            ins.op0_register().size()
        } else {
            ins.memory_size().size()
        };
        let limit = if bits == 8 { 63 } else { 31 };
        if ins.immediate(op) & limit == 0 {
            return (0, 0);
        }
    }
    (read, written)
}

/// Live-in flags of every block (fixpoint of backward liveness), from each
/// instruction's [`effect`].
fn live_in(function: &Function, cfg: &Cfg, effects: &[(u32, u32)]) -> Vec<u32> {
    let n = cfg.blocks.len();
    let mut gen = vec![0u32; n];
    let mut kill = vec![0u32; n];
    for (b, block) in cfg.blocks.iter().enumerate() {
        let mut live_gen = 0u32;
        let mut killed = 0u32;
        for idx in block.instructions.clone().rev() {
            let ins = &function.instructions[idx];
            let (r, w) = if idx + 1 == block.instructions.end
                && idx - block.instructions.start >= block.body
            {
                terminator_reads(function, ins)
            } else {
                effects[idx]
            };
            live_gen = (live_gen & !w) | r;
            killed |= w;
        }
        gen[b] = live_gen;
        kill[b] = killed;
    }
    let mut live = vec![0u32; n];
    let mut changed = true;
    while changed {
        changed = false;
        for b in (0..n).rev() {
            let out = match cfg.blocks[b].terminator {
                Terminator::Return | Terminator::TailCall | Terminator::Trap => 0,
                _ => {
                    let mut out = 0;
                    cfg.blocks[b].each_successor(|s| out |= live[s.0]);
                    out
                }
            };
            let new = gen[b] | (out & !kill[b]);
            if new != live[b] {
                live[b] = new;
                changed = true;
            }
        }
    }
    live
}

/// A terminator instruction only reads (a `jcc`); calls that trap read nothing.
fn terminator_reads(function: &Function, ins: &Instruction) -> (u32, u32) {
    if function.is_trap(ins) {
        return (0, 0);
    }
    (ins.rflags_read() & STATUS, 0)
}

/// Flags live after each body instruction of block `b`.
pub(crate) fn live_after_each(ctx: &Ctx, b: BlockId, live_out: u32, out: &mut Vec<u32>) {
    let block = &ctx.cfg.blocks[b.0];
    let ins = &ctx.function.instructions;
    let mut live = live_out;
    if block.body < block.instructions.len() {
        let term = &ins[block.instructions.end - 1];
        live |= terminator_reads(ctx.function, term).0;
    }
    out.clear();
    out.resize(block.body, 0);
    for k in (0..block.body).rev() {
        out[k] = live;
        let (r, w) = ctx.flags.effects[block.instructions.start + k];
        live = (live & !w) | r;
    }
}

fn flag_index(flag: u32) -> usize {
    ORDER
        .iter()
        .position(|&f| f == flag)
        .expect("a status flag")
}

impl Ctx<'_> {
    /// The local holding `flag` when it is not pending.
    pub fn flag_local(&self, flag: u32) -> u32 {
        self.locals.flag(flag_index(flag))
    }

    /// Before an instruction that writes `written` replaces the pending
    /// producer: stores the old producer's flags that stay live.
    pub fn flags_begin(&mut self, written: u32) {
        if let Some(p) = self.flags.pending.take() {
            let keep = p.written & self.live_after & !written;
            self.materialize_from(p, keep);
        }
    }

    /// Makes the instruction just lowered the pending producer of `written`
    /// (its operands are in fa/fb/fr/fc), if any of them is live.
    pub fn flags_pending(&mut self, kind: Producer, bits: u32, written: u32) {
        let (a, b, r) = (self.locals.fa(), self.locals.fb(), self.locals.fr());
        self.flags_pending_at(
            kind,
            bits,
            written,
            [Val::Local(a), Val::Local(b), Val::Local(r)],
        );
    }

    /// [`Ctx::flags_pending`] with the operands and result `[a, b, r]` where
    /// the instruction left them.
    pub fn flags_pending_at(&mut self, kind: Producer, bits: u32, written: u32, at: [Val; 3]) {
        if self.live_after & written != 0 {
            let [a, b, r] = at;
            self.flags.pending = Some(Pending {
                kind,
                bits,
                written,
                a,
                b,
                r,
            });
        }
    }

    /// Where operand `op` of the instruction is for a flag producer of
    /// `bits`: its register, its constant, or (memory, high-byte registers)
    /// read into `temp`.
    pub fn flag_operand(&mut self, op: u32, bits: u32, temp: u32) -> Result<Val, TranspileError> {
        match self.ins.op_kind(op) {
            OpKind::Register if !super::is_high_byte(self.ins.op_register(op)) => {
                if let Some(r @ super::Reg::Gpr(_)) = super::Reg::of(self.ins.op_register(op)) {
                    return Ok(Val::Reg(self.locals.reg(r)));
                }
            }
            kind if super::is_immediate(kind) => {
                return Ok(Val::Const(self.ins.immediate(op) & super::mask(bits)))
            }
            _ => {}
        }
        self.read_sized(op, bits)?;
        self.emit(W::LocalSet(temp));
        Ok(Val::Local(temp))
    }

    /// Copies the pending producer's operands that live in register `local`
    /// (every register when `None`) to their own locals, before the register
    /// is overwritten or control flow splits. Called by [`Ctx::emit`] only;
    /// the new value may already be on the stack, which this leaves alone.
    pub fn spill_flag_operands(&mut self, local: Option<u32>) {
        let Some(mut p) = self.flags.pending.take() else {
            return;
        };
        let reading_now = if self.own_flags_read {
            0
        } else {
            effect(&self.ins).0
        };
        if p.written & (self.live_after | reading_now) == 0 {
            // no later instruction (nor this one, still) reads its flags: it
            // is dropped rather than kept
            return;
        }
        let temps = [self.locals.fa(), self.locals.fb(), self.locals.fr()];
        let mut slots = [p.a, p.b, p.r];
        for k in 0..3 {
            let Val::Reg(l) = slots[k] else { continue };
            if local.is_some_and(|x| x != l) {
                continue;
            }
            self.emit(W::LocalGet(l));
            if p.bits < 64 {
                self.emit_all([W::I64Const(super::mask(p.bits) as i64), W::I64And]);
            }
            self.emit(W::LocalSet(temps[k]));
            for slot in slots.iter_mut().skip(k) {
                if *slot == Val::Reg(l) {
                    *slot = Val::Local(temps[k]);
                }
            }
        }
        [p.a, p.b, p.r] = slots;
        self.flags.pending = Some(p);
    }

    /// Pushes value `v` of producer `p` as `how` says.
    fn push_val(&mut self, p: Pending, v: Val, how: As) {
        match v {
            Val::Local(l) | Val::Reg(l) => {
                self.emit(W::LocalGet(l));
                match how {
                    As::I32 => self.emit(W::I32WrapI64),
                    As::Sext => self.sign_extend(p.bits),
                    // (3 bytes where the mask takes 8)
                    As::Zext if p.bits == 32 && matches!(v, Val::Reg(_)) => {
                        self.emit_all([W::I32WrapI64, W::I64ExtendI32U])
                    }
                    As::Zext if p.bits < 64 && matches!(v, Val::Reg(_)) => {
                        self.emit_all([W::I64Const(super::mask(p.bits) as i64), W::I64And])
                    }
                    As::Zext => {}
                }
            }
            Val::Const(c) => self.emit(match how {
                As::I32 => W::I32Const(c as i32),
                As::Zext => W::I64Const(c as i64),
                As::Sext => {
                    let shift = 64 - p.bits;
                    W::I64Const(((c << shift) as i64) >> shift)
                }
            }),
            Val::Lazy => {
                let same = p.a == p.b;
                if how == As::I32 {
                    self.push_val(p, p.a, As::I32);
                    if !(same && p.kind == Producer::Logic) {
                        self.push_val(p, p.b, As::I32);
                        self.emit(if p.kind == Producer::Logic {
                            W::I32And
                        } else {
                            W::I32Sub
                        });
                    }
                    return;
                }
                // `a & constant`: the constant is masked already, so `a` need not be
                let raw = p.kind == Producer::Logic && matches!(p.b, Val::Const(_));
                match p.a {
                    Val::Reg(l) if raw => self.emit(W::LocalGet(l)),
                    a => self.push_val(p, a, As::Zext),
                }
                if !(same && p.kind == Producer::Logic) {
                    self.push_val(p, p.b, As::Zext);
                    if p.kind == Producer::Logic {
                        self.emit(W::I64And);
                    } else {
                        self.emit(W::I64Sub);
                        if p.bits < 64 {
                            self.emit_all([W::I64Const(super::mask(p.bits) as i64), W::I64And]);
                        }
                    }
                }
                if how == As::Sext {
                    self.sign_extend(p.bits);
                }
            }
            Val::Unused => unreachable!("a flag read an operand its producer did not keep"),
        }
    }

    /// True when any of `flags` is live after this instruction.
    pub fn flags_needed(&self, flags: u32) -> bool {
        self.live_after & flags != 0
    }

    /// Stores the pending flags in `mask` to their locals (the producer stays).
    pub fn flags_materialize(&mut self, mask: u32) {
        if let Some(p) = self.flags.pending {
            self.materialize_from(p, mask & p.written);
        }
    }

    fn materialize_from(&mut self, p: Pending, mask: u32) {
        for flag in ORDER {
            if mask & flag != 0 {
                self.pending_flag(p, flag);
                self.emit(W::LocalSet(self.flag_local(flag)));
            }
        }
    }

    /// Pushes `flag` (i32 0 or 1) from wherever it is.
    pub fn get_flag(&mut self, flag: u32) {
        match self.flags.pending {
            Some(p) if p.written & flag != 0 => self.pending_flag(p, flag),
            _ => self.emit(W::LocalGet(self.flag_local(flag))),
        }
    }

    /// Sign-extends the i64 on the stack from `bits`.
    fn sign_extend(&mut self, bits: u32) {
        match bits {
            8 => self.emit(W::I64Extend8S),
            16 => self.emit(W::I64Extend16S),
            32 => self.emit(W::I64Extend32S),
            _ => {}
        }
    }

    /// Pushes `flag` computed from the pending producer.
    fn pending_flag(&mut self, p: Pending, flag: u32) {
        let c = self.locals.fc();
        let top = (p.bits - 1) as i64;
        let sign = 1i64.wrapping_shl(p.bits - 1);
        let (a, b, r) = (p.a, p.b, p.r);
        let z = As::Zext;
        match flag {
            CF => match p.kind {
                Producer::Add | Producer::Adc | Producer::Sub | Producer::Sbb => {
                    // add: the result wrapped below the first operand;
                    // sub: the first operand is below the second
                    let (x, y) = match p.kind {
                        Producer::Add | Producer::Adc => (r, a),
                        _ => (a, b),
                    };
                    self.push_val(p, x, z);
                    self.push_val(p, y, z);
                    self.emit(W::I64LtU);
                    if matches!(p.kind, Producer::Adc | Producer::Sbb) {
                        // with a carry in, equality also means a carry out
                        self.push_val(p, x, z);
                        self.push_val(p, y, z);
                        self.emit_all([W::I64Eq, W::LocalGet(c), W::I32And, W::I32Or]);
                    }
                }
                Producer::Logic => self.emit(W::I32Const(0)),
                Producer::Neg => {
                    self.push_val(p, a, z);
                    self.emit_all([W::I64Const(0), W::I64Ne]);
                }
                Producer::Inc | Producer::Dec => unreachable!("inc/dec do not write CF"),
            },
            ZF => {
                self.push_val(p, r, z);
                self.emit(W::I64Eqz);
            }
            SF => {
                self.push_val(p, r, z);
                self.emit_all([W::I64Const(top), W::I64ShrU, W::I32WrapI64]);
            }
            OF => match p.kind {
                Producer::Add | Producer::Adc | Producer::Sub | Producer::Sbb => {
                    // add: the operands agree in sign and the result does not;
                    // sub: they differ and the result differs from the first
                    // (sign bit of `(x ^ y) & (u ^ r)`)
                    let (y, u) = match p.kind {
                        Producer::Add | Producer::Adc => (r, b),
                        _ => (b, a),
                    };
                    self.push_val(p, a, z);
                    self.push_val(p, y, z);
                    self.emit(W::I64Xor);
                    self.push_val(p, u, z);
                    self.push_val(p, r, z);
                    self.emit_all([
                        W::I64Xor,
                        W::I64And,
                        W::I64Const(top),
                        W::I64ShrU,
                        W::I32WrapI64,
                        W::I32Const(1),
                        W::I32And,
                    ]);
                }
                Producer::Logic => self.emit(W::I32Const(0)),
                Producer::Inc => {
                    self.push_val(p, r, z);
                    self.emit_all([W::I64Const(sign), W::I64Eq]);
                }
                Producer::Dec => {
                    self.push_val(p, r, z);
                    self.emit_all([
                        W::I64Const(sign.wrapping_sub(1) & super::mask(p.bits) as i64),
                        W::I64Eq,
                    ]);
                }
                Producer::Neg => {
                    self.push_val(p, a, z);
                    self.emit_all([W::I64Const(sign), W::I64Eq]);
                }
            },
            PF => {
                self.push_val(p, r, z);
                self.parity_of_top();
            }
            _ => unreachable!("not a status flag"),
        }
    }

    /// Pushes PF of the low byte of i64 local `r`: 1 when it has an even number of ones.
    pub fn parity_of(&mut self, r: u32) {
        self.emit(W::LocalGet(r));
        self.parity_of_top();
    }

    /// Replaces the i64 on the stack by PF of its low byte (i32).
    fn parity_of_top(&mut self) {
        self.emit_all([
            W::I64Const(0xff),
            W::I64And,
            W::I64Popcnt,
            W::I32WrapI64,
            W::I32Const(1),
            W::I32And,
            W::I32Const(1),
            W::I32Xor,
        ]);
    }

    /// Pushes the condition `cc` (i32 0 or 1).
    pub fn condition(&mut self, cc: ConditionCode) {
        // the instruction's own read of the flags is this one (setcc, cmovcc,
        // jcc read nothing else): its write to a producer's operand need not
        // keep that operand for it
        self.own_flags_read = true;
        if let Some(p) = self.flags.pending {
            if p.written & STATUS == STATUS && self.fused_condition(p, cc) {
                return;
            }
        }
        match cc {
            ConditionCode::o => self.get_flag(OF),
            ConditionCode::no => {
                self.get_flag(OF);
                self.emit(W::I32Eqz);
            }
            ConditionCode::b => self.get_flag(CF),
            ConditionCode::ae => {
                self.get_flag(CF);
                self.emit(W::I32Eqz);
            }
            ConditionCode::e => self.get_flag(ZF),
            ConditionCode::ne => {
                self.get_flag(ZF);
                self.emit(W::I32Eqz);
            }
            ConditionCode::be | ConditionCode::a => {
                self.get_flag(CF);
                self.get_flag(ZF);
                self.emit(W::I32Or);
                if cc == ConditionCode::a {
                    self.emit(W::I32Eqz);
                }
            }
            ConditionCode::s => self.get_flag(SF),
            ConditionCode::ns => {
                self.get_flag(SF);
                self.emit(W::I32Eqz);
            }
            ConditionCode::p => self.get_flag(PF),
            ConditionCode::np => {
                self.get_flag(PF);
                self.emit(W::I32Eqz);
            }
            ConditionCode::l | ConditionCode::ge => {
                self.get_flag(SF);
                self.get_flag(OF);
                self.emit(if cc == ConditionCode::l {
                    W::I32Ne
                } else {
                    W::I32Eq
                });
            }
            ConditionCode::le | ConditionCode::g => {
                self.get_flag(SF);
                self.get_flag(OF);
                self.emit(W::I32Ne);
                self.get_flag(ZF);
                self.emit(W::I32Or);
                if cc == ConditionCode::g {
                    self.emit(W::I32Eqz);
                }
            }
            ConditionCode::None => self.emit(W::I32Const(1)),
        }
    }

    /// Pushes `cc` straight from the pending producer's operands when it is
    /// `cmp`/`sub` (`a < b`) or a logic op (`r == 0`); false when `cc` needs
    /// the flags themselves. 32-bit operands are compared as i32.
    fn fused_condition(&mut self, p: Pending, cc: ConditionCode) -> bool {
        use ConditionCode as C;
        let i32 = p.bits == 32;
        // `cmp` compares a with b; a logic op, its result with 0 (`None`)
        let (first, second) = match p.kind {
            Producer::Sub => (p.a, Some(p.b)),
            Producer::Logic => (p.r, None),
            _ => return false,
        };
        let signed = matches!(cc, C::l | C::ge | C::le | C::g);
        // a logic op's CF is 0: `be` is `e` and `a` is `ne`
        let cc = match (second, cc) {
            (None, C::be) => C::e,
            (None, C::a) => C::ne,
            _ => cc,
        };
        let compare = match (cc, i32) {
            (C::e, false) => W::I64Eq,
            (C::ne, false) => W::I64Ne,
            (C::b, false) => W::I64LtU,
            (C::ae, false) => W::I64GeU,
            (C::be, false) => W::I64LeU,
            (C::a, false) => W::I64GtU,
            (C::l, false) => W::I64LtS,
            (C::ge, false) => W::I64GeS,
            (C::le, false) => W::I64LeS,
            (C::g, false) => W::I64GtS,
            (C::e, true) => W::I32Eq,
            (C::ne, true) => W::I32Ne,
            (C::b, true) => W::I32LtU,
            (C::ae, true) => W::I32GeU,
            (C::be, true) => W::I32LeU,
            (C::a, true) => W::I32GtU,
            (C::l, true) => W::I32LtS,
            (C::ge, true) => W::I32GeS,
            (C::le, true) => W::I32LeS,
            (C::g, true) => W::I32GtS,
            _ => return false,
        };
        if second.is_none() && !matches!(cc, C::e | C::ne) && !signed {
            return false; // b/ae of a logic op: CF, from the general path
        }
        let how = if i32 {
            As::I32
        } else if signed {
            As::Sext
        } else {
            As::Zext
        };
        self.push_val(p, first, how);
        match (second, i32) {
            (Some(v), _) => self.push_val(p, v, how),
            (None, true) => self.emit(W::I32Const(0)),
            (None, false) => self.emit(W::I64Const(0)),
        }
        // (the peephole turns a compare for equality with 0 into eqz)
        self.emit(compare);
        true
    }

    /// Pushes the branch condition of a `jcc` (also `jrcxz`/`jecxz`).
    pub fn condition_of(&mut self, jcc: &Instruction) -> Result<(), TranspileError> {
        match jcc.mnemonic() {
            Mnemonic::Jrcxz => self.emit_all([W::LocalGet(self.locals.gpr(1)), W::I64Eqz]),
            Mnemonic::Jecxz => self.emit_all([
                W::LocalGet(self.locals.gpr(1)),
                W::I64Const(0xffff_ffff),
                W::I64And,
                W::I64Eqz,
            ]),
            _ if jcc.condition_code() != ConditionCode::None => {
                self.condition(jcc.condition_code())
            }
            _ => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// Stores all five flags from an RFLAGS image (i64 in local `v`): `popfq`.
    pub fn flags_from_rflags(&mut self, v: u32) {
        self.flags.pending = None;
        for (flag, bit) in [(CF, 0), (PF, 2), (ZF, 6), (SF, 7), (OF, 11)] {
            self.emit_all([
                W::LocalGet(v),
                W::I64Const(bit),
                W::I64ShrU,
                W::I32WrapI64,
                W::I32Const(1),
                W::I32And,
                W::LocalSet(self.flag_local(flag)),
            ]);
        }
    }

    /// Pushes an RFLAGS image (i64) of the current flags: `pushfq`.
    pub fn push_rflags(&mut self) {
        self.emit(W::I64Const(0x202)); // reserved bit 1 and IF, as user code sees them
        for (flag, bit) in [(CF, 0), (PF, 2), (ZF, 6), (SF, 7), (OF, 11)] {
            self.get_flag(flag);
            self.emit_all([W::I64ExtendI32U, W::I64Const(bit), W::I64Shl, W::I64Or]);
        }
    }

    /// Sets a flag local to the i32 the caller pushed; drops it from the producer.
    pub fn set_flag(&mut self, flag: u32) {
        self.emit(W::LocalSet(self.flag_local(flag)));
    }
}
