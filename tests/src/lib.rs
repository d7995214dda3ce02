//! Helpers for end-to-end tests: free ports, child processes that stop when dropped, paths of
//! built artifacts.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

/// The cargo target directory the tests were built into.
pub fn target_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target"))
}

/// Where tests save screenshots (`E2E_SCREENSHOT_DIR`, else `<target>/e2e-screenshots`).
pub fn screenshot_dir() -> PathBuf {
    let dir = std::env::var("E2E_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| target_dir().join("e2e-screenshots"));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// A free loopback port.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something listens on the loopback port, at most `timeout`.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A child process killed (and reaped) when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `cmd` with its output inherited, killed when the guard drops.
pub fn spawn(cmd: &mut Command) -> std::io::Result<KillOnDrop> {
    cmd.stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().map(KillOnDrop)
}

/// Whether a program is on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}
