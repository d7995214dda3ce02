//! Threads: CRUD, search, count, copy; state and history after a run.

use std::sync::Arc;

use orrery_client::{
    HistorySearch, IfExists, StateUpdate, ThreadCreate, ThreadPatch, ThreadSearch, ThreadStatus,
};
use serde_json::json;

use crate::{Backend, last_message, marker, status_of};

crate::tests![crud_search_count_copy, state_and_history];

async fn crud_search_count_copy(b: Arc<Backend>) {
    let t = b.client.threads();
    let tag = marker("threads");
    let first =
        t.create(&ThreadCreate::default().metadata(json!({"test": tag, "n": 1}))).await.unwrap();
    assert_eq!(first.status, ThreadStatus::Idle);
    assert!(first.values.is_none() || first.values == Some(serde_json::Value::Null));
    assert_eq!(first.metadata["n"], json!(1));

    let id = uuid::Uuid::new_v4().to_string();
    let chosen = t
        .create(
            &ThreadCreate::default().thread_id(id.clone()).metadata(json!({"test": tag, "n": 2})),
        )
        .await
        .unwrap();
    assert_eq!(chosen.thread_id, id);
    assert_eq!(status_of(t.create(&ThreadCreate::default().thread_id(id.clone())).await), 409);
    let existing = t
        .create(&ThreadCreate::default().thread_id(id.clone()).if_exists(IfExists::DoNothing))
        .await
        .unwrap();
    assert_eq!(existing.metadata["n"], json!(2), "do_nothing returns the existing thread");
    assert_eq!(status_of(t.create(&ThreadCreate::default().thread_id("not-a-uuid")).await), 422);

    let got = t.get(&first.thread_id).await.unwrap();
    assert_eq!(got.thread_id, first.thread_id);
    assert_eq!(got.metadata, first.metadata);
    let patched = t
        .update(&first.thread_id, &ThreadPatch::default().metadata(json!({"extra": "x"})))
        .await
        .unwrap();
    assert_eq!(patched.metadata["test"], json!(tag), "metadata is merged");
    assert_eq!(patched.metadata["extra"], json!("x"));
    assert_eq!(
        status_of(t.update(&uuid::Uuid::new_v4().to_string(), &ThreadPatch::default()).await),
        404
    );

    let mine = ThreadSearch::default().metadata(json!({"test": tag}));
    let found = t.search(&mine).await.unwrap();
    let mut ids: Vec<&str> = found.iter().map(|t| t.thread_id.as_str()).collect();
    ids.sort_unstable();
    let mut want = vec![first.thread_id.as_str(), id.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);
    assert_eq!(t.count(&mine).await.unwrap(), 2);
    assert_eq!(t.count(&mine.clone().status(ThreadStatus::Busy)).await.unwrap(), 0);
    let by_extra = t
        .search(&ThreadSearch::default().metadata(json!({"test": tag, "extra": "x"})))
        .await
        .unwrap();
    assert_eq!(by_extra.len(), 1);
    assert_eq!(by_extra[0].thread_id, first.thread_id);
    let by_ids = t.search(&ThreadSearch::default().ids(vec![id.clone()])).await.unwrap();
    assert_eq!(by_ids.len(), 1);
    assert_eq!(by_ids[0].thread_id, id);
    let page = t.search_page(&mine.clone().limit(1u64)).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.next, Some(1), "POST /threads/search limit=1 of 2: X-Pagination-Next");
    let raw = t.search_raw(&mine.clone().select(vec!["thread_id".to_string()])).await.unwrap();
    assert_eq!(raw.len(), 2);
    for r in &raw {
        assert_eq!(
            r.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["thread_id"],
            "POST /threads/search select=[thread_id] returns only the id: {r}"
        );
    }

    let copy = t.copy(&first.thread_id).await.unwrap();
    assert_ne!(copy.thread_id, first.thread_id);
    assert_eq!(copy.metadata["test"], json!(tag));
    assert_eq!(t.count(&mine).await.unwrap(), 3);
    // Copying a thread that does not exist is 409 Conflict (sic) on langgraph dev.
    let missing = status_of(t.copy(&uuid::Uuid::new_v4().to_string()).await);
    assert_eq!(missing, 409, "copy of an unknown thread");

    t.delete(&first.thread_id).await.unwrap();
    assert_eq!(status_of(t.get(&first.thread_id).await), 404);
    assert_eq!(status_of(t.delete(&first.thread_id).await), 404);
    assert_eq!(status_of(t.get("not-a-uuid").await), 422);
    assert_eq!(t.count(&mine).await.unwrap(), 2);

    // Prune: unknown ids are skipped.
    let unknown = uuid::Uuid::new_v4().to_string();
    let n = t.prune(&[copy.thread_id.as_str(), unknown.as_str()], "delete").await.unwrap();
    assert_eq!(n, 1);
    assert_eq!(status_of(t.get(&copy.thread_id).await), 404);
    assert_eq!(t.prune(&[], "delete").await.unwrap(), 0);
    assert_eq!(status_of(t.prune(&[id.as_str()], "nope").await), 422);
    t.delete(&id).await.unwrap();
}

async fn state_and_history(b: Arc<Backend>) {
    let t = b.client.threads();
    let thread = t.create(&ThreadCreate::default()).await.unwrap();
    let tid = thread.thread_id.as_str();
    // A thread that never ran has an empty state and no history.
    let empty = t.get_state(tid, false).await.unwrap();
    assert!(empty.checkpoint.is_none() && empty.next.is_empty(), "{empty:?}");
    assert!(t.history(tid, Some(10), None).await.unwrap().is_empty());
    // ... and cannot be updated: it has no graph yet.
    assert_eq!(status_of(t.update_state(tid, &StateUpdate::new(json!({}))).await), 400);

    let out = b.client.runs().wait(tid, &b.chat_run("hello there")).await.unwrap();
    assert_eq!(last_message(&out), b.reply("hello there"));

    let thread = t.get(tid).await.unwrap();
    assert_eq!(thread.status, ThreadStatus::Idle);
    assert_eq!(thread.metadata["graph_id"], json!(b.chat_graph()), "the first run names the graph");
    assert_eq!(last_message(thread.values.as_ref().unwrap()), b.reply("hello there"));

    let state = t.get_state(tid, false).await.unwrap();
    let msgs = state.values["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "{}", state.values);
    assert_eq!(msgs[0]["type"], json!("human"));
    assert_eq!(msgs[0]["content"], json!("hello there"));
    assert_eq!(msgs[1]["type"], json!("ai"));
    assert!(state.next.is_empty());
    let head = state.checkpoint.clone().unwrap();
    assert_eq!(head.thread_id, tid);
    let parent = state.parent_checkpoint.clone().unwrap();

    // History: newest first; the server's default limit is 1.
    let all = t.history(tid, Some(10), None).await.unwrap();
    assert!(all.len() >= 3, "input, after input, after the node: {}", all.len());
    assert_eq!(all[0].checkpoint.as_ref().unwrap().checkpoint_id, head.checkpoint_id);
    assert_eq!(all[1].checkpoint.as_ref().unwrap().checkpoint_id, parent.checkpoint_id);
    let one = t.history(tid, None, None).await.unwrap();
    assert_eq!(one.len(), 1);
    let before = t.history(tid, Some(1), Some(&head.checkpoint_id)).await.unwrap();
    assert_eq!(before[0].checkpoint.as_ref().unwrap().checkpoint_id, parent.checkpoint_id);
    let posted = t
        .search_history(
            tid,
            &HistorySearch::default().limit(1u64).before_checkpoint(&head.checkpoint_id),
        )
        .await
        .unwrap();
    assert_eq!(posted[0].checkpoint.as_ref().unwrap().checkpoint_id, parent.checkpoint_id);
    let inputs = t
        .search_history(
            tid,
            &HistorySearch::default().limit(10u64).metadata(json!({"source": "input"})),
        )
        .await
        .unwrap();
    assert!(!inputs.is_empty());
    assert!(inputs.iter().all(|s| s.metadata.as_ref().unwrap()["source"] == json!("input")));
    assert!(inputs.len() < all.len());

    // State at a past checkpoint: only the human message.
    let at = t.get_state_at(tid, &parent.checkpoint_id, false).await.unwrap();
    assert_eq!(at.values["messages"].as_array().map(Vec::len), Some(1), "{}", at.values);
    assert_eq!(at.next, [b.chat_node()]);
    let at2 = t
        .get_state_at_checkpoint(tid, &json!({"checkpoint_id": parent.checkpoint_id}), false)
        .await
        .unwrap();
    assert_eq!(at2.values, at.values);

    // A state update as the chat node appends a message.
    let upd = t
        .update_state(
            tid,
            &StateUpdate::new(json!({"messages": [{"role": "assistant", "content": "edited"}]}))
                .as_node(b.chat_node()),
        )
        .await
        .unwrap();
    assert_eq!(upd.checkpoint.thread_id, tid);
    assert_ne!(upd.checkpoint.checkpoint_id, head.checkpoint_id);
    let now = t.get_state(tid, false).await.unwrap();
    assert_eq!(now.checkpoint.as_ref().unwrap().checkpoint_id, upd.checkpoint.checkpoint_id);
    assert_eq!(now.values["messages"].as_array().map(Vec::len), Some(3));
    assert_eq!(last_message(&now.values), "edited");
    assert_eq!(now.metadata.as_ref().unwrap()["source"], json!("update"));
    assert_eq!(
        status_of(t.update_state(tid, &StateUpdate::new(json!({})).as_node("nope")).await),
        400
    );

    // Replay from the checkpoint before the node: a new branch with a fresh answer.
    let replay = orrery_client::RunCreate::new(b.chat_graph())
        .input(serde_json::Value::Null)
        .checkpoint_id(parent.checkpoint_id.clone());
    let out = b.client.runs().wait(tid, &replay).await.unwrap();
    assert_eq!(out["messages"].as_array().map(Vec::len), Some(2), "{out}");
    assert_eq!(last_message(&out), b.reply("hello there"));
    // History now has two branches out of the replayed checkpoint (langgraph 1.2 puts a
    // `fork` checkpoint at the head of the new one).
    let hist = t.history(tid, Some(20), None).await.unwrap();
    let children = hist
        .iter()
        .filter(|s| {
            s.parent_checkpoint.as_ref().is_some_and(|p| p.checkpoint_id == parent.checkpoint_id)
        })
        .count();
    assert_eq!(children, 2, "two branches start at the replayed checkpoint");
    t.delete(tid).await.unwrap();
    assert_eq!(status_of(t.get_state(tid, false).await), 404);
}
