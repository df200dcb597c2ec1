//! [`FixedVec`]: a list kept in the state, the way [`FixedStr`] keeps text.
//!
//! This file is also compiled into the callback corpus (`corpus/src/lists.rs`
//! includes it), where its operations are proven against the CPU like every
//! other callback: it uses `std` and `bytemuck` only, and has no doc tests
//! of its own (the corpus does not depend on this crate). `src/lib.rs`
//! shows it in use.
//!
//! [`FixedStr`]: crate::text::FixedStr

use std::fmt;
use std::ops::{Deref, DerefMut};

/// Bytes before the items: the length, as a little-endian `u32`, then zeros.
/// Sixteen, so that items of any alignment up to 16 start right after it
/// without padding (every bit pattern of a `FixedVec` is then a value, and
/// the state has no padding bytes to differ between a native and a wasm
/// run).
const HEADER: usize = 16;

/// Up to `N` items of plain data `T` and their count, itself plain data
/// (`#[repr(C)]`, no padding: `bytemuck::Pod`), so it can be a field of an
/// app's state. It derefs to the slice of the items in use, so `iter`,
/// `sort_by`, `binary_search`, indexing and `bound!(state, todos[i].title)`
/// work as on a slice; `push` and `insert` say when the list is full
/// instead of growing.
///
/// Slots past the length are kept zero (`remove`, `retain`, `clear`,
/// `truncate`, `pop` zero what they free), so two lists with the same items
/// have the same bytes.
///
/// Layout (docs/guide.md, "State and callbacks"): the length as a little-endian `u32` and 12 zero
/// bytes, then the `N` items. A length past `N` (a callback can write
/// anything into the state) reads as `N`. Items may be aligned to at most
/// 16 bytes (a compile-time error otherwise).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FixedVec<T, const N: usize> {
    header: [u8; HEADER],
    items: [T; N],
}

// SAFETY: repr(C) of a byte array (alignment 1) then an array of Pod items,
// which starts at offset 16, a multiple of any item alignment up to 16
// (`ITEMS_START_AT_THE_HEADERS_END` refuses more at compile time wherever
// the list is used); the array's size is a multiple of its alignment, so
// there is no trailing padding. Every bit pattern is a value: a length past
// `N` reads as `N`.
unsafe impl<T: bytemuck::Pod, const N: usize> bytemuck::Zeroable for FixedVec<T, N> {}
// SAFETY: as above; Copy and 'static since T is Pod.
unsafe impl<T: bytemuck::Pod, const N: usize> bytemuck::Pod for FixedVec<T, N> {}

impl<T: bytemuck::Pod, const N: usize> FixedVec<T, N> {
    /// How many items it can hold.
    pub const CAPACITY: usize = N;

    /// Referred to by `new` and `len` (which every method that reaches the
    /// items calls): a list of items aligned to more than 16 bytes would
    /// have padding after its header.
    const ITEMS_START_AT_THE_HEADERS_END: () = assert!(
        std::mem::align_of::<T>() <= HEADER,
        "FixedVec items may be aligned to at most 16 bytes"
    );

    /// An empty list.
    pub const fn new() -> FixedVec<T, N> {
        // (evaluated at compile time for each T)
        #[allow(clippy::let_unit_value)]
        let () = Self::ITEMS_START_AT_THE_HEADERS_END;
        // SAFETY: T is Pod, so all zeros is a value of it; the header's
        // zeros are length 0.
        unsafe { std::mem::zeroed() }
    }

    /// A list of the first `N` of `items`.
    pub fn from_slice_cut(items: &[T]) -> FixedVec<T, N> {
        let mut list = FixedVec::new();
        list.extend_from_slice(items);
        list
    }

    /// How many items it holds.
    pub fn len(&self) -> usize {
        // (every method that reaches the items asks the length first)
        #[allow(clippy::let_unit_value)]
        let () = Self::ITEMS_START_AT_THE_HEADERS_END;
        let bytes = [
            self.header[0],
            self.header[1],
            self.header[2],
            self.header[3],
        ];
        (u32::from_le_bytes(bytes) as usize).min(N)
    }

    /// True when it holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when it holds `N` items.
    pub fn is_full(&self) -> bool {
        self.len() == N
    }

    fn set_len(&mut self, len: usize) {
        self.header = [0; HEADER];
        self.header[..4].copy_from_slice(&(len as u32).to_le_bytes());
    }

    /// The items in use.
    pub fn as_slice(&self) -> &[T] {
        &self.items[..self.len()]
    }

    /// The items in use, to change.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        let len = self.len();
        &mut self.items[..len]
    }

    /// Appends `item`; false (and nothing changed) when the list is full.
    pub fn push(&mut self, item: T) -> bool {
        let len = self.len();
        if len == N {
            return false;
        }
        self.items[len] = item;
        self.set_len(len + 1);
        true
    }

    /// Appends as many of `items` as fit; true when all did.
    pub fn extend_from_slice(&mut self, items: &[T]) -> bool {
        let len = self.len();
        let take = items.len().min(N - len);
        self.items[len..len + take].copy_from_slice(&items[..take]);
        self.set_len(len + take);
        take == items.len()
    }

    /// Puts `item` at `index`, moving the items from there one place on;
    /// false (and nothing changed) when the list is full.
    ///
    /// # Panics
    ///
    /// When `index` is past the length (as `Vec::insert`).
    pub fn insert(&mut self, index: usize, item: T) -> bool {
        let len = self.len();
        assert!(index <= len, "insert at {index}, past the length {len}");
        if len == N {
            return false;
        }
        self.items.copy_within(index..len, index + 1);
        self.items[index] = item;
        self.set_len(len + 1);
        true
    }

    /// Takes out the item at `index`, moving the ones after it one place
    /// back (their order kept).
    ///
    /// # Panics
    ///
    /// When `index` is not below the length (as `Vec::remove`).
    pub fn remove(&mut self, index: usize) -> T {
        let len = self.len();
        assert!(index < len, "remove at {index}, not below the length {len}");
        let item = self.items[index];
        self.items.copy_within(index + 1..len, index);
        self.items[len - 1] = T::zeroed();
        self.set_len(len - 1);
        item
    }

    /// Takes out the last item, if any.
    pub fn pop(&mut self) -> Option<T> {
        let len = self.len();
        (len > 0).then(|| self.remove(len - 1))
    }

    /// Keeps only the items for which `keep` is true, in their order.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let len = self.len();
        let mut kept = 0;
        for i in 0..len {
            if keep(&self.items[i]) {
                self.items[kept] = self.items[i];
                kept += 1;
            }
        }
        self.truncate(kept);
    }

    /// Keeps the first `len` items (all of them when there are fewer).
    pub fn truncate(&mut self, len: usize) {
        let old = self.len();
        if len < old {
            self.items[len..old].fill(T::zeroed());
            self.set_len(len);
        }
    }

    /// Takes out every item.
    pub fn clear(&mut self) {
        self.truncate(0);
    }
}

impl<T: bytemuck::Pod, const N: usize> Default for FixedVec<T, N> {
    fn default() -> Self {
        FixedVec::new()
    }
}

impl<T: bytemuck::Pod, const N: usize> Deref for FixedVec<T, N> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: bytemuck::Pod, const N: usize> DerefMut for FixedVec<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

impl<'a, T: bytemuck::Pod, const N: usize> IntoIterator for &'a FixedVec<T, N> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl<'a, T: bytemuck::Pod, const N: usize> IntoIterator for &'a mut FixedVec<T, N> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_mut_slice().iter_mut()
    }
}

/// Lists are equal when their items in use are (the bytes are then equal
/// too, for lists whose freed slots were zeroed by these methods).
impl<T: bytemuck::Pod + PartialEq, const N: usize> PartialEq for FixedVec<T, N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: bytemuck::Pod + fmt::Debug, const N: usize> fmt::Debug for FixedVec<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::FixedVec;

    /// Each operation on a `FixedVec<u16, 5>` and on a `Vec` holding at
    /// most 5: the items and what it returned must agree, and the bytes
    /// past the length stay zero.
    #[test]
    fn a_list_does_what_a_vec_of_its_capacity_does() {
        type List = FixedVec<u16, 5>;
        // (operation, what it does to the list, to the model)
        #[allow(clippy::type_complexity)]
        let operations: &[(
            &str,
            fn(&mut List, u16) -> String,
            fn(&mut Vec<u16>, u16) -> String,
        )] = &[
            (
                "push",
                |l, x| l.push(x).to_string(),
                |v, x| {
                    (v.len() < 5 && {
                        v.push(x);
                        true
                    })
                    .to_string()
                },
            ),
            (
                "insert",
                |l, x| {
                    let at = x as usize % (l.len() + 1);
                    l.insert(at, x).to_string()
                },
                |v, x| {
                    let at = x as usize % (v.len() + 1);
                    (v.len() < 5 && {
                        v.insert(at, x);
                        true
                    })
                    .to_string()
                },
            ),
            (
                "remove",
                |l, x| match l.len() {
                    0 => "-".into(),
                    n => l.remove(x as usize % n).to_string(),
                },
                |v, x| match v.len() {
                    0 => "-".into(),
                    n => v.remove(x as usize % n).to_string(),
                },
            ),
            (
                "pop",
                |l, _| format!("{:?}", l.pop()),
                |v, _| format!("{:?}", v.pop()),
            ),
            (
                "retain",
                |l, x| {
                    l.retain(|&i| i % 3 != x % 3);
                    String::new()
                },
                |v, x| {
                    v.retain(|&i| i % 3 != x % 3);
                    String::new()
                },
            ),
            (
                "truncate",
                |l, x| {
                    l.truncate(x as usize % 6);
                    String::new()
                },
                |v, x| {
                    v.truncate(x as usize % 6);
                    String::new()
                },
            ),
            (
                "extend",
                |l, x| l.extend_from_slice(&[x, x + 1]).to_string(),
                |v, x| {
                    let all = v.len() + 2 <= 5;
                    v.extend([x, x + 1].iter().take(5 - v.len()));
                    all.to_string()
                },
            ),
            (
                "sort_by",
                |l, _| {
                    l.sort_by(|a, b| b.cmp(a));
                    String::new()
                },
                |v, _| {
                    v.sort_by(|a, b| b.cmp(a));
                    String::new()
                },
            ),
            (
                "clear",
                |l, _| {
                    l.clear();
                    String::new()
                },
                |v, _| {
                    v.clear();
                    String::new()
                },
            ),
        ];
        let mut list = List::new();
        let mut model = Vec::new();
        let mut x: u32 = 12345;
        for step in 0..5000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            // clear rarely, so that the list fills up
            let pick = (x % 40) as usize % operations.len();
            let (name, on_list, on_model) = operations[pick];
            let arg = (x >> 8) as u16 % 1000;
            let (got, want) = (on_list(&mut list, arg), on_model(&mut model, arg));
            assert_eq!(
                (got, list.as_slice()),
                (want, &model[..]),
                "step {step}: {name}({arg})"
            );
            let bytes = bytemuck::bytes_of(&list);
            assert_eq!(&bytes[..4], &(model.len() as u32).to_le_bytes());
            assert!(bytes[4..16]
                .iter()
                .chain(&bytes[16 + 2 * model.len()..])
                .all(|&b| b == 0));
        }
    }

    #[test]
    fn any_bytes_read_as_a_list_of_at_most_its_capacity() {
        // (the length field, how many items it reads as)
        let cases = [(0u32, 0), (3, 3), (4, 4), (5, 4), (u32::MAX, 4)];
        for (stored, len) in cases {
            let mut bytes = [7u8; 16 + 4 * 8];
            bytes[..4].copy_from_slice(&stored.to_le_bytes());
            let list: FixedVec<u64, 4> = bytemuck::pod_read_unaligned(&bytes);
            assert_eq!(list.len(), len, "{stored}");
            assert!(list.iter().all(|&i| i == 0x0707_0707_0707_0707));
        }
    }
}
