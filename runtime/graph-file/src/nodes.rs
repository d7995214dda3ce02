//! What the built-in node kinds do when they run: the template context, the scripted chat
//! model (streaming its answer token by token), tools (built-in, `http`, `command`), interrupts
//! and `set`.

use std::sync::Arc;
use std::time::Duration;

use orrery_engine::messages::message;
use orrery_engine::{NodeContext, NodeError, NodeOutput};
use serde_json::{Map, Value, json};

use crate::spec::{MessageKind, RuleMatch};
use crate::template::{Template, ValueTemplate, text_of};
use crate::tool_kinds::Tool;

/// The text of a message's content (a string, or the `text` parts of a list).
pub(crate) fn content_text(m: &Value) -> String {
    match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.as_str().or_else(|| p.get("text").and_then(Value::as_str)))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

pub(crate) fn kind_of(m: &Value) -> &str {
    match m.get("type").and_then(Value::as_str) {
        Some("AIMessageChunk") => "ai",
        Some(t) => t,
        None => match m.get("role").and_then(Value::as_str) {
            Some("user") => "human",
            Some("assistant") => "ai",
            Some(r) => r,
            None => "",
        },
    }
}

/// What templates and conditions read, for `state` and a run's `configurable` (over the
/// graph's defaults).
pub(crate) fn context(
    state: &Value,
    configurable: &Map<String, Value>,
    defaults: &Map<String, Value>,
    messages_key: &str,
) -> Value {
    let mut conf = defaults.clone();
    for (k, v) in configurable {
        conf.insert(k.clone(), v.clone());
    }
    let messages = state.get(messages_key).and_then(Value::as_array);
    let last = messages.and_then(|m| m.last()).cloned().unwrap_or(Value::Null);
    let last_user = messages
        .and_then(|m| m.iter().rev().find(|x| kind_of(x) == "human"))
        .map(|m| Value::String(content_text(m)))
        .unwrap_or(Value::Null);
    let last_tool_call = if kind_of(&last) == "ai" {
        last.get("tool_calls").and_then(|t| t.get(0)).cloned().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let last_tool_result = if kind_of(&last) == "tool" {
        let text = content_text(&last);
        serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text))
    } else {
        Value::Null
    };
    json!({
        "state": state,
        "configurable": conf,
        "last_message": last,
        "last_user_message": last_user,
        "last_tool_call": last_tool_call,
        "last_tool_result": last_tool_result,
        "system_prompt": Value::Null,
        "now": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// A scripted rule, ready to run.
pub(crate) struct Rule {
    pub(crate) when: RuleMatch,
    pub(crate) reply: Option<Template>,
    pub(crate) tool_calls: Vec<(String, ValueTemplate)>,
}

fn any_in(hay: &str, words: &Option<crate::spec::Words>) -> Option<bool> {
    words.as_ref().map(|w| w.lowered().iter().any(|x| hay.contains(x.as_str())))
}

impl Rule {
    fn matches(&self, last: &Value, system: &str) -> bool {
        let w = &self.when;
        let kind = kind_of(last);
        let text = content_text(last).to_lowercase();
        if let Some(k) = w.last {
            let want = match k {
                MessageKind::Human => "human",
                MessageKind::Ai => "ai",
                MessageKind::Tool => "tool",
                MessageKind::System => "system",
            };
            if kind != want {
                return false;
            }
        }
        if let Some(tool) = &w.tool
            && (kind != "tool" || last.get("name").and_then(Value::as_str) != Some(tool.as_str()))
        {
            return false;
        }
        if any_in(&text, &w.contains) == Some(false) || any_in(&text, &w.not_contains) == Some(true)
        {
            return false;
        }
        any_in(&system.to_lowercase(), &w.system_contains) != Some(false)
    }
}

/// A `chat_model` node with the scripted provider.
pub(crate) struct ScriptedNode {
    pub(crate) model_name: String,
    pub(crate) rules: Vec<Rule>,
    pub(crate) fallback: Option<Template>,
    pub(crate) token_delay: Duration,
    pub(crate) system_prompt: Option<Template>,
    pub(crate) messages_key: String,
    pub(crate) defaults: Arc<Map<String, Value>>,
}

/// Splits text into streamed tokens: each word with the whitespace before it.
fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    for c in text.chars() {
        if c.is_whitespace() && in_word {
            out.push(std::mem::take(&mut cur));
            in_word = false;
        } else if !c.is_whitespace() {
            in_word = true;
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn chunk(id: &str, content: &str, tool_calls: Value, tool_call_chunks: Value, last: bool) -> Value {
    json!({
        "content": content, "additional_kwargs": {}, "response_metadata": {},
        "type": "AIMessageChunk", "name": null, "id": id, "tool_calls": tool_calls,
        "invalid_tool_calls": [], "usage_metadata": null, "tool_call_chunks": tool_call_chunks,
        "chunk_position": if last { json!("last") } else { Value::Null },
    })
}

impl ScriptedNode {
    pub(crate) async fn call(
        &self,
        state: Value,
        ctx: NodeContext,
    ) -> Result<NodeOutput, NodeError> {
        let mut cx =
            context(&state, &ctx.config().configurable, &self.defaults, &self.messages_key);
        let system = self.system_prompt.as_ref().map(|t| t.render_text(&cx)).unwrap_or_default();
        cx["system_prompt"] = Value::String(system.clone());
        let last = cx["last_message"].clone();
        let (text, calls) = match self.rules.iter().find(|r| r.matches(&last, &system)) {
            Some(rule) => {
                let text = rule.reply.as_ref().map(|t| t.render_text(&cx)).unwrap_or_default();
                let calls: Vec<Value> = rule
                    .tool_calls
                    .iter()
                    .map(|(name, args)| {
                        let id = format!("call_{}", &uuid::Uuid::new_v4().simple().to_string()[..24]);
                        json!({"name": name, "args": args.render(&cx), "id": id, "type": "tool_call"})
                    })
                    .collect();
                (text, calls)
            }
            None => (
                self.fallback
                    .as_ref()
                    .map(|t| t.render_text(&cx))
                    .unwrap_or_else(|| "I have no scripted answer for that.".into()),
                Vec::new(),
            ),
        };
        let id = format!("lc_run--{}", uuid::Uuid::now_v7());
        let mut meta = Map::new();
        meta.insert("ls_provider".into(), json!("scripted"));
        meta.insert("ls_model_name".into(), json!(self.model_name));
        meta.insert("ls_model_type".into(), json!("chat"));
        for t in tokens(&text) {
            if !self.token_delay.is_zero() {
                tokio::time::sleep(self.token_delay).await;
            }
            ctx.emit_message_chunk(chunk(&id, &t, json!([]), json!([]), false), &meta);
        }
        for (i, c) in calls.iter().enumerate() {
            let tcc = json!([{"name": c["name"], "args": c["args"].to_string(), "id": c["id"],
                              "index": i, "type": "tool_call_chunk"}]);
            ctx.emit_message_chunk(chunk(&id, "", json!([c]), tcc, false), &meta);
        }
        ctx.emit_message_chunk(chunk(&id, "", json!([]), json!([]), true), &meta);
        let mut m = message("ai", text, Some(&id));
        if let Some(o) = m.as_object_mut() {
            let finish = if calls.is_empty() { "stop" } else { "tool_calls" };
            o.insert(
                "response_metadata".into(),
                json!({"finish_reason": finish, "model_name": self.model_name, "model_provider": "scripted"}),
            );
            o.insert("tool_calls".into(), Value::Array(calls));
        }
        let mut update = Map::new();
        update.insert(self.messages_key.clone(), json!([m]));
        Ok(NodeOutput::Update(Value::Object(update)))
    }
}

/// A `tools` node: runs the tool calls of the last AI message, concurrently; each answer is a
/// `ToolMessage` (an error one when the tool fails, as LangGraph's `ToolNode` reports it).
pub(crate) struct ToolsRun {
    pub(crate) tools: Vec<Tool>,
    pub(crate) messages_key: String,
    pub(crate) defaults: Arc<Map<String, Value>>,
}

impl ToolsRun {
    pub(crate) async fn call(
        &self,
        state: &Value,
        ctx: &NodeContext,
    ) -> Result<NodeOutput, NodeError> {
        let last = state
            .get(&self.messages_key)
            .and_then(Value::as_array)
            .and_then(|m| m.last())
            .cloned()
            .unwrap_or(Value::Null);
        let calls = match last.get("tool_calls").and_then(Value::as_array) {
            Some(c) if kind_of(&last) == "ai" && !c.is_empty() => c.clone(),
            _ => {
                return Err(NodeError::failed(
                    "ValueError",
                    "No AIMessage with tool calls found in the last message: a tools node runs the tool calls of the last AI message",
                ));
            }
        };
        let cx = context(state, &ctx.config().configurable, &self.defaults, &self.messages_key);
        let runs = calls.iter().map(|c| {
            let cx = &cx;
            async move {
                let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
                let call_id = c.get("id").and_then(Value::as_str).unwrap_or_default();
                let args = c.get("args").cloned().unwrap_or_else(|| json!({}));
                let (content, status) = match self.tools.iter().find(|t| t.name() == name) {
                    Some(t) => {
                        let mut tcx = cx.clone();
                        tcx["args"] = args.clone();
                        match t.run(&args, call_id, &tcx).await {
                            Ok(v) => (text_of(&v), "success"),
                            Err(e) => (format!("Error: {e}\n Please fix your mistakes."), "error"),
                        }
                    }
                    None => {
                        let names: Vec<&str> = self.tools.iter().map(Tool::name).collect();
                        (
                            format!(
                                "Error: {name} is not a valid tool, try one of [{}].",
                                names.join(", ")
                            ),
                            "error",
                        )
                    }
                };
                let mut m = message("tool", content, Some(&uuid::Uuid::new_v4().to_string()));
                if let Some(o) = m.as_object_mut() {
                    o.insert("name".into(), json!(name));
                    o.insert("tool_call_id".into(), json!(call_id));
                    o.insert("status".into(), json!(status));
                }
                m
            }
        });
        let out = futures::future::join_all(runs).await;
        let mut update = Map::new();
        update.insert(self.messages_key.clone(), Value::Array(out));
        Ok(NodeOutput::Update(Value::Object(update)))
    }
}

/// An `interrupt` node.
pub(crate) struct InterruptRun {
    pub(crate) payload: ValueTemplate,
    /// The state key, then the keys below it.
    pub(crate) resume_into: Option<(String, Vec<String>)>,
    /// Replace instead of merge.
    pub(crate) replace: bool,
    pub(crate) messages_key: String,
    pub(crate) defaults: Arc<Map<String, Value>>,
}

/// `answer` merged into `current` at `path` (objects merge, other values replace).
pub(crate) fn merge_at(current: Value, path: &[String], answer: Value, replace: bool) -> Value {
    match path.split_first() {
        None => match (current, answer) {
            (Value::Object(mut cur), Value::Object(new)) if !replace => {
                cur.extend(new);
                Value::Object(cur)
            }
            (_, answer) => answer,
        },
        Some((k, rest)) => {
            let mut obj = match current {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            let below = obj.remove(k).unwrap_or(Value::Null);
            obj.insert(k.clone(), merge_at(below, rest, answer, replace));
            Value::Object(obj)
        }
    }
}

impl InterruptRun {
    pub(crate) fn call(&self, state: &Value, ctx: &NodeContext) -> Result<NodeOutput, NodeError> {
        let cx = context(state, &ctx.config().configurable, &self.defaults, &self.messages_key);
        let answer = ctx.interrupt(self.payload.render(&cx))?;
        let Some((key, below)) = &self.resume_into else { return Ok(NodeOutput::none()) };
        let current = state.get(key).cloned().unwrap_or(Value::Null);
        let mut update = Map::new();
        update.insert(key.clone(), merge_at(current, below, answer, self.replace));
        Ok(NodeOutput::Update(Value::Object(update)))
    }
}

/// A `set` node.
pub(crate) struct SetRun {
    pub(crate) update: Vec<(String, ValueTemplate)>,
    pub(crate) messages_key: String,
    pub(crate) defaults: Arc<Map<String, Value>>,
}

impl SetRun {
    pub(crate) fn call(&self, state: &Value, ctx: &NodeContext) -> NodeOutput {
        let cx = context(state, &ctx.config().configurable, &self.defaults, &self.messages_key);
        let update: Map<String, Value> =
            self.update.iter().map(|(k, t)| (k.clone(), t.render(&cx))).collect();
        NodeOutput::Update(Value::Object(update))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_their_leading_space() {
        assert_eq!(tokens("Hello big  world"), vec!["Hello", " big", "  world"]);
        assert_eq!(tokens(""), Vec::<String>::new());
    }

    #[test]
    fn merge_at_paths() {
        let v = merge_at(json!({"a": 1}), &[], json!({"b": 2}), false);
        assert_eq!(v, json!({"a": 1, "b": 2}));
        assert_eq!(merge_at(json!({"a": 1}), &[], json!({"b": 2}), true), json!({"b": 2}));
        let v = merge_at(json!({"x": {"z": 0}}), &["x".into(), "y".into()], json!(true), true);
        assert_eq!(v, json!({"x": {"z": 0, "y": true}}));
        assert_eq!(merge_at(json!({"a": 1}), &[], json!("yes"), false), json!("yes"));
    }
}
