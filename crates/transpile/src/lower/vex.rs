//! VEX-encoded SSE (AVX's 128-bit and scalar forms: `vaddsd`, `vmovdqu`,
//! `vpxor`, `vucomisd`, ...), lowered as the legacy SSE instruction they
//! extend.
//!
//! A VEX form with one operand more than its legacy form takes its first
//! source from that operand (Intel SDM vol. 2, 2.3: the non-destructive
//! source, VEX.vvvv), where the legacy form reads its destination: `vsubsd
//! x1, x2, x3` is x1 = x2 - x3 in lane 0 and x2's upper lane, that is `movaps
//! x1, x2; subsd x1, x3`. A form with as many operands does what its legacy
//! form does. So a VEX instruction is lowered as a copy of that first source
//! into the destination, then the legacy instruction. When the destination is
//! also the second source (`vsubsd x1, x2, x1`), the second source is first
//! saved in a scratch local, which the legacy lowering reads instead
//! ([`Ctx::vex_source`]).
//!
//! A 256-bit form whose halves are independent (`vpaddq ymm`, `vxorps
//! ymm`, `vmovdqu ymm`, `vpshufd ymm`: most of them) is lowered as the
//! legacy form twice, on bits 127:0 and on bits 255:128 (the locals of
//! [`super::Reg::High`], and 16 bytes further in memory). A 128-bit form
//! zeroes bits 255:128 of what it writes; a module keeps those bits only
//! when some instruction uses a whole YMM register ([`is_wide`]): without
//! one they are never read.
//!
//! The legacy form of each VEX form is found in iced's own opcode tables
//! ([`legacy_code`]): the mnemonic without its `v`, and the same operand
//! kinds once VEX's extra source is set aside.

use std::sync::OnceLock;

use iced_x86::{Code, EncodingKind, Instruction, Mnemonic, OpCodeOperandKind as K, OpKind};
use wasm_encoder::Instruction as W;

use super::sse::xmm_local;
use super::Ctx;
use crate::error::TranspileError;
use crate::fxhash::FxHashMap;

/// A VEX instruction as its legacy form.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Legacy {
    /// The legacy instruction: the VEX destination, then the VEX operands
    /// after the first source.
    pub ins: Instruction,
    /// The first source (operand 1 of the VEX form) when the legacy form
    /// reads the destination instead: it is copied there first.
    pub first_source: Option<iced_x86::Register>,
}

/// `ins` as a legacy instruction, if it is a VEX form that has one.
pub(crate) fn legacy(ins: &Instruction) -> Option<Legacy> {
    if ins.encoding() != EncodingKind::VEX {
        return None;
    }
    let code = *legacy_codes().get(&ins.code())?;
    let mut legacy = *ins;
    legacy.set_code(code);
    let extra = ins.op_count() - code.op_code().op_count();
    if extra == 0 {
        return Some(Legacy {
            ins: legacy,
            first_source: None,
        });
    }
    for op in 1..legacy.op_count() {
        legacy.set_op_kind(op, ins.op_kind(op + 1));
        if ins.op_kind(op + 1) == OpKind::Register {
            legacy.set_op_register(op, ins.op_register(op + 1));
        }
    }
    Some(Legacy {
        ins: legacy,
        first_source: Some(ins.op1_register()),
    })
}

/// The mnemonic `ins` computes: its legacy form's, for a VEX form that has
/// one. What the stages that classify instructions by mnemonic look at.
pub(crate) fn mnemonic(ins: &Instruction) -> Mnemonic {
    legacy(ins).map_or(ins.mnemonic(), |l| l.ins.mnemonic())
}

/// Lowers `c.ins` if it is VEX-encoded: as its legacy form (a 256-bit
/// form as the legacy form on each 128-bit half), as AVX's own (`avx.rs`)
/// or BMI (`bmi.rs`), or refused. False for any other encoding.
pub(super) fn lower(c: &mut Ctx) -> Result<bool, TranspileError> {
    if c.ins.encoding() != EncodingKind::VEX {
        return Ok(false);
    }
    let vex = c.ins;
    let Some(form) = legacy(&vex) else {
        // AVX's own instructions, and BMI1/BMI2 (VEX-encoded too) have no
        // legacy form
        return if super::avx::lower(c)? || super::fma::lower(c)? || super::bmi::lower(c)? {
            Ok(true)
        } else {
            Err(c.unsupported())
        };
    };
    if is_compare(vex.mnemonic()) {
        // predicates 8-15 (and 24-31) have no legacy form; 16-23 differ
        // from 0-7 only in which NaNs signal, and exceptions are masked
        let predicate = vex.immediate(vex.op_count() - 1);
        if predicate & 8 != 0 {
            return Err(c.unsupported());
        }
    }
    if is_256(&vex) && shares_destination(&vex) {
        // (the first half's write would change what the second reads)
        return Err(c.unsupported());
    }
    let lowered = if is_256(&vex) {
        // each half as the legacy instruction; a 256-bit memory operand's
        // high half is 16 bytes on
        let bias = if vex.memory_size().size() == 32 { 16 } else { 0 };
        let mut high_form = form;
        // (the high half of these takes the immediate's next bits)
        match vex.mnemonic() {
            Mnemonic::Vshufpd | Mnemonic::Vblendpd => {
                high_form.ins.set_immediate8(vex.immediate8() >> 2 & 3)
            }
            Mnemonic::Vblendps => high_form.ins.set_immediate8(vex.immediate8() >> 4),
            // (the high half's blocks are imm[5:3])
            Mnemonic::Vmpsadbw => high_form.ins.set_immediate8(vex.immediate8() >> 3),
            _ => {}
        }
        lower_half(c, &vex, form).and_then(|()| {
            c.high_half = Some(bias);
            let high = lower_half(c, &vex, high_form);
            c.high_half = None;
            high
        })
    } else {
        lower_half(c, &vex, form).map(|()| {
            c.ins = vex;
            zero_high_halves(c)
        })
    };
    c.ins = vex;
    c.vex_source = None;
    match lowered {
        Ok(()) => Ok(true),
        Err(TranspileError::Unsupported { .. }) => Err(c.unsupported()),
        Err(e) => Err(e),
    }
}

/// Whether a 256-bit form reads an XMM operand (a shift's count) that is
/// bits 127:0 of its destination: lowered half by half, the low half's
/// result would replace it before the high half reads it.
fn shares_destination(ins: &Instruction) -> bool {
    let destination = ins.op0_register();
    (1..ins.op_count()).any(|i| {
        ins.op_kind(i) == OpKind::Register
            && ins.op_register(i).is_xmm()
            && ins.op_register(i).number() == destination.number()
    })
}

/// Whether `ins` has a YMM operand (a 256-bit form).
fn is_256(ins: &Instruction) -> bool {
    (0..ins.op_count())
        .any(|i| ins.op_kind(i) == OpKind::Register && ins.op_register(i).is_ymm())
}

/// Whether the module must keep the high halves of the YMM registers: some
/// instruction reads or writes a whole YMM register. Without one they are
/// never read, and a VEX instruction's zeroing of them is not modelled.
pub(crate) fn is_wide(program: &crate::decode::Program) -> bool {
    program
        .functions
        .iter()
        .flat_map(|f| &f.instructions)
        .any(is_256)
}

/// A 128-bit VEX instruction zeroes bits 255:128 of the vector registers
/// it writes: in a module that keeps them ([`is_wide`]), so does this.
fn zero_high_halves(c: &mut Ctx) {
    if !c.callees.wide {
        return;
    }
    let mut factory = iced_x86::InstructionInfoFactory::new();
    let info = factory.info_options(&c.ins, iced_x86::InstructionInfoOptions::NO_MEMORY_USAGE);
    let written: Vec<u8> = info
        .used_registers()
        .iter()
        .filter(|u| {
            u.register().is_zmm()
                && u.register().number() < 16
                && !matches!(u.access(), iced_x86::OpAccess::Read | iced_x86::OpAccess::CondRead)
        })
        .map(|u| u.register().number() as u8)
        .collect();
    for n in written {
        let high = c.locals.reg(super::Reg::High(n));
        c.emit_all([W::V128Const(0), W::LocalSet(high)]);
    }
}

/// Lowers one half of VEX instruction `vex` as its legacy `form` (which
/// half: [`Ctx::high_half`]): the first source copied to the destination,
/// then the legacy instruction.
fn lower_half(c: &mut Ctx, vex: &Instruction, form: Legacy) -> Result<(), TranspileError> {
    c.ins = *vex;
    let Legacy {
        ins: mut legacy,
        first_source,
    } = form;
    if let Some(source) = first_source {
        let destination = vex.op0_register();
        if source != destination {
            let second_is_destination =
                legacy.op_kind(1) == OpKind::Register && legacy.op1_register() == destination;
            // the destination's value, when it is the second source too
            let saved = if second_is_destination {
                Some(save(c, 0)?)
            } else {
                None
            };
            copy(c, 1, 0)?;
            if saved.is_some() {
                // read from the scratch local, under another register's
                // name (so that no `xorps x, x` idiom is seen where there
                // is none)
                legacy.set_op1_register(source);
                c.vex_source = saved;
            }
        }
    }
    c.ins = legacy;
    let lowered = c.lower_legacy();
    c.vex_source = None;
    match lowered {
        Ok(true) => Ok(()),
        Ok(false) => Err(c.unsupported()),
        Err(e) => Err(e),
    }
}

/// `vcmpsd` & co.: their last operand is a predicate.
fn is_compare(m: Mnemonic) -> bool {
    matches!(
        m,
        Mnemonic::Vcmpsd | Mnemonic::Vcmpss | Mnemonic::Vcmppd | Mnemonic::Vcmpps
    )
}

/// Copies XMM register operand `from` of `c.ins` into operand `to`: the
/// scalar local when both registers hold scalars, else the v128.
fn copy(c: &mut Ctx, from: u32, to: u32) -> Result<(), TranspileError> {
    match (c.scalar_local(from), c.scalar_local(to)) {
        (Some(s), Some(d)) => c.emit_all([W::LocalGet(s), W::LocalSet(d)]),
        (None, None) => {
            let s = xmm_local(c, from).ok_or_else(|| c.unsupported())?;
            let d = xmm_local(c, to).ok_or_else(|| c.unsupported())?;
            c.emit_all([W::LocalGet(s), W::LocalSet(d)]);
        }
        // (scalar_registers gives both the same class: see its VEX copies)
        _ => return Err(c.unsupported()),
    }
    Ok(())
}

/// Saves XMM register operand `op` in a scratch local of its kind; returns
/// the local.
fn save(c: &mut Ctx, op: u32) -> Result<u32, TranspileError> {
    let scalar = c.locals.scalar[c.ins.op_register(op).number()];
    let (from, to) = match (c.scalar_local(op), scalar) {
        (Some(s), Some((_, fp))) => (s, c.locals.vex_source(fp.val_type())),
        _ => (
            xmm_local(c, op).ok_or_else(|| c.unsupported())?,
            c.locals.vex_source(wasm_encoder::ValType::V128),
        ),
    };
    c.emit_all([W::LocalGet(from), W::LocalSet(to)]);
    Ok(to)
}

/// Each VEX form's legacy form, from iced's tables.
fn legacy_codes() -> &'static FxHashMap<Code, Code> {
    static CODES: OnceLock<FxHashMap<Code, Code>> = OnceLock::new();
    CODES.get_or_init(|| {
        let mnemonics: FxHashMap<String, Mnemonic> = Mnemonic::values()
            .map(|m| (format!("{m:?}"), m))
            .collect();
        let mut by_mnemonic: FxHashMap<Mnemonic, Vec<Code>> = FxHashMap::default();
        for code in Code::values() {
            let info = code.op_code();
            if info.encoding() == EncodingKind::Legacy && info.mode64() && info.is_instruction() {
                by_mnemonic.entry(code.mnemonic()).or_default().push(code);
            }
        }
        let mut codes = FxHashMap::default();
        for code in Code::values() {
            let info = code.op_code();
            if info.encoding() != EncodingKind::VEX || !info.mode64() {
                continue;
            }
            let name = format!("{:?}", code.mnemonic());
            let Some(plain) = name.strip_prefix('V').and_then(|n| {
                let mut n = n.to_string();
                n[..1].make_ascii_uppercase();
                mnemonics.get(&n).copied()
            }) else {
                continue;
            };
            let vex: Vec<K> = (0..info.op_count()).map(|i| info.op_kind(i)).collect();
            let ymm = vex
                .iter()
                .any(|k| matches!(k, K::ymm_reg | K::ymm_rm | K::ymm_vvvv | K::ymm_or_mem));
            if ymm && ACROSS_HALVES.contains(&plain) {
                continue;
            }
            let found = by_mnemonic.get(&plain).and_then(|candidates| {
                candidates.iter().copied().find(|legacy| {
                    let l = legacy.op_code();
                    let kinds: Vec<K> = (0..l.op_count()).map(|i| l.op_kind(i)).collect();
                    same_operands(&vex, &kinds)
                })
            });
            if let Some(legacy) = found {
                codes.insert(code, legacy);
            }
        }
        codes
    })
}

/// Whether VEX operand kinds `vex` are those of legacy kinds `legacy`: the
/// same, or with one more register at position 1 (the first source).
fn same_operands(vex: &[K], legacy: &[K]) -> bool {
    let vex: Vec<K> = match vex.len() as isize - legacy.len() as isize {
        0 => vex.to_vec(),
        1 if class(vex[1]) == Some(Class::Xmm) && class(vex[0]) == Some(Class::Xmm) => {
            [&vex[..1], &vex[2..]].concat()
        }
        _ => return false,
    };
    vex.iter().zip(legacy).all(|(&v, &l)| {
        let (Some(v), Some(l)) = (class(v), class(l)) else {
            return false;
        };
        v == l
            || (l == Class::XmmOrMem && matches!(v, Class::Xmm | Class::Mem))
            || (l == Class::Gpr32OrMem && v == Class::Gpr32)
            || (l == Class::Gpr64OrMem && v == Class::Gpr64)
    })
}

/// Legacy instructions whose 256-bit VEX form is not the legacy one on
/// each half: masks of the whole register and conversions between widths
/// (`avx.rs` has those).
const ACROSS_HALVES: [Mnemonic; 21] = [
    Mnemonic::Ptest,
    Mnemonic::Pmovsxbw,
    Mnemonic::Pmovsxbd,
    Mnemonic::Pmovsxbq,
    Mnemonic::Pmovsxwd,
    Mnemonic::Pmovsxwq,
    Mnemonic::Pmovsxdq,
    Mnemonic::Pmovzxbw,
    Mnemonic::Pmovzxbd,
    Mnemonic::Pmovzxbq,
    Mnemonic::Pmovzxwd,
    Mnemonic::Pmovzxwq,
    Mnemonic::Pmovzxdq,
    Mnemonic::Pmovmskb,
    Mnemonic::Movmskps,
    Mnemonic::Movmskpd,
    Mnemonic::Cvtps2pd,
    Mnemonic::Cvtdq2pd,
    Mnemonic::Cvtpd2ps,
    Mnemonic::Cvtpd2dq,
    Mnemonic::Cvttpd2dq,
];

/// Operand kinds as what they can hold (a YMM operand as an XMM one: a
/// 256-bit form is lowered half by half).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Xmm,
    XmmOrMem,
    Mem,
    Gpr32,
    Gpr64,
    Gpr32OrMem,
    Gpr64OrMem,
    Imm8,
}

fn class(k: K) -> Option<Class> {
    Some(match k {
        K::xmm_reg | K::xmm_rm | K::xmm_vvvv | K::ymm_reg | K::ymm_rm | K::ymm_vvvv => Class::Xmm,
        K::xmm_or_mem | K::ymm_or_mem => Class::XmmOrMem,
        K::mem => Class::Mem,
        K::r32_reg | K::r32_rm | K::r32_vvvv => Class::Gpr32,
        K::r64_reg | K::r64_rm | K::r64_vvvv => Class::Gpr64,
        K::r32_or_mem => Class::Gpr32OrMem,
        K::r64_or_mem => Class::Gpr64OrMem,
        K::imm8 => Class::Imm8,
        _ => return None,
    })
}
