//! Export signatures: `NAME(T,...)->R`, the C-level type of a function the
//! module exports, and how its values map to wasm and to x86 registers.

use super::error::TranspileError;

/// A scalar type of an export signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarType {
    /// A pointer (a wasm i32 address).
    Ptr,
    /// i8
    I8,
    /// u8
    U8,
    /// i16
    I16,
    /// u16
    U16,
    /// i32
    I32,
    /// u32
    U32,
    /// i64
    I64,
    /// u64
    U64,
    /// f32
    F32,
    /// f64
    F64,
    /// bool (0 or 1 in a byte)
    Bool,
    /// UTF-8 text, a parameter only: a pointer to its bytes and their
    /// length (SysV: two integer registers, as a `struct { *const u8,
    /// usize }` passed by value; wasm: two i32 values, address then length).
    Text,
}

/// Every scalar type: its name (in signatures, in `data-bind`, in the pages'
/// callback signatures, and in the client runtime's field reader, which a
/// test checks against this table) and its size in bytes in x86 memory.
pub const SCALAR_TYPES: &[(ScalarType, &str, usize)] = &[
    (ScalarType::Ptr, "ptr", 8),
    (ScalarType::I8, "i8", 1),
    (ScalarType::U8, "u8", 1),
    (ScalarType::I16, "i16", 2),
    (ScalarType::U16, "u16", 2),
    (ScalarType::I32, "i32", 4),
    (ScalarType::U32, "u32", 4),
    (ScalarType::I64, "i64", 8),
    (ScalarType::U64, "u64", 8),
    (ScalarType::F32, "f32", 4),
    (ScalarType::F64, "f64", 8),
    (ScalarType::Bool, "bool", 1),
    (ScalarType::Text, "text", 16),
];

impl ScalarType {
    fn row(self) -> &'static (ScalarType, &'static str, usize) {
        SCALAR_TYPES
            .iter()
            .find(|(t, _, _)| *t == self)
            .expect("every scalar type is in SCALAR_TYPES")
    }

    /// The type called `name` (`i32`, `ptr`, ...).
    pub fn by_name(name: &str) -> Option<ScalarType> {
        SCALAR_TYPES
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(t, _, _)| *t)
    }

    /// Its name (`i32`, `ptr`, ...).
    pub fn name(self) -> &'static str {
        self.row().1
    }

    /// Its size in bytes in x86 memory.
    pub fn size(self) -> usize {
        self.row().2
    }

    /// The wasm parameters it takes (docs/abi.md): one value of
    /// [`wasm`](Self::wasm), or for `text` two i32 (address, length).
    pub fn wasm_params(self) -> &'static [wasm_encoder::ValType] {
        use wasm_encoder::ValType::{F32, F64, I32, I64};
        match self {
            ScalarType::Text => &[I32, I32],
            ScalarType::I64 | ScalarType::U64 => &[I64],
            ScalarType::F32 => &[F32],
            ScalarType::F64 => &[F64],
            _ => &[I32],
        }
    }

    /// The wasm value type (docs/abi.md: i64/u64 → i64, f32, f64, all else
    /// i32; `text`, two values, is [`wasm_params`](Self::wasm_params)).
    pub fn wasm(self) -> wasm_encoder::ValType {
        match self {
            ScalarType::I64 | ScalarType::U64 => wasm_encoder::ValType::I64,
            ScalarType::F32 => wasm_encoder::ValType::F32,
            ScalarType::F64 => wasm_encoder::ValType::F64,
            _ => wasm_encoder::ValType::I32,
        }
    }

    /// True for types passed in XMM registers.
    pub fn is_float(self) -> bool {
        matches!(self, ScalarType::F32 | ScalarType::F64)
    }

    /// Width in bits and signedness of an integer type.
    pub fn int_bits(self) -> (u32, bool) {
        match self {
            ScalarType::I8 => (8, true),
            ScalarType::U8 | ScalarType::Bool => (8, false),
            ScalarType::I16 => (16, true),
            ScalarType::U16 => (16, false),
            ScalarType::I32 => (32, true),
            // each of text's two values is an unsigned 32-bit one
            ScalarType::U32 | ScalarType::Ptr | ScalarType::Text => (32, false),
            ScalarType::I64 | ScalarType::U64 => (64, false),
            ScalarType::F32 => (32, false),
            ScalarType::F64 => (64, false),
        }
    }
}

/// One export: the symbol to transpile and its C signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature {
    /// The symbol name, also the export name.
    pub name: String,
    /// Parameter types in order.
    pub params: Vec<ScalarType>,
    /// Result type; `None` for `void`.
    pub result: Option<ScalarType>,
}

impl Signature {
    /// Parses `NAME(T,...)->R`.
    pub fn parse(text: &str) -> Result<Signature, TranspileError> {
        let bad = |reason: &str| TranspileError::BadSignature {
            signature: text.to_string(),
            reason: reason.to_string(),
        };
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let open = compact
            .find('(')
            .ok_or_else(|| bad("expected NAME(T,...)->R"))?;
        let close = compact.find(')').ok_or_else(|| bad("missing `)`"))?;
        if close < open {
            return Err(bad("`)` before `(`"));
        }
        let name = &compact[..open];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$')
        {
            return Err(bad(
                "the name must be a symbol name (letters, digits, `_`, `.`, `$`)",
            ));
        }
        let params_text = &compact[open + 1..close];
        let mut params = Vec::new();
        if !params_text.is_empty() {
            for p in params_text.split(',') {
                params.push(ScalarType::by_name(p).ok_or_else(|| {
                    let names: Vec<&str> = SCALAR_TYPES.iter().map(|(_, n, _)| *n).collect();
                    bad(&format!(
                        "unknown parameter type `{p}` ({})",
                        names.join(" ")
                    ))
                })?);
            }
        }
        let rest = &compact[close + 1..];
        let result_text = rest
            .strip_prefix("->")
            .ok_or_else(|| bad("expected `->R` after `)`"))?;
        let result = match result_text {
            "void" => None,
            "text" => return Err(bad("`text` is a parameter type only")),
            r => Some(
                ScalarType::by_name(r).ok_or_else(|| bad(&format!("unknown result type `{r}`")))?,
            ),
        };
        let ints: usize = params
            .iter()
            .map(|p| p.wasm_params().len() * usize::from(!p.is_float()))
            .sum();
        let floats = params.iter().filter(|p| p.is_float()).count();
        if ints > 6 || floats > 8 {
            return Err(bad(
                "more than 6 integer or 8 float parameters (stack arguments are not supported)",
            ));
        }
        Ok(Signature {
            name: name.to_string(),
            params,
            result,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let ok = [
            ("f(ptr,i32)->i64", 2, Some(ScalarType::I64)),
            ("g()->void", 0, None),
            (" h ( u8 , bool ) -> bool ", 2, Some(ScalarType::Bool)),
            ("t(ptr,text,i32)->u32", 3, Some(ScalarType::U32)),
            ("t(ptr,text,text,i32)->void", 4, None),
        ];
        for (text, n, r) in ok {
            let s = Signature::parse(text).unwrap();
            assert_eq!((s.params.len(), s.result), (n, r), "{text}");
        }
        let bad = [
            "f",
            "f(i32",
            "f(i128)->i32",
            "(i32)->i32",
            "f(i32)",
            "f(i32)->x",
            "f)(->i32",
            "f(i32,i32,i32,i32,i32,i32,i32)->void",
            // text takes two integer registers
            "f(ptr,text,text,text)->void",
            "f(ptr)->text",
        ];
        for text in bad {
            assert!(Signature::parse(text).is_err(), "{text} should be rejected");
        }
    }
}
