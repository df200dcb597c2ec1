//! CPU-differential instruction tests: every supported integer instruction
//! form, at every operand size, run natively and as transpiled wasm on the same
//! inputs (edge values and random ones); every general register, every defined
//! flag, rsp and the touched memory must match.
//!
//! The instruction forms are generated from iced-x86's opcode tables (every
//! `Code` of a supported mnemonic valid in 64-bit mode), built with iced's
//! assembler and wrapped in a snippet that loads all registers and RFLAGS from
//! a fixed data area, runs the instruction and stores them back. The same
//! snippet bytes run natively and, transpiled, in wasmi.

mod support;

use iced_x86::code_asm::{cl, dl, eax, ebx, ecx, edi, edx, ptr, r10d, r11d, r8d, r9d};
use iced_x86::code_asm::{
    dword_ptr, qword_ptr, xmmword_ptr, AsmRegisterXmm, AsmRegisterYmm, CodeAssembler, CodeLabel,
    IcedError,
};
use iced_x86::code_asm::{
    r10, r11, r12, r13, r14, r15, r8, r9, rax, rbp, rbx, rcx, rdi, rdx, rsi, rsp, AsmRegister64,
};
use iced_x86::code_asm::{
    xmm0, xmm1, xmm10, xmm11, xmm12, xmm13, xmm14, xmm15, xmm2, xmm3, xmm4, xmm5, xmm6, xmm7, xmm8,
    xmm9,
};
use iced_x86::code_asm::{
    ymm0, ymm1, ymm10, ymm11, ymm12, ymm13, ymm14, ymm15, ymm2, ymm3, ymm4, ymm5, ymm6, ymm7, ymm8,
    ymm9,
};
use iced_x86::{
    Code, EncodingKind, Instruction, MemoryOperand, Mnemonic, OpCodeOperandKind as K, Register,
    RflagsBits,
};
use support::*;
use x64wasm_transpile::{transpile, Image, Signature};

const XMMS: [AsmRegisterXmm; 16] = [
    xmm0, xmm1, xmm2, xmm3, xmm4, xmm5, xmm6, xmm7, xmm8, xmm9, xmm10, xmm11, xmm12, xmm13, xmm14,
    xmm15,
];
const YMMS: [AsmRegisterYmm; 16] = [
    ymm0, ymm1, ymm2, ymm3, ymm4, ymm5, ymm6, ymm7, ymm8, ymm9, ymm10, ymm11, ymm12, ymm13, ymm14,
    ymm15,
];
const GPRS: [AsmRegister64; 16] = [
    rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15,
];

/// x86 RFLAGS bits we compare (CF PF ZF SF OF); AF is not modelled.
const CF: u64 = 1;
const PF: u64 = 4;
const ZF: u64 = 0x40;
const SF: u64 = 0x80;
const OF: u64 = 0x800;
const STATUS: u64 = CF | PF | ZF | SF | OF;

/// RFLAGS bits of iced's flag set.
fn x86_flags(iced: u32) -> u64 {
    let mut f = 0;
    for (i, x) in [
        (RflagsBits::CF, CF),
        (RflagsBits::PF, PF),
        (RflagsBits::ZF, ZF),
        (RflagsBits::SF, SF),
        (RflagsBits::OF, OF),
    ] {
        if iced & i != 0 {
            f |= x;
        }
    }
    f
}

/// Wraps `body` in the load-all / store-all snippet.
fn snippet(body: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    snippet_with(XmmAccess::Full, body)
}

/// How the snippet loads and stores the XMM registers: whole registers
/// (and the YMM registers' bits 255:128 too: `Wide`), or only lane 0 as a
/// double or single (so the transpiler may keep them in f64/f32 locals:
/// their upper lanes are dead).
#[derive(Clone, Copy, PartialEq)]
enum XmmAccess {
    Full,
    Wide,
    Double,
    Single,
}

fn snippet_with(
    access: XmmAccess,
    body: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
) -> Vec<u8> {
    let mut a = CodeAssembler::new(64).unwrap();
    for r in [rbx, rbp, r12, r13, r14, r15] {
        a.push(r).unwrap();
    }
    a.mov(qword_ptr(SAVE_RSP), rsp).unwrap();
    a.push(qword_ptr(IN_FLAGS)).unwrap();
    a.popfq().unwrap();
    for (i, r) in GPRS.iter().enumerate() {
        if i != 4 {
            a.mov(*r, qword_ptr(IN + 8 * i as u64)).unwrap();
        }
    }
    for (i, x) in XMMS.iter().enumerate() {
        let at = IN_XMM + 16 * i as u64;
        match access {
            XmmAccess::Full => a.movdqu(*x, xmmword_ptr(at)).unwrap(),
            XmmAccess::Wide => {
                a.movdqu(*x, xmmword_ptr(at)).unwrap();
                let y = YMMS[i];
                a.vinserti128(y, y, xmmword_ptr(IN_HIGH + 16 * i as u64), 1)
                    .unwrap();
            }
            XmmAccess::Double => a.movsd_2(*x, qword_ptr(at)).unwrap(),
            XmmAccess::Single => a.movss(*x, dword_ptr(at)).unwrap(),
        }
    }
    body(&mut a).unwrap();
    for (i, x) in XMMS.iter().enumerate() {
        let at = OUT_XMM + 16 * i as u64;
        match access {
            XmmAccess::Full => a.movdqu(xmmword_ptr(at), *x).unwrap(),
            XmmAccess::Wide => {
                a.movdqu(xmmword_ptr(at), *x).unwrap();
                a.vextracti128(xmmword_ptr(OUT_HIGH + 16 * i as u64), YMMS[i], 1)
                    .unwrap();
            }
            XmmAccess::Double => a.movsd_2(qword_ptr(at), *x).unwrap(),
            XmmAccess::Single => a.movss(dword_ptr(at), *x).unwrap(),
        }
    }
    a.mov(qword_ptr(OUT_RSP), rsp).unwrap();
    for (i, r) in GPRS.iter().enumerate() {
        if i != 4 {
            a.mov(qword_ptr(OUT + 8 * i as u64), *r).unwrap();
        }
    }
    // back on our own stack before pushing: the tested code may have moved rsp
    a.mov(rsp, qword_ptr(SAVE_RSP)).unwrap();
    a.pushfq().unwrap();
    a.pop(qword_ptr(OUT_FLAGS)).unwrap();
    for r in [r15, r14, r13, r12, rbp, rbx] {
        a.pop(r).unwrap();
    }
    a.ret().unwrap();
    a.assemble(CODE).unwrap()
}

/// The snippet transpiled: an image of the code at CODE plus the data area.
fn transpile_snippet(code: &[u8]) -> Result<Vec<u8>, String> {
    let mut image = Image::from_code(CODE, code, &[("snippet", CODE, code.len() as u64)]);
    image.add_data(".data", DATA, vec![0; DATA_SIZE]);
    let sig = Signature::parse("snippet()->void").unwrap();
    transpile(&image, &[sig])
        .map(|m| m.wasm)
        .map_err(|e| e.to_string())
}

#[derive(Clone)]
struct Case {
    regs: [u64; 16],
    xmm: Vec<u8>,
    flags: u64,
    scratch: Vec<u8>,
}

#[derive(Debug, PartialEq)]
struct Outcome {
    regs: [u64; 16],
    xmm: Vec<u8>,
    flags: u64,
    rsp: i64,
    scratch: Vec<u8>,
}

fn load(data: &mut [u8], case: &Case) {
    for i in 0..16 {
        write_u64(data, (IN - DATA) as usize + 8 * i, case.regs[i]);
    }
    write_u64(data, (IN_FLAGS - DATA) as usize, case.flags);
    let x = (IN_XMM - DATA) as usize;
    data[x..x + 256].copy_from_slice(&case.xmm[..256]);
    let h = (IN_HIGH - DATA) as usize;
    data[h..h + 256].copy_from_slice(&case.xmm[256..]);
    let o = (OUT_HIGH - DATA) as usize;
    data[o..o + 256].fill(0);
    // lane-0 stores leave the rest of OUT_XMM as it was: start it at zero
    let o = (OUT_XMM - DATA) as usize;
    data[o..o + 256].fill(0);
    let s = (SCRATCH - DATA) as usize;
    data[s..s + SCRATCH_SIZE].copy_from_slice(&case.scratch);
}

fn outcome(data: &[u8], absolute_rsp: bool) -> Outcome {
    let mut regs = [0; 16];
    for (i, r) in regs.iter_mut().enumerate() {
        *r = read_u64(data, (OUT - DATA) as usize + 8 * i);
    }
    regs[4] = 0;
    let out_rsp = read_u64(data, (OUT_RSP - DATA) as usize);
    let rsp_value = if absolute_rsp {
        out_rsp as i64
    } else {
        out_rsp.wrapping_sub(read_u64(data, (SAVE_RSP - DATA) as usize)) as i64
    };
    let s = (SCRATCH - DATA) as usize;
    let x = (OUT_XMM - DATA) as usize;
    let h = (OUT_HIGH - DATA) as usize;
    Outcome {
        regs,
        xmm: [&data[x..x + 256], &data[h..h + 256]].concat(),
        flags: read_u64(data, (OUT_FLAGS - DATA) as usize),
        rsp: rsp_value,
        scratch: data[s..s + SCRATCH_SIZE].to_vec(),
    }
}

/// Runs one case both ways; the mismatch, if any, as text.
fn compare(
    code: &[u8],
    wasm: &mut Wasm,
    case: &Case,
    flag_mask: u64,
    absolute_rsp: bool,
) -> Option<String> {
    let native = {
        let _guard = native_lock();
        let data = native_data();
        load(data, case);
        run_native(code);
        outcome(data, absolute_rsp)
    };
    let base = DATA as usize;
    load(&mut wasm.mem()[base..base + DATA_SIZE], case);
    if let Err(trap) = wasm.call("snippet", &[]) {
        return Some(format!("wasm trapped: {trap}"));
    }
    let w = outcome(&wasm.mem()[base..base + DATA_SIZE], absolute_rsp);
    let mut diffs = Vec::new();
    for (i, name) in GPR_NAMES.iter().enumerate() {
        if native.regs[i] != w.regs[i] {
            diffs.push(format!(
                "{}: native {:#x} wasm {:#x}",
                name, native.regs[i], w.regs[i]
            ));
        }
    }
    if native.flags & flag_mask != w.flags & flag_mask {
        diffs.push(format!(
            "flags (mask {flag_mask:#x}): native {:#x} wasm {:#x}",
            native.flags & flag_mask,
            w.flags & flag_mask
        ));
    }
    if let Some(at) = (0..512).find(|&i| native.xmm[i] != w.xmm[i]) {
        let r = at / 16;
        let name = if r < 16 {
            format!("xmm{r}")
        } else {
            format!("ymm{} bits 255:128", r - 16)
        };
        diffs.push(format!(
            "{name}: native {:02x?} wasm {:02x?}",
            &native.xmm[16 * r..16 * r + 16],
            &w.xmm[16 * r..16 * r + 16]
        ));
    }
    if native.rsp != w.rsp {
        diffs.push(format!("rsp: native {:#x} wasm {:#x}", native.rsp, w.rsp));
    }
    if let Some(at) = (0..SCRATCH_SIZE).find(|&i| native.scratch[i] != w.scratch[i]) {
        diffs.push(format!(
            "memory at {:#x}: native {:#x} wasm {:#x}",
            SCRATCH + at as u64,
            native.scratch[at],
            w.scratch[at]
        ));
    }
    if diffs.is_empty() {
        return None;
    }
    let inputs: Vec<String> = (0..16)
        .filter(|&i| i != 4)
        .map(|i| format!("{}={:#x}", GPR_NAMES[i], case.regs[i]))
        .collect();
    // the XMM inputs as two quadwords each (bits 127:0)
    let xmm_inputs: Vec<String> = (0..16)
        .map(|r| {
            let quadword = |k: usize| read_u64(&case.xmm, 16 * r + 8 * k);
            format!("xmm{r}={:#x},{:#x}", quadword(0), quadword(1))
        })
        .collect();
    Some(format!(
        "{} | inputs {} flags={:#x} {}",
        diffs.join("; "),
        inputs.join(" "),
        case.flags,
        xmm_inputs.join(" ")
    ))
}

const GPR_NAMES: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];

// ------------------------------------------------------------------ forms

/// The mnemonics the transpiler implements, tested form by form.
const MNEMONICS: &[Mnemonic] = {
    use Mnemonic as M;
    &[
        M::Mov,
        M::Movzx,
        M::Movsx,
        M::Movsxd,
        M::Lea,
        M::Xchg,
        M::Add,
        M::Sub,
        M::Adc,
        M::Sbb,
        M::Cmp,
        M::And,
        M::Or,
        M::Xor,
        M::Test,
        M::Inc,
        M::Dec,
        M::Neg,
        M::Not,
        M::Imul,
        M::Mul,
        M::Div,
        M::Idiv,
        M::Shl,
        M::Sal,
        M::Shr,
        M::Sar,
        M::Rol,
        M::Ror,
        M::Shld,
        M::Shrd,
        M::Bt,
        M::Bts,
        M::Btr,
        M::Btc,
        M::Bsf,
        M::Bsr,
        M::Tzcnt,
        M::Lzcnt,
        M::Popcnt,
        M::Bswap,
        M::Cbw,
        M::Cwde,
        M::Cdqe,
        M::Cwd,
        M::Cdq,
        M::Cqo,
        M::Push,
        M::Pop,
        M::Leave,
        M::Clc,
        M::Stc,
        M::Cmc,
        M::Nop,
        M::Seto,
        M::Setno,
        M::Setb,
        M::Setae,
        M::Sete,
        M::Setne,
        M::Setbe,
        M::Seta,
        M::Sets,
        M::Setns,
        M::Setp,
        M::Setnp,
        M::Setl,
        M::Setge,
        M::Setle,
        M::Setg,
        M::Cmovo,
        M::Cmovno,
        M::Cmovb,
        M::Cmovae,
        M::Cmove,
        M::Cmovne,
        M::Cmovbe,
        M::Cmova,
        M::Cmovs,
        M::Cmovns,
        M::Cmovp,
        M::Cmovnp,
        M::Cmovl,
        M::Cmovge,
        M::Cmovle,
        M::Cmovg,
        M::Endbr64,
        M::Xadd,
        M::Cmpxchg,
        M::Rcl,
        M::Rcr,
        M::Movbe,
        M::Crc32,
        M::Cmpxchg16b,
    ]
};

/// The SSE2 integer and move mnemonics the transpiler implements.
const SSE_MNEMONICS: &[Mnemonic] = {
    use Mnemonic as M;
    &[
        M::Movdqa,
        M::Movdqu,
        M::Movaps,
        M::Movups,
        M::Movapd,
        M::Movupd,
        M::Movd,
        M::Movq,
        M::Movss,
        M::Movsd,
        M::Movlps,
        M::Movlpd,
        M::Movhps,
        M::Movhpd,
        M::Movhlps,
        M::Movlhps,
        M::Pxor,
        M::Xorps,
        M::Xorpd,
        M::Por,
        M::Orps,
        M::Orpd,
        M::Pand,
        M::Andps,
        M::Andpd,
        M::Pandn,
        M::Andnps,
        M::Andnpd,
        M::Paddb,
        M::Paddw,
        M::Paddd,
        M::Paddq,
        M::Psubb,
        M::Psubw,
        M::Psubd,
        M::Psubq,
        M::Paddsb,
        M::Paddsw,
        M::Paddusb,
        M::Paddusw,
        M::Psubsb,
        M::Psubsw,
        M::Psubusb,
        M::Psubusw,
        M::Pcmpeqb,
        M::Pcmpeqw,
        M::Pcmpeqd,
        M::Pcmpgtb,
        M::Pcmpgtw,
        M::Pcmpgtd,
        M::Pminub,
        M::Pmaxub,
        M::Pminsw,
        M::Pmaxsw,
        M::Pavgb,
        M::Pavgw,
        M::Pmullw,
        M::Pmaddwd,
        M::Packsswb,
        M::Packssdw,
        M::Packuswb,
        M::Pmulhw,
        M::Pmulhuw,
        M::Pmuludq,
        M::Psadbw,
        M::Punpcklbw,
        M::Punpcklwd,
        M::Punpckldq,
        M::Punpcklqdq,
        M::Punpckhbw,
        M::Punpckhwd,
        M::Punpckhdq,
        M::Punpckhqdq,
        M::Unpcklps,
        M::Unpckhps,
        M::Unpcklpd,
        M::Unpckhpd,
        M::Pshufd,
        M::Pshuflw,
        M::Pshufhw,
        M::Shufps,
        M::Shufpd,
        M::Pslldq,
        M::Psrldq,
        M::Psllw,
        M::Pslld,
        M::Psllq,
        M::Psrlw,
        M::Psrld,
        M::Psrlq,
        M::Psraw,
        M::Psrad,
        M::Pmovmskb,
        M::Movmskps,
        M::Movmskpd,
        M::Pextrw,
        M::Pinsrw,
    ]
};

/// SSE3, SSSE3, SSE4.1 and SSE4.2's integer, shuffle, blend and
/// insert/extract instructions (x86-64-v2).
const SSE4_MNEMONICS: &[Mnemonic] = {
    use Mnemonic as M;
    &[
        M::Pshufb,
        M::Pabsb,
        M::Pabsw,
        M::Pabsd,
        M::Pminsb,
        M::Pmaxsb,
        M::Pminuw,
        M::Pmaxuw,
        M::Pminsd,
        M::Pmaxsd,
        M::Pminud,
        M::Pmaxud,
        M::Pmulld,
        M::Pmuldq,
        M::Pcmpeqq,
        M::Pcmpgtq,
        M::Packusdw,
        M::Palignr,
        M::Pmaddubsw,
        M::Pmulhrsw,
        M::Psignb,
        M::Psignw,
        M::Psignd,
        M::Phaddw,
        M::Phaddd,
        M::Phaddsw,
        M::Phsubw,
        M::Phsubd,
        M::Phsubsw,
        M::Pmovsxbw,
        M::Pmovsxbd,
        M::Pmovsxbq,
        M::Pmovsxwd,
        M::Pmovsxwq,
        M::Pmovsxdq,
        M::Pmovzxbw,
        M::Pmovzxbd,
        M::Pmovzxbq,
        M::Pmovzxwd,
        M::Pmovzxwq,
        M::Pmovzxdq,
        M::Pblendvb,
        M::Blendvps,
        M::Blendvpd,
        M::Pblendw,
        M::Blendps,
        M::Blendpd,
        M::Ptest,
        M::Pinsrb,
        M::Pinsrd,
        M::Pinsrq,
        M::Pextrb,
        M::Pextrd,
        M::Pextrq,
        M::Extractps,
        M::Movddup,
        M::Movshdup,
        M::Movsldup,
        M::Insertps,
        M::Phminposuw,
        M::Mpsadbw,
        M::Pcmpestri,
        M::Pcmpestri64,
        M::Pcmpestrm,
        M::Pcmpestrm64,
        M::Pcmpistri,
        M::Pcmpistrm,
    ]
};

/// BMI1 and BMI2 (VEX-encoded general-register instructions).
const BMI_MNEMONICS: &[Mnemonic] = {
    use Mnemonic as M;
    &[
        M::Andn,
        M::Bextr,
        M::Blsi,
        M::Blsmsk,
        M::Blsr,
        M::Bzhi,
        M::Mulx,
        M::Pdep,
        M::Pext,
        M::Rorx,
        M::Sarx,
        M::Shlx,
        M::Shrx,
    ]
};

/// AVX's and AVX2's own instructions (no legacy SSE form).
const AVX_MNEMONICS: &[Mnemonic] = {
    use Mnemonic as M;
    &[
        M::Vzeroupper,
        M::Vzeroall,
        M::Vinsertf128,
        M::Vinserti128,
        M::Vextractf128,
        M::Vextracti128,
        M::Vbroadcastss,
        M::Vbroadcastsd,
        M::Vbroadcastf128,
        M::Vbroadcasti128,
        M::Vpbroadcastb,
        M::Vpbroadcastw,
        M::Vpbroadcastd,
        M::Vpbroadcastq,
        M::Vperm2f128,
        M::Vperm2i128,
        M::Vpermq,
        M::Vpermpd,
        M::Vpblendvb,
        M::Vblendvps,
        M::Vblendvpd,
        M::Vpblendd,
        M::Vpermd,
        M::Vpermps,
        M::Vpsllvd,
        M::Vpsllvq,
        M::Vpsrlvd,
        M::Vpsrlvq,
        M::Vpsravd,
        M::Vpermilps,
        M::Vpermilpd,
        M::Vcvtph2ps,
        M::Vcvtps2ph,
        M::Vmaskmovps,
        M::Vmaskmovpd,
        M::Vpmaskmovd,
        M::Vpmaskmovq,
    ]
};

/// Scalar floating-point mnemonics.
const FLOAT_MNEMONICS: &[Mnemonic] = {
    use Mnemonic as M;
    &[
        M::Addsd,
        M::Subsd,
        M::Mulsd,
        M::Divsd,
        M::Addss,
        M::Subss,
        M::Mulss,
        M::Divss,
        M::Sqrtsd,
        M::Sqrtss,
        M::Minsd,
        M::Maxsd,
        M::Minss,
        M::Maxss,
        M::Cvtsi2sd,
        M::Cvtsi2ss,
        M::Cvttsd2si,
        M::Cvttss2si,
        M::Cvtsd2si,
        M::Cvtss2si,
        M::Cvtss2sd,
        M::Cvtsd2ss,
        M::Ucomisd,
        M::Comisd,
        M::Ucomiss,
        M::Comiss,
        M::Cmpsd,
        M::Cmpss,
        M::Addps,
        M::Subps,
        M::Mulps,
        M::Divps,
        M::Addpd,
        M::Subpd,
        M::Mulpd,
        M::Divpd,
        M::Haddps,
        M::Hsubps,
        M::Haddpd,
        M::Hsubpd,
        M::Addsubps,
        M::Addsubpd,
        M::Dpps,
        M::Dppd,
        M::Sqrtps,
        M::Sqrtpd,
        M::Minps,
        M::Maxps,
        M::Minpd,
        M::Maxpd,
        M::Cvtdq2ps,
        M::Cvtdq2pd,
        M::Cvttps2dq,
        M::Cvttpd2dq,
        M::Cmpps,
        M::Cmppd,
        M::Cvtps2pd,
        M::Cvtpd2ps,
        M::Cvtps2dq,
        M::Cvtpd2dq,
        M::Roundsd,
        M::Roundss,
        M::Roundpd,
        M::Roundps,
    ]
};

fn is_float(m: Mnemonic) -> bool {
    FLOAT_MNEMONICS.contains(&base(m)) || is_fma(m) || m == Mnemonic::Vcvtps2ph
}

/// FMA's mnemonics (`vfmadd132sd`, `vfnmsub231ps`, `vfmaddsub213pd`, ...),
/// by name.
fn is_fma(m: Mnemonic) -> bool {
    let name = format!("{m:?}").to_ascii_lowercase();
    let Some(rest) = name.strip_prefix("vf") else {
        return false;
    };
    ["maddsub", "msubadd", "nmadd", "nmsub", "madd", "msub"]
        .iter()
        .filter_map(|kind| rest.strip_prefix(kind))
        .any(|r| {
            ["132", "213", "231"].iter().any(|order| {
                r.strip_prefix(order)
                    .is_some_and(|t| ["sd", "ss", "pd", "ps"].contains(&t))
            })
        })
}

fn is_sse(m: Mnemonic) -> bool {
    SSE_MNEMONICS.contains(&base(m))
        || SSE4_MNEMONICS.contains(&base(m))
        || is_float(m)
        || AVX_MNEMONICS.contains(&m)
}

/// The SSE mnemonic a VEX mnemonic extends (`Vaddsd` → `Addsd`), by name;
/// any other mnemonic itself.
fn base(m: Mnemonic) -> Mnemonic {
    let name = format!("{m:?}");
    let Some(rest) = name.strip_prefix('V') else {
        return m;
    };
    SSE_MNEMONICS
        .iter()
        .chain(SSE4_MNEMONICS)
        .chain(FLOAT_MNEMONICS)
        .copied()
        .find(|s| format!("{s:?}").eq_ignore_ascii_case(rest))
        .unwrap_or(m)
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Reg(Register),
    Mem(MemoryOperand),
    Imm(i64),
}

fn build(code: Code, ops: &[Op]) -> Option<Instruction> {
    use Op::*;
    let r = match *ops {
        [] => Ok(Instruction::with(code)),
        [Reg(a)] => Instruction::with1(code, a),
        [Mem(a)] => Instruction::with1(code, a),
        [Imm(a)] => Instruction::with1(code, a as i32),
        [Reg(a), Reg(b)] => Instruction::with2(code, a, b),
        [Reg(a), Mem(b)] => Instruction::with2(code, a, b),
        [Mem(a), Reg(b)] => Instruction::with2(code, a, b),
        [Reg(a), Imm(b)] if code.op_code().op_kind(1) == K::imm64 => {
            Instruction::with2(code, a, b as u64)
        }
        [Reg(a), Imm(b)] => Instruction::with2(code, a, b as i32),
        [Mem(a), Imm(b)] => Instruction::with2(code, a, b as i32),
        [Reg(a), Reg(b), Imm(c)] => Instruction::with3(code, a, b, c as i32),
        [Reg(a), Mem(b), Imm(c)] => Instruction::with3(code, a, b, c as i32),
        [Mem(a), Reg(b), Imm(c)] => Instruction::with3(code, a, b, c as i32),
        [Reg(a), Reg(b), Reg(c)] => Instruction::with3(code, a, b, c),
        [Reg(a), Reg(b), Mem(c)] => Instruction::with3(code, a, b, c),
        [Reg(a), Mem(b), Reg(c)] => Instruction::with3(code, a, b, c),
        [Mem(a), Reg(b), Reg(c)] => Instruction::with3(code, a, b, c),
        // (VEX: a destination, two sources and an immediate or a register)
        [Reg(a), Reg(b), Reg(c), Imm(d)] => Instruction::with4(code, a, b, c, d as i32),
        [Reg(a), Reg(b), Mem(c), Imm(d)] => Instruction::with4(code, a, b, c, d as i32),
        [Reg(a), Reg(b), Reg(c), Reg(d)] => Instruction::with4(code, a, b, c, d),
        [Reg(a), Reg(b), Mem(c), Reg(d)] => Instruction::with4(code, a, b, c, d),
        _ => return None,
    };
    r.ok()
}

/// General register number `n` (rax = 0) at `bits` (8: the low byte, never ah..bh).
fn gpr(bits: u32, n: usize) -> Register {
    let full = [
        Register::RAX,
        Register::RCX,
        Register::RDX,
        Register::RBX,
        Register::RSP,
        Register::RBP,
        Register::RSI,
        Register::RDI,
        Register::R8,
        Register::R9,
        Register::R10,
        Register::R11,
        Register::R12,
        Register::R13,
        Register::R14,
        Register::R15,
    ][n];
    match bits {
        64 => full,
        32 => [
            Register::EAX,
            Register::ECX,
            Register::EDX,
            Register::EBX,
            Register::ESP,
            Register::EBP,
            Register::ESI,
            Register::EDI,
            Register::R8D,
            Register::R9D,
            Register::R10D,
            Register::R11D,
            Register::R12D,
            Register::R13D,
            Register::R14D,
            Register::R15D,
        ][n],
        16 => [
            Register::AX,
            Register::CX,
            Register::DX,
            Register::BX,
            Register::SP,
            Register::BP,
            Register::SI,
            Register::DI,
            Register::R8W,
            Register::R9W,
            Register::R10W,
            Register::R11W,
            Register::R12W,
            Register::R13W,
            Register::R14W,
            Register::R15W,
        ][n],
        _ => [
            Register::AL,
            Register::CL,
            Register::DL,
            Register::BL,
            Register::SPL,
            Register::BPL,
            Register::SIL,
            Register::DIL,
            Register::R8L,
            Register::R9L,
            Register::R10L,
            Register::R11L,
            Register::R12L,
            Register::R13L,
            Register::R14L,
            Register::R15L,
        ][n],
    }
}

/// Operand size in bits of an operand kind, and whether it is a register/memory slot.
fn kind_bits(k: K) -> Option<(u32, bool)> {
    Some(match k {
        K::r8_or_mem => (8, true),
        K::r16_or_mem => (16, true),
        K::r32_or_mem => (32, true),
        K::r64_or_mem => (64, true),
        K::r8_reg | K::r8_opcode => (8, false),
        K::r16_reg | K::r16_rm | K::r16_opcode => (16, false),
        K::r32_reg | K::r32_rm | K::r32_opcode | K::r32_vvvv => (32, false),
        K::r64_reg | K::r64_rm | K::r64_opcode | K::r64_vvvv => (64, false),
        _ => return None,
    })
}

/// A test instruction and how to feed it.
struct Form {
    ins: Instruction,
    bits: u32,
}

fn immediates(rng: &mut Rng, kind: K, shift: bool, bits: u32, n: usize) -> Vec<i64> {
    if shift {
        let limit = if bits == 64 { 63 } else { 31 };
        let mut v: Vec<i64> = vec![0, 1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 255];
        v.retain(|&c| c <= 255 && (c & limit) <= 63);
        return v;
    }
    let width = match kind {
        K::imm8 | K::imm8sex16 | K::imm8sex32 | K::imm8sex64 => 8,
        K::imm16 => 16,
        K::imm32 | K::imm32sex64 => 32,
        _ => 64,
    };
    (0..n)
        .map(|_| {
            let v = rng.edgy(width);
            // sign-extend from the immediate width
            ((v << (64 - width)) as i64) >> (64 - width)
        })
        .collect()
}

/// Every form of a supported mnemonic in `encoding`: legacy, or VEX (the
/// 128-bit and scalar forms of the supported SSE instructions).
fn forms(rng: &mut Rng, encoding: EncodingKind) -> Vec<Form> {
    let mut out = Vec::new();
    let have_bmi = std::arch::is_x86_feature_detected!("bmi1");
    let have_lzcnt = std::arch::is_x86_feature_detected!("lzcnt");
    let have_popcnt = std::arch::is_x86_feature_detected!("popcnt");
    let have_bmi2 = have_bmi && std::arch::is_x86_feature_detected!("bmi2");
    let have_fma = std::arch::is_x86_feature_detected!("fma");
    if encoding == EncodingKind::VEX && !have_bmi2 {
        eprintln!("BMI1/BMI2 forms skipped: this CPU lacks them");
    }
    for code in Code::values() {
        let m = code.mnemonic();
        let supported = match encoding {
            EncodingKind::Legacy => MNEMONICS.contains(&m) || is_sse(m),
            _ => {
                base(m) != m
                    || AVX_MNEMONICS.contains(&m)
                    || (BMI_MNEMONICS.contains(&m) && have_bmi2)
                    || (is_fma(m) && have_fma)
            }
        };
        if !supported {
            continue;
        }
        let info = code.op_code();
        // 16/32-bit `leave` never appears in 64-bit compiler output
        if !info.mode64()
            || info.encoding() != encoding
            || !info.is_instruction()
            || code == Code::Leavew
        {
            continue;
        }
        if (m == Mnemonic::Tzcnt && !have_bmi)
            || (m == Mnemonic::Lzcnt && !have_lzcnt)
            || (m == Mnemonic::Popcnt && !have_popcnt)
        {
            continue;
        }
        let kinds: Vec<K> = (0..info.op_count()).map(|i| info.op_kind(i)).collect();
        // operand size of the form: the first register/memory operand
        let bits = kinds
            .iter()
            .find_map(|k| kind_bits(*k).map(|b| b.0))
            .unwrap_or(match kinds.first() {
                Some(K::al) => 8,
                Some(K::ax) => 16,
                Some(K::eax) => 32,
                _ => 64,
            });
        let shift = matches!(
            m,
            Mnemonic::Shl
                | Mnemonic::Sal
                | Mnemonic::Shr
                | Mnemonic::Sar
                | Mnemonic::Rol
                | Mnemonic::Ror
                | Mnemonic::Rcl
                | Mnemonic::Rcr
                | Mnemonic::Shld
                | Mnemonic::Shrd
        );
        let imm_kind = kinds.iter().copied().find(|k| {
            matches!(
                k,
                K::imm8
                    | K::imm8sex16
                    | K::imm8sex32
                    | K::imm8sex64
                    | K::imm16
                    | K::imm32
                    | K::imm32sex64
                    | K::imm64
            )
        });
        let imms = match imm_kind {
            Some(k) => {
                let mut v = immediates(rng, k, shift, bits, 5);
                if is_string_compare(m) {
                    // every format, aggregation, polarity and output (bit 7
                    // is unused)
                    v = (0..128).collect();
                }
                if bits == 16 && matches!(m, Mnemonic::Shld | Mnemonic::Shrd) {
                    v.retain(|&c| c & 31 <= 16); // larger counts: undefined result
                }
                if matches!(
                    base(m),
                    Mnemonic::Cmpsd | Mnemonic::Cmpss | Mnemonic::Cmppd | Mnemonic::Cmpps
                ) {
                    // VEX predicates 8-15 are refused (vex_compares_...)
                    for c in v.iter_mut() {
                        *c &= !8;
                    }
                }
                v
            }
            None => vec![0],
        };
        let has_rm = kinds.iter().any(|k| {
            matches!(
                k,
                K::r8_or_mem
                    | K::r16_or_mem
                    | K::r32_or_mem
                    | K::r64_or_mem
                    | K::mem
                    | K::xmm_or_mem
                    | K::ymm_or_mem
            )
        });
        let memory_variants: &[u8] = if has_rm { &[0, 1, 2] } else { &[0] }; // 0 reg, 1 [rbx+rsi*s+d], 2 rip-relative
        for &variant in memory_variants {
            for &imm in &imms {
                if let Some(ins) = make_form(rng, code, &kinds, variant, imm) {
                    out.push(Form { ins, bits });
                    if encoding == EncodingKind::VEX {
                        out.extend(aliased(&ins).into_iter().map(|ins| Form { ins, bits }));
                    }
                }
            }
        }
    }
    // every listed mnemonic has forms: none is skipped unseen (an operand
    // kind make_form does not know)
    let mut wanted: Vec<Mnemonic> = SSE_MNEMONICS
        .iter()
        .chain(SSE4_MNEMONICS)
        .chain(FLOAT_MNEMONICS)
        .copied()
        .collect();
    match encoding {
        EncodingKind::Legacy => wanted.extend(
            MNEMONICS
                .iter()
                .filter(|&&m| !matches!(m, Mnemonic::Tzcnt | Mnemonic::Lzcnt | Mnemonic::Popcnt)),
        ),
        _ => {
            wanted.extend(AVX_MNEMONICS);
            if have_bmi2 {
                wanted.extend(BMI_MNEMONICS);
            }
            if have_fma {
                wanted.extend(Mnemonic::values().filter(|&m| is_fma(m)));
            }
        }
    }
    let missing: Vec<Mnemonic> = wanted
        .into_iter()
        .filter(|m| {
            !out.iter()
                .any(|f| base(f.ins.mnemonic()) == *m || f.ins.mnemonic() == *m)
        })
        .collect();
    assert!(missing.is_empty(), "no {encoding:?} form of {missing:?}");
    out
}

/// A VEX form with three registers of one kind again with two of them the
/// same: destination and first source, destination and second source,
/// both sources (what the lowering must not confuse; `mulx` with both
/// destinations one register).
fn aliased(ins: &Instruction) -> Vec<Instruction> {
    let register = |i: u32| {
        (i < ins.op_count() && ins.op_kind(i) == iced_x86::OpKind::Register)
            .then(|| ins.op_register(i))
    };
    // (an XMM and a YMM register of one number overlap too: bits 127:0)
    let vector = |r: Register| r.is_xmm() || r.is_ymm();
    let same_kind = |a: Register, b: Register| {
        (vector(a) && vector(b)) || (a.is_gpr() && b.is_gpr() && a.size() == b.size())
    };
    let mut out = Vec::new();
    for (to, from) in [(1, 0), (2, 0), (2, 1)] {
        if let (Some(a), Some(b)) = (register(to), register(from)) {
            if !same_kind(a, b) {
                continue;
            }
            // the same number, in the kind the operand takes
            // (iced numbers each kind's registers in order)
            let renamed = Register::values()
                .nth(a as usize - a.number() + b.number())
                .unwrap_or(a);
            let mut same = *ins;
            same.set_op_register(to, renamed);
            // (refused by design: a count that is the destination's low half)
            if is_256_count_of_destination(&same) {
                continue;
            }
            out.push(same);
        }
    }
    out
}

fn make_form(rng: &mut Rng, code: Code, kinds: &[K], variant: u8, imm: i64) -> Option<Instruction> {
    let lea = code.mnemonic() == Mnemonic::Lea;
    for _attempt in 0..20 {
        let mut used = vec![4usize]; // never rsp
        let mut used_xmm: Vec<usize> = Vec::new();
        if variant != 0 {
            used.extend([3, 6]); // rbx, rsi address memory
        }
        let mut ops = Vec::new();
        let mut ok = true;
        for &k in kinds {
            let op = match k {
                K::al => Op::Reg(Register::AL),
                K::cl => Op::Reg(Register::CL),
                K::ax => Op::Reg(Register::AX),
                K::dx => Op::Reg(Register::DX),
                K::eax => Op::Reg(Register::EAX),
                K::rax => Op::Reg(Register::RAX),
                K::imm8_const_1 => Op::Imm(1),
                K::imm8
                | K::imm8sex16
                | K::imm8sex32
                | K::imm8sex64
                | K::imm16
                | K::imm32
                | K::imm32sex64
                | K::imm64 => Op::Imm(imm),
                K::mem if lea => {
                    let base = gpr(64, rng.pick(&[0usize, 1, 2, 3, 5, 6, 7, 8, 12, 13, 15]));
                    let index = gpr(64, rng.pick(&[0usize, 1, 2, 3, 5, 6, 7, 9, 12, 13, 14]));
                    let disp = (rng.next() as i32) as i64 >> rng.below(31);
                    match variant {
                        2 => Op::Mem(MemoryOperand::with_base_displ(
                            Register::RIP,
                            (SCRATCH + 0x400) as i64,
                        )),
                        1 => Op::Mem(MemoryOperand::new(
                            base,
                            index,
                            rng.pick(&[1, 2, 4, 8]),
                            disp,
                            4,
                            false,
                            Register::None,
                        )),
                        _ => Op::Mem(MemoryOperand::with_base_displ(base, disp)),
                    }
                }
                K::mem if is_sse(code.mnemonic()) || code.mnemonic() == Mnemonic::Cmpxchg16b => {
                    Op::Mem(sse_memory_operand(rng, variant.max(1)))
                }
                K::mem if code.mnemonic() == Mnemonic::Movbe => {
                    Op::Mem(memory_operand(rng, variant.max(1), 64))
                }
                K::mem => return None,
                K::xmm_or_mem | K::ymm_or_mem if variant != 0 => {
                    Op::Mem(sse_memory_operand(rng, variant))
                }
                K::xmm_reg
                | K::xmm_rm
                | K::xmm_vvvv
                | K::xmm_is4
                | K::xmm_or_mem
                | K::ymm_reg
                | K::ymm_rm
                | K::ymm_vvvv
                | K::ymm_is4
                | K::ymm_or_mem => {
                    let pool: Vec<usize> = (0..16).filter(|n| !used_xmm.contains(n)).collect();
                    let n = rng.pick(&pool);
                    used_xmm.push(n);
                    let ymm = matches!(
                        k,
                        K::ymm_reg | K::ymm_rm | K::ymm_vvvv | K::ymm_is4 | K::ymm_or_mem
                    );
                    Op::Reg(if ymm { YMM_REGS[n] } else { XMM_REGS[n] })
                }
                k if is_sse(code.mnemonic())
                    && variant != 0
                    && kind_bits(k).is_some_and(|(_, rm)| rm) =>
                {
                    Op::Mem(sse_memory_operand(rng, variant))
                }
                k => match kind_bits(k) {
                    Some((bits, true)) if variant != 0 => {
                        Op::Mem(memory_operand(rng, variant, bits))
                    }
                    Some((bits, _)) => {
                        let pool: Vec<usize> = (0..16).filter(|n| !used.contains(n)).collect();
                        let n = rng.pick(&pool);
                        used.push(n);
                        // sometimes a high-byte register
                        if bits == 8 && n < 4 && rng.below(3) == 0 {
                            Op::Reg([Register::AH, Register::CH, Register::DH, Register::BH][n])
                        } else {
                            Op::Reg(gpr(bits, n))
                        }
                    }
                    None => {
                        ok = false;
                        break;
                    }
                },
            };
            ops.push(op);
        }
        if !ok {
            return None;
        }
        if let Some(ins) = build(code, &ops) {
            // must encode (e.g. ah cannot mix with REX registers)
            let mut enc = iced_x86::Encoder::new(64);
            if enc.encode(&ins, CODE).is_ok() {
                return Some(ins);
            }
        }
    }
    None
}

const YMM_REGS: [Register; 16] = [
    Register::YMM0,
    Register::YMM1,
    Register::YMM2,
    Register::YMM3,
    Register::YMM4,
    Register::YMM5,
    Register::YMM6,
    Register::YMM7,
    Register::YMM8,
    Register::YMM9,
    Register::YMM10,
    Register::YMM11,
    Register::YMM12,
    Register::YMM13,
    Register::YMM14,
    Register::YMM15,
];

const XMM_REGS: [Register; 16] = [
    Register::XMM0,
    Register::XMM1,
    Register::XMM2,
    Register::XMM3,
    Register::XMM4,
    Register::XMM5,
    Register::XMM6,
    Register::XMM7,
    Register::XMM8,
    Register::XMM9,
    Register::XMM10,
    Register::XMM11,
    Register::XMM12,
    Register::XMM13,
    Register::XMM14,
    Register::XMM15,
];

/// A 32-byte aligned memory operand (legacy SSE faults on unaligned m128,
/// `vmovaps` on unaligned m256).
fn sse_memory_operand(rng: &mut Rng, variant: u8) -> MemoryOperand {
    if variant == 2 {
        return MemoryOperand::with_base_displ(
            Register::RIP,
            (SCRATCH + 0x400 + 32 * rng.below(4)) as i64,
        );
    }
    let disp = 32 * (rng.below(8) as i64 - 4);
    MemoryOperand::new(
        Register::RBX,
        Register::RSI,
        8,
        disp,
        1,
        false,
        Register::None,
    )
}

fn memory_operand(rng: &mut Rng, variant: u8, _bits: u32) -> MemoryOperand {
    if variant == 2 {
        return MemoryOperand::with_base_displ(
            Register::RIP,
            (SCRATCH + 0x400 + rng.below(64)) as i64,
        );
    }
    let scale = rng.pick(&[1u32, 2, 4, 8]);
    let disp = rng.below(256) as i64 - 128;
    MemoryOperand::new(
        Register::RBX,
        Register::RSI,
        scale,
        disp,
        1,
        false,
        Register::None,
    )
}

/// Inputs for one run of `form`.
fn case_for(rng: &mut Rng, form: &Form) -> Case {
    let ins = &form.ins;
    let bits = form.bits;
    let mut regs = [0u64; 16];
    for r in regs.iter_mut() {
        let full = rng.next();
        let low = rng.edgy(bits);
        let mask = if bits == 64 {
            u64::MAX
        } else {
            (1 << bits) - 1
        };
        *r = if rng.below(5) == 0 {
            rng.edgy(64)
        } else {
            (full & !mask) | low
        };
    }
    regs[3] = SCRATCH + 0x800; // rbx
    regs[6] = rng.below(16); // rsi
    if ins.mnemonic() == Mnemonic::Lea || !ins.op_kinds().any(|k| k == iced_x86::OpKind::Memory) {
        // registers are free when nothing is addressed
        regs[3] = if rng.below(2) == 0 {
            rng.next()
        } else {
            regs[3]
        };
        regs[6] = if rng.below(2) == 0 {
            rng.next()
        } else {
            regs[6]
        };
    }
    regs[5] = if ins.mnemonic() == Mnemonic::Leave {
        FAR_STACK + 0x100 + 8 * rng.below(8)
    } else {
        regs[5]
    };
    let counts = [
        0u64, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 255,
    ];
    if ins.op_kinds().any(|_| true)
        && (0..ins.op_count()).any(|i| {
            ins.op_kind(i) == iced_x86::OpKind::Register
                && ins.op_register(i) == Register::CL
                && i > 0
        })
    {
        regs[1] = (regs[1] & !0xff) | rng.pick(&counts);
    }
    let mut scratch = vec![0u8; SCRATCH_SIZE];
    for b in scratch.iter_mut() {
        *b = rng.next() as u8;
    }
    // the XMM registers, then bits 255:128 of the YMM registers
    let mut xmm = vec![0u8; 512];
    let lane_edges: [u16; 10] = [
        0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x00ff, 0xff00,
    ];
    for chunk in xmm.chunks_mut(2) {
        let v = if rng.below(2) == 0 {
            rng.pick(&lane_edges)
        } else {
            rng.next() as u16
        };
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    if is_sse(ins.mnemonic()) || ins.mnemonic() == Mnemonic::Cmpxchg16b {
        regs[6] = 4 * rng.below(4); // rsi*8 stays 32-byte aligned: SSE and AVX operands must be
    }
    let mut scratch_floats = false;
    if is_float(ins.mnemonic()) {
        // lanes and memory full of edge floats, half f64, half f32
        // lane 0 (what scalar instructions read) is an edge value 4 times in 5
        for (k, chunk) in xmm.chunks_mut(8).enumerate() {
            let edge = if k % 2 == 0 {
                rng.below(5) != 0
            } else {
                rng.below(3) == 0
            };
            if !edge {
                continue;
            }
            if rng.below(2) == 0 {
                chunk.copy_from_slice(&rng.pick(&F64_EDGES).to_le_bytes());
            } else {
                chunk[..4].copy_from_slice(&rng.pick(&F32_EDGES).to_le_bytes());
                chunk[4..].copy_from_slice(&rng.pick(&F32_EDGES).to_le_bytes());
            }
        }
        if rng.below(4) == 0 {
            // every lane 0 the same value, signs at random: equal operands and
            // +0/-0 pairs, where min/max and compares differ from naive rules
            let v = rng.pick(&F64_EDGES);
            for chunk in xmm.chunks_mut(16) {
                let sign = if rng.below(2) == 0 { 1u64 << 63 } else { 0 };
                chunk[..8].copy_from_slice(&(v ^ sign).to_le_bytes());
            }
        }
        scratch_floats = true;
    }
    if scratch_floats {
        for chunk in scratch.chunks_mut(8) {
            if rng.below(2) == 0 {
                chunk.copy_from_slice(&rng.pick(&F64_EDGES).to_le_bytes());
            } else {
                chunk[..4].copy_from_slice(&rng.pick(&F32_EDGES).to_le_bytes());
            }
        }
    }
    let mut case = Case {
        regs,
        xmm,
        flags: 0x2 | (rng.next() & (STATUS | 0x10)),
        scratch,
    };
    constrain(rng, form, &mut case);
    case
}

/// Where an operand's value lives for a case: a register number or scratch offset.
enum Place {
    Reg(usize, Register),
    Mem(usize),
}

fn place(ins: &Instruction, op: u32, case: &Case) -> Place {
    if ins.op_kind(op) == iced_x86::OpKind::Register {
        let r = ins.op_register(op);
        let n = (r.full_register() as usize) - (Register::RAX as usize);
        return Place::Reg(n, r);
    }
    let address = if ins.memory_base() == Register::RIP {
        ins.memory_displacement64()
    } else {
        case.regs[3]
            .wrapping_add(case.regs[6].wrapping_mul(ins.memory_index_scale() as u64))
            .wrapping_add(ins.memory_displacement64())
    };
    Place::Mem((address - SCRATCH) as usize)
}

fn set_value(case: &mut Case, p: &Place, bits: u32, v: u64) {
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    };
    match p {
        Place::Reg(n, r) => {
            let shift = if matches!(r, Register::AH | Register::CH | Register::DH | Register::BH) {
                8
            } else {
                0
            };
            case.regs[*n] = (case.regs[*n] & !(mask << shift)) | ((v & mask) << shift);
        }
        Place::Mem(off) => {
            for i in 0..(bits / 8) as usize {
                case.scratch[off + i] = (v >> (8 * i)) as u8;
            }
        }
    }
}

/// SSE4.2's string compares, in either encoding.
fn is_string_compare(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        base(m),
        M::Pcmpestri | M::Pcmpestri64 | M::Pcmpestrm | M::Pcmpestrm64 | M::Pcmpistri | M::Pcmpistrm
    )
}

/// Adjusts inputs so the instruction cannot fault natively (#DE) and stays in
/// defined behaviour (the shift counts where results are undefined).
fn constrain(rng: &mut Rng, form: &Form, case: &mut Case) {
    let ins = &form.ins;
    let bits = form.bits;
    use Mnemonic as M;
    if is_string_compare(ins.mnemonic()) && rng.below(4) != 0 {
        // strings of a few letters, so that elements match, with zeros
        // (an implicit end) now and then; lengths around the element
        // counts, of either sign, some with other upper bits (only eax
        // and edx count in the 32-bit forms)
        let alphabet = [0x61u8, 0x62, 0x63, 0x80, 0xff, 0x01, 0x61, 0x62];
        for op in 0..2 {
            let mut bytes: [u8; 16] =
                std::array::from_fn(|_| alphabet[rng.below(alphabet.len() as u64) as usize]);
            if rng.below(2) == 0 {
                bytes[rng.below(16) as usize] = 0;
            }
            match place(ins, op, case) {
                Place::Mem(off) => case.scratch[off..off + 16].copy_from_slice(&bytes),
                Place::Reg(..) => {
                    let r = ins.op_register(op).number();
                    case.xmm[16 * r..16 * r + 16].copy_from_slice(&bytes);
                }
            }
        }
        for r in [0, 2] {
            let length = rng.below(41) as i64 - 20;
            case.regs[r] = match rng.below(3) {
                0 => (length as u64 & 0xffff_ffff) | rng.next() << 32,
                _ => length as u64,
            };
        }
    }
    let packed_shift = matches!(
        base(ins.mnemonic()),
        M::Psllw | M::Pslld | M::Psllq | M::Psrlw | M::Psrld | M::Psrlq | M::Psraw | M::Psrad
    );
    // (the count is the last operand: VEX has one more before it)
    let count_op = ins.op_count().saturating_sub(1);
    if packed_shift && ins.op_kind(count_op) != iced_x86::OpKind::Immediate8 && rng.below(4) != 0 {
        // a count register: mostly counts around the lane widths
        let count = rng.below(70).to_le_bytes();
        if ins.op_kind(count_op) == iced_x86::OpKind::Register {
            let r = ins.op_register(count_op).number();
            case.xmm[16 * r..16 * r + 8].copy_from_slice(&count);
        } else if let Place::Mem(off) = place(ins, count_op, case) {
            case.scratch[off..off + 8].copy_from_slice(&count);
        }
    }
    let variable_shift = matches!(
        ins.mnemonic(),
        M::Vpsllvd | M::Vpsllvq | M::Vpsrlvd | M::Vpsrlvq | M::Vpsravd
    );
    if variable_shift && rng.below(4) != 0 {
        // counts around the element widths, in both halves
        let bytes = if matches!(ins.mnemonic(), M::Vpsllvq | M::Vpsrlvq) {
            8
        } else {
            4
        };
        let mut counts = [0u8; 32];
        for chunk in counts.chunks_mut(bytes) {
            chunk[0] = rng.below(70) as u8;
        }
        match place(ins, 2, case) {
            Place::Mem(off) => case.scratch[off..off + 32].copy_from_slice(&counts),
            Place::Reg(..) => {
                let r = ins.op_register(2).number();
                case.xmm[16 * r..16 * r + 16].copy_from_slice(&counts[..16]);
                case.xmm[256 + 16 * r..256 + 16 * r + 16].copy_from_slice(&counts[16..]);
            }
        }
    }
    if ins.mnemonic() == M::Vcvtps2ph
        && ins.op_kind(1) == iced_x86::OpKind::Register
        && rng.below(2) == 0
    {
        // singles at the edges of half precision: each half's value a few
        // steps off (ties and the steps around them), near the largest half
        // and the smallest, and past them
        let r = ins.op_register(1).number();
        for lane in 0..8 {
            let half: u32 = match rng.below(4) {
                0 => 0x7bff,
                1 => rng.below(0x20) as u32,
                _ => rng.below(0x7c00) as u32,
            };
            let single = (half_value(half as u16) as f32).to_bits();
            let bits = match rng.below(3) {
                0 => single.wrapping_add(rng.below(9) as u32).wrapping_sub(4),
                1 => single ^ (1 << (12 - rng.below(3))),
                _ => single.wrapping_add(0x1000),
            } | (rng.below(2) as u32) << 31;
            let at = if lane < 4 {
                16 * r + 4 * lane
            } else {
                256 + 16 * r + 4 * (lane - 4)
            };
            case.xmm[at..at + 4].copy_from_slice(&bits.to_le_bytes());
        }
    }
    match ins.mnemonic() {
        Mnemonic::Cmpxchg16b if rng.below(2) == 0 => {
            // rdx:rax equal to the memory: the exchange happens
            if let Place::Mem(off) = place(ins, 0, case) {
                let word = |k: usize| {
                    u64::from_le_bytes(
                        case.scratch[off + 8 * k..off + 8 * k + 8]
                            .try_into()
                            .unwrap(),
                    )
                };
                case.regs[0] = word(0);
                case.regs[2] = word(1);
            }
        }
        Mnemonic::Div | Mnemonic::Idiv => {
            let signed = ins.mnemonic() == Mnemonic::Idiv;
            let p = place(ins, 0, case);
            // quotient q and divisor d of this size, remainder smaller than d
            let mask = if bits == 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
            let mut d = rng.edgy(bits);
            if d == 0 {
                d = 3;
            }
            let (mut q, dd) = (rng.edgy(bits), d);
            let (n_lo, n_hi): (u64, u64);
            if signed {
                let ds = ((dd << (64 - bits)) as i64) >> (64 - bits);
                let mut qs = ((q << (64 - bits)) as i64) >> (64 - bits);
                if rng.below(3) == 0 {
                    qs %= 100;
                }
                let prod = (qs as i128) * (ds as i128);
                let rmax = (ds as i128).abs() - 1;
                let r = if rmax > 0 {
                    (rng.next() as i128).rem_euclid(rmax + 1)
                } else {
                    0
                };
                let n = if prod >= 0 { prod + r } else { prod - r };
                n_lo = (n as u128 as u64) & mask;
                n_hi = if bits == 64 {
                    (n >> 64) as u64
                } else {
                    ((n >> bits) as u64) & mask
                };
            } else {
                if rng.below(3) == 0 {
                    q %= 100;
                }
                let prod = (q as u128) * (dd as u128);
                let r = rng.next() as u128 % dd as u128;
                let n = prod + r;
                n_lo = (n as u64) & mask;
                n_hi = if bits == 64 {
                    (n >> 64) as u64
                } else {
                    ((n >> bits) as u64) & mask
                };
            }
            set_value(case, &p, bits, d);
            if bits == 8 {
                let ax = (n_hi << 8) | n_lo;
                case.regs[0] = (case.regs[0] & !0xffff) | (ax & 0xffff);
            } else {
                set_value(case, &Place::Reg(0, gpr(bits, 0)), bits, n_lo);
                set_value(case, &Place::Reg(2, gpr(bits, 2)), bits, n_hi);
            }
            // the divisor register may be rax/rdx themselves: redo if clobbered
            if let Place::Reg(n, _) = p {
                if n == 0 || n == 2 {
                    set_value(case, &p, bits, d);
                }
            }
        }
        Mnemonic::Bt | Mnemonic::Bts | Mnemonic::Btr | Mnemonic::Btc
            if ins.op0_kind() == iced_x86::OpKind::Memory
                && ins.op1_kind() == iced_x86::OpKind::Register =>
        {
            // the bit offset addresses the bit string: keep it inside scratch
            let off = (rng.below(1024) as i64 - 512) as u64;
            let p = place(ins, 1, case);
            set_value(case, &p, bits, off);
        }
        // an index (`bzhi`) or a start and a length (`bextr`) around the
        // operand's width, not a random 64-bit control
        Mnemonic::Bzhi => {
            let p = place(ins, 2, case);
            set_value(case, &p, bits, rng.below(80));
        }
        Mnemonic::Bextr => {
            let p = place(ins, 2, case);
            set_value(case, &p, bits, rng.below(80) | (rng.below(80) << 8));
        }
        // counts above 16 give undefined results
        Mnemonic::Shld | Mnemonic::Shrd
            if bits == 16 && ins.op2_kind() == iced_x86::OpKind::Register =>
        {
            case.regs[1] = (case.regs[1] & !0xff) | rng.below(17);
        }
        _ => {}
    }
}

/// Flags whose value the manual leaves undefined for this run.
fn defined_flags(form: &Form, case: &Case) -> u64 {
    let ins = &form.ins;
    let mut mask = STATUS & !x86_flags(ins.rflags_undefined());
    let count_op = match ins.mnemonic() {
        Mnemonic::Shl
        | Mnemonic::Sal
        | Mnemonic::Shr
        | Mnemonic::Sar
        | Mnemonic::Rol
        | Mnemonic::Ror
        | Mnemonic::Rcl
        | Mnemonic::Rcr => Some(1),
        Mnemonic::Shld | Mnemonic::Shrd => Some(2),
        _ => None,
    };
    if let Some(op) = count_op {
        let limit = if form.bits == 64 { 63 } else { 31 };
        let raw = if ins.op_count() <= op {
            1
        } else if ins.op_kind(op) == iced_x86::OpKind::Register {
            case.regs[1] & 0xff
        } else {
            ins.immediate(op)
        };
        let count = raw & limit;
        if count == 0 {
            return STATUS; // nothing changes, everything is defined
        }
        // rotates leave SF, ZF, PF alone: all compared; shifts define all but
        // OF (count 1 only) and, for 8/16 bits, CF past the operand width
        mask = STATUS;
        if count != 1 {
            mask &= !OF;
        }
        if form.bits < 32
            && count >= form.bits as u64
            && !matches!(
                ins.mnemonic(),
                Mnemonic::Rol | Mnemonic::Ror | Mnemonic::Rcl | Mnemonic::Rcr
            )
        {
            mask &= !CF;
        }
    }
    mask
}

/// The lane-0 access a form can be tested with, when its XMM registers can
/// hold one float each (scalar float instructions, and moves and bit masks
/// between such registers).
fn scalar_access(ins: &Instruction) -> Option<XmmAccess> {
    use Mnemonic as M;
    let has_xmm = (0..ins.op_count())
        .any(|i| ins.op_kind(i) == iced_x86::OpKind::Register && ins.op_register(i).is_xmm());
    if !has_xmm {
        return None;
    }
    let memory_store = ins.op0_kind() == iced_x86::OpKind::Memory;
    Some(match base(ins.mnemonic()) {
        M::Addsd
        | M::Subsd
        | M::Mulsd
        | M::Divsd
        | M::Sqrtsd
        | M::Minsd
        | M::Maxsd
        | M::Ucomisd
        | M::Comisd
        | M::Cvtsi2sd
        | M::Cvttsd2si
        | M::Cvtsd2si
        | M::Cmpsd
        | M::Roundsd
        | M::Movsd
        | M::Movq => XmmAccess::Double,
        M::Addss
        | M::Subss
        | M::Mulss
        | M::Divss
        | M::Sqrtss
        | M::Minss
        | M::Maxss
        | M::Ucomiss
        | M::Comiss
        | M::Cvtsi2ss
        | M::Cvttss2si
        | M::Cvtss2si
        | M::Cmpss
        | M::Roundss
        | M::Movss
        | M::Movd => XmmAccess::Single,
        M::Xorps
        | M::Xorpd
        | M::Andps
        | M::Andpd
        | M::Andnps
        | M::Andnpd
        | M::Orps
        | M::Orpd
        | M::Pxor
        | M::Pand
        | M::Pandn
        | M::Por => XmmAccess::Double,
        M::Movaps | M::Movapd | M::Movups | M::Movupd | M::Movdqa | M::Movdqu
            if !memory_store && ins.op1_kind() == iced_x86::OpKind::Register =>
        {
            XmmAccess::Double
        }
        _ => return None,
    })
}

#[test]
fn every_integer_form_matches_the_cpu() {
    let mut rng = Rng::new(0x5eed);
    let forms = forms(&mut rng, EncodingKind::Legacy);
    assert!(forms.len() > 300, "only {} forms generated", forms.len());
    check_forms(&mut rng, &forms, XmmAccess::Full);
}

#[test]
fn every_vex_form_of_a_supported_instruction_matches_the_cpu() {
    // AVX's and AVX2's 128-bit, scalar and 256-bit forms, what `-C
    // target-cpu=x86-64-v3` emits for every float and vector operation,
    // with the YMM registers' bits 255:128 compared too; and BMI1/BMI2
    if !std::arch::is_x86_feature_detected!("avx2") {
        eprintln!("skipped: this CPU has no AVX2");
        return;
    }
    let mut rng = Rng::new(0x7e5);
    let forms = forms(&mut rng, EncodingKind::VEX);
    assert!(forms.len() > 300, "only {} forms generated", forms.len());
    check_forms(&mut rng, &forms, XmmAccess::Wide);
}

/// Runs each form natively and as wasm on random and edge inputs (with
/// the registers loaded and stored `whole`, and with lane 0 only where
/// that fits); fails with every form that differs.
fn check_forms(rng: &mut Rng, forms: &[Form], whole: XmmAccess) {
    let mut failures = Vec::new();
    let mut cases_run = 0;
    for form in forms {
        // each form with its flags read, with them dead (a `cmp` after it), and,
        // where it fits, with its XMM registers holding one float each
        let mut variants = vec![(false, whole), (true, whole)];
        if let Some(access) = scalar_access(&form.ins) {
            variants.push((false, access));
        }
        for (flags_dead, access) in variants {
            let ins = form.ins;
            let code = snippet_with(access, |a| {
                if ins.mnemonic() == Mnemonic::Pop {
                    // pop a known value, not whatever the caller left on the stack
                    a.push(qword_ptr(SCRATCH + 0xf00))?;
                }
                a.add_instruction(ins)?;
                if flags_dead {
                    a.cmp(rsp, rsp)?;
                }
                Ok(())
            });
            let wasm = match transpile_snippet(&code) {
                Ok(w) => w,
                Err(e) => {
                    failures.push(format!("{ins}: transpile failed: {e}"));
                    continue;
                }
            };
            let mut wasm = Wasm::new(&wasm);
            let has_immediate = (0..ins.op_count()).any(|i| {
                matches!(
                    ins.op_kind(i),
                    iced_x86::OpKind::Immediate8
                        | iced_x86::OpKind::Immediate16
                        | iced_x86::OpKind::Immediate32
                        | iced_x86::OpKind::Immediate64
                        | iced_x86::OpKind::Immediate8to16
                        | iced_x86::OpKind::Immediate8to32
                        | iced_x86::OpKind::Immediate8to64
                        | iced_x86::OpKind::Immediate32to64
                )
            });
            let per_form = match (has_immediate, flags_dead) {
                _ if is_float(ins.mnemonic()) => 200, // special values need many draws
                (true, false) => 24,
                (true, true) => 12,
                (false, false) => 64,
                (false, true) => 24,
            };
            for _ in 0..per_form {
                let case = case_for(rng, form);
                let mask = if flags_dead {
                    STATUS
                } else {
                    defined_flags(form, &case)
                };
                cases_run += 1;
                if let Some(diff) = compare(
                    &code,
                    &mut wasm,
                    &case,
                    mask,
                    ins.mnemonic() == Mnemonic::Leave,
                ) {
                    let variant = if flags_dead { " with flags dead" } else { "" };
                    failures.push(format!("{ins} ({:?}){variant}: {diff}", ins.code()));
                    break; // one report per form is enough
                }
            }
        }
    }
    eprintln!(
        "{} forms, {cases_run} cases, {} failing forms",
        forms.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} forms differ from the CPU:\n{}",
        failures.len(),
        forms.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ------------------------------------------------------------------ flag consumers

/// Flags each condition code reads, in iced's order (o no b ae e ne be a s ns p np l ge le g).
const CC_READS: [u64; 16] = [
    OF,
    OF,
    CF,
    CF,
    ZF,
    ZF,
    CF | ZF,
    CF | ZF,
    SF,
    SF,
    PF,
    PF,
    SF | OF,
    SF | OF,
    ZF | SF | OF,
    ZF | SF | OF,
];

const SETCC: [Code; 16] = [
    Code::Seto_rm8,
    Code::Setno_rm8,
    Code::Setb_rm8,
    Code::Setae_rm8,
    Code::Sete_rm8,
    Code::Setne_rm8,
    Code::Setbe_rm8,
    Code::Seta_rm8,
    Code::Sets_rm8,
    Code::Setns_rm8,
    Code::Setp_rm8,
    Code::Setnp_rm8,
    Code::Setl_rm8,
    Code::Setge_rm8,
    Code::Setle_rm8,
    Code::Setg_rm8,
];

const CMOV: [Code; 16] = [
    Code::Cmovo_r64_rm64,
    Code::Cmovno_r64_rm64,
    Code::Cmovb_r64_rm64,
    Code::Cmovae_r64_rm64,
    Code::Cmove_r64_rm64,
    Code::Cmovne_r64_rm64,
    Code::Cmovbe_r64_rm64,
    Code::Cmova_r64_rm64,
    Code::Cmovs_r64_rm64,
    Code::Cmovns_r64_rm64,
    Code::Cmovp_r64_rm64,
    Code::Cmovnp_r64_rm64,
    Code::Cmovl_r64_rm64,
    Code::Cmovge_r64_rm64,
    Code::Cmovle_r64_rm64,
    Code::Cmovg_r64_rm64,
];

/// The 32-bit forms of [`CMOV`].
const CMOV32: [Code; 16] = [
    Code::Cmovo_r32_rm32,
    Code::Cmovno_r32_rm32,
    Code::Cmovb_r32_rm32,
    Code::Cmovae_r32_rm32,
    Code::Cmove_r32_rm32,
    Code::Cmovne_r32_rm32,
    Code::Cmovbe_r32_rm32,
    Code::Cmova_r32_rm32,
    Code::Cmovs_r32_rm32,
    Code::Cmovns_r32_rm32,
    Code::Cmovp_r32_rm32,
    Code::Cmovnp_r32_rm32,
    Code::Cmovl_r32_rm32,
    Code::Cmovge_r32_rm32,
    Code::Cmovle_r32_rm32,
    Code::Cmovg_r32_rm32,
];

fn jcc(a: &mut CodeAssembler, cc: usize, label: CodeLabel) -> Result<(), IcedError> {
    match cc {
        0 => a.jo(label),
        1 => a.jno(label),
        2 => a.jb(label),
        3 => a.jae(label),
        4 => a.je(label),
        5 => a.jne(label),
        6 => a.jbe(label),
        7 => a.ja(label),
        8 => a.js(label),
        9 => a.jns(label),
        10 => a.jp(label),
        11 => a.jnp(label),
        12 => a.jl(label),
        13 => a.jge(label),
        14 => a.jle(label),
        _ => a.jg(label),
    }
}

/// Flag producers by operand size (8, 16, 32, 64): two-register forms, then one-register ones.
fn producers() -> Vec<(&'static str, [Option<Code>; 4], u8)> {
    use Code as C;
    // (name, codes by size, operands: 2 = rcx,rdx; 1 = rcx; 3 = rcx,cl-count;
    // 4 = rcx,1; 5 = rcx,-1)
    vec![
        (
            "cmp-imm",
            [
                Some(C::Cmp_rm8_imm8),
                Some(C::Cmp_rm16_imm8),
                Some(C::Cmp_rm32_imm8),
                Some(C::Cmp_rm64_imm8),
            ],
            5,
        ),
        (
            "test-imm",
            [
                Some(C::Test_rm8_imm8),
                Some(C::Test_rm16_imm16),
                Some(C::Test_rm32_imm32),
                Some(C::Test_rm64_imm32),
            ],
            5,
        ),
        (
            "add-imm",
            [
                Some(C::Add_rm8_imm8),
                Some(C::Add_rm16_imm8),
                Some(C::Add_rm32_imm8),
                Some(C::Add_rm64_imm8),
            ],
            5,
        ),
        (
            "sub-imm",
            [
                Some(C::Sub_rm8_imm8),
                Some(C::Sub_rm16_imm8),
                Some(C::Sub_rm32_imm8),
                Some(C::Sub_rm64_imm8),
            ],
            4,
        ),
        (
            "cmp",
            [
                Some(C::Cmp_rm8_r8),
                Some(C::Cmp_rm16_r16),
                Some(C::Cmp_rm32_r32),
                Some(C::Cmp_rm64_r64),
            ],
            2,
        ),
        (
            "sub",
            [
                Some(C::Sub_rm8_r8),
                Some(C::Sub_rm16_r16),
                Some(C::Sub_rm32_r32),
                Some(C::Sub_rm64_r64),
            ],
            2,
        ),
        (
            "add",
            [
                Some(C::Add_rm8_r8),
                Some(C::Add_rm16_r16),
                Some(C::Add_rm32_r32),
                Some(C::Add_rm64_r64),
            ],
            2,
        ),
        (
            "adc",
            [
                Some(C::Adc_rm8_r8),
                Some(C::Adc_rm16_r16),
                Some(C::Adc_rm32_r32),
                Some(C::Adc_rm64_r64),
            ],
            2,
        ),
        (
            "sbb",
            [
                Some(C::Sbb_rm8_r8),
                Some(C::Sbb_rm16_r16),
                Some(C::Sbb_rm32_r32),
                Some(C::Sbb_rm64_r64),
            ],
            2,
        ),
        (
            "test",
            [
                Some(C::Test_rm8_r8),
                Some(C::Test_rm16_r16),
                Some(C::Test_rm32_r32),
                Some(C::Test_rm64_r64),
            ],
            2,
        ),
        (
            "and",
            [
                Some(C::And_rm8_r8),
                Some(C::And_rm16_r16),
                Some(C::And_rm32_r32),
                Some(C::And_rm64_r64),
            ],
            2,
        ),
        (
            "or",
            [
                Some(C::Or_rm8_r8),
                Some(C::Or_rm16_r16),
                Some(C::Or_rm32_r32),
                Some(C::Or_rm64_r64),
            ],
            2,
        ),
        (
            "xor",
            [
                Some(C::Xor_rm8_r8),
                Some(C::Xor_rm16_r16),
                Some(C::Xor_rm32_r32),
                Some(C::Xor_rm64_r64),
            ],
            2,
        ),
        (
            "imul",
            [
                None,
                Some(C::Imul_r16_rm16),
                Some(C::Imul_r32_rm32),
                Some(C::Imul_r64_rm64),
            ],
            2,
        ),
        (
            "bt",
            [
                None,
                Some(C::Bt_rm16_r16),
                Some(C::Bt_rm32_r32),
                Some(C::Bt_rm64_r64),
            ],
            2,
        ),
        (
            "inc",
            [
                Some(C::Inc_rm8),
                Some(C::Inc_rm16),
                Some(C::Inc_rm32),
                Some(C::Inc_rm64),
            ],
            1,
        ),
        (
            "dec",
            [
                Some(C::Dec_rm8),
                Some(C::Dec_rm16),
                Some(C::Dec_rm32),
                Some(C::Dec_rm64),
            ],
            1,
        ),
        (
            "neg",
            [
                Some(C::Neg_rm8),
                Some(C::Neg_rm16),
                Some(C::Neg_rm32),
                Some(C::Neg_rm64),
            ],
            1,
        ),
        (
            "popcnt",
            [
                None,
                Some(C::Popcnt_r16_rm16),
                Some(C::Popcnt_r32_rm32),
                Some(C::Popcnt_r64_rm64),
            ],
            2,
        ),
        (
            "shl",
            [
                Some(C::Shl_rm8_CL),
                Some(C::Shl_rm16_CL),
                Some(C::Shl_rm32_CL),
                Some(C::Shl_rm64_CL),
            ],
            3,
        ),
        (
            "sar",
            [
                Some(C::Sar_rm8_CL),
                Some(C::Sar_rm16_CL),
                Some(C::Sar_rm32_CL),
                Some(C::Sar_rm64_CL),
            ],
            3,
        ),
        (
            "rol",
            [
                Some(C::Rol_rm8_CL),
                Some(C::Rol_rm16_CL),
                Some(C::Rol_rm32_CL),
                Some(C::Rol_rm64_CL),
            ],
            3,
        ),
        (
            "shr1",
            [
                Some(C::Shr_rm8_imm8),
                Some(C::Shr_rm16_imm8),
                Some(C::Shr_rm32_imm8),
                Some(C::Shr_rm64_imm8),
            ],
            4,
        ),
    ]
}

#[test]
fn every_condition_reads_every_producer_as_the_cpu_does() {
    let mut rng = Rng::new(0xf1a9);
    let mut failures = Vec::new();
    let mut snippets = 0;
    for (name, codes, shape) in producers() {
        for (k, code) in codes.iter().enumerate() {
            let Some(code) = *code else { continue };
            let bits = 8 << k;
            let (rcx_, rdx_) = (gpr(bits, 1), gpr(bits, 2));
            let producer = match shape {
                2 => Instruction::with2(code, rcx_, rdx_),
                1 => Instruction::with1(code, rcx_),
                3 => Instruction::with2(code, gpr(bits, 8), Register::CL),
                4 => Instruction::with2(code, rcx_, 1),
                _ => Instruction::with2(code, rcx_, -1),
            }
            .unwrap();
            let form = Form {
                ins: producer,
                bits,
            };
            for cc in 0..16 {
                // consumers: setcc; cmovcc; jcc over a mov; setcc after a
                // block boundary; then the same after the producer's
                // registers are overwritten (whole, 32-bit, low byte, and by
                // a consumer itself before a second one), which the lowering
                // must notice when it reads them in place
                for consumer in 0..12 {
                    let code_bytes = snippet(|a| {
                        a.add_instruction(producer)?;
                        match consumer {
                            0 => a.add_instruction(
                                Instruction::with1(SETCC[cc], Register::R9L).unwrap(),
                            ),
                            1 => a.add_instruction(
                                Instruction::with2(CMOV[cc], Register::R10, Register::R11).unwrap(),
                            ),
                            2 => {
                                let mut skip = a.create_label();
                                jcc(a, cc, skip)?;
                                a.mov(r12, 0x1234i64)?;
                                a.set_label(&mut skip)?;
                                a.nop()
                            }
                            3 => {
                                let mut next = a.create_label();
                                a.jmp(next)?;
                                a.set_label(&mut next)?;
                                a.add_instruction(
                                    Instruction::with1(SETCC[cc], Register::R13L).unwrap(),
                                )
                            }
                            4 => {
                                a.mov(rcx, 0x5555_aaaa_8000_0001u64 as i64)?;
                                a.mov(edx, 7)?;
                                a.mov(r8, rcx)?;
                                a.add_instruction(
                                    Instruction::with1(SETCC[cc], Register::R9L).unwrap(),
                                )
                            }
                            5 => {
                                a.add_instruction(
                                    Instruction::with1(SETCC[cc], Register::R9L).unwrap(),
                                )?;
                                a.lea(rcx, ptr(rcx + rdx + 1))?;
                                a.mov(cl, 0x80)?;
                                a.add_instruction(
                                    Instruction::with2(CMOV[cc], Register::R10, Register::R11)
                                        .unwrap(),
                                )
                            }
                            6 => {
                                let mut skip = a.create_label();
                                a.xchg(rcx, rdx)?;
                                a.mov(r8d, 0)?;
                                jcc(a, cc, skip)?;
                                a.mov(r12, 0x1234i64)?;
                                a.set_label(&mut skip)?;
                                a.nop()
                            }
                            8 => {
                                // the consumer overwrites the producer's first
                                // operand; a later one reads the flags again
                                a.add_instruction(
                                    Instruction::with2(CMOV[cc], Register::RCX, Register::R11)
                                        .unwrap(),
                                )?;
                                a.add_instruction(
                                    Instruction::with1(SETCC[cc], Register::R9L).unwrap(),
                                )
                            }
                            9 => {
                                a.add_instruction(
                                    Instruction::with1(SETCC[cc], Register::CL).unwrap(),
                                )?;
                                a.add_instruction(
                                    Instruction::with2(CMOV[cc], Register::R10, Register::R11)
                                        .unwrap(),
                                )
                            }
                            10 => {
                                let mut skip = a.create_label();
                                a.add_instruction(
                                    Instruction::with2(CMOV[cc], Register::RDX, Register::RCX)
                                        .unwrap(),
                                )?;
                                jcc(a, cc, skip)?;
                                a.mov(r12, 0x1234i64)?;
                                a.set_label(&mut skip)?;
                                a.nop()
                            }
                            11 => {
                                // 32-bit cmov of two registers known to be
                                // zero-extended (the lowering skips the
                                // wrap and extend of its result)
                                a.mov(r10d, r10d)?;
                                a.mov(r11d, r11d)?;
                                a.add_instruction(
                                    Instruction::with2(CMOV32[cc], Register::R10D, Register::R11D)
                                        .unwrap(),
                                )
                            }
                            _ => {
                                a.mov(dl, cl)?;
                                a.mov(ecx, edx)?;
                                a.add_instruction(
                                    Instruction::with2(CMOV[cc], Register::R10, Register::R11)
                                        .unwrap(),
                                )?;
                                a.add_instruction(
                                    Instruction::with1(SETCC[cc], Register::R9L).unwrap(),
                                )
                            }
                        }
                    });
                    snippets += 1;
                    let wasm = match transpile_snippet(&code_bytes) {
                        Ok(w) => w,
                        Err(e) => {
                            failures.push(format!("{name}{bits} + cc{cc}/{consumer}: {e}"));
                            continue;
                        }
                    };
                    let mut wasm = Wasm::new(&wasm);
                    for _ in 0..12 {
                        let mut case = case_for(&mut rng, &form);
                        if rng.below(3) == 0 {
                            case.regs[2] = case.regs[1]; // equal operands
                        }
                        let defined = defined_flags(&form, &case);
                        if CC_READS[cc] & !defined != 0 {
                            continue; // the condition reads a flag the producer left undefined
                        }
                        if let Some(diff) = compare(&code_bytes, &mut wasm, &case, defined, false) {
                            failures
                                .push(format!("{name}{bits} + cc{cc} consumer {consumer}: {diff}"));
                            break;
                        }
                    }
                }
            }
        }
    }
    assert!(snippets > 1000);
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Runs `code` natively and as wasm on `cases` random register sets (seeded
/// by `seed`) and fails at the first difference in registers, memory or
/// the status flags, naming `what`.
fn runs_as_on_the_cpu(code: &[u8], wasm: &[u8], seed: u64, cases: usize, what: &str) {
    let mut wasm = Wasm::new(wasm);
    let mut rng = Rng::new(seed);
    let form = Form {
        ins: Instruction::with(Code::Nopd),
        bits: 64,
    };
    for _ in 0..cases {
        let case = case_for(&mut rng, &form);
        if let Some(diff) = compare(code, &mut wasm, &case, STATUS, false) {
            panic!("{what}: {diff}");
        }
    }
}

#[test]
fn an_irreducible_loop_runs_as_on_the_cpu() {
    // Two ways into one loop: `a` by falling through, `b` by the first jump.
    // Neither entry dominates the other, so the structurer must give the
    // region a dispatch header of its own.
    let code = snippet(|a| {
        let mut block_a = a.create_label();
        let mut block_b = a.create_label();
        let mut done = a.create_label();
        a.mov(r8, rdx)?;
        a.and(r8, 7i32)?;
        a.add(r8, 1i32)?;
        a.test(rcx, 1i32)?;
        a.jne(block_b)?;
        a.set_label(&mut block_a)?;
        a.add(rax, 3i32)?;
        a.dec(r8)?;
        a.je(done)?;
        a.set_label(&mut block_b)?;
        a.imul_3(rax, rax, 5i32)?;
        a.add(rax, rdx)?;
        a.dec(r8)?;
        a.jne(block_a)?;
        a.set_label(&mut done)?;
        a.nop()
    });
    let wasm = transpile_snippet(&code).expect("irreducible code transpiles");
    let wat = wasmprinter::print_bytes(&wasm).unwrap();
    assert!(wat.contains("br_table"), "the region dispatches on a label");
    runs_as_on_the_cpu(&code, &wasm, 99, 500, "irreducible loop");
}

#[test]
fn what_the_lowering_knows_of_a_register_ends_where_paths_merge() {
    // The peephole drops the zero-extension of a 32-bit read when the
    // register was last written with a zero upper half in the same
    // straight-line code. A write on one path only must not count after the
    // paths merge (here: rax all ones on one path, 5 on the other), nor a
    // write inside a loop at the loop's head.
    let code = snippet(|a| {
        let mut skip = a.create_label();
        let mut top = a.create_label();
        a.mov(rax, -1i64)?;
        a.test(rcx, 1i32)?;
        a.je(skip)?;
        a.mov(eax, 5)?;
        a.set_label(&mut skip)?;
        a.mov(edx, eax)?; // rdx: 0xffff_ffff or 5
        a.mov(r9d, 7)?;
        a.mov(r8, rcx)?;
        a.and(r8, 3i32)?;
        a.set_label(&mut top)?;
        a.mov(r10d, r9d)?; // first pass: 7; later ones: 0xffff_ffff
        a.mov(r9, -1i64)?;
        a.sub(r8, 1i32)?;
        a.jns(top)
    });
    let wasm = transpile_snippet(&code).expect("transpiles");
    runs_as_on_the_cpu(&code, &wasm, 7, 200, "merge");
}

#[test]
fn a_branch_whose_two_edges_meet_runs_as_on_the_cpu() {
    // `jne` to the very next instruction: both edges of the branch reach one
    // block (the cfg's predecessor lists count such a block twice). A second
    // one inside a loop, before the back edge.
    let code = snippet(|a| {
        let mut next = a.create_label();
        let mut top = a.create_label();
        let mut again = a.create_label();
        a.mov(rax, rcx)?;
        a.cmp(rcx, rdx)?;
        a.jne(next)?;
        a.set_label(&mut next)?;
        a.add(rax, 1i32)?;
        a.mov(r8, rdx)?;
        a.and(r8, 3i32)?;
        a.set_label(&mut top)?;
        a.add(rax, rcx)?;
        a.test(rax, 1i32)?;
        a.je(again)?;
        a.set_label(&mut again)?;
        a.sub(r8, 1i32)?;
        a.jns(top)
    });
    let wasm = transpile_snippet(&code).expect("transpiles");
    runs_as_on_the_cpu(&code, &wasm, 11, 200, "branch to the next instruction");
}

#[test]
fn rep_movs_on_overlapping_buffers_copies_element_by_element() {
    // x86 copies forwards one element at a time: a destination inside the
    // source reads what the copy just wrote (`rep movsb` from rsi to rsi+1
    // spreads the first byte), which memmove does not do. Source and
    // destination here are 0 to 63 bytes into the scratch area, the
    // destination up to 8 bytes either side of the source, 0 to 31 elements.
    type Movs = fn(&mut CodeAssembler) -> Result<(), IcedError>;
    let forms: [(&str, Movs); 4] = [
        ("rep movsb", |a| a.rep().movsb()),
        ("rep movsw", |a| a.rep().movsw()),
        ("rep movsd", |a| a.rep().movsd()),
        ("rep movsq", |a| a.rep().movsq()),
    ];
    for (k, (what, movs)) in forms.into_iter().enumerate() {
        let code = snippet(|a| {
            a.and(rdx, 63i32)?;
            a.lea(rsi, ptr(rdx + SCRATCH as i32))?;
            a.and(r8, 15i32)?;
            a.lea(rdi, ptr(rsi + r8 - 8))?;
            a.and(rcx, 31i32)?;
            movs(a)
        });
        let wasm = transpile_snippet(&code).expect("rep movs transpiles");
        runs_as_on_the_cpu(&code, &wasm, 40 + k as u64, 400, what);
    }
}

#[test]
fn setting_the_direction_flag_is_refused() {
    // Backwards string operations are not lowered: `std` says so instead of
    // copying the wrong way.
    let code = snippet(|a| {
        a.std()?;
        a.rep().movsb()?;
        a.cld()
    });
    let err = transpile_snippet(&code).unwrap_err();
    assert!(err.contains("unsupported instruction `std`"), "{err}");
}

#[test]
fn division_after_the_dividend_is_extended_runs_as_on_the_cpu() {
    // `xor edx, edx` right before `div` (or `cqo` before `idiv`) makes the
    // dividend rax alone, and the lowering divides with wasm's own
    // division. Divisors are kept nonzero and signed dividends off i64::MIN
    // so the CPU never raises #DE here; the traps are checked in wasm below.
    type Body = fn(&mut CodeAssembler) -> Result<(), IcedError>;
    let forms: [(&str, Body); 5] = [
        ("xor edx, edx; div rcx", |a| {
            a.or(rcx, 1i32)?;
            a.xor(edx, edx)?;
            a.div(rcx)
        }),
        ("xor rdx, rdx; div rcx", |a| {
            a.or(rcx, 1i32)?;
            a.xor(rdx, rdx)?;
            a.div(rcx)
        }),
        ("mov edx, 0; div rcx", |a| {
            a.or(rcx, 1i32)?;
            a.mov(edx, 0)?;
            a.div(rcx)
        }),
        ("xor edx, edx; div ecx", |a| {
            a.or(ecx, 1i32)?;
            a.xor(edx, edx)?;
            a.div(ecx)
        }),
        ("cqo; idiv rcx", |a| {
            a.sar(rax, 1i32)?;
            a.or(rcx, 1i32)?;
            a.cqo()?;
            a.idiv(rcx)
        }),
    ];
    for (k, (what, body)) in forms.into_iter().enumerate() {
        // (the flags `div` leaves are undefined: a compare of its results
        // defines them)
        let code = snippet(|a| {
            body(a)?;
            a.cmp(rax, rdx)
        });
        let wasm = transpile_snippet(&code).expect("division transpiles");
        let wat = wasmprinter::print_bytes(&wasm).unwrap();
        // (the snippet is function 0; the 128-bit helpers come after it)
        let snippet_body = wat.split("(func (;1;)").next().unwrap();
        let quotient_check = snippet_body
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w == ["i64.const 4294967295", "i64.gt_u"]);
        assert!(
            !snippet_body.contains("call ") && !quotient_check,
            "{what}: divides without the 128-bit helper or a quotient check:\n{snippet_body}"
        );
        runs_as_on_the_cpu(&code, &wasm, 60 + k as u64, 300, what);
    }
    // #DE: a zero divisor, and i64::MIN / -1
    let traps: [(&str, Body); 2] = [
        ("div by zero", |a| {
            a.xor(ecx, ecx)?;
            a.xor(edx, edx)?;
            a.div(rcx)
        }),
        ("i64::MIN / -1", |a| {
            a.mov(rax, i64::MIN)?;
            a.mov(rcx, -1i64)?;
            a.cqo()?;
            a.idiv(rcx)
        }),
    ];
    for (what, body) in traps {
        let wasm = transpile_snippet(&snippet(body)).expect("division transpiles");
        let mut engine = Wasm::new(&wasm);
        let case = case_for(
            &mut Rng::new(1),
            &Form {
                ins: Instruction::with(Code::Nopd),
                bits: 64,
            },
        );
        let base = DATA as usize;
        load(&mut engine.mem()[base..base + DATA_SIZE], &case);
        assert!(engine.call("snippet", &[]).is_err(), "{what}: no trap");
    }
}

#[test]
fn calls_that_come_back_elsewhere_trap_or_run_as_on_the_cpu() {
    // Each snippet's functions are its own labels (calls make them functions
    // of the module). `exact`: the wasm must give the CPU's result;
    // otherwise it may instead trap, never give another result.
    type Body = fn(&mut CodeAssembler) -> Result<(), IcedError>;
    let cases: [(&str, bool, Body); 5] = [
        (
            "a tail jump out of a recursion group, calls of it pending",
            true,
            |a| {
                let (mut f, mut base, mut leaf, mut start) = (
                    a.create_label(),
                    a.create_label(),
                    a.create_label(),
                    a.create_label(),
                );
                a.jmp(start)?;
                a.set_label(&mut f)?;
                a.test(edi, edi)?;
                a.jle(base)?;
                a.push(rbx)?;
                a.mov(ebx, edi)?;
                a.lea(edi, ptr(rdi - 1))?;
                a.call(f)?;
                a.add(eax, ebx)?;
                a.pop(rbx)?;
                a.ret()?;
                a.set_label(&mut base)?;
                a.jmp(leaf)?;
                a.set_label(&mut leaf)?;
                a.lea(eax, ptr(rdi * 2 + 1000))?;
                a.ret()?;
                a.set_label(&mut start)?;
                a.mov(edi, ecx)?;
                a.and(edi, 7)?;
                a.call(f)
            },
        ),
        (
            "a call site that is also another function's code",
            true,
            |a| {
                // X jumps into the middle of F, onto F's own recursive call
                let (mut f, mut mid, mut zero, mut x, mut start) = (
                    a.create_label(),
                    a.create_label(),
                    a.create_label(),
                    a.create_label(),
                    a.create_label(),
                );
                a.jmp(start)?;
                a.set_label(&mut f)?;
                a.test(edi, edi)?;
                a.je(zero)?;
                a.dec(edi)?;
                a.set_label(&mut mid)?;
                a.call(f)?;
                a.add(eax, 1)?;
                a.ret()?;
                a.set_label(&mut zero)?;
                a.xor(eax, eax)?;
                a.ret()?;
                a.set_label(&mut x)?;
                a.mov(edi, ecx)?;
                a.and(edi, 3)?;
                a.jmp(mid)?;
                a.set_label(&mut start)?;
                a.mov(edi, edx)?;
                a.and(edi, 3)?;
                a.call(f)?;
                a.mov(r8, rax)?;
                a.call(x)
            },
        ),
        ("a callee that moves its return address on", false, |a| {
            let (mut g, mut start) = (a.create_label(), a.create_label());
            a.jmp(start)?;
            a.set_label(&mut g)?;
            a.add(qword_ptr(rsp), 3)?;
            a.ret()?;
            a.set_label(&mut start)?;
            a.xor(eax, eax)?;
            a.call(g)?;
            a.db(&[0x83, 0xc0, 0x01])?; // add eax, 1: 3 bytes, skipped natively
            a.add(eax, 10)
        }),
        (
            "call to the next instruction, popped (the get-rip idiom)",
            false,
            |a| {
                let mut next = a.create_label();
                a.call(next)?;
                a.set_label(&mut next)?;
                a.pop(rax)?;
                a.sub(rax, CODE as i32)
            },
        ),
        ("a callee that returns past its caller", false, |a| {
            let (mut f, mut g, mut start) = (a.create_label(), a.create_label(), a.create_label());
            a.jmp(start)?;
            a.set_label(&mut g)?;
            a.add(rsp, 8)?;
            a.ret()?;
            a.set_label(&mut f)?;
            a.mov(eax, 1)?;
            a.call(g)?;
            a.add(eax, 10)?;
            a.ret()?;
            a.set_label(&mut start)?;
            a.push(rax)?; // (f's frame: the return address lands 16-aligned)
            a.call(f)?;
            a.add(eax, 100)?;
            a.pop(rcx)
        }),
    ];
    for (k, (what, exact, body)) in cases.into_iter().enumerate() {
        let code = snippet(body);
        let wasm = transpile_snippet(&code).unwrap_or_else(|e| panic!("{what}: {e}"));
        let mut engine = Wasm::new(&wasm);
        let mut rng = Rng::new(70 + k as u64);
        let form = Form {
            ins: Instruction::with(Code::Nopd),
            bits: 64,
        };
        let mut trapped = 0;
        for _ in 0..50 {
            let case = case_for(&mut rng, &form);
            // (flags are not carried back from a call: compiled code never
            // reads them after one)
            match compare(&code, &mut engine, &case, 0, false) {
                None => {}
                Some(diff) if !exact && diff.starts_with("wasm trapped") => trapped += 1,
                Some(diff) => panic!("{what}: {diff}"),
            }
        }
        assert!(exact || trapped == 50, "{what}: {trapped} of 50 trapped");
    }
}

#[test]
fn a_stack_moved_below_its_base_by_any_write_of_rsp_traps() {
    // rsp set from rbp 8 MiB down (no push or sub moves it there): the
    // pushes that follow would write the program's data; they trap first.
    // (Natively this faults: it runs in wasm only.)
    let code = snippet(|a| {
        a.push(rbp)?;
        a.push(rbx)?;
        a.mov(rbx, rsp)?;
        a.lea(rbp, ptr(rsp - 0x80_0000 + 24))?;
        a.mov(rsp, rbp)?;
        a.push(0x41)?;
        a.push(0x42)?;
        a.mov(rsp, rbx)?;
        a.pop(rbx)?;
        a.pop(rbp)
    });
    let wasm = transpile_snippet(&code).expect("transpiles");
    let mut engine = Wasm::new(&wasm);
    let base = DATA as usize;
    let case = case_for(
        &mut Rng::new(3),
        &Form {
            ins: Instruction::with(Code::Nopd),
            bits: 64,
        },
    );
    load(&mut engine.mem()[base..base + DATA_SIZE], &case);
    assert!(engine.call("snippet", &[]).is_err(), "no trap");
}

/// Three FMA operands `x * y + z` as bits that stress one rounding: any
/// bits, exact and near cancellation (`z` = -RN(x * y), a few steps off),
/// products exactly halfway between two floats, subnormal results, and
/// products near overflow. `double`: f64, else f32 (in the low 32 bits).
fn hard_fma_case(rng: &mut Rng, double: bool) -> [u64; 3] {
    // an ordinary value with exponent `e` and random significand, any sign
    let near = |rng: &mut Rng, e: i32| -> f64 {
        let m = 1.0 + (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
        let s = if rng.below(2) == 0 { 1.0 } else { -1.0 };
        s * m * 2f64.powi(e)
    };
    let (emax, emin, sig) = if double {
        (1023, -1074, 53)
    } else {
        (127, -149, 24)
    };
    let round = |v: f64| if double { v } else { v as f32 as f64 };
    let [x, y, z]: [f64; 3] = match rng.below(7) {
        6 if !double => {
            // x * y just short of half an ulp of z, with z's last bit set: a
            // sum rounded to nearest in f64 would land on the midpoint, and
            // to nearest even in f32 round the wrong way
            let e = rng.below(60) as i32 - 30;
            let z =
                f32::from_bits((((127 + e) as u32) << 23) | (rng.next() as u32 & 0x7f_fffe) | 1);
            let y = (32767.0f32 * 2f32.powi(e - 54)) as f64;
            let sign = if rng.below(2) == 0 { 1.0 } else { -1.0 };
            [32769.0, sign * y, sign * z as f64]
        }
        0 => {
            let mut bits = [0u64; 3];
            for b in &mut bits {
                *b = if double {
                    rng.next()
                } else {
                    rng.next() & 0xffff_ffff
                };
            }
            return bits;
        }
        1 | 2 => {
            let (ex, ey) = (rng.below(20) as i32 - 10, rng.below(20) as i32 - 10);
            let (x, y) = (round(near(rng, ex)), round(near(rng, ey)));
            let p = round(x * y);
            let z = if double {
                f64::from_bits(((-p).to_bits() as i64 + rng.below(5) as i64 - 2) as u64)
            } else {
                f32::from_bits(((-p as f32).to_bits() as i32 + rng.below(5) as i32 - 2) as u32)
                    as f64
            };
            [x, y, z]
        }
        3 => {
            // odd integers of half the significand each: a product of
            // `sig + 1` bits, its last one set, is halfway
            let half = (sig + 2) / 2;
            let odd = |rng: &mut Rng| ((rng.next() >> (64 - half)) | 1 | 1 << (half - 1)) as f64;
            let (x, y) = (odd(rng), odd(rng));
            let scale = 2f64.powi(rng.below(40) as i32 - 20);
            let e = rng.below(8) as i32 - 4;
            let z = if rng.below(2) == 0 { 0.0 } else { near(rng, e) };
            [x * scale, y, round(z * scale)]
        }
        4 => {
            let e = emin + rng.below(40) as i32;
            let (x, y) = (round(near(rng, e / 2)), round(near(rng, e - e / 2)));
            let ez = emin + rng.below(30) as i32;
            let z = if rng.below(2) == 0 {
                0.0
            } else {
                round(near(rng, ez))
            };
            [x, y, z]
        }
        _ => {
            let (x, y) = (
                round(near(rng, emax / 2 + 1)),
                round(near(rng, emax - emax / 2 - 1)),
            );
            let ez = emax - rng.below(3) as i32;
            let z = round(near(rng, ez));
            [x, y, z]
        }
    };
    if double {
        [x.to_bits(), y.to_bits(), z.to_bits()]
    } else {
        [
            (x as f32).to_bits() as u64,
            (y as f32).to_bits() as u64,
            (z as f32).to_bits() as u64,
        ]
    }
}

#[test]
fn fused_multiply_add_rounds_once_as_the_cpu_on_hard_cases() {
    if !std::arch::is_x86_feature_detected!("fma") {
        eprintln!("skipped: this CPU has no FMA");
        return;
    }
    let mut rng = Rng::new(0xf3a);
    let mut failures = Vec::new();
    for double in [true, false] {
        let code = snippet(|a| {
            if double {
                a.vfmadd231sd(xmm0, xmm1, xmm2)
            } else {
                a.vfmadd231ss(xmm0, xmm1, xmm2)
            }
        });
        let mut wasm = Wasm::new(&transpile_snippet(&code).unwrap());
        for _ in 0..50_000 {
            let [x, y, z] = hard_fma_case(&mut rng, double);
            let mut xmm = vec![0u8; 512];
            for (register, value) in [(1, x), (2, y), (0, z)] {
                xmm[16 * register..16 * register + 8].copy_from_slice(&value.to_le_bytes());
            }
            let case = Case {
                regs: [0; 16],
                xmm,
                flags: 2,
                scratch: vec![0; SCRATCH_SIZE],
            };
            if let Some(diff) = compare(&code, &mut wasm, &case, STATUS, false) {
                failures.push(format!(
                    "{} {x:#x} * {y:#x} + {z:#x}: {}",
                    if double { "f64" } else { "f32" },
                    diff.split(" | ").next().unwrap_or("")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} hard cases differ:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

/// The value of IEEE half-precision bits `h` (finite).
fn half_value(h: u16) -> f64 {
    let (e, m) = ((h >> 10) & 0x1f, (h & 0x3ff) as f64);
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    sign * if e == 0 {
        m * 2f64.powi(-24)
    } else {
        (1024.0 + m) * 2f64.powi(e as i32 - 25)
    }
}

#[test]
fn a_256_bit_shift_counted_by_its_own_destination_is_refused() {
    // `vpsllq ymm1, ymm2, xmm1`: lowered half by half, the low half's
    // result would replace the count before the high half reads it
    let code = snippet(|a| a.vpsllq(ymm1, ymm2, xmm1));
    let error = transpile_snippet(&code).unwrap_err();
    assert!(error.contains("vpsllq ymm1,ymm2,xmm1"), "{error}");
    // with another count register it runs (the forms test compares it)
    assert!(transpile_snippet(&snippet(|a| a.vpsllq(ymm1, ymm2, xmm3))).is_ok());
}

/// `vpsllq ymm1, ymm2, xmm1` & co., which the transpiler refuses
/// (`a_256_bit_shift_counted_by_its_own_destination_is_refused`).
fn is_256_count_of_destination(ins: &Instruction) -> bool {
    let d = ins.op0_register();
    d.is_ymm()
        && (1..ins.op_count()).any(|i| {
            ins.op_kind(i) == iced_x86::OpKind::Register
                && ins.op_register(i).is_xmm()
                && ins.op_register(i).number() == d.number()
        })
}
