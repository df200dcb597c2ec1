//! Finished modules, keyed by a SHA-256 of everything they were made from:
//! the transpiler version, the export signatures, the bytes of every function
//! in the module and of every data range it reads. Decoding is cheap; the key
//! is taken after it, so lowering and validation run once per distinct input.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::build;
use super::decode::{self, Program};
use super::image::Image;
use super::module::Module;
use super::signature::Signature;
use super::{TranspileError, TRANSPILER_VERSION};

/// A cache key: SHA-256 of a module's inputs.
pub type Key = [u8; 32];

/// A thread-safe module cache.
#[derive(Default)]
pub struct Cache {
    modules: Mutex<HashMap<Key, Arc<Module>>>,
}

/// The key of the module `program` would become, given its data ranges.
pub fn key(image: &Image, program: &Program, exports: &[Signature], ranges: &[(u64, u64)]) -> Key {
    let mut h = Sha256::new();
    h.update(TRANSPILER_VERSION.as_bytes());
    for s in exports {
        h.update(format!("{s:?}").as_bytes());
    }
    for f in &program.functions {
        h.update(f.address.to_le_bytes());
        for i in &f.instructions {
            h.update(i.ip().to_le_bytes());
            h.update(image.read(i.ip(), i.len()).unwrap_or(&[]));
        }
        h.update(format!("{:?}{:?}", f.calls, f.indirect).as_bytes());
    }
    for &(start, end) in ranges {
        h.update(start.to_le_bytes());
        h.update(image.read(start, (end - start) as usize).unwrap_or(&[]));
    }
    h.update(image.end.to_le_bytes());
    h.update([image.has_errno as u8]);
    h.finalize().into()
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Cache {
        Cache::default()
    }

    /// The module for `exports`, transpiled now or taken from the cache.
    /// Returns the key too (a strong ETag).
    pub fn get(
        &self,
        image: &Image,
        exports: &[Signature],
    ) -> Result<(Key, Arc<Module>), TranspileError> {
        let program = decode::decode(image, &decode::roots(image, exports)?)?;
        let ranges = &program.data;
        let k = key(image, &program, exports, ranges);
        if let Some(m) = self
            .modules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&k)
        {
            return Ok((k, m.clone()));
        }
        let m = Arc::new(build(image, &program, exports, ranges)?);
        self.modules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(k, m.clone());
        Ok((k, m))
    }

    /// How many modules are cached.
    pub fn len(&self) -> usize {
        self.modules.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_input_same_key_one_entry_and_changed_code_a_new_key() {
        // mov rax, rdi; add rax, 1; ret  /  ... add rax, 2
        let one = [0x48, 0x89, 0xf8, 0x48, 0x83, 0xc0, 0x01, 0xc3];
        let mut two = one;
        two[6] = 2;
        let sig = [Signature::parse("f(i64)->i64").unwrap()];
        let cache = Cache::new();
        let a = Image::from_code(0x1000, &one, &[("f", 0x1000, 8)]);
        let (k1, m1) = cache.get(&a, &sig).unwrap();
        let (k2, m2) = cache.get(&a, &sig).unwrap();
        assert_eq!(k1, k2);
        assert!(Arc::ptr_eq(&m1, &m2), "second get is served from the cache");
        assert_eq!(cache.len(), 1);
        let b = Image::from_code(0x1000, &two, &[("f", 0x1000, 8)]);
        let (k3, _) = cache.get(&b, &sig).unwrap();
        assert_ne!(k1, k3, "different code, different key");
        assert_eq!(cache.len(), 2);
    }
}
