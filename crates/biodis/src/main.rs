//! `biodis`: the command-line program (a thin layer over the library crates; see [`biodis::run`]).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Behave like a Unix filter when piped into `head`: exit quietly on a closed pipe.
    #[cfg(unix)]
    #[allow(unsafe_code, reason = "libc::signal: the one FFI call of the binary")]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(biodis::run(std::env::args_os()));
}
