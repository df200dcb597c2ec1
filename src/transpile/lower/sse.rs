//! XMM registers: moves and the packed-integer SSE2 set LLVM emits for
//! integer loops, mapped to wasm SIMD128.

use super::Ctx;
use crate::transpile::error::TranspileError;

/// Lowers `ctx.ins` if it is an SSE instruction we implement; false if not.
pub(super) fn lower(c: &mut Ctx) -> Result<bool, TranspileError> {
    let _ = c;
    Ok(false)
}
