//! The machinery of the corpus-driven fuzz harnesses (`crates/biodis-data/tests/fuzz_corpus.rs`
//! for the file readers, `crates/biodis-study/tests/fuzz_corpus.rs` for the recipe parser),
//! included by both with `#[path]`.
//!
//! Corpus-driven fuzzing of the file readers (`.npy`, `.npz`, `.csv`, HDF5): every file of the
//! committed seed corpus (`fuzz/corpus/<reader>/`, made by `fuzz/make_corpus.py`; the HDF5 seed
//! is the Shapes3D test fixture) and seeded mutations of each — truncations, byte overwrites,
//! insertions, a header field set to a huge number — go through the reader.
//!
//! Every case must return (no panic, no abort), every error must name the file, and no case may
//! obtain more than [`MAX_ALLOC`] in one allocation: the test's global allocator refuses larger
//! requests, so a reader that allocates for a declared size before checking it against the
//! bytes that are there aborts the test, while one that reserves fallibly (`try_reserve`, as
//! `rust-hdf5` does) gets its refusal and must turn it into an error.
//!
//! `BIODIS_FUZZ_CASES` (default 150) sets the mutations per seed file; `.ci/run` runs it with
//! more for a bounded time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The largest single allocation a reader may make for one fuzz case (the seeds are a few KB).
const MAX_ALLOC: usize = 64 << 20;

struct Counting;
/// Requests above [`MAX_ALLOC`] refused (each one handled by its caller, or the test aborts).
static REFUSED: AtomicUsize = AtomicUsize::new(0);

#[allow(
    unsafe_code,
    reason = "a GlobalAlloc that refuses oversized requests (the fuzz harness's memory bound)"
)]
// SAFETY: every request is either refused with a null pointer (which `GlobalAlloc` allows) or
// passed unchanged to the system allocator, which upholds the contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if l.size() > MAX_ALLOC {
            REFUSED.fetch_add(1, Ordering::Relaxed);
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` came from `System` (every pointer this allocator returns does).
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > MAX_ALLOC {
            REFUSED.fetch_add(1, Ordering::Relaxed);
            return std::ptr::null_mut();
        }
        // SAFETY: `p` came from `System`; the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

pub fn cases() -> usize {
    std::env::var("BIODIS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150)
}

pub fn corpus(kind: &str) -> Vec<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(kind);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "{}: empty corpus", d.display());
    v
}

/// One seeded mutation of `seed`.
pub fn mutate(seed: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    match rng.gen_range(0..6) {
        0 => b.truncate(rng.gen_range(0..=b.len())),
        1 => {
            for _ in 0..rng.gen_range(1..5) {
                if !b.is_empty() {
                    let i = rng.gen_range(0..b.len());
                    b[i] = rng.gen();
                }
            }
        }
        2 => {
            let i = rng.gen_range(0..=b.len());
            let n = rng.gen_range(1..16);
            let junk: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
            b.splice(i..i, junk);
        }
        3 => {
            // a digit replaced by a huge number (shapes in .npy headers, CSV cells, recipe
            // counts): any digit of the file, uniformly
            let digits: Vec<usize> = (0..b.len()).filter(|&k| b[k].is_ascii_digit()).collect();
            if !digits.is_empty() {
                let i = digits[rng.gen_range(0..digits.len())];
                let big = [
                    "1000000000000",
                    "18446744073709551615",
                    "99999999999999999999",
                    "-1",
                ][rng.gen_range(0..4)];
                b.splice(i..i + 1, big.bytes());
            }
        }
        4 => {
            // a little-endian u32/u64 field overwritten with a large value (zip / HDF5 sizes)
            if b.len() >= 8 {
                let i = rng.gen_range(0..=b.len() - 8);
                let v: u64 = [u64::MAX, 1 << 40, 1 << 31, u32::MAX as u64][rng.gen_range(0..4)];
                b[i..i + 8].copy_from_slice(&v.to_le_bytes());
            }
        }
        _ => {
            // a block duplicated
            if b.len() > 2 {
                let i = rng.gen_range(0..b.len() - 1);
                let j = rng.gen_range(i + 1..=b.len().min(i + 64));
                let blk = b[i..j].to_vec();
                b.splice(j..j, blk);
            }
        }
    }
    b
}

/// Runs `read` on every seed of `kind` and `cases()` mutations of each, in a temporary file
/// named like the seed.
pub fn fuzz(kind: &str, seeds: Vec<PathBuf>, read: impl Fn(&Path) -> Result<(), String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
    let mut errors = 0;
    let mut total = 0;
    for seed in seeds {
        let bytes = std::fs::read(&seed).unwrap();
        let name = seed.file_name().unwrap().to_string_lossy().to_string();
        for case in 0..=cases() {
            let data = if case == 0 {
                bytes.clone()
            } else {
                mutate(&bytes, &mut rng)
            };
            let p = dir.path().join(format!("m{case}-{name}"));
            std::fs::write(&p, &data).unwrap();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(&p)));
            let shown = p.file_name().unwrap().to_string_lossy().to_string();
            match r {
                Err(_) => panic!("{kind}: {name} case {case} panicked (input kept in {shown})"),
                Ok(Err(e)) => {
                    errors += 1;
                    assert!(
                        e.contains(&shown),
                        "{kind}: {name} case {case}: error without the file name: {e}"
                    );
                }
                Ok(Ok(())) => {}
            }
            let _ = std::fs::remove_file(&p);
            total += 1;
        }
    }
    eprintln!(
        "{kind}: {total} cases, {errors} refused with a named error; {} allocations over {MAX_ALLOC} bytes refused (so far, all tests)",
        REFUSED.load(Ordering::Relaxed)
    );
}
