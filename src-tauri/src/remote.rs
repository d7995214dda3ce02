//! Requests to a deployment on behalf of the UI. Keys are added here, on the Rust side; the UI
//! never holds one.

use std::time::{Duration, Instant};

use futures::StreamExt;
use orrery_api::desktop::{AssistantDraft, Health, HealthState, RunRequest, StateEdit};
use orrery_api::{Assistant, AssistantVersion, Run, StreamPart, Thread};
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

/// An assistant's input, output, state, config and context schemas.
pub async fn schemas(target: &Target, assistant_id: &str) -> Result<Value, String> {
    client(target)?.assistants().schemas(assistant_id).await.map_err(|e| describe(&e))
}

/// The draft's optional text: empty means none.
fn some_text(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Creates an assistant from a draft.
pub async fn assistant_create(target: &Target, d: &AssistantDraft) -> Result<Assistant, String> {
    if d.graph_id.trim().is_empty() {
        return Err("Choose the graph the assistant runs".into());
    }
    let body = orrery_client::AssistantCreate {
        config: Some(d.config.clone()).filter(|c| !c.is_null()),
        context: d.context.clone().filter(|c| !c.is_null()),
        metadata: Some(d.metadata.clone()).filter(|m| !m.is_null()),
        name: some_text(&d.name),
        description: some_text(&d.description),
        ..orrery_client::AssistantCreate::new(d.graph_id.trim())
    };
    client(target)?.assistants().create(&body).await.map_err(|e| describe(&e))
}

/// Saves a draft as the assistant's new version (`PATCH`, which makes it the latest).
pub async fn assistant_update(
    target: &Target,
    assistant_id: &str,
    d: &AssistantDraft,
) -> Result<Assistant, String> {
    let patch = orrery_client::AssistantPatch {
        graph_id: some_text(&d.graph_id),
        config: Some(d.config.clone()).filter(|c| !c.is_null()),
        context: d.context.clone().filter(|c| !c.is_null()),
        metadata: Some(d.metadata.clone()).filter(|m| !m.is_null()),
        name: some_text(&d.name),
        description: some_text(&d.description),
    };
    client(target)?.assistants().update(assistant_id, &patch).await.map_err(|e| describe(&e))
}

/// Deletes an assistant (its threads stay).
pub async fn assistant_delete(target: &Target, assistant_id: &str) -> Result<(), String> {
    client(target)?.assistants().delete(assistant_id, false).await.map_err(|e| describe(&e))
}

/// An assistant's versions, newest first (up to 100).
pub async fn assistant_versions(
    target: &Target,
    assistant_id: &str,
) -> Result<Vec<AssistantVersion>, String> {
    let query = orrery_client::VersionSearch { limit: Some(100), ..Default::default() };
    client(target)?.assistants().versions(assistant_id, &query).await.map_err(|e| describe(&e))
}

/// Makes `version` the assistant's current one (a roll back or forward).
pub async fn assistant_set_latest(
    target: &Target,
    assistant_id: &str,
    version: i64,
) -> Result<Assistant, String> {
    client(target)?.assistants().set_latest(assistant_id, version).await.map_err(|e| describe(&e))
}

/// A thread's runs, newest first (up to 100).
pub async fn runs_list(target: &Target, thread_id: &str) -> Result<Vec<Run>, String> {
    let query = orrery_client::RunList { limit: Some(100), ..Default::default() };
    client(target)?.runs().list(thread_id, &query).await.map_err(|e| describe(&e))
}

/// The thread list's filter: one assistant's threads (by their metadata), a status, and
/// `key=value` metadata pairs as the user typed them.
#[derive(Debug, Clone, Default)]
pub struct ThreadFilter<'a> {
    pub assistant_id: Option<&'a str>,
    pub status: Option<&'a str>,
    pub metadata: &'a str,
}

impl ThreadFilter<'_> {
    /// The search body's filter fields; a malformed pair or status says what is wrong.
    fn query(&self) -> Result<orrery_client::ThreadSearch, String> {
        let mut metadata = metadata_pairs(self.metadata)?;
        if let Some(a) = self.assistant_id {
            metadata.insert("assistant_id".into(), json!(a));
        }
        let status = match self.status.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(serde_json::from_value::<orrery_api::ThreadStatus>(json!(s)).map_err(
                |_| format!("unknown status {s:?}: expected idle, busy, interrupted or error"),
            )?),
        };
        Ok(orrery_client::ThreadSearch {
            metadata: (!metadata.is_empty()).then_some(Value::Object(metadata)),
            status,
            ..Default::default()
        })
    }
}

/// `key=value` pairs separated by spaces or commas; a value that reads as JSON (a number,
/// `true`, `null`, a quoted string) is that JSON value, anything else is the text itself.
pub fn metadata_pairs(text: &str) -> Result<serde_json::Map<String, Value>, String> {
    let mut map = serde_json::Map::new();
    for pair in text.split([',', ' ', '\t', '\n']).filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("metadata filter {pair:?}: expected key=value"));
        };
        if key.is_empty() {
            return Err(format!("metadata filter {pair:?}: the key is empty"));
        }
        let value = serde_json::from_str(value).unwrap_or_else(|_| json!(value));
        map.insert(key.to_string(), value);
    }
    Ok(map)
}

/// A page of threads matching `filter`, most recently updated first.
pub async fn threads(
    target: &Target,
    filter: &ThreadFilter<'_>,
    limit: u32,
    offset: u32,
) -> Result<Vec<Thread>, String> {
    let query = orrery_client::ThreadSearch {
        limit: Some(u64::from(limit)),
        offset: Some(u64::from(offset)),
        sort_by: Some("updated_at".into()),
        sort_order: Some(orrery_client::SortOrder::Desc),
        ..filter.query()?
    };
    client(target)?.threads().search(&query).await.map_err(|e| describe(&e))
}

/// How many threads match `filter` (`POST /threads/count`).
pub async fn threads_count(target: &Target, filter: &ThreadFilter<'_>) -> Result<u64, String> {
    client(target)?.threads().count(&filter.query()?).await.map_err(|e| describe(&e))
}

/// A new thread with a thread's metadata and checkpoints (`POST /threads/{id}/copy`).
pub async fn thread_copy(target: &Target, thread_id: &str) -> Result<Thread, String> {
    client(target)?.threads().copy(thread_id).await.map_err(|e| describe(&e))
}

/// Deletes a thread and its checkpoints and runs.
pub async fn thread_delete(target: &Target, thread_id: &str) -> Result<(), String> {
    client(target)?.threads().delete(thread_id).await.map_err(|e| describe(&e))
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
    before: Option<&str>,
) -> Result<Vec<Value>, String> {
    let mut query =
        orrery_client::HistorySearch { limit: Some(u64::from(limit)), ..Default::default() };
    if let Some(b) = before.filter(|b| !b.is_empty()) {
        query = query.before_checkpoint(b);
    }
    let states = client(target)?
        .threads()
        .search_history(thread_id, &query)
        .await
        .map_err(|e| describe(&e))?;
    states
        .into_iter()
        .map(|s| {
            let mut v =
                serde_json::to_value(s).map_err(|e| format!("cannot encode a checkpoint: {e}"))?;
            // The timeline needs what each checkpoint is (ids, step, source, writes, next,
            // tasks), not its values: a long chat's 50 newest checkpoints carry 50 copies of
            // it. The view asks for one checkpoint's values when it shows them.
            if let Some(o) = v.as_object_mut() {
                o.insert("values".into(), Value::Null);
            }
            Ok(v)
        })
        .collect()
}

/// A thread's state at one checkpoint (values included).
pub async fn thread_state_at(
    target: &Target,
    thread_id: &str,
    checkpoint_id: &str,
) -> Result<Value, String> {
    let state = client(target)?
        .threads()
        .get_state_at(thread_id, checkpoint_id, false)
        .await
        .map_err(|e| describe(&e))?;
    serde_json::to_value(state).map_err(|e| format!("cannot encode a checkpoint: {e}"))
}

/// Creates an empty thread whose metadata names the assistant and its graph (so the thread list
/// of that assistant shows it before its first run, as a run's own metadata would).
pub async fn thread_create(
    target: &Target,
    assistant_id: &str,
    graph_id: &str,
) -> Result<Thread, String> {
    let body = orrery_client::ThreadCreate {
        metadata: Some(json!({ "assistant_id": assistant_id, "graph_id": graph_id })),
        ..Default::default()
    };
    client(target)?.threads().create(&body).await.map_err(|e| describe(&e))
}

/// The double-texting strategy of a request, by its wire name.
fn strategy(name: &str) -> Result<orrery_client::MultitaskStrategy, String> {
    use orrery_client::MultitaskStrategy as S;
    match name {
        "reject" => Ok(S::Reject),
        "enqueue" => Ok(S::Enqueue),
        "interrupt" => Ok(S::Interrupt),
        "rollback" => Ok(S::Rollback),
        other => Err(format!(
            "unknown double-texting strategy {other:?} (reject, enqueue, interrupt or rollback)"
        )),
    }
}

/// The run body of a UI request: the stream modes the Studio reads, and input or a resume.
pub fn run_body(req: &RunRequest) -> Result<orrery_client::RunCreate, String> {
    use orrery_client::StreamMode as M;
    let mut run = orrery_client::RunCreate::new(req.assistant_id.clone());
    run.stream_mode = Some(vec![M::Values, M::Updates, M::MessagesTuple, M::Debug]);
    match (&req.resume, &req.input) {
        (Some(value), _) => {
            run.command =
                Some(orrery_client::Command { resume: Some(value.clone()), ..Default::default() });
        }
        (None, input) => run.input = input.clone(),
    }
    run.config = req.config.clone().filter(|c| !c.is_null());
    run.checkpoint_id = req.checkpoint_id.clone().filter(|c| !c.is_empty());
    run.multitask_strategy = req.multitask_strategy.as_deref().map(strategy).transpose()?;
    run.interrupt_before = breakpoints(&req.interrupt_before);
    run.interrupt_after = breakpoints(&req.interrupt_after);
    Ok(run)
}

/// Breakpoint nodes as the API takes them: `"*"` for every node, else the list (none: `None`).
fn breakpoints(nodes: &[String]) -> Option<orrery_client::Nodes> {
    if nodes.iter().any(|n| n == "*") {
        Some(orrery_client::Nodes::All)
    } else if nodes.is_empty() {
        None
    } else {
        Some(orrery_client::Nodes::List(nodes.to_vec()))
    }
}

/// Starts a run and hands every event to `each` as it arrives, until the server ends the
/// stream; `each` returning `false` stops reading (the UI went away).
pub async fn run_stream(
    target: &Target,
    thread_id: &str,
    req: &RunRequest,
    mut each: impl FnMut(StreamPart) -> bool,
) -> Result<(), String> {
    let body = run_body(req)?;
    let c = client(target)?;
    let mut stream = c.runs().stream(thread_id, &body).await.map_err(|e| describe(&e))?;
    while let Some(part) = stream.next().await {
        let part = part.map_err(|e| format!("the run's stream broke: {}", describe(&e)))?;
        if !each(part) {
            break;
        }
    }
    Ok(())
}

/// Stops a run, keeping what it did so far (`action=interrupt`).
pub async fn run_cancel(target: &Target, thread_id: &str, run_id: &str) -> Result<(), String> {
    client(target)?
        .runs()
        .cancel(thread_id, run_id, false, orrery_client::CancelAction::Interrupt)
        .await
        .map_err(|e| describe(&e))
}

/// Writes a state update at a checkpoint (a fork when it is not the latest one) and returns
/// the new checkpoint's id.
pub async fn thread_update_state(
    target: &Target,
    thread_id: &str,
    edit: &StateEdit,
) -> Result<String, String> {
    let update = orrery_client::StateUpdate {
        values: edit.values.clone(),
        as_node: edit.as_node.clone().filter(|n| !n.trim().is_empty()),
        checkpoint_id: edit.checkpoint_id.clone().filter(|c| !c.is_empty()),
        ..Default::default()
    };
    let done = client(target)?
        .threads()
        .update_state(thread_id, &update)
        .await
        .map_err(|e| describe(&e))?;
    Ok(done.checkpoint.checkpoint_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breakpoints_and_step_mode_go_into_the_run_body() {
        let body = |before: &[&str], after: &[&str]| {
            let req = RunRequest {
                assistant_id: "agent".into(),
                interrupt_before: before.iter().map(|s| s.to_string()).collect(),
                interrupt_after: after.iter().map(|s| s.to_string()).collect(),
                ..RunRequest::default()
            };
            let run = run_body(&req).unwrap_or_else(|e| panic!("run body: {e}"));
            serde_json::to_value(run).unwrap_or_default()
        };
        let v = body(&["tools"], &["agent", "approve"]);
        assert_eq!(v["interrupt_before"], json!(["tools"]));
        assert_eq!(v["interrupt_after"], json!(["agent", "approve"]));
        let step = body(&["*"], &[]);
        assert_eq!(step["interrupt_before"], json!("*"), "step mode is every node");
        assert!(step.get("interrupt_after").is_none(), "{step}");
        let none = body(&[], &[]);
        assert!(none.get("interrupt_before").is_none() && none.get("interrupt_after").is_none());
    }

    #[test]
    fn thread_filters_become_search_fields() {
        let filter = ThreadFilter {
            assistant_id: Some("a-1"),
            status: Some("interrupted"),
            metadata: "user=ana, n=3 ok=true",
        };
        let q = serde_json::to_value(filter.query().unwrap()).unwrap();
        assert_eq!(
            q["metadata"],
            json!({"user": "ana", "n": 3, "ok": true, "assistant_id": "a-1"})
        );
        assert_eq!(q["status"], "interrupted");

        let none = ThreadFilter { status: Some(""), ..Default::default() };
        let q = serde_json::to_value(none.query().unwrap()).unwrap();
        assert!(q.get("metadata").is_none() && q.get("status").is_none());

        let bad = ThreadFilter { status: Some("sleeping"), ..Default::default() };
        assert!(bad.query().unwrap_err().contains("unknown status"));
        assert!(metadata_pairs("user").unwrap_err().contains("key=value"));
        assert!(metadata_pairs("=x").unwrap_err().contains("key is empty"));
    }

    #[test]
    fn run_bodies_stream_what_the_studio_reads() {
        let req = RunRequest {
            assistant_id: "jarvis".into(),
            input: Some(json!({"messages": [{"role": "user", "content": "hi"}]})),
            config: Some(Value::Null),
            checkpoint_id: Some(String::new()),
            multitask_strategy: Some("interrupt".into()),
            ..Default::default()
        };
        let body = serde_json::to_value(run_body(&req).unwrap()).unwrap();
        assert_eq!(body["stream_mode"], json!(["values", "updates", "messages-tuple", "debug"]));
        assert_eq!(body["input"]["messages"][0]["content"], "hi");
        assert_eq!(body["multitask_strategy"], "interrupt");
        assert!(body.get("config").is_none() && body.get("checkpoint_id").is_none());

        // A resume is a command, not input; a re-run is null input at a checkpoint.
        let resume = RunRequest {
            assistant_id: "jarvis".into(),
            input: Some(json!({"ignored": true})),
            resume: Some(json!({"approved": true})),
            checkpoint_id: Some("cp-1".into()),
            ..Default::default()
        };
        let body = serde_json::to_value(run_body(&resume).unwrap()).unwrap();
        assert_eq!(body["command"], json!({"resume": {"approved": true}}));
        assert!(body.get("input").is_none());
        assert_eq!(body["checkpoint_id"], "cp-1");

        let bad = RunRequest { multitask_strategy: Some("later".into()), ..Default::default() };
        assert!(run_body(&bad).is_err_and(|e| e.contains("reject, enqueue")));
    }
}
