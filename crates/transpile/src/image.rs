//! Stage 1, **image**: what the transpiler knows of a binary. Symbols (name,
//! address, size), the bytes of every allocated section by virtual address with
//! the dynamic relocations applied, and the GOT slots resolved to callees.
//!
//! Addresses are the ELF's virtual addresses as linked: a position-independent
//! executable is seen at base 0, which is also where the wasm module puts it.

use std::collections::{BTreeMap, HashMap};

use object::{
    Object, ObjectSection, ObjectSymbol, ObjectSymbolTable, RelocationFlags, RelocationTarget,
};

use super::error::TranspileError;

/// Where an address-sized value in the image points to once relocated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pointer {
    /// An address inside the image.
    Address(u64),
    /// A symbol the binary imports from a shared library (`memcpy`, ...). Its
    /// pseudo address ([`Image::import_address`]) is what the slot holds in wasm.
    Import(String),
}

/// A symbol of `.symtab` or `.dynsym`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// The symbol's (mangled) name.
    pub name: String,
    /// Its virtual address as linked.
    pub address: u64,
    /// Its size in bytes; 0 when the symbol table does not say.
    pub size: u64,
    /// True for code (STT_FUNC, or any symbol in an executable section).
    pub is_function: bool,
}

/// An allocated section: its bytes as the process sees them after relocation.
#[derive(Clone, Debug)]
pub struct Section {
    /// Section name, for messages.
    pub name: String,
    /// Virtual address of the first byte.
    pub address: u64,
    /// The bytes; `.bss`-like sections are zero-filled.
    pub bytes: Vec<u8>,
    /// Holds code.
    pub executable: bool,
    /// The program may change it while it runs: writable, and not made
    /// read-only after relocation (RELRO: `.data.rel.ro`, the GOT). Static
    /// variables live here (`.data`, `.bss`).
    pub mutable: bool,
    /// A linked library's (`link.rs`): its data objects have no symbols.
    pub unnamed_data: bool,
}

/// The initial image of the executable's thread-local storage (`.tdata`
/// and `.tbss`, the PT_TLS segment): what the loader copies into each
/// thread's TLS block.
#[derive(Clone, Debug, Default)]
pub struct Tls {
    /// `.tdata`'s bytes (the rest of the block starts zeroed).
    pub template: Vec<u8>,
    /// Bytes of the block.
    pub size: u64,
    /// Its alignment (a power of two).
    pub align: u64,
}

/// Writable sections that hold no program variables: made read-only after
/// relocation (RELRO), or the loader's own.
const NOT_VARIABLES: &[&str] = &[
    ".data.rel.ro",
    ".got",
    ".init_array",
    ".fini_array",
    ".dynamic",
];

/// Import pseudo addresses live far above any image, where no data is read.
const IMPORT_BASE: u64 = 0x7f00_0000_0000_0000;

/// A binary as the later stages need it.
#[derive(Clone, Debug, Default)]
pub struct Image {
    /// All symbols with an address, sorted by address.
    pub symbols: Vec<Symbol>,
    by_name: HashMap<String, usize>,
    /// Allocated sections, sorted by address.
    pub sections: Vec<Section>,
    /// Relocated pointer-sized slots: GOT entries and pointers in data.
    pub pointers: BTreeMap<u64, Pointer>,
    /// Names of imported symbols, indexed by their pseudo-address slot.
    pub imports: Vec<String>,
    /// One past the highest allocated virtual address.
    pub end: u64,
    /// Thread-local storage, when the executable has any.
    pub tls: Option<Tls>,
    /// Linked code uses `errno` (`link.rs`): the module keeps it in 8 bytes
    /// just below the executable's TLS block ([`Image::errno_offset`]).
    pub has_errno: bool,
    /// The linked libraries' ranges: start, end, file name (`link.rs`).
    pub linked: Vec<(u64, u64, String)>,
    /// What no module may read, as the range it lies in and what it is:
    /// linked libraries' state, which their code sets up while the process
    /// runs (their `.data` and `.bss`, thread-local variables but `errno`,
    /// the program's slots for their variables). The file's bytes there
    /// are not what the process has (`link.rs`).
    pub run_time_state: Vec<(u64, u64, String)>,
    /// GOT slots of weak undefined symbols: the loader leaves 0 there
    /// unless an object the process loads defines the symbol
    /// (`link.rs` decides which are run-time state).
    pub weak_imports: Vec<u64>,
    /// GOT slots for another object's thread-local variable (`TPOFF64`,
    /// `DTPMOD64`, `DTPOFF64`: where it lies in the thread is the
    /// loader's to say), and its name: run-time state in a program
    /// (`link.rs`; a linked library's own are relocated there).
    pub thread_local_slots: Vec<(u64, String)>,
    /// A non-PIE executable (ET_EXEC): its addresses are fixed, and data
    /// addresses fit in 32-bit immediates (`mov edi, offset table`).
    pub position_dependent: bool,
    /// The version each slot of a versioned import asks for (`log` →
    /// `GLIBC_2.29`), by slot: a binary built against an older glibc asks
    /// for older functions, which `link.rs` must find, not the newest (and
    /// one binary may ask for two versions of one name).
    pub import_versions: HashMap<u64, String>,
}

impl Image {
    /// Reads an ELF file.
    pub fn from_file(path: &std::path::Path) -> Result<Image, TranspileError> {
        let data = std::fs::read(path)
            .map_err(|e| TranspileError::Elf(format!("cannot read {}: {e}", path.display())))?;
        Image::from_elf(&data)
    }

    /// Parses an x86-64 ELF from memory.
    pub fn from_elf(data: &[u8]) -> Result<Image, TranspileError> {
        let file = object::File::parse(data).map_err(|e| TranspileError::Elf(e.to_string()))?;
        if file.format() != object::BinaryFormat::Elf {
            return Err(TranspileError::Elf(format!(
                "{:?} file, not ELF",
                file.format()
            )));
        }
        if file.kind() == object::ObjectKind::Relocatable {
            // (its sections all start at address 0, its calls are not
            // resolved yet: nothing to transpile from)
            return Err(TranspileError::Elf(
                "an object file (gcc -c): link it into an executable or a shared library \
                 (gcc -shared -fPIC) first"
                    .into(),
            ));
        }
        if file.architecture() != object::Architecture::X86_64 {
            return Err(TranspileError::Elf(format!(
                "architecture {:?}, not x86-64",
                file.architecture()
            )));
        }
        let mut image = Image {
            position_dependent: file.kind() == object::ObjectKind::Executable,
            ..Image::default()
        };
        let mut executable_ranges = Vec::new();
        let mut tls_sections: Vec<(u64, u64, u64, Vec<u8>)> = Vec::new();
        for section in file.sections() {
            let object::SectionFlags::Elf { sh_flags } = section.flags() else {
                continue;
            };
            if sh_flags & u64::from(object::elf::SHF_ALLOC) == 0 || section.size() == 0 {
                continue;
            }
            // TLS sections do not occupy their address in the process image:
            // they are the template of each thread's block
            if sh_flags & u64::from(object::elf::SHF_TLS) != 0 {
                tls_sections.push((
                    section.address(),
                    section.size(),
                    section.align().max(1),
                    match section.kind() {
                        object::SectionKind::UninitializedTls => Vec::new(),
                        _ => section
                            .data()
                            .map_err(|e| TranspileError::Elf(e.to_string()))?
                            .to_vec(),
                    },
                ));
                continue;
            }
            let executable = sh_flags & u64::from(object::elf::SHF_EXECINSTR) != 0;
            let writable = sh_flags & u64::from(object::elf::SHF_WRITE) != 0;
            let size = usize::try_from(section.size())
                .map_err(|_| TranspileError::Elf("section larger than memory".into()))?;
            if section.size() > 1 << 32 || section.address().checked_add(section.size()).is_none() {
                return Err(TranspileError::Elf(format!(
                    "section at {:#x} of size {:#x} is out of range",
                    section.address(),
                    section.size()
                )));
            }
            let mut bytes = match section.kind() {
                object::SectionKind::UninitializedData => Vec::new(),
                _ => section
                    .data()
                    .map_err(|e| TranspileError::Elf(e.to_string()))?
                    .to_vec(),
            };
            bytes.resize(size, 0);
            let name = section.name().unwrap_or("?").to_string();
            if executable {
                executable_ranges.push((section.address(), section.address() + section.size()));
            }
            image.end = image.end.max(section.address() + section.size());
            let mutable = writable && !NOT_VARIABLES.iter().any(|n| name.starts_with(n));
            image.sections.push(Section {
                name,
                address: section.address(),
                bytes,
                executable,
                mutable,
                unnamed_data: false,
            });
        }
        image.sections.sort_by_key(|s| s.address);
        tls_sections.sort_by_key(|t| t.0);
        if let Some(first) = tls_sections.first() {
            let start = first.0;
            let mut tls = Tls {
                template: Vec::new(),
                size: 0,
                align: 1,
            };
            for (address, size, align, bytes) in &tls_sections {
                let at = (address - start) as usize;
                if !bytes.is_empty() {
                    tls.template.resize(at, 0);
                    tls.template.extend_from_slice(bytes);
                }
                tls.size = tls.size.max(address - start + size);
                tls.align = tls.align.max(*align);
            }
            if tls.size > 1 << 24 || !tls.align.is_power_of_two() {
                return Err(TranspileError::Elf(format!(
                    "thread-local storage of {} bytes aligned to {}",
                    tls.size, tls.align
                )));
            }
            image.tls = Some(tls);
        }

        let in_code = |a: u64| executable_ranges.iter().any(|&(s, e)| a >= s && a < e);
        let mut symbols = Vec::new();
        for symbol in file.symbols().chain(file.dynamic_symbols()) {
            let Ok(name) = symbol.name() else { continue };
            if name.is_empty() || symbol.is_undefined() || symbol.address() == 0 {
                continue;
            }
            let is_function =
                symbol.kind() == object::SymbolKind::Text || in_code(symbol.address());
            symbols.push(Symbol {
                name: name.to_string(),
                address: symbol.address(),
                size: symbol.size(),
                is_function,
            });
        }
        image.add_symbols(symbols);

        // the version each undefined dynamic symbol asks for (.gnu.version_r)
        let mut versions_of: HashMap<usize, String> = HashMap::new();
        if let Ok(elf) = object::read::elf::ElfFile64::<object::Endianness>::parse(data) {
            let endian = elf.endian();
            if let Ok(Some(versions)) = elf.elf_section_table().versions(endian, data) {
                for symbol in elf.dynamic_symbols().filter(|s| s.is_undefined()) {
                    let index = versions.version_index(endian, symbol.index());
                    if let Ok(Some(version)) = versions.version(index) {
                        versions_of.insert(
                            symbol.index().0,
                            String::from_utf8_lossy(version.name()).into_owned(),
                        );
                    }
                }
            }
        }

        // Dynamic relocations: the GOT and pointers in data, as the loader
        // would fill them with the image at base 0.
        if let Some(relocations) = file.dynamic_relocations() {
            for (offset, relocation) in relocations {
                let RelocationFlags::Elf { r_type } = relocation.flags() else {
                    continue;
                };
                let addend = relocation.addend();
                if r_type == object::elf::R_X86_64_COPY {
                    // a shared library's variable (`stdout`, `environ`)
                    // that the loader copies into the program: the file
                    // has zeros where the process has its value
                    if let RelocationTarget::Symbol(index) = relocation.target() {
                        let symbol = file
                            .dynamic_symbol_table()
                            .and_then(|t| t.symbol_by_index(index).ok());
                        if let Some(s) = symbol {
                            image.run_time_state.push((
                                offset,
                                offset + s.size().max(1),
                                format!(
                                    "`{}`, a shared library's variable the loader copies \
                                     into the program when it starts",
                                    s.name().unwrap_or("?")
                                ),
                            ));
                        }
                    }
                    continue;
                }
                if matches!(
                    r_type,
                    object::elf::R_X86_64_TPOFF64
                        | object::elf::R_X86_64_DTPMOD64
                        | object::elf::R_X86_64_DTPOFF64
                ) {
                    // another object's thread-local variable (a library's
                    // `__thread`, libc's `errno`): where it lies in the
                    // thread is the loader's to say
                    let name = match relocation.target() {
                        RelocationTarget::Symbol(index) => file
                            .dynamic_symbol_table()
                            .and_then(|t| t.symbol_by_index(index).ok())
                            .and_then(|s| s.name().ok().map(str::to_string)),
                        _ => None,
                    };
                    image
                        .thread_local_slots
                        .push((offset, name.unwrap_or_default()));
                    continue;
                }
                let target = match r_type {
                    object::elf::R_X86_64_RELATIVE => Some(Pointer::Address(addend as u64)),
                    object::elf::R_X86_64_GLOB_DAT
                    | object::elf::R_X86_64_JUMP_SLOT
                    | object::elf::R_X86_64_64 => match relocation.target() {
                        RelocationTarget::Symbol(index) => {
                            // dynamic relocations index the dynamic symbol table
                            let symbol = file
                                .dynamic_symbol_table()
                                .and_then(|t| t.symbol_by_index(index).ok());
                            match symbol {
                                Some(s) if !s.is_undefined() && s.address() != 0 => {
                                    Some(Pointer::Address(s.address().wrapping_add(addend as u64)))
                                }
                                Some(s) => {
                                    // another object's variable (the
                                    // loader's `_rtld_global_ro`): the slot
                                    // holds no address a module has
                                    if matches!(
                                        s.kind(),
                                        object::SymbolKind::Data | object::SymbolKind::Tls
                                    ) {
                                        image.run_time_state.push((
                                            offset,
                                            offset + 8,
                                            format!(
                                                "the address of `{}`, a variable of another \
                                                 shared object",
                                                s.name().unwrap_or("?")
                                            ),
                                        ));
                                    }
                                    if s.is_weak() {
                                        image.weak_imports.push(offset);
                                    }
                                    if let Some(version) = versions_of.get(&index.0) {
                                        image.import_versions.insert(offset, version.clone());
                                    }
                                    s.name().ok().map(|n| Pointer::Import(n.to_string()))
                                }
                                None => None,
                            }
                        }
                        _ => None,
                    },
                    _ => None,
                };
                if let Some(target) = target {
                    image.set_pointer(offset, target);
                }
            }
        }
        Ok(image)
    }

    /// An image made of raw code at a chosen address (tests, tools). `symbols`
    /// name functions inside it.
    pub fn from_code(address: u64, code: &[u8], symbols: &[(&str, u64, u64)]) -> Image {
        let mut image = Image {
            end: address + code.len() as u64,
            sections: vec![Section {
                name: ".text".into(),
                address,
                bytes: code.to_vec(),
                executable: true,
                mutable: false,
                unnamed_data: false,
            }],
            ..Image::default()
        };
        image.add_symbols(
            symbols
                .iter()
                .map(|&(name, address, size)| Symbol {
                    name: name.into(),
                    address,
                    size,
                    is_function: true,
                })
                .collect(),
        );
        image
    }

    /// Adds a data section (tests, tools); a `.data` or `.bss` one holds
    /// variables ([`Section::mutable`]).
    pub fn add_data(&mut self, name: &str, address: u64, bytes: Vec<u8>) {
        self.end = self.end.max(address + bytes.len() as u64);
        self.sections.push(Section {
            name: name.into(),
            address,
            bytes,
            executable: false,
            mutable: name.starts_with(".data") || name.starts_with(".bss"),
            unnamed_data: false,
        });
        self.sections.sort_by_key(|s| s.address);
    }

    /// Names the function at `address` when the binary's symbol tables do
    /// not: a stripped binary's functions, whose addresses the running
    /// program knows (an app knows its callbacks'). `Err` when `address` is
    /// not in code, or `name` already names something else.
    pub fn name_function(&mut self, name: &str, address: u64) -> Result<(), TranspileError> {
        if !self.is_code(address) {
            return Err(TranspileError::UnknownSymbol {
                name: name.into(),
                why: format!("{address:#x} is not an address in this binary's code"),
            });
        }
        match self.symbol(name) {
            Some(s) if s.address == address => return Ok(()),
            Some(s) => {
                return Err(TranspileError::UnknownSymbol {
                    name: name.into(),
                    why: format!("the binary already names {:#x} so", s.address),
                })
            }
            None => {}
        }
        self.add_symbols(vec![Symbol {
            name: name.to_string(),
            address,
            size: 0,
            is_function: true,
        }]);
        Ok(())
    }

    /// Adds symbols, keeping `symbols` sorted by address and one entry per
    /// name and address (`.symtab` and `.dynsym` list many twice; the sized
    /// one wins). Local symbols may share a name at many addresses (rustc
    /// emits a copy of `<String as Display>::fmt` per codegen unit): each
    /// address keeps its symbol, so a function whose address the code loads
    /// is known as one; `by_name` names the first sized one.
    pub(crate) fn add_symbols(&mut self, new: Vec<Symbol>) {
        let mut all = std::mem::take(&mut self.symbols);
        all.extend(new);
        all.sort_by(|a, b| {
            (&a.name, a.address, std::cmp::Reverse(a.size)).cmp(&(
                &b.name,
                b.address,
                std::cmp::Reverse(b.size),
            ))
        });
        all.dedup_by(|later, first| later.name == first.name && later.address == first.address);
        all.sort_by_key(|s| s.address);
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for (i, s) in all.iter().enumerate() {
            match by_name.get(&s.name) {
                Some(&j) if all[j].size > 0 || s.size == 0 => {}
                _ => {
                    by_name.insert(s.name.clone(), i);
                }
            }
        }
        self.by_name = by_name;
        self.symbols = all;
    }

    pub(crate) fn set_pointer(&mut self, slot: u64, target: Pointer) {
        let value = match &target {
            Pointer::Address(a) => *a,
            Pointer::Import(name) => self.import_address(name),
        };
        if let Some(section) = self.section_mut(slot, 8) {
            let at = (slot - section.address) as usize;
            section.bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        self.pointers.insert(slot, target);
    }

    /// Adds a section (a linked library's), keeping them in address order.
    pub(crate) fn add_section(&mut self, section: Section) {
        self.end = self.end.max(section.address + section.bytes.len() as u64);
        let at = self
            .sections
            .partition_point(|s| s.address < section.address);
        self.sections.insert(at, section);
    }

    /// Overwrites bytes at `address` (inside a section).
    pub(crate) fn write(&mut self, address: u64, bytes: &[u8]) {
        if let Some(section) = self.section_mut(address, bytes.len() as u64) {
            let at = (address - section.address) as usize;
            section.bytes[at..at + bytes.len()].copy_from_slice(bytes);
        }
    }

    /// The slots that hold import `name`.
    pub(crate) fn slots_of_import(&self, name: &str) -> Vec<u64> {
        self.pointers
            .iter()
            .filter(|(_, p)| matches!(p, Pointer::Import(n) if n == name))
            .map(|(&slot, _)| slot)
            .collect()
    }

    /// Bytes of the executable's TLS block, which ends at the thread
    /// pointer (x86-64's variant II).
    pub fn tls_block_size(&self) -> u64 {
        self.tls
            .as_ref()
            .map_or(0, |t| t.size.next_multiple_of(t.align))
    }

    /// Bytes the module keeps below the executable's TLS block: `errno`'s.
    pub fn foreign_tls(&self) -> u64 {
        if self.has_errno {
            8
        } else {
            0
        }
    }

    /// How far below the thread pointer `errno` lies, when linked code uses
    /// it: past the executable's block.
    pub fn errno_offset(&self) -> Option<u64> {
        self.has_errno.then(|| self.tls_block_size() + 8)
    }

    /// The file name of the linked library holding `address`, if one does.
    pub fn library_at(&self, address: u64) -> Option<&str> {
        self.linked
            .iter()
            .find(|(start, end, _)| (*start..*end).contains(&address))
            .map(|(_, _, name)| name.as_str())
    }

    /// What of [`Image::run_time_state`] the bytes `start..end` touch.
    pub fn run_time_state_in(&self, start: u64, end: u64) -> Option<&str> {
        self.run_time_state
            .iter()
            .find(|(s, e, _)| *s < end && start < *e)
            .map(|(_, _, what)| what.as_str())
    }

    /// Points every slot that holds import `name` of `version` (as
    /// [`Image::import_versions`] has it) at `address` instead.
    pub(crate) fn redirect_import(&mut self, name: &str, version: Option<&str>, address: u64) {
        for slot in self.slots_of_import(name) {
            if self.import_versions.get(&slot).map(String::as_str) == version {
                self.set_pointer(slot, Pointer::Address(address));
            }
        }
    }

    /// The pseudo address an imported symbol's GOT slot holds in the module.
    pub fn import_address(&mut self, name: &str) -> u64 {
        let index = match self.imports.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.imports.push(name.to_string());
                self.imports.len() - 1
            }
        };
        IMPORT_BASE + 16 * index as u64
    }

    /// The pseudo address of an import already known to the image.
    pub fn import_value(&self, name: &str) -> Option<u64> {
        self.imports
            .iter()
            .position(|n| n == name)
            .map(|i| IMPORT_BASE + 16 * i as u64)
    }

    /// The import whose pseudo address this is, if any.
    pub fn import_at(&self, address: u64) -> Option<&str> {
        let index = address.checked_sub(IMPORT_BASE)? / 16;
        self.imports.get(index as usize).map(String::as_str)
    }

    fn section_mut(&mut self, address: u64, len: u64) -> Option<&mut Section> {
        self.sections
            .iter_mut()
            .find(|s| address >= s.address && address + len <= s.address + s.bytes.len() as u64)
    }

    /// The section holding `address`.
    pub fn section_at(&self, address: u64) -> Option<&Section> {
        let i = self.sections.partition_point(|s| s.address <= address);
        let s = self.sections.get(i.checked_sub(1)?)?;
        (address < s.address + s.bytes.len() as u64).then_some(s)
    }

    /// Bytes from `address` to the end of its section.
    pub fn bytes_from(&self, address: u64) -> Option<&[u8]> {
        let s = self.section_at(address)?;
        Some(&s.bytes[(address - s.address) as usize..])
    }

    /// `len` bytes at `address`, if all mapped in one section.
    pub fn read(&self, address: u64, len: usize) -> Option<&[u8]> {
        self.bytes_from(address).and_then(|b| b.get(..len))
    }

    /// True when `address` is inside an executable section.
    pub fn is_code(&self, address: u64) -> bool {
        self.section_at(address).is_some_and(|s| s.executable)
    }

    /// The symbol of this name.
    pub fn symbol(&self, name: &str) -> Option<&Symbol> {
        self.by_name.get(name).map(|&i| &self.symbols[i])
    }

    /// The function symbol starting exactly at `address`.
    pub fn function_at(&self, address: u64) -> Option<&Symbol> {
        let i = self.symbols.partition_point(|s| s.address < address);
        self.symbols[i..]
            .iter()
            .take_while(|s| s.address == address)
            .find(|s| s.is_function)
    }

    /// The first symbol starting after `address` (bounds data windows).
    pub fn next_symbol_after(&self, address: u64) -> Option<&Symbol> {
        let i = self.symbols.partition_point(|s| s.address <= address);
        self.symbols.get(i)
    }

    /// The symbol whose `[address, address + size)` contains `address`.
    pub fn symbol_containing(&self, address: u64) -> Option<&Symbol> {
        let i = self.symbols.partition_point(|s| s.address <= address);
        self.symbols[..i]
            .iter()
            .rev()
            .take(8)
            .find(|s| s.size > 0 && address < s.address + s.size)
    }

    /// A name for an address in messages: `symbol+0x12` or the bare address.
    pub fn describe(&self, address: u64) -> String {
        if let Some(name) = self.import_at(address) {
            return format!("imported `{name}`");
        }
        match self
            .symbol_containing(address)
            .or_else(|| self.function_at(address))
        {
            Some(s) if s.address == address => format!("`{}` ({address:#x})", s.name),
            Some(s) => format!("`{}`+{:#x} ({address:#x})", s.name, address - s.address),
            None => format!("{address:#x}"),
        }
    }

    /// The pointer stored in the relocated slot at `address`, if any.
    pub fn pointer_at(&self, address: u64) -> Option<&Pointer> {
        self.pointers.get(&address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rustc emits a local copy of a generic function per codegen unit, all
    /// under one name: each address is still known as a function, so a
    /// pointer the code loads to any of them joins the function table.
    #[test]
    fn local_symbols_that_share_a_name_keep_their_addresses() {
        let code = [0xc3u8; 16];
        let image = Image::from_code(
            0x1000,
            &code,
            &[
                ("fmt", 0x1000, 1),
                ("fmt", 0x1004, 1),
                ("fmt", 0x1004, 0), // the same symbol listed twice
                ("main", 0x1008, 0),
                ("main", 0x1008, 8),
            ],
        );
        for (address, name) in [(0x1000, "fmt"), (0x1004, "fmt"), (0x1008, "main")] {
            assert_eq!(
                image.function_at(address).map(|s| s.name.as_str()),
                Some(name)
            );
        }
        assert_eq!(image.symbol("fmt").map(|s| s.address), Some(0x1000));
        assert_eq!(
            image.symbol("main").map(|s| s.size),
            Some(8),
            "the sized one"
        );
        assert_eq!(image.symbols.len(), 3);
    }
}
