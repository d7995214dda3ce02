//! Streams: modes, stateless streams, joins with `Last-Event-ID`, reconnection after a dropped
//! connection, the thread stream.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use orrery_client::{
    Client, JoinStream, Reconnect, RunStatus, StreamMode, StreamPart, ThreadCreate,
    ThreadStreamMode,
};
use serde_json::{Value, json};

use crate::proxy::DroppingProxy;
use crate::{Backend, last_message, status_of};

crate::tests![
    values_and_updates,
    messages_tuple,
    custom_and_multiple_modes,
    stateless_stream,
    join_with_last_event_id,
    reconnecting_join_after_a_drop,
    thread_stream,
];

fn events(parts: &[StreamPart]) -> Vec<&str> {
    parts.iter().map(|p| p.event.as_str()).collect()
}

async fn thread(b: &Backend) -> String {
    b.client.threads().create(&ThreadCreate::default()).await.unwrap().thread_id
}

async fn values_and_updates(b: Arc<Backend>) {
    let runs = b.client.runs();
    let tid = thread(&b).await;
    // Default mode: values.
    let s = runs.stream(&tid, &b.chat_run("stream me")).await.unwrap();
    assert_eq!(s.thread_id(), Some(tid.as_str()));
    let rid = s.run_id().unwrap().to_string();
    assert!(s.location().is_some_and(|l| l.ends_with(&format!("/runs/{rid}/stream"))));
    let parts = s.collect_parts().await.unwrap();
    assert_eq!(parts[0].event, "metadata");
    assert_eq!(parts[0].data["run_id"], json!(rid));
    assert!(parts.iter().all(|p| p.id.is_none()), "ids only on resumable runs");
    let values: Vec<&StreamPart> = parts.iter().filter(|p| p.event == "values").collect();
    assert!(values.len() >= 2, "{:?}", events(&parts));
    assert_eq!(last_message(&values[0].data), "stream me", "the first values event is the input");
    assert_eq!(last_message(&values[values.len() - 1].data), b.reply("stream me"));
    // The run is over when the stream closes (no `end` event).
    assert_eq!(runs.get(&tid, &rid).await.unwrap().status, RunStatus::Success);

    let parts = runs
        .stream(&tid, &b.chat_run("updates please").stream_mode([StreamMode::Updates]))
        .await
        .unwrap()
        .collect_parts()
        .await
        .unwrap();
    let updates: Vec<&StreamPart> = parts.iter().filter(|p| p.event == "updates").collect();
    assert_eq!(
        events(&parts).iter().filter(|e| **e != "updates").collect::<Vec<_>>(),
        [&"metadata"]
    );
    let answer = updates.iter().find_map(|p| p.data.get(b.chat_node())).unwrap();
    assert_eq!(last_message(answer), b.reply("updates please"));
}

async fn messages_tuple(b: Arc<Backend>) {
    let tid = thread(&b).await;
    let parts = b
        .client
        .runs()
        .stream(&tid, &b.chat_run("token by token").stream_mode([StreamMode::MessagesTuple]))
        .await
        .unwrap()
        .collect_parts()
        .await
        .unwrap();
    // `messages-tuple` is sent under the event name `messages`: `[chunk, metadata]`.
    let msgs: Vec<&StreamPart> = parts.iter().filter(|p| p.event == "messages").collect();
    assert!(!msgs.is_empty(), "{:?}", events(&parts));
    let mut text = String::new();
    for p in &msgs {
        let pair = p.data.as_array().unwrap();
        assert_eq!(pair.len(), 2, "{}", p.data);
        assert_eq!(pair[1]["langgraph_node"], json!(b.chat_node()), "{}", pair[1]);
        let t = pair[0]["type"].as_str().unwrap_or_default();
        if t == "AIMessageChunk" || t == "ai" {
            text.push_str(pair[0]["content"].as_str().unwrap_or_default());
        }
    }
    assert_eq!(text, b.reply("token by token"));
    if b.is_lgdev() {
        assert!(msgs.len() > 3, "the fake model streams word by word");
    }
}

async fn custom_and_multiple_modes(b: Arc<Backend>) {
    let runs = b.client.runs();
    let tid = thread(&b).await;
    let modes = [StreamMode::Values, StreamMode::Updates, StreamMode::Custom];
    let parts = runs
        .stream(&tid, &b.slow_run(300).stream_mode(modes))
        .await
        .unwrap()
        .collect_parts()
        .await
        .unwrap();
    let ev = events(&parts);
    assert_eq!(ev[0], "metadata");
    assert!(ev.contains(&"values") && ev.contains(&"updates"), "{ev:?}");
    let custom: Vec<&Value> =
        parts.iter().filter(|p| p.event == "custom").map(|p| &p.data).collect();
    if b.is_lgdev() {
        // `slow` writes before and after each step.
        assert_eq!(custom.len(), 6, "{custom:?}");
        assert_eq!(custom[0], &json!({"node": "step_1", "status": "started"}));
        assert_eq!(custom[5], &json!({"node": "step_3", "status": "finished"}));
        // Interleaved in production order: step_1's update comes after its `finished`.
        let finished = ev.iter().position(|e| *e == "custom").unwrap() + 1;
        let first_update = ev.iter().position(|e| *e == "updates").unwrap();
        assert!(first_update > finished, "{ev:?}");
    } else {
        assert!(custom.is_empty(), "echo writes no custom events: {custom:?}");
    }
    let last_values = parts.iter().rev().find(|p| p.event == "values").unwrap();
    b.assert_slow_done(&last_values.data);
}

async fn stateless_stream(b: Arc<Backend>) {
    let s = b.client.runs().stream_stateless(&b.chat_run("nobody's thread")).await.unwrap();
    assert_eq!(s.thread_id(), None);
    let rid = s.run_id().unwrap().to_string();
    let parts = s.collect_parts().await.unwrap();
    assert_eq!(parts[0].data["run_id"], json!(rid));
    let last = parts.iter().rev().find(|p| p.event == "values").unwrap();
    assert_eq!(last_message(&last.data), b.reply("nobody's thread"));
}

/// Reads `n` parts.
async fn take(s: &mut orrery_client::EventStream, n: usize) -> Vec<StreamPart> {
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout(Duration::from_secs(30), s.next()).await {
            Ok(Some(p)) => out.push(p.unwrap()),
            Ok(None) => break,
            Err(_) => panic!("no event within 30 s"),
        }
    }
    out
}

/// Ids are `<ms>-<seq>`: never decreasing (langgraph dev repeats an id within a millisecond).
fn assert_ordered_ids(parts: &[StreamPart]) {
    let ids: Vec<&str> = parts.iter().map(|p| p.id.as_deref().unwrap()).collect();
    for w in ids.windows(2) {
        assert!(w[0] <= w[1], "ids out of order: {ids:?}");
    }
}

/// How many `values` events a slow run publishes: the input, then one per step.
fn slow_values(b: &Backend) -> usize {
    if b.is_lgdev() { 4 } else { 2 }
}

async fn join_with_last_event_id(b: Arc<Backend>) {
    let runs = b.client.runs();
    let tid = thread(&b).await;
    let run = runs.create(&tid, &b.slow_run(1500).stream_resumable(true)).await.unwrap();
    // `-` replays everything stored, so nothing is missed however late we join.
    let mut s = runs
        .join_stream(&tid, &run.run_id, &JoinStream::default().last_event_id("-"))
        .await
        .unwrap();
    assert_eq!(s.run_id(), Some(run.run_id.as_str()));
    // A join says where to rejoin (Location) as the stream it answers from.
    let rejoin = format!("/threads/{tid}/runs/{}/stream", run.run_id);
    assert_eq!(s.location(), Some(rejoin.as_str()), "Location of a join stream");
    let head = take(&mut s, 2).await;
    drop(s);
    assert_eq!(events(&head), ["metadata", "values"]);
    let resume_from = head[1].id.clone().expect("resumable runs carry ids");
    let rest = runs
        .join_stream(&tid, &run.run_id, &JoinStream::default().last_event_id(resume_from.clone()))
        .await
        .unwrap()
        .collect_parts()
        .await
        .unwrap();
    assert!(!rest.is_empty());
    assert!(rest[0].id.as_deref().unwrap() > resume_from.as_str(), "replay starts after the id");
    let all: Vec<StreamPart> = head.into_iter().chain(rest).collect();
    assert_ordered_ids(&all);
    assert_eq!(
        all.iter().filter(|p| p.event == "values").count(),
        slow_values(&b),
        "{:?}",
        events(&all)
    );
    b.assert_slow_done(&all.last().unwrap().data);
    assert_eq!(runs.get(&tid, &run.run_id).await.unwrap().status, RunStatus::Success);
    // Joining a finished, resumable run with `-` replays it whole (langgraph dev); a plain
    // join of a finished run is empty.
    let after = runs.join_stream(&tid, &run.run_id, &JoinStream::default()).await.unwrap();
    assert_eq!(after.location(), Some(rejoin.as_str()), "Location of a finished run's join");
    assert!(after.collect_parts().await.unwrap().is_empty());
    let replay = runs
        .join_stream(&tid, &run.run_id, &JoinStream::default().last_event_id("-"))
        .await
        .unwrap()
        .collect_parts()
        .await
        .unwrap();
    assert_eq!(
        replay.iter().filter(|p| p.event == "values").count(),
        slow_values(&b),
        "GET .../runs/{{finished resumable run}}/stream with Last-Event-ID: - replays every stored event: {:?}",
        events(&replay)
    );
    // ... exactly as they were sent: same events, same ids, metadata first.
    assert_eq!(replay[0].event, "metadata");
    let sent: Vec<(&str, Option<&str>)> =
        all.iter().map(|p| (p.event.as_str(), p.id.as_deref())).collect();
    let again: Vec<(&str, Option<&str>)> =
        replay.iter().map(|p| (p.event.as_str(), p.id.as_deref())).collect();
    assert_eq!(again, sent, "the replay of a finished run is what was sent");

    // A join can filter by mode (langgraph dev honours one mode, the last given).
    let run = runs
        .create(
            &tid,
            &b.slow_run(900)
                .stream_resumable(true)
                .stream_mode([StreamMode::Values, StreamMode::Updates]),
        )
        .await
        .unwrap();
    let only = JoinStream::default().last_event_id("-").stream_mode([StreamMode::Updates]);
    let filtered =
        runs.join_stream(&tid, &run.run_id, &only).await.unwrap().collect_parts().await.unwrap();
    assert!(filtered.iter().any(|p| p.event == "updates"), "{:?}", events(&filtered));
    assert!(
        filtered.iter().all(|p| p.event == "updates"),
        "GET .../runs/{{rid}}/stream?stream_mode=updates (Last-Event-ID: -) sent {:?}",
        events(&filtered)
    );
}

async fn reconnecting_join_after_a_drop(b: Arc<Backend>) {
    // Through a proxy that breaks the first join after two events.
    let proxy = DroppingProxy::start(&b.url, 2).await;
    let via = Client::new(proxy.url.clone()).unwrap();
    let tid = thread(&b).await;
    let run = via.runs().create(&tid, &b.slow_run(1500).stream_resumable(true)).await.unwrap();
    let policy = Reconnect { max_retries: 3, initial_backoff: Duration::from_millis(50) };
    let s = via.runs().join_stream_reconnecting(
        &tid,
        &run.run_id,
        JoinStream::default().last_event_id("-"),
        policy,
    );
    let parts =
        tokio::time::timeout(Duration::from_secs(60), s.collect_parts()).await.unwrap().unwrap();
    assert_eq!(proxy.cuts(), 1, "the proxy broke one connection");
    assert_eq!(parts[0].event, "metadata");
    assert_ordered_ids(&parts);
    assert_eq!(
        parts.iter().filter(|p| p.event == "values").count(),
        slow_values(&b),
        "{:?}",
        events(&parts)
    );
    b.assert_slow_done(&parts.last().unwrap().data);

    // Without reconnection the same break is a transport error.
    let proxy = DroppingProxy::start(&b.url, 2).await;
    let via = Client::new(proxy.url.clone()).unwrap();
    let run = via.runs().create(&tid, &b.slow_run(1500).stream_resumable(true)).await.unwrap();
    let mut s = via
        .runs()
        .join_stream(&tid, &run.run_id, &JoinStream::default().last_event_id("-"))
        .await
        .unwrap();
    let mut failed = false;
    while let Some(p) = s.next().await {
        if let Err(e) = p {
            assert!(matches!(e, orrery_client::Error::Transport { .. }), "{e}");
            failed = true;
        }
    }
    assert!(failed, "a broken stream ends with a transport error");
    b.client.runs().join(&tid, &run.run_id).await.unwrap();
}

async fn thread_stream(b: Arc<Backend>) {
    let tid = thread(&b).await;
    let t = b.client.threads();
    // A malformed Last-Event-ID is refused before the stream starts (run joins take any).
    assert_eq!(status_of(t.join_stream(&tid, &[], Some("not-an-id")).await), 422);
    let mut life = t.join_stream(&tid, &[ThreadStreamMode::Lifecycle], None).await.unwrap();
    let mut s = t.join_stream(&tid, &[ThreadStreamMode::RunModes], None).await.unwrap();
    // Give the server a moment to register the subscriber, then run.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let run = b.client.runs().create(&tid, &b.chat_run("on the thread stream")).await.unwrap();
    let mut seen = Vec::new();
    loop {
        let p = tokio::time::timeout(Duration::from_secs(30), s.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(p.id.is_some(), "thread streams always carry ids");
        let done = p.event == "metadata" && p.data["status"] == json!("run_done");
        seen.push(p);
        if done {
            break;
        }
    }
    let last = seen.last().unwrap();
    assert_eq!(last.data["run_id"], json!(run.run_id));
    assert_eq!(seen[0].event, "metadata");
    assert_eq!(seen[0].data["run_id"], json!(run.run_id));
    let values = seen.iter().rev().find(|p| p.event == "values").unwrap();
    assert_eq!(last_message(&values.data), b.reply("on the thread stream"));
    // lifecycle: the run's first metadata event and its run_done marker, nothing else.
    let mut lifecycle = Vec::new();
    while lifecycle.len() < 2 {
        let p = tokio::time::timeout(Duration::from_secs(30), life.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        lifecycle.push(p);
    }
    assert_eq!(events(&lifecycle), ["metadata", "metadata"]);
    assert_eq!(lifecycle[0].data, json!({"run_id": run.run_id, "attempt": 1}));
    assert_eq!(lifecycle[1].data, json!({"status": "run_done", "run_id": run.run_id}));
    drop(s);

    // Resuming a thread stream replays the stored events of its resumable runs (only those:
    // the first run was not resumable), with their run_done markers, then goes on live.
    let resumable = b.chat_run("kept").stream_resumable(true);
    let kept = b.client.runs().create(&tid, &resumable).await.unwrap();
    b.client.runs().join(&tid, &kept.run_id).await.unwrap();
    let mut again = t.join_stream(&tid, &[ThreadStreamMode::RunModes], Some("-")).await.unwrap();
    let mut replayed = Vec::new();
    loop {
        let p = tokio::time::timeout(Duration::from_secs(30), again.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let done = p.event == "metadata" && p.data["status"] == json!("run_done");
        replayed.push(p);
        if done {
            break;
        }
    }
    assert_eq!(replayed[0].data, json!({"run_id": kept.run_id, "attempt": 1}));
    assert_eq!(replayed.last().unwrap().data["run_id"], json!(kept.run_id));
    let values = replayed.iter().rev().find(|p| p.event == "values").unwrap();
    assert_eq!(last_message(&values.data), b.reply("kept"));
}
