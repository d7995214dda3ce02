//! Runs: wait, background runs (join, list, get, cancel, delete), stateless runs, errors,
//! double-texting, interrupts.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use orrery_client::{
    CancelAction, Command, Error, MultitaskStrategy, Nodes, RunCreate, RunList, RunStatus,
    RunsCancel, ThreadCreate, ThreadStatus,
};
use serde_json::{Value, json};

use crate::{Backend, last_message, status_of};

crate::tests![
    wait_and_stateless,
    background_join_list_get,
    cancel_and_delete,
    request_errors,
    run_failure,
    reject_double_texting,
    static_breakpoint_and_continue,
    interrupt_and_resume_with_command,
];

async fn new_thread(b: &Backend) -> String {
    b.client.threads().create(&ThreadCreate::default()).await.unwrap().thread_id
}

/// Polls a run until it is no longer in flight.
async fn settle(b: &Backend, tid: &str, rid: &str) -> RunStatus {
    for _ in 0..300 {
        let run = b.client.runs().get(tid, rid).await.unwrap();
        if !run.status.in_flight() {
            return run.status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {rid} still in flight after 30 s");
}

/// Polls a run until it is running (langgraph dev queues runs behind other tests' runs).
async fn running(b: &Backend, tid: &str, rid: &str) {
    for _ in 0..300 {
        match b.client.runs().get(tid, rid).await.unwrap().status {
            RunStatus::Running => return,
            RunStatus::Pending => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("run {rid} is {other:?}, never seen running"),
        }
    }
    panic!("run {rid} did not start within 15 s");
}

async fn wait_and_stateless(b: Arc<Backend>) {
    let runs = b.client.runs();
    let tid = new_thread(&b).await;
    let out = runs.wait(&tid, &b.chat_run("one")).await.unwrap();
    assert_eq!(last_message(&out), b.reply("one"));
    // A second turn on the same thread sees the first.
    let raw = runs.wait_raw(Some(&tid), &b.chat_run("two")).await.unwrap();
    assert_eq!(raw["messages"].as_array().map(Vec::len), Some(4), "{raw}");
    assert_eq!(last_message(&raw), b.reply("two"));

    // Stateless: a temporary thread, deleted afterwards.
    let out = runs.wait_stateless(&b.chat_run("no thread")).await.unwrap();
    assert_eq!(out["messages"].as_array().map(Vec::len), Some(2));
    assert_eq!(last_message(&out), b.reply("no thread"));
    // Resuming needs a thread.
    let resume = RunCreate::new(b.chat_graph()).command(Command::default().resume(json!(1)));
    assert_eq!(status_of(runs.wait_stateless(&resume).await), 400);

    // Background stateless runs, one and a batch.
    let run = runs.create_stateless(&b.chat_run("bg")).await.unwrap();
    assert!(matches!(run.status, RunStatus::Pending | RunStatus::Running));
    assert_eq!(run.assistant_id, b.chat_assistant_id());
    let batch = runs.create_batch(&[b.chat_run("b1"), b.chat_run("b2")]).await.unwrap();
    assert_eq!(batch.len(), 2);
    assert_ne!(batch[0].thread_id, batch[1].thread_id);
    assert_ne!(batch[0].run_id, batch[1].run_id);
    assert_eq!(batch[0].kwargs["input"], Backend::chat_input("b1"));
}

async fn background_join_list_get(b: Arc<Backend>) {
    let runs = b.client.runs();
    let tid = new_thread(&b).await;
    let run = runs.create(&tid, &b.slow_run(900)).await.unwrap();
    assert_eq!(run.thread_id, tid);
    assert!(run.status.in_flight(), "{:?}", run.status);
    let got = runs.get(&tid, &run.run_id).await.unwrap();
    assert_eq!(got.run_id, run.run_id);
    assert_eq!(b.client.threads().get(&tid).await.unwrap().status, ThreadStatus::Busy);

    let out = runs.join(&tid, &run.run_id).await.unwrap();
    b.assert_slow_done(&out);
    assert_eq!(runs.get(&tid, &run.run_id).await.unwrap().status, RunStatus::Success);
    assert_eq!(b.client.threads().get(&tid).await.unwrap().status, ThreadStatus::Idle);
    // Joining a finished run gives the thread's values.
    let again = runs.join(&tid, &run.run_id).await.unwrap();
    b.assert_slow_done(&again);

    let second = runs.create(&tid, &b.chat_run("after")).await.unwrap();
    let listed = runs.list(&tid, &RunList::default()).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, [second.run_id.as_str(), run.run_id.as_str()], "newest first");
    let page = runs.list(&tid, &RunList::default().limit(1u64).offset(1u64)).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].run_id, run.run_id);
    assert_eq!(settle(&b, &tid, &second.run_id).await, RunStatus::Success);
    let ok = runs.list(&tid, &RunList::default().status(RunStatus::Success)).await.unwrap();
    assert_eq!(ok.len(), 2);
    let failed = runs.list(&tid, &RunList::default().status(RunStatus::Error)).await.unwrap();
    assert!(failed.is_empty());
    // An unknown run: 404 on GET; join answers 200 with `__error__`, i.e. RunFailed.
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(status_of(runs.get(&tid, &unknown).await), 404);
    match runs.join(&tid, &unknown).await {
        Err(Error::RunFailed { message, .. }) => assert!(message.contains("404"), "{message}"),
        other => panic!("join of an unknown run: {other:?}"),
    }
    assert_eq!(
        status_of(runs.list(&uuid::Uuid::new_v4().to_string(), &RunList::default()).await),
        404
    );
}

async fn cancel_and_delete(b: Arc<Backend>) {
    let runs = b.client.runs();
    let tid = new_thread(&b).await;

    // Cancel with wait: the run ends `interrupted`.
    let run = runs.create(&tid, &b.slow_run(6000)).await.unwrap();
    runs.cancel(&tid, &run.run_id, true, CancelAction::Interrupt).await.unwrap();
    assert_eq!(settle(&b, &tid, &run.run_id).await, RunStatus::Interrupted);
    // A run that is over cannot be cancelled.
    assert_eq!(
        status_of(runs.cancel(&tid, &run.run_id, false, CancelAction::Interrupt).await),
        404
    );
    // Delete it.
    runs.delete(&tid, &run.run_id).await.unwrap();
    assert_eq!(status_of(runs.get(&tid, &run.run_id).await), 404);
    assert_eq!(status_of(runs.delete(&tid, &run.run_id).await), 404);

    // Rollback (no wait, as the golden capture does) deletes a running run.
    let run = runs.create(&tid, &b.slow_run(6000)).await.unwrap();
    running(&b, &tid, &run.run_id).await;
    runs.cancel(&tid, &run.run_id, false, CancelAction::Rollback).await.unwrap();
    let mut last = None;
    for _ in 0..100 {
        match runs.get(&tid, &run.run_id).await {
            Err(e) if e.is_not_found() => {
                last = None;
                break;
            }
            other => last = Some(format!("{other:?}")),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(last.is_none(), "a rolled back run is deleted; GET still says {last:?}");

    // Cancel by id through /runs/cancel.
    let run = runs.create(&tid, &b.slow_run(6000)).await.unwrap();
    let which = RunsCancel::default().thread_id(tid.clone()).run_ids(vec![run.run_id.clone()]);
    runs.cancel_many(&which, CancelAction::Interrupt).await.unwrap();
    assert_eq!(settle(&b, &tid, &run.run_id).await, RunStatus::Interrupted);
    // Nothing matches: 404; a status together with ids: 422.
    let none = RunsCancel::default()
        .thread_id(tid.clone())
        .run_ids(vec![uuid::Uuid::new_v4().to_string()]);
    assert_eq!(status_of(runs.cancel_many(&none, CancelAction::Interrupt).await), 404);
    let both = which.clone().status("all");
    assert_eq!(status_of(runs.cancel_many(&both, CancelAction::Interrupt).await), 422);
}

async fn request_errors(b: Arc<Backend>) {
    let runs = b.client.runs();
    let tid = new_thread(&b).await;
    let missing = uuid::Uuid::new_v4().to_string();
    // 404: unknown thread, with a detail that says so.
    match runs.wait(&missing, &b.chat_run("x")).await {
        Err(Error::Api { status: 404, detail, body }) => {
            assert!(!detail.is_empty() && body.contains("detail"), "{detail} / {body}");
        }
        other => panic!("{other:?}"),
    }
    match b.client.threads().get(&missing).await {
        Err(Error::Api { status: 404, detail, .. }) => {
            assert!(detail.contains(&missing), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    // ... unless asked to create it.
    let created = runs
        .wait(&missing, &b.chat_run("made").if_not_exists(orrery_client::IfNotExists::Create))
        .await
        .unwrap();
    assert_eq!(last_message(&created), b.reply("made"));
    // 422: an assistant that is neither a UUID nor a graph, a bad checkpoint id, a bad id.
    let e = runs.wait(&tid, &RunCreate::new("no-such-graph").input(json!({}))).await;
    match e {
        Err(Error::Api { status: 422, detail, .. }) => {
            assert!(detail.contains("no-such-graph"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    let bad_cp = b.chat_run("x").checkpoint_id("not-a-checkpoint");
    assert_eq!(status_of(runs.create(&tid, &bad_cp).await), 422);
    assert_eq!(status_of(runs.create("not-a-uuid", &b.chat_run("x")).await), 422);
    // 400: configurable and context together.
    let both = b.chat_run("x").config(json!({"configurable": {"a": 1}})).context(json!({"b": 2}));
    assert_eq!(status_of(runs.create(&tid, &both).await), 400);
    // 404 for an unknown assistant UUID.
    let ghost = RunCreate::new(uuid::Uuid::new_v4().to_string()).input(json!({}));
    assert_eq!(status_of(runs.create(&tid, &ghost).await), 404);
}

async fn run_failure(b: Arc<Backend>) {
    let runs = b.client.runs();
    let tid = new_thread(&b).await;
    // langgraph dev: the `failing` graph raises ValueError. Our runtime: the `echo` graph
    // cannot coerce a message without a role or type.
    let (failing, message) = if b.is_lgdev() {
        (RunCreate::new("failing").input(json!({})), "kaboom")
    } else {
        (RunCreate::new("echo").input(json!({"messages": [{"nonsense": true}]})), "")
    };
    match runs.wait(&tid, &failing).await {
        Err(Error::RunFailed { error, message: m }) => {
            assert!(!error.is_empty());
            assert!(m.contains(message), "{m}");
        }
        other => panic!("a failing run: {other:?}"),
    }
    let raw = runs.wait_raw(Some(&tid), &failing).await.unwrap();
    assert!(raw["__error__"]["error"].is_string(), "{raw}");
    let thread = b.client.threads().get(&tid).await.unwrap();
    assert_eq!(thread.status, ThreadStatus::Error);
    assert!(thread.error.as_ref().is_some_and(|e| e["error"].is_string()), "{thread:?}");
    // A stream of a failing run ends with an `error` part.
    let parts = runs.stream(&tid, &failing).await.unwrap().collect_parts().await.unwrap();
    let events: Vec<&str> = parts.iter().map(|p| p.event.as_str()).collect();
    assert_eq!(events.first(), Some(&"metadata"), "{events:?}");
    assert_eq!(events.last(), Some(&"error"), "{events:?}");
    let last = runs.list(&tid, &RunList::default().limit(1u64)).await.unwrap();
    assert_eq!(last[0].status, RunStatus::Error);
}

async fn reject_double_texting(b: Arc<Backend>) {
    let runs = b.client.runs();
    let tid = new_thread(&b).await;
    let first = runs.create(&tid, &b.slow_run(1500)).await.unwrap();
    let reject = b.chat_run("second").multitask_strategy(MultitaskStrategy::Reject);
    let e = runs.create(&tid, &reject).await.unwrap_err();
    assert!(e.is_conflict(), "{e}");
    assert_eq!(status_of(runs.wait(&tid, &reject).await), 409);
    // On a stream the 409 comes before any event: the call itself fails.
    assert_eq!(status_of(runs.stream(&tid, &reject).await), 409);
    // A state update during a run is refused too.
    let upd = orrery_client::StateUpdate::new(json!({}));
    let r = b.client.threads().update_state(&tid, &upd).await;
    assert_eq!(status_of(r), 409);
    // Enqueue (the default): the second run waits for the first.
    let out = runs.wait(&tid, &b.chat_run("queued")).await.unwrap();
    assert_eq!(last_message(&out), b.reply("queued"));
    assert_eq!(runs.get(&tid, &first.run_id).await.unwrap().status, RunStatus::Success);
    let all = runs.list(&tid, &RunList::default()).await.unwrap();
    assert_eq!(all.len(), 2, "the rejected runs were not stored");
}

/// `interrupt_before` the answering node, then continue with `input: null`.
async fn static_breakpoint_and_continue(b: Arc<Backend>) {
    let runs = b.client.runs();
    let tid = new_thread(&b).await;
    let paused = runs
        .wait(
            &tid,
            &b.chat_run("wait for it").interrupt_before(Nodes::List(vec![b.chat_node().into()])),
        )
        .await
        .unwrap();
    assert_eq!(paused["messages"].as_array().map(Vec::len), Some(1), "{paused}");
    let thread = b.client.threads().get(&tid).await.unwrap();
    assert_eq!(thread.status, ThreadStatus::Interrupted);
    let state = b.client.threads().get_state(&tid, false).await.unwrap();
    assert_eq!(state.next, [b.chat_node()]);
    let last = runs.list(&tid, &RunList::default().limit(1u64)).await.unwrap();
    assert_eq!(last[0].status, RunStatus::Success, "a breakpoint ends the run with success");

    let done = runs.wait(&tid, &RunCreate::new(b.chat_graph()).input(Value::Null)).await.unwrap();
    assert_eq!(last_message(&done), b.reply("wait for it"));
    assert_eq!(b.client.threads().get(&tid).await.unwrap().status, ThreadStatus::Idle);
    assert!(b.client.threads().get_state(&tid, false).await.unwrap().next.is_empty());

    // Pause again and go on with a command that changes the question first.
    let pause = b.chat_run("original").interrupt_before(Nodes::All);
    runs.wait(&tid, &pause).await.unwrap();
    assert_eq!(b.client.threads().get_state(&tid, false).await.unwrap().next, [b.chat_node()]);
    let update = json!({"messages": [{"role": "user", "content": "changed"}]});
    let out = runs
        .wait(&tid, &RunCreate::new(b.chat_graph()).command(Command::default().update(update)))
        .await
        .unwrap();
    assert_eq!(last_message(&out), b.reply("changed"), "{out}");
}

/// `interrupt()` inside a node and `Command(resume=...)`: the golden `agent` graph asks for
/// approval of its tool call. langgraph dev only: our `echo` graph has no `interrupt()`.
async fn interrupt_and_resume_with_command(b: Arc<Backend>) {
    let runs = b.client.runs();
    let tid = new_thread(&b).await;
    let ask = b
        .chat_run("What is the weather in Paris?")
        .stream_mode([orrery_client::StreamMode::Values]);
    let parts = runs.stream(&tid, &ask).await.unwrap().collect_parts().await.unwrap();
    let last = parts.iter().rev().find(|p| p.event == "values").unwrap();
    let interrupt = &last.data["__interrupt__"][0];
    assert_eq!(interrupt["value"]["question"], json!("Approve tool call?"), "{}", last.data);
    assert_eq!(interrupt["value"]["tool_calls"][0]["name"], json!("get_weather"));

    let thread = b.client.threads().get(&tid).await.unwrap();
    assert_eq!(thread.status, ThreadStatus::Interrupted);
    assert!(thread.interrupts.as_ref().and_then(Value::as_object).is_some_and(|m| !m.is_empty()));
    let state = b.client.threads().get_state(&tid, false).await.unwrap();
    assert_eq!(state.next, ["human_approval"]);
    assert_eq!(state.interrupts.len(), 1);
    assert_eq!(state.tasks[0].interrupts.len(), 1);
    let run = runs.list(&tid, &RunList::default().limit(1u64)).await.unwrap();
    assert_eq!(run[0].status, RunStatus::Success);
    // /join of that run reports the interrupt.
    let joined = runs.join(&tid, &run[0].run_id).await.unwrap();
    assert!(joined["__interrupt__"].is_array(), "{joined}");

    // Approve: the tool runs and the model quotes it.
    let resume =
        RunCreate::new("agent").command(Command::default().resume(json!({"approved": true})));
    let mut stream = runs
        .stream(&tid, &resume.clone().stream_mode([orrery_client::StreamMode::Updates]))
        .await
        .unwrap();
    let mut nodes = Vec::new();
    while let Some(p) = stream.next().await {
        let p = p.unwrap();
        if p.event == "updates"
            && let Some(o) = p.data.as_object()
        {
            nodes.extend(o.keys().cloned());
        }
    }
    assert_eq!(nodes, ["human_approval", "tools", "agent"]);
    let state = b.client.threads().get_state(&tid, false).await.unwrap();
    assert_eq!(last_message(&state.values), "The weather result is: It is sunny and 22C in Paris.");
    assert_eq!(b.client.threads().get(&tid).await.unwrap().status, ThreadStatus::Idle);

    // Reject on a second question: the model is told so.
    let paused = runs.wait(&tid, &b.chat_run("And the weather in Rome?")).await.unwrap();
    assert!(paused["__interrupt__"].is_array(), "{paused}");
    let out = runs
        .wait(
            &tid,
            &RunCreate::new("agent").command(Command::default().resume(json!({"approved": false}))),
        )
        .await
        .unwrap();
    assert!(last_message(&out).contains("Tool call rejected by human."), "{out}");
}
