//! Stage 5, **lower**: x86-64 instruction semantics as wasm.
//!
//! One wasm function per x86 function. Registers live in locals: the 16 GPRs as
//! `i64`, the XMM registers as `v128` (declared only where a function uses
//! them). A function's wasm parameters are the registers it (or anything it
//! calls) may read, its results the registers it may write ([`Abi`]), so a
//! `call` passes exactly what the callee can see and gets back what it changed.
//! The stack is real: `rsp` points into linear memory, `call` stores a return
//! address there and `ret` pops it.
//!
//! Flags are lazy (see `flags.rs`): an instruction computes only the flags a
//! later instruction reads, and a `cmp`/`test` feeding a `jcc`, `setcc` or
//! `cmovcc` becomes one wasm comparison.
//!
//! Instruction families: `int.rs` (moves, arithmetic, logic, shifts, bits,
//! multiply/divide, stack), `sse.rs` (XMM moves and the packed integer set),
//! `float.rs` (scalar SSE floating point).

mod flags;
pub(crate) mod float;
mod int;
mod sse;

use std::collections::BTreeMap;

use iced_x86::{
    FlowControl, Instruction, InstructionInfoFactory, InstructionInfoOptions, Mnemonic, OpAccess,
    OpKind, Register,
};
use wasm_encoder::{BlockType, Instruction as W, MemArg, ValType};

use super::cfg::{BlockId, Cfg};
use super::decode::{Builtin, Function, Program, Target};
use super::error::{hex_bytes, TranspileError};
use super::image::Image;
use super::structure::Node;

pub(crate) use flags::FlagState;

/// An x86 register the lowering keeps in a local.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reg {
    /// General-purpose register by number (rax = 0 ... r15 = 15).
    Gpr(u8),
    /// XMM register by number.
    Xmm(u8),
}

/// rax's register number (System V argument and result registers follow).
pub const RAX: u8 = 0;
/// rsp's register number.
pub const RSP: u8 = 4;
/// rdi's register number.
pub const RDI: u8 = 7;
/// rsi's register number.
pub const RSI: u8 = 6;
/// rdx's register number.
pub const RDX: u8 = 2;

impl Reg {
    /// The wasm type of the register's local.
    pub fn val_type(self) -> ValType {
        match self {
            Reg::Gpr(_) => ValType::I64,
            Reg::Xmm(_) => ValType::V128,
        }
    }

    /// The register an iced register belongs to (`eax` → rax, `xmm3` → xmm3).
    pub fn of(register: Register) -> Option<Reg> {
        if register == Register::None || register == Register::RIP || register == Register::EIP {
            return None;
        }
        if register.is_xmm() {
            return Some(Reg::Xmm(register.number() as u8));
        }
        if register.is_gpr() {
            let full = register.full_register();
            return Some(Reg::Gpr((full as u32 - Register::RAX as u32) as u8));
        }
        None
    }
}

/// The registers a wasm function takes and returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Abi {
    /// Parameters, in order.
    pub inputs: Vec<Reg>,
    /// Results, in order.
    pub outputs: Vec<Reg>,
}

impl Abi {
    /// The wasm function type.
    pub fn func_type(&self) -> (Vec<ValType>, Vec<ValType>) {
        (
            self.inputs.iter().map(|r| r.val_type()).collect(),
            self.outputs.iter().map(|r| r.val_type()).collect(),
        )
    }
}

/// A set of registers as bits: GPR n is bit n, XMM n is bit 16 + n.
type RegSet = u32;

/// A register's position in the 32-entry register tables.
fn reg_index(r: Reg) -> usize {
    match r {
        Reg::Gpr(n) => n as usize,
        Reg::Xmm(n) => 16 + n as usize,
    }
}

fn reg_bit(r: Reg) -> RegSet {
    1 << reg_index(r)
}

fn regs_of(set: RegSet) -> Vec<Reg> {
    (0..32u8)
        .filter(|b| set & (1 << b) != 0)
        .map(|b| {
            if b < 16 {
                Reg::Gpr(b)
            } else {
                Reg::Xmm(b - 16)
            }
        })
        .collect()
}

/// Registers each function reads and writes, itself or through its callees.
pub fn abis(program: &Program) -> Vec<Abi> {
    let mut factory = InstructionInfoFactory::new();
    let n = program.functions.len();
    let mut reads: Vec<RegSet> = vec![0; n];
    let mut writes: Vec<RegSet> = vec![0; n];
    let mut callees: Vec<Vec<usize>> = vec![Vec::new(); n];
    let arguments = reg_bit(Reg::Gpr(RDI)) | reg_bit(Reg::Gpr(RSI)) | reg_bit(Reg::Gpr(RDX));
    for (k, f) in program.functions.iter().enumerate() {
        for ins in &f.instructions {
            if let Some(writes_first) = explicit_registers_only(ins) {
                // the common case, read off the operands (iced's info
                // factory costs several hundred instructions each)
                let (r, w) = explicit_registers(ins, writes_first);
                reads[k] |= r;
                writes[k] |= w;
                continue;
            }
            for used in factory
                .info_options(ins, InstructionInfoOptions::NO_MEMORY_USAGE)
                .used_registers()
            {
                let Some(reg) = Reg::of(used.register()) else {
                    continue;
                };
                reads[k] |= reg_bit(reg);
                if !matches!(used.access(), OpAccess::Read | OpAccess::CondRead) {
                    writes[k] |= reg_bit(reg);
                }
            }
        }
        for t in f.calls.values().chain(f.indirect.values()) {
            match t {
                Target::Function(a) => callees[k].extend(program.function_index(*a)),
                Target::Builtin(b) if b.is_float() => {
                    reads[k] |= reg_bit(Reg::Xmm(0));
                    if b.takes_two() {
                        reads[k] |= reg_bit(Reg::Xmm(1));
                    }
                    writes[k] |= reg_bit(Reg::Xmm(0));
                }
                Target::Builtin(_) => {
                    reads[k] |= arguments;
                    writes[k] |= reg_bit(Reg::Gpr(RAX));
                }
                Target::Trap => {}
            }
        }
        reads[k] |= reg_bit(Reg::Gpr(RSP));
        writes[k] |= reg_bit(Reg::Gpr(RSP));
    }
    // Fixpoint over the call graph (recursion included).
    let mut changed = true;
    while changed {
        changed = false;
        for k in 0..n {
            for &c in &callees[k] {
                let (r, w) = (reads[k] | reads[c], writes[k] | writes[c]);
                changed |= (r, w) != (reads[k], writes[k]);
                reads[k] = r;
                writes[k] = w;
            }
        }
    }
    // A partial write keeps the rest of the register: it is an input too.
    (0..n)
        .map(|k| Abi {
            inputs: regs_of(reads[k] | writes[k]),
            outputs: regs_of(writes[k]),
        })
        .collect()
}

/// For an integer instruction that touches no register besides its explicit
/// operands (and rsp, which every function reads and writes anyway):
/// whether it writes its first operand. `None` for the rest, which iced's
/// info factory then describes. Reporting more than an instruction touches
/// only lengthens an ABI; reporting less would lose a value, so the list
/// is short and explicit.
fn explicit_registers_only(ins: &Instruction) -> Option<bool> {
    use Mnemonic as M;
    let m = ins.mnemonic();
    Some(match m {
        M::Cmp | M::Test | M::Bt | M::Push | M::Nop | M::Endbr64 | M::Jmp => false,
        M::Mov
        | M::Movzx
        | M::Movsx
        | M::Movsxd
        | M::Lea
        | M::Add
        | M::Sub
        | M::Adc
        | M::Sbb
        | M::And
        | M::Or
        | M::Xor
        | M::Inc
        | M::Dec
        | M::Neg
        | M::Not
        | M::Shl
        | M::Shr
        | M::Sar
        | M::Rol
        | M::Ror
        | M::Shld
        | M::Shrd
        | M::Bts
        | M::Btr
        | M::Btc
        | M::Bsf
        | M::Bsr
        | M::Tzcnt
        | M::Lzcnt
        | M::Popcnt
        | M::Bswap
        | M::Pop => true,
        // one-operand imul multiplies into rdx:rax
        M::Imul if ins.op_count() >= 2 => true,
        _ if ins.is_jcc_short_or_near() => false,
        _ if int::is_cmovcc(m) || int::is_setcc(m) => true,
        _ => return None,
    })
}

/// The registers `ins` reads and writes, from its explicit operands.
fn explicit_registers(ins: &Instruction, writes_first: bool) -> (RegSet, RegSet) {
    let (mut reads, mut writes) = (0, 0);
    for op in 0..ins.op_count() {
        let (registers, written) = match ins.op_kind(op) {
            OpKind::Register => (
                [ins.op_register(op), Register::None],
                op == 0 && writes_first,
            ),
            // an address's registers are only read
            OpKind::Memory => ([ins.memory_base(), ins.memory_index()], false),
            _ => continue,
        };
        for r in registers.into_iter().filter_map(Reg::of) {
            reads |= reg_bit(r);
            if written {
                writes |= reg_bit(r);
            }
        }
    }
    (reads, writes)
}

/// Wasm function indices the lowering calls.
#[derive(Clone, Debug, Default)]
pub struct Callees {
    /// Index of each program function.
    pub functions: Vec<u32>,
    /// Index of each builtin present in the module.
    pub builtins: BTreeMap<Builtin, u32>,
    /// Index of the runtime helpers (see `module.rs`).
    pub helpers: Helpers,
}

/// Helper functions every module carries for operations wasm lacks.
#[derive(Clone, Copy, Debug)]
pub struct Helpers {
    /// `(a: i64, b: i64) -> i64`: high 64 bits of the unsigned product.
    pub mulhu: u32,
    /// `(hi: i64, lo: i64, d: i64) -> (q: i64, r: i64)`: unsigned 128/64 division;
    /// traps when the quotient does not fit (x86 #DE).
    pub divu128: u32,
    /// Signed 128/64 division, same shape.
    pub divs128: u32,
    /// x86's choice of NaN result, by [`float::NanFix`]: scalar `(a, b) ->
    /// bits` (i32 or i64), packed `(r, a, b) -> v128`. Called only when a
    /// result is NaN, so the rare case costs a call instead of inline code.
    pub nan_fix: [u32; 4],
}

impl Default for Helpers {
    /// No helper in the module.
    fn default() -> Helpers {
        Helpers {
            mulhu: u32::MAX,
            divu128: u32::MAX,
            divs128: u32::MAX,
            nan_fix: [u32::MAX; 4],
        }
    }
}

/// Locals of one wasm function, by role.
#[derive(Clone, Debug)]
pub(crate) struct Locals {
    /// Local of each register by `reg_index` (u32::MAX: none).
    reg: [u32; 32],
    /// The f64/f32 local of each XMM register that holds one scalar float for
    /// the whole function (`float::scalar_registers`); its v128 local is then
    /// only synchronised at calls, returns and entry.
    pub scalar: [Option<(u32, float::Fp)>; 16],
    /// CF, PF, ZF, SF, OF as i32 0/1.
    pub flag: [u32; 5],
    /// Operands of the pending flag producer (i64) and its carry-in (i32).
    pub fa: u32,
    pub fb: u32,
    pub fr: u32,
    pub fc: u32,
    /// Scratch i64 locals.
    pub t: [u32; 6],
    /// Scratch i32 locals.
    pub t32: [u32; 4],
    /// Scratch v128 locals (only when the function uses XMM).
    pub tv: [u32; 4],
    /// The jump-table index of the pending switch.
    pub switch: u32,
    /// The dispatch label of irreducible regions.
    pub label: u32,
    /// Declared (non-parameter) locals, in order.
    pub declared: Vec<ValType>,
}

impl Locals {
    fn new(abi: &Abi, uses_xmm: bool, scalars: [Option<float::Fp>; 16]) -> Locals {
        let mut next = abi.inputs.len() as u32;
        let mut declared = Vec::new();
        let mut alloc = |t: ValType, declared: &mut Vec<ValType>| {
            declared.push(t);
            next += 1;
            next - 1
        };
        let mut reg = [u32::MAX; 32];
        for (i, r) in abi.inputs.iter().enumerate() {
            reg[reg_index(*r)] = i as u32;
        }
        for g in 0..16u8 {
            if reg[reg_index(Reg::Gpr(g))] == u32::MAX {
                reg[reg_index(Reg::Gpr(g))] = alloc(ValType::I64, &mut declared);
            }
        }
        // the rest grouped by type (i64, i32, v128, f64, f32): each run of
        // one type is one declaration to encode and for wasmparser to read
        let fa = alloc(ValType::I64, &mut declared);
        let fb = alloc(ValType::I64, &mut declared);
        let fr = alloc(ValType::I64, &mut declared);
        let t = [0; 6].map(|_| alloc(ValType::I64, &mut declared));
        let switch = alloc(ValType::I64, &mut declared);
        let flag = [0; 5].map(|_| alloc(ValType::I32, &mut declared));
        let fc = alloc(ValType::I32, &mut declared);
        let t32 = [0; 4].map(|_| alloc(ValType::I32, &mut declared));
        let label = alloc(ValType::I32, &mut declared);
        if uses_xmm {
            for x in 0..16u8 {
                if reg[reg_index(Reg::Xmm(x))] == u32::MAX {
                    reg[reg_index(Reg::Xmm(x))] = alloc(ValType::V128, &mut declared);
                }
            }
        }
        let tv = if uses_xmm {
            [0; 4].map(|_| alloc(ValType::V128, &mut declared))
        } else {
            [u32::MAX; 4]
        };
        let mut scalar = [None; 16];
        if uses_xmm {
            for (fp, t) in [(float::Fp::D, ValType::F64), (float::Fp::S, ValType::F32)] {
                for (x, f) in scalars.iter().enumerate() {
                    if *f == Some(fp) {
                        scalar[x] = Some((alloc(t, &mut declared), fp));
                    }
                }
            }
        }
        Locals {
            reg,
            scalar,
            flag,
            fa,
            fb,
            fr,
            fc,
            t,
            t32,
            tv,
            switch,
            label,
            declared,
        }
    }

    /// The local of a register.
    pub fn reg(&self, r: Reg) -> u32 {
        self.reg[reg_index(r)]
    }

    /// The local of a general-purpose register by number.
    pub fn gpr(&self, n: u8) -> u32 {
        self.reg[n as usize]
    }
}

/// The lowering context of one function: everything an instruction needs.
pub(crate) struct Ctx<'a> {
    pub image: &'a Image,
    pub program: &'a Program,
    pub function: &'a Function,
    pub cfg: &'a Cfg,
    pub abis: &'a [Abi],
    pub callees: &'a Callees,
    pub abi: &'a Abi,
    pub locals: Locals,
    /// The function body (locals, then code), encoded as the lowering goes.
    pub body: Vec<u8>,
    /// The last instruction written, when [`Ctx::emit`]'s peephole may fold
    /// it with the next one, and where in `body` it starts.
    last: Kind,
    last_at: usize,
    /// The i64 the last instruction left on the stack has a zero upper half
    /// (a `load32_u`, an `extend_i32_u`, an `and` with a small mask...).
    top_is_zext: bool,
    /// The last instruction is an `i32.wrap_i64` of such a value: an
    /// `i64.extend_i32_u` right after it gives back the same i64.
    last_wraps_zext: bool,
    /// The last instruction is a `local.set` of such a value (what a
    /// `local.tee` folded from it leaves on the stack).
    last_sets_zext: bool,
    /// Locals (the first 64) whose i64 has a zero upper half, from what was
    /// last stored to them in this stretch of straight-line code: a
    /// `local.get` of one is known zero-extended too. Control flow forgets.
    zext_locals: u64,
    pub flags: FlagState,
    /// Flags live after the instruction being lowered (iced RflagsBits).
    pub live_after: u32,
    /// Whether the instruction being lowered has read the flags it reads
    /// (set by [`Ctx::condition`]).
    pub own_flags_read: bool,
    /// The instruction being lowered.
    pub ins: Instruction,
    /// Flags live after each instruction of the block being lowered (a
    /// buffer reused from block to block).
    lives: Vec<u32>,
}

/// Entry point of the stage: one function's wasm body, encoded (locals and
/// code, without the size prefix: what `CodeSection::raw` takes).
pub fn lower(
    image: &Image,
    program: &Program,
    index: usize,
    cfg: &Cfg,
    tree: &[Node],
    abis: &[Abi],
    callees: &Callees,
) -> Result<Vec<u8>, TranspileError> {
    let function = &program.functions[index];
    let abi = &abis[index];
    let uses_xmm = abi
        .inputs
        .iter()
        .chain(&abi.outputs)
        .any(|r| matches!(r, Reg::Xmm(_)));
    // (which XMM registers hold scalars matters only to a function with XMM
    // locals; the scan reads every instruction's operands)
    let scalars = if uses_xmm {
        float::scalar_registers(function)
    } else {
        [None; 16]
    };
    let locals = Locals::new(abi, uses_xmm, scalars);
    // the corpus averages 14 bytes of code per x86 instruction (78 KB for
    // 5,592): a little more, so the body is rarely regrown
    let body = locals_header(&locals.declared, 32 + function.instructions.len() * 16);
    let mut ctx = Ctx {
        image,
        program,
        function,
        cfg,
        abis,
        callees,
        abi,
        locals,
        body,
        last: Kind::Other,
        last_at: 0,
        top_is_zext: false,
        last_wraps_zext: false,
        last_sets_zext: false,
        zext_locals: 0,
        flags: FlagState::new(function, cfg),
        live_after: 0,
        own_flags_read: false,
        ins: Instruction::default(),
        lives: Vec::new(),
    };
    // scalar registers that arrive as parameters: take lane 0
    let arriving: Vec<Reg> = abi.inputs.clone();
    ctx.scalars_from_vectors(&arriving);
    ctx.nodes(tree)?;
    ctx.emit(W::End);
    Ok(ctx.body)
}

impl<'a> Ctx<'a> {
    /// The f64/f32 local of operand `op` when it is a scalar XMM register.
    pub fn scalar_local(&self, op: u32) -> Option<u32> {
        if self.ins.op_kind(op) != OpKind::Register || !self.ins.op_register(op).is_xmm() {
            return None;
        }
        self.locals.scalar[self.ins.op_register(op).number()].map(|(l, _)| l)
    }

    /// Copies each scalar register among `regs` into lane 0 of its v128 local
    /// (before a call or return passes the v128 on).
    fn scalars_to_vectors(&mut self, regs: &[Reg]) {
        for r in regs {
            if let Reg::Xmm(x) = r {
                if let Some((f, fp)) = self.locals.scalar[*x as usize] {
                    let v = self.locals.reg(*r);
                    let replace = if fp == float::Fp::D {
                        W::F64x2ReplaceLane(0)
                    } else {
                        W::F32x4ReplaceLane(0)
                    };
                    self.emit_all([W::LocalGet(v), W::LocalGet(f), replace, W::LocalSet(v)]);
                }
            }
        }
    }

    /// Takes each scalar register among `regs` from lane 0 of its v128 local
    /// (after a call returned it, or on entry).
    fn scalars_from_vectors(&mut self, regs: &[Reg]) {
        for r in regs {
            if let Reg::Xmm(x) = r {
                if let Some((f, fp)) = self.locals.scalar[*x as usize] {
                    let v = self.locals.reg(*r);
                    let extract = if fp == float::Fp::D {
                        W::F64x2ExtractLane(0)
                    } else {
                        W::F32x4ExtractLane(0)
                    };
                    self.emit_all([W::LocalGet(v), extract, W::LocalSet(f)]);
                }
            }
        }
    }

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

    /// The error for an instruction this lowering does not implement.
    pub fn unsupported(&self) -> TranspileError {
        let bytes = self
            .image
            .read(self.ins.ip(), self.ins.len())
            .unwrap_or(&[]);
        TranspileError::Unsupported {
            function: self.function.name.clone(),
            address: self.ins.ip(),
            bytes: hex_bytes(bytes),
            mnemonic: format!("{}", self.ins),
        }
    }

    fn nodes(&mut self, nodes: &[Node]) -> Result<(), TranspileError> {
        for node in nodes {
            self.node(node)?;
        }
        Ok(())
    }

    fn node(&mut self, node: &Node) -> Result<(), TranspileError> {
        match node {
            Node::Block(body) => {
                self.emit(W::Block(BlockType::Empty));
                self.nodes(body)?;
                self.emit(W::End);
            }
            Node::Loop(body) => {
                self.emit(W::Loop(BlockType::Empty));
                self.nodes(body)?;
                self.emit(W::End);
            }
            Node::Code(b) => self.block_body(*b)?,
            Node::If {
                block,
                then,
                otherwise,
            } => {
                let jcc = self.terminator_instruction(*block);
                self.set_instruction(jcc);
                self.condition_of(&jcc)?;
                // the branch has read the flags; both arms start new blocks
                self.flags.clobber_all();
                self.emit(W::If(BlockType::Empty));
                self.nodes(then)?;
                if !otherwise.is_empty() {
                    self.emit(W::Else);
                    self.nodes(otherwise)?;
                }
                self.emit(W::End);
            }
            Node::Switch {
                depths, default, ..
            } => {
                let n = depths.len() as i64;
                let sw = self.locals.switch;
                self.emit_all([
                    W::LocalGet(sw),
                    W::I32WrapI64,
                    W::I32Const(n as i32),
                    W::LocalGet(sw),
                    W::I64Const(n),
                    W::I64LtU,
                    W::Select,
                    W::BrTable(depths.clone().into(), *default),
                ]);
            }
            Node::Dispatch { depths, default } => {
                self.emit_all([
                    W::LocalGet(self.locals.label),
                    W::BrTable(depths.clone().into(), *default),
                ]);
            }
            Node::Br(d) => self.emit(W::Br(*d)),
            Node::Return(b) => {
                self.set_instruction(self.terminator_instruction(*b));
                self.ret()?;
            }
            Node::TailCall(b) => {
                self.set_instruction(self.terminator_instruction(*b));
                self.tail_call()?;
            }
            Node::Trap(b) => {
                let ins = self.terminator_instruction(*b);
                self.set_instruction(ins);
                let is_trap_call = self.function.is_trap_call(&ins);
                if !is_trap_call
                    && !matches!(
                        ins.mnemonic(),
                        Mnemonic::Ud2
                            | Mnemonic::Int3
                            | Mnemonic::Hlt
                            | Mnemonic::Ud0
                            | Mnemonic::Ud1
                    )
                {
                    return Err(self.unsupported());
                }
                self.emit(W::Unreachable);
            }
            Node::Unreachable => self.emit(W::Unreachable),
        }
        Ok(())
    }

    /// Makes `ins` the instruction being lowered.
    fn set_instruction(&mut self, ins: Instruction) {
        self.ins = ins;
        self.own_flags_read = false;
    }

    fn terminator_instruction(&self, b: BlockId) -> Instruction {
        let block = &self.cfg.blocks[b.0];
        self.function.instructions[block.instructions.end - 1]
    }

    /// The straight-line code of a block, then its live-out flags in locals.
    fn block_body(&mut self, b: BlockId) -> Result<(), TranspileError> {
        let block = &self.cfg.blocks[b.0];
        self.flags.enter_block();
        let live_out = self.flags.live_out(self.cfg, b);
        let mut lives = std::mem::take(&mut self.lives);
        flags::live_after_each(self, b, live_out, &mut lives);
        for (k, idx) in block.instructions.clone().take(block.body).enumerate() {
            self.set_instruction(self.function.instructions[idx]);
            self.live_after = lives[k];
            if let Some(table) = self
                .function
                .jump_tables
                .values()
                .find(|t| t.index_at == self.ins.ip())
            {
                let r = Reg::of(table.index_register).ok_or_else(|| self.unsupported())?;
                self.emit_all([
                    W::LocalGet(self.locals.reg(r)),
                    W::LocalSet(self.locals.switch),
                ]);
            }
            self.instruction()?;
        }
        self.lives = lives;
        // the terminator's own jump-table index (non-PIE `jmp [table + 8*idx]`);
        // blocks made by the structurer have no instructions at all
        if block.body < block.instructions.len() {
            let last = self.function.instructions[block.instructions.end - 1];
            if let Some(table) = self.function.jump_tables.get(&last.ip()) {
                if table.index_at == last.ip() {
                    let r = Reg::of(table.index_register).ok_or_else(|| self.unsupported())?;
                    self.emit_all([
                        W::LocalGet(self.locals.reg(r)),
                        W::LocalSet(self.locals.switch),
                    ]);
                }
            }
        }
        self.flags_materialize(live_out);
        if !matches!(
            block.terminator,
            crate::cfg::Terminator::Branch { .. }
        ) {
            // no `if` of this block reads the producer: nothing may spill it
            self.flags.clobber_all();
        }
        if let Some(label) = block.sets_label {
            self.emit_all([W::I32Const(label as i32), W::LocalSet(self.locals.label)]);
        }
        Ok(())
    }

    /// Lowers `self.ins`.
    fn instruction(&mut self) -> Result<(), TranspileError> {
        match self.ins.flow_control() {
            FlowControl::Call | FlowControl::IndirectCall => return self.call(),
            FlowControl::Next => {}
            _ => return Err(self.unsupported()),
        }
        if int::lower(self)? {
            return Ok(());
        }
        if sse::lower(self)? {
            return Ok(());
        }
        if float::lower(self)? {
            return Ok(());
        }
        Err(self.unsupported())
    }

    // ------------------------------------------------------------ calls

    /// Pushes `value` (an i64 computed by `value`) on the x86 stack.
    /// `value` must not read rsp: it runs after rsp has moved.
    pub fn push_value(&mut self, value: impl FnOnce(&mut Self)) {
        let rsp = self.locals.gpr(RSP);
        self.emit_all([
            W::LocalGet(rsp),
            W::I64Const(8),
            W::I64Sub,
            W::LocalTee(rsp),
            W::I32WrapI64,
        ]);
        value(self);
        self.emit(W::I64Store(mem(0)));
    }

    fn call_function(&mut self, index: usize) {
        let abi = &self.abis[index];
        self.scalars_to_vectors(&abi.inputs);
        let abi = &self.abis[index];
        for r in &abi.inputs {
            self.emit(W::LocalGet(self.locals.reg(*r)));
        }
        self.emit(W::Call(self.callees.functions[index]));
        for r in abi.outputs.iter().rev() {
            self.emit(W::LocalSet(self.locals.reg(*r)));
        }
        self.scalars_from_vectors(&abi.outputs);
    }

    fn call_builtin(&mut self, b: Builtin) {
        let index = self.callees.builtins[&b];
        if b.is_float() {
            let x0 = self.locals.reg(Reg::Xmm(0));
            let args: &[Reg] = if b.takes_two() {
                &[Reg::Xmm(0), Reg::Xmm(1)]
            } else {
                &[Reg::Xmm(0)]
            };
            self.scalars_to_vectors(args);
            for r in args {
                self.emit(W::LocalGet(self.locals.reg(*r)));
            }
            self.emit_all([W::Call(index), W::LocalSet(x0)]);
            self.scalars_from_vectors(&[Reg::Xmm(0)]);
            return;
        }
        self.emit_all([
            W::LocalGet(self.locals.gpr(RDI)),
            W::LocalGet(self.locals.gpr(RSI)),
            W::LocalGet(self.locals.gpr(RDX)),
            W::Call(index),
            W::LocalSet(self.locals.gpr(RAX)),
        ]);
    }

    /// Calls `target` as x86 `call` would (return address pushed for image
    /// functions; builtins take their arguments from registers).
    fn call_target(&mut self, target: &Target, push_return: bool) {
        match target {
            Target::Function(a) => {
                let index = self.program.function_index(*a).expect("decoded callee");
                if push_return {
                    let ret = self.ins.next_ip();
                    self.push_value(|c| c.emit(W::I64Const(ret as i64)));
                }
                self.call_function(index);
            }
            Target::Builtin(b) => {
                self.call_builtin(*b);
                if !push_return {
                    // a tail jump to a builtin: pop the return address ourselves
                    let rsp = self.locals.gpr(RSP);
                    self.emit_all([
                        W::LocalGet(rsp),
                        W::I64Const(8),
                        W::I64Add,
                        W::LocalSet(rsp),
                    ]);
                }
            }
            Target::Trap => self.emit(W::Unreachable),
        }
    }

    /// `call` / `jmp` through a register: compare against every function whose
    /// address this function takes; anything else traps.
    fn dispatch_indirect(&mut self, push_return: bool) -> Result<(), TranspileError> {
        let candidates: Vec<(u64, Target)> = self
            .function
            .indirect
            .iter()
            .map(|(a, t)| (*a, t.clone()))
            .collect();
        if candidates.is_empty() {
            return Err(TranspileError::Callee {
                function: self.function.name.clone(),
                address: self.ins.ip(),
                callee: if self.ins.op0_kind() == OpKind::Register {
                    format!("the address in {:?}", self.ins.op0_register()).to_lowercase()
                } else {
                    "a function pointer in memory".into()
                },
                reason: "an indirect call whose possible targets are unknown (this function loads no function address: a vtable or a stored function pointer)".into(),
            });
        }
        // the target, read before anything is pushed (`call [rsp]` reads the
        // slot the return address then overwrites)
        let t = self.locals.t[4];
        self.read(0)?;
        self.emit(W::LocalSet(t));
        for (address, target) in &candidates {
            self.emit_all([
                W::LocalGet(t),
                W::I64Const(*address as i64),
                W::I64Eq,
                W::If(BlockType::Empty),
            ]);
            self.call_target(target, push_return);
            self.emit(W::Else);
        }
        self.emit(W::Unreachable);
        for _ in &candidates {
            self.emit(W::End);
        }
        Ok(())
    }

    fn call(&mut self) -> Result<(), TranspileError> {
        self.flags.clobber_all();
        match self.function.calls.get(&self.ins.ip()).cloned() {
            Some(target) => self.call_target(&target, true),
            None => self.dispatch_indirect(true)?,
        }
        Ok(())
    }

    /// Returns the output registers.
    fn return_outputs(&mut self) {
        self.scalars_to_vectors(&self.abi.outputs.clone());
        for r in &self.abi.outputs {
            self.emit(W::LocalGet(self.locals.reg(*r)));
        }
        self.emit(W::Return);
    }

    fn ret(&mut self) -> Result<(), TranspileError> {
        if self.ins.mnemonic() != Mnemonic::Ret {
            return Err(self.unsupported());
        }
        let pop = 8 + if self.ins.op_count() == 1 {
            self.ins.immediate(0) as i64
        } else {
            0
        };
        let rsp = self.locals.gpr(RSP);
        self.emit_all([
            W::LocalGet(rsp),
            W::I64Const(pop),
            W::I64Add,
            W::LocalSet(rsp),
        ]);
        self.return_outputs();
        Ok(())
    }

    fn tail_call(&mut self) -> Result<(), TranspileError> {
        match self.function.calls.get(&self.ins.ip()).cloned() {
            Some(target) => self.call_target(&target, false),
            None => self.dispatch_indirect(false)?,
        }
        self.return_outputs();
        Ok(())
    }

    // --------------------------------------------------------- operands

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
    /// the constant offset to put in the load/store.
    pub fn address(&mut self) -> Result<u64, TranspileError> {
        let ins = self.ins;
        if ins.segment_prefix() == Register::FS || ins.segment_prefix() == Register::GS {
            return Err(self.unsupported()); // thread-local storage
        }
        if ins.is_ip_rel_memory_operand() {
            let a = ins.ip_rel_memory_address();
            self.emit(W::I32Const(a as u32 as i32));
            return Ok(0);
        }
        let base = Reg::of(ins.memory_base());
        let index = Reg::of(ins.memory_index());
        let disp = ins.memory_displacement64();
        let mut have = false;
        if let Some(b) = base {
            self.emit_all([W::LocalGet(self.locals.reg(b)), W::I32WrapI64]);
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

/// What [`Ctx::emit`]'s peephole needs to know of a wasm instruction,
/// found with one dispatch on the wasm-encoder variant: the locals and
/// constants it folds with what they carry, the one-byte instructions by
/// opcode, and classes for the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Get(u32),
    Set(u32),
    Tee(u32),
    I64Const(i64),
    I32Const(i32),
    /// An instruction that is its opcode alone (see [`op`]).
    Byte(u8),
    /// A scalar load or store of memory 0: its opcode and memarg.
    Memory {
        opcode: u8,
        align: u32,
        offset: u64,
    },
    /// `block`, `loop`, `if`: a pending flag producer must be spilled.
    Opens,
    /// Any other control instruction.
    Control,
    Other,
}

/// Opcodes of the instructions [`Kind`] names: loads and stores, then the
/// one-byte instructions.
mod op {
    pub const I32_LOAD: u8 = 0x28;
    pub const I64_LOAD: u8 = 0x29;
    pub const F32_LOAD: u8 = 0x2a;
    pub const F64_LOAD: u8 = 0x2b;
    pub const I64_LOAD8_S: u8 = 0x30;
    pub const I64_LOAD8_U: u8 = 0x31;
    pub const I64_LOAD16_S: u8 = 0x32;
    pub const I64_LOAD16_U: u8 = 0x33;
    pub const I64_LOAD32_S: u8 = 0x34;
    pub const I64_LOAD32_U: u8 = 0x35;
    pub const I32_STORE: u8 = 0x36;
    pub const I64_STORE: u8 = 0x37;
    pub const F32_STORE: u8 = 0x38;
    pub const F64_STORE: u8 = 0x39;
    pub const I32_STORE8: u8 = 0x3a;
    pub const I32_STORE16: u8 = 0x3b;
    pub const I64_STORE8: u8 = 0x3c;
    pub const I64_STORE16: u8 = 0x3d;
    pub const I64_STORE32: u8 = 0x3e;
    pub const SELECT: u8 = 0x1b;
    pub const I32_EQZ: u8 = 0x45;
    pub const I32_EQ: u8 = 0x46;
    pub const I32_NE: u8 = 0x47;
    pub const I64_EQZ: u8 = 0x50;
    pub const I64_EQ: u8 = 0x51;
    pub const I64_NE: u8 = 0x52;
    pub const I64_LT_S: u8 = 0x53;
    pub const I64_LT_U: u8 = 0x54;
    pub const I64_GT_S: u8 = 0x55;
    pub const I64_GT_U: u8 = 0x56;
    pub const I32_ADD: u8 = 0x6a;
    pub const I32_SUB: u8 = 0x6b;
    pub const I32_AND: u8 = 0x71;
    pub const I32_OR: u8 = 0x72;
    pub const I32_XOR: u8 = 0x73;
    pub const I64_CLZ: u8 = 0x79;
    pub const I64_CTZ: u8 = 0x7a;
    pub const I64_POPCNT: u8 = 0x7b;
    pub const I64_ADD: u8 = 0x7c;
    pub const I64_SUB: u8 = 0x7d;
    pub const I64_MUL: u8 = 0x7e;
    pub const I64_AND: u8 = 0x83;
    pub const I64_OR: u8 = 0x84;
    pub const I64_XOR: u8 = 0x85;
    pub const I64_SHL: u8 = 0x86;
    pub const I64_SHR_S: u8 = 0x87;
    pub const I64_SHR_U: u8 = 0x88;
    pub const I32_WRAP_I64: u8 = 0xa7;
    pub const I64_EXTEND_I32_S: u8 = 0xac;
    pub const I64_EXTEND_I32_U: u8 = 0xad;
    pub const I64_EXTEND32_S: u8 = 0xc4;
}

impl Kind {
    /// A load or store with `m`; `Other` (left to wasm-encoder) for any
    /// target but memory 0 or an atomic ordering.
    fn memory(opcode: u8, m: MemArg) -> Kind {
        if m.target != wasm_encoder::MemArgTarget::Memory(0) || m.ordering.is_some() {
            return Kind::Other;
        }
        Kind::Memory {
            opcode,
            align: m.align,
            offset: m.offset,
        }
    }

    #[inline(always)]
    fn of(i: &W<'static>) -> Kind {
        match *i {
            W::LocalGet(l) => Kind::Get(l),
            W::LocalSet(l) => Kind::Set(l),
            W::LocalTee(l) => Kind::Tee(l),
            W::I64Const(c) => Kind::I64Const(c),
            W::I32Const(c) => Kind::I32Const(c),
            W::Select => Kind::Byte(op::SELECT),
            W::I32Eqz => Kind::Byte(op::I32_EQZ),
            W::I32Eq => Kind::Byte(op::I32_EQ),
            W::I32Ne => Kind::Byte(op::I32_NE),
            W::I64Eqz => Kind::Byte(op::I64_EQZ),
            W::I64Eq => Kind::Byte(op::I64_EQ),
            W::I64Ne => Kind::Byte(op::I64_NE),
            W::I64LtS => Kind::Byte(op::I64_LT_S),
            W::I64LtU => Kind::Byte(op::I64_LT_U),
            W::I64GtS => Kind::Byte(op::I64_GT_S),
            W::I64GtU => Kind::Byte(op::I64_GT_U),
            W::I32Add => Kind::Byte(op::I32_ADD),
            W::I32Sub => Kind::Byte(op::I32_SUB),
            W::I32And => Kind::Byte(op::I32_AND),
            W::I32Or => Kind::Byte(op::I32_OR),
            W::I32Xor => Kind::Byte(op::I32_XOR),
            W::I64Clz => Kind::Byte(op::I64_CLZ),
            W::I64Ctz => Kind::Byte(op::I64_CTZ),
            W::I64Popcnt => Kind::Byte(op::I64_POPCNT),
            W::I64Add => Kind::Byte(op::I64_ADD),
            W::I64Sub => Kind::Byte(op::I64_SUB),
            W::I64Mul => Kind::Byte(op::I64_MUL),
            W::I64And => Kind::Byte(op::I64_AND),
            W::I64Or => Kind::Byte(op::I64_OR),
            W::I64Xor => Kind::Byte(op::I64_XOR),
            W::I64Shl => Kind::Byte(op::I64_SHL),
            W::I64ShrS => Kind::Byte(op::I64_SHR_S),
            W::I64ShrU => Kind::Byte(op::I64_SHR_U),
            W::I32WrapI64 => Kind::Byte(op::I32_WRAP_I64),
            W::I64ExtendI32S => Kind::Byte(op::I64_EXTEND_I32_S),
            W::I64ExtendI32U => Kind::Byte(op::I64_EXTEND_I32_U),
            W::I64Extend32S => Kind::Byte(op::I64_EXTEND32_S),
            W::I32Load(m) => Kind::memory(op::I32_LOAD, m),
            W::I64Load(m) => Kind::memory(op::I64_LOAD, m),
            W::F32Load(m) => Kind::memory(op::F32_LOAD, m),
            W::F64Load(m) => Kind::memory(op::F64_LOAD, m),
            W::I64Load8S(m) => Kind::memory(op::I64_LOAD8_S, m),
            W::I64Load8U(m) => Kind::memory(op::I64_LOAD8_U, m),
            W::I64Load16S(m) => Kind::memory(op::I64_LOAD16_S, m),
            W::I64Load16U(m) => Kind::memory(op::I64_LOAD16_U, m),
            W::I64Load32S(m) => Kind::memory(op::I64_LOAD32_S, m),
            W::I64Load32U(m) => Kind::memory(op::I64_LOAD32_U, m),
            W::I32Store(m) => Kind::memory(op::I32_STORE, m),
            W::I64Store(m) => Kind::memory(op::I64_STORE, m),
            W::F32Store(m) => Kind::memory(op::F32_STORE, m),
            W::F64Store(m) => Kind::memory(op::F64_STORE, m),
            W::I32Store8(m) => Kind::memory(op::I32_STORE8, m),
            W::I32Store16(m) => Kind::memory(op::I32_STORE16, m),
            W::I64Store8(m) => Kind::memory(op::I64_STORE8, m),
            W::I64Store16(m) => Kind::memory(op::I64_STORE16, m),
            W::I64Store32(m) => Kind::memory(op::I64_STORE32, m),
            W::If(_) | W::Block(_) | W::Loop(_) => Kind::Opens,
            W::Else
            | W::End
            | W::Br(_)
            | W::BrIf(_)
            | W::BrTable(..)
            | W::Return
            | W::Unreachable => Kind::Control,
            _ => Kind::Other,
        }
    }

    /// Appends the encoding of the kinds that determine their instruction
    /// (locals, constants, one-byte instructions); false for the rest.
    #[inline(always)]
    fn encode(self, sink: &mut Vec<u8>) -> bool {
        fn sleb(sink: &mut Vec<u8>, mut v: i64) {
            loop {
                let byte = v as u8 & 0x7f;
                v >>= 7;
                let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0);
                sink.push(if done { byte } else { byte | 0x80 });
                if done {
                    break;
                }
            }
        }
        match self {
            Kind::Get(l) | Kind::Set(l) | Kind::Tee(l) => {
                sink.push(match self {
                    Kind::Get(_) => 0x20,
                    Kind::Set(_) => 0x21,
                    _ => 0x22,
                });
                uleb(sink, l as u64);
            }
            Kind::I32Const(c) => {
                sink.push(0x41);
                sleb(sink, c as i64);
            }
            Kind::I64Const(c) => {
                sink.push(0x42);
                sleb(sink, c);
            }
            Kind::Byte(op) => sink.push(op),
            Kind::Memory {
                opcode,
                align,
                offset,
            } => {
                sink.push(opcode);
                uleb(sink, align as u64);
                uleb(sink, offset);
            }
            Kind::Opens | Kind::Control | Kind::Other => return false,
        }
        true
    }
}

/// Appends the encoding of `i`, of kind `k`: directly where the kind
/// determines it, through wasm-encoder otherwise.
fn encode(k: Kind, i: &W<'static>, sink: &mut Vec<u8>) {
    if !k.encode(sink) {
        wasm_encoder::Encode::encode(i, sink);
    }
}

/// Drops an emitted instruction. Of the variants the lowering emits only
/// `br_table` owns memory: skipping the others' drop glue (a call and a
/// match on the variant, once per wasm instruction) was measurable.
#[inline(always)]
fn discard(i: W<'static>) {
    if matches!(i, W::BrTable(..)) {
        drop(i);
    } else {
        std::mem::forget(i);
    }
}

/// Appends `v` as unsigned LEB128.
fn uleb(sink: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        sink.push(v as u8 | 0x80);
        v >>= 7;
    }
    sink.push(v as u8);
}

/// A function body's opening locals declaration (runs of one type, each as
/// count and type, after the number of runs), in a buffer of `capacity`
/// bytes for the code to follow. (What `wasm_encoder::Function` writes, in
/// a few dozen instructions instead of a few thousand.)
fn locals_header(declared: &[ValType], capacity: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(capacity);
    uleb(&mut body, declared.chunk_by(|a, b| a == b).count() as u64);
    for run in declared.chunk_by(|a, b| a == b) {
        uleb(&mut body, run.len() as u64);
        wasm_encoder::Encode::encode(&run[0], &mut body);
    }
    body
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

/// A memory argument with no alignment promise (x86 allows any).
pub fn mem(offset: u64) -> MemArg {
    MemArg {
        offset,
        align: 0,
        target: wasm_encoder::MemArgTarget::Memory(0),
        ordering: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locals_header_matches_wasm_encoder() {
        use ValType::*;
        let cases: [&[ValType]; 5] = [
            &[],
            &[I64],
            &[I64, I64, I32, I64],
            &[I64; 200],
            &[I64, I64, I32, I32, V128, F64, F32, F32],
        ];
        for declared in cases {
            let theirs = wasm_encoder::Function::new_with_locals_types(declared.iter().copied())
                .into_raw_body();
            assert_eq!(locals_header(declared, 0), theirs, "{declared:?}");
        }
    }

    /// The operand-only register usage must cover all that iced's info
    /// factory reports, for every instruction it claims: checked on random
    /// bytes (every operand size, REX, high bytes, memory forms) decoded
    /// by iced. Letting one-operand `imul`, or `xchg` or `cdq`, into the
    /// list makes it fail (tried).
    #[test]
    fn operand_registers_cover_what_the_info_factory_reports() {
        let mut factory = InstructionInfoFactory::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut checked = std::collections::BTreeSet::new();
        for _ in 0..400_000 {
            let mut bytes = [0u8; 16];
            for b in bytes.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            // half of them behind a REX prefix (64-bit and r8-r15 forms)
            if bytes[15] & 1 == 0 {
                bytes[0] = 0x40 | (bytes[0] & 0x0f); // a REX prefix
            }
            let ins = iced_x86::Decoder::new(64, &bytes, 0).decode();
            let Some(writes_first) = explicit_registers_only(&ins) else {
                continue;
            };
            let (reads, writes) = explicit_registers(&ins, writes_first);
            for used in factory
                .info_options(&ins, InstructionInfoOptions::NO_MEMORY_USAGE)
                .used_registers()
            {
                let Some(r) = Reg::of(used.register()) else {
                    continue;
                };
                if r == Reg::Gpr(RSP) {
                    continue; // every function reads and writes rsp
                }
                let written = !matches!(used.access(), OpAccess::Read | OpAccess::CondRead);
                assert!(
                    reads & reg_bit(r) != 0 && (!written || writes & reg_bit(r) != 0),
                    "{ins} ({:?}): {:?} {:?} not covered",
                    ins.code(),
                    used.register(),
                    used.access()
                );
            }
            checked.insert(ins.mnemonic());
        }
        // the random bytes reached the common mnemonics
        for m in [
            Mnemonic::Mov,
            Mnemonic::Add,
            Mnemonic::Imul,
            Mnemonic::Push,
            Mnemonic::Pop,
        ] {
            assert!(checked.contains(&m), "{m:?} never decoded");
        }
    }

    #[test]
    fn the_direct_encoder_matches_wasm_encoder() {
        let mut table: Vec<W<'static>> = Vec::new();
        for v in [0u32, 1, 63, 64, 127, 128, 16_383, 16_384, u32::MAX] {
            table.extend([W::LocalGet(v), W::LocalSet(v), W::LocalTee(v)]);
        }
        for v in [
            0i64,
            1,
            -1,
            63,
            64,
            -64,
            -65,
            127,
            128,
            0xff,
            0xffff_ffff,
            i32::MIN as i64,
            i32::MAX as i64,
            i64::MIN,
            i64::MAX,
        ] {
            table.extend([W::I64Const(v), W::I32Const(v as i32)]);
        }
        table.extend([
            W::I32Eqz,
            W::I32Eq,
            W::I32Ne,
            W::I64Eqz,
            W::I64Eq,
            W::I64Ne,
            W::I64LtS,
            W::I64LtU,
            W::I64GtS,
            W::I64GtU,
            W::I32And,
            W::I32Or,
            W::I32Xor,
            W::I64Add,
            W::I64Sub,
            W::I64Mul,
            W::I64And,
            W::I64Or,
            W::I64Xor,
            W::I64Shl,
            W::I64ShrS,
            W::I64ShrU,
            W::I32WrapI64,
            W::I64ExtendI32S,
            W::I64ExtendI32U,
            W::Select,
            W::I32Add,
            W::I32Sub,
            W::I64Clz,
            W::I64Ctz,
            W::I64Popcnt,
            W::I64Extend32S,
            W::Br(3), // (through wasm-encoder)
        ]);
        // loads and stores, with offsets and alignments at the LEB128 edges
        for offset in [0u64, 5, 127, 128, 0xffff_ffff, u64::MAX] {
            for align in [0u32, 3, 200] {
                let m = MemArg {
                    align,
                    ..mem(offset)
                };
                table.extend([
                    W::I32Load(m),
                    W::I64Load(m),
                    W::F32Load(m),
                    W::F64Load(m),
                    W::I64Load8S(m),
                    W::I64Load8U(m),
                    W::I64Load16S(m),
                    W::I64Load16U(m),
                    W::I64Load32S(m),
                    W::I64Load32U(m),
                    W::I32Store(m),
                    W::I64Store(m),
                    W::F32Store(m),
                    W::F64Store(m),
                    W::I32Store8(m),
                    W::I32Store16(m),
                    W::I64Store8(m),
                    W::I64Store16(m),
                    W::I64Store32(m),
                ]);
            }
        }
        // another memory: wasm-encoder's own encoding
        table.push(W::I64Load(MemArg {
            target: wasm_encoder::MemArgTarget::Memory(1),
            ..mem(8)
        }));
        for i in &table {
            let mut ours = Vec::new();
            encode(Kind::of(i), i, &mut ours);
            let mut theirs = Vec::new();
            wasm_encoder::Encode::encode(i, &mut theirs);
            assert_eq!(ours, theirs, "{i:?}");
        }
    }
}
