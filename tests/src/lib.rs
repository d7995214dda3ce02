//! Helpers for end-to-end tests: free ports, child processes that stop when dropped, paths of
//! built artifacts.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

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

/// The variables that make the bundled Jarvis example use a real provider (its
/// `first_available` model): no child of a test sees them (nor the runtimes it starts), so
/// that no test depends on the developer's keys.
pub const PROVIDER_KEYS: [&str; 2] = ["ANTHROPIC_API_KEY", "OPENAI_API_KEY"];

/// Takes [`PROVIDER_KEYS`] out of `cmd`'s environment.
pub fn without_provider_keys(cmd: &mut Command) -> &mut Command {
    for k in PROVIDER_KEYS {
        cmd.env_remove(k);
    }
    cmd
}

/// Spawns `cmd` with its output inherited, killed when the guard drops.
pub fn spawn(cmd: &mut Command) -> std::io::Result<KillOnDrop> {
    without_provider_keys(cmd)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map(KillOnDrop)
}

/// Whether a program is on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// A real `langgraph dev` server (LangGraph's own, in Python) serving a copy of the golden
/// project in `tests/lgdev/proj`, on a free loopback port; stopped when dropped.
///
/// The server comes from the venv `.ci/setup.sh` makes (`ORRERY_LGDEV_VENV`, default
/// `~/.cache/orrery/venv-lgdev`, pinned by `tests/lgdev/requirements.txt`).
pub struct LangGraphDev {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    child: Child,
    _dir: TempDir,
}

/// The venv that holds `langgraph dev`.
pub fn lgdev_venv() -> PathBuf {
    std::env::var_os("ORRERY_LGDEV_VENV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/orrery/venv-lgdev")
    })
}

impl LangGraphDev {
    /// Starts the server and waits (at most 90 s) until `/ok` answers. The error says what to
    /// do when the server is not installed or does not come up.
    pub fn start() -> Result<LangGraphDev, String> {
        let bin = lgdev_venv().join("bin").join("langgraph");
        if !bin.is_file() {
            return Err(format!(
                "{} is missing: run `bash .ci/setup.sh` (it installs tests/lgdev/requirements.txt)",
                bin.display()
            ));
        }
        // The server writes its state next to langgraph.json: give it a copy of its own.
        let dir =
            tempfile::Builder::new().prefix("orrery-lgdev").tempdir().map_err(|e| e.to_string())?;
        copy_tree(&workspace_root().join("tests/lgdev/proj"), dir.path())
            .map_err(|e| format!("copying the golden project: {e}"))?;
        let port = free_port().map_err(|e| e.to_string())?;
        let log =
            std::fs::File::create(dir.path().join("server.log")).map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&bin)
            .args(["dev", "--no-browser", "--no-reload", "--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .current_dir(dir.path())
            .env("LANGSMITH_TRACING", "false")
            .env("LANGCHAIN_TRACING_V2", "false")
            .env("LANGGRAPH_CLI_NO_ANALYTICS", "1")
            .env("LANGGRAPH_NO_VERSION_CHECK", "1")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let mut server = LangGraphDev { url: format!("http://127.0.0.1:{port}"), child, _dir: dir };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(90) {
            if http_get_status(port, "/ok") == Some(200) {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                let log = std::fs::read_to_string(server._dir.path().join("server.log"))
                    .unwrap_or_default();
                return Err(format!("langgraph dev exited ({status}):\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err("langgraph dev did not answer /ok within 90 s".into())
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for LangGraphDev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status code of a plain `GET path` on the loopback port, if anything answers.
pub fn http_get_status(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// A child process leading a process group of its own; the whole group is killed (and the
/// child reaped) when dropped, so nothing it started outlives the test.
pub struct KillGroupOnDrop(pub Child);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        // `--` so the negative id is a process group, never parsed as an option; and never a
        // group id below 2 (`kill -- -1` would signal every process of the user).
        let pgid = self.0.id();
        if pgid > 1 {
            let _ = Command::new("kill").args(["-s", "KILL", "--", &format!("-{pgid}")]).status();
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `cmd` as the leader of a new process group, killed with its group when dropped.
pub fn spawn_group(cmd: &mut Command) -> std::io::Result<KillGroupOnDrop> {
    use std::os::unix::process::CommandExt;
    without_provider_keys(cmd)
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map(KillGroupOnDrop)
}
