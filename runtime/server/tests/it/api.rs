//! The API surface, endpoint group by endpoint group.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{Backend, Server, both};

fn human(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": text}]})
}

both!(meta_routes_answer);
async fn meta_routes_answer(backend: Backend) {
    let s = Server::start(backend).await;
    assert_eq!(s.get("/ok").await, (200, json!({"ok": true, "services": {}})));
    assert_eq!(s.get("/").await.0, 200);
    let (st, info) = s.get("/info").await;
    assert_eq!(st, 200);
    assert_eq!(info["flags"]["assistants"], true);
    assert_eq!(s.get("/nope").await, (404, json!({"detail": "Not Found"})));
    assert_eq!(
        s.send(reqwest::Method::DELETE, "/ok", None).await,
        (405, json!({"detail": "Method Not Allowed"}))
    );
}

both!(system_assistants_use_langgraph_ids_and_graph_names_resolve);
async fn system_assistants_use_langgraph_ids_and_graph_names_resolve(backend: Backend) {
    let s = Server::start(backend).await;
    let (st, list) = s.post("/assistants/search", json!({})).await;
    assert_eq!(st, 200);
    let echo = list.as_array().unwrap().iter().find(|a| a["graph_id"] == "echo").cloned().unwrap();
    // uuid5(NAMESPACE_GRAPH, "echo"), as the LangGraph server derives it.
    assert_eq!(echo["assistant_id"], "046b5dc7-2108-582c-9c6c-31d556d138f0");
    assert_eq!(echo["metadata"], json!({"created_by": "system"}));
    // echo, and the bundled Jarvis example with its jarvis-spanish assistant.
    assert_eq!(s.post("/assistants/count", json!({})).await, (200, json!(3)));
    let (st, graph) = s.get("/assistants/echo/graph").await;
    assert_eq!(st, 200);
    assert_eq!(
        graph["edges"],
        json!([{"source": "__start__", "target": "echo"}, {"source": "echo", "target": "__end__"}])
    );
    assert_eq!(s.get("/assistants/echo").await.0, 422, "only UUIDs on GET /assistants/{{id}}");
    assert_eq!(
        s.get(&format!("/assistants/{}", uuid::Uuid::new_v4())).await,
        (404, json!({"detail": "Not Found"}))
    );
    let (st, err) = s
        .post("/threads/00000000-0000-0000-0000-000000000001/runs", json!({"assistant_id": "nope"}))
        .await;
    assert_eq!(st, 422);
    assert!(err["detail"].as_str().unwrap().contains("Invalid assistant: 'nope'"));
    assert_eq!(s.get("/assistants/echo/graph?xray=0").await.0, 422);
}

both!(assistants_are_created_versioned_and_rolled_back);
async fn assistants_are_created_versioned_and_rolled_back(backend: Backend) {
    let s = Server::start(backend).await;
    let (st, a) = s
        .post("/assistants", json!({"graph_id": "echo", "name": "mine", "config": {"configurable": {"delay_ms": 1}}, "metadata": {"team": "a"}}))
        .await;
    assert_eq!(st, 200);
    assert_eq!(a["version"], 1);
    assert_eq!(a["context"], json!({"delay_ms": 1}), "configurable is mirrored into context");
    let id = a["assistant_id"].as_str().unwrap().to_string();
    let (st, p) = s
        .send(
            reqwest::Method::PATCH,
            &format!("/assistants/{id}"),
            Some(json!({"name": "renamed", "metadata": {"x": 1}})),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(p["version"], 2);
    assert_eq!(p["metadata"], json!({"team": "a", "x": 1}), "metadata is merged");
    let (st, versions) = s.post(&format!("/assistants/{id}/versions"), json!({})).await;
    assert_eq!(st, 200);
    assert_eq!(versions.as_array().unwrap().len(), 2);
    let (st, back) = s.post(&format!("/assistants/{id}/latest"), json!({"version": 1})).await;
    assert_eq!(st, 200);
    assert_eq!((back["version"].clone(), back["name"].clone()), (json!(1), json!("mine")));
    assert_eq!(s.post(&format!("/assistants/{id}/latest"), json!({"version": 42})).await.0, 404);
    assert_eq!(s.post("/assistants", json!({"graph_id": "echo", "assistant_id": id})).await.0, 409);
    assert_eq!(s.post("/assistants", json!({"graph_id": "nope"})).await.0, 404);
    assert_eq!(
        s.post(
            "/assistants",
            json!({"graph_id": "echo", "config": {"configurable": {"a": 1}}, "context": {"b": 2}})
        )
        .await
        .0,
        400
    );
    let (st, page) = s.post("/assistants/search", json!({"name": "MIN"})).await;
    assert_eq!(
        (st, page.as_array().unwrap().len()),
        (200, 1),
        "name search is a case-insensitive substring"
    );
    assert_eq!(s.send(reqwest::Method::DELETE, &format!("/assistants/{id}"), None).await.0, 204);
    assert_eq!(s.send(reqwest::Method::DELETE, &format!("/assistants/{id}"), None).await.0, 404);
}

both!(threads_crud_search_and_errors);
async fn threads_crud_search_and_errors(backend: Backend) {
    let s = Server::start(backend).await;
    let (st, t) = s.post("/threads", json!({"metadata": {"user": "u1"}})).await;
    assert_eq!(st, 200);
    assert_eq!(t["status"], "idle");
    assert_eq!(t["values"], Value::Null);
    assert_eq!(t["config"], json!({}));
    let id = t["thread_id"].as_str().unwrap().to_string();
    assert_eq!(s.post("/threads", json!({"thread_id": id})).await.0, 409);
    assert_eq!(
        s.post("/threads", json!({"thread_id": id, "if_exists": "do_nothing"})).await.0,
        200
    );
    assert_eq!(s.post("/threads", json!({"thread_id": "not-a-uuid"})).await.0, 422);
    for _ in 0..3 {
        s.post("/threads", json!({"metadata": {"user": "u2"}})).await;
    }
    let r = s
        .http
        .post(format!("{}/threads/search", s.url))
        .json(&json!({"limit": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-pagination-total"], "3");
    assert_eq!(r.headers()["x-pagination-next"], "2");
    let (_, found) = s.post("/threads/search", json!({"metadata": {"user": "u1"}})).await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(
        s.post("/threads/count", json!({"metadata": {"user": "u2"}})).await,
        (200, json!(3))
    );
    assert_eq!(s.post("/threads/search", json!({"ids": ["bad"]})).await.0, 400);
    let (st, patched) = s
        .send(
            reqwest::Method::PATCH,
            &format!("/threads/{id}"),
            Some(json!({"metadata": {"k": 1}})),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(patched["metadata"], json!({"user": "u1", "k": 1}));
    let (st, state) = s.get(&format!("/threads/{id}/state")).await;
    assert_eq!(st, 200);
    assert_eq!(state["checkpoint"], Value::Null);
    assert_eq!(
        s.post(&format!("/threads/{id}/state"), json!({"values": {}})).await.0,
        400,
        "a thread that never ran has no graph"
    );
    assert_eq!(s.send(reqwest::Method::DELETE, &format!("/threads/{id}"), None).await.0, 204);
    let (st, err) = s.get(&format!("/threads/{id}")).await;
    assert_eq!(st, 404);
    assert_eq!(err["detail"], format!("Thread with ID {id} not found"));
    assert_eq!(s.get("/threads/nope").await.0, 422);
    let r = s.http.post(format!("{}/threads", s.url)).body("{nope").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"detail": "Invalid JSON in request body"}));
}

both!(wait_runs_the_graph_and_the_thread_records_it);
async fn wait_runs_the_graph_and_the_thread_records_it(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, t) = s.post("/threads", json!({})).await;
    let id = t["thread_id"].as_str().unwrap();
    let r = s
        .http
        .post(format!("{}/threads/{id}/runs/wait", s.url))
        .json(&json!({"assistant_id": "echo", "input": human("hi there")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let loc = r.headers()["content-location"].to_str().unwrap().to_string();
    assert!(loc.starts_with(&format!("/threads/{id}/runs/")));
    let out: Value = serde_json::from_str(r.text().await.unwrap().trim()).unwrap();
    let msgs = out["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(
        (msgs[1]["type"].clone(), msgs[1]["content"].clone()),
        (json!("ai"), json!("hi there"))
    );
    assert_eq!(msgs[0]["type"], "human", "OpenAI-style input comes back LangChain-style");
    let (_, thread) = s.get(&format!("/threads/{id}")).await;
    assert_eq!(thread["status"], "idle");
    assert_eq!(thread["metadata"]["graph_id"], "echo");
    assert_eq!(thread["values"], out);
    let (_, run) = s.get(&loc).await;
    assert_eq!(run["status"], "success");
    let (_, state) = s.get(&format!("/threads/{id}/state")).await;
    assert_eq!(state["values"], out);
    assert_eq!(state["metadata"]["source"], "loop");
    assert_eq!(state["checkpoint"]["thread_id"], id);
    let (_, hist) = s.get(&format!("/threads/{id}/history")).await;
    assert_eq!(hist.as_array().unwrap().len(), 1, "history defaults to limit 1");
    let (_, hist) = s.post(&format!("/threads/{id}/history"), json!({"limit": 10})).await;
    let sources: Vec<&str> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["metadata"]["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, vec!["loop", "loop", "input"]);
    let (_, runs) = s.get(&format!("/threads/{id}/runs")).await;
    assert_eq!(runs.as_array().unwrap().len(), 1);
}

both!(a_client_that_goes_away_cancels_its_run_when_it_asked_to);
async fn a_client_that_goes_away_cancels_its_run_when_it_asked_to(backend: Backend) {
    let s = Server::start(backend).await;
    let slow = |extra: Value| {
        let mut b = json!({"assistant_id": "echo", "input": human("slow"), "config": {"configurable": {"delay_ms": 1500}}});
        if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        b
    };
    let status_after = |tid: String, rid: String| {
        let s = &s;
        async move {
            // Bounded: the run either ends interrupted soon or finishes after its 1.5 s sleep.
            for _ in 0..400 {
                let (_, run) = s.get(&format!("/threads/{tid}/runs/{rid}")).await;
                let st = run["status"].as_str().unwrap_or_default().to_string();
                if st != "pending" && st != "running" {
                    return st;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            "still running".to_string()
        }
    };
    for (on_disconnect, expected) in
        [(json!("cancel"), "interrupted"), (json!("continue"), "success")]
    {
        let (_, t) = s.post("/threads", json!({})).await;
        let tid = t["thread_id"].as_str().unwrap().to_string();
        let mut r = s
            .http
            .post(format!("{}/threads/{tid}/runs/stream", s.url))
            .json(&slow(json!({ "on_disconnect": on_disconnect })))
            .send()
            .await
            .unwrap();
        let first = String::from_utf8_lossy(&r.chunk().await.unwrap().unwrap()).to_string();
        let rid =
            first.split("\"run_id\":\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        drop(r); // the client goes away mid-run
        assert_eq!(status_after(tid, rid).await, expected, "on_disconnect={on_disconnect}");
    }

    // A join with cancel_on_disconnect=true cancels the run it joined when it goes away.
    let (_, t) = s.post("/threads", json!({})).await;
    let tid = t["thread_id"].as_str().unwrap().to_string();
    let (_, run) = s.post(&format!("/threads/{tid}/runs"), slow(json!({}))).await;
    let rid = run["run_id"].as_str().unwrap().to_string();
    let joined = s
        .http
        .get(format!("{}/threads/{tid}/runs/{rid}/join?cancel_on_disconnect=true", s.url))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    let gone = match joined {
        Ok(r) => r.text().await.is_err(),
        Err(e) => e.is_timeout(),
    };
    assert!(gone, "the join was cut by the client's timeout");
    assert_eq!(status_after(tid, rid).await, "interrupted");
}

both!(events_mode_streams_chain_events_of_the_run_and_its_nodes);
async fn events_mode_streams_chain_events_of_the_run_and_its_nodes(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, t) = s.post("/threads", json!({})).await;
    let id = t["thread_id"].as_str().unwrap();
    let (st, _, events) = s
        .sse(
            &format!("/threads/{id}/runs/stream"),
            json!({"assistant_id": "echo", "input": human("evt"), "stream_mode": ["events"]}),
        )
        .await;
    assert_eq!(st, 200);
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        names,
        ["metadata", "events", "events", "events", "events", "events"],
        "no debug frames leak"
    );
    let kinds: Vec<(&str, &str)> = events[1..]
        .iter()
        .map(|(_, d)| (d["event"].as_str().unwrap(), d["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("on_chain_start", "echo"),
            ("on_chain_start", "echo"),
            ("on_chain_stream", "echo"),
            ("on_chain_end", "echo"),
            ("on_chain_end", "echo"),
        ]
    );
    let run_id = events[0].1["run_id"].clone();
    let (root_start, node_start, node_end, root_end) =
        (&events[1].1, &events[2].1, &events[4].1, &events[5].1);
    assert_eq!(
        (root_start["run_id"].clone(), root_start["parent_ids"].clone()),
        (run_id.clone(), json!([]))
    );
    assert_eq!(root_start["data"]["input"], human("evt"));
    assert_eq!(node_start["parent_ids"], json!([run_id]));
    assert_eq!(node_start["tags"], json!(["graph:step:1"]));
    assert_eq!(node_start["metadata"]["langgraph_node"], "echo");
    assert_eq!(node_start["metadata"]["langgraph_triggers"], json!(["branch:to:echo"]));
    assert_eq!(node_end["run_id"], node_start["run_id"]);
    assert_eq!(node_end["data"]["output"]["messages"][0]["content"], "evt");
    let (_, state) = s.get(&format!("/threads/{id}/state")).await;
    assert_eq!(root_end["data"]["output"], state["values"]);

    // Asked for too, debug frames come beside the events.
    let (_, _, events) = s
        .sse(
            &format!("/threads/{id}/runs/stream"),
            json!({"assistant_id": "echo", "input": human("again"), "stream_mode": ["events", "debug"]}),
        )
        .await;
    let debug = events.iter().filter(|(e, _)| e == "debug").count();
    let chain = events.iter().filter(|(e, _)| e == "events").count();
    assert!(debug >= 2 && chain == 5, "{events:?}");
}

both!(stream_sends_metadata_first_then_the_requested_modes_and_no_end_event);
async fn stream_sends_metadata_first_then_the_requested_modes_and_no_end_event(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, t) = s.post("/threads", json!({})).await;
    let id = t["thread_id"].as_str().unwrap();
    let (st, headers, events) = s
        .sse(&format!("/threads/{id}/runs/stream"), json!({"assistant_id": "echo", "input": human("yo"), "stream_mode": ["values", "updates"]}))
        .await;
    assert_eq!(st, 200);
    assert_eq!(headers["content-type"], "text/event-stream; charset=utf-8");
    assert!(headers["location"].to_str().unwrap().ends_with("/stream"));
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names, vec!["metadata", "values", "updates", "values"]);
    assert_eq!(events[2].1["echo"]["messages"][0]["content"], "yo");
    // The run is final before the stream closes.
    let run_id = events[0].1["run_id"].as_str().unwrap();
    let (_, run) = s.get(&format!("/threads/{id}/runs/{run_id}")).await;
    assert_eq!(run["status"], "success");
    let (st, err) = s
        .post(
            &format!("/threads/{id}/runs/stream"),
            json!({"assistant_id": "echo", "stream_mode": "bogus"}),
        )
        .await;
    assert_eq!(st, 422);
    assert!(err["detail"].as_str().unwrap().contains("bogus"));
}

both!(stateless_runs_leave_nothing_behind);
async fn stateless_runs_leave_nothing_behind(backend: Backend) {
    let s = Server::start(backend).await;
    let r = s
        .http
        .post(format!("{}/runs/wait", s.url))
        .json(&json!({"assistant_id": "echo", "input": human("x")}))
        .send()
        .await
        .unwrap();
    let out: Value = serde_json::from_str(r.text().await.unwrap().trim()).unwrap();
    assert_eq!(out["messages"][1]["content"], "x");
    // The temporary thread is deleted once the run has ended.
    let mut left = 1;
    for _ in 0..50 {
        left = s.post("/threads/count", json!({})).await.1.as_u64().unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(left, 0);
    assert_eq!(
        s.post("/runs/wait", json!({"assistant_id": "echo", "command": {"resume": 1}})).await.0,
        400
    );
}

both!(background_runs_queue_per_thread_and_can_be_joined);
async fn background_runs_queue_per_thread_and_can_be_joined(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, t) = s.post("/threads", json!({})).await;
    let id = t["thread_id"].as_str().unwrap();
    let slow = json!({"assistant_id": "echo", "input": human("one"), "config": {"configurable": {"delay_ms": 300}}});
    let (st, first) = s.post(&format!("/threads/{id}/runs"), slow).await;
    assert_eq!(st, 200);
    assert_eq!(first["status"], "pending");
    let (_, thread) = s.get(&format!("/threads/{id}")).await;
    assert_eq!(thread["status"], "busy");
    // Double-texting: reject is a plain 409; enqueue (the default) waits its turn.
    let (st, err) = s
        .post(
            &format!("/threads/{id}/runs"),
            json!({"assistant_id": "echo", "input": human("no"), "multitask_strategy": "reject"}),
        )
        .await;
    assert_eq!(st, 409);
    assert!(err["detail"].as_str().unwrap().starts_with("Thread is already running a task"));
    let (_, second) = s
        .post(
            &format!("/threads/{id}/runs"),
            json!({"assistant_id": "echo", "input": human("two")}),
        )
        .await;
    let (st, joined) =
        s.get(&format!("/threads/{id}/runs/{}/join", second["run_id"].as_str().unwrap())).await;
    assert_eq!(st, 200);
    let contents = crate::contents(&joined["messages"]);
    assert_eq!(contents, vec!["one", "one", "two", "two"], "runs on a thread run in order");
    let (_, first_now) =
        s.get(&format!("/threads/{id}/runs/{}", first["run_id"].as_str().unwrap())).await;
    assert_eq!(first_now["status"], "success");
    let (st, unknown) = s.get(&format!("/threads/{id}/runs/{}/join", uuid::Uuid::now_v7())).await;
    assert_eq!(st, 200);
    assert_eq!(unknown["__error__"]["message"], "404: Run not found");
}

both!(runs_made_at_once_on_one_thread_run_one_at_a_time_in_order);
async fn runs_made_at_once_on_one_thread_run_one_at_a_time_in_order(backend: Backend) {
    // On SQLite a run made on an idle thread starts at once without a worker's claim; several
    // made together must still run one at a time, in the order they were made.
    let s = Server::start(backend).await;
    let (_, t) = s.post("/threads", json!({})).await;
    let id = t["thread_id"].as_str().unwrap();
    let path = format!("/threads/{id}/runs");
    let made = futures::future::join_all((0..6).map(|i| {
        s.post(&path, json!({"assistant_id": "echo", "input": human(&format!("m{i}")), "config": {"configurable": {"delay_ms": 30}}}))
    }))
    .await;
    assert!(made.iter().all(|(st, r)| *st == 200 && r["status"] == "pending"), "{made:?}");
    let mut done = false;
    for _ in 0..300 {
        let (_, runs) = s.get(&format!("{path}?limit=20")).await;
        let runs = runs.as_array().unwrap();
        let running = runs.iter().filter(|r| r["status"] == "running").count();
        assert!(running <= 1, "two runs of one thread ran together: {runs:?}");
        if runs.len() == 6 && runs.iter().all(|r| r["status"] == "success") {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(done, "all six runs succeed");
    // Each run added its input and the echo of it, next to each other (one at a time).
    let (_, runs) = s.get(&format!("{path}?limit=20")).await;
    let mut runs = runs.as_array().unwrap().clone();
    runs.sort_by_key(|r| r["created_at"].as_str().unwrap().to_string());
    let (_, state) = s.get(&format!("/threads/{id}/state")).await;
    let contents = crate::contents(&state["values"]["messages"]);
    assert_eq!(contents.len(), 12, "{contents:?}");
    let pairs: Vec<(&str, &str)> = contents.chunks(2).map(|p| (p[0], p[1])).collect();
    let inputs: Vec<&str> = runs
        .iter()
        .map(|r| r["kwargs"]["input"]["messages"][0]["content"].as_str().unwrap())
        .collect();
    let mut ran: Vec<&str> = pairs.iter().map(|(a, b)| if a == b { *a } else { "" }).collect();
    if backend == Backend::Sqlite {
        // Oldest first: inserts commit in the order the requests were taken, which is the
        // order of their `created_at`. (On PostgreSQL, inserts made at the same time on
        // several connections commit in any order, and a worker claims the oldest it sees.)
        assert_eq!(ran, inputs, "{contents:?}");
    }
    ran.sort_unstable();
    let mut sorted = inputs.clone();
    sorted.sort_unstable();
    assert_eq!(ran, sorted, "{contents:?}");
}

both!(thread_metadata_patched_during_a_run_stays_after_it);
async fn thread_metadata_patched_during_a_run_stays_after_it(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, t) = s.post("/threads", json!({"metadata": {"owner": "ada"}})).await;
    let id = t["thread_id"].as_str().unwrap();
    let slow = json!({"assistant_id": "echo", "input": human("hi"), "config": {"configurable": {"delay_ms": 300}}});
    let (_, run) = s.post(&format!("/threads/{id}/runs"), slow).await;
    let rid = run["run_id"].as_str().unwrap();
    let (st, patched) = s
        .send(
            reqwest::Method::PATCH,
            &format!("/threads/{id}"),
            Some(json!({"metadata": {"ticket": "T-7"}})),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(patched["metadata"]["ticket"], "T-7");
    let (st, _) = s.get(&format!("/threads/{id}/runs/{rid}/join")).await;
    assert_eq!(st, 200);
    let (_, thread) = s.get(&format!("/threads/{id}")).await;
    assert_eq!(thread["status"], "idle");
    assert_eq!(thread["metadata"]["ticket"], "T-7", "the patch outlives the run: {thread}");
    assert_eq!(thread["metadata"]["owner"], "ada");
    assert_eq!(thread["metadata"]["graph_id"], "echo", "the run's tag stays too");
}

both!(patches_made_at_once_each_keep_their_keys);
async fn patches_made_at_once_each_keep_their_keys(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, t) = s.post("/threads", json!({"metadata": {"owner": "ada"}})).await;
    let id = t["thread_id"].as_str().unwrap();
    let path = format!("/threads/{id}");
    let answers = futures::future::join_all((0..12).map(|i| {
        s.send(reqwest::Method::PATCH, &path, Some(json!({"metadata": {format!("k{i}"): i}})))
    }))
    .await;
    assert!(answers.iter().all(|(st, _)| *st == 200), "{answers:?}");
    let (_, thread) = s.get(&path).await;
    let metadata = thread["metadata"].as_object().unwrap();
    for i in 0..12 {
        let key = format!("k{i}");
        assert_eq!(metadata.get(&key), Some(&json!(i)), "a patch lost its key: {metadata:?}");
    }
    assert_eq!(metadata["owner"], "ada");
    for bad in [json!({"metadata": "nope"}), json!({"metadata": [1]}), json!([1])] {
        let (st, _) = s.send(reqwest::Method::PATCH, &path, Some(bad.clone())).await;
        assert_eq!(st, 422, "{bad}");
    }
    let (_, after) = s.get(&path).await;
    assert_eq!(after["metadata"], thread["metadata"], "a refused patch changes nothing");
    let (st, _) = s
        .send(
            reqwest::Method::PATCH,
            &format!("/threads/{}", uuid::Uuid::new_v4()),
            Some(json!({"metadata": {"a": 1}})),
        )
        .await;
    assert_eq!(st, 404, "an unknown thread");
}

both!(a_running_run_can_be_cancelled);
async fn a_running_run_can_be_cancelled(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, t) = s.post("/threads", json!({})).await;
    let id = t["thread_id"].as_str().unwrap();
    let (_, run) = s
        .post(&format!("/threads/{id}/runs"), json!({"assistant_id": "echo", "input": human("slow"), "config": {"configurable": {"delay_ms": 5000}}}))
        .await;
    let rid = run["run_id"].as_str().unwrap();
    // Wait until the echo node is under way (its input step is saved, `next` is echo).
    for _ in 0..200 {
        if s.get(&format!("/threads/{id}/state")).await.1["next"] == json!(["echo"]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (st, body) = s.post(&format!("/threads/{id}/runs/{rid}/cancel?wait=1"), json!({})).await;
    assert_eq!((st, body), (200, json!({})));
    let (_, run) = s.get(&format!("/threads/{id}/runs/{rid}")).await;
    assert_eq!(run["status"], "interrupted");
    let (_, thread) = s.get(&format!("/threads/{id}")).await;
    assert_eq!(thread["status"], "interrupted", "the echo node was next when the run stopped");
    assert_eq!(thread["error"]["error"], "UserInterrupt");
    assert_eq!(s.post(&format!("/threads/{id}/runs/{rid}/cancel"), json!({})).await.0, 404);
}

both!(state_updates_fork_and_runs_continue_from_them);
async fn state_updates_fork_and_runs_continue_from_them(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, t) = s.post("/threads", json!({})).await;
    let id = t["thread_id"].as_str().unwrap();
    s.post(
        &format!("/threads/{id}/runs/wait"),
        json!({"assistant_id": "echo", "input": human("a")}),
    )
    .await;
    let (st, upd) = s
        .post(&format!("/threads/{id}/state"), json!({"values": {"messages": [{"role": "user", "content": "edited"}]}, "as_node": "__start__"}))
        .await;
    assert_eq!(st, 200);
    assert!(upd["checkpoint"]["checkpoint_id"].is_string());
    let (_, state) = s.get(&format!("/threads/{id}/state")).await;
    assert_eq!(state["next"], json!(["echo"]));
    assert_eq!(state["metadata"]["source"], "update");
    let (_, thread) = s.get(&format!("/threads/{id}")).await;
    assert_eq!(thread["status"], "interrupted");
    let (_, out) = s
        .post(
            &format!("/threads/{id}/runs/wait"),
            json!({"assistant_id": "echo", "input": null, "checkpoint": upd["checkpoint"]}),
        )
        .await;
    let last = out["messages"].as_array().unwrap().last().cloned().unwrap();
    assert_eq!((last["type"].clone(), last["content"].clone()), (json!("ai"), json!("edited")));
    assert_eq!(
        s.post(&format!("/threads/{id}/state"), json!({"values": {}, "as_node": "nope"})).await.0,
        400
    );
}

#[tokio::test]
async fn a_busy_port_is_a_clear_error() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    let err = orrery_runtime::bind(addr).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("already in use"), "{err}");
}

/// The runtime binary on a free port with `data_dir`; killed (SIGKILL) when dropped.
struct Process {
    child: std::process::Child,
    url: String,
}

impl Process {
    async fn start(data_dir: &std::path::Path, database_uri: Option<String>) -> Process {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = crate::runtime_command();
        cmd.args(["dev", "--port", &port.to_string(), "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn");
        if let Some(uri) = database_uri {
            cmd.env("DATABASE_URI", uri);
        }
        let child = cmd.spawn().unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if http.get(format!("{url}/ok")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Process { child, url }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill(); // SIGKILL: no graceful shutdown
        let _ = self.child.wait();
    }
}

/// GET `url` and its JSON body.
async fn get_json(http: &reqwest::Client, url: String) -> Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

both!(a_run_survives_kill_9_and_finishes_after_restart);
async fn a_run_survives_kill_9_and_finishes_after_restart(backend: Backend) {
    let dir = crate::tempdir::TempDir::create();
    let pg = (backend == Backend::Postgres).then(crate::PgDatabase::create);
    let uri = pg.as_ref().map(crate::PgDatabase::uri);
    let http = reqwest::Client::new();
    let (thread_id, run_id, checkpoint_before_kill) = {
        let p = Process::start(&dir.0, uri.clone()).await;
        let t: Value = http
            .post(format!("{}/threads", p.url))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = t["thread_id"].as_str().unwrap().to_string();
        let body = json!({"assistant_id": "echo", "input": human("durable"), "config": {"configurable": {"delay_ms": 1500}}});
        let run: Value = http
            .post(format!("{}/threads/{id}/runs", p.url))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let rid = run["run_id"].as_str().unwrap().to_string();
        for _ in 0..200 {
            let r: Value = get_json(&http, format!("{}/threads/{id}/runs/{rid}", p.url)).await;
            if r["status"] == "running" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The run's checkpoints reach the database in the background (`async` durability)
        // within milliseconds; the state read here comes from the process's buffer.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let state: Value = get_json(&http, format!("{}/threads/{id}/state", p.url)).await;
        assert_eq!(state["next"], json!(["echo"]), "{state}");
        let cp = state["checkpoint"]["checkpoint_id"].as_str().unwrap().to_string();
        (id, rid, cp)
        // `p` is dropped here: kill -9 while the node sleeps.
    };
    let p = Process::start(&dir.0, uri.clone()).await;
    let out: Value = serde_json::from_str(
        http.get(format!("{}/threads/{thread_id}/runs/{run_id}/join", p.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .trim(),
    )
    .unwrap();
    let contents = crate::contents(&out["messages"]);
    assert_eq!(
        contents,
        vec!["durable", "durable"],
        "the input is not applied twice; the run finishes"
    );
    let run: Value = get_json(&http, format!("{}/threads/{thread_id}/runs/{run_id}", p.url)).await;
    assert_eq!(run["status"], "success");
    let history: Value = http
        .post(format!("{}/threads/{thread_id}/history", p.url))
        .json(&json!({"limit": 10}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> =
        history.as_array().unwrap().iter().map(|h| h["checkpoint_id"].as_str().unwrap()).collect();
    assert!(
        ids.contains(&checkpoint_before_kill.as_str()),
        "the checkpoint made before the kill was stored and the run went on from it: {ids:?}"
    );
    assert_eq!(ids.len(), 3, "input, the step before the kill, the end: {history}");
}

both!(durability_decides_which_checkpoints_history_keeps);
async fn durability_decides_which_checkpoints_history_keeps(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, t) = s.post("/threads", json!({})).await;
    let id = t["thread_id"].as_str().unwrap();
    let history = |limit: usize| {
        let path = format!("/threads/{id}/history");
        let s = &s;
        async move {
            let (st, h) = s.post(&path, json!({ "limit": limit })).await;
            assert_eq!(st, 200, "{h}");
            h.as_array().unwrap().clone()
        }
    };

    // exit: only the final checkpoint is kept, and it has no parent (golden 30).
    let body = json!({"assistant_id": "echo", "input": human("one"), "durability": "exit"});
    let (st, out) = s.post(&format!("/threads/{id}/runs/wait"), body).await;
    assert_eq!(st, 200, "{out}");
    assert_eq!(out["messages"].as_array().unwrap().len(), 2, "{out}");
    let h = history(10).await;
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["parent_checkpoint"], Value::Null);
    assert_eq!(
        (h[0]["metadata"]["source"].clone(), h[0]["metadata"]["step"].clone()),
        (json!("loop"), json!(1))
    );
    assert_eq!(h[0]["values"], out);

    // sync (and the default, async): every step is kept, each the parent of the next.
    for durability in [json!("sync"), Value::Null] {
        let before = history(100).await.len();
        let mut body = json!({"assistant_id": "echo", "input": human("more")});
        if !durability.is_null() {
            body["durability"] = durability.clone();
        }
        let (st, out) = s.post(&format!("/threads/{id}/runs/wait"), body).await;
        assert_eq!(st, 200, "{out}");
        let h = history(100).await;
        assert_eq!(h.len(), before + 3, "{durability}: input, start, echo: {h:?}");
        for pair in h.windows(2) {
            assert_eq!(pair[0]["parent_checkpoint"]["checkpoint_id"], pair[1]["checkpoint_id"]);
        }
        let (_, state) = s.get(&format!("/threads/{id}/state")).await;
        assert_eq!(state["values"], out);
    }

    // `checkpoint_during: false` is `exit` when `durability` is absent.
    let before = history(100).await.len();
    let body = json!({"assistant_id": "echo", "input": human("last"), "checkpoint_during": false});
    let (st, _) = s.post(&format!("/threads/{id}/runs/wait"), body).await;
    assert_eq!(st, 200);
    let h = history(100).await;
    assert_eq!(h.len(), before + 1, "{h:?}");
    assert_eq!(
        h[0]["parent_checkpoint"]["checkpoint_id"], h[1]["checkpoint_id"],
        "its parent is where the run started"
    );
}

both!(store_items_namespaces_and_errors);
async fn store_items_namespaces_and_errors(backend: Backend) {
    let s = Server::start(backend).await;
    let put =
        |ns: Value, key: &str, value: Value| json!({"namespace": ns, "key": key, "value": value});
    assert_eq!(
        s.send(
            reqwest::Method::PUT,
            "/store/items",
            Some(put(json!(["users", "u1"]), "prefs", json!({"theme": "dark"})))
        )
        .await
        .0,
        204
    );
    assert_eq!(
        s.send(
            reqwest::Method::PUT,
            "/store/items",
            Some(put(json!(["users", "u2"]), "prefs", json!({"theme": "light"})))
        )
        .await
        .0,
        204
    );
    assert_eq!(
        s.send(
            reqwest::Method::PUT,
            "/store/items",
            Some(put(json!(["docs"]), "a", json!({"n": 1})))
        )
        .await
        .0,
        204
    );
    let (st, item) = s.get("/store/items?namespace=users.u1&key=prefs").await;
    assert_eq!(st, 200);
    assert_eq!(
        (item["namespace"].clone(), item["value"].clone()),
        (json!(["users", "u1"]), json!({"theme": "dark"}))
    );
    assert_eq!(s.get("/store/items?namespace=users.u1&key=nope").await, (200, Value::Null));
    assert_eq!(
        s.get("/store/items?namespace=users.u1").await,
        (400, json!({"error": "Key is required"}))
    );
    let (st, body) = s
        .send(reqwest::Method::PUT, "/store/items", Some(put(json!(["bad.label"]), "k", json!({}))))
        .await;
    assert_eq!(st, 422);
    assert_eq!(
        body,
        json!("Namespace label 'bad.label' must be a non-empty string without periods")
    );
    assert_eq!(
        s.send(reqwest::Method::PUT, "/store/items", Some(put(json!(["x"]), "k", json!(3))))
            .await
            .0,
        422
    );
    let (_, found) = s.post("/store/items/search", json!({"namespace_prefix": ["users"]})).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 2);
    assert_eq!(found["items"][0]["score"], Value::Null);
    let (_, filtered) = s
        .post(
            "/store/items/search",
            json!({"namespace_prefix": ["users"], "filter": {"theme": "light"}}),
        )
        .await;
    assert_eq!(filtered["items"][0]["namespace"], json!(["users", "u2"]));
    let (_, ns) = s.post("/store/namespaces", json!({"prefix": ["users"]})).await;
    assert_eq!(ns, json!({"namespaces": [["users", "u1"], ["users", "u2"]]}));
    let (_, ns) = s.post("/store/namespaces", json!({"max_depth": 1})).await;
    assert_eq!(ns, json!({"namespaces": [["docs"], ["users"]]}));
    assert_eq!(
        s.send(
            reqwest::Method::DELETE,
            "/store/items",
            Some(json!({"namespace": ["docs"], "key": "a"}))
        )
        .await
        .0,
        204
    );
    assert_eq!(s.get("/store/items?namespace=docs&key=a").await, (200, Value::Null));
    // An item past its time to live is gone.
    let body = json!({"namespace": ["tmp"], "key": "t", "value": {"v": 1}, "ttl": 0.0005});
    assert_eq!(s.send(reqwest::Method::PUT, "/store/items", Some(body)).await.0, 204);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(
        s.get("/store/items?namespace=tmp&key=t&refresh_ttl=false").await,
        (200, Value::Null)
    );
}

both!(threads_are_copied_with_their_checkpoints);
async fn threads_are_copied_with_their_checkpoints(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, t) = s.post("/threads", json!({"metadata": {"k": "v"}})).await;
    let id = t["thread_id"].as_str().unwrap();
    s.post(
        &format!("/threads/{id}/runs/wait"),
        json!({"assistant_id": "echo", "input": human("copy me")}),
    )
    .await;
    let (st, copy) = s.post(&format!("/threads/{id}/copy"), json!({})).await;
    assert_eq!(st, 200);
    let cid = copy["thread_id"].as_str().unwrap();
    assert_ne!(cid, id);
    assert_eq!(copy["metadata"]["k"], "v");
    assert!(copy.get("values").is_none(), "a copy has no values key");
    let (_, state) = s.get(&format!("/threads/{cid}/state")).await;
    assert_eq!(state["values"]["messages"][1]["content"], "copy me");
    let (_, hist) = s.post(&format!("/threads/{cid}/history"), json!({"limit": 10})).await;
    assert_eq!(hist.as_array().unwrap().len(), 3);
    // The copy continues on its own.
    let (_, out) = s
        .post(
            &format!("/threads/{cid}/runs/wait"),
            json!({"assistant_id": "echo", "input": human("more")}),
        )
        .await;
    assert_eq!(out["messages"].as_array().unwrap().len(), 4);
    let (_, orig) = s.get(&format!("/threads/{id}/state")).await;
    assert_eq!(orig["values"]["messages"].as_array().unwrap().len(), 2);
    assert_eq!(
        s.post(&format!("/threads/{}/copy", uuid::Uuid::new_v4()), json!({})).await,
        (409, json!({"detail": "Conflict"}))
    );
}
