//! The `x64wasm` command line. Only argument handling lives here.

// The demo callbacks live in the binary, not the library, so a user's app
// linking the library can use the same callback names.
mod demo;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use x64wasm_transpile::{transpile, Image, Signature};

/// mimalloc instead of glibc's malloc: a transpile makes over a hundred small
/// allocations per module, and this allocator makes it about 1.1x faster
/// (`cargo bench --bench transpile`, which uses it too).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HELP: &str = "\
x64wasm: a Rust app whose UI callbacks run in the browser, transpiled at run
time from the app's own x86-64 machine code to WebAssembly.

USAGE:
    x64wasm [OPTIONS]        the demo app: a desktop window, and a web server
                             for any number of browsers (all views in sync)
    x64wasm transpile --binary ELF --export 'SIG' [--export 'SIG' ...] [-o OUT.wasm] [--wat]
    x64wasm --version

OPTIONS:
";

const TRANSPILE_HELP: &str = "\
TRANSPILE:
    --binary ELF     the x86-64 executable or shared library to read (`self`
                     for this executable; an object file from gcc -c is not
                     linked yet: link it, e.g. gcc -shared -fPIC)
    --export SIG     a function to export, as NAME(T,...)->R with
                     T in ptr i8 u8 i16 u16 i32 u32 i64 u64 f32 f64 bool text
                     (text: UTF-8 as address and length, two wasm i32),
                     R the same but text, or void;
                     repeat for more functions (they share one module)
    -o, --output F   write the module (or the text with --wat) to F
    --wat            print the module as WebAssembly text instead of binary,
                     with byte offsets and each function's x86 name (a
                     browser names a trap `wasm-function[N]:0xOFFSET`)

    Without -o, text goes to standard output; binary goes to standard output
    only when it is not a terminal.

EXAMPLES:
    x64wasm                            window + server on http://127.0.0.1:8080/
    x64wasm --headless --port 0        server only, on any free port
    x64wasm transpile --binary self --export 'add_step_clamped(ptr,i32,i32)->i64' --wat
";

fn help() -> String {
    format!(
        "{HELP}{}    -V, --version    the version\n\n{TRANSPILE_HELP}",
        x64wasm::app::OPTIONS_HELP
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("-h" | "--help" | "help") => {
            print!("{}", help());
            ExitCode::SUCCESS
        }
        Some("-V" | "--version") => {
            println!("x64wasm {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("transpile") if args[1..].iter().any(|a| a == "-h" || a == "--help") => {
            print!("USAGE:\n    x64wasm transpile --binary ELF --export 'SIG' [--export 'SIG' ...] [-o OUT.wasm] [--wat]\n\n{TRANSPILE_HELP}");
            ExitCode::SUCCESS
        }
        Some("transpile") => match run_transpile(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::FAILURE
            }
        },
        Some(command) if !command.starts_with('-') => {
            eprintln!("error: unknown command `{command}`; see `x64wasm --help`");
            ExitCode::from(2)
        }
        _ => {
            let env_port = std::env::var("RUN_AS_HTTP_SERVER").ok();
            match x64wasm::Options::parse(&args, env_port.as_deref()) {
                Ok(options) => demo::app().run_with(&options),
                Err(message) => {
                    eprintln!("error: {message}; see `x64wasm --help`");
                    ExitCode::from(2)
                }
            }
        }
    }
}

struct TranspileArgs {
    binary: PathBuf,
    exports: Vec<Signature>,
    output: Option<PathBuf>,
    wat: bool,
}

fn parse_transpile(args: &[String]) -> Result<TranspileArgs, String> {
    let mut binary = None;
    let mut exports = Vec::new();
    let mut output = None;
    let mut wat = false;
    let mut flags = x64wasm::app::Flags::new(args);
    while let Some(flag) = flags.next_flag() {
        let mut value = |name: &str| {
            flags
                .value(name)
                .map_err(|e| format!("{e}; see `x64wasm --help`"))
        };
        match flag {
            "--binary" => binary = Some(PathBuf::from(value("--binary")?)),
            "--export" => {
                exports.push(Signature::parse(&value("--export")?).map_err(|e| e.to_string())?)
            }
            "-o" | "--output" => output = Some(PathBuf::from(value("--output")?)),
            "--wat" => wat = true,
            other => return Err(format!("unknown argument `{other}`; see `x64wasm --help`")),
        }
    }
    let binary = binary.ok_or("--binary ELF is required")?;
    if exports.is_empty() {
        return Err("at least one --export 'NAME(T,...)->R' is required".into());
    }
    Ok(TranspileArgs {
        binary,
        exports,
        output,
        wat,
    })
}

fn run_transpile(args: &[String]) -> Result<(), String> {
    let args = parse_transpile(args)?;
    let image = if args.binary.as_os_str() == "self" {
        x64wasm::process::running_image()
    } else {
        // the libc and libm functions it calls, as the loader would find
        // them on this machine
        Image::from_file(&args.binary).and_then(|mut image| {
            x64wasm_transpile::link(&mut image)?;
            Ok(image)
        })
    }
    .map_err(|e| format!("{}: {e}", args.binary.display()))?;
    let started = std::time::Instant::now();
    let module = transpile(&image, &args.exports).map_err(|e| e.to_string())?;
    let bytes = if args.wat {
        // Byte offsets and the x86 function behind each wasm function, so a
        // trap a browser reports as `wasm-function[N]:0xOFFSET` can be found.
        let mut text: String = module
            .functions
            .iter()
            .enumerate()
            .map(|(k, name)| format!(";; function {k}: {name}\n"))
            .collect();
        wasmprinter::Config::new()
            .print_offsets(true)
            .print(&module.wasm, &mut wasmprinter::PrintFmtWrite(&mut text))
            .map_err(|e| format!("printing wat: {e}"))?;
        text.push('\n');
        text.into_bytes()
    } else {
        module.wasm.clone()
    };
    let summary = format!(
        "transpiled {} function(s), {} instructions ({} bytes of x86) into {} bytes of wasm in {:.1?}",
        module.functions.len(),
        module.instructions,
        module.code_bytes,
        module.wasm.len(),
        started.elapsed()
    );
    for (address, name) in &module.variables {
        eprintln!("note: uses static data `{name}` at {address:#x} (the module starts from its initial value)");
    }
    for (function, why) in &module.unavailable {
        eprintln!("note: a call through a pointer to `{function}` traps: {why}");
    }
    for (at, what) in &module.unreadable {
        eprintln!(
            "note: the path through {at} reads {what}; the module has no copy of it, so that \
             path traps"
        );
    }
    match &args.output {
        Some(path) => {
            std::fs::write(path, &bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
            eprintln!("{summary}: {}", path.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            if !args.wat && out.is_terminal() {
                return Err(
                    "refusing to write binary wasm to a terminal; use -o FILE or --wat".into(),
                );
            }
            out.write_all(&bytes)
                .map_err(|e| format!("writing output: {e}"))?;
            eprintln!("{summary}");
        }
    }
    Ok(())
}
