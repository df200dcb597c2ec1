//! Lazy flags. CF, PF, ZF, SF and OF are computed only where a later
//! instruction reads them (backward liveness over the CFG), and an arithmetic
//! instruction whose flags are live does not compute them at all: it leaves its
//! operands in the `fa`/`fb`/`fr` locals as the *pending producer*, and a
//! reader derives what it needs from those (`cmp a, b; jl` becomes
//! `i64.lt_s a b`). Flags are stored in their own i32 locals only when the
//! producer is replaced while they are still live, or at a block's end.
//!
//! Invariant: every flag is either owned by the pending producer (it is in
//! `written`) or up to date in its local.
//!
//! AF is not modelled (nothing rustc or gcc emits for x86-64 reads it);
//! `pushfq` stores it as 0.

use iced_x86::{ConditionCode, FlowControl, Instruction, Mnemonic, OpKind, RflagsBits};
use wasm_encoder::Instruction as W;

use super::Ctx;
use crate::transpile::cfg::{BlockId, Cfg, Terminator};
use crate::transpile::decode::Function;
use crate::transpile::error::TranspileError;

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

#[derive(Clone, Copy, Debug)]
struct Pending {
    kind: Producer,
    bits: u32,
    written: u32,
}

/// Flag bookkeeping of one function.
pub(crate) struct FlagState {
    pending: Option<Pending>,
    live_in: Vec<u32>,
}

impl FlagState {
    pub fn new(live_in: Vec<u32>) -> FlagState {
        FlagState {
            pending: None,
            live_in,
        }
    }

    /// At a block start all flags are in their locals.
    pub fn enter_block(&mut self) {
        self.pending = None;
    }

    /// After a call nothing of the pending producer survives.
    pub fn clobber_all(&mut self) {
        self.pending = None;
    }

    /// Flags live at the end of block `b`.
    pub fn live_out(&self, cfg: &Cfg, b: BlockId) -> u32 {
        cfg.blocks[b.0].successors().iter().fold(0, |acc, s| {
            acc | self.live_in.get(s.0).copied().unwrap_or(STATUS)
        })
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

/// Live-in flags of every block (fixpoint of backward liveness).
pub fn live_in(function: &Function, cfg: &Cfg) -> Vec<u32> {
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
                effect(ins)
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
                _ => cfg.blocks[b]
                    .successors()
                    .iter()
                    .fold(0, |a, s| a | live[s.0]),
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
    if function.is_trap_call(ins) {
        return (0, 0);
    }
    (ins.rflags_read() & STATUS, 0)
}

/// Flags live after each body instruction of block `b`.
pub(crate) fn live_after_each(ctx: &Ctx, b: BlockId, live_out: u32) -> Vec<u32> {
    let block = &ctx.cfg.blocks[b.0];
    let ins = &ctx.function.instructions;
    let mut live = live_out;
    if block.body < block.instructions.len() {
        let term = &ins[block.instructions.end - 1];
        live |= terminator_reads(ctx.function, term).0;
    }
    let mut out = vec![0; block.body];
    for k in (0..block.body).rev() {
        out[k] = live;
        let (r, w) = effect(&ins[block.instructions.start + k]);
        live = (live & !w) | r;
    }
    out
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
        self.locals.flag[flag_index(flag)]
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
        if self.live_after & written != 0 {
            self.flags.pending = Some(Pending {
                kind,
                bits,
                written,
            });
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

    /// Pushes `flag` computed from the pending producer.
    fn pending_flag(&mut self, p: Pending, flag: u32) {
        let (a, b, r, c) = (
            self.locals.fa,
            self.locals.fb,
            self.locals.fr,
            self.locals.fc,
        );
        let top = (p.bits - 1) as i64;
        let sign = 1i64.wrapping_shl(p.bits - 1);
        match flag {
            CF => match p.kind {
                Producer::Add => self.emit_all([W::LocalGet(r), W::LocalGet(a), W::I64LtU]),
                Producer::Adc => self.emit_all([
                    W::LocalGet(r),
                    W::LocalGet(a),
                    W::I64LtU,
                    W::LocalGet(r),
                    W::LocalGet(a),
                    W::I64Eq,
                    W::LocalGet(c),
                    W::I32And,
                    W::I32Or,
                ]),
                Producer::Sub => self.emit_all([W::LocalGet(a), W::LocalGet(b), W::I64LtU]),
                Producer::Sbb => self.emit_all([
                    W::LocalGet(a),
                    W::LocalGet(b),
                    W::I64LtU,
                    W::LocalGet(a),
                    W::LocalGet(b),
                    W::I64Eq,
                    W::LocalGet(c),
                    W::I32And,
                    W::I32Or,
                ]),
                Producer::Logic => self.emit(W::I32Const(0)),
                Producer::Neg => self.emit_all([W::LocalGet(a), W::I64Const(0), W::I64Ne]),
                Producer::Inc | Producer::Dec => unreachable!("inc/dec do not write CF"),
            },
            ZF => self.emit_all([W::LocalGet(r), W::I64Eqz]),
            SF => self.emit_all([W::LocalGet(r), W::I64Const(top), W::I64ShrU, W::I32WrapI64]),
            OF => match p.kind {
                Producer::Add | Producer::Adc => self.emit_all([
                    W::LocalGet(a),
                    W::LocalGet(r),
                    W::I64Xor,
                    W::LocalGet(b),
                    W::LocalGet(r),
                    W::I64Xor,
                    W::I64And,
                    W::I64Const(top),
                    W::I64ShrU,
                    W::I32WrapI64,
                    W::I32Const(1),
                    W::I32And,
                ]),
                Producer::Sub | Producer::Sbb => self.emit_all([
                    W::LocalGet(a),
                    W::LocalGet(b),
                    W::I64Xor,
                    W::LocalGet(a),
                    W::LocalGet(r),
                    W::I64Xor,
                    W::I64And,
                    W::I64Const(top),
                    W::I64ShrU,
                    W::I32WrapI64,
                    W::I32Const(1),
                    W::I32And,
                ]),
                Producer::Logic => self.emit(W::I32Const(0)),
                Producer::Inc => self.emit_all([W::LocalGet(r), W::I64Const(sign), W::I64Eq]),
                Producer::Dec => self.emit_all([
                    W::LocalGet(r),
                    W::I64Const(sign.wrapping_sub(1) & super::mask(p.bits) as i64),
                    W::I64Eq,
                ]),
                Producer::Neg => self.emit_all([W::LocalGet(a), W::I64Const(sign), W::I64Eq]),
            },
            PF => self.parity_of(r),
            _ => unreachable!("not a status flag"),
        }
    }

    /// Pushes PF of the low byte of i64 local `r`: 1 when it has an even number of ones.
    pub fn parity_of(&mut self, r: u32) {
        self.emit_all([
            W::LocalGet(r),
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

    /// Pushes i64 local `l` sign-extended from `bits`.
    fn push_sext(&mut self, l: u32, bits: u32) {
        self.emit(W::LocalGet(l));
        match bits {
            8 => self.emit(W::I64Extend8S),
            16 => self.emit(W::I64Extend16S),
            32 => self.emit(W::I64Extend32S),
            _ => {}
        }
    }

    /// Pushes the condition `cc` (i32 0 or 1).
    pub fn condition(&mut self, cc: ConditionCode) {
        let (a, b, r) = (self.locals.fa, self.locals.fb, self.locals.fr);
        if let Some(p) = self.flags.pending {
            // fused forms: the condition straight from the compared operands
            if p.kind == Producer::Sub && p.written & STATUS == STATUS {
                let unsigned = |op: W<'static>| [W::LocalGet(a), W::LocalGet(b), op];
                match cc {
                    ConditionCode::e => return self.emit_all(unsigned(W::I64Eq)),
                    ConditionCode::ne => return self.emit_all(unsigned(W::I64Ne)),
                    ConditionCode::b => return self.emit_all(unsigned(W::I64LtU)),
                    ConditionCode::ae => return self.emit_all(unsigned(W::I64GeU)),
                    ConditionCode::be => return self.emit_all(unsigned(W::I64LeU)),
                    ConditionCode::a => return self.emit_all(unsigned(W::I64GtU)),
                    ConditionCode::l | ConditionCode::ge | ConditionCode::le | ConditionCode::g => {
                        self.push_sext(a, p.bits);
                        self.push_sext(b, p.bits);
                        return self.emit(match cc {
                            ConditionCode::l => W::I64LtS,
                            ConditionCode::ge => W::I64GeS,
                            ConditionCode::le => W::I64LeS,
                            _ => W::I64GtS,
                        });
                    }
                    _ => {}
                }
            }
            if p.kind == Producer::Logic && p.written & STATUS == STATUS {
                match cc {
                    ConditionCode::e | ConditionCode::be => {
                        return self.emit_all([W::LocalGet(r), W::I64Eqz])
                    }
                    ConditionCode::ne | ConditionCode::a => {
                        return self.emit_all([W::LocalGet(r), W::I64Const(0), W::I64Ne])
                    }
                    ConditionCode::l | ConditionCode::ge | ConditionCode::le | ConditionCode::g => {
                        self.push_sext(r, p.bits);
                        self.emit(W::I64Const(0));
                        return self.emit(match cc {
                            ConditionCode::l => W::I64LtS,
                            ConditionCode::ge => W::I64GeS,
                            ConditionCode::le => W::I64LeS,
                            _ => W::I64GtS,
                        });
                    }
                    _ => {}
                }
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
