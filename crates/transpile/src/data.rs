//! The data a program's code can reach, found as `decode` goes: every object
//! the code refers to, whole, and whatever the relocated pointers inside
//! them point to, transitively (a table of `&str` and its strings, a vtable's
//! neighbours); and the functions those pointers reach (a vtable's methods,
//! a table of handlers, a closure's code), which join the program.
//!
//! An object is what a sized data symbol covers; without one, it runs to the
//! next symbol or the end of its section, and an object whose end cannot be
//! found within [`DATA_WINDOW`] is an error: the module never holds part of
//! what a load may read (in a linked library's sections, whose data has no
//! symbols, it runs to the section's end). A GOT slot is its 8 bytes; one read of a known size
//! at an address no symbol covers is those bytes.
//!
//! A linked library's variables are run-time state (the library set them up
//! while the process ran): no module has a copy. Code that refers to one
//! directly, or data that points to one, is refused. An instruction that
//! loads its address from a GOT slot ([`run_time_state_load`]; libm's
//! `atan2` loads `_LIB_VERSION`'s for `atan2(±0, ±0)` alone) becomes a trap
//! that ends its path (`decode`), so the other paths run and none reads a
//! value the process does not have.

use std::collections::BTreeMap;

use iced_x86::{FlowControl, Instruction, Mnemonic};

use super::error::TranspileError;
use super::fxhash::FxHashSet;
use super::image::{Image, Pointer};

/// A data reference's size meaning the whole object at the address (the
/// code takes the address, or indexes from it).
pub const WHOLE: u64 = 0;

/// The most bytes one data reference pulls in when no symbol bounds it.
const DATA_WINDOW: u64 = 1 << 16;
/// The most bytes of data one module places: past this a program's data
/// (pointers followed transitively) is refused rather than cut short.
const DATA_MAX: u64 = 4 << 20;
/// The most distinct objects one module's data may take in.
const DATA_OBJECTS_MAX: usize = 100_000;

/// The data found so far (cloned to try a function that may be dropped).
#[derive(Clone, Debug, Default)]
pub struct DataWalk {
    /// (address, bytes read there or WHOLE) already taken in.
    seen: FxHashSet<(u64, u64)>,
    /// The objects' ranges, unmerged.
    ranges: Vec<(u64, u64)>,
    /// Functions the data points to, in the order found, each once.
    pub functions: Vec<u64>,
    functions_seen: FxHashSet<u64>,
    /// The first function that refers to data, and the address (for the
    /// error past [`DATA_MAX`]).
    first: Option<(String, u64)>,
}

impl DataWalk {
    /// Takes in the data function `name` refers to (`refs`: address, and
    /// the bytes one instruction reads there or [`WHOLE`]) and all it
    /// points to.
    pub fn add(
        &mut self,
        image: &Image,
        name: &str,
        refs: &BTreeMap<u64, u64>,
    ) -> Result<(), TranspileError> {
        let mut work: Vec<(u64, u64)> = refs.iter().map(|(&a, &n)| (a, n)).collect();
        if self.first.is_none() {
            self.first = work.first().map(|&(a, _)| (name.to_string(), a));
        }
        while let Some((address, bytes)) = work.pop() {
            if !self.seen.insert((address, bytes)) {
                continue;
            }
            let Some(section) = image.section_at(address) else {
                continue;
            };
            let refuse = |reason: String| TranspileError::Data {
                function: name.to_string(),
                address,
                reason,
            };
            let section_end = section.address + section.bytes.len() as u64;
            // the object's range, and the part of it whose function pointers
            // join the program
            let mut calls_from = None;
            let (start, end) = if section.name.starts_with(".got") {
                // a slot, or what one read takes (two slots at once)
                let read = if bytes == WHOLE { 8 } else { bytes.max(8) };
                (address, (address + read).min(section_end))
            } else {
                match image.symbol_containing(address) {
                    Some(s) if !s.is_function => (s.address, (s.address + s.size).min(section_end)),
                    // one read of a known size: those bytes
                    _ if bytes != WHOLE => (address, (address + bytes).min(section_end)),
                    _ => {
                        let next = image
                            .next_symbol_after(address)
                            .map_or(section_end, |s| s.address)
                            .min(section_end);
                        // (a linked library has no symbols for its data: its
                        // tables run to the section's end, DATA_MAX bounding)
                        if next > address + DATA_WINDOW && !section.unnamed_data {
                            return Err(refuse(format!(
                                "no symbol bounds it within {} KiB, in {}",
                                DATA_WINDOW / 1024,
                                section.name
                            )));
                        }
                        // All of it is placed; but an unnamed object's end is
                        // a guess (the next symbol may be far), so only the
                        // run of pointers it starts with (a vtable, a table
                        // of handlers) adds functions: a call through a
                        // pointer past the run traps instead of pulling in
                        // every vtable up to the next symbol.
                        calls_from = Some(pointer_run(image, address, next));
                        (address, next.max(address + 1))
                    }
                }
            };
            // a linked library's run-time state: the file's bytes are not
            // what the process has there
            if let Some(what) = image.run_time_state_in(start, end) {
                return Err(refuse(format!(
                    "it is {}: a module has no copy of it",
                    describe_state(image, address, what)
                )));
            }
            let (calls_start, calls_end) = calls_from.unwrap_or((start, end));
            // (a GOT slot's function is the callee of the code that reads
            // it, which `decode` resolves)
            let got = section.name.starts_with(".got");
            for (&at, pointer) in image.pointers.range(start..end) {
                let Pointer::Address(a) = pointer else {
                    continue;
                };
                if !image.is_code(*a) {
                    work.push((*a, WHOLE));
                } else if !got
                    && (calls_start..calls_end).contains(&at)
                    && is_function_entry(image, *a)
                    && self.functions_seen.insert(*a)
                {
                    self.functions.push(*a);
                }
            }
            self.ranges.push((start, end));
            if self.seen.len() > DATA_OBJECTS_MAX {
                return Err(refuse(format!(
                    "with what it points to, more than {DATA_OBJECTS_MAX} objects"
                )));
            }
        }
        Ok(())
    }

    /// The ranges to place, sorted and merged; more than [`DATA_MAX`] bytes
    /// in all is an error.
    pub fn ranges(&self) -> Result<Vec<(u64, u64)>, TranspileError> {
        let mut ranges = self.ranges.clone();
        ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (s, e) in ranges {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let placed: u64 = merged.iter().map(|(s, e)| e - s).sum();
        if placed > DATA_MAX {
            let (function, address) = self.first.clone().unwrap_or_default();
            return Err(TranspileError::Data {
                function,
                address,
                reason: format!(
                    "with what it points to, more than {} MiB of data",
                    DATA_MAX >> 20
                ),
            });
        }
        Ok(merged)
    }
}

/// What run-time state `instruction` loads the address of from its GOT
/// slot, if it does (`mov rax, [rip+slot]`: a read, not a `lea` or a call):
/// the slot's value is itself run-time state (another object's variable,
/// which the loader put there) or points to some.
pub fn run_time_state_load(image: &Image, instruction: &Instruction) -> Option<String> {
    if !instruction.is_ip_rel_memory_operand()
        || instruction.mnemonic() == Mnemonic::Lea
        || instruction.flow_control() != FlowControl::Next
    {
        return None;
    }
    // every slot the load touches (hand-written code may read two at once,
    // or from the middle of one)
    let start = instruction.ip_rel_memory_address();
    let bytes = (instruction.memory_size().size() as u64).max(1);
    (start & !7..start + bytes).step_by(8).find_map(|slot| {
        if !image.section_at(slot)?.name.starts_with(".got") {
            return None;
        }
        if let Some(what) = image.run_time_state_in(slot, slot + 8) {
            return Some(what.to_string());
        }
        let Some(Pointer::Address(target)) = image.pointers.get(&slot) else {
            return None;
        };
        let what = image.run_time_state_in(*target, *target + 1)?;
        Some(describe_state(image, *target, what))
    })
}

/// Run-time state at `address`, as messages name it: `what`
/// ([`Image::run_time_state_in`]), after the symbol that holds it if one
/// does (libm's `_LIB_VERSION`).
fn describe_state(image: &Image, address: u64, what: &str) -> String {
    match image.symbol_containing(address) {
        Some(s) => format!("`{}`, {what}", s.name),
        None => what.to_string(),
    }
}

/// The run of pointer slots from `address` (before `end`): relocated
/// pointers, where a vtable's slots may also hold what a Rust vtable does
/// (slot 0 a null `drop_in_place` for a type without drop glue, slots 1 and
/// 2 its size and alignment).
fn pointer_run(image: &Image, address: u64, end: u64) -> (u64, u64) {
    let mut at = address;
    while at + 8 <= end {
        let k = (at - address) / 8;
        let is_pointer = image.pointers.contains_key(&at);
        let is_layout = k <= 2
            && image.read(at, 8).is_some_and(|b| {
                let v = u64::from_le_bytes(b.try_into().unwrap());
                match k {
                    0 => v == 0,
                    1 => v < 1 << 32,
                    _ => v.is_power_of_two() && v <= 1 << 12,
                }
            });
        if !is_pointer && !is_layout {
            break;
        }
        at += 8;
    }
    (address, at)
}

/// True for a code address a pointer in data may call: a function's entry
/// (the start of a function symbol, or in a stripped binary any code no
/// symbol covers). A pointer into the middle of a function (an absolute
/// jump table's entry) is not.
fn is_function_entry(image: &Image, address: u64) -> bool {
    image.function_at(address).is_some() || image.symbol_containing(address).is_none()
}
