//! `biodis` as a library: the command-line program's commands ([`run`]), so that the binary
//! (`main.rs`) and the Python package's `biodis` console script (`crates/biodis-py`) run the
//! very same code. Everything numerical lives in the focused crates (`biodis-study`,
//! `biodis-metrics`, `biodis-nn`, `biodis-vae`, `biodis-cells`, `biodis-report`, ...); this crate
//! only checks arguments and turns them into their library calls.

mod bench;
mod cli;
mod protocol;
mod score;
mod spatial;

pub use cli::run;
