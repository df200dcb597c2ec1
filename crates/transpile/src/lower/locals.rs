//! The locals of one wasm function, by role, and the scalar float
//! registers' second home in f64/f32 locals.

use super::*;


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
    pub(super) fn new(abi: &Abi, uses_xmm: bool, scalars: [Option<float::Fp>; 16]) -> Locals {
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
    pub(super) fn scalars_to_vectors(&mut self, regs: &[Reg]) {
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
    pub(super) fn scalars_from_vectors(&mut self, regs: &[Reg]) {
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
}
