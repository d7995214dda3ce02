//! HTTP tests of the runtime: a real server on a free loopback port, a fresh SQLite database
//! per test, requests through reqwest.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a test failure

mod api;
mod crons;
mod parity;
mod projects;
mod providers;
mod reload;
mod secrets;
mod thread_search;
mod webhooks;

use std::sync::Arc;

use orrery_runtime::{AppState, Options};
use serde_json::Value;

/// The variables that make the bundled Jarvis example use a real provider (its
/// `first_available` model): a spawned runtime never sees them, so that no test depends on
/// the developer's keys.
pub const PROVIDER_KEYS: [&str; 2] = ["ANTHROPIC_API_KEY", "OPENAI_API_KEY"];

/// The `orrery-runtime` binary, with neither `DATABASE_URI` nor [`PROVIDER_KEYS`] in its
/// environment.
pub fn runtime_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_orrery-runtime"));
    cmd.env_remove("DATABASE_URI");
    for k in PROVIDER_KEYS {
        cmd.env_remove(k);
    }
    cmd
}

/// Which database a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A PostgreSQL database of its own for one test, dropped afterwards. The server is the
/// machine's (127.0.0.1:5432, trust auth); `ORRERY_TEST_PG` overrides its base URL.
pub struct PgDatabase {
    pub name: String,
}

fn pg_base() -> String {
    std::env::var("ORRERY_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

fn psql(sql: &str) {
    let out = std::process::Command::new("psql")
        .args([&format!("{}/postgres", pg_base()), "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .expect("psql runs (apt postgresql-client)");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
}

impl PgDatabase {
    pub fn create() -> PgDatabase {
        let name = format!("orrery_test_{}", uuid::Uuid::new_v4().simple());
        psql(&format!("CREATE DATABASE {name}"));
        PgDatabase { name }
    }
    pub fn uri(&self) -> String {
        format!("{}/{}", pg_base(), self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

/// A running server; stopped when dropped.
pub struct Server {
    pub url: String,
    /// The server's state (to drive its cron scheduler, for one).
    pub state: Arc<AppState>,
    pub http: reqwest::Client,
    pub data_dir: tempdir::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    // Dropped last: the server stops before its database goes.
    pub pg: Option<PgDatabase>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Runs a test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name($crate::Backend::Postgres).await
            }
        }
    };
}

pub mod tempdir {
    //! A directory removed on drop.
    pub struct TempDir(pub std::path::PathBuf);
    impl TempDir {
        pub fn create() -> TempDir {
            let p = std::env::temp_dir().join(format!("orrery-test-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Server {
    pub async fn start(backend: Backend) -> Server {
        let data_dir = tempdir::TempDir::create();
        let pg = (backend == Backend::Postgres).then(PgDatabase::create);
        let state: Arc<AppState> = AppState::start(&Options {
            data_dir: data_dir.0.clone(),
            workers: 2,
            database_uri: pg.as_ref().map(PgDatabase::uri),
        })
        .await
        .unwrap();
        let mut s = Server::serve(state).await;
        s.pg = pg;
        s.data_dir = data_dir;
        s
    }

    /// Serves `state` on a free port (the data dir and database are the caller's: an empty
    /// directory is kept here, and no database is dropped).
    pub async fn serve(state: Arc<AppState>) -> Server {
        let listener = orrery_runtime::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(orrery_runtime::serve(Arc::clone(&state), listener, async {
            let _ = rx.await;
        }));
        let data_dir = tempdir::TempDir::create();
        Server { url, state, http: reqwest::Client::new(), data_dir, stop: Some(tx), pg: None }
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.post(format!("{}{path}", self.url)).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(text.trim()).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{path}", self.url)).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(text.trim()).unwrap_or(Value::String(text)))
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self.http.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(text.trim()).unwrap_or(Value::String(text)))
    }

    /// A stream request: the raw SSE text and the response headers.
    pub async fn sse(
        &self,
        path: &str,
        body: Value,
    ) -> (u16, reqwest::header::HeaderMap, Vec<(String, Value)>) {
        let r = self.http.post(format!("{}{path}", self.url)).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        (status, headers, parse_sse(&text))
    }
}

/// The contents of a `messages` list, in order.
pub fn contents(messages: &Value) -> Vec<&str> {
    messages.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect()
}

/// `(event, data)` pairs of an SSE body.
pub fn parse_sse(text: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for block in text.split("\r\n\r\n") {
        let mut event = None;
        let mut data = None;
        for line in block.split("\r\n") {
            if let Some(e) = line.strip_prefix("event: ") {
                event = Some(e.to_string());
            } else if let Some(d) = line.strip_prefix("data: ") {
                data = serde_json::from_str::<Value>(d).ok();
            }
        }
        if let (Some(e), Some(d)) = (event, data) {
            out.push((e, d));
        }
    }
    out
}
