//! Run webhooks: the URL policy at run creation, and the payload POSTed when a run ends
//! (golden `90_webhook.txt`), to a listener on 127.0.0.1.

use std::time::Duration;

use axum::extract::State;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::projects::{start_project, write};
use crate::tempdir::TempDir;
use crate::{Backend, Server, both};

/// A local listener that hands over every request it receives: (path and query, JSON body).
async fn listener() -> (String, mpsc::UnboundedReceiver<(String, Value)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(
        |State(tx): State<mpsc::UnboundedSender<(String, Value)>>,
         uri: axum::http::Uri,
         body: String| async move {
            let _ = tx.send((uri.to_string(), serde_json::from_str(&body).unwrap_or(Value::Null)));
            "ok"
        },
    );
    let app = app.with_state(tx);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<(String, Value)>) -> (String, Value) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the webhook came within 10 s")
        .expect("the listener is up")
}

both!(a_run_posts_its_outcome_to_its_webhook);
async fn a_run_posts_its_outcome_to_its_webhook(backend: Backend) {
    let dir = TempDir::create();
    // A model at a port nothing listens on: its runs fail.
    write(
        &dir.0,
        "broken.yaml",
        "state:
  messages: {reducer: messages}
nodes:
  agent:
    kind: chat_model
    retry: {max_attempts: 1}
    model: {provider: openai, model: m, base_url: 'http://127.0.0.1:1/v1', api_key: {env: KEY}, timeout: 2}
edges:
  - {from: __start__, to: agent}
  - {from: agent, to: __end__}
",
    );
    let manifest = json!({
        "graphs": {"broken": "./broken.yaml"},
        "env": {"KEY": "k"},
        "webhooks": {"url": {"disable_loopback": false, "require_https": false}},
    });
    let cfg = write(&dir.0, "langgraph.json", &manifest.to_string());
    let s = start_project(backend, &cfg).await.unwrap();
    let (hook, mut received) = listener().await;

    let (_, t) = s.post("/threads", json!({})).await;
    let tid = t["thread_id"].as_str().unwrap();
    let body = json!({"assistant_id": "echo", "input": {"messages": [{"role": "user", "content": "hook"}]}, "webhook": format!("{hook}/hook?x=1")});
    let (st, out) = s.post(&format!("/threads/{tid}/runs/wait"), body).await;
    assert_eq!(st, 200, "{out}");
    let (path, payload) = next(&mut received).await;
    assert_eq!(path, "/hook?x=1");
    let keys: Vec<&str> = payload.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "run_id",
        "thread_id",
        "assistant_id",
        "metadata",
        "status",
        "kwargs",
        "multitask_strategy",
        "created_at",
        "updated_at",
        "run_started_at",
        "run_ended_at",
        "webhook_sent_at",
        "values",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    assert!(!keys.contains(&"error"), "a successful run has no error");
    assert_eq!(payload["status"], "success");
    assert_eq!(payload["thread_id"], tid);
    assert_eq!(payload["values"], out);
    assert_eq!(payload["kwargs"]["webhook"], format!("{hook}/hook?x=1"));
    let (started, ended) =
        (payload["run_started_at"].as_str().unwrap(), payload["run_ended_at"].as_str().unwrap());
    assert!(started <= ended, "{started} .. {ended}");

    let body = json!({"assistant_id": "broken", "input": {"messages": "hi"}, "webhook": format!("{hook}/hook-err")});
    let (st, out) = s.post(&format!("/threads/{tid}/runs/wait"), body).await;
    assert_eq!(st, 200, "{out}");
    assert!(out["__error__"].is_object(), "{out}");
    let (path, payload) = next(&mut received).await;
    assert_eq!(path, "/hook-err");
    assert_eq!(payload["status"], "error");
    assert_eq!(payload["error"], out["__error__"]);
}

both!(webhook_urls_follow_the_policy);
async fn webhook_urls_follow_the_policy(backend: Backend) {
    // Without a project: loopback and relative URLs are refused, like LangGraph Server's default.
    let s = Server::start(backend).await;
    for url in ["http://127.0.0.1:9/hook", "http://localhost/x", "/runs"] {
        let (st, err) =
            s.post("/runs", json!({"assistant_id": "echo", "input": {}, "webhook": url})).await;
        assert_eq!(st, 422, "{url}: {err}");
        assert!(err["detail"].as_str().unwrap().contains("oopback"), "{url}: {err}");
    }
    let (st, err) = s
        .post("/runs/crons", json!({"assistant_id": "echo", "schedule": "* * * * *", "webhook": "http://169.254.169.254/x"}))
        .await;
    assert_eq!(st, 422, "{err}");
    assert!(err["detail"].as_str().unwrap().starts_with("Webhook host blocked"), "{err}");
    drop(s);

    // A `webhooks` block makes https required until `require_https` is false.
    let dir = TempDir::create();
    let manifest = json!({"graphs": {"echo": "native:echo"}, "webhooks": {"url": {"disable_loopback": false}}});
    let cfg = write(&dir.0, "langgraph.json", &manifest.to_string());
    let s = start_project(backend, &cfg).await.unwrap();
    let (st, err) = s
        .post(
            "/runs",
            json!({"assistant_id": "echo", "input": {}, "webhook": "http://127.0.0.1:9/h"}),
        )
        .await;
    assert_eq!((st, err["detail"].clone()), (422, json!("Webhook must use https")));
}
