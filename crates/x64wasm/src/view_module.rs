//! The view module: the app's `render`, the library's [`normalize`] and
//! [`diff`] and the patch ops' byte form ([`wire`](crate::dom::wire)),
//! transpiled from this binary's own machine code into one wasm module,
//! which a page runs on every state it shows (docs/abi.md, "The view
//! module"). The page then shows a click's whole effect, lists and computed
//! text included, before the server answers.
//!
//! Its one export is [`VIEW_SIGNATURE`]: `(old, new, out)`, two state
//! images as the page holds them and where to write the answer, a
//! [`ViewOutput`] naming the patch bytes that turn the view of `old` into
//! the view of `new`. The entry is generic over the app's state and its
//! render *function item* (a zero-sized type), so that its machine code
//! calls the render directly: the transpiler follows a direct call, not a
//! function pointer only known at run time.

use bytemuck::Pod;

use crate::callbacks::{view_offset, Both};
use crate::dom::{diff, normalize, wire, Node};

/// The name the entry is given in the binary's symbols and exported by.
pub const VIEW_EXPORT: &str = "x64wasm_view_step";

/// The entry's signature in the transpiler's syntax: `old`, `new` and
/// `out` pointers into the module's memory.
pub const VIEW_SIGNATURE: &str = "x64wasm_view_step(ptr,ptr,ptr)->void";

/// Where the entry writes its answer: the patch bytes (in the module's heap)
/// and their length. 16 bytes, as x86-64 lays it out.
#[repr(C)]
#[derive(Debug)]
pub struct ViewOutput {
    /// The first byte of the patches ([`wire::encode`]).
    pub bytes: *mut u8,
    /// How many bytes.
    pub len: usize,
}

impl ViewOutput {
    /// The bytes, taken back (a native caller: the tests).
    ///
    /// # Safety
    /// `self` was written by a view entry and not taken before.
    pub unsafe fn take(self) -> Vec<u8> {
        // SAFETY: the entry leaked a boxed slice of exactly this length.
        unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.bytes, self.len)) }
            .into_vec()
    }
}

/// The view entry of an app, or why it has none.
pub type ViewEntry = Result<usize, String>;

/// The entry for an app whose every view shows `render(&S)`.
pub fn entry_shared<S: Pod, R: Fn(&S) -> Node + Copy + 'static>(_render: R) -> ViewEntry {
    zero_sized::<R>()?;
    Ok(step_shared::<S, R> as extern "C" fn(_, _, _) as usize)
}

/// The entry for an app with view state, shown by `render(&Both<S, V>)`.
pub fn entry_both<S: Pod, V: Pod, R: Fn(&Both<S, V>) -> Node + Copy + 'static>(
    _render: R,
) -> ViewEntry {
    zero_sized::<R>()?;
    Ok(step_both::<S, V, R> as extern "C" fn(_, _, _) as usize)
}

/// A render that is a function item (or a closure that captures nothing)
/// is a type of size zero: the entry calls it by its type alone.
fn zero_sized<R>() -> Result<(), String> {
    if std::mem::size_of::<R>() == 0 {
        Ok(())
    } else {
        Err(format!(
            "the render is a value ({}), not a function: pass the function itself (`render`), \
             not a function pointer or a closure that captures",
            std::any::type_name::<R>()
        ))
    }
}

/// The render function of type `R`, made from nothing: `R` has size zero
/// ([`zero_sized`] checked), so it has no bytes to read.
fn render_of<R: Copy>() -> R {
    assert_eq!(std::mem::size_of::<R>(), 0);
    // SAFETY: a read of a zero-sized type reads no memory; a dangling,
    // aligned pointer is valid for it, and function items and closures
    // without captures have no invariant on their (absent) bytes.
    unsafe { std::ptr::NonNull::<R>::dangling().as_ptr().read() }
}

/// A `T` from `size_of::<T>()` bytes at `at`.
///
/// # Safety
/// `at` points at that many readable bytes.
unsafe fn read<T: Pod>(at: *const u8) -> T {
    // SAFETY: the caller's promise; Pod accepts any bytes.
    bytemuck::pod_read_unaligned(unsafe {
        std::slice::from_raw_parts(at, std::mem::size_of::<T>())
    })
}

extern "C" fn step_shared<S: Pod, R: Fn(&S) -> Node + Copy>(
    old: *const u8,
    new: *const u8,
    out: *mut ViewOutput,
) {
    let render = render_of::<R>();
    // SAFETY: the caller passes two state images and an output slot.
    let (old, new) = unsafe { (read::<S>(old), read::<S>(new)) };
    finish(render(&old), render(&new), out);
}

extern "C" fn step_both<S: Pod, V: Pod, R: Fn(&Both<S, V>) -> Node + Copy>(
    old: *const u8,
    new: *const u8,
    out: *mut ViewOutput,
) {
    let render = render_of::<R>();
    // SAFETY: as step_shared: each image is a view's state bytes, the view
    // state at view_offset.
    let both = |at: *const u8| unsafe {
        Both {
            shared: read::<S>(at),
            view: read::<V>(at.add(view_offset::<S, V>())),
        }
    };
    let (old, new) = (both(old), both(new));
    finish(render(&old), render(&new), out);
}

/// Diffs the two renders and writes the patch bytes' place to `out`. Not
/// generic: one copy for every app.
#[inline(never)]
fn finish(old: Node, new: Node, out: *mut ViewOutput) {
    let patches = diff(&normalize(old), &normalize(new));
    let bytes = Box::leak(wire::encode(&patches).into_boxed_slice());
    // SAFETY: the caller passes a writable ViewOutput.
    unsafe {
        out.write(ViewOutput {
            bytes: bytes.as_mut_ptr(),
            len: bytes.len(),
        })
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dom::{el, Patch};

    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Counter {
        n: u32,
    }

    fn list(s: &Counter) -> Node {
        el("ul")
            .children((0..s.n).map(|i| el("li").text(format!("item {i}"))))
            .into()
    }

    #[test]
    fn the_entry_writes_the_diff_of_two_renders() {
        let entry = entry_shared::<Counter, _>(list);
        let step: extern "C" fn(*const u8, *const u8, *mut ViewOutput) =
            // SAFETY: the address is step_shared::<Counter, typeof list>.
            unsafe { std::mem::transmute(entry.unwrap()) };
        let (old, new) = (Counter { n: 1 }, Counter { n: 2 });
        let mut out = ViewOutput {
            bytes: std::ptr::null_mut(),
            len: 0,
        };
        step(
            bytemuck::bytes_of(&old).as_ptr(),
            bytemuck::bytes_of(&new).as_ptr(),
            &mut out,
        );
        // SAFETY: written by the entry just now.
        let bytes = unsafe { out.take() };
        let want = diff(&normalize(list(&old)), &normalize(list(&new)));
        assert!(matches!(want[..], [Patch::Insert(..)]));
        assert_eq!(bytes, wire::encode(&want));
    }

    #[test]
    fn a_render_with_bytes_has_no_entry() {
        let offset = 3u32;
        let capturing =
            move |s: &Counter| -> Node { el("p").text(format!("{}", s.n + offset)).into() };
        let why = entry_shared::<Counter, _>(capturing).unwrap_err();
        assert!(why.contains("not a function"), "{why}");
    }
}
