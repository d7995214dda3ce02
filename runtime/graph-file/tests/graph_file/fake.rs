//! Fake model provider and HTTP servers on 127.0.0.1 (a free port): they answer each request
//! with the next scripted reply, written byte for byte as the real APIs stream it, and record
//! what they were sent. Shared with the runtime's tests (`#[path]`).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Written one after the other, with `delay` between them.
    pub chunks: Vec<String>,
    pub delay: Duration,
    /// A wait before anything is written (to make a client time out).
    pub stall: Duration,
}

impl Reply {
    pub fn new(status: u16, content_type: &str, chunks: Vec<String>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            chunks,
            delay: Duration::ZERO,
            stall: Duration::ZERO,
        }
    }
    pub fn json(status: u16, body: &Value) -> Reply {
        Reply::new(status, "application/json", vec![body.to_string()])
    }
    pub fn stalled(mut self, d: Duration) -> Reply {
        self.stall = d;
        self
    }
}

/// A request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A server answering with `replies` in order (the last one again when they run out).
pub struct FakeServer {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    pub async fn start(replies: Vec<Reply>) -> FakeServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let replies = Arc::new(replies);
        let task = tokio::spawn(async move {
            let mut n = 0usize;
            loop {
                let Ok((sock, _)) = listener.accept().await else { return };
                let reply = replies.get(n).or_else(|| replies.last()).cloned();
                n += 1;
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let _ = serve_one(sock, reply, seen).await;
                });
            }
        });
        FakeServer { url, requests, task }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve_one(
    mut sock: tokio::net::TcpStream,
    reply: Option<Reply>,
    seen: Arc<Mutex<Vec<Recorded>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let first: Vec<&str> = lines.next().unwrap_or_default().split(' ').collect();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    seen.lock().unwrap().push(Recorded {
        method: first.first().unwrap_or(&"").to_string(),
        path: first.get(1).unwrap_or(&"").to_string(),
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    });
    let Some(reply) = reply else { return Ok(()) };
    tokio::time::sleep(reply.stall).await;
    let reason = match reply.status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        529 => "Overloaded",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\nconnection: close\r\n", reply.status);
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    sock.write_all(head.as_bytes()).await?;
    for c in &reply.chunks {
        sock.write_all(c.as_bytes()).await?;
        sock.flush().await?;
        if !reply.delay.is_zero() {
            tokio::time::sleep(reply.delay).await;
        }
    }
    sock.shutdown().await
}

const SSE: &str = "text/event-stream; charset=utf-8";

fn openai_chunk(delta: Value, finish: Value) -> String {
    let c = json!({"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion.chunk",
        "created": 1741570283, "model": "gpt-4o-mini-2024-07-18", "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        "usage": null});
    format!("data: {c}\n\n")
}

fn openai_tail(finish: &str, prompt: u64, completion: u64) -> Vec<String> {
    let usage = json!({"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion.chunk",
        "created": 1741570283, "model": "gpt-4o-mini-2024-07-18", "service_tier": "default",
        "system_fingerprint": "fp_06737a9306", "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}});
    vec![
        openai_chunk(json!({}), json!(finish)),
        format!("data: {usage}\n\n"),
        "data: [DONE]\n\n".into(),
    ]
}

/// An OpenAI chat-completions stream answering `pieces` as text.
pub fn openai_text(pieces: &[&str]) -> Reply {
    let mut chunks = vec![openai_chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        Value::Null,
    )];
    for p in pieces {
        chunks.push(openai_chunk(json!({"content": p}), Value::Null));
    }
    chunks.extend(openai_tail("stop", 19, pieces.len() as u64));
    Reply::new(200, SSE, chunks)
}

/// An OpenAI stream calling `name` with `args` split into fragments.
pub fn openai_tool_call(call_id: &str, name: &str, arg_fragments: &[&str]) -> Reply {
    let mut chunks = vec![openai_chunk(
        json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": call_id,
               "type": "function", "function": {"name": name, "arguments": ""}}], "refusal": null}),
        Value::Null,
    )];
    for f in arg_fragments {
        chunks.push(openai_chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": f}}]}),
            Value::Null,
        ));
    }
    chunks.extend(openai_tail("tool_calls", 80, 17));
    Reply::new(200, SSE, chunks)
}

/// An OpenAI error answer.
pub fn openai_error(status: u16, message: &str, kind: &str, code: Value) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
    )
}

fn anthropic_event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

fn anthropic_start() -> Vec<String> {
    vec![
        anthropic_event(
            "message_start",
            json!({"type": "message_start", "message": {
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
            "content": [], "model": "claude-haiku-4-5-20251001", "stop_reason": null,
            "stop_sequence": null, "usage": {"input_tokens": 472, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0, "output_tokens": 2}}}),
        ),
        anthropic_event("ping", json!({"type": "ping"})),
    ]
}

fn anthropic_end(stop: &str, output: u64) -> Vec<String> {
    vec![
        anthropic_event(
            "message_delta",
            json!({"type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": output}}),
        ),
        anthropic_event("message_stop", json!({"type": "message_stop"})),
    ]
}

/// One content block: its start, its deltas, its stop.
fn anthropic_block(
    index: u64,
    block: Value,
    deltas: impl IntoIterator<Item = Value>,
) -> Vec<String> {
    let mut chunks = vec![anthropic_event(
        "content_block_start",
        json!({"type": "content_block_start", "index": index, "content_block": block}),
    )];
    for delta in deltas {
        chunks.push(anthropic_event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        ));
    }
    chunks.push(anthropic_event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index}),
    ));
    chunks
}

/// A text block at `index` streaming `pieces`.
fn anthropic_text_block(index: u64, pieces: &[&str]) -> Vec<String> {
    anthropic_block(
        index,
        json!({"type": "text", "text": ""}),
        pieces.iter().map(|p| json!({"type": "text_delta", "text": p})),
    )
}

/// An Anthropic Messages stream answering `pieces` as text.
pub fn anthropic_text(pieces: &[&str]) -> Reply {
    let mut chunks = anthropic_start();
    chunks.extend(anthropic_text_block(0, pieces));
    chunks.extend(anthropic_end("end_turn", 15));
    Reply::new(200, SSE, chunks)
}

/// An Anthropic stream with some text, then a `tool_use` block whose input comes in fragments.
pub fn anthropic_tool_use(text: &str, id: &str, name: &str, fragments: &[&str]) -> Reply {
    let mut chunks = anthropic_start();
    chunks.extend(anthropic_text_block(0, &[text]));
    chunks.extend(anthropic_block(
        1,
        json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
        fragments.iter().map(|f| json!({"type": "input_json_delta", "partial_json": f})),
    ));
    chunks.extend(anthropic_end("tool_use", 89));
    Reply::new(200, SSE, chunks)
}

/// An Anthropic error answer.
pub fn anthropic_error(status: u16, kind: &str, message: &str) -> Reply {
    Reply::json(status, &json!({"type": "error", "error": {"type": kind, "message": message}}))
}
