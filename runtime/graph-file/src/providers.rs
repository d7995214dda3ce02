//! Real chat model providers: any OpenAI-compatible chat-completions API and Anthropic's
//! Messages API, both streamed (server-sent events), so every token reaches the `messages`
//! stream mode through [`NodeContext::emit_message_chunk`] as the scripted model's do.
//!
//! The final message has the shape LangChain gives it (`tool_calls` with ids and parsed
//! args, `response_metadata` with `finish_reason` / `stop_reason` and `model_name`,
//! `usage_metadata` when the provider reports usage). Failures become node errors whose class
//! is the one the providers' Python SDKs raise (`AuthenticationError`, `RateLimitError`,
//! `InternalServerError`, `APITimeoutError`, ...), so a node's retry policy can tell a
//! retryable failure from a permanent one. No message ever contains the API key: it is
//! replaced by `***` in anything the provider answers.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use orrery_engine::messages::message;
use orrery_engine::{NodeContext, NodeError, NodeOutput};
use serde_json::{Map, Value, json};

use crate::env::Secret;
use crate::nodes::{content_text, context, kind_of};
use crate::template::Template;

/// Error classes a provider failure may be retried for (the default `retry_on` of a chat
/// model node): rate limits, server errors and overload, timeouts, lost connections.
pub const RETRYABLE: [&str; 5] = [
    "RateLimitError",
    "InternalServerError",
    "OverloadedError",
    "APITimeoutError",
    "APIConnectionError",
];

/// Every error class a provider failure may have. Their messages are ours (clear, key
/// redacted), so the server passes them through to run errors instead of masking them.
pub const ERROR_CLASSES: [&str; 15] = [
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "RequestTooLargeError",
    "UnprocessableEntityError",
    "RateLimitError",
    "InternalServerError",
    "OverloadedError",
    "APIStatusError",
    "APIError",
    "APITimeoutError",
    "APIConnectionError",
    "APIResponseValidationError",
];

/// Which wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// `POST {base_url}/chat/completions`.
    OpenAi,
    /// `POST {base_url}/v1/messages`.
    Anthropic,
}

impl Wire {
    fn name(self) -> &'static str {
        match self {
            Wire::OpenAi => "openai",
            Wire::Anthropic => "anthropic",
        }
    }
    fn title(self) -> &'static str {
        match self {
            Wire::OpenAi => "OpenAI-compatible API",
            Wire::Anthropic => "Anthropic API",
        }
    }
}

/// A tool as a model sees it.
#[derive(Debug, Clone)]
pub(crate) struct ToolSchema {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) parameters: Value,
}

/// A `chat_model` node with a real provider.
pub(crate) struct ProviderNode {
    pub(crate) wire: Wire,
    pub(crate) model: String,
    /// Without a trailing `/`.
    pub(crate) base_url: String,
    pub(crate) api_key: Option<Secret>,
    /// The name of the key's env variable (named in errors, never the value).
    pub(crate) api_key_env: Option<String>,
    /// Extra request headers (values may be secrets).
    pub(crate) headers: Vec<(String, Secret)>,
    /// The secrets of `headers`, redacted from errors like the key.
    pub(crate) secrets: Vec<Secret>,
    /// Sampling parameters and extra body fields, merged into the request body.
    pub(crate) params: Map<String, Value>,
    pub(crate) timeout: Duration,
    pub(crate) anthropic_version: String,
    pub(crate) tools: Vec<ToolSchema>,
    pub(crate) system_prompt: Option<Template>,
    pub(crate) messages_key: String,
    pub(crate) defaults: Arc<Map<String, Value>>,
}

/// The one HTTP client of providers and `http` tools (built on first use).
pub(crate) fn http_client() -> Result<reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| e.to_string())
        })
        .clone()
}

fn client() -> Result<reqwest::Client, NodeError> {
    http_client()
        .map_err(|e| NodeError::failed("APIConnectionError", format!("no HTTP client: {e}")))
}

/// At most `n` characters of `s`.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n).collect();
        out.push('…');
        out
    }
}

/// The error class a provider's HTTP status maps to (the Python SDKs' exception names).
fn status_class(status: u16, wire: Wire) -> &'static str {
    match status {
        400 => "BadRequestError",
        401 => "AuthenticationError",
        403 => "PermissionDeniedError",
        404 => "NotFoundError",
        409 => "ConflictError",
        413 => "RequestTooLargeError",
        422 => "UnprocessableEntityError",
        429 => "RateLimitError",
        529 if wire == Wire::Anthropic => "OverloadedError",
        s if s >= 500 => "InternalServerError",
        _ => "APIStatusError",
    }
}

/// The class of an error a provider reports inside its stream (`error.type`).
fn stream_error_class(kind: &str) -> &'static str {
    match kind {
        "overloaded_error" => "OverloadedError",
        "rate_limit_error" | "rate_limit_exceeded" | "insufficient_quota" => "RateLimitError",
        "api_error" | "server_error" | "internal_server_error" => "InternalServerError",
        "authentication_error" | "invalid_api_key" => "AuthenticationError",
        "invalid_request_error" => "BadRequestError",
        _ => "APIError",
    }
}

/// A server-sent events decoder: bytes in, `(event, data)` out.
#[derive(Default)]
pub(crate) struct SseDecoder {
    buf: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
}

impl SseDecoder {
    /// Feeds bytes; returns the events they complete.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<(Option<String>, String)> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(nl) = self.buf.iter().position(|b| *b == b'\n') {
            let mut line: Vec<u8> = self.buf.drain(..=nl).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            self.line(&line, &mut out);
        }
        out
    }

    /// The event left when the stream ends without a blank line.
    pub(crate) fn finish(&mut self) -> Vec<(Option<String>, String)> {
        let mut out = Vec::new();
        if !self.buf.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
            self.line(rest.trim_end_matches('\r'), &mut out);
        }
        self.line("", &mut out);
        out
    }

    fn line(&mut self, line: &str, out: &mut Vec<(Option<String>, String)>) {
        if line.is_empty() {
            if !self.data.is_empty() {
                out.push((self.event.take(), self.data.join("\n")));
                self.data.clear();
            }
            self.event = None;
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => self.data.push(value.to_string()),
            _ => {}
        }
    }
}

/// A streamed chunk as LangChain serialises an `AIMessageChunk`.
fn chunk(id: &str, content: Value, tool_call_chunks: Vec<Value>, provider: &str) -> Value {
    let (tool_calls, invalid) = parse_chunk_calls(&tool_call_chunks);
    json!({
        "content": content, "additional_kwargs": {},
        "response_metadata": {"model_provider": provider},
        "type": "AIMessageChunk", "name": null, "id": id, "tool_calls": tool_calls,
        "invalid_tool_calls": invalid, "usage_metadata": null, "tool_call_chunks": tool_call_chunks,
        "chunk_position": null,
    })
}

/// A chunk's tool calls: those whose args parse (an empty string is `{}`), the others invalid.
fn parse_chunk_calls(chunks: &[Value]) -> (Vec<Value>, Vec<Value>) {
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    for c in chunks {
        if c["name"].is_null() && c["id"].is_null() {
            // A continuation: its args are a fragment of the call begun earlier.
            bad.push(json!({"name": null, "args": c["args"], "id": null, "error": null,
                            "type": "invalid_tool_call"}));
            continue;
        }
        let raw = c["args"].as_str().unwrap_or_default();
        match parse_args(raw) {
            Some(args) => ok.push(json!({"name": c["name"], "args": args, "id": c["id"],
                                         "type": "tool_call"})),
            None => bad.push(json!({"name": c["name"], "args": raw, "id": c["id"],
                                    "error": null, "type": "invalid_tool_call"})),
        }
    }
    (ok, bad)
}

fn parse_args(raw: &str) -> Option<Value> {
    if raw.trim().is_empty() {
        return Some(json!({}));
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ Value::Object(_)) => Some(v),
        _ => None,
    }
}

/// What a stream accumulates into the final message.
#[derive(Default)]
struct Answer {
    text: String,
    /// Content blocks by index (Anthropic), or tool calls by index (OpenAI):
    /// (kind, id, name, text or JSON args).
    blocks: BTreeMap<u64, (String, Option<String>, Option<String>, String)>,
    finish_reason: Option<String>,
    stop_sequence: Value,
    response_id: Option<String>,
    model_name: Option<String>,
    system_fingerprint: Option<String>,
    usage: Option<Value>,
    done: bool,
}

impl ProviderNode {
    fn ls_metadata(&self) -> Map<String, Value> {
        let mut meta = Map::new();
        meta.insert("ls_provider".into(), json!(self.wire.name()));
        meta.insert("ls_model_name".into(), json!(self.model));
        meta.insert("ls_model_type".into(), json!("chat"));
        if let Some(t) = self.params.get("temperature") {
            meta.insert("ls_temperature".into(), t.clone());
        }
        if let Some(t) = self.params.get("max_tokens") {
            meta.insert("ls_max_tokens".into(), t.clone());
        }
        if let Some(s) = self.params.get("stop").or_else(|| self.params.get("stop_sequences")) {
            meta.insert("ls_stop".into(), s.clone());
        }
        meta
    }

    /// The key and every secret header value replaced by `***`.
    fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        let secrets = self.api_key.iter().chain(&self.secrets);
        for s in secrets {
            if s.expose().len() >= 4 {
                out = out.replace(s.expose(), "***");
            }
        }
        out
    }

    fn url(&self) -> String {
        match self.wire {
            Wire::OpenAi => format!("{}/chat/completions", self.base_url),
            Wire::Anthropic => format!("{}/v1/messages", self.base_url),
        }
    }

    fn fail(&self, class: &str, what: impl AsRef<str>) -> NodeError {
        let mut msg = format!(
            "{} ({}, model `{}`, POST {}): {}",
            self.wire.title(),
            self.wire.name(),
            self.model,
            self.url(),
            what.as_ref()
        );
        if class == "AuthenticationError" || class == "PermissionDeniedError" {
            match &self.api_key_env {
                Some(env) => {
                    msg.push_str(&format!(" (check the API key in the env variable `{env}`)"))
                }
                None => msg.push_str(" (the model has no `api_key`: set `api_key: {env: NAME}`)"),
            }
        }
        NodeError::failed(class, self.redact(&msg))
    }

    /// The request body.
    fn body(&self, system: &str, messages: &[Value]) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        match self.wire {
            Wire::OpenAi => {
                let mut msgs = Vec::new();
                if !system.is_empty() {
                    msgs.push(json!({"role": "system", "content": system}));
                }
                msgs.extend(messages.iter().filter_map(openai_message));
                body.insert("messages".into(), Value::Array(msgs));
                body.insert("stream".into(), json!(true));
                body.insert("stream_options".into(), json!({"include_usage": true}));
                if !self.tools.is_empty() {
                    let tools: Vec<Value> = self
                        .tools
                        .iter()
                        .map(|t| {
                            json!({"type": "function", "function": {"name": t.name,
                                "description": t.description, "parameters": t.parameters}})
                        })
                        .collect();
                    body.insert("tools".into(), Value::Array(tools));
                }
            }
            Wire::Anthropic => {
                let (system_more, msgs) = anthropic_messages(messages);
                let mut sys = system.to_string();
                for s in system_more {
                    if !sys.is_empty() {
                        sys.push_str("\n\n");
                    }
                    sys.push_str(&s);
                }
                if !sys.is_empty() {
                    body.insert("system".into(), json!(sys));
                }
                body.insert("messages".into(), Value::Array(msgs));
                body.insert("max_tokens".into(), json!(1024));
                body.insert("stream".into(), json!(true));
                if !self.tools.is_empty() {
                    let tools: Vec<Value> = self
                        .tools
                        .iter()
                        .map(|t| {
                            json!({"name": t.name, "description": t.description,
                                   "input_schema": t.parameters})
                        })
                        .collect();
                    body.insert("tools".into(), Value::Array(tools));
                }
            }
        }
        // `extra_body` may also take a field out (`stream_options: null` for servers that
        // refuse it).
        for (k, v) in &self.params {
            if v.is_null() {
                body.remove(k);
            } else {
                body.insert(k.clone(), v.clone());
            }
        }
        Value::Object(body)
    }

    pub(crate) async fn call(
        &self,
        state: Value,
        ctx: NodeContext,
    ) -> Result<NodeOutput, NodeError> {
        let cx = context(&state, &ctx.config().configurable, &self.defaults, &self.messages_key);
        let system = self.system_prompt.as_ref().map(|t| t.render_text(&cx)).unwrap_or_default();
        let messages =
            state.get(&self.messages_key).and_then(Value::as_array).cloned().unwrap_or_default();
        let body = self.body(&system, &messages);

        let mut req = client()?.post(self.url()).json(&body);
        req = req.header("accept", "text/event-stream");
        match self.wire {
            Wire::OpenAi => {
                if let Some(k) = &self.api_key {
                    req = req.bearer_auth(k.expose());
                }
            }
            Wire::Anthropic => {
                if let Some(k) = &self.api_key {
                    req = req.header("x-api-key", k.expose());
                }
                req = req.header("anthropic-version", &self.anthropic_version);
            }
        }
        for (name, value) in &self.headers {
            req = req.header(name.as_str(), value.expose());
        }
        let timed_out = |what: &str| {
            self.fail(
                "APITimeoutError",
                format!("request timed out: no {what} within {:?}", self.timeout),
            )
        };
        let resp = match tokio::time::timeout(self.timeout, req.send()).await {
            Err(_) => return Err(timed_out("response")),
            Ok(Err(e)) => {
                let class = if e.is_timeout() { "APITimeoutError" } else { "APIConnectionError" };
                return Err(self.fail(class, format!("connection error: {}", error_chain(&e))));
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let text = match tokio::time::timeout(self.timeout, resp.text()).await {
                Ok(Ok(t)) => t,
                _ => String::new(),
            };
            let detail = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| clip(text.trim(), 300));
            let class = status_class(status, self.wire);
            return Err(self.fail(class, format!("Error code: {status} - {detail}")));
        }

        let id = format!("lc_run--{}", uuid::Uuid::now_v7());
        let meta = self.ls_metadata();
        let mut answer = Answer::default();
        let mut sse = SseDecoder::default();
        let mut stream = resp.bytes_stream();
        loop {
            let next = match tokio::time::timeout(self.timeout, stream.next()).await {
                Err(_) => return Err(timed_out("data from the stream")),
                Ok(n) => n,
            };
            let ended = next.is_none();
            let events = match next {
                None => sse.finish(),
                Some(Err(e)) => {
                    return Err(self.fail(
                        "APIConnectionError",
                        format!("the stream broke: {}", error_chain(&e)),
                    ));
                }
                Some(Ok(bytes)) => sse.push(&bytes),
            };
            for (event, data) in events {
                match self.wire {
                    Wire::OpenAi => self.openai_event(&data, &mut answer, &id, &meta, &ctx)?,
                    Wire::Anthropic => {
                        self.anthropic_event(
                            event.as_deref(),
                            &data,
                            &mut answer,
                            &id,
                            &meta,
                            &ctx,
                        )?;
                    }
                }
                if answer.done {
                    break;
                }
            }
            if answer.done || ended {
                break;
            }
        }
        if !answer.done && answer.finish_reason.is_none() {
            return Err(
                self.fail("APIConnectionError", "the stream ended before the answer was complete")
            );
        }
        let m = self.finish(&id, answer, &meta, &ctx);
        let mut update = Map::new();
        update.insert(self.messages_key.clone(), json!([m]));
        Ok(NodeOutput::Update(Value::Object(update)))
    }

    fn malformed(&self, data: &str, why: &str) -> NodeError {
        self.fail(
            "APIResponseValidationError",
            format!("malformed stream ({why}): {}", clip(data, 200)),
        )
    }

    /// An event's data, which must be JSON.
    fn event_json(&self, data: &str) -> Result<Value, NodeError> {
        serde_json::from_str(data).map_err(|_| self.malformed(data, "expected JSON after `data:`"))
    }

    fn openai_event(
        &self,
        data: &str,
        a: &mut Answer,
        id: &str,
        meta: &Map<String, Value>,
        ctx: &NodeContext,
    ) -> Result<(), NodeError> {
        if data.trim() == "[DONE]" {
            a.done = true;
            return Ok(());
        }
        let v = self.event_json(data)?;
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            let kind = err["type"].as_str().or_else(|| err["code"].as_str()).unwrap_or("");
            let msg = err["message"].as_str().unwrap_or("the provider reported an error");
            return Err(self.fail(stream_error_class(kind), format!("error in the stream: {msg}")));
        }
        if !v.is_object() {
            return Err(self.malformed(data, "expected a chat.completion.chunk object"));
        }
        if let Some(s) = v["id"].as_str() {
            a.response_id.get_or_insert_with(|| s.to_string());
        }
        if let Some(s) = v["model"].as_str() {
            a.model_name = Some(s.to_string());
        }
        if let Some(s) = v["system_fingerprint"].as_str() {
            a.system_fingerprint = Some(s.to_string());
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            let input = u["prompt_tokens"].as_u64().unwrap_or(0);
            let output = u["completion_tokens"].as_u64().unwrap_or(0);
            let mut usage = json!({"input_tokens": input, "output_tokens": output,
                                   "total_tokens": u["total_tokens"].as_u64().unwrap_or(input + output),
                                   "input_token_details": {}, "output_token_details": {}});
            if let Some(c) = u["prompt_tokens_details"]["cached_tokens"].as_u64() {
                usage["input_token_details"]["cache_read"] = json!(c);
            }
            if let Some(r) = u["completion_tokens_details"]["reasoning_tokens"].as_u64() {
                usage["output_token_details"]["reasoning"] = json!(r);
            }
            a.usage = Some(usage);
        }
        let Some(choice) = v["choices"].as_array().and_then(|c| c.first()) else {
            return Ok(()); // the usage chunk has no choices
        };
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            a.text.push_str(text);
            ctx.emit_message_chunk(chunk(id, json!(text), Vec::new(), "openai"), meta);
        }
        if let Some(calls) = delta["tool_calls"].as_array() {
            let mut tcc = Vec::new();
            for (pos, c) in calls.iter().enumerate() {
                let index = c["index"].as_u64().unwrap_or(pos as u64);
                let entry = a
                    .blocks
                    .entry(index)
                    .or_insert_with(|| ("tool_use".into(), None, None, String::new()));
                let call_id = c["id"].as_str().map(str::to_string);
                let name = c["function"]["name"].as_str().map(str::to_string);
                let args = c["function"]["arguments"].as_str().unwrap_or_default();
                if call_id.is_some() {
                    entry.1.clone_from(&call_id);
                }
                if let Some(n) = &name {
                    entry.2.get_or_insert_with(String::new).push_str(n);
                }
                entry.3.push_str(args);
                tcc.push(json!({"name": name, "args": args, "id": call_id, "index": index,
                                "type": "tool_call_chunk"}));
            }
            if !tcc.is_empty() {
                ctx.emit_message_chunk(chunk(id, json!(""), tcc, "openai"), meta);
            }
        }
        if let Some(f) = choice["finish_reason"].as_str() {
            a.finish_reason = Some(f.to_string());
        }
        Ok(())
    }

    fn anthropic_event(
        &self,
        event: Option<&str>,
        data: &str,
        a: &mut Answer,
        id: &str,
        meta: &Map<String, Value>,
        ctx: &NodeContext,
    ) -> Result<(), NodeError> {
        let v = self.event_json(data)?;
        let kind = v["type"].as_str().or(event).unwrap_or_default().to_string();
        // Without tools, LangChain streams text as plain strings; with tools, as blocks.
        let blocks_mode = !self.tools.is_empty();
        match kind.as_str() {
            "message_start" => {
                let m = &v["message"];
                a.response_id = m["id"].as_str().map(str::to_string);
                a.model_name = m["model"].as_str().map(str::to_string);
                let u = &m["usage"];
                a.usage = Some(json!({
                    "input_tokens": u["input_tokens"].as_u64().unwrap_or(0),
                    "output_tokens": u["output_tokens"].as_u64().unwrap_or(0),
                    "cache_read": u["cache_read_input_tokens"].as_u64().unwrap_or(0),
                    "cache_creation": u["cache_creation_input_tokens"].as_u64().unwrap_or(0),
                }));
            }
            "content_block_start" => {
                let index = v["index"].as_u64().ok_or_else(|| self.malformed(data, "no index"))?;
                let b = &v["content_block"];
                match b["type"].as_str() {
                    Some("text") => {
                        let t = b["text"].as_str().unwrap_or_default().to_string();
                        a.text.push_str(&t);
                        a.blocks.insert(index, ("text".into(), None, None, t));
                    }
                    Some("tool_use") => {
                        let call_id = b["id"].as_str().map(str::to_string);
                        let name = b["name"].as_str().map(str::to_string);
                        a.blocks.insert(
                            index,
                            ("tool_use".into(), call_id.clone(), name.clone(), String::new()),
                        );
                        let content = json!([{"id": call_id, "input": {}, "name": name,
                                              "type": "tool_use", "index": index}]);
                        let tcc = vec![json!({"name": name, "args": "", "id": call_id,
                                              "index": index, "type": "tool_call_chunk"})];
                        ctx.emit_message_chunk(chunk(id, content, tcc, "anthropic"), meta);
                    }
                    // Thinking and other blocks are not part of the answer's text.
                    _ => {}
                }
            }
            "content_block_delta" => {
                let index = v["index"].as_u64().ok_or_else(|| self.malformed(data, "no index"))?;
                let d = &v["delta"];
                match d["type"].as_str() {
                    Some("text_delta") => {
                        let t = d["text"].as_str().unwrap_or_default();
                        a.text.push_str(t);
                        a.blocks
                            .entry(index)
                            .or_insert_with(|| ("text".into(), None, None, String::new()))
                            .3
                            .push_str(t);
                        let content = if blocks_mode {
                            json!([{"text": t, "type": "text", "index": index}])
                        } else {
                            json!(t)
                        };
                        ctx.emit_message_chunk(chunk(id, content, Vec::new(), "anthropic"), meta);
                    }
                    Some("input_json_delta") => {
                        let part = d["partial_json"].as_str().unwrap_or_default();
                        let Some(block) = a.blocks.get_mut(&index) else {
                            return Err(
                                self.malformed(data, "input_json_delta for an unknown block")
                            );
                        };
                        block.3.push_str(part);
                        let content = json!([{"partial_json": part, "type": "input_json_delta",
                                              "index": index}]);
                        let tcc = vec![json!({"name": null, "args": part, "id": null,
                                              "index": index, "type": "tool_call_chunk"})];
                        ctx.emit_message_chunk(chunk(id, content, tcc, "anthropic"), meta);
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(r) = v["delta"]["stop_reason"].as_str() {
                    a.finish_reason = Some(r.to_string());
                }
                a.stop_sequence = v["delta"]["stop_sequence"].clone();
                if let (Some(u), Some(out)) =
                    (a.usage.as_mut(), v["usage"]["output_tokens"].as_u64())
                {
                    u["output_tokens"] = json!(out);
                }
            }
            "message_stop" => a.done = true,
            "error" => {
                let t = v["error"]["type"].as_str().unwrap_or_default();
                let msg =
                    v["error"]["message"].as_str().unwrap_or("the provider reported an error");
                return Err(
                    self.fail(stream_error_class(t), format!("error in the stream: {t}: {msg}"))
                );
            }
            // ping, content_block_stop and events added later carry nothing we need.
            _ => {}
        }
        Ok(())
    }

    /// Emits the closing chunk and builds the final `AIMessage`.
    fn finish(&self, id: &str, a: Answer, meta: &Map<String, Value>, ctx: &NodeContext) -> Value {
        let model_name = a.model_name.clone().unwrap_or_else(|| self.model.clone());
        let (mut calls, mut invalid) = (Vec::new(), Vec::new());
        let mut has_tool_blocks = false;
        let mut blocks = Vec::new();
        for (kind, call_id, name, text) in a.blocks.values() {
            if kind == "text" {
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                continue;
            }
            has_tool_blocks = true;
            let call_id = call_id.clone().unwrap_or_else(|| {
                format!("call_{}", &uuid::Uuid::new_v4().simple().to_string()[..24])
            });
            match parse_args(text) {
                Some(args) => {
                    blocks.push(
                        json!({"type": "tool_use", "id": call_id, "name": name, "input": args}),
                    );
                    calls.push(
                        json!({"name": name, "args": args, "id": call_id, "type": "tool_call"}),
                    );
                }
                None => invalid.push(json!({"name": name, "args": text, "id": call_id,
                    "error": "the arguments are not a JSON object", "type": "invalid_tool_call"})),
            }
        }
        let (response_metadata, usage) = match self.wire {
            Wire::OpenAi => {
                let mut rm = json!({"finish_reason": a.finish_reason, "model_name": model_name});
                if let Some(f) = &a.system_fingerprint {
                    rm["system_fingerprint"] = json!(f);
                }
                if let Some(i) = &a.response_id {
                    rm["id"] = json!(i);
                }
                rm["model_provider"] = json!("openai");
                (rm, a.usage.clone())
            }
            Wire::Anthropic => {
                let rm = json!({"id": a.response_id, "model": model_name, "stop_reason": a.finish_reason,
                    "stop_sequence": a.stop_sequence, "model_name": model_name,
                    "model_provider": "anthropic"});
                let usage = a.usage.as_ref().map(|u| {
                    let cache_read = u["cache_read"].as_u64().unwrap_or(0);
                    let cache_creation = u["cache_creation"].as_u64().unwrap_or(0);
                    let input =
                        u["input_tokens"].as_u64().unwrap_or(0) + cache_read + cache_creation;
                    let output = u["output_tokens"].as_u64().unwrap_or(0);
                    json!({"input_tokens": input, "output_tokens": output,
                           "total_tokens": input + output,
                           "input_token_details": {"cache_read": cache_read,
                                                   "cache_creation": cache_creation}})
                });
                (rm, usage)
            }
        };
        let mut last = chunk(id, json!(""), Vec::new(), self.wire.name());
        last["response_metadata"] = response_metadata.clone();
        last["usage_metadata"] = usage.clone().unwrap_or(Value::Null);
        last["chunk_position"] = json!("last");
        ctx.emit_message_chunk(last, meta);

        let content = if self.wire == Wire::Anthropic && has_tool_blocks {
            Value::Array(blocks)
        } else {
            Value::String(a.text)
        };
        let mut m = message("ai", content, Some(id));
        if let Some(o) = m.as_object_mut() {
            o.insert("response_metadata".into(), response_metadata);
            o.insert("tool_calls".into(), Value::Array(calls));
            o.insert("invalid_tool_calls".into(), Value::Array(invalid));
            o.insert("usage_metadata".into(), usage.unwrap_or(Value::Null));
        }
        m
    }
}

/// Every cause of an error, joined (reqwest's top-level message alone says little).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}

fn tool_calls_of(m: &Value) -> Vec<Value> {
    m.get("tool_calls").and_then(Value::as_array).cloned().unwrap_or_default()
}

fn args_text(args: &Value) -> String {
    match args {
        Value::String(s) => s.clone(),
        Value::Null => "{}".into(),
        other => other.to_string(),
    }
}

/// A LangChain message as an OpenAI chat message (`None` for kinds OpenAI has no role for).
fn openai_message(m: &Value) -> Option<Value> {
    let text = content_text(m);
    Some(match kind_of(m) {
        "system" | "developer" => json!({"role": "system", "content": text}),
        "human" => json!({"role": "user", "content": text}),
        "ai" => {
            let calls: Vec<Value> = tool_calls_of(m)
                .iter()
                .map(|c| {
                    json!({"id": c["id"], "type": "function", "function": {
                        "name": c["name"], "arguments": args_text(&c["args"])}})
                })
                .collect();
            let mut out = json!({"role": "assistant",
                                 "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) }});
            if !calls.is_empty() {
                out["tool_calls"] = Value::Array(calls);
            }
            out
        }
        "tool" => json!({"role": "tool", "tool_call_id": m["tool_call_id"], "content": text}),
        _ => return None,
    })
}

/// LangChain messages as Anthropic's: system messages apart, tool results as `tool_result`
/// blocks of a user turn, consecutive turns of one role merged.
fn anthropic_messages(messages: &[Value]) -> (Vec<String>, Vec<Value>) {
    let mut system = Vec::new();
    let mut out: Vec<(String, Vec<Value>)> = Vec::new();
    for m in messages {
        let text = content_text(m);
        let (role, blocks) = match kind_of(m) {
            "system" | "developer" => {
                system.push(text);
                continue;
            }
            "human" => ("user", vec![json!({"type": "text", "text": text})]),
            "ai" => {
                let mut b = Vec::new();
                if !text.is_empty() {
                    b.push(json!({"type": "text", "text": text}));
                }
                for c in tool_calls_of(m) {
                    let input = match &c["args"] {
                        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| json!({})),
                        Value::Object(o) => Value::Object(o.clone()),
                        _ => json!({}),
                    };
                    b.push(json!({"type": "tool_use", "id": c["id"], "name": c["name"], "input": input}));
                }
                ("assistant", b)
            }
            "tool" => {
                let mut r = json!({"type": "tool_result", "tool_use_id": m["tool_call_id"],
                                   "content": text});
                if m["status"] == "error" {
                    r["is_error"] = json!(true);
                }
                ("user", vec![r])
            }
            _ => continue,
        };
        if blocks.is_empty() {
            continue;
        }
        let same_role = out.last().is_some_and(|(r, _)| r.as_str() == role);
        match out.last_mut() {
            Some((_, b)) if same_role => b.extend(blocks),
            _ => out.push((role.to_string(), blocks)),
        }
    }
    let msgs =
        out.into_iter().map(|(role, content)| json!({"role": role, "content": content})).collect();
    (system, msgs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sse_decoder_handles_split_lines_and_crlf() {
        let mut d = SseDecoder::default();
        assert!(d.push(b"event: message_start\r\ndata: {\"a\"").is_empty());
        let got = d.push(b":1}\r\n\r\n: comment\n\ndata: [DONE]\n\n");
        assert_eq!(
            got,
            vec![(Some("message_start".into()), "{\"a\":1}".into()), (None, "[DONE]".into())]
        );
        assert!(d.push(b"data: x").is_empty());
        assert_eq!(d.finish(), vec![(None, "x".into())]);
    }

    fn test_node() -> ProviderNode {
        ProviderNode {
            wire: Wire::OpenAi,
            model: "m".into(),
            base_url: "http://127.0.0.1:9".into(),
            api_key: None,
            api_key_env: None,
            headers: Vec::new(),
            secrets: Vec::new(),
            params: Map::new(),
            timeout: Duration::from_secs(1),
            anthropic_version: String::new(),
            tools: Vec::new(),
            system_prompt: None,
            messages_key: "messages".into(),
            defaults: Arc::new(Map::new()),
        }
    }

    #[test]
    fn message_conversion() {
        let msgs = vec![
            json!({"type": "system", "content": "Be nice"}),
            json!({"type": "human", "content": "hi"}),
            json!({"type": "ai", "content": "", "tool_calls": [{"id": "c1", "name": "echo", "args": {"a": 1}}]}),
            json!({"type": "tool", "content": "{\"a\":1}", "tool_call_id": "c1", "status": "error"}),
            json!({"role": "user", "content": "again"}),
        ];
        let o: Vec<Value> = msgs.iter().filter_map(openai_message).collect();
        let mut node = test_node();
        node.params.insert("stream_options".into(), Value::Null);
        node.params.insert("seed".into(), json!(7));
        let body = node.body("sys", &msgs);
        assert!(body.get("stream_options").is_none() && body["seed"] == 7, "{body}");
        assert_eq!(body["messages"][0], json!({"role": "system", "content": "sys"}));
        assert_eq!(o[2]["tool_calls"][0]["function"]["arguments"], "{\"a\":1}");
        assert_eq!(o[2]["content"], Value::Null);
        assert_eq!(o[3], json!({"role": "tool", "tool_call_id": "c1", "content": "{\"a\":1}"}));
        let (sys, a) = anthropic_messages(&msgs);
        assert_eq!(sys, ["Be nice"]);
        assert_eq!(a.len(), 3, "{a:?}");
        assert_eq!(a[1]["content"][0]["type"], "tool_use");
        assert_eq!(a[2]["role"], "user");
        assert_eq!(a[2]["content"][0]["is_error"], true);
        assert_eq!(a[2]["content"][1]["text"], "again");
    }

    #[test]
    fn classes_of_statuses() {
        assert_eq!(status_class(401, Wire::OpenAi), "AuthenticationError");
        assert_eq!(status_class(429, Wire::Anthropic), "RateLimitError");
        assert_eq!(status_class(503, Wire::OpenAi), "InternalServerError");
        assert_eq!(status_class(529, Wire::Anthropic), "OverloadedError");
        assert!(RETRYABLE.contains(&status_class(429, Wire::OpenAi)));
        assert!(!RETRYABLE.contains(&status_class(400, Wire::OpenAi)));
        for s in [400, 401, 403, 404, 409, 413, 418, 422, 429, 500, 529] {
            assert!(ERROR_CLASSES.contains(&status_class(s, Wire::Anthropic)), "{s}");
        }
        for k in ["overloaded_error", "api_error", "invalid_api_key", "whatever"] {
            assert!(ERROR_CLASSES.contains(&stream_error_class(k)), "{k}");
        }
        assert!(RETRYABLE.iter().all(|r| ERROR_CLASSES.contains(r)));
    }
}
