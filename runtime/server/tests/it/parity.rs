//! Behaviours where the runtime once differed from `langgraph dev` (found by the client tests,
//! `tests/client`): each test pins the real server's answer.

use serde_json::{Value, json};

use crate::{Backend, Server, both};

/// The system assistant of `echo`: `uuid5(NAMESPACE_GRAPH, "echo")`.
const ECHO: &str = "046b5dc7-2108-582c-9c6c-31d556d138f0";

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

both!(search_select_returns_only_the_selected_fields);
async fn search_select_returns_only_the_selected_fields(backend: Backend) {
    let s = Server::start(backend).await;
    // Assistants (golden 10_assistants_search_count_get.txt).
    let (st, a) =
        s.post("/assistants", json!({"graph_id": "echo", "metadata": {"k": "sel"}})).await;
    assert_eq!(st, 200);
    let (st, found) = s
        .post(
            "/assistants/search",
            json!({"select": ["assistant_id", "graph_id", "name"], "metadata": {"k": "sel"}}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        found,
        json!([{"assistant_id": a["assistant_id"], "graph_id": "echo", "name": "Untitled"}])
    );
    let (st, all) = s.post("/assistants/search", json!({"select": ["name"]})).await;
    assert_eq!(st, 200);
    assert!(all.as_array().unwrap().iter().all(|a| keys(a) == ["name"]), "{all}");
    // Without select, or with an empty one, every field.
    let (_, full) =
        s.post("/assistants/search", json!({"select": [], "metadata": {"k": "sel"}})).await;
    assert_eq!(full[0], a);
    for bad in [json!(["nope"]), json!("assistant_id"), json!([1])] {
        let (st, err) = s.post("/assistants/search", json!({"select": bad})).await;
        assert_eq!(st, 422, "select {bad}: {err}");
        assert!(err["detail"].is_string());
    }

    // Threads.
    let (_, t) = s.post("/threads", json!({"metadata": {"k": "sel"}})).await;
    let (st, found) =
        s.post("/threads/search", json!({"select": ["thread_id"], "metadata": {"k": "sel"}})).await;
    assert_eq!(st, 200);
    assert_eq!(found, json!([{"thread_id": t["thread_id"]}]));
    let (_, found) = s
        .post(
            "/threads/search",
            json!({"select": ["status", "thread_id", "metadata"], "metadata": {"k": "sel"}}),
        )
        .await;
    // The object's own field order, whatever order select names them in.
    assert_eq!(keys(&found[0]), ["thread_id", "metadata", "status"]);
    assert_eq!(s.post("/threads/search", json!({"select": ["run_id"]})).await.0, 422);
    assert_eq!(s.post("/threads/search", json!({"select": {"a": 1}})).await.0, 422);
}

/// One SSE event: name, data, id.
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    pub event: String,
    pub data: Value,
    pub id: Option<String>,
}

fn parse_sse_ids(text: &str) -> Vec<Sse> {
    let mut out = Vec::new();
    for block in text.split("\r\n\r\n") {
        let (mut event, mut data, mut id) = (None, None, None);
        for line in block.split("\r\n") {
            if let Some(e) = line.strip_prefix("event: ") {
                event = Some(e.to_string());
            } else if let Some(d) = line.strip_prefix("data: ") {
                data = serde_json::from_str::<Value>(d).ok();
            } else if let Some(i) = line.strip_prefix("id: ") {
                id = Some(i.to_string());
            }
        }
        if let (Some(event), Some(data)) = (event, data) {
            out.push(Sse { event, data, id });
        }
    }
    out
}

/// `GET` of a stream (read to its end), with an optional `Last-Event-ID`.
async fn get_sse(
    s: &Server,
    path: &str,
    last_event_id: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<Sse>) {
    let mut rb = s.http.get(format!("{}{path}", s.url));
    if let Some(id) = last_event_id {
        rb = rb.header("last-event-id", id);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = tokio::time::timeout(std::time::Duration::from_secs(30), r.text())
        .await
        .expect("the stream ends")
        .unwrap();
    (status, headers, parse_sse_ids(&text))
}

fn names(events: &[Sse]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

/// A background run of `echo` that takes `ms` once started.
async fn slow_run(s: &Server, tid: &str, ms: u64, extra: Value) -> String {
    let mut body = json!({
        "assistant_id": "echo",
        "input": {"messages": [{"role": "user", "content": "hi"}]},
        "config": {"configurable": {"delay_ms": ms}},
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (st, run) = s.post(&format!("/threads/{tid}/runs"), body).await;
    assert_eq!(st, 200, "{run}");
    run["run_id"].as_str().unwrap().to_string()
}

async fn new_thread(s: &Server) -> String {
    let (_, t) = s.post("/threads", json!({})).await;
    t["thread_id"].as_str().unwrap().to_string()
}

both!(a_join_sends_only_the_requested_stream_modes);
async fn a_join_sends_only_the_requested_stream_modes(backend: Backend) {
    let s = Server::start(backend).await;
    let tid = new_thread(&s).await;
    let modes =
        json!({"stream_resumable": true, "stream_mode": ["values", "updates", "messages-tuple"]});
    // Unfiltered: everything the run publishes, `metadata` first.
    let rid = slow_run(&s, &tid, 400, modes.clone()).await;
    let (st, _, all) = get_sse(&s, &format!("/threads/{tid}/runs/{rid}/stream"), Some("-")).await;
    assert_eq!(st, 200);
    let all_names = names(&all);
    assert_eq!(all_names[0], "metadata");
    for e in ["values", "updates", "messages"] {
        assert!(all_names.contains(&e), "{all_names:?}");
    }
    // One mode: only its events (no metadata either), as langgraph dev sends them.
    for (query, want) in [
        ("stream_mode=updates", vec!["updates"]),
        // A JSON array, URL-encoded.
        ("stream_mode=%5B%22values%22%2C%22updates%22%5D", vec!["values", "updates"]),
        // Repeated parameters: all of them (langgraph dev keeps only the last).
        ("stream_mode=updates&stream_mode=values", vec!["values", "updates"]),
        // `messages-tuple` events are named `messages`.
        ("stream_mode=messages-tuple", vec!["messages"]),
    ] {
        let rid = slow_run(&s, &tid, 400, modes.clone()).await;
        let (st, _, got) =
            get_sse(&s, &format!("/threads/{tid}/runs/{rid}/stream?{query}"), Some("-")).await;
        assert_eq!(st, 200);
        assert!(!got.is_empty(), "{query}");
        assert!(got.iter().all(|e| want.contains(&e.event.as_str())), "{query}: {:?}", names(&got));
        for w in &want {
            assert!(names(&got).contains(w), "{query}: {:?}", names(&got));
        }
        assert!(got.iter().all(|e| e.id.is_some()), "a resumable run's events carry ids");
    }
    // A filter does not hide the error of an unknown run.
    let missing = uuid::Uuid::new_v4();
    let (st, _, got) =
        get_sse(&s, &format!("/threads/{tid}/runs/{missing}/stream?stream_mode=values"), None)
            .await;
    assert_eq!(st, 200);
    assert_eq!(names(&got), ["error"]);
}

/// Polls a run until `pred` holds for its status (or it is gone, `None`).
async fn wait_status(s: &Server, tid: &str, rid: &str, pred: impl Fn(Option<&str>) -> bool) {
    for _ in 0..200 {
        let (st, run) = s.get(&format!("/threads/{tid}/runs/{rid}")).await;
        let status = (st == 200).then(|| run["status"].as_str().unwrap().to_string());
        if pred(status.as_deref()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("run {rid} never reached the expected status");
}

both!(subgraphs_by_namespace_answer_like_the_subgraphs_list);
async fn subgraphs_by_namespace_answer_like_the_subgraphs_list(backend: Backend) {
    let s = Server::start(backend).await;
    let echo = ECHO;
    // golden 12_*: a graph without subgraphs has none at any namespace.
    assert_eq!(s.get(&format!("/assistants/{echo}/subgraphs/child")).await, (200, json!({})));
    assert_eq!(
        s.get(&format!("/assistants/{echo}/subgraphs/child%7Cinner?recurse=true")).await,
        (200, json!({}))
    );
    assert_eq!(
        s.get(&format!("/assistants/{echo}/subgraphs?recurse=true")).await,
        (200, json!({}))
    );
    let missing = uuid::Uuid::new_v4();
    assert_eq!(s.get(&format!("/assistants/{missing}/subgraphs/child")).await.0, 404);
    assert_eq!(s.get("/assistants/echo/subgraphs/child").await.0, 422, "a UUID only");
}

both!(runs_cancel_cancels_by_ids_or_by_status);
async fn runs_cancel_cancels_by_ids_or_by_status(backend: Backend) {
    let s = Server::start(backend).await;
    let tid = new_thread(&s).await;
    let nothing = json!({"detail": "No runs found to cancel."});
    // Nothing to cancel: 404.
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        s.post("/runs/cancel", json!({"thread_id": tid, "run_ids": [unknown]})).await,
        (404, nothing.clone())
    );
    assert_eq!(s.post("/runs/cancel", json!({"status": "all"})).await, (404, nothing.clone()));
    // Bad bodies: 422.
    for bad in [
        json!({}),
        json!({"status": "done"}),
        json!({"status": "all", "thread_id": tid}),
        json!({"thread_id": tid}),
        json!({"thread_id": "nope", "run_ids": []}),
        json!({"thread_id": tid, "run_ids": ["nope"]}),
        json!({"thread_id": tid, "run_ids": "x"}),
        json!([]),
    ] {
        assert_eq!(s.post("/runs/cancel", bad.clone()).await.0, 422, "{bad}");
    }

    // By ids: a running run is interrupted.
    let running = slow_run(&s, &tid, 5_000, json!({})).await;
    wait_status(&s, &tid, &running, |st| st == Some("running")).await;
    let (st, body) =
        s.post("/runs/cancel", json!({"thread_id": tid, "run_ids": [running.clone()]})).await;
    assert_eq!(st, 204, "{body}");
    wait_status(&s, &tid, &running, |st| st == Some("interrupted")).await;
    // A run that is over is found (204) and left as it is.
    assert_eq!(
        s.post("/runs/cancel", json!({"thread_id": tid, "run_ids": [running.clone()]})).await.0,
        204
    );
    let (_, run) = s.get(&format!("/threads/{tid}/runs/{running}")).await;
    assert_eq!(run["status"], "interrupted");

    // By status, across threads: `pending` leaves the running one alone.
    let first = slow_run(&s, &tid, 5_000, json!({})).await;
    wait_status(&s, &tid, &first, |st| st == Some("running")).await;
    let queued = slow_run(&s, &tid, 10, json!({})).await;
    assert_eq!(s.post("/runs/cancel", json!({"status": "PENDING"})).await.0, 204);
    wait_status(&s, &tid, &queued, |st| st == Some("interrupted")).await;
    let (_, run) = s.get(&format!("/threads/{tid}/runs/{first}")).await;
    assert_eq!(run["status"], "running");
    // `?action=rollback` deletes the run.
    assert_eq!(s.post("/runs/cancel?action=rollback", json!({"status": "running"})).await.0, 204);
    wait_status(&s, &tid, &first, |st| st.is_none()).await;
    assert_eq!(s.post("/runs/cancel", json!({"status": "running"})).await, (404, nothing));
}

both!(threads_prune_deletes_or_keeps_the_latest_state);
async fn threads_prune_deletes_or_keeps_the_latest_state(backend: Backend) {
    let s = Server::start(backend).await;
    let (a, b) = (new_thread(&s).await, new_thread(&s).await);
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        s.post("/threads/prune", json!({"thread_ids": [a, b, unknown]})).await,
        (200, json!({"pruned_count": 2})),
        "unknown ids are skipped"
    );
    assert_eq!(s.get(&format!("/threads/{a}")).await.0, 404);
    assert_eq!(
        s.post("/threads/prune", json!({"thread_ids": []})).await,
        (200, json!({"pruned_count": 0}))
    );
    for bad in [
        json!({}),
        json!({"thread_ids": ["nope"]}),
        json!({"thread_ids": "x"}),
        json!({"thread_ids": [], "strategy": "all"}),
    ] {
        assert_eq!(s.post("/threads/prune", bad.clone()).await.0, 422, "{bad}");
    }

    // keep_latest: the thread and its latest state stay, the older checkpoints go.
    let t = new_thread(&s).await;
    for text in ["one", "two"] {
        let input = json!({"assistant_id": "echo", "input": {"messages": [{"role": "user", "content": text}]}});
        assert_eq!(s.post(&format!("/threads/{t}/runs/wait"), input).await.0, 200);
    }
    let (_, before) = s.get(&format!("/threads/{t}/state")).await;
    let (_, history) = s.get(&format!("/threads/{t}/history?limit=100")).await;
    assert!(history.as_array().unwrap().len() > 2, "{history}");
    assert_eq!(
        s.post("/threads/prune", json!({"thread_ids": [t], "strategy": "keep_latest"})).await,
        (200, json!({"pruned_count": 1}))
    );
    let (_, history) = s.get(&format!("/threads/{t}/history?limit=100")).await;
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    let (_, after) = s.get(&format!("/threads/{t}/state")).await;
    assert_eq!(after["values"], before["values"]);
    assert_eq!(after["checkpoint"], before["checkpoint"]);
    assert_eq!(after["parent_checkpoint"], Value::Null);
    // The thread runs on from there.
    let input = json!({"assistant_id": "echo", "input": {"messages": [{"role": "user", "content": "three"}]}});
    let (st, out) = s.post(&format!("/threads/{t}/runs/wait"), input).await;
    assert_eq!(st, 200);
    assert_eq!(out["messages"].as_array().unwrap().len(), 6, "{out}");
}

/// An open SSE response read incrementally.
struct OpenStream {
    resp: reqwest::Response,
    buf: String,
}

impl OpenStream {
    async fn open(
        s: &Server,
        path: &str,
        last_event_id: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, OpenStream) {
        let mut rb = s.http.get(format!("{}{path}", s.url));
        if let Some(id) = last_event_id {
            rb = rb.header("last-event-id", id);
        }
        let resp = rb.send().await.unwrap();
        (resp.status().as_u16(), resp.headers().clone(), OpenStream { resp, buf: String::new() })
    }

    /// The next event (heartbeats skipped); panics after 15 s without one.
    async fn next(&mut self) -> Sse {
        tokio::time::timeout(std::time::Duration::from_secs(15), self.next_event())
            .await
            .expect("an event within 15 s")
    }

    async fn next_event(&mut self) -> Sse {
        loop {
            if let Some(end) = self.buf.find("\r\n\r\n") {
                let block: String = self.buf.drain(..end + 4).collect();
                if let Some(e) = parse_sse_ids(&block).pop() {
                    return e;
                }
                continue;
            }
            let chunk = self.resp.chunk().await.unwrap().expect("the stream stays open");
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// Events up to and including the `run_done` marker.
    async fn until_run_done(&mut self) -> Vec<Sse> {
        let mut out = Vec::new();
        loop {
            let e = self.next().await;
            let done = e.event == "metadata" && e.data["status"] == "run_done";
            out.push(e);
            if done {
                return out;
            }
        }
    }
}

both!(the_thread_stream_sends_every_run_and_state_update_of_the_thread);
async fn the_thread_stream_sends_every_run_and_state_update_of_the_thread(backend: Backend) {
    let s = Server::start(backend).await;
    let tid = new_thread(&s).await;
    let path = format!("/threads/{tid}/stream");
    let (st, headers, mut all) = OpenStream::open(&s, &path, None).await;
    assert_eq!(st, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    assert!(headers.get("location").is_none(), "no location on thread streams (golden 62)");
    let (_, _, mut life) =
        OpenStream::open(&s, &format!("{path}?stream_modes=lifecycle"), None).await;
    let (_, _, mut updates) =
        OpenStream::open(&s, &format!("{path}?stream_modes=state_update"), None).await;
    let (_, _, mut both_) =
        OpenStream::open(&s, &format!("{path}?stream_modes=run_modes,state_update"), None).await;

    let body = json!({"assistant_id": "echo", "input": {"messages": [{"role": "user", "content": "live"}]}, "stream_mode": ["values", "updates"]});
    let (st, run) = s.post(&format!("/threads/{tid}/runs"), body).await;
    assert_eq!(st, 200);
    let rid = run["run_id"].as_str().unwrap();
    // run_modes: the run's events, then the run_done marker; every event has an id.
    let got = all.until_run_done().await;
    assert_eq!(names(&got), ["metadata", "values", "updates", "values", "metadata"]);
    assert_eq!(got[0].data, json!({"run_id": rid, "attempt": 1}));
    assert_eq!(got[4].data, json!({"status": "run_done", "run_id": rid}));
    assert!(got.iter().all(|e| e.id.is_some()), "thread streams always carry ids");
    let ids: Vec<&str> = got.iter().map(|e| e.id.as_deref().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // lifecycle: the first metadata event and the marker only.
    let got = life.until_run_done().await;
    assert_eq!(names(&got), ["metadata", "metadata"]);
    assert_eq!(got[0].data["run_id"], rid);
    assert_eq!(both_.until_run_done().await.len(), 5);

    // A state update goes to state_update streams.
    let (st, _) = s
        .post(
            &format!("/threads/{tid}/state"),
            json!({"values": {"messages": [{"role": "user", "content": "edited"}]}}),
        )
        .await;
    assert_eq!(st, 200);
    let e = updates.next().await;
    assert_eq!(e.event, "state_update");
    assert_eq!(e.data["thread_id"], json!(tid));
    let (_, state) = s.get(&format!("/threads/{tid}/state")).await;
    assert_eq!(e.data["state"], state);
    assert!(e.id.is_some());
    let e = both_.next().await;
    assert_eq!(e.event, "state_update");

    // Errors before the stream starts: a bad mode, a bad id, a bad Last-Event-ID.
    assert_eq!(
        s.get(&format!("{path}?stream_modes=bogus")).await,
        (422, json!({"detail": "Invalid stream mode: bogus"}))
    );
    assert_eq!(s.get("/threads/nope/stream").await.0, 422);
    for bad in ["x", "12-", "-1", "1-2-3", "12-a"] {
        let (st, _, _) = OpenStream::open(&s, &path, Some(bad)).await;
        assert_eq!(st, 422, "Last-Event-ID {bad}");
    }
    for good in ["-", "1795599530012", "1795599530012-0", "1795599530012-*"] {
        let (st, _, _) = OpenStream::open(&s, &path, Some(good)).await;
        assert_eq!(st, 200, "Last-Event-ID {good}");
    }
    // An unknown thread is not an error: its runs may come.
    let (st, _, _) =
        OpenStream::open(&s, &format!("/threads/{}/stream", uuid::Uuid::new_v4()), None).await;
    assert_eq!(st, 200);
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

both!(joins_say_where_to_reconnect);
async fn joins_say_where_to_reconnect(backend: Backend) {
    let s = Server::start(backend).await;
    let tid = new_thread(&s).await;
    let get = |path: String| {
        let req = s.http.get(format!("{}{path}", s.url));
        async move {
            let r = req.send().await.unwrap();
            let h = r.headers().clone();
            let _ = r.text().await.unwrap();
            h
        }
    };
    let check = |h: &reqwest::header::HeaderMap, rid: &str, what: &str| {
        assert_eq!(
            header(h, "location"),
            Some(format!("/threads/{tid}/runs/{rid}/{what}").as_str()),
            "{what}"
        );
        assert_eq!(
            header(h, "content-location"),
            Some(format!("/threads/{tid}/runs/{rid}").as_str()),
            "{what}"
        );
    };
    // While the run goes on, after it ended, and for a run that does not exist.
    let rid = slow_run(&s, &tid, 300, json!({})).await;
    check(&get(format!("/threads/{tid}/runs/{rid}/stream")).await, &rid, "stream");
    let rid = slow_run(&s, &tid, 300, json!({})).await;
    check(&get(format!("/threads/{tid}/runs/{rid}/join")).await, &rid, "join");
    check(&get(format!("/threads/{tid}/runs/{rid}/stream")).await, &rid, "stream");
    check(&get(format!("/threads/{tid}/runs/{rid}/join")).await, &rid, "join");
    let missing = uuid::Uuid::new_v4().to_string();
    check(&get(format!("/threads/{tid}/runs/{missing}/stream")).await, &missing, "stream");
    check(&get(format!("/threads/{tid}/runs/{missing}/join")).await, &missing, "join");
    // A cancel that waits answers like a join.
    let rid = slow_run(&s, &tid, 5_000, json!({})).await;
    wait_status(&s, &tid, &rid, |st| st == Some("running")).await;
    let r = s
        .http
        .post(format!("{}/threads/{tid}/runs/{rid}/cancel?wait=1", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    check(r.headers(), &rid, "join");
    // The thread stream has neither (golden 62).
    let (_, h, _) = OpenStream::open(&s, &format!("/threads/{tid}/stream"), None).await;
    assert!(h.get("location").is_none() && h.get("content-location").is_none());
}

both!(a_resumable_run_replays_its_stream_after_the_end);
async fn a_resumable_run_replays_its_stream_after_the_end(backend: Backend) {
    let s = Server::start(backend).await;
    let tid = new_thread(&s).await;
    let modes = json!({"stream_resumable": true, "stream_mode": ["values", "updates"]});
    let rid = slow_run(&s, &tid, 300, modes).await;
    let path = format!("/threads/{tid}/runs/{rid}/stream");
    // Joined while it runs, from the start.
    let (_, _, live) = get_sse(&s, &path, Some("-")).await;
    assert_eq!(names(&live), ["metadata", "values", "updates", "values"]);
    assert!(live.iter().all(|e| e.id.is_some()));
    let ids: Vec<&str> = live.iter().map(|e| e.id.as_deref().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids strictly increase: {ids:?}");
    wait_status(&s, &tid, &rid, |st| st == Some("success")).await;

    // After the end (golden 42): `-` replays everything stored, with the same ids.
    let (st, h, replay) = get_sse(&s, &path, Some("-")).await;
    assert_eq!(st, 200);
    assert_eq!(header(&h, "location"), Some(path.as_str()));
    assert_eq!(replay, live);
    // From an id: what came after it.
    let (_, _, rest) = get_sse(&s, &path, live[1].id.as_deref()).await;
    assert_eq!(rest, live[2..]);
    let (_, _, none) = get_sse(&s, &path, live[3].id.as_deref()).await;
    assert!(none.is_empty());
    // Filtered by mode.
    let (_, _, updates) = get_sse(&s, &format!("{path}?stream_mode=updates"), Some("-")).await;
    assert_eq!(names(&updates), ["updates"]);
    // Without Last-Event-ID, or with garbage (not validated on run streams): nothing.
    assert!(get_sse(&s, &path, None).await.2.is_empty());
    let (st, _, garbage) = get_sse(&s, &path, Some("not-an-id")).await;
    assert_eq!((st, garbage.len()), (200, 0));

    // A run that is not resumable keeps nothing.
    let plain = slow_run(&s, &tid, 10, json!({})).await;
    wait_status(&s, &tid, &plain, |st| st == Some("success")).await;
    let (_, _, nothing) =
        get_sse(&s, &format!("/threads/{tid}/runs/{plain}/stream"), Some("-")).await;
    assert!(nothing.is_empty());
    assert!(s.state.db.run_log(&plain).await.unwrap().is_empty());

    // A cancelled resumable run keeps what it published.
    let cancelled = slow_run(&s, &tid, 5_000, json!({"stream_resumable": true})).await;
    wait_status(&s, &tid, &cancelled, |st| st == Some("running")).await;
    let cancel = format!("/threads/{tid}/runs/{cancelled}/cancel?wait=1");
    assert_eq!(s.post(&cancel, json!({})).await.0, 200);
    let (_, _, partial) =
        get_sse(&s, &format!("/threads/{tid}/runs/{cancelled}/stream"), Some("-")).await;
    assert_eq!(partial[0].event, "metadata");
    assert_eq!(partial[0].data["run_id"], json!(cancelled));
    assert!(
        !names(&partial).contains(&"updates"),
        "the node never finished: {:?}",
        names(&partial)
    );

    // The log is in the database: another process on it replays the same.
    let other = restarted(&s).await;
    let (_, _, again) = get_sse(&other, &path, Some("-")).await;
    assert_eq!(again, live);
    drop(other);

    // It goes with its run.
    assert_eq!(
        s.send(reqwest::Method::DELETE, &format!("/threads/{tid}/runs/{rid}"), None).await.0,
        204
    );
    assert!(s.state.db.run_log(&rid).await.unwrap().is_empty());
    assert!(!s.state.db.run_log(&cancelled).await.unwrap().is_empty());
    assert_eq!(s.send(reqwest::Method::DELETE, &format!("/threads/{tid}"), None).await.0, 204);
    assert!(s.state.db.run_log(&cancelled).await.unwrap().is_empty());
}

/// A second server on the same database (what a restart finds).
async fn restarted(s: &Server) -> Server {
    let state = orrery_runtime::AppState::start(&orrery_runtime::Options {
        data_dir: s.data_dir.0.clone(),
        workers: 1,
        database_uri: s.pg.as_ref().map(crate::PgDatabase::uri),
    })
    .await
    .unwrap();
    Server::serve(state).await
}

both!(a_long_log_is_stored_whole);
async fn a_long_log_is_stored_whole(backend: Backend) {
    let s = Server::start(backend).await;
    let tid = new_thread(&s).await;
    let rid = uuid::Uuid::now_v7().to_string();
    // More frames than one INSERT statement takes.
    let log: Vec<orrery_runtime::runs::Frame> = (0..401)
        .map(|i| orrery_runtime::runs::Frame {
            event: "custom".into(),
            data: json!({"i": i}).to_string(),
            id: format!("{}-0", 1_795_599_530_000_i64 + i),
        })
        .collect();
    s.state.db.end_run(&tid, &rid, orrery_api::RunStatus::Success, &log).await.unwrap();
    assert_eq!(s.state.db.run_log(&rid).await.unwrap(), log);
    let by_thread = s.state.db.thread_log(&tid).await.unwrap();
    assert_eq!(by_thread.len(), 401);
    assert!(by_thread.iter().all(|(r, _)| *r == rid));
}

both!(the_thread_stream_replays_resumable_runs_from_last_event_id);
async fn the_thread_stream_replays_resumable_runs_from_last_event_id(backend: Backend) {
    let s = Server::start(backend).await;
    let tid = new_thread(&s).await;
    let first = slow_run(&s, &tid, 10, json!({"stream_resumable": true})).await;
    let plain = slow_run(&s, &tid, 10, json!({})).await;
    wait_status(&s, &tid, &plain, |st| st == Some("success")).await;
    let path = format!("/threads/{tid}/stream");
    // `-`: every stored event of the thread's resumable runs, with their run_done markers.
    let (st, _, mut stream) = OpenStream::open(&s, &path, Some("-")).await;
    assert_eq!(st, 200);
    let got = stream.until_run_done().await;
    assert_eq!(names(&got), ["metadata", "values", "values", "metadata"]);
    assert_eq!(got[0].data["run_id"], json!(first));
    assert_eq!(got[3].data, json!({"status": "run_done", "run_id": first}));
    // Then live: a new run, not replayed twice.
    let live = slow_run(&s, &tid, 10, json!({"stream_resumable": true})).await;
    let next = stream.until_run_done().await;
    assert_eq!(names(&next), ["metadata", "values", "values", "metadata"]);
    assert_eq!(next[0].data["run_id"], json!(live));
    wait_status(&s, &tid, &live, |st| st == Some("success")).await;
    // From an id: what came after it, across runs; lifecycle filters the replay too.
    let (_, _, mut from) = OpenStream::open(&s, &path, got[2].id.as_deref()).await;
    let after = from.until_run_done().await;
    assert_eq!(names(&after), ["metadata"], "the first run's marker");
    let after = from.until_run_done().await;
    assert_eq!(after.len(), 4, "then the second resumable run");
    let (_, _, mut life) =
        OpenStream::open(&s, &format!("{path}?stream_modes=lifecycle"), Some("-")).await;
    assert_eq!(names(&life.until_run_done().await), ["metadata", "metadata"]);
    assert_eq!(names(&life.until_run_done().await), ["metadata", "metadata"]);
}

both!(openapi_json_describes_exactly_the_routes_served);
async fn openapi_json_describes_exactly_the_routes_served(backend: Backend) {
    let s = Server::start(backend).await;
    let (st, doc) = s.get("/openapi.json").await;
    assert_eq!(st, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Orrery");
    let paths = doc["paths"].as_object().unwrap();
    // A few routes each group must have (and the ones added to match langgraph dev).
    for p in [
        "/ok",
        "/openapi.json",
        "/assistants/search",
        "/assistants/{assistant_id}/subgraphs/{namespace}",
        "/threads/prune",
        "/threads/{thread_id}/stream",
        "/threads/{thread_id}/runs/{run_id}/stream",
        "/runs/cancel",
        "/runs/crons/{cron_id}",
        "/store/items",
    ] {
        assert!(paths.contains_key(p), "{p} is not described");
    }
    let methods = ["get", "post", "put", "patch", "delete"];
    let mut probed = 0;
    for (path, ops) in paths {
        let ops = ops.as_object().unwrap();
        // Path parameters get harmless values: unknown ids, a namespace.
        let url: String = path
            .split('/')
            .map(|seg| match seg {
                "{namespace}" => "child".to_string(),
                s if s.starts_with('{') => uuid::Uuid::new_v4().to_string(),
                s => s.to_string(),
            })
            .collect::<Vec<_>>()
            .join("/");
        for m in methods {
            let method = reqwest::Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let mut rb = s.http.request(method, format!("{}{url}", s.url));
            if m != "get" {
                rb = rb.json(&json!({}));
            }
            // Only the status: some answers are streams that never end.
            let r = rb.send().await.unwrap();
            let status = r.status().as_u16();
            // Every described path has a method it does not serve, whose 405 shows the path is
            // routed; the described methods are served (not 405).
            let fallback = status == 405;
            if ops.contains_key(m) {
                assert!(!fallback, "{m} {path} is described but not served ({status})");
                probed += 1;
            } else {
                assert_eq!(status, 405, "{m} {path} is served but not described");
            }
        }
    }
    assert!(probed >= 55, "{probed} operations");
    assert!(
        paths.values().all(|ops| ops.as_object().unwrap().len() < methods.len()),
        "a path serving every method would not show it is routed"
    );
    // GET routes answer HEAD too; what is not described is not served.
    let head = s.http.head(format!("{}/ok", s.url)).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 200);
    for p in ["/docs", "/metrics", "/threads/x/stream/events", "/nope"] {
        assert!(!paths.contains_key(p));
        assert_eq!(s.get(p).await, (404, json!({"detail": "Not Found"})), "{p}");
    }
}
