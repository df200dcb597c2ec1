//! Text: [`Text`], the UTF-8 argument a callback can take, and
//! [`FixedStr`], text kept in the state.
//!
//! ```
//! use x64wasm::{callback, text::{FixedStr, Text}, Callback};
//!
//! #[repr(C)]
//! #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
//! pub struct State { title: FixedStr<17> }
//!
//! #[no_mangle]
//! pub extern "C" fn rename(state: &mut State, title: Text) {
//!     state.title.set(title.as_str().trim());
//! }
//! const RENAME: Callback<State, (Text,)> = callback!(rename(Text));
//!
//! let mut state = State { title: FixedStr::new() };
//! rename(&mut state, Text::new("  Crème brûlée à la carte  "));
//! // 17 bytes hold "Crème brûlée " (16) and half of the `à` after it: the
//! // cut is on the char boundary before the `à`
//! assert_eq!(state.title.as_str(), "Crème brûlée ");
//! ```

use std::fmt;

/// The longest text argument, in bytes of UTF-8: longer text in a request
/// is refused with 400 (never cut), and the page does not predict it.
pub const TEXT_MAX: usize = 4096;

/// UTF-8 text a callback takes as an argument (`text` in export
/// signatures): a pointer to the bytes and their length, passed by value
/// in two integer registers (SysV ABI, a 16-byte struct of two INTEGER
/// eightbytes). On the server the bytes are the request's; in the page the
/// runtime writes them into the module's memory right after the state
/// (docs/abi.md). They are valid UTF-8 and at most [`TEXT_MAX`] bytes.
///
/// A `Text` borrows bytes that live only for the call: read it (or copy it
/// into the state, e.g. a [`FixedStr`]) and do not keep it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Text {
    ptr: *const u8,
    len: usize,
}

// SAFETY: a Text is a shared view of immutable bytes, like `&'static str`
// (which is how constants make one); the library hands out others only
// for the duration of a call.
unsafe impl Send for Text {}
// SAFETY: as above.
unsafe impl Sync for Text {}

impl Text {
    /// Text of a string that outlives any call, such as a constant argument
    /// in a view: `.call(SAY, (Text::new("hello"),))`.
    pub const fn new(text: &'static str) -> Text {
        Text {
            ptr: text.as_ptr(),
            len: text.len(),
        }
    }

    /// Text over `text`, valid while `text` is (the server's native call).
    pub(crate) fn borrowing(text: &str) -> Text {
        Text {
            ptr: text.as_ptr(),
            len: text.len(),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: every Text is made from a &str (`new`, `borrowing`) or, in
        // the page, from bytes the runtime encoded with TextEncoder: valid
        // UTF-8, alive for the call.
        unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(self.ptr, self.len)) }
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Text in the state: at most `N` bytes of UTF-8 and their length, plain
/// data (`#[repr(C)]`, alignment 1, no padding: `bytemuck::Pod`), so it can
/// be a field of an app's state. Text that does not fit is cut at the last
/// char boundary that fits. A view binds it with
/// [`bound!`](crate::bound)`(state, title)`, and the page shows a
/// callback's new text at once.
///
/// Layout (what the page reads, docs/protocol.md): the length as a
/// little-endian `u32`, then the `N` bytes. A length past `N`, or bytes
/// that are not UTF-8 (a callback can write anything into the state), read
/// as the longest valid UTF-8 prefix of the first `min(len, N)` bytes.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FixedStr<const N: usize> {
    len: [u8; 4],
    bytes: [u8; N],
}

// SAFETY: repr(C) of byte arrays only: alignment 1, no padding, and every
// bit pattern is a value (`as_str` reads any bytes safely).
unsafe impl<const N: usize> bytemuck::Zeroable for FixedStr<N> {}
// SAFETY: as above; Copy and 'static.
unsafe impl<const N: usize> bytemuck::Pod for FixedStr<N> {}

impl<const N: usize> FixedStr<N> {
    /// Its capacity in bytes.
    pub const CAPACITY: usize = N;

    /// Empty text.
    pub const fn new() -> FixedStr<N> {
        FixedStr {
            len: [0; 4],
            bytes: [0; N],
        }
    }

    /// Text holding `text`, cut to fit (see [`set`](Self::set)).
    pub fn from_str_cut(text: &str) -> FixedStr<N> {
        let mut s = FixedStr::new();
        s.set(text);
        s
    }

    /// Replaces the text with `text`, cut at the last char boundary at or
    /// before `N` bytes; returns true when all of it fit.
    pub fn set(&mut self, text: &str) -> bool {
        self.bytes = [0; N];
        self.len = [0; 4];
        self.push_str(text)
    }

    /// Appends `text`, cut at the last char boundary that fits; returns
    /// true when all of it fit.
    pub fn push_str(&mut self, text: &str) -> bool {
        let used = self.as_str().len();
        let mut take = text.len().min(N - used);
        while !text.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[used..used + take].copy_from_slice(&text.as_bytes()[..take]);
        self.len = ((used + take) as u32).to_le_bytes();
        take == text.len()
    }

    /// Empties it.
    pub fn clear(&mut self) {
        self.set("");
    }

    /// The text: the longest valid UTF-8 prefix of its first `min(len, N)`
    /// bytes (all of them for text written by `set`).
    pub fn as_str(&self) -> &str {
        let len = (u32::from_le_bytes(self.len) as usize).min(N);
        let bytes = &self.bytes[..len];
        match std::str::from_utf8(bytes) {
            Ok(s) => s,
            // SAFETY: `valid_up_to` bytes are valid UTF-8.
            Err(e) => unsafe { std::str::from_utf8_unchecked(&bytes[..e.valid_up_to()]) },
        }
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.as_str().len()
    }

    /// True when it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<const N: usize> Default for FixedStr<N> {
    fn default() -> Self {
        FixedStr::new()
    }
}

impl<const N: usize> fmt::Debug for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Display for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `write!(state.title, "{n} left")` appends; text that does not fit is cut
/// on a char boundary and the write returns `Err` (so formatting stops
/// there rather than appending a later, shorter piece).
impl<const N: usize> fmt::Write for FixedStr<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.push_str(s) {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write;

    #[test]
    fn text_is_cut_on_a_char_boundary() {
        // (capacity 8, what is set, what is kept, whether it all fit)
        let cases: &[(&str, &str, bool)] = &[
            ("", "", true),
            ("a", "a", true),
            ("12345678", "12345678", true),
            ("123456789", "12345678", false),
            ("aaaaaaé", "aaaaaaé", true),
            ("aaaaaaaé", "aaaaaaa", false),
            ("東京大阪", "東京", false),
            ("🦀🦀", "🦀🦀", true),
            ("a🦀🦀", "a🦀", false),
        ];
        for (text, kept, fit) in cases {
            let mut s = FixedStr::<8>::new();
            assert_eq!(s.set(text), *fit, "{text}");
            assert_eq!(s.as_str(), *kept, "{text}");
            assert_eq!(s.len(), kept.len());
        }
    }

    #[test]
    fn any_bytes_read_as_their_valid_prefix() {
        // (length field, bytes, what reads)
        let cases: &[(u32, &[u8], &str)] = &[
            (3, b"abcd", "abc"),
            (99, b"abcd", "abcd"),
            (4, b"a\xffcd", "a"),
            (4, b"ab\xe6\x9d", "ab"),
            (0, b"abcd", ""),
        ];
        for (len, bytes, reads) in cases {
            let mut raw = [0u8; 8];
            raw[..4].copy_from_slice(&len.to_le_bytes());
            raw[4..].copy_from_slice(bytes);
            let s: FixedStr<4> = bytemuck::pod_read_unaligned(&raw);
            assert_eq!(s.as_str(), *reads, "{bytes:?}");
        }
    }

    #[test]
    fn write_appends_until_full() {
        let mut s = FixedStr::<10>::new();
        assert!(write!(s, "{} left", 3).is_ok());
        assert_eq!(s.as_str(), "3 left");
        let word = "déjà";
        assert!(write!(s, ", {word}").is_err());
        assert_eq!(s.as_str(), "3 left, d");
        assert_eq!(std::mem::size_of::<FixedStr<10>>(), 14);
        assert_eq!(std::mem::align_of::<FixedStr<10>>(), 1);
    }
}
