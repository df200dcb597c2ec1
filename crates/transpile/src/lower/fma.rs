//! FMA: `vfmadd132sd` & co., every form (`madd`, `msub`, `nmadd`, `nmsub`,
//! `maddsub`, `msubadd`; operand orders 132, 213, 231; `sd`, `ss`, `pd`,
//! `ps`, 128 and 256 bits). Each element is one call of the module's
//! fused multiply-add helper (`crate::builtins::fma`), which rounds once.

use iced_x86::{Mnemonic, OpKind};
use wasm_encoder::Instruction as W;

use super::avx::{read_vector, read_xmm, write};
use super::Ctx;
use crate::error::TranspileError;

/// What an FMA mnemonic computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FmaForm {
    /// Which operands are x, y, z of `x * y + z` (132, 213 or 231).
    pub order: [u32; 3],
    /// The helper's `mode` for even and odd elements: bit 0 negates the
    /// product, bit 1 the addend.
    pub modes: [i32; 2],
    /// Doubles (else singles).
    pub double: bool,
    /// One element (else every element).
    pub scalar: bool,
}

/// The form of mnemonic `m`, if it is an FMA instruction. (Looked up:
/// `module.rs` asks for every instruction of a program.)
pub(crate) fn fma_form(m: Mnemonic) -> Option<FmaForm> {
    static FORMS: std::sync::OnceLock<crate::fxhash::FxHashMap<Mnemonic, FmaForm>> =
        std::sync::OnceLock::new();
    FORMS
        .get_or_init(|| {
            Mnemonic::values()
                .filter_map(|m| form_of_name(m).map(|f| (m, f)))
                .collect()
        })
        .get(&m)
        .copied()
}

/// The form an FMA mnemonic's name says: `vf` `nmadd` `231` `pd`.
fn form_of_name(m: Mnemonic) -> Option<FmaForm> {
    let name = format!("{m:?}").to_ascii_lowercase();
    let rest = name.strip_prefix("vf")?;
    let (modes, rest) = [
        ("maddsub", [2, 0]),
        ("msubadd", [0, 2]),
        ("nmadd", [1, 1]),
        ("nmsub", [3, 3]),
        ("madd", [0, 0]),
        ("msub", [2, 2]),
    ]
    .iter()
    .find_map(|(kind, modes)| rest.strip_prefix(kind).map(|r| (*modes, r)))?;
    let (order, kind) = match rest.split_at_checked(3)? {
        ("132", k) => ([0, 2, 1], k),
        ("213", k) => ([1, 0, 2], k),
        ("231", k) => ([1, 2, 0], k),
        _ => return None,
    };
    let (double, scalar) = match kind {
        "sd" => (true, true),
        "ss" => (false, true),
        "pd" => (true, false),
        "ps" => (false, false),
        _ => return None,
    };
    Some(FmaForm {
        order,
        modes,
        double,
        scalar,
    })
}

/// Lowers `c.ins` if it is an FMA instruction; false if not.
pub(super) fn lower(c: &mut Ctx) -> Result<bool, TranspileError> {
    let Some(form) = fma_form(c.ins.mnemonic()) else {
        return Ok(false);
    };
    let helper = c.callees.helpers.fma[usize::from(form.double)];
    let element = if form.double { 8 } else { 4 };
    // the three operands' halves (a scalar memory operand: its element)
    let mut halves = [(0, 0); 3];
    for (op, half) in halves.iter_mut().enumerate() {
        let op = op as u32;
        *half = if form.scalar && c.ins.op_kind(op) == OpKind::Memory {
            let v = read_xmm(c, op, element, 2)?;
            (v, v)
        } else {
            read_vector(c, op, 2 * op as usize % 4)?
        };
    }
    let count = if form.scalar { 1 } else { 16 / element };
    let result = c.locals.avx(1);
    let ymm = c.ins.op0_register().is_ymm();
    let computed = if ymm { 2 } else { 1 };
    let mut parts = Vec::new();
    for k in 0..computed {
        let pick = |(low, high): (u32, u32)| if k == 0 { low } else { high };
        // starts as the destination: a scalar form keeps its other elements
        c.emit_all([W::LocalGet(pick(halves[0])), W::LocalSet(result)]);
        for lane in 0..count {
            c.emit(W::LocalGet(result));
            for &op in &form.order {
                c.emit(W::LocalGet(pick(halves[op as usize])));
                c.emit(if form.double {
                    W::I64x2ExtractLane(lane as u8)
                } else {
                    W::I32x4ExtractLane(lane as u8)
                });
            }
            c.emit_all([
                W::I32Const(form.modes[lane as usize % 2]),
                W::Call(helper),
                if form.double {
                    W::I64x2ReplaceLane(lane as u8)
                } else {
                    W::I32x4ReplaceLane(lane as u8)
                },
                W::LocalSet(result),
            ]);
        }
        let part = c.locals.avx(0);
        if k == 0 && computed == 2 {
            // (the low half waits while the high one is computed)
            c.emit_all([W::LocalGet(result), W::LocalSet(part)]);
            parts.push(part);
        } else {
            parts.push(result);
        }
    }
    write(c, |c| {
        for &p in &parts {
            c.emit(W::LocalGet(p));
        }
        if parts.len() == 1 {
            c.emit(W::V128Const(0));
        }
        Ok(())
    })?;
    Ok(true)
}
