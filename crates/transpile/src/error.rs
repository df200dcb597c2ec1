//! Every way transpiling can fail, each with the facts a user needs to act on it.

use std::fmt;

/// A transpile failure. `Display` gives one precise line: function, address,
/// bytes and mnemonic for code problems; the offending text for bad input.
/// New kinds of failure may be added: match with a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TranspileError {
    /// The file is not an x86-64 ELF we can read (truncated, garbage, other ISA).
    Elf(String),
    /// No symbol of this name in the image (or it has no address).
    UnknownSymbol(String),
    /// A `--export` signature that does not parse.
    BadSignature {
        /// The signature as given.
        signature: String,
        /// What is wrong with it.
        /// Why it failed.
        reason: String,
    },
    /// Code bytes that do not decode, or are not mapped in the image.
    Decode {
        /// The function being transpiled.
        function: String,
        /// The instruction address.
        address: u64,
        /// The instruction bytes, in hex.
        bytes: String,
        /// Why it failed.
        reason: String,
    },
    /// An instruction the transpiler does not implement.
    Unsupported {
        /// The function being transpiled.
        function: String,
        /// The instruction address.
        address: u64,
        /// The instruction bytes, in hex.
        bytes: String,
        /// The instruction as iced-x86 formats it.
        mnemonic: String,
    },
    /// A call or jump whose target cannot become part of the module.
    Callee {
        /// The function being transpiled.
        function: String,
        /// The instruction address.
        address: u64,
        /// What the call reaches.
        callee: String,
        /// Why it failed.
        reason: String,
    },
    /// More functions than a module may pull in.
    TooManyFunctions {
        /// The function the module was asked for.
        root: String,
        /// The cap.
        limit: usize,
    },
    /// A system call, which no page can make (`write`, `getrandom`).
    SystemCall {
        /// The function that makes it.
        function: String,
        /// The instruction address.
        address: u64,
    },
    /// Control flow the structurer cannot express (e.g. a jump into an instruction).
    ControlFlow {
        /// The function being transpiled.
        function: String,
        /// The instruction address.
        address: u64,
        /// Why it failed.
        reason: String,
    },
    /// Data the code may read that the module cannot place whole (its
    /// extent is not known).
    Data {
        /// The function that refers to it.
        function: String,
        /// Where the data starts.
        address: u64,
        /// Why it cannot be placed.
        reason: String,
    },
    /// The module failed validation: always a transpiler bug, never served.
    InvalidModule(String),
}

impl fmt::Display for TranspileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TranspileError::Elf(why) => write!(f, "not a usable x86-64 ELF: {why}"),
            TranspileError::UnknownSymbol(name) => {
                write!(f, "no function symbol named `{name}` in the binary")
            }
            TranspileError::BadSignature { signature, reason } => {
                write!(f, "bad signature `{signature}`: {reason}")
            }
            TranspileError::Decode {
                function,
                address,
                bytes,
                reason,
            } => {
                write!(
                    f,
                    "{function} at {address:#x}: cannot decode [{bytes}]: {reason}"
                )
            }
            TranspileError::Unsupported {
                function,
                address,
                bytes,
                mnemonic,
            } => write!(
                f,
                "{function} at {address:#x}: unsupported instruction `{mnemonic}` [{bytes}]{}",
                extension_note(bytes)
            ),
            TranspileError::Callee {
                function,
                address,
                callee,
                reason,
            } => {
                write!(f, "{function} at {address:#x}: call to {callee}: {reason}")
            }
            TranspileError::TooManyFunctions { root, limit } => write!(
                f,
                "{root}: the call graph pulls in more than {limit} functions (the module cap)"
            ),
            TranspileError::SystemCall { function, address } => write!(
                f,
                "{function} at {address:#x} makes a system call: a page has no kernel to ask"
            ),
            TranspileError::ControlFlow {
                function,
                address,
                reason,
            } => {
                write!(f, "{function} at {address:#x}: {reason}")
            }
            TranspileError::Data {
                function,
                address,
                reason,
            } => write!(f, "{function}: the data at {address:#x} it reads: {reason}"),
            TranspileError::InvalidModule(why) => {
                write!(f, "internal error: generated module is invalid: {why}")
            }
        }
    }
}

impl std::error::Error for TranspileError {}

/// Hex bytes as error messages show them: `48 89 f8`.
pub fn hex_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Names the extension of an instruction no part of it lowers (docs/abi.md,
/// "Instruction sets"), from its bytes: AVX-512's EVEX encoding, AMD's
/// FMA4 and XOP; nothing for the rest.
fn extension_note(bytes: &str) -> &'static str {
    let code: Vec<u8> = bytes
        .split_whitespace()
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect();
    let ins = iced_x86::Decoder::new(64, &code, iced_x86::DecoderOptions::NONE).decode();
    if ins.encoding() == iced_x86::EncodingKind::EVEX {
        return " (AVX-512, x86-64-v4: not supported; build for x86-64-v3)";
    }
    if ins.encoding() == iced_x86::EncodingKind::XOP {
        return " (AMD XOP: not supported)";
    }
    if ins.cpuid_features().contains(&iced_x86::CpuidFeature::FMA4) {
        return " (AMD FMA4: not supported)";
    }
    ""
}

#[cfg(test)]
mod extension_tests {
    use super::extension_note;

    #[test]
    fn an_unsupported_extension_is_named() {
        for (bytes, says) in [
            ("62 f1 fd 48 ef 1e", "AVX-512"), // vpxorq zmm3, zmm0, [rsi]
            ("c4 e3 f9 6b c2 10", "FMA4"),    // vfmaddsd xmm0, xmm0, xmm1, xmm2
            ("8f e9 78 c2 c1", "XOP"),        // an XOP rotate
            ("9f", ""),                       // lahf: no extension to name
        ] {
            let note = extension_note(bytes);
            assert!(
                note.contains(says) && (says.is_empty() == note.is_empty()),
                "{bytes}: {note}"
            );
        }
    }
}
