//! The tree walk: the structured control flow of one function (blocks,
//! loops, ifs, switches) and the straight-line code of each block.

use super::*;


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
            Control::Dispatch { depths, default } => {
                self.emit_all([
                    W::LocalGet(self.locals.label),
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
            Control::Unreachable => self.emit(W::Unreachable),
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
    pub(super) fn instruction(&mut self) -> Result<(), TranspileError> {
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
}
