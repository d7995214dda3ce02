//! HTTP load generator for `bench/run.sh`: drives any LangGraph-API server (orrery-runtime or
//! `langgraph dev`) serving an `echo` graph and prints one JSON line of figures.
//!
//! usage: cargo bench -p orrery-runtime --bench http_load -- --url http://127.0.0.1:PORT
//!        [--runs 500] [--streams 100] [--clients 8] [--concurrent-runs 800]

#![allow(clippy::unwrap_used, clippy::expect_used)] // a load generator that cannot talk to its server should stop loudly

use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn num(name: &str, default: usize) -> usize {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn new_thread(http: &reqwest::Client, url: &str) -> String {
    let t: Value = http
        .post(format!("{url}/threads"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    t["thread_id"].as_str().unwrap().to_string()
}

fn body() -> Value {
    json!({"assistant_id": "echo", "input": {"messages": [{"role": "user", "content": "hi"}]}})
}

async fn wait_run(http: &reqwest::Client, url: &str, thread: &str) {
    let r =
        http.post(format!("{url}/threads/{thread}/runs/wait")).json(&body()).send().await.unwrap();
    assert!(r.status().is_success(), "runs/wait answered {}", r.status());
    let text = r.text().await.unwrap();
    let v: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["messages"][1]["content"], "hi", "the echo graph answered: {text}");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

#[tokio::main]
async fn main() {
    let url = arg("--url").expect("--url http://127.0.0.1:PORT");
    let runs = num("--runs", 500);
    let streams = num("--streams", 100);
    let clients = num("--clients", 8);
    let concurrent_runs = num("--concurrent-runs", runs);
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();

    // Warm-up (connections, caches).
    let t = new_thread(&http, &url).await;
    wait_run(&http, &url, &t).await;

    // Sequential runs/wait, one fresh thread per run (threads made beforehand, not timed).
    let mut threads = Vec::with_capacity(runs);
    for _ in 0..runs {
        threads.push(new_thread(&http, &url).await);
    }
    let start = Instant::now();
    for t in &threads {
        wait_run(&http, &url, t).await;
    }
    let sequential = runs as f64 / start.elapsed().as_secs_f64();

    // Time to the first SSE frame of runs/stream.
    let mut first_frame_ms = Vec::with_capacity(streams);
    for _ in 0..streams {
        let t = new_thread(&http, &url).await;
        let start = Instant::now();
        let mut r =
            http.post(format!("{url}/threads/{t}/runs/stream")).json(&body()).send().await.unwrap();
        let mut seen = String::new();
        while let Some(chunk) = r.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event:") {
                first_frame_ms.push(start.elapsed().as_secs_f64() * 1000.0);
                break;
            }
        }
        while r.chunk().await.unwrap().is_some() {}
    }

    // The same load from several concurrent clients, each on its own threads.
    let per_client = concurrent_runs.div_ceil(clients.max(1));
    let mut prepared = Vec::new();
    for _ in 0..clients {
        let mut ts = Vec::with_capacity(per_client);
        for _ in 0..per_client {
            ts.push(new_thread(&http, &url).await);
        }
        prepared.push(ts);
    }
    // For a profiler attached to the server: the timed load starts now.
    eprintln!("concurrent load starts");
    let start = Instant::now();
    let mut tasks = Vec::new();
    for ts in prepared {
        let http = http.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            for t in ts {
                wait_run(&http, &url, &t).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let concurrent = (per_client * clients) as f64 / start.elapsed().as_secs_f64();

    let p50 = median(first_frame_ms);
    println!(
        "{}",
        json!({
            "sequential_runs_per_sec": (sequential * 10.0).round() / 10.0,
            "first_frame_p50_ms": (p50 * 100.0).round() / 100.0,
            "concurrent_runs_per_sec": (concurrent * 10.0).round() / 10.0,
            "clients": clients,
        })
    );
    let _ = Duration::ZERO;
}
