//! The register model: which x86 registers the lowering keeps in locals,
//! and sets of them as bits.

use super::*;


/// An x86 register the lowering keeps in a local.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reg {
    /// General-purpose register by number (rax = 0 ... r15 = 15).
    Gpr(u8),
    /// XMM register by number: bits 127:0 of YMM n.
    Xmm(u8),
    /// Bits 255:128 of YMM n, kept only in a module with 256-bit
    /// instructions ([`Reg::halves`]).
    High(u8),
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
            Reg::Xmm(_) | Reg::High(_) => ValType::V128,
        }
    }

    /// The registers an iced register stands for in the ABI: a YMM or ZMM
    /// register is XMM n and, when the module models them (`wide`), bits
    /// 255:128 (iced names the whole ZMM register where a VEX instruction
    /// writes an XMM one: it zeroes the bits above).
    pub fn halves(register: Register, wide: bool) -> [Option<Reg>; 2] {
        let low = Reg::of(register);
        let high = (wide
            && (register.is_ymm() || register.is_zmm())
            && register.number() < 16)
            .then(|| Reg::High(register.number() as u8));
        [low, high]
    }

    /// The register an iced register belongs to (`eax` → rax, `xmm3` → xmm3).
    pub fn of(register: Register) -> Option<Reg> {
        if register == Register::None || register == Register::RIP || register == Register::EIP {
            return None;
        }
        // (iced reports what a VEX instruction writes as the whole ZMM
        // register: it zeroes the upper bits)
        if register.is_vector_register() && register.number() < 16 {
            return Some(Reg::Xmm(register.number() as u8));
        }
        if register.is_gpr() {
            let full = register.full_register();
            return Some(Reg::Gpr((full as u32 - Register::RAX as u32) as u8));
        }
        None
    }
}

/// A set of registers as bits: GPR n is bit n, XMM n is bit 16 + n, the
/// high half of YMM n bit 32 + n.
pub(super) type RegSet = u64;

/// How many registers the tables hold.
pub(super) const REGS: usize = 48;

/// A register's position in the register tables.
pub(super) fn reg_index(r: Reg) -> usize {
    match r {
        Reg::Gpr(n) => n as usize,
        Reg::Xmm(n) => 16 + n as usize,
        Reg::High(n) => 32 + n as usize,
    }
}

pub(super) fn reg_bit(r: Reg) -> RegSet {
    1 << reg_index(r)
}

pub(super) fn regs_of(set: RegSet) -> Vec<Reg> {
    (0..REGS as u8)
        .filter(|b| set & (1 << b) != 0)
        .map(|b| match b {
            0..16 => Reg::Gpr(b),
            16..32 => Reg::Xmm(b - 16),
            _ => Reg::High(b - 32),
        })
        .collect()
}

