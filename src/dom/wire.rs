//! The patch ops as bytes: what the view module (`crate::view_module`)
//! writes into its memory for the page's runtime to apply
//! (`ui/runtime/patch.js`, `decodePatches`). JSON would need a JSON writer
//! in every module; this form is a loop over [`PATCH_OPS`].
//!
//! All integers are little-endian `u32`:
//!
//! ```text
//! patches := count patch*
//! patch   := op path-length path-index* field*
//! op      := u8, the row of the op in PATCH_OPS
//! field   := u32 for `index`, `from`, `to`; else a string: length, UTF-8 bytes
//! ```

use super::diff::{Patch, PATCH_OPS};

/// The fields of [`PATCH_OPS`] that are numbers; every other field is text.
pub const NUMBER_FIELDS: &[&str] = &["index", "from", "to"];

/// The byte form of `patches` (see the module documentation).
pub fn encode(patches: &[Patch]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * patches.len() + 4);
    put_u32(&mut out, patches.len());
    for patch in patches {
        let op = patch.op();
        let row = PATCH_OPS
            .iter()
            .position(|(code, _)| *code == op)
            .expect("every op is in PATCH_OPS");
        out.push(row as u8);
        let (path, fields) = fields(patch);
        put_u32(&mut out, path.len());
        for &i in path {
            put_u32(&mut out, i);
        }
        for field in fields {
            match field {
                Field::Number(n) => put_u32(&mut out, n),
                Field::Text(t) => {
                    put_u32(&mut out, t.len());
                    out.extend_from_slice(t.as_bytes());
                }
            }
        }
    }
    out
}

enum Field<'a> {
    Number(usize),
    Text(std::borrow::Cow<'a, str>),
}

/// The patch's path and its fields in [`PATCH_OPS`] order.
fn fields(patch: &Patch) -> (&[usize], Vec<Field<'_>>) {
    use Field::{Number, Text};
    fn text(s: &str) -> Field<'_> {
        Text(s.into())
    }
    match patch {
        Patch::Text(p, t) => (p, vec![text(t)]),
        Patch::SetAttribute(p, n, v) => (p, vec![text(n), text(v)]),
        Patch::RemoveAttribute(p, n) => (p, vec![text(n)]),
        Patch::Replace(p, node) => (p, vec![Text(node.to_html().into())]),
        Patch::Insert(p, i, node) => (p, vec![Number(*i), Text(node.to_html().into())]),
        Patch::Remove(p) => (p, vec![]),
        Patch::Move(p, from, to) => (p, vec![Number(*from), Number(*to)]),
    }
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_op_writes_its_fields_in_table_order() {
        // every op once: (patch, its fields after the path as the table names them)
        let patches = [
            Patch::Text(vec![1, 2], "hé".into()),
            Patch::SetAttribute(vec![0], "class".into(), "x".into()),
            Patch::RemoveAttribute(vec![], "hidden".into()),
            Patch::Replace(vec![3], crate::dom::Node::Text("<".into())),
            Patch::Insert(vec![], 4, crate::dom::Node::Text("a".into())),
            Patch::Remove(vec![5, 6]),
            Patch::Move(vec![7], 8, 9),
        ];
        assert_eq!(patches.len(), PATCH_OPS.len(), "one case per op");
        let bytes = encode(&patches);
        let mut at = 0;
        let u32_at = |at: &mut usize| {
            let v = u32::from_le_bytes(bytes[*at..*at + 4].try_into().unwrap()) as usize;
            *at += 4;
            v
        };
        assert_eq!(u32_at(&mut at), patches.len());
        for patch in &patches {
            let json = patch.to_json();
            let row = bytes[at] as usize;
            at += 1;
            assert_eq!(PATCH_OPS[row].0, patch.op());
            let n = u32_at(&mut at);
            let path: Vec<usize> = (0..n).map(|_| u32_at(&mut at)).collect();
            assert_eq!(serde_json::json!(path), json[1]);
            for (k, name) in PATCH_OPS[row].1.iter().enumerate() {
                let want = &json[2 + k];
                if NUMBER_FIELDS.contains(name) {
                    assert_eq!(serde_json::json!(u32_at(&mut at)), *want, "{name}");
                } else {
                    let len = u32_at(&mut at);
                    let text = std::str::from_utf8(&bytes[at..at + len]).unwrap();
                    at += len;
                    assert_eq!(serde_json::json!(text), *want, "{name}");
                }
            }
        }
        assert_eq!(at, bytes.len());
    }
}
