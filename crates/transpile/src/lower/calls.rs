//! Calls and returns: the wasm functions the lowering calls (program
//! functions, builtins, helpers), x86 `call`, `ret`, tail jumps and
//! indirect calls, and the x86 stack they use.

use super::*;


/// Wasm function indices the lowering calls, and where the stack they use
/// ends.
#[derive(Clone, Debug, Default)]
pub struct Callees {
    /// Index of each program function.
    pub functions: Vec<u32>,
    /// Index of each builtin present in the module.
    pub builtins: BTreeMap<Builtin, u32>,
    /// Index of the runtime helpers (see `module.rs`).
    pub helpers: Helpers,
    /// The lowest address of the x86 stack (`module.rs` lays it out):
    /// functions check rsp against it (`stack.rs`).
    pub stack_base: u64,
    /// The function table, when the program has functions an indirect call
    /// may reach that it does not name.
    pub table: Option<TableCalls>,
    /// For each program function, the bytes its `ret` pops above the return
    /// address (`abi::ret_pops`).
    pub pops: Vec<Vec<u64>>,
    /// The thread pointer: `fs`'s base (`module.rs` lays out the thread).
    pub thread_pointer: u64,
    /// Whether the module keeps the high halves of the YMM registers
    /// (`vex::is_wide`).
    pub wide: bool,
}

/// The function table (`call_indirect` of type [`TABLE_TYPE`], table 0).
#[derive(Clone, Debug)]
pub struct TableCalls {
    /// Index of the lookup `(address: i64) -> i32` (traps on an address
    /// that is no entry's).
    pub lookup: u32,
    /// The registers every entry takes and returns.
    pub abi: Abi,
    /// The bytes any entry's `ret` may pop above the return address.
    pub pops: Vec<u64>,
}

/// The type index of the function table's entries (the module's first).
pub const TABLE_TYPE: u32 = 0;

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
    /// Fused multiply-add (`crate::builtins::fma`), f32 then f64: `(x, y, z, mode)
    /// -> bits`.
    pub fma: [u32; 2],
    /// F16C's single to half: `(bits: i32, mode: i32) -> i32`.
    pub f32_to_f16: u32,
}

impl Default for Helpers {
    /// No helper in the module.
    fn default() -> Helpers {
        Helpers {
            mulhu: u32::MAX,
            divu128: u32::MAX,
            divs128: u32::MAX,
            nan_fix: [u32::MAX; 4],
            fma: [u32::MAX; 2],
            f32_to_f16: u32::MAX,
        }
    }
}

/// How a call or jump reaches its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transfer {
    /// `call`: the return address pushed, a wasm call, and a check that the
    /// callee returned to it (rsp back where it was, the address still in
    /// its slot); otherwise a trap.
    Call,
    /// A tail jump: `return_call`, whose return is this function's.
    Tail,
    /// A tail jump out of a recursion group with calls of the group
    /// pending: a wasm call, after which scratch local 5 holds the slot the
    /// callee popped a return address from, which the group dispatches on.
    Resume,
}

/// The registers a builtin of `shape` takes (its wasm parameters, in
/// order) and gives (its result), as System V passes them.
pub fn builtin_registers(shape: Shape) -> (&'static [Reg], Reg) {
    const GPR_ARGS: [Reg; 4] = [Reg::Gpr(RDI), Reg::Gpr(RSI), Reg::Gpr(RDX), Reg::Gpr(1)];
    match shape {
        Shape::Memory => (&GPR_ARGS[..3], Reg::Gpr(RAX)),
        Shape::Heap => (&GPR_ARGS, Reg::Gpr(RAX)),
        Shape::Float => (&[Reg::Xmm(0)], Reg::Xmm(0)),
        Shape::Float2 => (&[Reg::Xmm(0), Reg::Xmm(1)], Reg::Xmm(0)),
    }
}

impl<'a> Ctx<'a> {
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

    /// Traps when rsp is below `limit` (`stack.rs`).
    pub(super) fn check_stack(&mut self, limit: u64) {
        self.emit_all([
            W::LocalGet(self.locals.gpr(RSP)),
            W::I64Const(limit as i64),
            W::I64LtU,
            W::If(BlockType::Empty),
            W::Unreachable,
            W::End,
        ]);
    }

    /// A call or jump inside a recursion group (`Terminator::GroupCall`), up
    /// to the jump: the address read (through a register or memory, before
    /// anything is pushed), the return address pushed for a `call`, and the
    /// callee's position among `targets` in the switch local.
    pub(super) fn group_call(
        &mut self,
        targets: &[(u64, BlockId)],
        indirect: bool,
        pushes: bool,
    ) -> Result<(), TranspileError> {
        let t = self.locals.t(4);
        if indirect {
            self.read(0)?;
            self.emit(W::LocalSet(t));
        }
        if pushes {
            let ret = self.ins.next_ip();
            self.push_value(|c| c.emit(W::I64Const(ret as i64)));
        }
        if indirect {
            self.select_index(t, targets);
        }
        Ok(())
    }

    /// The end of a group member's invocation (`Terminator::GroupReturn`),
    /// up to the jump: a `ret`, or a tail jump out of the group. When rsp
    /// is where it was when the wasm function was entered (its slot holds
    /// the wasm caller's return address: no call of the group is pending),
    /// it returns to the wasm caller (a tail jump as `return_call`).
    /// Otherwise the address popped (for a tail jump, after the callee
    /// returned) must be one of the return `sites`, whose position goes in
    /// the switch local; anything else, or rsp above the caller's slot,
    /// traps (the CPU would go where the module cannot).
    pub(super) fn group_return(&mut self, sites: &[(u64, BlockId)]) -> Result<(), TranspileError> {
        let (t, rsp, entry) = (self.locals.t(4), self.locals.gpr(RSP), self.locals.entry_rsp());
        let at_top = self.locals.t32(0);
        let is_ret = self.ins.flow_control() == FlowControl::Return;
        if is_ret && self.ins.mnemonic() != Mnemonic::Ret {
            return Err(self.unsupported());
        }
        self.emit_all([
            W::LocalGet(rsp),
            W::LocalGet(entry),
            W::I64GtU,
            W::If(BlockType::Empty),
            W::Unreachable,
            W::End,
        ]);
        if is_ret {
            let pop = 8 + if self.ins.op_count() == 1 {
                self.ins.immediate(0) as i64
            } else {
                0
            };
            self.emit_all([
                W::LocalGet(rsp),
                W::LocalGet(entry),
                W::I64Eq,
                W::LocalSet(at_top),
                W::LocalGet(rsp),
                W::I32WrapI64,
                W::I64Load(mem(0)),
                W::LocalSet(t),
                W::LocalGet(rsp),
                W::I64Const(pop),
                W::I64Add,
                W::LocalSet(rsp),
            ]);
        } else {
            // at the top, the tail jump's return is the group's
            self.emit_all([
                W::LocalGet(rsp),
                W::LocalGet(entry),
                W::I64Eq,
                W::If(BlockType::Empty),
            ]);
            self.tail_call()?;
            self.emit(W::End);
            // below it, the callee returns here, having popped an address:
            // the wasm caller's (an epilogue the jump went to popped this
            // function's frame too) or a return site's
            self.transfer(Transfer::Resume)?;
            let slot = self.locals.t(5);
            self.emit_all([
                W::LocalGet(slot),
                W::LocalGet(entry),
                W::I64GtU,
                W::If(BlockType::Empty),
                W::Unreachable,
                W::End,
                W::LocalGet(slot),
                W::LocalGet(entry),
                W::I64Eq,
                W::LocalSet(at_top),
                W::LocalGet(slot),
                W::I32WrapI64,
                W::I64Load(mem(0)),
                W::LocalSet(t),
            ]);
        }
        self.select_index(t, sites);
        let (sw, n) = (self.locals.switch(), sites.len() as i64);
        self.emit_all([
            W::LocalGet(at_top),
            W::If(BlockType::Empty),
            // back to the wasm caller
            W::I64Const(n),
            W::LocalSet(sw),
            W::Else,
            W::LocalGet(sw),
            W::I64Const(n),
            W::I64Eq,
            W::If(BlockType::Empty),
            W::Unreachable,
            W::End,
            W::End,
        ]);
        Ok(())
    }

    /// The switch local := the position of the i64 in local `value` among
    /// the addresses of `keys`, or their count when it is none of them.
    fn select_index(&mut self, value: u32, keys: &[(u64, BlockId)]) {
        if let [(key, _)] = keys {
            self.emit_all([
                W::LocalGet(value),
                W::I64Const(*key as i64),
                W::I64Ne,
                W::I64ExtendI32U,
                W::LocalSet(self.locals.switch()),
            ]);
            return;
        }
        self.emit(W::I64Const(keys.len() as i64));
        for (k, (key, _)) in keys.iter().enumerate() {
            // keep the index so far unless `value` is this key
            self.emit_all([
                W::I64Const(k as i64),
                W::LocalGet(value),
                W::I64Const(*key as i64),
                W::I64Ne,
                W::Select,
            ]);
        }
        self.emit(W::LocalSet(self.locals.switch()));
    }

    /// The wasm caller's return: the output registers (after a group's
    /// `ret` found no return site of its own).
    pub(super) fn exit(&mut self) {
        self.return_outputs();
    }

    /// Calls program function `index`; a tail call (`return_call`) hands
    /// its results on as this function's (their ABIs return the same
    /// registers, `abi.rs`).
    fn call_function(&mut self, index: usize, tail: bool) {
        let abi = &self.abis[index];
        self.scalars_to_vectors(&abi.inputs);
        let abi = &self.abis[index];
        for r in &abi.inputs {
            self.emit(W::LocalGet(self.locals.reg(*r)));
        }
        if tail {
            self.emit(W::ReturnCall(self.callees.functions[index]));
            return;
        }
        self.emit(W::Call(self.callees.functions[index]));
        for r in abi.outputs.iter().rev() {
            self.emit(W::LocalSet(self.locals.reg(*r)));
        }
        self.scalars_from_vectors(&abi.outputs);
    }

    fn call_builtin(&mut self, b: Builtin) {
        let index = self.callees.builtins[&b];
        let (args, result) = builtin_registers(b.shape());
        self.scalars_to_vectors(args);
        for r in args {
            self.emit(W::LocalGet(self.locals.reg(*r)));
        }
        self.emit_all([W::Call(index), W::LocalSet(self.locals.reg(result))]);
        self.scalars_from_vectors(&[result]);
    }

    /// Transfers control to `target` as `how` says (see [`Transfer`]).
    fn call_target(&mut self, target: &Target, how: Transfer) {
        let rsp = self.locals.gpr(RSP);
        let saved = self.locals.t(5);
        match target {
            Target::Function(a) => {
                let index = self.program.function_index(*a).expect("decoded callee");
                let pops = self.callees.pops[index].clone();
                match how {
                    Transfer::Call => {
                        let ret = self.ins.next_ip() as i64;
                        self.emit_all([W::LocalGet(rsp), W::LocalSet(saved)]);
                        self.push_value(|c| c.emit(W::I64Const(ret)));
                        self.call_function(index, false);
                        self.check_returned_here(ret, &pops);
                    }
                    Transfer::Tail => self.call_function(index, true),
                    Transfer::Resume => {
                        self.call_function(index, false);
                        self.popped_slot(&pops);
                    }
                }
            }
            Target::Builtin(b) => {
                self.call_builtin(*b);
                if how != Transfer::Call {
                    // a tail jump to a builtin: pop the return address
                    // ourselves (its slot, for Resume, in `saved`)
                    self.emit_all([
                        W::LocalGet(rsp),
                        W::LocalTee(saved),
                        W::I64Const(8),
                        W::I64Add,
                        W::LocalSet(rsp),
                    ]);
                    if how == Transfer::Tail {
                        self.return_outputs();
                    }
                }
            }
            Target::Trap => self.emit(W::Unreachable),
        }
    }

    /// `call` / `jmp` through a register or memory: compare against every
    /// function whose address this function loads, then look the address
    /// up in the function table (`call_indirect`); anything else traps.
    fn dispatch_indirect(&mut self, how: Transfer) -> Result<(), TranspileError> {
        let candidates: Vec<(u64, Target)> = self
            .function
            .indirect
            .iter()
            .map(|(a, t)| (*a, t.clone()))
            .collect();
        if candidates.is_empty() && self.callees.table.is_none() {
            return Err(TranspileError::Callee {
                function: self.function.name.clone(),
                address: self.ins.ip(),
                callee: if self.ins.op0_kind() == OpKind::Register {
                    format!("the address in {:?}", self.ins.op0_register()).to_lowercase()
                } else {
                    "a function pointer in memory".into()
                },
                reason: format!(
                    "an indirect {} whose possible targets are unknown (no function's address is loaded by the code or stored in the data it reads{})",
                    match self.ins.flow_control() {
                        FlowControl::IndirectBranch => {
                            "jump (a tail call, or a computed goto whose table of labels \
                             was not found)"
                        }
                        _ => "call",
                    },
                    match self.program.unavailable.first() {
                        Some((a, why)) => format!(
                            "; {} the data points to could not be transpiled: {why}",
                            self.image.describe(*a)
                        ),
                        None => String::new(),
                    }
                ),
            });
        }
        // the target, read before anything is pushed (`call [rsp]` reads the
        // slot the return address then overwrites)
        let t = self.locals.t(4);
        self.read(0)?;
        self.emit(W::LocalSet(t));
        for (address, target) in &candidates {
            self.emit_all([
                W::LocalGet(t),
                W::I64Const(*address as i64),
                W::I64Eq,
                W::If(BlockType::Empty),
            ]);
            self.call_target(target, how);
            self.emit(W::Else);
        }
        if self.callees.table.is_some() {
            self.table_call(t, how);
        } else {
            self.emit(W::Unreachable);
        }
        for _ in &candidates {
            self.emit(W::End);
        }
        Ok(())
    }

    /// A call or jump to the address in local `target` through the function
    /// table: its entry looked up (an address that is none traps), then
    /// `call_indirect` with the table's registers, as `how` says (a tail
    /// jump calls and then returns: the entries' ABI is not this
    /// function's).
    fn table_call(&mut self, target: u32, how: Transfer) {
        let table = self.callees.table.clone().expect("a function table");
        let rsp = self.locals.gpr(RSP);
        let saved = self.locals.t(5);
        let ret = self.ins.next_ip() as i64;
        if how == Transfer::Call {
            self.emit_all([W::LocalGet(rsp), W::LocalSet(saved)]);
            self.push_value(|c| c.emit(W::I64Const(ret)));
        }
        self.scalars_to_vectors(&table.abi.inputs);
        for r in &table.abi.inputs {
            self.emit(W::LocalGet(self.locals.reg(*r)));
        }
        self.emit_all([
            W::LocalGet(target),
            W::Call(table.lookup),
            W::CallIndirect {
                type_index: TABLE_TYPE,
                table_index: 0,
            },
        ]);
        for r in table.abi.outputs.iter().rev() {
            self.emit(W::LocalSet(self.locals.reg(*r)));
        }
        self.scalars_from_vectors(&table.abi.outputs);
        match how {
            Transfer::Call => self.check_returned_here(ret, &table.pops),
            Transfer::Tail => self.return_outputs(),
            Transfer::Resume => self.popped_slot(&table.pops),
        }
    }

    /// After a call that pushed `ret` with rsp then in scratch local 5: traps
    /// unless the callee returned here: rsp back where it was (above it by
    /// what its `ret N` pops, one of `pops`) and `ret` still in its slot.
    fn check_returned_here(&mut self, ret: i64, pops: &[u64]) {
        let (rsp, saved) = (self.locals.gpr(RSP), self.locals.t(5));
        for (k, n) in pops.iter().enumerate() {
            self.emit_all([
                W::LocalGet(rsp),
                W::LocalGet(saved),
                W::I64Const(*n as i64),
                W::I64Add,
                W::I64Ne,
            ]);
            if k > 0 {
                self.emit(W::I32And);
            }
        }
        self.emit_all([
            W::LocalGet(saved),
            W::I64Const(8),
            W::I64Sub,
            W::I32WrapI64,
            W::I64Load(mem(0)),
            W::I64Const(ret),
            W::I64Ne,
            W::I32Or,
            W::If(BlockType::Empty),
            W::Unreachable,
            W::End,
        ]);
    }

    /// After a tail jump's callee returned to this function (a recursion
    /// group below its top): scratch local 5 := the slot its `ret` popped
    /// the return address from, below rsp by 8 and what `ret N` pops. A
    /// callee whose `ret`s pop different amounts traps: where it returned
    /// from cannot be told.
    fn popped_slot(&mut self, pops: &[u64]) {
        let (rsp, slot) = (self.locals.gpr(RSP), self.locals.t(5));
        if let [n] = pops {
            self.emit_all([
                W::LocalGet(rsp),
                W::I64Const(8 + *n as i64),
                W::I64Sub,
                W::LocalSet(slot),
            ]);
        } else {
            self.emit(W::Unreachable);
        }
    }

    pub(super) fn call(&mut self) -> Result<(), TranspileError> {
        self.flags.clobber_all();
        self.transfer(Transfer::Call)
    }

    /// The call or jump of `self.ins` to its target (known, or through a
    /// register), as `how` says.
    fn transfer(&mut self, how: Transfer) -> Result<(), TranspileError> {
        match self.function.calls.get(&self.ins.ip()).cloned() {
            Some(target) => self.call_target(&target, how),
            None => self.dispatch_indirect(how)?,
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

    pub(super) fn ret(&mut self) -> Result<(), TranspileError> {
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

    /// A tail jump: every way out of it returns (or traps).
    pub(super) fn tail_call(&mut self) -> Result<(), TranspileError> {
        self.transfer(Transfer::Tail)?;
        // (past a known target's `return_call` or return this is dead code;
        // past a dispatch, no candidate matched)
        self.emit(W::Unreachable);
        Ok(())
    }

    // --------------------------------------------------------- operands
}
