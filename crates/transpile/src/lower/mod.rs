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
//! Its files, one concern or instruction family each, are listed in
//! docs/architecture.md ("The transpiler", the `lower` row).

mod abi;
mod avx;
mod bmi;
mod calls;
mod encode;
mod flags;
pub(crate) mod float;
pub(crate) mod fma;
mod int;
mod int_ext;
mod locals;
mod operands;
mod peephole;
mod regs;
mod sse;
mod sse4;
mod stack;
pub(crate) mod vex;
mod walk;

use std::collections::BTreeMap;

use iced_x86::{
    FlowControl, Instruction, InstructionInfoFactory, InstructionInfoOptions, Mnemonic, OpAccess,
    OpKind, Register,
};
use wasm_encoder::{BlockType, Instruction as W, MemArg, ValType};

use super::cfg::{BlockId, Cfg};
use super::builtins::{Builtin, Shape};
use super::decode::{Function, Program, Target};
use super::error::{hex_bytes, TranspileError};
use super::image::Image;
use super::structure::Control;

pub(crate) use flags::FlagState;

pub use abi::{abis, ret_pops, Abi};
pub use calls::{Callees, Helpers, TableCalls, TABLE_TYPE};
use encode::{discard, encode, locals_header, op, Kind};
pub(crate) use locals::Locals;
pub use crate::layout::mem;
pub use operands::{is_high_byte, is_immediate, mask};
pub use regs::{Reg, RAX, RDI, RDX, RSI, RSP};
use regs::{reg_bit, reg_index, regs_of, RegSet, REGS};

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
    /// Where rsp is checked against the stack's base.
    stack: stack::StackGuard,
    /// The instruction before [`Ctx::ins`] in its block (`None` for the
    /// first): what a `div` looks at for its dividend's high half.
    pub prev_in_block: Option<Instruction>,
    /// While a VEX instruction is lowered as its legacy form: the scratch
    /// local that holds its second source (operand 1 of the legacy form),
    /// saved before the destination was overwritten (`vex.rs`).
    pub vex_source: Option<u32>,
    /// While a 256-bit VEX instruction's bits 255:128 are lowered: YMM
    /// operands are their high halves, and the memory operand is this many
    /// bytes further (`vex.rs`).
    pub high_half: Option<u64>,
}

/// What one wasm function holds: one program function, or the members of a
/// recursion group lowered together (`recursion.rs`).
pub struct Unit<'a> {
    /// The code: the function's, or the group's merged function.
    pub function: &'a Function,
    /// The functions whose entries start an invocation: the function
    /// itself, or the group's members in order. With several, the wasm
    /// function takes the member to enter as one more parameter (an i32
    /// index, after the registers).
    pub members: Vec<&'a Function>,
    /// Whether `function` is a recursion group's code: its calls and tail
    /// jumps among `members` are jumps, its `ret` goes back to their
    /// return sites.
    pub group: bool,
    /// Whether the exports' code reaches it (rather than only pointers in
    /// data): one that is not and fails to lower becomes a trap.
    pub required: bool,
    /// Its registers in and out.
    pub abi: &'a Abi,
}

/// Entry point of the stage: one unit's wasm body, encoded (locals and
/// code, without the size prefix: what `CodeSection::raw` takes).
pub fn lower(
    image: &Image,
    program: &Program,
    unit: &Unit,
    cfg: &Cfg,
    tree: &[Control],
    abis: &[Abi],
    callees: &Callees,
) -> Result<Vec<u8>, TranspileError> {
    let function = unit.function;
    let abi = unit.abi;
    let uses_xmm = abi
        .inputs
        .iter()
        .chain(&abi.outputs)
        .any(|r| matches!(r, Reg::Xmm(_) | Reg::High(_)));
    // (which XMM registers hold scalars matters only to a function with XMM
    // locals; the scan reads every instruction's operands)
    let scalars = if uses_xmm {
        float::scalar_registers(function)
    } else {
        [None; 16]
    };
    let entry_parameter = unit.members.len() > 1;
    let locals = Locals::new(abi, u32::from(entry_parameter), uses_xmm, scalars);
    if entry_parameter {
        // block 0 dispatches on the label: the entry the caller asked for
        locals.label_is_parameter(abi.inputs.len() as u32);
    }
    // the locals header goes first but is known last (locals are declared
    // as the code asks for them)
    let body = Vec::with_capacity(32 + function.instructions.len() * 16);
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
        stack: stack::guard(function, cfg, &unit.members, callees.stack_base),
        prev_in_block: None,
        vex_source: None,
        high_half: None,
    };
    // scalar registers that arrive as parameters: take lane 0
    let arriving: Vec<Reg> = abi.inputs.clone();
    ctx.scalars_from_vectors(&arriving);
    if unit.group {
        let (rsp, entry) = (ctx.locals.gpr(RSP), ctx.locals.entry_rsp());
        ctx.emit_all([W::LocalGet(rsp), W::LocalSet(entry)]);
    }
    ctx.nodes(tree)?;
    ctx.emit(W::End);
    let mut function_body = locals_header(&ctx.locals.declared(), ctx.body.len() + 64);
    function_body.extend_from_slice(&ctx.body);
    Ok(function_body)
}

impl<'a> Ctx<'a> {
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
}
