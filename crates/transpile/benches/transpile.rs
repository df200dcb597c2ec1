//! Transpile speed over the callback corpus, and the modules the code-quality
//! benchmark (`benches/code_quality.sh`) runs in V8.
//!
//! `cargo bench --bench transpile` measures, for every corpus callback, the
//! median of 25 cold transpiles (decode → lower → encode → validate, no cache;
//! the ELF is parsed once per process, as the server does), and the overall
//! rate in MB/s of x86 code (the sum of those medians, one thread), with how
//! much of it the two library stages take timed alone (decoding with iced-x86
//! and our walk, validating with wasmparser: together close to the floor under
//! the overall figure for modules of this size); then the wall time of every
//! callback as its own module on every core, as the app does at start; then the
//! median of 101 transpiles of the whole corpus as one module, and the
//! validation of that module next to rustc's own wasm32 build of the corpus
//! (when `benches/code_quality.sh` has built it). Modules of more than a few
//! hundred instructions are lowered and validated on up to one thread per core
//! (`module::lower_all`), so that figure depends on the cores free. Without
//! `--bench` (as under `cargo test`, or the binary run by hand) it only runs a
//! round or three. `TRANSPILE_BENCH_PROFILE=N` runs just the whole-corpus
//! transpile N times, `TRANSPILE_BENCH_PROFILE=N:name` one callback,
//! `TRANSPILE_BENCH_PROFILE=N:each` every callback as its own module (the
//! "overall" figure's work), for `perf record`.

use std::time::{Duration, Instant};

/// The allocator the x64wasm binary uses (`crates/cli/src/main.rs`), so that these
/// figures are the app's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use x64wasm_corpus::{CALLBACKS, STATE_SIZE};
use x64wasm_transpile::{
    decode::{self, roots},
    module::each_on_cores,
    transpile, validate, Image, Module, Signature,
};

/// The callbacks whose time is spent in loops: the code-quality set.
const LOOP_HEAVY: &[&str] = &[
    "sum_list",
    "max_list",
    "count_above",
    "sort_list",
    "sort_unstable_bytes",
    "reverse_words",
    "checksum_bytes",
    "find_byte",
    "fill_board",
    "life_neighbours",
    "randomize_board",
    "fib_iterative",
    "collatz_steps",
    "gcd",
    "hash_state",
    "bytes_equal_halves",
    "life_step",
    "physics_step",
    "scale_samples",
    "mix_samples",
    "scale_temps",
];

/// The callbacks that format (`core::fmt` pulls in the most code): their
/// median cold transpile has a goal of 2 ms, their modules 64 KiB gzipped.
const FORMATTING: &[&str] = &[
    "format_padding",
    "format_floats",
    "format_debug_nested",
    "write_into_cursor",
    "write_into_buffer",
    "write_through_dyn",
];

/// The callbacks whose time is spent in calls (recursion, tail jumps): the
/// code-quality set whose goal is each at most 1.25x rustc's own build.
const CALL_HEAVY: &[&str] = &[
    "fib_recursive",
    "ackermann_small",
    "gcd_recursive",
    "parity_by_recursion",
    "recursion_depth",
];

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let rounds = if benchmarking { 25 } else { 1 };
    let started = Instant::now();
    let mut image =
        Image::from_file(std::path::Path::new("/proc/self/exe")).expect("read own binary");
    // libm's and libc's functions the corpus calls (`libm_calls`), as the
    // app links them
    x64wasm_transpile::link(&mut image).expect("link libm and libc");
    let parse = started.elapsed();
    std::hint::black_box(
        x64wasm_corpus::CALLBACKS
            .iter()
            .map(|c| c.native as usize)
            .sum::<usize>(),
    );
    if let Ok(spec) = std::env::var("TRANSPILE_BENCH_PROFILE") {
        // `N` (the whole corpus N times) or `N:callback` (that one N times)
        let (n, name) = spec.split_once(':').unwrap_or((&spec, ""));
        let n = n.parse().unwrap_or(500).max(1);
        if name == "each" {
            let sigs = corpus_signatures();
            let t = Instant::now();
            for _ in 0..n {
                for sig in &sigs {
                    std::hint::black_box(transpile(&image, std::slice::from_ref(sig)).unwrap());
                }
            }
            println!(
                "every callback as its own module: {:.2} ms per round",
                ms(t.elapsed()) / n as f64
            );
            return;
        }
        match CALLBACKS.iter().find(|c| c.name == name) {
            Some(cb) => {
                let sig = Signature::parse(cb.signature).unwrap();
                let t = Instant::now();
                for _ in 0..n {
                    std::hint::black_box(transpile(&image, std::slice::from_ref(&sig)).unwrap());
                }
                println!(
                    "{name}: {:.1} µs each",
                    t.elapsed().as_secs_f64() * 1e6 / n as f64
                );
            }
            None if name.is_empty() => drop(whole_corpus(&image, n)),
            None => {
                eprintln!("TRANSPILE_BENCH_PROFILE: no corpus callback named `{name}`");
                std::process::exit(2);
            }
        }
        return;
    }

    let mut medians = Vec::new();
    // (median time, gzipped module bytes) of the formatting callbacks
    let mut formatting: Vec<(Duration, usize)> = Vec::new();
    let (mut total_bytes, mut total_time) = (0usize, Duration::ZERO);
    // the two stages whose speed is a library's: decoding (iced-x86, with our walk) and
    // validation (wasmparser), each timed alone on the same work
    let (mut decode_time, mut validation_time) = (Duration::ZERO, Duration::ZERO);
    println!(
        "{:<22} {:>8} {:>8} {:>10} {:>10}",
        "callback", "x86 B", "wasm B", "median", "MB/s"
    );
    for cb in CALLBACKS {
        let sig = Signature::parse(cb.signature).unwrap();
        let (median, m) = median_time(rounds, || {
            transpile(&image, std::slice::from_ref(&sig)).expect("corpus transpiles")
        });
        decode_time += median_time(rounds, || {
            let roots = roots(&image, std::slice::from_ref(&sig)).unwrap();
            decode::decode(&image, &roots).unwrap()
        })
        .0;
        validation_time += median_time(rounds, || {
            validate(&m.wasm).expect("the transpiler's own output validates")
        })
        .0;
        medians.push(median);
        if FORMATTING.contains(&cb.name) {
            formatting.push((median, gzipped_size(&m.wasm)));
        }
        total_bytes += m.code_bytes;
        total_time += median;
        let rate = mb_per_s(m.code_bytes, median);
        println!(
            "{:<22} {:>8} {:>8} {:>8.1}µs {:>10.1}",
            cb.name,
            m.code_bytes,
            m.wasm.len(),
            median.as_secs_f64() * 1e6,
            rate
        );
        if benchmarking && (LOOP_HEAVY.contains(&cb.name) || CALL_HEAVY.contains(&cb.name)) {
            let dir =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-modules");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{}.wasm", cb.name)), &m.wasm).unwrap();
        }
    }
    medians.sort();
    let median = medians[medians.len() / 2];
    formatting.sort();
    println!();
    println!(
        "formatting callbacks: median cold transpile {:.2} ms (goal < 2 ms), largest module {} KiB gzipped (goal < 64 KiB)",
        formatting[formatting.len() / 2].0.as_secs_f64() * 1e3,
        formatting.iter().map(|f| f.1).max().unwrap_or(0) / 1024
    );
    println!("ELF parse (once per process): {:.1} ms", ms(parse));
    println!(
        "median callback, cold: {:.1} µs (goal < 200 µs)",
        median.as_secs_f64() * 1e6
    );
    println!(
        "overall: {} bytes of x86 in {:.2} ms = {:.1} MB/s (goal 20 MB/s)",
        total_bytes,
        ms(total_time),
        mb_per_s(total_bytes, total_time)
    );
    let share = |d: Duration| d.as_secs_f64() / total_time.as_secs_f64() * 100.0;
    println!(
        "of which, timed alone on the same work: decoding (iced-x86, with our walk of the code) {:.2} ms = {:.0}%, \
         validating the modules (wasmparser) {:.2} ms = {:.0}%; the rest (cfg, structure, \
         lower, encode) {:.2} ms",
        ms(decode_time),
        share(decode_time),
        ms(validation_time),
        share(validation_time),
        ms(total_time.saturating_sub(decode_time + validation_time))
    );
    at_start(&image, rounds);
    let whole_rounds = if benchmarking { 101 } else { 3 };
    let whole = whole_corpus(&image, whole_rounds);
    rustc_reference(&whole.wasm, whole_rounds);
    if benchmarking {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-modules");
        let manifest: Vec<String> = CALLBACKS
            .iter()
            .filter_map(|c| {
                let group = if LOOP_HEAVY.contains(&c.name) {
                    "loops"
                } else if CALL_HEAVY.contains(&c.name) {
                    "calls"
                } else {
                    return None;
                };
                Some(format!(
                    "{{\"name\":\"{}\",\"signature\":\"{}\",\"group\":\"{group}\"}}",
                    c.name, c.signature
                ))
            })
            .collect();
        std::fs::write(
            dir.join("manifest.json"),
            format!(
                "{{\"state_size\":{STATE_SIZE},\"callbacks\":[{}]}}",
                manifest.join(",")
            ),
        )
        .unwrap();
    }
}

/// The median time of `rounds` runs of `work`, and what the last run made
/// (each result is dropped outside the timed part).
fn median_time<T>(rounds: usize, mut work: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(rounds);
    let mut last = None;
    for _ in 0..rounds {
        let t = Instant::now();
        let made = work();
        times.push(t.elapsed());
        last = Some(made);
    }
    times.sort();
    (times[times.len() / 2], last.expect("at least one round"))
}

/// `d` in milliseconds.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `bytes` of x86 in `d`, in MB/s.
fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

/// The signature of every corpus callback.
fn corpus_signatures() -> Vec<Signature> {
    CALLBACKS
        .iter()
        .map(|c| Signature::parse(c.signature).unwrap())
        .collect()
}

/// Bytes of `wasm` compressed by `gzip -9` (what a server sending it
/// compressed would send).
fn gzipped_size(wasm: &[u8]) -> usize {
    use std::io::Write;
    let mut gzip = std::process::Command::new("gzip")
        .arg("-9c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip runs");
    gzip.stdin.take().unwrap().write_all(wasm).unwrap();
    gzip.wait_with_output().unwrap().stdout.len()
}

/// Every callback as its own module, all of them on every core, as the app
/// does at start (`each_on_cores`, the one function the app calls too),
/// `rounds` times: the wall time of that start.
fn at_start(image: &Image, rounds: usize) {
    let sigs = corpus_signatures();
    let (one, modules) = median_time(rounds, || {
        each_on_cores(&sigs, |sig| {
            transpile(image, std::slice::from_ref(sig)).expect("corpus transpiles")
        })
    });
    let bytes = modules.iter().map(|m| m.code_bytes).sum::<usize>();
    println!(
        "every callback as its own module on {} core(s), as the app starts: {} bytes of x86 \
         in {:.2} ms = {:.1} MB/s",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        bytes,
        ms(one),
        mb_per_s(bytes, one)
    );
}

/// The whole corpus as one module (one export per callback), transpiled
/// `rounds` times: the rate without the per-module fixed cost (wrappers,
/// sections, validator setup); returns the module.
fn whole_corpus(image: &Image, rounds: usize) -> Module {
    let all = corpus_signatures();
    let (one, whole) = median_time(rounds, || {
        transpile(image, &all).expect("corpus transpiles as one module")
    });
    println!(
        "whole corpus as one module: {} bytes of x86 ({} instructions, {} functions) \
         into {} bytes of wasm in {:.2} ms = {:.1} MB/s",
        whole.code_bytes,
        whole.instructions,
        whole.functions.len(),
        whole.wasm.len(),
        ms(one),
        mb_per_s(whole.code_bytes, one)
    );
    whole
}

/// rustc's own wasm32 build of the corpus, as `benches/code_quality.sh`
/// leaves it.
const RUSTC_WASM: &str = "target/wasm-plain/wasm32-unknown-unknown/release/x64wasm_corpus.wasm";

/// The floor for any transpiler of this corpus that validates its output:
/// wasmparser on rustc's own wasm32 build of the same source (code as
/// compact as an optimising compiler makes it, with the standard library
/// parts it pulls in), next to the whole-corpus module, both validated the
/// same way. Skipped, with a hint, until `benches/code_quality.sh` has built
/// that module.
fn rustc_reference(ours: &[u8], rounds: usize) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(RUSTC_WASM);
    let Ok(rustc) = std::fs::read(&path) else {
        println!("(validation of rustc's own wasm32 build: run `bash benches/code_quality.sh` once to build it)");
        return;
    };
    let time = |wasm: &[u8]| median_time(rounds, || validate(wasm).expect("validates")).0;
    let (ours_time, rustc_time) = (time(ours), time(&rustc));
    println!(
        "validating, for reference: the whole-corpus module ({} operators, {} bytes) {:.2} ms; \
         rustc's own wasm32 build of the corpus ({} operators, {} bytes) {:.2} ms",
        operators(ours),
        ours.len(),
        ms(ours_time),
        operators(&rustc),
        rustc.len(),
        ms(rustc_time)
    );
}

/// How many operators the function bodies of `wasm` hold.
fn operators(wasm: &[u8]) -> usize {
    let mut count = 0;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::CodeSectionEntry(body)) = payload {
            let mut reader = body.get_operators_reader().expect("a valid body");
            while !reader.eof() {
                reader.read().expect("a valid operator");
                count += 1;
            }
        }
    }
    count
}
