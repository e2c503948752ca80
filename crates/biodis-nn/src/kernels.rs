//! Which machine code the dense path runs: the CPU it is on, the GEMM kernels and elementwise
//! passes picked for it, and how many threads one product may use.
//!
//! One binary serves every node of a cluster (DESIGN.md: no `-C target-cpu=native`), so the
//! choice is made at run time, once per process, from what the CPU reports (CPUID feature bits
//! plus vendor and family) and the measurements behind the policy:
//!
//! - **AVX-512** (the `gemm` crate's `x86-v4` kernels and AVX-512 copies of the elementwise
//!   passes) where the CPU has `avx512f` and is not AMD family 25. Zen 5 (AMD family 26, full
//!   512-bit datapaths) measured up to 1.7× faster with them on the paper's shapes; Intel servers
//!   with AVX-512 take them too (not measured by us).
//! - **AVX-512 GEMM kernels with AVX2 elementwise passes** on AMD family 25 with `avx512f` (Zen
//!   4, which executes 512-bit operations as two 256-bit halves): measured side by side on a
//!   Zen 4 core in session 18, the AVX-512 GEMM kernels were as fast or faster than AVX2 on the
//!   GEMM peak, B2 and B3 and equal on B1 and the conv VAE, the AVX-512 elementwise copies slower
//!   (the per-round ratios are in the README's Speed section and `docs/bench/zen4-session18`).
//!   An earlier measurement by the author had B1 −2–4 % and the conv VAE −11 % with
//!   AVX-512 GEMM, which is why main had kept AVX2 there.
//! - **AVX2 + FMA** otherwise where present (family 25 without `avx512f` is Zen 3).
//! - portable x86-64 / other architectures: the generic code.
//!
//! `BIODIS_KERNELS=auto|avx2|avx512` overrides the policy for both parts, and
//! `BIODIS_KERNELS=gemm=PATH,elementwise=PATH` for each (`auto` is the default; asking for
//! AVX-512 on a CPU without it is an error). Every kernel path computes the same IEEE-754
//! operations in the same order (no contraction into FMA in the elementwise passes; the GEMM
//! kernels differ only in register width), see [`crate::mlp`] and the bit-identity tests.
//!
//! `biodis bench explain` prints [`choice`].
//!
//! Threads of one product: [`set_gemm_threads`] (per calling thread, default 1; `biodis bench
//! B1|B2|B3 --threads N`). The `gemm` crate splits a product over output blocks, never over the
//! summed dimension, so the results do not depend on it (tested to the bit). The trainer does not
//! use it: on the paper's shapes (products of 20–200 µs) two threads measured slower than one
//! (README, Speed), so a lone run stays on one thread.

use serde::Serialize;
use std::cell::Cell;
use std::sync::OnceLock;

/// Instruction sets a kernel path can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Isa {
    /// AVX-512F (with AVX2 and FMA).
    Avx512,
    /// AVX2 + FMA.
    Avx2,
    /// Baseline code for the target.
    Portable,
}

/// What the running CPU reports (x86-64: CPUID; elsewhere only the architecture).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuInfo {
    pub arch: &'static str,
    /// CPUID vendor string (`AuthenticAMD`, `GenuineIntel`), empty off x86-64.
    pub vendor: String,
    /// Display family (base + extended, as `/proc/cpuinfo`'s `cpu family`).
    pub family: u32,
    /// Display model (as `/proc/cpuinfo`'s `model`).
    pub model: u32,
    /// Brand string.
    pub name: String,
    pub avx2: bool,
    pub fma: bool,
    pub avx512f: bool,
    /// Logical CPUs this process may use.
    pub threads: usize,
}

impl CpuInfo {
    /// The microarchitecture where vendor, family and model identify it, else "".
    pub fn microarchitecture(&self) -> &'static str {
        match (self.vendor.as_str(), self.family) {
            ("AuthenticAMD", 23) => "AMD Zen / Zen 2",
            ("AuthenticAMD", 25) if self.avx512f => "AMD Zen 4",
            ("AuthenticAMD", 25) => "AMD Zen 3",
            ("AuthenticAMD", 26) => "AMD Zen 5",
            ("GenuineIntel", 6) if self.avx512f => "Intel with AVX-512",
            ("GenuineIntel", 6) => "Intel without AVX-512",
            _ => "",
        }
    }
}

/// The kernel paths chosen for this process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub cpu: CpuInfo,
    /// What `BIODIS_KERNELS` asked for (`auto` when unset).
    pub requested: String,
    /// GEMM micro-kernels (the `gemm` crate's).
    pub gemm: Isa,
    /// The hand-written elementwise passes and Adam.
    pub elementwise: Isa,
    /// Why, in words.
    pub reason: String,
    /// Whether this build contains the AVX-512 GEMM kernels.
    pub avx512_built: bool,
}

/// A `BIODIS_KERNELS` value the running CPU cannot honour, or one not understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KernelsError {
    #[error("BIODIS_KERNELS={0:?}: expected auto, avx2 or avx512, or gemm=PATH,elementwise=PATH")]
    Unknown(String),
    #[error("BIODIS_KERNELS={requested}: this CPU ({name}) does not support {missing}")]
    Unsupported {
        requested: String,
        name: String,
        missing: &'static str,
    },
}

/// The running CPU.
pub fn cpu_info() -> CpuInfo {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    #[cfg(target_arch = "x86_64")]
    {
        let (vendor, family, model, name) = cpuid_ident();
        CpuInfo {
            arch: "x86_64",
            vendor,
            family,
            model,
            name,
            avx2: std::is_x86_feature_detected!("avx2"),
            fma: std::is_x86_feature_detected!("fma"),
            avx512f: std::is_x86_feature_detected!("avx512f"),
            threads,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    CpuInfo {
        arch: std::env::consts::ARCH,
        vendor: String::new(),
        family: 0,
        model: 0,
        name: String::new(),
        avx2: false,
        fma: false,
        avx512f: false,
        threads,
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code, unused_unsafe, reason = "CPUID is an unprivileged query")]
fn cpuid_ident() -> (String, u32, u32, String) {
    use std::arch::x86_64::__cpuid;
    // SAFETY: CPUID exists on every x86-64 CPU; leaves above the reported maximum are not read.
    let l0 = unsafe { __cpuid(0) };
    let mut vendor = Vec::with_capacity(12);
    for r in [l0.ebx, l0.edx, l0.ecx] {
        vendor.extend_from_slice(&r.to_le_bytes());
    }
    let vendor = String::from_utf8_lossy(&vendor).trim().to_string();
    let (mut family, mut model) = (0, 0);
    if l0.eax >= 1 {
        // SAFETY: leaf 1 is within the maximum basic leaf (checked).
        let a = unsafe { __cpuid(1) }.eax;
        let (base_fam, base_model) = ((a >> 8) & 0xf, (a >> 4) & 0xf);
        let (ext_fam, ext_model) = ((a >> 20) & 0xff, (a >> 16) & 0xf);
        family = if base_fam == 0xf {
            base_fam + ext_fam
        } else {
            base_fam
        };
        model = if base_fam == 0xf || base_fam == 0x6 {
            base_model | (ext_model << 4)
        } else {
            base_model
        };
    }
    // SAFETY: extended leaf 0x8000_0000 always exists; the brand leaves only if reported.
    let max_ext = unsafe { __cpuid(0x8000_0000) }.eax;
    let mut name = Vec::with_capacity(48);
    if max_ext >= 0x8000_0004 {
        for leaf in 0x8000_0002..=0x8000_0004u32 {
            // SAFETY: leaf ≤ the maximum extended leaf (checked).
            let r = unsafe { __cpuid(leaf) };
            for v in [r.eax, r.ebx, r.ecx, r.edx] {
                name.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    let name = String::from_utf8_lossy(&name)
        .trim_matches(char::from(0))
        .trim()
        .to_string();
    (vendor, family, model, name)
}

/// The policy of the module docs for `cpu` and a `BIODIS_KERNELS` value (`None`: unset).
///
/// The value is one path for both (`auto`, `avx2`, `avx512`) or a comma list naming
/// each part, `gemm=PATH,elementwise=PATH` (a part left out takes `auto`'s choice), e.g.
/// `gemm=avx512,elementwise=avx2` to measure the two parts separately.
pub fn decide(cpu: &CpuInfo, requested: Option<&str>) -> Result<Choice, KernelsError> {
    let avx512_built = cfg!(target_arch = "x86_64");
    let req = requested
        .map(str::trim)
        .unwrap_or("auto")
        .to_ascii_lowercase();
    let (auto_gemm, auto_ew, auto_reason) = auto_policy(cpu, avx512_built);
    let (gemm, elementwise, reason) = if req.contains('=') || req.contains(',') {
        let (mut g, mut e) = (None, None);
        for part in req.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, val) = part
                .split_once('=')
                .ok_or_else(|| KernelsError::Unknown(req.clone()))?;
            match key.trim() {
                "gemm" => g = Some(parse_isa(cpu, &req, val.trim(), auto_gemm)?),
                "elementwise" => e = Some(parse_isa(cpu, &req, val.trim(), auto_ew)?),
                _ => return Err(KernelsError::Unknown(req.clone())),
            }
        }
        (
            g.unwrap_or(auto_gemm),
            e.unwrap_or(auto_ew),
            format!("BIODIS_KERNELS={req}"),
        )
    } else if matches!(req.as_str(), "auto" | "") {
        (auto_gemm, auto_ew, auto_reason)
    } else {
        let isa = parse_isa(cpu, &req, &req, auto_gemm)?;
        (isa, isa, format!("BIODIS_KERNELS={req}"))
    };
    Ok(Choice {
        cpu: cpu.clone(),
        requested: if req.is_empty() { "auto".into() } else { req },
        gemm,
        elementwise,
        reason,
        avx512_built,
    })
}

/// The automatic choice for `cpu` (the module docs' policy): GEMM kernels, elementwise passes,
/// and the reason in words.
fn auto_policy(cpu: &CpuInfo, avx512_built: bool) -> (Isa, Isa, String) {
    let avx2 = cpu.avx2 && cpu.fma;
    if cpu.avx512f && avx2 && avx512_built {
        if cpu.vendor == "AuthenticAMD" && cpu.family == 25 {
            (
                Isa::Avx512,
                Isa::Avx2,
                "AMD family 25 with AVX-512 (Zen 4, 512-bit operations as two 256-bit halves): \
                 the AVX-512 GEMM kernels measured faster than the AVX2 ones (GEMM peak, B2, B3) \
                 and the AVX2 elementwise passes faster than the AVX-512 ones (README, Speed)"
                    .to_string(),
            )
        } else {
            (
                Isa::Avx512,
                Isa::Avx512,
                "AVX-512 present with full-width execution expected (not AMD family 25)"
                    .to_string(),
            )
        }
    } else if avx2 {
        (
            Isa::Avx2,
            Isa::Avx2,
            "AVX2 and FMA present, no AVX-512".to_string(),
        )
    } else {
        (Isa::Portable, Isa::Portable, "no AVX2/FMA".to_string())
    }
}

/// One path word of `BIODIS_KERNELS` (`req`: the whole value, for the error), checked against
/// the CPU.
fn parse_isa(cpu: &CpuInfo, req: &str, word: &str, auto: Isa) -> Result<Isa, KernelsError> {
    let avx2 = cpu.avx2 && cpu.fma;
    match word {
        "auto" | "" => Ok(auto),
        "avx2" if avx2 => Ok(Isa::Avx2),
        "avx2" => Err(KernelsError::Unsupported {
            requested: req.to_string(),
            name: cpu.name.clone(),
            missing: "AVX2 and FMA",
        }),
        "avx512" if cpu.avx512f && avx2 => Ok(Isa::Avx512),
        "avx512" => Err(KernelsError::Unsupported {
            requested: req.to_string(),
            name: cpu.name.clone(),
            missing: "AVX-512F",
        }),
        _ => Err(KernelsError::Unknown(req.to_string())),
    }
}

static CHOICE: OnceLock<Choice> = OnceLock::new();

/// Checks `BIODIS_KERNELS` against this CPU (the CLI calls it first, to refuse a bad value before
/// any work; the library itself falls back to `auto` with the refusal in [`Choice::reason`]).
pub fn check_env() -> Result<&'static Choice, KernelsError> {
    let req = std::env::var("BIODIS_KERNELS").ok();
    decide(&cpu_info(), req.as_deref())?;
    Ok(choice())
}

/// The kernel paths of this process, decided on first use (and the `gemm` crate told).
pub fn choice() -> &'static Choice {
    CHOICE.get_or_init(|| {
        let cpu = cpu_info();
        let req = std::env::var("BIODIS_KERNELS").ok();
        let c = match decide(&cpu, req.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                let mut c = decide(&cpu, None).expect("auto always decides");
                c.reason = format!("{e}; fell back to auto: {}", c.reason);
                c
            }
        };
        gemm_common::set_x86_v4_allowed(c.gemm == Isa::Avx512);
        c
    })
}

/// The kernel paths and CPU of this process in one line, for a run's provenance
/// (`result.json`'s `versions.kernels`), e.g.
/// `gemm=avx512 elementwise=avx2 (AMD Zen 4: AuthenticAMD family 25 model 17)`.
pub fn provenance() -> String {
    let c = choice();
    let isa = |i: Isa| match i {
        Isa::Avx512 => "avx512",
        Isa::Avx2 => "avx2",
        Isa::Portable => "portable",
    };
    let arch = c.cpu.microarchitecture();
    format!(
        "gemm={} elementwise={} ({}{}{} family {} model {})",
        isa(c.gemm),
        isa(c.elementwise),
        arch,
        if arch.is_empty() { "" } else { ": " },
        if c.cpu.vendor.is_empty() {
            c.cpu.arch
        } else {
            c.cpu.vendor.as_str()
        },
        c.cpu.family,
        c.cpu.model
    )
}

/// The elementwise passes' instruction set (cheap after the first call).
#[inline]
pub fn elementwise() -> Isa {
    choice().elementwise
}

thread_local! {
    static GEMM_THREADS: Cell<usize> = const { Cell::new(1) };
}

/// Threads one GEMM issued from **this thread** may use (≥ 1; products under ~1M
/// multiply-adds stay on one). The extra threads are those of the rayon pool the caller runs in
/// (e.g. a benchmark's), taken by work stealing. Per thread, so that code that parallelises
/// otherwise (the VAE engine splits its batch) is not affected by another thread's setting.
pub fn set_gemm_threads(n: usize) {
    GEMM_THREADS.with(|c| c.set(n.max(1)));
}

/// Threads one GEMM issued from this thread may use.
#[inline]
pub fn gemm_threads() -> usize {
    GEMM_THREADS.with(|c| c.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(vendor: &str, family: u32, avx512f: bool) -> CpuInfo {
        CpuInfo {
            arch: "x86_64",
            vendor: vendor.into(),
            family,
            model: 0,
            name: "test cpu".into(),
            avx2: true,
            fma: true,
            avx512f,
            threads: 2,
        }
    }

    #[test]
    fn policy_per_family() {
        let zen3 = decide(&cpu("AuthenticAMD", 25, false), None).unwrap();
        assert_eq!(zen3.gemm, Isa::Avx2);
        let zen4 = decide(&cpu("AuthenticAMD", 25, true), None).unwrap();
        assert_eq!((zen4.gemm, zen4.elementwise), (Isa::Avx512, Isa::Avx2));
        assert!(zen4.reason.contains("Zen 4"));
        let zen5 = decide(&cpu("AuthenticAMD", 26, true), None).unwrap();
        assert_eq!((zen5.gemm, zen5.elementwise), (Isa::Avx512, Isa::Avx512));
        let intel = decide(&cpu("GenuineIntel", 6, true), Some("auto")).unwrap();
        assert_eq!(intel.gemm, Isa::Avx512);
        let mut old = cpu("GenuineIntel", 6, false);
        old.avx2 = false;
        assert_eq!(decide(&old, None).unwrap().gemm, Isa::Portable);
    }

    #[test]
    fn overrides_are_checked() {
        let zen4 = cpu("AuthenticAMD", 25, true);
        assert_eq!(decide(&zen4, Some("AVX512")).unwrap().gemm, Isa::Avx512);
        assert_eq!(
            decide(&cpu("AuthenticAMD", 26, true), Some("avx2"))
                .unwrap()
                .gemm,
            Isa::Avx2
        );
        let e = decide(&cpu("AuthenticAMD", 25, false), Some("avx512")).unwrap_err();
        assert!(e.to_string().contains("AVX-512F"), "{e}");
        let e = decide(&zen4, Some("sse9")).unwrap_err();
        assert_eq!(e, KernelsError::Unknown("sse9".into()));
        // the two parts named separately; a part left out takes auto's choice
        let split = decide(&zen4, Some("gemm=avx512, elementwise=avx2")).unwrap();
        assert_eq!((split.gemm, split.elementwise), (Isa::Avx512, Isa::Avx2));
        let g = decide(&cpu("AuthenticAMD", 25, false), Some("elementwise=avx2")).unwrap();
        assert_eq!((g.gemm, g.elementwise), (Isa::Avx2, Isa::Avx2));
        let g = decide(&zen4, Some("gemm=avx2")).unwrap();
        assert_eq!((g.gemm, g.elementwise), (Isa::Avx2, Isa::Avx2));
        let both = decide(&zen4, Some("avx512")).unwrap();
        assert_eq!((both.gemm, both.elementwise), (Isa::Avx512, Isa::Avx512));
        for bad in ["gemm=avx9", "gemm", "simd=avx2", "gemm=avx2,elementwise"] {
            let e = decide(&zen4, Some(bad)).unwrap_err();
            assert_eq!(e, KernelsError::Unknown(bad.into()), "{bad}");
        }
        let e = decide(&cpu("AuthenticAMD", 25, false), Some("gemm=avx512")).unwrap_err();
        assert!(
            e.to_string().contains("gemm=avx512") && e.to_string().contains("AVX-512F"),
            "{e}"
        );
    }

    #[test]
    fn this_cpu_is_described() {
        let p = provenance();
        assert!(p.starts_with("gemm=") && p.contains(" elementwise="), "{p}");
        assert!(p.contains(&format!("model {}", choice().cpu.model)), "{p}");
        let c = cpu_info();
        #[cfg(target_arch = "x86_64")]
        {
            assert!(!c.vendor.is_empty());
            assert!(c.family > 0);
            // CPUID and std's detection agree on the feature bits they share
            assert_eq!(c.avx2, std::is_x86_feature_detected!("avx2"));
        }
        assert!(c.threads >= 1);
    }
}
