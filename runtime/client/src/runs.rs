//! Runs: background, streamed, waited for; joins, cancellation, stateless runs.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use orrery_api::{Run, StreamPart};
use reqwest::{Method, Url};
use serde_json::Value;

use crate::sse::{self, PartStream};
use crate::{
    CancelAction, Client, Error, JoinStream, Reconnect, Result, RunCreate, RunList, RunsCancel,
    Timing, to_body,
};

/// Checks a `/wait` or `/join` body: `{"__error__": {error, message}}` (what the server
/// answers, with status 200, when the run failed) becomes [`Error::RunFailed`]; anything else
/// (the final state values, possibly with `__interrupt__`) is returned as it is.
///
/// # Errors
/// [`Error::RunFailed`] for an `__error__` body.
pub fn run_output(body: Value) -> Result<Value> {
    if let Some(err) = body.get("__error__") {
        let text = |k: &str| match err.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let (error, message) = if err.is_object() {
            (text("error"), text("message"))
        } else {
            ("Error".to_string(), err.to_string())
        };
        return Err(Error::RunFailed { error, message });
    }
    Ok(body)
}

/// A stream of [`StreamPart`]s from a run (or thread) stream, with what the response headers
/// said about the run. Ends when the server closes the stream: LangGraph servers send no
/// `end` event (a failed run sends an `error` part first).
pub struct EventStream {
    inner: PartStream,
    run_id: Option<String>,
    thread_id: Option<String>,
    location: Option<String>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("run_id", &self.run_id)
            .field("thread_id", &self.thread_id)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Stream for EventStream {
    type Item = Result<StreamPart>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// `(thread_id, run_id)` from a `Content-Location` of `/threads/{tid}/runs/{rid}` or
/// `/runs/{rid}`.
fn ids_from_location(loc: &str) -> (Option<String>, Option<String>) {
    let parts: Vec<&str> = loc.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["threads", tid, "runs", rid, ..] => (Some((*tid).to_string()), Some((*rid).to_string())),
        ["runs", rid, ..] => (None, Some((*rid).to_string())),
        _ => (None, None),
    }
}

impl EventStream {
    /// Sends a stream request and checks that an event stream came back.
    pub(crate) async fn open(
        c: &Client,
        method: Method,
        url: Url,
        body: Option<Value>,
        last_event_id: Option<&str>,
    ) -> Result<EventStream> {
        let mut headers =
            vec![("accept", "text/event-stream".to_string()), ("cache-control", "no-store".into())];
        if let Some(id) = last_event_id {
            headers.push(("last-event-id", id.to_string()));
        }
        let resp = c.send(method.clone(), url.clone(), body, Timing::Long, &headers).await?;
        let ctype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if !ctype.contains("text/event-stream") {
            return Err(Error::Protocol(format!(
                "{method} {url} answered {ctype:?}, not text/event-stream"
            )));
        }
        let header =
            |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let location = header("location");
        let (thread_id, run_id) =
            header("content-location").as_deref().map(ids_from_location).unwrap_or_default();
        let inner = sse::parts(resp, method.as_str(), url.to_string());
        Ok(EventStream { inner, run_id, thread_id, location })
    }

    /// The run's id (from `Content-Location`; for joins, the run joined).
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// The run's thread (`None` for stateless streams).
    pub fn thread_id(&self) -> Option<&str> {
        self.thread_id.as_deref()
    }

    /// The `Location` header: where to rejoin the stream.
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// Reads the stream to its end.
    ///
    /// # Errors
    /// The first error item.
    pub async fn collect_parts(mut self) -> Result<Vec<StreamPart>> {
        let mut out = Vec::new();
        while let Some(p) = self.next().await {
            out.push(p?);
        }
        Ok(out)
    }
}

/// Run calls; see [`Client::runs`].
#[derive(Debug, Clone, Copy)]
pub struct Runs<'a> {
    pub(crate) c: &'a Client,
}

impl Runs<'_> {
    /// `POST /threads/{id}/runs`: a background run (status `pending`).
    ///
    /// # Errors
    /// 404 thread or assistant not found, 409 `reject` on a busy thread, 422, 400.
    pub async fn create(&self, thread_id: &str, run: &RunCreate) -> Result<Run> {
        self.c.post_json(&["threads", thread_id, "runs"], run, "a run").await
    }

    /// `POST /runs`: a background run on a temporary thread.
    ///
    /// # Errors
    /// As [`Runs::create`].
    pub async fn create_stateless(&self, run: &RunCreate) -> Result<Run> {
        self.c.post_json(&["runs"], run, "a run").await
    }

    /// `POST /runs/batch`: several stateless background runs.
    ///
    /// # Errors
    /// As [`Runs::create`].
    pub async fn create_batch(&self, runs: &[RunCreate]) -> Result<Vec<Run>> {
        self.c.post_json(&["runs", "batch"], &runs, "runs").await
    }

    /// `POST /threads/{id}/runs/stream`: creates a run and streams its events. Errors that
    /// happen before the stream starts (404, 409 reject, 422) come back here; a failure of the
    /// run itself is an `error` part in the stream.
    ///
    /// # Errors
    /// As [`Runs::create`], or a non-SSE answer.
    pub async fn stream(&self, thread_id: &str, run: &RunCreate) -> Result<EventStream> {
        let url = self.c.url(&["threads", thread_id, "runs", "stream"], &[])?;
        EventStream::open(self.c, Method::POST, url, Some(to_body(run)?), None).await
    }

    /// `POST /runs/stream`: a stateless run, streamed.
    ///
    /// # Errors
    /// As [`Runs::stream`].
    pub async fn stream_stateless(&self, run: &RunCreate) -> Result<EventStream> {
        let url = self.c.url(&["runs", "stream"], &[])?;
        EventStream::open(self.c, Method::POST, url, Some(to_body(run)?), None).await
    }

    /// `POST /threads/{id}/runs/wait`: creates a run and returns its final state values
    /// (with `__interrupt__` when it stopped at an `interrupt()`).
    ///
    /// # Errors
    /// [`Error::RunFailed`] when the run failed; otherwise as [`Runs::create`].
    pub async fn wait(&self, thread_id: &str, run: &RunCreate) -> Result<Value> {
        run_output(self.wait_raw(Some(thread_id), run).await?)
    }

    /// `POST /runs/wait`: a stateless run, waited for.
    ///
    /// # Errors
    /// As [`Runs::wait`].
    pub async fn wait_stateless(&self, run: &RunCreate) -> Result<Value> {
        run_output(self.wait_raw(None, run).await?)
    }

    /// `/wait` (stateful with a thread id, else stateless) returning the body untouched,
    /// `__error__` included.
    ///
    /// # Errors
    /// As [`Runs::create`].
    pub async fn wait_raw(&self, thread_id: Option<&str>, run: &RunCreate) -> Result<Value> {
        let url = match thread_id {
            Some(t) => self.c.url(&["threads", t, "runs", "wait"], &[])?,
            None => self.c.url(&["runs", "wait"], &[])?,
        };
        self.c.call(Method::POST, url, Some(to_body(run)?), Timing::Long, "a run's output").await
    }

    /// `GET /threads/{id}/runs`, newest first.
    ///
    /// # Errors
    /// 404 unknown thread.
    pub async fn list(&self, thread_id: &str, query: &RunList) -> Result<Vec<Run>> {
        let mut q = Vec::new();
        if let Some(l) = query.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(o) = query.offset {
            q.push(("offset", o.to_string()));
        }
        if let Some(s) = query.status {
            q.push(("status", s.as_str().to_string()));
        }
        self.c.get_json(&["threads", thread_id, "runs"], &q, "runs").await
    }

    /// `GET /threads/{tid}/runs/{rid}`.
    ///
    /// # Errors
    /// 404 unknown.
    pub async fn get(&self, thread_id: &str, run_id: &str) -> Result<Run> {
        self.c.get_json(&["threads", thread_id, "runs", run_id], &[], "a run").await
    }

    /// `DELETE /threads/{tid}/runs/{rid}`.
    ///
    /// # Errors
    /// 404 unknown.
    pub async fn delete(&self, thread_id: &str, run_id: &str) -> Result<()> {
        let url = self.c.url(&["threads", thread_id, "runs", run_id], &[])?;
        self.c.call_empty(Method::DELETE, url, None).await
    }

    /// `POST /threads/{tid}/runs/{rid}/cancel?wait=&action=`. With `wait` the call returns
    /// once the run has stopped.
    ///
    /// # Errors
    /// 404 when the run is not pending or running.
    pub async fn cancel(
        &self,
        thread_id: &str,
        run_id: &str,
        wait: bool,
        action: CancelAction,
    ) -> Result<()> {
        let query = [
            ("wait", if wait { "1" } else { "0" }.to_string()),
            ("action", action.as_str().into()),
        ];
        let url = self.c.url(&["threads", thread_id, "runs", run_id, "cancel"], &query)?;
        let timing = if wait { Timing::Long } else { Timing::Bounded };
        let resp = self.c.send(Method::POST, url, None, timing, &[]).await?;
        let _ = resp.bytes().await;
        Ok(())
    }

    /// `POST /runs/cancel?action=`: runs of a thread by id, or every run with a status.
    ///
    /// # Errors
    /// 404 when nothing matched, 422 ids together with a status.
    pub async fn cancel_many(&self, which: &RunsCancel, action: CancelAction) -> Result<()> {
        let url = self.c.url(&["runs", "cancel"], &[("action", action.as_str().into())])?;
        self.c.call_empty(Method::POST, url, Some(to_body(which)?)).await
    }

    /// `GET /threads/{tid}/runs/{rid}/join`: waits for the run and returns its final values.
    ///
    /// # Errors
    /// [`Error::RunFailed`] when the run failed (or is unknown: the server answers 200 with
    /// `__error__` then).
    pub async fn join(&self, thread_id: &str, run_id: &str) -> Result<Value> {
        run_output(self.join_raw(thread_id, run_id).await?)
    }

    /// `GET /threads/{tid}/runs/{rid}/join`, the body untouched.
    ///
    /// # Errors
    /// Transport errors, 404 unknown thread.
    pub async fn join_raw(&self, thread_id: &str, run_id: &str) -> Result<Value> {
        let url = self.c.url(&["threads", thread_id, "runs", run_id, "join"], &[])?;
        self.c.call(Method::GET, url, None, Timing::Long, "a run's output").await
    }

    /// `GET /threads/{tid}/runs/{rid}/stream`: the run's events from now on, or, with
    /// `last_event_id` on a resumable run, the stored ones after that id first.
    ///
    /// # Errors
    /// Transport errors, a non-SSE answer.
    pub async fn join_stream(
        &self,
        thread_id: &str,
        run_id: &str,
        opts: &JoinStream,
    ) -> Result<EventStream> {
        let mut query = Vec::new();
        for m in &opts.stream_mode {
            query.push(("stream_mode", m.as_str().to_string()));
        }
        if opts.cancel_on_disconnect {
            query.push(("cancel_on_disconnect", "true".into()));
        }
        let url = self.c.url(&["threads", thread_id, "runs", run_id, "stream"], &query)?;
        let mut s =
            EventStream::open(self.c, Method::GET, url, None, opts.last_event_id.as_deref())
                .await?;
        s.thread_id = Some(thread_id.to_string());
        s.run_id = Some(run_id.to_string());
        Ok(s)
    }

    /// Like [`Runs::join_stream`], but survives dropped connections: when the connection
    /// breaks (or the stream ends while the run is still pending or running) it reconnects
    /// with `Last-Event-ID` set to the last id received, so a resumable run
    /// (`stream_resumable: true`) is delivered without gaps or repeats. After
    /// `policy.max_retries` consecutive failures the last error is yielded and the stream
    /// ends. A run that is not resumable sends no ids: events published while disconnected are
    /// then lost.
    pub fn join_stream_reconnecting(
        &self,
        thread_id: &str,
        run_id: &str,
        opts: JoinStream,
        policy: Reconnect,
    ) -> EventStream {
        let st = Rejoin {
            client: self.c.clone(),
            thread_id: thread_id.to_string(),
            run_id: run_id.to_string(),
            opts,
            policy,
            failures: 0,
            current: None,
            done: false,
        };
        let inner: PartStream = Box::pin(futures::stream::unfold(st, Rejoin::step));
        EventStream {
            inner,
            run_id: Some(run_id.to_string()),
            thread_id: Some(thread_id.to_string()),
            location: None,
        }
    }
}

struct Rejoin {
    client: Client,
    thread_id: String,
    run_id: String,
    /// `last_event_id` is advanced as ids arrive.
    opts: JoinStream,
    policy: Reconnect,
    /// Consecutive failed attempts.
    failures: u32,
    current: Option<EventStream>,
    done: bool,
}

impl Rejoin {
    fn backoff(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.failures.saturating_sub(1));
        self.policy.initial_backoff.saturating_mul(factor).min(Duration::from_secs(5))
    }

    /// Records a failure; `Some(err)` when retries are exhausted.
    fn fail(&mut self, err: Error) -> Option<Error> {
        self.current = None;
        if err.is_transient() && self.failures < self.policy.max_retries {
            self.failures += 1;
            None
        } else {
            self.done = true;
            Some(err)
        }
    }

    async fn step(mut self) -> Option<(Result<StreamPart>, Rejoin)> {
        loop {
            if self.done {
                return None;
            }
            let Some(stream) = self.current.as_mut() else {
                if self.failures > 0 {
                    tokio::time::sleep(self.backoff()).await;
                }
                let runs = self.client.runs();
                match runs.join_stream(&self.thread_id, &self.run_id, &self.opts).await {
                    Ok(s) => self.current = Some(s),
                    Err(e) => {
                        if let Some(e) = self.fail(e) {
                            return Some((Err(e), self));
                        }
                    }
                }
                continue;
            };
            match stream.next().await {
                Some(Ok(part)) => {
                    self.failures = 0;
                    if let Some(id) = &part.id {
                        self.opts.last_event_id = Some(id.clone());
                    }
                    if part.event == "error" || part.event == "end" {
                        self.done = true;
                    }
                    return Some((Ok(part), self));
                }
                // A bad event does not break the connection.
                Some(Err(e @ Error::Decode { .. })) => return Some((Err(e), self)),
                Some(Err(e)) => {
                    if let Some(e) = self.fail(e) {
                        return Some((Err(e), self));
                    }
                }
                None => {
                    // A clean end: over, unless the run is still going (the server closed on
                    // us, e.g. a proxy timeout).
                    self.current = None;
                    let still_running = matches!(
                        self.client.runs().get(&self.thread_id, &self.run_id).await,
                        Ok(run) if run.status.in_flight()
                    );
                    if !still_running || self.failures >= self.policy.max_retries {
                        self.done = true;
                        return None;
                    }
                    self.failures += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_bodies_become_run_failed() {
        let e = run_output(json!({"__error__": {"error": "ValueError", "message": "kaboom"}}));
        match e {
            Err(Error::RunFailed { error, message }) => {
                assert_eq!((error.as_str(), message.as_str()), ("ValueError", "kaboom"));
            }
            other => panic!("{other:?}"),
        }
        let ok = json!({"messages": [], "__interrupt__": [{"value": 1, "id": "x"}]});
        assert_eq!(run_output(ok.clone()).ok(), Some(ok));
    }

    #[test]
    fn content_location_ids() {
        assert_eq!(
            ids_from_location("/threads/t1/runs/r1"),
            (Some("t1".into()), Some("r1".into()))
        );
        assert_eq!(ids_from_location("/runs/r2"), (None, Some("r2".into())));
        assert_eq!(ids_from_location("/elsewhere"), (None, None));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let mut r = Rejoin {
            client: Client::new("http://127.0.0.1:1").unwrap_or_else(|e| panic!("{e}")),
            thread_id: String::new(),
            run_id: String::new(),
            opts: JoinStream::default(),
            policy: Reconnect::default(),
            failures: 1,
            current: None,
            done: false,
        };
        assert_eq!(r.backoff(), Duration::from_millis(200));
        r.failures = 3;
        assert_eq!(r.backoff(), Duration::from_millis(800));
        r.failures = 30;
        assert_eq!(r.backoff(), Duration::from_secs(5));
    }
}
