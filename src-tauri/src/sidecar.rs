//! The embedded local runtime: `orrery-runtime dev` started by the app on a free loopback port,
//! with its SQLite data in the OS app-data folder, its log kept for the UI, restarted with
//! backoff when it dies, and stopped when the app quits.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orrery_api::desktop::{LocalRuntimeView, SidecarState};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

/// Lines of log kept for the UI.
const LOG_LINES: usize = 400;

/// The embedded runtime and what the UI shows of it.
pub struct Sidecar {
    binary: Option<PathBuf>,
    data_dir: PathBuf,
    inner: Mutex<Inner>,
    /// Wakes the supervisor: restart now (the project changed) or stop (the app quits).
    poke: Notify,
}

struct Inner {
    view: LocalRuntimeView,
    pid: Option<u32>,
    log: VecDeque<String>,
    generation: u64,
    quitting: bool,
}

/// The text of a log line without terminal colour codes (`ESC [ ... letter`).
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Where the `orrery-runtime` binary is: `ORRERY_RUNTIME_BIN`, else next to the app's own
/// executable (how it ships and how cargo builds it), else on PATH.
pub fn find_binary() -> Option<PathBuf> {
    let name = format!("orrery-runtime{}", std::env::consts::EXE_SUFFIX);
    if let Some(p) = std::env::var_os("ORRERY_RUNTIME_BIN") {
        return Some(PathBuf::from(p));
    }
    let beside = std::env::current_exe().ok()?.parent()?.join(&name);
    if beside.is_file() {
        return Some(beside);
    }
    std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join(&name)).find(|p| p.is_file()))
}

impl Sidecar {
    /// A sidecar that stores its data under `data_dir` (not started yet).
    pub fn new(binary: Option<PathBuf>, data_dir: PathBuf) -> Arc<Sidecar> {
        let view = LocalRuntimeView {
            data_dir: data_dir.display().to_string(),
            ..LocalRuntimeView::default()
        };
        Arc::new(Sidecar {
            binary,
            data_dir,
            inner: Mutex::new(Inner {
                view,
                pid: None,
                log: VecDeque::new(),
                generation: 0,
                quitting: false,
            }),
            poke: Notify::new(),
        })
    }

    /// What the UI shows.
    pub fn view(&self) -> LocalRuntimeView {
        match self.inner.lock() {
            Ok(i) => {
                let mut v = i.view.clone();
                v.log = i.log.iter().cloned().collect();
                v
            }
            Err(_) => LocalRuntimeView { state: SidecarState::Failed, ..Default::default() },
        }
    }

    /// State, URL and last log line, without copying the whole log (read on every UI poll).
    pub fn summary(&self) -> (SidecarState, Option<String>, Option<String>) {
        match self.inner.lock() {
            Ok(i) => (i.view.state, i.view.url.clone(), i.log.back().cloned()),
            Err(_) => (SidecarState::Failed, None, None),
        }
    }

    /// The process id of the runtime, while one is alive.
    pub fn pid(&self) -> Option<u32> {
        self.inner.lock().ok()?.pid
    }

    /// The URL it serves on, while running.
    pub fn url(&self) -> Option<String> {
        self.inner.lock().ok().filter(|i| i.view.state == SidecarState::Running)?.view.url.clone()
    }

    fn update(&self, f: impl FnOnce(&mut Inner)) {
        if let Ok(mut i) = self.inner.lock() {
            f(&mut i);
        }
    }

    fn log_line(&self, line: String) {
        let line = strip_ansi(&line);
        self.update(|i| {
            if i.log.len() == LOG_LINES {
                i.log.pop_front();
            }
            i.log.push_back(line);
        });
    }

    /// Serves the graphs of `project` (a folder with a `langgraph.json`) instead, or the bundled
    /// ones when `None`; restarts the runtime.
    pub fn set_project(&self, project: Option<String>) -> Result<(), String> {
        let project = match project.map(|p| p.trim().to_string()).filter(|p| !p.is_empty()) {
            Some(p) => {
                let config = PathBuf::from(&p).join("langgraph.json");
                if !config.is_file() {
                    return Err(format!("{} has no langgraph.json", p));
                }
                Some(p)
            }
            None => None,
        };
        self.update(|i| {
            i.view.project = project;
            i.generation += 1;
            // Restarting from now on, not once the supervisor wakes: until then the old
            // runtime would still be offered (and answer with the old project's graphs).
            if !i.quitting && i.view.state != SidecarState::Failed {
                i.view.state = SidecarState::Restarting;
            }
        });
        self.poke.notify_one();
        Ok(())
    }

    /// Stops the runtime for good (the app quits).
    pub fn shutdown(&self) {
        self.update(|i| i.quitting = true);
        self.poke.notify_one();
    }

    /// Runs the runtime until the app quits: start, wait for `/ok`, watch, restart with
    /// backoff when it exits.
    pub async fn supervise(self: Arc<Self>) {
        let Some(binary) = self.binary.clone() else {
            self.log_line(
                "orrery-runtime was not found next to the app or on PATH; set ORRERY_RUNTIME_BIN"
                    .into(),
            );
            self.update(|i| i.view.state = SidecarState::Failed);
            return;
        };
        let mut delay = Duration::from_millis(500);
        loop {
            let (generation, project) = match self.inner.lock() {
                Ok(i) if i.quitting => return,
                Ok(i) => (i.generation, i.view.project.clone()),
                Err(_) => return,
            };
            let started = std::time::Instant::now();
            let outcome = self.run_once(&binary, project.as_deref(), generation).await;
            let restart_now = match self.inner.lock() {
                Ok(i) if i.quitting => return,
                Ok(i) => i.generation != generation,
                Err(_) => return,
            };
            if let Err(e) = outcome {
                self.log_line(e);
            }
            if restart_now {
                delay = Duration::from_millis(500);
                continue;
            }
            // A runtime that ran for a while gets a quick restart; one that keeps dying waits
            // longer each time.
            if started.elapsed() > Duration::from_secs(60) {
                delay = Duration::from_millis(500);
            }
            self.update(|i| {
                i.view.state = SidecarState::Restarting;
                i.view.url = None;
                i.pid = None;
                i.view.restarts += 1;
            });
            self.log_line(format!("restarting in {:.1} s", delay.as_secs_f64()));
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.poke.notified() => {}
            }
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    }

    /// One life of the runtime process.
    async fn run_once(
        self: &Arc<Self>,
        binary: &PathBuf,
        project: Option<&str>,
        generation: u64,
    ) -> Result<(), String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let url = format!("http://127.0.0.1:{port}");
        std::fs::create_dir_all(&self.data_dir)
            .map_err(|e| format!("cannot create {}: {e}", self.data_dir.display()))?;
        let mut cmd = Command::new(binary);
        cmd.args(["dev", "--host", "127.0.0.1", "--port", &port.to_string(), "--data-dir"])
            .arg(&self.data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .env_remove("DATABASE_URI");
        if let Some(p) = project {
            cmd.arg("--config").arg(PathBuf::from(p).join("langgraph.json"));
        }
        self.update(|i| {
            i.view.state = SidecarState::Starting;
            i.view.url = Some(url.clone());
        });
        self.log_line(format!("starting {} on {url}", binary.display()));
        let mut child =
            cmd.spawn().map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let pid = child.id();
        self.update(|i| i.pid = pid);
        self.pipe(child.stdout.take());
        self.pipe(child.stderr.take());
        self.wait_ready(&mut child, &url, generation).await?;
        tokio::select! {
            status = child.wait() => {
                let status = status.map_err(|e| e.to_string())?;
                Err(format!("orrery-runtime exited ({status})"))
            }
            _ = self.stop_requested(generation) => {
                let _ = child.kill().await;
                Ok(())
            }
        }
    }

    async fn stop_requested(&self, generation: u64) {
        loop {
            match self.inner.lock() {
                Ok(i) if i.quitting || i.generation != generation => return,
                Err(_) => return,
                Ok(_) => {}
            }
            self.poke.notified().await;
        }
    }

    async fn wait_ready(
        &self,
        child: &mut Child,
        url: &str,
        generation: u64,
    ) -> Result<(), String> {
        let http = orrery_client::Client::builder(url.to_string())
            .request_timeout(Some(Duration::from_secs(2)))
            .build()
            .map_err(|e| e.to_string())?;
        for _ in 0..600 {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("orrery-runtime exited while starting ({status})"));
            }
            if self.inner.lock().map(|i| i.quitting || i.generation != generation).unwrap_or(true) {
                let _ = child.kill().await;
                return Ok(());
            }
            if http.ok().await.is_ok() {
                self.update(|i| i.view.state = SidecarState::Running);
                self.log_line(format!("ready on {url}"));
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill().await;
        Err("orrery-runtime did not answer /ok within 30 s".into())
    }

    /// Copies a stream of the process into the log, line by line.
    fn pipe(self: &Arc<Self>, stream: Option<impl AsyncRead + Unpin + Send + 'static>) {
        let Some(stream) = stream else { return };
        let me = Arc::clone(self);
        tauri::async_runtime::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                me.log_line(line);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_are_stripped_from_log_lines() {
        let line = "\u{1b}[2m2026-12-01\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m listening";
        assert_eq!(strip_ansi(line), "2026-12-01  INFO listening");
        assert_eq!(strip_ansi("plain [text]"), "plain [text]");
    }
}
