//! Runtime CPU-feature dispatch for the hand-written elementwise passes (DESIGN.md: one
//! binary for every node of a cluster, no `-C target-cpu=native`). The hot functions are
//! compiled twice — generic x86-64 and AVX2+FMA — and the AVX2 copy is used when the CPU has
//! it. No `mul_add` is written in these passes, so both copies round identically (LLVM does
//! not contract `a * b + c` into an FMA without fast-math); GEMM dispatch is the `gemm` crate's.

/// True when the running CPU supports AVX2 and FMA (cached by std after the first call).
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}
