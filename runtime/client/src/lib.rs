//! `orrery-client`: a typed async client for the LangGraph Server HTTP API, as served by
//! `orrery-runtime` and by LangGraph's own server (`langgraph dev`, LangGraph Platform).
//!
//! ```no_run
//! # async fn demo() -> orrery_client::Result<()> {
//! use futures::StreamExt;
//! use orrery_client::{Client, RunCreate, StreamMode, ThreadCreate};
//! use serde_json::json;
//!
//! let client = Client::new("http://127.0.0.1:2024")?.with_api_key("lsv2-...");
//! let thread = client.threads().create(&ThreadCreate::default()).await?;
//! let mut stream = client
//!     .runs()
//!     .stream(
//!         &thread.thread_id,
//!         &RunCreate::new("agent")
//!             .input(json!({"messages": [{"role": "user", "content": "hi"}]}))
//!             .stream_mode([StreamMode::MessagesTuple]),
//!     )
//!     .await?;
//! while let Some(part) = stream.next().await {
//!     let part = part?;
//!     println!("{}: {}", part.event, part.data);
//! }
//! # Ok(()) }
//! ```
//!
//! Calls are grouped like the official SDKs: [`Client::assistants`], [`Client::threads`],
//! [`Client::runs`], [`Client::crons`], [`Client::store`], plus [`Client::ok`] and
//! [`Client::info`]. Errors are typed ([`Error`]): an error status is [`Error::Api`] with the
//! server's `detail`; a `/wait` or `/join` whose run failed (200 with `__error__`) is
//! [`Error::RunFailed`] (the `_raw` variants return the body untouched).
//!
//! Timeouts: connecting is bounded ([`ClientBuilder::connect_timeout`], 10 s by default);
//! ordinary calls are bounded by [`ClientBuilder::request_timeout`] (5 min by default); streams,
//! waits, joins and `cancel(wait)` have no overall timeout (a run may take hours), only the
//! optional [`ClientBuilder::read_timeout`] between two reads.

mod assistants;
mod crons;
mod error;
mod runs;
pub mod sse;
mod store;
mod threads;
mod types;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use assistants::Assistants;
pub use crons::Crons;
pub use error::{Error, Result};
pub use orrery_api::{
    Assistant, AssistantVersion, CheckpointConfig, Cron, Interrupt, Item, Run, RunStatus,
    StreamPart, Thread, ThreadState, ThreadStatus, ThreadTask,
};
pub use runs::{EventStream, Runs, run_output};
pub use store::Store;
pub use threads::Threads;
pub use types::*;

/// The header the API key travels in.
pub const API_KEY_HEADER: &str = "x-api-key";

/// A client for one server. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    http: reqwest::Client,
    base: Url,
    api_key: Option<String>,
    request_timeout: Option<Duration>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("api_key", &self.inner.api_key.as_ref().map(|_| "<redacted>"))
            .field("request_timeout", &self.inner.request_timeout)
            .finish()
    }
}

/// Builds a [`Client`] with non-default settings.
pub struct ClientBuilder {
    base_url: String,
    api_key: Option<String>,
    connect_timeout: Duration,
    request_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    headers: HeaderMap,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ClientBuilder {
    /// Sends `x-api-key: <key>` with every request.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// How long connecting may take (default 10 s).
    #[must_use]
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Bound on ordinary calls, from sending to the end of the body (default 5 min; `None`:
    /// unbounded). Never applied to streams, waits, joins and `cancel(wait)`.
    #[must_use]
    pub fn request_timeout(mut self, t: Option<Duration>) -> Self {
        self.request_timeout = t;
        self
    }

    /// Bound on the silence between two reads of any response (default: none). The servers
    /// send keep-alives every 5 s on streams and waits, so e.g. 30 s detects a dead peer.
    #[must_use]
    pub fn read_timeout(mut self, t: Option<Duration>) -> Self {
        self.read_timeout = t;
        self
    }

    /// An extra header sent with every request.
    ///
    /// # Errors
    /// [`Error::Protocol`] when the name or value is not a valid header.
    pub fn header(mut self, name: &str, value: &str) -> Result<Self> {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| Error::Protocol(format!("header name {name:?}: {e}")))?;
        let v = HeaderValue::from_str(value)
            .map_err(|e| Error::Protocol(format!("header value of {name}: {e}")))?;
        self.headers.insert(n, v);
        Ok(self)
    }

    /// The client.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for a base URL that is not `http(s)://...`; [`Error::Protocol`]
    /// when the HTTP stack cannot start (TLS initialisation).
    pub fn build(self) -> Result<Client> {
        let base = parse_base(&self.base_url)?;
        let mut b = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("orrery-client/", env!("CARGO_PKG_VERSION")))
            .default_headers(self.headers)
            .tcp_nodelay(true);
        if let Some(t) = self.read_timeout {
            b = b.read_timeout(t);
        }
        let http = b.build().map_err(|e| Error::Protocol(format!("HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                api_key: self.api_key,
                request_timeout: self.request_timeout,
            }),
        })
    }
}

fn parse_base(s: &str) -> Result<Url> {
    let url = Url::parse(s.trim()).map_err(|e| Error::InvalidUrl(format!("{s}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(Error::InvalidUrl(format!("{s}: not an http(s) URL")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::InvalidUrl(format!("{s}: a base URL has no query or fragment")));
    }
    Ok(url)
}

/// How a call's time is bounded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timing {
    /// The client's request timeout.
    Bounded,
    /// No overall timeout (streams, waits).
    Long,
}

impl Client {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:2024`, or a deployment's
    /// `https://...` URL, possibly with a path prefix), with the default settings.
    ///
    /// # Errors
    /// See [`ClientBuilder::build`].
    pub fn new(base_url: impl Into<String>) -> Result<Client> {
        Client::builder(base_url).build()
    }

    /// A builder for a client of `base_url`.
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            api_key: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Some(Duration::from_secs(300)),
            read_timeout: None,
            headers: HeaderMap::new(),
        }
    }

    /// The same client, sending `x-api-key: <key>` (never shown by `Debug`).
    #[must_use]
    pub fn with_api_key(mut self, key: impl Into<String>) -> Client {
        Arc::make_mut(&mut self.inner).api_key = Some(key.into());
        self
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// Assistants: search, get, create, update, delete, graph, schemas, versions.
    pub fn assistants(&self) -> Assistants<'_> {
        Assistants { c: self }
    }

    /// Threads: create, get, update, delete, search, copy, state, history.
    pub fn threads(&self) -> Threads<'_> {
        Threads { c: self }
    }

    /// Runs: create, stream, wait, join, list, cancel, delete, stateless runs.
    pub fn runs(&self) -> Runs<'_> {
        Runs { c: self }
    }

    /// Crons: scheduled runs.
    pub fn crons(&self) -> Crons<'_> {
        Crons { c: self }
    }

    /// The key-value store.
    pub fn store(&self) -> Store<'_> {
        Store { c: self }
    }

    /// `GET /ok`: whether the server is up (`{"ok": true, ...}`).
    ///
    /// # Errors
    /// Transport errors, or an error status (e.g. 500 when a probe fails).
    pub async fn ok(&self) -> Result<Value> {
        self.get_json(&["ok"], &[], "the /ok answer").await
    }

    /// `GET /info`: version and feature flags (`flags.crons`, `flags.assistants`, ...).
    ///
    /// # Errors
    /// Transport errors or an error status.
    pub async fn info(&self) -> Result<Value> {
        self.get_json(&["info"], &[], "the /info answer").await
    }

    // ---- plumbing -------------------------------------------------------------------------

    /// `base` + the path segments (each percent-encoded) + the query.
    pub(crate) fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Url> {
        let mut url = self.inner.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| Error::InvalidUrl(self.inner.base.to_string()))?;
            path.pop_if_empty();
            path.extend(segments);
        }
        if !query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    pub(crate) fn request(
        &self,
        method: Method,
        url: Url,
        timing: Timing,
    ) -> reqwest::RequestBuilder {
        let mut rb = self.inner.http.request(method, url);
        if let Some(key) = &self.inner.api_key {
            rb = rb.header(API_KEY_HEADER, key);
        }
        if timing == Timing::Bounded
            && let Some(t) = self.inner.request_timeout
        {
            rb = rb.timeout(t);
        }
        rb
    }

    /// Sends; an error status becomes [`Error::Api`].
    pub(crate) async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
        timing: Timing,
        headers: &[(&'static str, String)],
    ) -> Result<reqwest::Response> {
        let mut rb = self.request(method.clone(), url.clone(), timing);
        if let Some(b) = &body {
            rb = rb.json(b);
        }
        for (k, v) in headers {
            rb = rb.header(*k, v);
        }
        let resp = rb.send().await.map_err(|source| Error::Transport {
            method: method.to_string(),
            url: url.to_string(),
            source,
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        Err(Error::from_response(status.as_u16(), &text))
    }

    /// Reads a body as JSON, skipping the keep-alive whitespace `/wait` sends first.
    pub(crate) async fn read_json<T: DeserializeOwned>(
        method: &Method,
        resp: reqwest::Response,
        what: &str,
    ) -> Result<T> {
        let url = resp.url().to_string();
        let bytes = resp.bytes().await.map_err(|source| Error::Transport {
            method: method.to_string(),
            url,
            source,
        })?;
        // `/wait` sends `\n` keep-alives before the body; JSON allows the whitespace anyway.
        serde_json::from_slice(bytes.trim_ascii())
            .map_err(|source| Error::Decode { what: what.to_string(), source })
    }

    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
        timing: Timing,
        what: &str,
    ) -> Result<T> {
        let resp = self.send(method.clone(), url, body, timing, &[]).await?;
        Client::read_json(&method, resp, what).await
    }

    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
        what: &str,
    ) -> Result<T> {
        let url = self.url(segments, query)?;
        self.call(Method::GET, url, None, Timing::Bounded, what).await
    }

    pub(crate) async fn post_json<T: DeserializeOwned, B: Serialize>(
        &self,
        segments: &[&str],
        body: &B,
        what: &str,
    ) -> Result<T> {
        let url = self.url(segments, &[])?;
        self.call(Method::POST, url, Some(to_body(body)?), Timing::Bounded, what).await
    }

    /// A call whose success has no body worth reading (204, 202).
    pub(crate) async fn call_empty(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<()> {
        let resp = self.send(method, url, body, Timing::Bounded, &[]).await?;
        let _ = resp.bytes().await;
        Ok(())
    }

    /// A search with pagination headers.
    pub(crate) async fn page<T: DeserializeOwned, B: Serialize>(
        &self,
        segments: &[&str],
        body: &B,
        what: &str,
    ) -> Result<Page<T>> {
        let url = self.url(segments, &[])?;
        let resp = self.send(Method::POST, url, Some(to_body(body)?), Timing::Bounded, &[]).await?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let total = header("x-pagination-total");
        let next = header("x-pagination-next");
        let items = Client::read_json(&Method::POST, resp, what).await?;
        Ok(Page { items, total, next })
    }
}

/// A request body as JSON.
pub(crate) fn to_body<B: Serialize>(body: &B) -> Result<Value> {
    serde_json::to_value(body)
        .map_err(|source| Error::Decode { what: "the request body".into(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_api_key() {
        let c = Client::new("http://127.0.0.1:2024").map(|c| c.with_api_key("sekrit-123"));
        let c = c.unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("sekrit"), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("127.0.0.1:2024"), "{shown}");
        let b = Client::builder("http://x").api_key("sekrit-456");
        assert!(!format!("{b:?}").contains("sekrit"));
    }

    #[test]
    fn urls_are_built_segment_by_segment() {
        let c = Client::new("https://host.example/prefix/").unwrap_or_else(|e| panic!("{e}"));
        let u = c.url(&["assistants", "a b/c", "graph"], &[("xray", "true".into())]);
        assert_eq!(
            u.map(|u| u.to_string()).ok().as_deref(),
            Some("https://host.example/prefix/assistants/a%20b%2Fc/graph?xray=true")
        );
        let c = Client::new("http://127.0.0.1:1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.url(&["ok"], &[]).map(|u| u.to_string()).ok().as_deref(),
            Some("http://127.0.0.1:1/ok")
        );
    }

    #[test]
    fn bad_base_urls_are_refused() {
        for bad in ["", "localhost:2024", "ftp://x", "http://x/?a=1", "mailto:a@b"] {
            assert!(matches!(Client::new(bad), Err(Error::InvalidUrl(_))), "{bad}");
        }
    }

    /// A one-connection HTTP server that answers with `chunks`, written one by one with a
    /// pause between them, and returns the request it got.
    async fn scripted(chunks: Vec<&'static str>) -> (String, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let url = format!("http://{}", listener.local_addr().unwrap_or_else(|e| panic!("{e}")));
        let task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap_or_else(|e| panic!("{e}"));
            let mut req = vec![0u8; 8192];
            let n = sock.read(&mut req).await.unwrap_or(0);
            for c in chunks {
                let _ = sock.write_all(c.as_bytes()).await;
                let _ = sock.flush().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            String::from_utf8_lossy(&req[..n]).to_string()
        });
        (url, task)
    }

    #[tokio::test]
    async fn wait_skips_keep_alives_and_surfaces_run_errors() {
        let (url, req) = scripted(vec![
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
            "1\r\n\n\r\n",
            "1\r\n\n\r\n",
            "42\r\n{\"__error__\":{\"error\":\"ValueError\",\"message\":\"kaboom: it failed\"}}\r\n",
            "0\r\n\r\n",
        ])
        .await;
        let c = Client::new(url).unwrap_or_else(|e| panic!("{e}")).with_api_key("k-123");
        let r = c.runs().wait("t1", &RunCreate::new("agent")).await;
        match r {
            Err(Error::RunFailed { error, message }) => {
                assert_eq!((error.as_str(), message.as_str()), ("ValueError", "kaboom: it failed"));
            }
            other => panic!("{other:?}"),
        }
        let req = req.await.unwrap_or_default();
        assert!(req.starts_with("POST /threads/t1/runs/wait "), "{req}");
        assert!(req.contains("x-api-key: k-123"), "{req}");
        assert!(req.contains(r#"{"assistant_id":"agent"}"#), "{req}");
    }

    #[tokio::test]
    async fn api_errors_carry_the_detail() {
        let (url, _) = scripted(vec![
            "HTTP/1.1 409 Conflict\r\ncontent-type: application/json\r\ncontent-length: 31\r\n\r\n",
            r#"{"detail":"Thread is running."}"#,
        ])
        .await;
        let c = Client::new(url).unwrap_or_else(|e| panic!("{e}"));
        match c.threads().get("t").await {
            Err(Error::Api { status: 409, detail, body }) => {
                assert_eq!(detail, "Thread is running.");
                assert_eq!(body, r#"{"detail":"Thread is running."}"#);
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn streams_decode_events_split_across_writes() {
        use futures::StreamExt;
        let (url, req) = scripted(vec![
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncontent-location: /threads/t9/runs/r9\r\nlocation: /threads/t9/runs/r9/stream\r\ntransfer-encoding: chunked\r\n\r\n",
            "17\r\nevent: metadata\r\ndata: \r\n",
            "1b\r\n{\"run_id\":\"r9\"}\r\n\r\n: heartb\r\n",
            "21\r\neat\r\n\r\nevent: values\r\ndata: {\"a\":\r\n",
            "f\r\n1}\r\nid: 5-0\r\n\r\n\r\n",
            "0\r\n\r\n",
        ])
        .await;
        let c = Client::new(url).unwrap_or_else(|e| panic!("{e}"));
        let s =
            c.runs().stream("t9", &RunCreate::new("agent")).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.thread_id(), s.run_id()), (Some("t9"), Some("r9")));
        assert_eq!(s.location(), Some("/threads/t9/runs/r9/stream"));
        let parts: Vec<StreamPart> = s.map(|p| p.unwrap_or_else(|e| panic!("{e}"))).collect().await;
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert_eq!(parts[0].event, "metadata");
        assert_eq!(parts[0].data["run_id"], "r9");
        assert_eq!(parts[1].event, "values");
        assert_eq!(parts[1].data["a"], 1);
        assert_eq!(parts[1].id.as_deref(), Some("5-0"));
        let req = req.await.unwrap_or_default().to_lowercase();
        assert!(req.contains("accept: text/event-stream"), "{req}");
    }

    #[tokio::test]
    async fn a_json_answer_to_a_stream_request_is_a_protocol_error() {
        let (url, _) = scripted(vec![
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
        ])
        .await;
        let c = Client::new(url).unwrap_or_else(|e| panic!("{e}"));
        let r = c.runs().stream("t", &RunCreate::new("agent")).await;
        assert!(matches!(r, Err(Error::Protocol(_))), "{r:?}");
    }

    #[tokio::test]
    async fn connection_refused_is_a_transport_error_naming_the_url() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(9);
        let c = Client::new(format!("http://127.0.0.1:{port}")).unwrap_or_else(|e| panic!("{e}"));
        match c.ok().await {
            Err(e @ Error::Transport { .. }) => {
                assert!(e.to_string().contains(&format!("127.0.0.1:{port}/ok")), "{e}");
                assert!(e.is_transient());
            }
            other => panic!("expected a transport error, got {other:?}"),
        }
    }
}
