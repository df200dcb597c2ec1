//! The callback corpus (`corpus/`, compiled with release optimisation) is
//! transpiled from this very test binary and run on hundreds of generated
//! inputs per callback: the return value and every state byte must equal what
//! the native callback produced.

mod support;

use std::path::Path;
use support::{Rng, Wasm};

use x64wasm_corpus::{State, CALLBACKS, STATE_SIZE};
use x64wasm_transpile::{link, transpile, Image, ScalarType, Signature};

/// This test binary, with the libm and libc functions it calls linked in,
/// as an app sees itself (`process::running_image`).
fn own_image() -> Image {
    let mut image = Image::from_file(Path::new("/proc/self/exe")).expect("read the test binary");
    link(&mut image).expect("link libm and libc");
    image
}

const INPUTS_PER_CALLBACK: usize = 300;

/// Float arguments: edge values (zeros, infinities, NaNs, denormals, ties,
/// integer limits) or ordinary numbers, as bits.
fn float_bits(rng: &mut Rng, ty: ScalarType) -> u64 {
    let v: f64 = match rng.below(4) {
        0 => {
            const EDGES: [f64; 16] = [
                0.0,
                -0.0,
                0.5,
                -0.5,
                1.5,
                2.5,
                -2.5,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                1e-310,
                2147483648.0,
                -2147483649.0,
                9.3e18,
                255.5,
                -1.0,
            ];
            match rng.below(20) {
                // NaNs with payloads, quiet and signalling, both signs
                16 => f64::from_bits(0x7ff0_0000_0000_0001),
                17 => f64::from_bits(0xfff0_0000_dead_0000),
                18 => f64::from_bits(0x7ff8_0000_0000_beef),
                19 => f64::from_bits(0xfff8_0000_0000_0000),
                k => EDGES[k as usize],
            }
        }
        1 => f64::from_bits(rng.next()),
        _ => (rng.below(20_000) as f64 - 10_000.0) / 64.0,
    };
    match ty {
        // `as f32` would quiet a signalling NaN: build f32 NaNs from the bits
        ScalarType::F32 if v.is_nan() => {
            let b = v.to_bits();
            (((b >> 32) as u32 & 0x8000_0000) | 0x7f80_0000 | ((b >> 29) as u32 & 0x007f_ffff) | 1)
                as u64
        }
        ScalarType::F32 => (v as f32).to_bits() as u64,
        _ => v.to_bits(),
    }
}

fn arg_bits(rng: &mut Rng, ty: ScalarType) -> u64 {
    if ty.is_float() {
        return float_bits(rng, ty);
    }
    let (bits, signed) = ty.int_bits();
    let v = rng.edgy(bits);
    if signed && bits < 64 {
        (((v << (64 - bits)) as i64) >> (64 - bits)) as u64
    } else {
        v
    }
}

fn wasm_arg(ty: ScalarType, bits: u64, state_address: u32) -> wasmi::Val {
    match ty {
        ScalarType::Ptr => wasmi::Val::I32(state_address as i32),
        ScalarType::I64 | ScalarType::U64 => wasmi::Val::I64(bits as i64),
        ScalarType::F32 => wasmi::Val::F32(wasmi::F32::from_bits(bits as u32)),
        ScalarType::F64 => wasmi::Val::F64(wasmi::F64::from_bits(bits)),
        _ => wasmi::Val::I32(bits as i32),
    }
}

fn wasm_result(ty: Option<ScalarType>, v: Option<wasmi::Val>) -> u64 {
    match (ty, v) {
        (None, _) => 0,
        (Some(t), Some(wasmi::Val::I32(v))) => {
            if t.int_bits().1 {
                v as i64 as u64
            } else {
                v as u32 as u64
            }
        }
        (Some(_), Some(wasmi::Val::I64(v))) => v as u64,
        (Some(_), Some(wasmi::Val::F32(v))) => v.to_bits() as u64,
        (Some(_), Some(wasmi::Val::F64(v))) => v.to_bits(),
        (t, v) => panic!("unexpected result {v:?} for {t:?}"),
    }
}

#[test]
fn every_corpus_callback_matches_native_on_hundreds_of_inputs() {
    assert!(
        CALLBACKS.len() >= 40,
        "the corpus must have at least 40 callbacks"
    );
    let image = own_image();
    let mut failures = Vec::new();
    let mut runs = 0;
    for (k, cb) in CALLBACKS.iter().enumerate() {
        let sig = Signature::parse(cb.signature).unwrap();
        let module = match transpile(&image, std::slice::from_ref(&sig)) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{}: {e}", cb.name));
                continue;
            }
        };
        let mut wasm = Wasm::new(&module.wasm);
        let heap = wasm.global_i32("__heap_base");
        let mut rng = Rng::new(k as u64 + 1);
        for input in 0..INPUTS_PER_CALLBACK {
            let mut state = State::from_seed(rng.next());
            // small counters and steps as well as extreme ones
            if input % 3 == 0 {
                state.counter = (rng.below(200) as i64) - 100;
                state.step = (rng.below(20) as i32) - 10;
            }
            let args: Vec<u64> = sig.params.iter().map(|t| arg_bits(&mut rng, *t)).collect();
            wasm.mem()[heap as usize..heap as usize + STATE_SIZE].copy_from_slice(state.as_bytes());
            let wasm_args: Vec<wasmi::Val> = sig
                .params
                .iter()
                .zip(&args)
                .map(|(t, b)| wasm_arg(*t, *b, heap))
                .collect();
            let mut native_state = state;
            let native = (cb.native)(&mut native_state, &args);
            runs += 1;
            let got = match wasm.call(cb.name, &wasm_args) {
                Ok(v) => wasm_result(sig.result, v),
                Err(trap) => {
                    failures.push(format!("{}{:x?}: wasm trapped: {trap}", cb.name, args));
                    break;
                }
            };
            let mut wasm_state = [0u8; STATE_SIZE];
            wasm_state.copy_from_slice(&wasm.mem()[heap as usize..heap as usize + STATE_SIZE]);
            if got != native {
                failures.push(format!(
                    "{}{:x?}: returned {got:#x}, native {native:#x}",
                    cb.name, args
                ));
                break;
            }
            if &wasm_state != native_state.as_bytes() {
                let at = (0..STATE_SIZE)
                    .find(|&i| wasm_state[i] != native_state.as_bytes()[i])
                    .unwrap();
                failures.push(format!("{}{:x?}: state byte {at} differs", cb.name, args));
                break;
            }
        }
    }
    eprintln!("{} callbacks, {runs} runs", CALLBACKS.len());
    assert!(
        failures.is_empty(),
        "{} callbacks differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_inputs_that_would_panic_trap_in_wasm() {
    // The corpus's panic paths (a failed expect, unwrap, slice or str
    // index) are taken only for one magic input, which the native code is
    // never given (a panic in an extern "C" function aborts). Their calls
    // never return: in wasm they are traps, found from the code.
    const NEVER: i64 = 0x5eed_dead_beef_f00d;
    let image = own_image();
    // (signature, arguments after the state pointer)
    let cases: &[(&str, &[i64])] = &[
        ("checked_ratio(ptr,i64,u64)->i64", &[5, NEVER]),
        ("month_prefix(ptr,u32,u64)->u32", &[3, NEVER]),
    ];
    for (signature, args) in cases {
        let sig = Signature::parse(signature).unwrap();
        let module = transpile(&image, std::slice::from_ref(&sig)).unwrap();
        assert_eq!(
            module.functions.len(),
            1,
            "{signature}: the panic functions are not in the module: {:?}",
            module.functions
        );
        let mut wasm = Wasm::new(&module.wasm);
        let heap = wasm.global_i32("__heap_base");
        let state = State::from_seed(1);
        wasm.mem()[heap as usize..heap as usize + STATE_SIZE].copy_from_slice(state.as_bytes());
        let mut values = vec![wasmi::Val::I32(heap as i32)];
        for (t, a) in sig.params[1..].iter().zip(args.iter()) {
            values.push(match t {
                ScalarType::I64 | ScalarType::U64 => wasmi::Val::I64(*a),
                _ => wasmi::Val::I32(*a as i32),
            });
        }
        let result = wasm.call(&sig.name, &values);
        assert!(result.is_err(), "{signature}: {result:?} instead of a trap");
    }
}

#[test]
fn a_function_that_writes_a_static_variable_is_reported() {
    // Each wasm instance has its own copy of the program's statics: a
    // callback that counts in one predicts from its copy, not the server's.
    // `Module::variables` names what such code refers to (the app warns at
    // start); code that only reads constants refers to none.
    std::hint::black_box(x64wasm_corpus::count_calls as *const ());
    let image = own_image();
    let cases: &[(&str, bool)] = &[
        ("count_calls(u32)->u32", true),
        ("month_label(ptr,i32)->i32", false),
        ("fib_recursive(u32)->u64", false),
    ];
    for (signature, writes_static) in cases {
        let sig = Signature::parse(signature).unwrap();
        let module = transpile(&image, std::slice::from_ref(&sig)).unwrap();
        assert_eq!(
            !module.variables.is_empty(),
            *writes_static,
            "{signature}: {:?}",
            module.variables
        );
        if *writes_static {
            assert!(
                module
                    .variables
                    .iter()
                    .any(|(_, name)| name.contains("CALLS")),
                "{signature}: {:?}",
                module.variables
            );
        }
    }
}

#[test]
fn the_heap_serves_what_fits_reuses_what_is_freed_and_traps_past_memory() {
    let image = own_image();
    // an allocation that fits runs as natively; one past what wasm32 memory
    // holds traps (natively it may succeed: never a wrong result instead)
    std::hint::black_box(x64wasm_corpus::allocate_mib as *const ());
    let sig = Signature::parse("allocate_mib(u32)->u64").unwrap();
    let module = transpile(&image, std::slice::from_ref(&sig)).unwrap();
    let mut wasm = Wasm::new(&module.wasm);
    let three = wasm.call("allocate_mib", &[wasmi::Val::I32(3)]).unwrap();
    assert_eq!(
        wasm_result(sig.result, three),
        x64wasm_corpus::allocate_mib(3)
    );
    assert!(wasm.call("allocate_mib", &[wasmi::Val::I32(5000)]).is_err());
    // a loop that frees what it allocates, called again and again on one
    // instance: memory stays where the first call left it
    let sig = Signature::parse("alloc_and_free_loop(ptr,u32)->u64").unwrap();
    let module = transpile(&image, std::slice::from_ref(&sig)).unwrap();
    let mut wasm = Wasm::new(&module.wasm);
    let heap = wasm.global_i32("__heap_base");
    let state = State::from_seed(9);
    wasm.mem()[heap as usize..heap as usize + STATE_SIZE].copy_from_slice(state.as_bytes());
    let mut sizes = Vec::new();
    for n in 0..40 {
        let args = [wasmi::Val::I32(heap as i32), wasmi::Val::I32(n * 7)];
        wasm.call("alloc_and_free_loop", &args).unwrap();
        sizes.push(wasm.mem().len());
    }
    assert!(
        sizes.iter().all(|&s| s == sizes[0]),
        "memory grew across calls: {sizes:?}"
    );
}

#[test]
fn what_cannot_run_in_a_browser_is_refused_by_name() {
    // (function, what the error names)
    std::hint::black_box(x64wasm_corpus::hashmap_count as *const ());
    let image = own_image();
    // (HashMap's seed: std asks libc's getrandom, or reads /dev/urandom)
    let cases: &[(&str, &str)] = &[("hashmap_count(ptr)->u32", "makes a system call")];
    for (signature, named) in cases {
        let sig = Signature::parse(signature).unwrap();
        let err = transpile(&image, std::slice::from_ref(&sig))
            .expect_err(signature)
            .to_string();
        assert!(err.contains(named), "{signature}: {err}");
    }
}

#[test]
fn text_arguments_run_as_on_the_cpu() {
    std::hint::black_box(x64wasm_corpus::shout_text as *const ());
    let image = own_image();
    let sig = Signature::parse("shout_text(ptr,text,i32)->u64").unwrap();
    let module = transpile(&image, std::slice::from_ref(&sig)).unwrap();
    let long = "é".repeat(2048);
    let texts: &[&str] = &[
        "",
        "a",
        "hello wide world",
        "crème brûlée à la carte",
        "東京 大阪 京都",
        "🦀 rust 🦀 wasm",
        "straße ǆ ﬃ",
        &long,
    ];
    for (k, text) in texts.iter().enumerate() {
        let state = State::from_seed(k as u64);
        let mut native = state;
        let arg = x64wasm_corpus::TextArg {
            ptr: text.as_ptr(),
            len: text.len(),
        };
        let expected = x64wasm_corpus::shout_text(&mut native, arg, k as i32 - 3);
        let mut wasm = Wasm::new(&module.wasm);
        let heap = wasm.global_i32("__heap_base") as usize;
        // the text right after the state (docs/abi.md)
        let text_at = (heap + STATE_SIZE).next_multiple_of(8);
        let malloc = wasm.global_i32("__malloc_base") as usize;
        assert!(text_at + text.len() <= malloc, "room below the heap");
        wasm.mem()[heap..heap + STATE_SIZE].copy_from_slice(state.as_bytes());
        wasm.mem()[text_at..text_at + text.len()].copy_from_slice(text.as_bytes());
        let args = [
            wasmi::Val::I32(heap as i32),
            wasmi::Val::I32(text_at as i32),
            wasmi::Val::I32(text.len() as i32),
            wasmi::Val::I32(k as i32 - 3),
        ];
        let got = wasm.call("shout_text", &args).unwrap();
        let got = got.and_then(|v| v.i64()).expect("an i64 result");
        assert_eq!(got as u64, expected, "{text:?}");
        assert_eq!(
            &wasm.mem()[heap..heap + STATE_SIZE],
            native.as_bytes(),
            "{text:?}: state bytes"
        );
    }
}

#[test]
fn code_that_asks_cpuid_finds_the_cpu_a_module_claims_to_be() {
    // docs/abi.md, "The CPU a module is": SSE2, POPCNT, LZCNT, nothing later
    // (and what the corpus was compiled for, which is not asked)
    let claimed: Vec<&str> = x64wasm_corpus::CPU_FEATURES
        .iter()
        .zip(x64wasm_corpus::COMPILED_FEATURES)
        .filter(|(name, compiled)| *compiled || ["sse2", "popcnt", "lzcnt"].contains(name))
        .map(|(name, _)| *name)
        .collect();
    let image = own_image();
    let sig = Signature::parse("cpu_features()->u32").unwrap();
    let module = transpile(&image, std::slice::from_ref(&sig)).unwrap();
    let mut wasm = Wasm::new(&module.wasm);
    let found = match wasm.call("cpu_features", &[]).unwrap() {
        Some(wasmi::Val::I32(bits)) => bits as u32,
        other => panic!("{other:?}"),
    };
    let names = |bits: u32| -> Vec<&str> {
        x64wasm_corpus::CPU_FEATURES
            .iter()
            .enumerate()
            .filter(|(k, _)| bits & (1 << k) != 0)
            .map(|(_, n)| *n)
            .collect()
    };
    assert_eq!(names(found), claimed);
    // natively the features are this machine's (at least the baseline's)
    assert!(names(x64wasm_corpus::cpu_features()).starts_with(&["sse2"]));
}

#[test]
fn mul_add_rounds_once_in_wasm_as_on_the_cpu() {
    // Built with FMA (x86-64-v3) `mul_add` is `vfmadd`, which runs as wasm
    // bit for bit. At the baseline it is compiler-builtins' `fma`, whose
    // choice by `cpuid` includes a path for AMD's FMA4 (`vfmaddsd`, four
    // operands): no CPU here can prove FMA4, so the transpiler refuses it,
    // by name.
    // (called natively in every build, so the linker keeps them)
    let native = std::hint::black_box(x64wasm_corpus::fused_mul_add);
    let native_f32 = std::hint::black_box(x64wasm_corpus::fused_mul_add_f32);
    assert_eq!(native(2.0, 3.0, 1.0), 7.0);
    assert_eq!(native_f32(2.0, 3.0, 1.0), 8.0);
    let image = own_image();
    let sigs = [
        Signature::parse("fused_mul_add(f64,f64,f64)->f64").unwrap(),
        Signature::parse("fused_mul_add_f32(f32,f32,f32)->f32").unwrap(),
    ];
    if !cfg!(target_feature = "fma") {
        for sig in &sigs {
            let error = transpile(&image, std::slice::from_ref(sig))
                .unwrap_err()
                .to_string();
            assert!(error.contains("vfmadds"), "{error}");
        }
        return;
    }
    let module = transpile(&image, &sigs).unwrap();
    let mut wasm = Wasm::new(&module.wasm);
    let mut rng = Rng::new(0xfa);
    for _ in 0..20_000 {
        let [a, b, c] = [0; 3].map(|_| f64::from_bits(float_bits(&mut rng, ScalarType::F64)));
        let args = [a, b, c].map(wasmi::Val::from);
        let got = wasm
            .call("fused_mul_add", &args)
            .unwrap()
            .and_then(|v| v.f64())
            .unwrap();
        assert_eq!(
            got.to_bits(),
            native(a, b, c).to_bits(),
            "{a:e} * {b:e} + {c:e}"
        );
        let [a, b, c] =
            [0; 3].map(|_| f32::from_bits(float_bits(&mut rng, ScalarType::F32) as u32));
        let args = [a, b, c].map(wasmi::Val::from);
        let got = wasm
            .call("fused_mul_add_f32", &args)
            .unwrap()
            .and_then(|v| v.f32())
            .unwrap();
        assert_eq!(
            got.to_bits(),
            native_f32(a, b, c).to_bits(),
            "{a:e} * {b:e} + {c:e} (f32)"
        );
    }
}
