//! Stage 1b, **link**: the C library functions a binary calls through its
//! GOT (`sin`, `exp`, `pow`, `strlen`, `memchr`, …), taken into the image
//! from the shared objects that define them, so that they run as wasm like
//! the binary's own code: the same instructions, so the same bits.
//!
//! The code is the one the process runs. The libraries of
//! [`LINKED_LIBRARIES`] are opened in this process as the dynamic loader
//! opens them (`dlopen` by soname: its search path and cache), each
//! imported name is looked up with `dlsym`, which returns what glibc's
//! IFUNC resolver picked for this CPU (`__sin_fma`, `__strlen_avx2`), and
//! `dladdr` gives the file and load address it lives at. Each library's
//! file is then placed in the image past what is there (1 MiB-aligned), its
//! GOT and data pointers relocated as the loader did: RELATIVE, RELR and
//! symbols as in the file, IRELATIVE slots (internal calls to other IFUNC
//! functions) by reading the address the loader wrote in this process, and
//! initial-exec TLS slots (`errno`) as offsets into thread-local storage of
//! the module's own below the executable's block ([`Image::errno_offset`]).
//!
//! Not linked: the functions the module provides itself (`builtins/`),
//! imports that never return (`abort`: a trap, `noreturn.rs`), data
//! imports, and functions of any other library: they stay imports, and a
//! call to one is an error naming it, as is a system call reached inside a
//! linked function.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};

use object::{Object, ObjectSection, RelocationFlags, RelocationTarget};

use super::builtins::Builtin;
use super::error::TranspileError;
use super::image::{Image, Pointer, Symbol};
use super::noreturn::import_never_returns;

/// The libraries whose functions are linked in, by soname, in the order
/// they are searched: the C runtime every Rust and C program on glibc has.
pub const LINKED_LIBRARIES: [&str; 2] = ["libm.so.6", "libc.so.6"];

/// glibc's allocator's own functions, which read its blocks and arenas: a
/// module has its own heap (`builtins/heap.rs`), whose blocks they would
/// misread (`malloc_usable_size` gave 0), so they stay imports, refused
/// by name.
const ALLOCATOR_FUNCTIONS: [&str; 7] = [
    "malloc_usable_size",
    "malloc_trim",
    "mallinfo",
    "mallinfo2",
    "malloc_stats",
    "malloc_info",
    "mallopt",
];

/// Where linked libraries start: past the image, aligned to this.
const LIBRARY_ALIGN: u64 = 1 << 20;

/// A library linked into an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Linked {
    /// The file it was read from.
    pub path: String,
    /// Where it starts in the image.
    pub base: u64,
    /// The imports it resolved: name, and the address of the function
    /// (the IFUNC variant this CPU runs) in the image.
    pub functions: Vec<(String, u64)>,
}

/// A function found in this process: its library's file and load address,
/// and its own address.
struct Found {
    path: String,
    load_base: u64,
    address: u64,
}

/// Links into `image` every function it imports from [`LINKED_LIBRARIES`]
/// (and what those call there), and returns the libraries linked. Imports
/// that no linked library defines stay imports.
pub fn link(image: &mut Image) -> Result<Vec<Linked>, TranspileError> {
    // the program's slots for another object's thread-local variables (a
    // library's `__thread`; libc's `errno` by its private name)
    for (slot, name) in std::mem::take(&mut image.thread_local_slots) {
        image.run_time_state.push((
            slot,
            slot + 8,
            format!(
                "the thread-local offset of `{name}`, another object's thread-local \
                 variable, which the loader sets"
            ),
        ));
    }
    let handles: Vec<*mut libc::c_void> = LINKED_LIBRARIES.iter().filter_map(|n| open(n)).collect();
    // A weak import the program was not linked against a definition of
    // (no version: `__gmon_start__`, a C program's `extern int v
    // __attribute__((weak))`, a libm function without -lm), or whose
    // version libc and libm here lack: its slot holds 0 unless an object
    // the process loads defines it, which cannot be told here (the
    // module's own `malloc` & co. do not count: the process may lack
    // them). Decided before anything is linked into the slots.
    for slot in image.weak_imports.clone() {
        if let Some(Pointer::Import(name)) = image.pointers.get(&slot).cloned() {
            let version = image.import_versions.get(&slot).cloned();
            let defined = version.is_some_and(|v| find(&handles, &name, Some(&v)).is_some());
            if !defined {
                image.run_time_state.push((
                    slot,
                    slot + 8,
                    format!(
                        "the address of `{name}`, a weak symbol: 0 unless an object the \
                         process loads defines it"
                    ),
                ));
            }
        }
    }
    let mut linked: Vec<Linked> = Vec::new();
    // each (name, version) is looked up once (a variable stays an import)
    let mut seen: std::collections::BTreeSet<(String, Option<String>)> = Default::default();
    // a linked library's own imports (libm calling into libc) are linked in
    // the next round
    for _round in 0..4 {
        // (name, version) of every import slot, each once
        let mut wanted: BTreeMap<String, Vec<(String, Option<String>, Found)>> = BTreeMap::new();
        let mut imports: Vec<(String, Option<String>)> = image
            .pointers
            .iter()
            .filter_map(|(slot, p)| match p {
                Pointer::Import(name) => {
                    Some((name.clone(), image.import_versions.get(slot).cloned()))
                }
                Pointer::Address(_) => None,
            })
            .collect();
        imports.sort();
        imports.dedup();
        imports.retain(|import| seen.insert(import.clone()));
        for (name, version) in imports {
            if Builtin::by_name(&name).is_some()
                || import_never_returns(&name)
                || ALLOCATOR_FUNCTIONS.contains(&name.as_str())
            {
                continue;
            }
            if let Some(found) = find(&handles, &name, version.as_deref()) {
                wanted
                    .entry(found.path.clone())
                    .or_default()
                    .push((name, version, found));
            }
        }
        if wanted.is_empty() {
            break;
        }
        for (path, functions) in wanted {
            let base = match linked.iter().find(|l| l.path == path) {
                Some(l) => l.base,
                None => {
                    let load_base = functions[0].2.load_base;
                    let base = image
                        .end
                        .checked_next_multiple_of(LIBRARY_ALIGN)
                        .ok_or_else(|| too_high(image, &path))?;
                    place(image, &path, load_base, base)?;
                    linked.push(Linked {
                        path: path.clone(),
                        base,
                        functions: Vec::new(),
                    });
                    base
                }
            };
            let library = linked.iter_mut().find(|l| l.path == path).unwrap();
            for (name, version, found) in functions {
                let address = base + (found.address - found.load_base);
                if !image.is_code(address) {
                    // a variable of the library (`stdout`, `environ`): the
                    // program's GOT slot for it must not be read
                    for slot in image
                        .slots_of_import(&name)
                        .into_iter()
                        .filter(|slot| image.import_versions.get(slot) == version.as_ref())
                    {
                        image.run_time_state.push((
                            slot,
                            slot + 8,
                            format!("the address of `{name}`, a variable of {path}"),
                        ));
                    }
                    continue;
                }
                if image
                    .function_at(address)
                    .is_none_or(|s| s.address != address)
                {
                    // an IFUNC's variant has no symbol of its own
                    let versioned = match &version {
                        Some(v) => format!("{name}@{v}"),
                        None => name.clone(),
                    };
                    image.name_function(
                        &format!("{versioned} (the variant for this CPU)"),
                        address,
                    )?;
                }
                image.redirect_import(&name, version.as_deref(), address);
                library.functions.push((name, address));
            }
        }
    }
    Ok(linked)
}

/// The error for a library that does not fit past the image.
fn too_high(image: &Image, path: &str) -> TranspileError {
    TranspileError::Elf(format!(
        "the image ends at {:#x}: {path} cannot be placed past it in a 32-bit wasm memory",
        image.end
    ))
}

/// The library `soname` as the dynamic loader finds it (already loaded in
/// this process, or loaded now); `None` when there is none.
fn open(soname: &str) -> Option<*mut libc::c_void> {
    let name = CString::new(soname).ok()?;
    // SAFETY: dlopen takes a NUL-terminated name; loading libc or libm
    // again runs no constructor (they are loaded in every process).
    let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL) };
    (!handle.is_null()).then_some(handle)
}

/// `name` as `dlsym` resolves it (`dlvsym` for the `version` the binary
/// asks for: an older glibc's `log` differs from the newest) in the first
/// library of `handles` that has it (an IFUNC: the variant its resolver
/// picked), with the file and load address `dladdr` gives.
fn find(handles: &[*mut libc::c_void], name: &str, version: Option<&str>) -> Option<Found> {
    let symbol = CString::new(name).ok()?;
    let version = version.map(CString::new).transpose().ok()?;
    for &handle in handles {
        // SAFETY: a handle from dlopen and NUL-terminated strings.
        let address = unsafe {
            match &version {
                Some(v) => libc::dlvsym(handle, symbol.as_ptr(), v.as_ptr()),
                None => libc::dlsym(handle, symbol.as_ptr()),
            }
        };
        if address.is_null() {
            continue;
        }
        let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
        // SAFETY: dladdr fills `info` for an address inside a loaded object.
        if unsafe { libc::dladdr(address, &mut info) } == 0 || info.dli_fname.is_null() {
            continue;
        }
        // SAFETY: dladdr's file name is a NUL-terminated string it owns.
        let path = unsafe { CStr::from_ptr(info.dli_fname) }
            .to_string_lossy()
            .into_owned();
        let is_linked = LINKED_LIBRARIES
            .iter()
            .any(|l| path.rsplit('/').next() == Some(l));
        if !is_linked {
            continue; // defined elsewhere (the loader's own): an import
        }
        return Some(Found {
            path,
            load_base: info.dli_fbase as u64,
            address: address as u64,
        });
    }
    None
}

/// Reads the library at `path` (loaded in this process at `load_base`) and
/// places it in `image` at `base`.
fn place(image: &mut Image, path: &str, load_base: u64, base: u64) -> Result<(), TranspileError> {
    let bytes =
        std::fs::read(path).map_err(|e| TranspileError::Elf(format!("cannot read {path}: {e}")))?;
    let library = Image::from_elf(&bytes)?;
    let file = object::File::parse(&*bytes).map_err(|e| TranspileError::Elf(e.to_string()))?;
    // The file must be the copy this process runs: one replaced on disk
    // since it started (a glibc upgrade) would give other code, and other
    // addresses for the IRELATIVE slots read below.
    if let Some(note) = file.section_by_name(".note.gnu.build-id") {
        let on_disk = note
            .data()
            .map_err(|e| TranspileError::Elf(e.to_string()))?;
        // SAFETY: the note lies in the library's first, read-only segment,
        // mapped at `load_base` plus its address for as long as it is loaded.
        let running = unsafe {
            std::slice::from_raw_parts((load_base + note.address()) as *const u8, on_disk.len())
        };
        if running != on_disk {
            return Err(TranspileError::Elf(format!(
                "{path} on disk is not the copy this process runs (its build id differs: \
                 replaced since the process started?); restart it"
            )));
        }
    }
    let size = library.end;
    // (a wasm memory is 32-bit: the library must end below 4 GiB)
    if base.checked_add(size).is_none_or(|end| end > 1 << 32) {
        return Err(too_high(image, path));
    }
    let file_name = path.rsplit('/').next().unwrap_or(path).to_string();
    image.linked.push((base, base + size, file_name.clone()));
    // the library's sections and symbols, moved to `base`
    for section in &library.sections {
        let mut moved = section.clone();
        moved.address += base;
        moved.unnamed_data = true;
        if moved.mutable {
            // its variables as the library's code left them while the
            // process ran (environ, stdio, the locale), not as in the file
            image.run_time_state.push((
                moved.address,
                moved.address + moved.bytes.len() as u64,
                format!("a variable in {file_name}'s {}, which the library sets up while the process runs", moved.name),
            ));
        }
        image.add_section(moved);
    }
    image.add_symbols(
        library
            .symbols
            .iter()
            .filter(|s| image.symbol(&s.name).is_none())
            .map(|s| Symbol {
                address: s.address + base,
                ..s.clone()
            })
            .collect(),
    );
    // pointers the file's relocations name (RELATIVE, GLOB_DAT, JUMP_SLOT)
    for (&slot, pointer) in &library.pointers {
        let moved = match pointer {
            Pointer::Address(a) => Pointer::Address(a + base),
            Pointer::Import(name) => Pointer::Import(name.clone()),
        };
        image.set_pointer(slot + base, moved);
    }
    // what the library's own relocations say no module has (its slots for
    // the loader's variables), and the versions its imports ask for
    for (start, end, what) in &library.run_time_state {
        image
            .run_time_state
            .push((start + base, end + base, format!("{what} (in {file_name})")));
    }
    for (slot, version) in &library.import_versions {
        image.import_versions.insert(slot + base, version.clone());
    }
    // RELR: relative pointers, their addend in the slot
    if let Some(relr) = file.section_by_name(".relr.dyn") {
        let data = relr
            .data()
            .map_err(|e| TranspileError::Elf(e.to_string()))?;
        for slot in relr_slots(data) {
            if let Some(value) = library.read(slot, 8) {
                let value = u64::from_le_bytes(value.try_into().unwrap());
                image.set_pointer(slot + base, Pointer::Address(value + base));
            }
        }
    }
    // IRELATIVE (the resolver's choice, read where the loader wrote it) and
    // initial-exec thread-local variables
    let own_errno = file
        .dynamic_symbols()
        .find(|s| {
            object::ObjectSymbol::name(s) == Ok("errno")
                && object::ObjectSymbol::kind(s) == object::SymbolKind::Tls
        })
        .map(|s| object::ObjectSymbol::address(&s));
    for (slot, relocation) in file.dynamic_relocations().into_iter().flatten() {
        let RelocationFlags::Elf { r_type } = relocation.flags() else {
            continue;
        };
        match r_type {
            object::elf::R_X86_64_IRELATIVE => {
                // SAFETY: the slot lies in the library's GOT, mapped and
                // relocated in this process at `load_base`.
                let live = unsafe { ((load_base + slot) as *const u64).read_unaligned() };
                if live == 0 {
                    // a resolver that found nothing for this CPU: a null
                    // pointer, as in the process
                    image.write(slot + base, &0u64.to_le_bytes());
                    continue;
                }
                let offset = live.wrapping_sub(load_base);
                if offset >= size {
                    return Err(TranspileError::Elf(format!(
                        "{path}: an IRELATIVE slot at {slot:#x} holds {live:#x}, outside the library"
                    )));
                }
                image.set_pointer(slot + base, Pointer::Address(offset + base));
            }
            object::elf::R_X86_64_TPOFF64 => {
                // `errno` by name (libm's), or libc's own slot for it (no
                // symbol, its offset in libc's TLS block as the addend)
                let name = match relocation.target() {
                    RelocationTarget::Symbol(index) => file
                        .dynamic_symbol_table()
                        .and_then(|t| object::ObjectSymbolTable::symbol_by_index(&t, index).ok())
                        .and_then(|s| object::ObjectSymbol::name(&s).ok().map(str::to_string)),
                    _ => None,
                };
                let is_errno = match name.as_deref() {
                    Some(name) => name == "errno",
                    None => own_errno == Some(relocation.addend() as u64),
                };
                if is_errno {
                    // the one thread-local variable a module has
                    image.has_errno = true;
                    let errno = image.errno_offset().unwrap_or_default().wrapping_neg();
                    image.write(slot + base, &errno.to_le_bytes());
                } else {
                    // any other thread-local variable is set up when a
                    // thread starts (the locale's tables): no module has it
                    image.write(slot + base, &0u64.to_le_bytes());
                    image.run_time_state.push((
                        slot + base,
                        slot + base + 8,
                        format!(
                            "the offset of a thread-local variable of {file_name} ({}), \
                             which its thread set up when it started",
                            name.as_deref().unwrap_or("its own")
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `error`, said to be in a linked library's code when it is.
pub fn in_library(image: &Image, error: TranspileError) -> TranspileError {
    match error.address().and_then(|a| image.library_at(a)) {
        Some(name) if !matches!(error, TranspileError::InLibrary { .. }) => {
            TranspileError::InLibrary {
                library: name.to_string(),
                error: Box::new(error),
            }
        }
        _ => error,
    }
}

/// The slots a `.relr.dyn` section relocates (the ELF gABI's RELR: an
/// even entry is an address, and the next slot after it; an odd one is a
/// bitmap of the 63 slots that follow).
fn relr_slots(data: &[u8]) -> Vec<u64> {
    let mut slots = Vec::new();
    let mut next = 0u64;
    for entry in data.chunks_exact(8) {
        let entry = u64::from_le_bytes(entry.try_into().unwrap());
        if entry & 1 == 0 {
            slots.push(entry);
            next = entry + 8;
        } else {
            for bit in 1..64 {
                if entry >> bit & 1 == 1 {
                    slots.push(next + 8 * (bit - 1));
                }
            }
            next += 8 * 63;
        }
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_library_that_cannot_fit_below_4_gib_is_an_error_not_an_overflow() {
        // (an image ending at, and just below, the top of the address space)
        for end in [u64::MAX - 7, 0xffff_ffff_fff0_0000, 0xffff_f000] {
            let mut image = Image::from_code(0x1000, &[0xc3], &[("f", 0x1000, 1)]);
            image.add_data(".got", end - 8, vec![0; 8]);
            image.set_pointer(end - 8, Pointer::Import("sin".into()));
            let err = link(&mut image).expect_err("no room").to_string();
            assert!(err.contains("32-bit wasm memory"), "{end:#x}: {err}");
        }
    }

    #[test]
    fn relr_entries_name_addresses_and_bitmaps() {
        // (entries, slots)
        let cases: &[(&[u64], &[u64])] = &[
            (&[0x1000], &[0x1000]),
            // an address, then a bitmap of the slots after it: bits 1 and 3
            (&[0x1000, 0b1011], &[0x1000, 0x1008, 0x1018]),
            // a second bitmap starts 63 slots later
            (&[0x2000, 0b11, 0b11], &[0x2000, 0x2008, 0x2008 + 63 * 8]),
        ];
        for (entries, want) in cases {
            let data: Vec<u8> = entries.iter().flat_map(|e| e.to_le_bytes()).collect();
            assert_eq!(relr_slots(&data), *want, "{entries:x?}");
        }
    }
}
