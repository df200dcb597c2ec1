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
    /// A function named for export, or by the app, that the image does not
    /// have as one (no symbol, a data symbol, an address outside code).
    UnknownSymbol {
        /// The name.
        name: String,
        /// What is wrong with it.
        why: String,
    },
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
    /// An error in a function reached through calls: the functions on the
    /// way from the export (first) to the caller of the one that failed.
    Reached {
        /// The callers, export first.
        path: Vec<String>,
        /// What went wrong.
        error: Box<TranspileError>,
    },
    /// An error in a linked library's code (`link.rs`).
    InLibrary {
        /// The library's file name (`libc.so.6`).
        library: String,
        /// What went wrong.
        error: Box<TranspileError>,
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
            TranspileError::UnknownSymbol { name, why } => write!(f, "`{name}`: {why}"),
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
            TranspileError::Reached { path, error } => {
                // a long chain: its two ends say where it starts and ends
                let shown: Vec<&str> = match path.len() {
                    0..=7 => path.iter().map(String::as_str).collect(),
                    n => path[..4]
                        .iter()
                        .map(String::as_str)
                        .chain(["…"])
                        .chain(path[n - 2..].iter().map(String::as_str))
                        .collect(),
                };
                write!(f, "{error} (called from {})", shown.join(" → "))
            }
            TranspileError::InLibrary { library, error } => match &**error {
                TranspileError::Unsupported {
                    function,
                    address,
                    bytes,
                    mnemonic,
                } if extension_note(bytes).contains("AVX-512") => write!(
                    f,
                    "{function} at {address:#x}: unsupported instruction `{mnemonic}` \
                     [{bytes}]: AVX-512, in {library}'s variant for this CPU (glibc \
                     picked it when the process started; starting the process (the \
                     app, or `x64wasm transpile`) with GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW \
                     makes it pick its AVX2 one: docs/abi.md)"
                ),
                error => write!(f, "{error} (in {library})"),
            },
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
impl TranspileError {
    /// The error itself, without the context around it ([`Reached`],
    /// [`InLibrary`]).
    ///
    /// [`Reached`]: TranspileError::Reached
    /// [`InLibrary`]: TranspileError::InLibrary
    pub fn innermost(&self) -> &TranspileError {
        match self {
            TranspileError::Reached { error, .. } | TranspileError::InLibrary { error, .. } => {
                error.innermost()
            }
            error => error,
        }
    }

    /// The address of the instruction it is about, if it is about one.
    pub fn address(&self) -> Option<u64> {
        match self.innermost() {
            TranspileError::Decode { address, .. }
            | TranspileError::Unsupported { address, .. }
            | TranspileError::Callee { address, .. }
            | TranspileError::SystemCall { address, .. }
            | TranspileError::ControlFlow { address, .. }
            | TranspileError::Data { address, .. } => Some(*address),
            _ => None,
        }
    }
}

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
mod context_tests {
    use super::TranspileError;

    #[test]
    fn a_reached_error_names_the_way_to_it_and_its_library() {
        let call = TranspileError::SystemCall {
            function: "__write".into(),
            address: 0x10,
        };
        let path = |n: usize| (0..n).map(|k| format!("f{k}")).collect::<Vec<_>>();
        // (callers, how the chain reads)
        let cases = [
            (path(2), "(called from f0 → f1)"),
            (path(7), "(called from f0 → f1 → f2 → f3 → f4 → f5 → f6)"),
            (path(9), "(called from f0 → f1 → f2 → f3 → … → f7 → f8)"),
        ];
        for (path, says) in cases {
            let error = TranspileError::Reached {
                path,
                error: Box::new(TranspileError::InLibrary {
                    library: "libc.so.6".into(),
                    error: Box::new(call.clone()),
                }),
            };
            let text = error.to_string();
            assert!(
                text.starts_with("__write at 0x10 makes a system call"),
                "{text}"
            );
            assert!(
                text.contains("(in libc.so.6)") && text.ends_with(says),
                "{text}"
            );
            assert_eq!(error.address(), Some(0x10));
            assert!(matches!(
                error.innermost(),
                TranspileError::SystemCall { .. }
            ));
        }
    }
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
