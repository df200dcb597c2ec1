//! Which functions never return, decided from their code: a function never
//! returns when no path through it reaches a `ret` (or a tail jump to a
//! function that may return): every path ends in `ud2`, `int3`, `hlt`, or a
//! call to a function that itself never returns. Rust's panics are such
//! functions (`core::panicking::panic_fmt`, `slice_index_fail`,
//! `unwrap_failed`, ...), and a call to one becomes a trap in wasm instead
//! of pulling in the formatting code behind it.
//!
//! The analysis errs towards "may return": calls through registers, jump
//! tables and recursion in progress are taken to return, and a function
//! whose exploration grows past [`EXPLORE_MAX`] functions is unknown (then
//! the caller falls back to known names). Saying "may return" of a function
//! that does not only keeps its code in the module; saying "never" of one
//! that does would trap where the CPU goes on, so "never" needs a proof.

use std::collections::{HashMap, HashSet};

use iced_x86::{Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind};

use super::image::{Image, Pointer};

/// What the analysis concluded of a function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Some path reaches a return.
    MayReturn,
    /// No path does: a call to it is a trap.
    Never,
    /// Too large to tell.
    Unknown,
}

/// Functions one analysis may decode before it gives up (for one module).
pub const EXPLORE_MAX: usize = 96;
/// Instructions one function may have for the analysis.
const INSTRUCTIONS_MAX: usize = 20_000;

/// Imported functions that never return (they have no code here to read).
const NORETURN_IMPORTS: &[&str] = &[
    "abort",
    "exit",
    "_exit",
    "_Exit",
    "quick_exit",
    "_Unwind_Resume",
    "__assert_fail",
    "__stack_chk_fail",
    "__cxa_throw",
    "__cxa_rethrow",
    "longjmp",
    "siglongjmp",
    "pthread_exit",
];

/// Whether an imported function never returns.
pub fn import_never_returns(name: &str) -> bool {
    NORETURN_IMPORTS.contains(&name.split('@').next().unwrap_or(name))
}

/// The analysis of one module's functions, remembered across queries.
pub struct Returns<'a> {
    image: &'a Image,
    memo: HashMap<u64, Verdict>,
    in_progress: HashSet<u64>,
    explored: usize,
}

impl<'a> Returns<'a> {
    /// An analysis of functions in `image`.
    pub fn new(image: &'a Image) -> Returns<'a> {
        Returns {
            image,
            memo: HashMap::new(),
            in_progress: HashSet::new(),
            explored: 0,
        }
    }

    /// What the function at `address` does.
    pub fn of(&mut self, address: u64) -> Verdict {
        if let Some(v) = self.memo.get(&address) {
            return *v;
        }
        if self.in_progress.contains(&address) {
            return Verdict::MayReturn; // recursion: assume the base case returns
        }
        if self.explored >= EXPLORE_MAX {
            return Verdict::Unknown;
        }
        self.explored += 1;
        self.in_progress.insert(address);
        let verdict = self.explore(address);
        self.in_progress.remove(&address);
        if verdict != Verdict::Unknown {
            self.memo.insert(address, verdict);
        }
        verdict
    }

    /// Where a direct call or jump to `target` goes: the function there, or
    /// an import's verdict.
    fn callee(&mut self, target: u64) -> Verdict {
        if let Some(name) = self.image.import_at(target) {
            return import_verdict(name);
        }
        if let Some(name) = self.plt_import(target) {
            return import_verdict(&name);
        }
        if self.image.is_code(target) {
            self.of(target)
        } else {
            Verdict::MayReturn
        }
    }

    /// The import a PLT stub at `stub` jumps to, if it is one.
    fn plt_import(&self, stub: u64) -> Option<String> {
        let section = self.image.section_at(stub)?;
        if !section.name.starts_with(".plt") {
            return None;
        }
        let bytes = self.image.bytes_from(stub)?;
        let mut decoder = Decoder::with_ip(64, bytes, stub, DecoderOptions::NONE);
        for _ in 0..4 {
            let i = decoder.decode();
            if i.mnemonic() == Mnemonic::Jmp && i.is_ip_rel_memory_operand() {
                return match self.image.pointer_at(i.ip_rel_memory_address()) {
                    Some(Pointer::Import(name)) => Some(name.clone()),
                    _ => None,
                };
            }
        }
        None
    }

    /// Walks every path of the function at `address`.
    fn explore(&mut self, address: u64) -> Verdict {
        let end = self
            .image
            .function_at(address)
            .filter(|s| s.size > 0)
            .map(|s| s.address + s.size);
        let inside = |image: &Image, target: u64| {
            target == address
                || (image.function_at(target).is_none()
                    && match end {
                        Some(end) => target > address && target < end,
                        None => image.is_code(target),
                    })
        };
        let mut seen: HashSet<u64> = HashSet::new();
        let mut work = vec![address];
        let mut unknown = false;
        let mut instructions = 0;
        let mut ins = Instruction::default();
        while let Some(start) = work.pop() {
            let Some(bytes) = self.image.bytes_from(start) else {
                return Verdict::Unknown;
            };
            let mut decoder = Decoder::with_ip(64, bytes, start, DecoderOptions::NONE);
            loop {
                let ip = decoder.ip();
                if !seen.insert(ip) {
                    break;
                }
                instructions += 1;
                if instructions > INSTRUCTIONS_MAX || !decoder.can_decode() {
                    return Verdict::Unknown;
                }
                decoder.decode_out(&mut ins);
                if ins.is_invalid() {
                    return Verdict::Unknown;
                }
                let direct = ins.op0_kind() == OpKind::NearBranch64;
                match ins.flow_control() {
                    FlowControl::Next => {}
                    FlowControl::Return => return Verdict::MayReturn,
                    FlowControl::Exception | FlowControl::Interrupt => break, // ud2, int3
                    FlowControl::Call if direct => match self.callee(ins.near_branch_target()) {
                        Verdict::Never => break,
                        Verdict::Unknown => unknown = true,
                        Verdict::MayReturn => {}
                    },
                    FlowControl::Call | FlowControl::IndirectCall => {
                        // through a register or memory: taken to return
                    }
                    FlowControl::ConditionalBranch | FlowControl::UnconditionalBranch if direct => {
                        let target = ins.near_branch_target();
                        if inside(self.image, target) {
                            work.push(target);
                        } else {
                            match self.callee(target) {
                                Verdict::MayReturn => return Verdict::MayReturn,
                                Verdict::Unknown => unknown = true,
                                Verdict::Never => {}
                            }
                        }
                        if ins.flow_control() == FlowControl::UnconditionalBranch {
                            break;
                        }
                    }
                    // An indirect jump (a jump table, a tail call through a
                    // register): taken to return.
                    _ => return Verdict::MayReturn,
                }
                if ins.mnemonic() == Mnemonic::Hlt {
                    break;
                }
            }
        }
        if unknown {
            Verdict::Unknown
        } else {
            Verdict::Never
        }
    }
}

fn import_verdict(name: &str) -> Verdict {
    if import_never_returns(name) {
        Verdict::Never
    } else {
        Verdict::MayReturn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image of `functions` (name, address, code) in one code section.
    fn image(functions: &[(&str, u64, &[u8])]) -> Image {
        let base = functions[0].1;
        let end = functions
            .iter()
            .map(|(_, a, c)| a + c.len() as u64)
            .max()
            .unwrap();
        let mut code = vec![0xcc; (end - base) as usize];
        for (_, a, c) in functions {
            let at = (a - base) as usize;
            code[at..at + c.len()].copy_from_slice(c);
        }
        let symbols: Vec<(&str, u64, u64)> = functions
            .iter()
            .map(|(n, a, c)| (*n, *a, c.len() as u64))
            .collect();
        Image::from_code(base, &code, &symbols)
    }

    #[test]
    fn never_returning_is_proven_from_the_code() {
        // panic: ud2. fail: call panic; (nothing after). shared: the ud2 two
        // calls share (`call fail; jmp .ud2`). ok: ret. maybe: jne to ret.
        // loop_forever: jmp to itself. calls_ok: call ok; ud2.
        // tail_to_ok: jmp ok. recurse: call recurse; ret (recursion returns).
        let img = image(&[
            ("panic", 0x1000, &[0x0f, 0x0b]),
            ("fail", 0x1010, &[0xe8, 0xeb, 0xff, 0xff, 0xff]), // call 0x1000
            (
                "shared",
                0x1020,
                &[
                    0x85, 0xff, // test edi, edi
                    0x74, 0x07, // je +7 -> 0x102b
                    0xe8, 0xe7, 0xff, 0xff, 0xff, // call 0x1010
                    0xeb, 0x05, // jmp 0x1030
                    0xe8, 0xe0, 0xff, 0xff, 0xff, // 102b: call 0x1010
                    0x0f, 0x0b, // 1030: ud2
                ],
            ),
            ("ok", 0x1040, &[0xc3]),
            ("maybe", 0x1050, &[0x85, 0xff, 0x75, 0x02, 0x0f, 0x0b, 0xc3]),
            ("loop_forever", 0x1060, &[0xeb, 0xfe]),
            (
                "calls_ok",
                0x1070,
                &[0xe8, 0xcb, 0xff, 0xff, 0xff, 0x0f, 0x0b],
            ),
            ("tail_to_ok", 0x1080, &[0xe9, 0xbb, 0xff, 0xff, 0xff]),
            ("recurse", 0x1090, &[0xe8, 0xfb, 0xff, 0xff, 0xff, 0xc3]),
        ]);
        let mut returns = Returns::new(&img);
        // (function, verdict)
        let cases = [
            ("panic", Verdict::Never),
            ("fail", Verdict::Never),
            ("shared", Verdict::Never),
            ("ok", Verdict::MayReturn),
            ("maybe", Verdict::MayReturn),
            ("loop_forever", Verdict::Never),
            ("calls_ok", Verdict::Never),
            ("tail_to_ok", Verdict::MayReturn),
            ("recurse", Verdict::MayReturn),
        ];
        for (name, want) in cases {
            let address = img.symbol(name).unwrap().address;
            assert_eq!(returns.of(address), want, "{name}");
        }
    }

    #[test]
    fn imports_that_never_return_are_known_by_name() {
        for (name, never) in [
            ("abort", true),
            ("_Unwind_Resume@GCC_3.0", true),
            ("__stack_chk_fail", true),
            ("memcpy", false),
            ("write", false),
        ] {
            assert_eq!(import_never_returns(name), never, "{name}");
        }
    }
}
