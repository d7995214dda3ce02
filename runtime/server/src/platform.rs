//! What the C library offers that Rust's standard library does not: the one module of the
//! runtime allowed `unsafe` code.
#![allow(unsafe_code)] // reason: a call into glibc that takes no pointers

/// Gives the free parts of the heap back to the operating system. glibc keeps memory freed by
/// a burst of requests inside the process (in every thread's arena) until it is asked; the
/// server asks once its runs have ended and it is idle.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes a byte count and no pointers, and locks each arena it trims.
    unsafe {
        libc::malloc_trim(0);
    }
}
