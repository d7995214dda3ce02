//! Requests to a deployment on behalf of the UI. Keys are added here, on the Rust side; the UI
//! never holds one.

use std::time::{Duration, Instant};

use orrery_api::desktop::{Health, HealthState};
use orrery_api::{Assistant, Thread};
use serde_json::{Value, json};

use crate::Target;

fn client(target: &Target) -> Result<orrery_client::Client, String> {
    let mut b = orrery_client::Client::builder(target.url.clone())
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Some(Duration::from_secs(30)));
    if let Some(k) = &target.key {
        b = b.api_key(k.clone());
    }
    b.build().map_err(|e| describe(&e))
}

/// Checks `/ok` and reads `/info`; `failures` is the count of failed checks before this one.
pub async fn check(target: &Target, failures: u32) -> Health {
    let checked_at = Some(chrono::Utc::now().to_rfc3339());
    let failed = |error: String| Health {
        state: HealthState::Down,
        error: Some(error),
        latency_ms: None,
        version: None,
        info: None,
        checked_at: checked_at.clone(),
        failures: failures.saturating_add(1),
    };
    let c = match client(target) {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let start = Instant::now();
    let ok = tokio::time::timeout(Duration::from_secs(5), c.ok()).await;
    let latency_ms = Some(start.elapsed().as_millis() as u64);
    match ok {
        Err(_) => return failed(format!("{} did not answer within 5 s", target.url)),
        Ok(Err(e)) => return failed(describe(&e)),
        Ok(Ok(_)) => {}
    }
    // `/ok` needs no key; `/info` tells whether the key is accepted, and what the server is.
    match c.info().await {
        Ok(info) => Health {
            state: HealthState::Up,
            error: None,
            latency_ms,
            version: version_of(&info),
            info: Some(info),
            checked_at,
            failures: 0,
        },
        Err(e) => failed(describe(&e)),
    }
}

/// The server's version as `/info` gives it (ours: `version`; LangGraph's: `version` too, with
/// `langgraph_py_version` beside it).
fn version_of(info: &Value) -> Option<String> {
    ["version", "langgraph_api_version", "langgraph_py_version"]
        .iter()
        .find_map(|k| info.get(k).and_then(Value::as_str))
        .map(str::to_string)
}

/// An error in words a user can act on.
pub fn describe(e: &orrery_client::Error) -> String {
    match e.status() {
        Some(401) | Some(403) => {
            format!("{e} (check the connection's API key)")
        }
        _ => e.to_string(),
    }
}

/// Every assistant, newest first.
pub async fn assistants(target: &Target) -> Result<Vec<Assistant>, String> {
    let query =
        orrery_client::AssistantSearch { limit: Some(100), offset: Some(0), ..Default::default() };
    client(target)?.assistants().search(&query).await.map_err(|e| describe(&e))
}

/// An assistant's graph, `{nodes, edges}`, with every subgraph expanded when `xray`.
pub async fn graph(target: &Target, assistant_id: &str, xray: bool) -> Result<Value, String> {
    let xray = if xray { orrery_client::Xray::On } else { orrery_client::Xray::Off };
    client(target)?.assistants().graph(assistant_id, xray).await.map_err(|e| describe(&e))
}

/// A page of threads, of one assistant's graph runs when `assistant_id` is given.
pub async fn threads(
    target: &Target,
    assistant_id: Option<&str>,
    limit: u32,
    offset: u32,
) -> Result<Vec<Thread>, String> {
    let query = orrery_client::ThreadSearch {
        metadata: assistant_id.map(|a| json!({ "assistant_id": a })),
        limit: Some(u64::from(limit)),
        offset: Some(u64::from(offset)),
        sort_by: Some("updated_at".into()),
        sort_order: Some(orrery_client::SortOrder::Desc),
        ..Default::default()
    };
    client(target)?.threads().search(&query).await.map_err(|e| describe(&e))
}

/// A thread's latest state (`GET /threads/{id}/state`), as the server sent it.
pub async fn thread_state(target: &Target, thread_id: &str) -> Result<Value, String> {
    let state =
        client(target)?.threads().get_state(thread_id, false).await.map_err(|e| describe(&e))?;
    serde_json::to_value(state).map_err(|e| format!("cannot encode the thread state: {e}"))
}

/// Up to `limit` of a thread's checkpoints, newest first (`POST /threads/{id}/history`).
pub async fn thread_history(
    target: &Target,
    thread_id: &str,
    limit: u32,
) -> Result<Vec<Value>, String> {
    let query =
        orrery_client::HistorySearch { limit: Some(u64::from(limit)), ..Default::default() };
    let states = client(target)?
        .threads()
        .search_history(thread_id, &query)
        .await
        .map_err(|e| describe(&e))?;
    states
        .into_iter()
        .map(|s| serde_json::to_value(s).map_err(|e| format!("cannot encode a checkpoint: {e}")))
        .collect()
}
