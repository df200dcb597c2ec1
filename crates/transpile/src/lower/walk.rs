//! The tree walk: the structured control flow of one function (blocks,
//! loops, ifs, switches) and the straight-line code of each block.

use super::*;
use crate::cfg::Terminator;


impl<'a> Ctx<'a> {

    pub(super) fn nodes(&mut self, nodes: &[Control]) -> Result<(), TranspileError> {
        for node in nodes {
            self.node(node)?;
        }
        Ok(())
    }

    fn node(&mut self, node: &Control) -> Result<(), TranspileError> {
        match node {
            Control::Block(body) => {
                self.emit(W::Block(BlockType::Empty));
                self.nodes(body)?;
                self.emit(W::End);
            }
            Control::Loop(body) => {
                self.emit(W::Loop(BlockType::Empty));
                self.nodes(body)?;
                self.emit(W::End);
            }
            Control::Code(b) => self.block_body(*b)?,
            Control::If {
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
            Control::Switch {
                depths, default, ..
            } => {
                let n = depths.len() as i64;
                let sw = self.locals.switch();
                if n == 1 {
                    // one target (a group's only return site or callee): a
                    // branch on index 0
                    self.emit_all([
                        W::LocalGet(sw),
                        W::I64Eqz,
                        W::BrIf(depths[0]),
                        W::Br(*default),
                    ]);
                    return Ok(());
                }
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
            Control::Dispatch { depths, default } => {
                self.emit_all([
                    W::LocalGet(self.locals.label()),
                    W::BrTable(depths.clone().into(), *default),
                ]);
            }
            Control::Br(d) => self.emit(W::Br(*d)),
            Control::Return(b) => {
                self.set_instruction(self.terminator_instruction(*b));
                self.ret()?;
            }
            Control::TailCall(b) => {
                self.set_instruction(self.terminator_instruction(*b));
                self.tail_call()?;
            }
            Control::Trap(b) => {
                let ins = self.terminator_instruction(*b);
                self.set_instruction(ins);
                let is_trap = self.function.is_trap(&ins);
                if !is_trap
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
            Control::Unreachable => self.emit(W::Unreachable),
            Control::Exit => self.exit(),
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
        // an entry (of the function, or of a group's member) checks rsp
        if let Some(first) = self.function.instructions.get(block.instructions.start) {
            if !block.instructions.is_empty() {
                if let Some(&limit) = self.stack.entries.get(&first.ip()) {
                    self.check_stack(limit);
                }
            }
        }
        self.flags.enter_block();
        let live_out = self.flags.live_out(self.cfg, b);
        let mut lives = std::mem::take(&mut self.lives);
        flags::live_after_each(self, b, live_out, &mut lives);
        let body = block.instructions.start..block.instructions.start + block.body;
        let mut k = 0;
        while k < body.len() {
            let idx = body.start + k;
            // a run of pushes (a prologue) or pops (an epilogue) moves rsp once
            let run = self.push_pop_run(idx..body.end);
            if run >= 2 {
                int::push_pop_run(self, &self.function.instructions[idx..idx + run]);
                k += run;
                continue;
            }
            self.set_instruction(self.function.instructions[idx]);
            self.prev_in_block = (k > 0).then(|| self.function.instructions[idx - 1]);
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
                    W::LocalSet(self.locals.switch()),
                ]);
            }
            self.instruction()?;
            if let Some(&limit) = self.stack.checked.get(&self.ins.ip()) {
                self.check_stack(limit);
            }
            if self.stack.ceiling.contains(&self.ins.ip()) {
                let top = self.stack.top;
                self.emit_all([
                    W::LocalGet(self.locals.gpr(RSP)),
                    W::I64Const(top as i64 - 8),
                    W::I64GtU,
                    W::If(BlockType::Empty),
                    W::Unreachable,
                    W::End,
                ]);
            }
            k += 1;
        }
        self.lives = lives;
        // the terminator's own jump-table index (non-PIE `jmp [table + 8*idx]`);
        // blocks made by the structurer have no instructions at all
        if block.body < block.instructions.len() {
            let last = self.function.instructions[block.instructions.end - 1];
            if let Some(table) = self.function.jump_tables.get(&last.ip()) {
                if table.index_at == last.ip() {
                    let sw = self.locals.switch();
                    if table.by_address {
                        // a computed goto: the index of the target whose
                        // address the jump's operand (a register, or the
                        // qword it reads) holds; none's: past the table, a
                        // trap
                        self.set_instruction(last);
                        let address = self.locals.t(0);
                        self.read(0)?;
                        self.emit_all([
                            W::LocalSet(address),
                            W::I64Const(table.targets.len() as i64),
                            W::LocalSet(sw),
                        ]);
                        for (k, &target) in table.targets.iter().enumerate() {
                            self.emit_all([
                                W::I64Const(k as i64),
                                W::LocalGet(sw),
                                W::LocalGet(address),
                                W::I64Const(target as i64),
                                W::I64Eq,
                                W::Select,
                                W::LocalSet(sw),
                            ]);
                        }
                    } else {
                        let r =
                            Reg::of(table.index_register).ok_or_else(|| self.unsupported())?;
                        self.emit_all([W::LocalGet(self.locals.reg(r)), W::LocalSet(sw)]);
                    }
                }
            }
        }
        self.flags_materialize(live_out);
        match &block.terminator {
            Terminator::GroupCall {
                targets,
                indirect,
                returns_to,
            } => {
                self.set_instruction(self.terminator_instruction(b));
                self.group_call(targets, *indirect, returns_to.is_some())?;
            }
            Terminator::GroupReturn { sites } => {
                self.set_instruction(self.terminator_instruction(b));
                self.group_return(sites)?;
            }
            _ => {}
        }
        if !matches!(
            block.terminator,
            Terminator::Branch { .. }
        ) {
            // no `if` of this block reads the producer: nothing may spill it
            self.flags.clobber_all();
        }
        if let Some(label) = block.sets_label {
            self.emit_all([W::I32Const(label as i32), W::LocalSet(self.locals.label())]);
        }
        Ok(())
    }

    /// How many instructions from the start of `range` are all `push r64`
    /// or all `pop r64` (rsp neither pushed nor popped), none checked by
    /// the stack guard nor holding a jump table's index.
    fn push_pop_run(&self, range: std::ops::Range<usize>) -> usize {
        let instructions = &self.function.instructions[range];
        let Some(mnemonic) = instructions.first().map(|i| i.mnemonic()) else {
            return 0;
        };
        if !matches!(mnemonic, Mnemonic::Push | Mnemonic::Pop) {
            return 0;
        }
        instructions
            .iter()
            .take_while(|i| {
                i.mnemonic() == mnemonic
                    && int::is_plain_push_or_pop(i)
                    && !self.stack.checked.contains_key(&i.ip())
                    && !self.function.jump_tables.values().any(|t| t.index_at == i.ip())
            })
            .count()
    }

    /// Lowers `self.ins`.
    pub(super) fn instruction(&mut self) -> Result<(), TranspileError> {
        match self.ins.flow_control() {
            FlowControl::Call | FlowControl::IndirectCall => return self.call(),
            FlowControl::Next => {}
            _ => return Err(self.unsupported()),
        }
        if vex::lower(self)? {
            return Ok(());
        }
        if self.lower_legacy()? {
            return Ok(());
        }
        Err(self.unsupported())
    }

    /// Lowers `self.ins`, a legacy-encoded instruction that neither
    /// branches nor calls; false if it is none this lowering knows.
    pub(super) fn lower_legacy(&mut self) -> Result<bool, TranspileError> {
        Ok(int::lower(self)?
            || int_ext::lower(self)?
            || sse::lower(self)?
            || sse4::lower(self)?
            || float::lower(self)?)
    }

    // ------------------------------------------------------------ calls
}
