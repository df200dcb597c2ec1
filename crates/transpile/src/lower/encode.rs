//! Encoding: what the peephole knows of a wasm instruction ([`Kind`]), the
//! instructions encoded directly, and the locals declaration.

use super::*;


/// What [`Ctx::emit`]'s peephole needs to know of a wasm instruction,
/// found with one dispatch on the wasm-encoder variant: the locals and
/// constants it folds with what they carry, the one-byte instructions by
/// opcode, and classes for the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
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
pub(super) mod op {
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
    pub(super) fn memory(opcode: u8, m: MemArg) -> Kind {
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
    pub(super) fn of(i: &W<'static>) -> Kind {
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
            | W::ReturnCall(_)
            | W::Unreachable => Kind::Control,
            _ => Kind::Other,
        }
    }

    /// Appends the encoding of the kinds that determine their instruction
    /// (locals, constants, one-byte instructions); false for the rest.
    #[inline(always)]
    pub(super) fn encode(self, sink: &mut Vec<u8>) -> bool {
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
pub(super) fn encode(k: Kind, i: &W<'static>, sink: &mut Vec<u8>) {
    if !k.encode(sink) {
        wasm_encoder::Encode::encode(i, sink);
    }
}

/// Drops an emitted instruction. Of the variants the lowering emits only
/// `br_table` owns memory: skipping the others' drop glue (a call and a
/// match on the variant, once per wasm instruction) was measurable.
#[inline(always)]
pub(super) fn discard(i: W<'static>) {
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
pub(super) fn locals_header(declared: &[ValType], capacity: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(capacity);
    uleb(&mut body, declared.chunk_by(|a, b| a == b).count() as u64);
    for run in declared.chunk_by(|a, b| a == b) {
        uleb(&mut body, run.len() as u64);
        wasm_encoder::Encode::encode(&run[0], &mut body);
    }
    body
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
