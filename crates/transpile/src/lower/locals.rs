//! The locals of one wasm function, by role, and the scalar float
//! registers' second home in f64/f32 locals.

use std::cell::{Cell, RefCell};

use super::*;


/// Locals of one wasm function, by role. The parameters (the ABI's input
/// registers) come first; every other local is declared when the lowering
/// first asks for it, so a function carries only the locals it uses: each
/// declared local is a slot in an engine's frame (V8's baseline compiler
/// zeroes every one on each call), which bounds how deep recursion goes.
#[derive(Clone, Debug)]
pub(crate) struct Locals {
    /// Local of each register by `reg_index` ([`NONE`]: not yet declared).
    reg: [Cell<u32>; REGS],
    /// Whether the function has XMM locals at all.
    uses_xmm: bool,
    /// The f64/f32 local of each XMM register that holds one scalar float for
    /// the whole function (`float::scalar_registers`); its v128 local is then
    /// only synchronised at calls, returns and entry.
    pub scalar: [Option<(u32, float::Fp)>; 16],
    /// CF, PF, ZF, SF, OF as i32 0/1.
    flag: [Cell<u32>; 5],
    /// Operands of the pending flag producer (i64) and its carry-in (i32).
    fa: Cell<u32>,
    fb: Cell<u32>,
    fr: Cell<u32>,
    fc: Cell<u32>,
    /// Scratch i64, i32 and v128 locals.
    t: [Cell<u32>; 6],
    t32: [Cell<u32>; 4],
    tv: [Cell<u32>; 4],
    /// A VEX instruction's saved second source, by type (f32, f64, v128).
    vex_source: [Cell<u32>; 3],
    /// Scratch v128 locals of AVX instructions that lower through legacy
    /// ones (which use `tv`).
    avx: [Cell<u32>; 2],
    /// The jump-table index of the pending switch (i64).
    switch: Cell<u32>,
    /// The dispatch label of irreducible regions (i32).
    label: Cell<u32>,
    /// rsp as a recursion group's wasm function was entered (i64).
    entry_rsp: Cell<u32>,
    /// Declared (non-parameter) locals, in index order.
    declared: RefCell<Vec<ValType>>,
    /// The number of parameters.
    params: u32,
}

/// A local not declared yet.
const NONE: u32 = u32::MAX;

impl Locals {
    /// The locals of a function with `abi`, and `extra_params` parameters
    /// after its registers.
    pub(super) fn new(
        abi: &Abi,
        extra_params: u32,
        uses_xmm: bool,
        scalars: [Option<float::Fp>; 16],
    ) -> Locals {
        let none = || Cell::new(NONE);
        let reg: [Cell<u32>; REGS] = std::array::from_fn(|_| none());
        for (i, r) in abi.inputs.iter().enumerate() {
            reg[reg_index(*r)].set(i as u32);
        }
        let mut locals = Locals {
            reg,
            uses_xmm,
            scalar: [None; 16],
            flag: std::array::from_fn(|_| none()),
            fa: none(),
            fb: none(),
            fr: none(),
            fc: none(),
            t: std::array::from_fn(|_| none()),
            t32: std::array::from_fn(|_| none()),
            tv: std::array::from_fn(|_| none()),
            vex_source: std::array::from_fn(|_| none()),
            avx: std::array::from_fn(|_| none()),
            switch: none(),
            label: none(),
            entry_rsp: none(),
            declared: RefCell::new(Vec::new()),
            params: abi.inputs.len() as u32 + extra_params,
        };
        if uses_xmm {
            for (fp, t) in [(float::Fp::D, ValType::F64), (float::Fp::S, ValType::F32)] {
                for (x, f) in scalars.iter().enumerate() {
                    if *f == Some(fp) {
                        locals.scalar[x] = Some((locals.declare(t), fp));
                    }
                }
            }
        }
        locals
    }

    /// Declares a new local of type `t`.
    fn declare(&self, t: ValType) -> u32 {
        let mut declared = self.declared.borrow_mut();
        declared.push(t);
        self.params + declared.len() as u32 - 1
    }

    /// The local in `slot`, declared of type `t` on first use.
    #[inline]
    fn get(&self, slot: &Cell<u32>, t: ValType) -> u32 {
        match slot.get() {
            NONE => {
                let l = self.declare(t);
                slot.set(l);
                l
            }
            l => l,
        }
    }

    /// The declared (non-parameter) locals' types, in index order.
    pub fn declared(&self) -> Vec<ValType> {
        self.declared.borrow().clone()
    }

    /// The local of a register.
    pub fn reg(&self, r: Reg) -> u32 {
        let t = match r {
            Reg::Gpr(_) => ValType::I64,
            Reg::Xmm(_) | Reg::High(_) if self.uses_xmm => ValType::V128,
            Reg::Xmm(_) | Reg::High(_) => return NONE,
        };
        self.get(&self.reg[reg_index(r)], t)
    }

    /// The local of a general-purpose register by number.
    pub fn gpr(&self, n: u8) -> u32 {
        self.get(&self.reg[n as usize], ValType::I64)
    }

    /// Flag `k` (CF, PF, ZF, SF, OF) as an i32 0/1.
    pub fn flag(&self, k: usize) -> u32 {
        self.get(&self.flag[k], ValType::I32)
    }

    /// The pending flag producer's operands and result (i64).
    pub fn fa(&self) -> u32 {
        self.get(&self.fa, ValType::I64)
    }
    pub fn fb(&self) -> u32 {
        self.get(&self.fb, ValType::I64)
    }
    pub fn fr(&self) -> u32 {
        self.get(&self.fr, ValType::I64)
    }
    /// The pending flag producer's carry-in (i32).
    pub fn fc(&self) -> u32 {
        self.get(&self.fc, ValType::I32)
    }

    /// Scratch i64 local `k`.
    pub fn t(&self, k: usize) -> u32 {
        self.get(&self.t[k], ValType::I64)
    }
    /// Scratch i32 local `k`.
    pub fn t32(&self, k: usize) -> u32 {
        self.get(&self.t32[k], ValType::I32)
    }
    /// Scratch v128 local `k`; [`NONE`] in a function without XMM locals.
    pub fn tv(&self, k: usize) -> u32 {
        if !self.uses_xmm {
            return NONE;
        }
        self.get(&self.tv[k], ValType::V128)
    }

    /// The scratch local of type `t` (f32, f64 or v128) for a VEX
    /// instruction's second source (`vex.rs`).
    pub fn vex_source(&self, t: ValType) -> u32 {
        let k = match t {
            ValType::F32 => 0,
            ValType::F64 => 1,
            _ => 2,
        };
        self.get(&self.vex_source[k], t)
    }

    /// Scratch v128 local `k` of `avx.rs` (0 or 1).
    pub fn avx(&self, k: usize) -> u32 {
        self.get(&self.avx[k], ValType::V128)
    }

    /// The jump-table index of the pending switch (i64).
    pub fn switch(&self) -> u32 {
        self.get(&self.switch, ValType::I64)
    }
    /// Makes parameter `index` (an i32) the dispatch label.
    pub fn label_is_parameter(&self, index: u32) {
        self.label.set(index);
    }

    /// The dispatch label of irreducible regions (i32).
    pub fn label(&self) -> u32 {
        self.get(&self.label, ValType::I32)
    }

    /// rsp as a recursion group's wasm function was entered (i64): a `ret`
    /// with rsp there returns to the wasm caller.
    pub fn entry_rsp(&self) -> u32 {
        self.get(&self.entry_rsp, ValType::I64)
    }
}

impl<'a> Ctx<'a> {
    /// The f64/f32 local of operand `op` when it is a scalar XMM register.
    pub fn scalar_local(&self, op: u32) -> Option<u32> {
        if self.ins.op_kind(op) != OpKind::Register || !self.ins.op_register(op).is_xmm() {
            return None;
        }
        let scalar = self.locals.scalar[self.ins.op_register(op).number()].map(|(l, _)| l);
        match (self.vex_source, op, scalar) {
            (Some(saved), 1, Some(_)) => Some(saved),
            _ => scalar,
        }
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
