//! Shared test helpers: a wasm engine (wasmi), native code execution at fixed
//! addresses, and a small deterministic random generator.

#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard, OnceLock};

// ------------------------------------------------------------------ random

/// xorshift64*: reproducible inputs from a seed.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// One element of a slice.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// A value of `bits` width, edge values half the time (0, 1, -1, MIN, MAX,
    /// values at the sign and carry boundaries), zero-extended to u64.
    pub fn edgy(&mut self, bits: u32) -> u64 {
        let mask = if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let sign = 1u64 << (bits - 1);
        let edges = [
            0,
            1,
            2,
            mask,
            mask - 1,
            sign,
            sign - 1,
            sign + 1,
            sign.wrapping_sub(2),
            0x7f,
            0x80,
            0xff,
            0x100,
            0x7fff,
            0x8000,
            0xffff,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
            1 << 32,
        ];
        let v = match self.below(4) {
            0 | 1 => self.pick(&edges),
            2 => self.next() >> self.below(64),
            _ => self.next(),
        };
        v & mask
    }
}

// ------------------------------------------------------------------ floats

/// f64 values at the edges: signed zeros, infinities, NaN payloads (quiet and
/// signalling), denormals, rounding ties and the integer-conversion limits.
pub const F64_EDGES: [u64; 22] = [
    0,
    0x8000_0000_0000_0000,
    0x3ff0_0000_0000_0000,
    0xbff0_0000_0000_0000,
    0x3fe0_0000_0000_0000,
    0x3ff8_0000_0000_0000,
    0x4004_0000_0000_0000,
    0xc004_0000_0000_0000,
    0x7ff0_0000_0000_0000,
    0xfff0_0000_0000_0000,
    0x7ff8_0000_0000_0001,
    0x7ff0_0000_0000_0001,
    0xfff8_0000_0000_0000,
    1,
    0x7fef_ffff_ffff_ffff,
    0x41e0_0000_0000_0000,
    0xc1e0_0000_0000_0000,
    0x41df_ffff_ffe0_0000,
    0x43e0_0000_0000_0000,
    0xc3e0_0000_0000_0000,
    0xc1e0_0000_0010_0000,
    0x8000_0000_0000_0001,
];

/// f32 values at the same kinds of edges.
pub const F32_EDGES: [u32; 17] = [
    0,
    0x8000_0000,
    0x3f80_0000,
    0xbf80_0000,
    0x3f00_0000,
    0x3fc0_0000,
    0x4020_0000,
    0x7f80_0000,
    0xff80_0000,
    0x7fc0_0001,
    0x7f80_0001,
    0xffc0_0000,
    1,
    0x7f7f_ffff,
    0x4f00_0000,
    0xcf00_0000,
    0x5f00_0000,
];

// ------------------------------------------------------------------ wasm

/// Wasm instructions one call may run before it counts as hung.
pub const FUEL_PER_CALL: u64 = 50_000_000;

/// An instantiated module in wasmi.
pub struct Wasm {
    pub store: wasmi::Store<()>,
    pub instance: wasmi::Instance,
    pub memory: wasmi::Memory,
}

impl Wasm {
    /// Compiles and instantiates `wasm` (no imports).
    pub fn new(wasm: &[u8]) -> Wasm {
        // recursion as deep as the corpus's (wasmi's default stops at 1,000
        // frames; browsers reach about ten times that)
        Wasm::new_with_call_depth(wasm, 100_000)
    }

    /// [`Wasm::new`] with room for `frames` nested wasm calls.
    pub fn new_with_call_depth(wasm: &[u8], frames: usize) -> Wasm {
        let mut config = wasmi::Config::default();
        config.wasm_simd(true);
        // a runaway loop becomes a trap instead of a hung test
        config.consume_fuel(true);
        config.set_max_recursion_depth(frames);
        config.set_max_stack_height(frames.max(1 << 16) * 256);
        let engine = wasmi::Engine::new(&config);
        let module = wasmi::Module::new(&engine, wasm).expect("wasmi accepts the module");
        let mut store = wasmi::Store::new(&engine, ());
        store.set_fuel(u64::MAX).unwrap();
        let linker = wasmi::Linker::<()>::new(&engine);
        let instance = linker
            .instantiate_and_start(&mut store, &module)
            .expect("instantiate");
        let memory = instance
            .get_memory(&store, "memory")
            .expect("memory export");
        Wasm {
            store,
            instance,
            memory,
        }
    }

    /// Calls an export with wasm values; Err on a trap.
    pub fn call(&mut self, name: &str, args: &[wasmi::Val]) -> Result<Option<wasmi::Val>, String> {
        let func = self
            .instance
            .get_func(&self.store, name)
            .unwrap_or_else(|| panic!("export {name}"));
        self.store.set_fuel(FUEL_PER_CALL).unwrap();
        let ty = func.ty(&self.store);
        let mut results: Vec<wasmi::Val> = ty
            .results()
            .iter()
            .map(|t| wasmi::Val::default(*t))
            .collect();
        func.call(&mut self.store, args, &mut results)
            .map_err(|e| e.to_string())?;
        Ok(results.into_iter().next())
    }

    /// The value of an exported i32 global.
    pub fn global_i32(&self, name: &str) -> u32 {
        let g = self.instance.get_global(&self.store, name).expect("global");
        match g.get(&self.store) {
            wasmi::Val::I32(v) => v as u32,
            other => panic!("{name} is {other:?}"),
        }
    }

    /// Linear memory.
    pub fn mem(&mut self) -> &mut [u8] {
        self.memory.data_mut(&mut self.store)
    }
}

// ------------------------------------------------------------------ native

/// Fixed addresses the differential harness uses, natively and in wasm alike.
pub const DATA: u64 = 0x20_0000;
/// Input registers, 16 × u64 by register number.
pub const IN: u64 = DATA;
/// Input RFLAGS.
pub const IN_FLAGS: u64 = DATA + 0x80;
/// Output registers.
pub const OUT: u64 = DATA + 0x100;
/// Output RFLAGS.
pub const OUT_FLAGS: u64 = DATA + 0x180;
/// rsp at snippet start.
pub const SAVE_RSP: u64 = DATA + 0x188;
/// rsp right after the tested code.
pub const OUT_RSP: u64 = DATA + 0x190;
/// Input XMM registers, 16 x 16 bytes.
pub const IN_XMM: u64 = DATA + 0x200;
/// Output XMM registers.
pub const OUT_XMM: u64 = DATA + 0x300;
/// Input bits 255:128 of the YMM registers, 16 x 16 bytes.
pub const IN_HIGH: u64 = DATA + 0x400;
/// Output bits 255:128.
pub const OUT_HIGH: u64 = DATA + 0x500;
/// Memory operands point here.
pub const SCRATCH: u64 = DATA + 0x1000;
/// Scratch bytes compared after each run.
pub const SCRATCH_SIZE: usize = 0x1000;
/// Size of the data area.
pub const DATA_SIZE: usize = 0x10000;
/// Where snippets are placed.
pub const CODE: u64 = 0x30_0000;
/// Room for snippet code.
pub const CODE_SIZE: usize = 0x10000;
/// Zeroed memory where the module's x86 stack is (above the image, below
/// its top 8 MiB up), mapped natively too: a frame pointer `leave` moves rsp
/// to (rsp anywhere below the stack would trap in wasm).
pub const FAR_STACK: u64 = 0x40_0000;
/// Bytes of it.
pub const FAR_STACK_SIZE: usize = 0x1000;

struct Mapped;

fn map_fixed(address: u64, size: usize, prot: i32) {
    // SAFETY: a fresh anonymous mapping at an address nothing else uses in the
    // test process (MAP_FIXED_NOREPLACE fails rather than clobbering).
    let p = unsafe {
        libc::mmap(
            address as *mut libc::c_void,
            size,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    assert_eq!(
        p as u64,
        address,
        "mmap at {address:#x} failed: {}",
        std::io::Error::last_os_error()
    );
}

/// Exclusive use of the fixed native areas (tests run on several threads).
pub fn native_lock() -> MutexGuard<'static, ()> {
    static MAPPED: OnceLock<Mapped> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    MAPPED.get_or_init(|| {
        map_fixed(DATA, DATA_SIZE, libc::PROT_READ | libc::PROT_WRITE);
        map_fixed(
            CODE,
            CODE_SIZE,
            libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
        );
        map_fixed(FAR_STACK, FAR_STACK_SIZE, libc::PROT_READ);
        Mapped
    });
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The native data area (hold `native_lock`).
pub fn native_data() -> &'static mut [u8] {
    // SAFETY: mapped by native_lock for the life of the process; callers hold the lock.
    unsafe { std::slice::from_raw_parts_mut(DATA as *mut u8, DATA_SIZE) }
}

/// Copies `code` to CODE and runs it as `extern "C" fn()` (hold `native_lock`).
pub fn run_native(code: &[u8]) {
    assert!(code.len() <= CODE_SIZE);
    // SAFETY: CODE is mapped RWX; the snippet follows the C ABI (saves the
    // callee-saved registers, returns with the stack as it found it).
    unsafe {
        std::ptr::copy_nonoverlapping(code.as_ptr(), CODE as *mut u8, code.len());
        let f: extern "C" fn() = std::mem::transmute(CODE as usize);
        f();
    }
}

/// Little-endian u64 at `offset` of a byte slice.
pub fn read_u64(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(bytes[offset..offset + 8].try_into().unwrap())
}

/// Writes a little-endian u64 at `offset`.
pub fn write_u64(bytes: &mut [u8], offset: usize, v: u64) {
    bytes[offset..offset + 8].copy_from_slice(&v.to_le_bytes());
}
