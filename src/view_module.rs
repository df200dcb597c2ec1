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

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

use bytemuck::Pod;

use crate::callbacks::{view_offset, Both};
use crate::dom::{diff, normalize, wire, Node};

/// The name the entry is given in the binary's symbols and exported by.
pub const VIEW_EXPORT: &str = "x64wasm_view_step";

/// The entry's signature in the transpiler's syntax: `old`, `new` and
/// `out` pointers into the module's memory.
pub const VIEW_SIGNATURE: &str = "x64wasm_view_step(ptr,ptr,ptr)->void";

/// Where the entry writes its answer: the patch bytes (in the module's heap,
/// valid until the next call) and their length. 16 bytes, as x86-64 lays it
/// out.
#[repr(C)]
#[derive(Debug)]
pub struct ViewOutput {
    /// The first byte of the patches ([`wire::encode`]).
    pub bytes: *const u8,
    /// How many bytes.
    pub len: usize,
}

/// What the module keeps between calls of its entry: a page keeps its
/// instance of the module, so the next call, whose `old` is usually the
/// state last rendered, renders only its `new` one (a list of 1,000 rows
/// costs one render, not two).
struct Last {
    /// The state last rendered (its bytes) and its normalized tree.
    rendered: Option<(Vec<u8>, Node)>,
    /// The patch bytes last written (the caller reads them before the next
    /// call).
    patches: Vec<u8>,
}

/// [`Last`] in a plain static, taken by a spin lock: the module has one
/// thread, and natively only tests call the entry. (A `thread_local!`
/// would bring std's thread-local destructors and their panic paths into
/// every view module, which a debug build cannot transpile.)
struct Kept {
    busy: AtomicBool,
    last: UnsafeCell<Last>,
}

// SAFETY: `last` is only touched while `busy` is held (Kept::with).
unsafe impl Sync for Kept {}

static KEPT: Kept = Kept {
    busy: AtomicBool::new(false),
    last: UnsafeCell::new(Last {
        rendered: None,
        patches: Vec::new(),
    }),
};

impl Kept {
    fn with<T>(&self, f: impl FnOnce(&mut Last) -> T) -> T {
        while self
            .busy
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        // SAFETY: the lock is held; nothing else touches `last`.
        let out = f(unsafe { &mut *self.last.get() });
        self.busy.store(false, Ordering::Release);
        out
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

extern "C" fn step_shared<S: Pod, R: Fn(&S) -> Node + Copy>(
    old: *const u8,
    new: *const u8,
    out: *mut ViewOutput,
) {
    let render = render_of::<R>();
    // SAFETY: the caller passes two state images and an output slot.
    let image = |at: *const u8| unsafe { std::slice::from_raw_parts(at, size_of::<S>()) };
    let view = |bytes: &[u8]| render(&bytemuck::pod_read_unaligned::<S>(bytes));
    finish(image(old), image(new), view, out);
}

extern "C" fn step_both<S: Pod, V: Pod, R: Fn(&Both<S, V>) -> Node + Copy>(
    old: *const u8,
    new: *const u8,
    out: *mut ViewOutput,
) {
    let render = render_of::<R>();
    // SAFETY: as step_shared: each image is a view's state bytes, the view
    // state at view_offset.
    let length = view_offset::<S, V>() + size_of::<V>();
    let image = |at: *const u8| unsafe { std::slice::from_raw_parts(at, length) };
    let view = |bytes: &[u8]| {
        render(&Both {
            shared: bytemuck::pod_read_unaligned::<S>(&bytes[..size_of::<S>()]),
            view: bytemuck::pod_read_unaligned::<V>(&bytes[view_offset::<S, V>()..]),
        })
    };
    finish(image(old), image(new), view, out);
}

/// Renders the two states (the old one only when it is not the state last
/// rendered), diffs them and writes the patch bytes' place to `out`.
/// Generic, so the render is a direct call the transpiler follows (through
/// a `dyn Fn` it would be a pointer in data, and a render that cannot run
/// as wasm would be left out of the module and trap, instead of being
/// refused at start with its reason).
fn finish(old: &[u8], new: &[u8], render: impl Fn(&[u8]) -> Node, out: *mut ViewOutput) {
    KEPT.with(|last| {
        let old_tree = match last.rendered.take() {
            Some((bytes, tree)) if bytes == old => tree,
            _ => normalize(render(old)),
        };
        let new_tree = normalize(render(new));
        last.patches = wire::encode(&diff(&old_tree, &new_tree));
        // SAFETY: the caller passes a writable ViewOutput.
        unsafe {
            out.write(ViewOutput {
                bytes: last.patches.as_ptr(),
                len: last.patches.len(),
            })
        };
        last.rendered = Some((new.to_vec(), new_tree));
    });
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

    /// Runs the entry natively: the patch bytes from `old` to `new`.
    fn step(old: &Counter, new: &Counter) -> Vec<u8> {
        let entry = entry_shared::<Counter, _>(list);
        let step: extern "C" fn(*const u8, *const u8, *mut ViewOutput) =
            // SAFETY: the address is step_shared::<Counter, typeof list>.
            unsafe { std::mem::transmute(entry.unwrap()) };
        let mut out = ViewOutput {
            bytes: std::ptr::null(),
            len: 0,
        };
        step(
            bytemuck::bytes_of(old).as_ptr(),
            bytemuck::bytes_of(new).as_ptr(),
            &mut out,
        );
        // SAFETY: the entry wrote where its bytes are, valid until the next call.
        unsafe { std::slice::from_raw_parts(out.bytes, out.len) }.to_vec()
    }

    #[test]
    fn the_entry_writes_the_diff_of_two_renders_whatever_it_rendered_last() {
        let n = |n| Counter { n };
        // (old, new) in order: the second and fourth find the last state
        // rendered, the third does not
        for (old, new) in [(1, 2), (2, 5), (1, 0), (0, 3), (3, 3)] {
            let want = diff(&normalize(list(&n(old))), &normalize(list(&n(new))));
            assert_eq!(
                step(&n(old), &n(new)),
                wire::encode(&want),
                "{old} -> {new}"
            );
        }
        let grow = diff(&normalize(list(&n(1))), &normalize(list(&n(2))));
        assert!(matches!(grow[..], [Patch::Insert(..)]));
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
