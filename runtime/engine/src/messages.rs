//! Chat messages as LangChain serialises them, and the `add_messages` reducer.

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// The id of a `RemoveMessage` that clears the whole list.
pub const REMOVE_ALL: &str = "__remove_all__";

fn base(kind: &str, content: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("content".into(), content);
    m.insert("additional_kwargs".into(), json!({}));
    m.insert("response_metadata".into(), json!({}));
    m.insert("type".into(), Value::String(kind.into()));
    m.insert("name".into(), Value::Null);
    m.insert("id".into(), Value::Null);
    m
}

/// A complete message of `kind` (`human`, `ai`, `system`, `tool`, `remove`) in LangChain's
/// `model_dump()` shape, with every field present.
pub fn message(kind: &str, content: impl Into<Value>, id: Option<&str>) -> Value {
    let mut m = base(kind, content.into());
    if let Some(id) = id {
        m.insert("id".into(), Value::String(id.into()));
    }
    complete(kind, &mut m);
    Value::Object(m)
}

fn complete(kind: &str, m: &mut Map<String, Value>) {
    for (k, v) in [("additional_kwargs", json!({})), ("response_metadata", json!({}))] {
        m.entry(k).or_insert(v);
    }
    m.entry("name").or_insert(Value::Null);
    m.entry("id").or_insert(Value::Null);
    match kind {
        "ai" | "AIMessageChunk" => {
            m.entry("tool_calls").or_insert(json!([]));
            m.entry("invalid_tool_calls").or_insert(json!([]));
            m.entry("usage_metadata").or_insert(Value::Null);
        }
        "tool" => {
            m.entry("tool_call_id").or_insert(Value::Null);
            m.entry("artifact").or_insert(Value::Null);
            m.entry("status").or_insert(json!("success"));
        }
        _ => {}
    }
}

/// LangChain's field order (`content, additional_kwargs, response_metadata, type, name, id`,
/// then the kind's own fields), so serialised messages read like the real server's.
fn canonical_order(mut m: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for k in ["content", "additional_kwargs", "response_metadata", "type", "name", "id"] {
        if let Some(v) = m.remove(k) {
            out.insert(k.to_string(), v);
        }
    }
    out.extend(m);
    out
}

fn kind_of_role(role: &str) -> Option<&'static str> {
    Some(match role {
        "human" | "user" => "human",
        "ai" | "assistant" => "ai",
        "system" | "developer" => "system",
        "tool" => "tool",
        "remove" => "remove",
        "function" => "function",
        _ => return None,
    })
}

/// Coerces a message-like value (message dict, `{role, content}`, `[role, content]`, or a plain
/// string) into a message dict.
pub fn coerce(v: Value) -> Result<Value> {
    match v {
        Value::String(s) => Ok(message("human", s, None)),
        Value::Array(pair) if pair.len() == 2 && pair[0].is_string() => {
            let role = pair[0].as_str().unwrap_or_default();
            let kind = kind_of_role(role).ok_or_else(|| {
                Error::invalid_update(format!("Unexpected message type: {role}. Use one of 'human', 'user', 'ai', 'assistant', 'function', 'tool', 'system', or 'developer'."))
            })?;
            Ok(message(kind, pair[1].clone(), None))
        }
        Value::Object(mut m) => {
            let kind = if let Some(t) = m.get("type").and_then(Value::as_str) {
                match t {
                    "AIMessageChunk" => "ai",
                    "HumanMessageChunk" => "human",
                    t => kind_of_role(t).unwrap_or("human"),
                }
                .to_string()
            } else if let Some(r) = m.remove("role") {
                let r = r.as_str().unwrap_or_default().to_string();
                kind_of_role(&r)
                    .ok_or_else(|| Error::invalid_update(format!("Unexpected message type: {r}.")))?
                    .to_string()
            } else {
                return Err(Error::invalid_update(format!(
                    "Message dict must contain 'role' and 'content' keys, got {}",
                    Value::Object(m)
                )));
            };
            m.insert("type".into(), Value::String(kind.clone()));
            m.entry("content").or_insert(json!(""));
            complete(&kind, &mut m);
            Ok(Value::Object(canonical_order(m)))
        }
        other => Err(Error::invalid_update(format!(
            "Unsupported message type: {}",
            crate::channel::py_type(&other)
        ))),
    }
}

fn as_list(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) if !(a.len() == 2 && a[0].is_string() && a[1].is_string()) => a,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn id_of(m: &Value) -> Option<&str> {
    m.get("id").and_then(Value::as_str)
}

fn ensure_id(m: &mut Value) {
    if id_of(m).is_none()
        && let Some(obj) = m.as_object_mut()
    {
        obj.insert("id".into(), Value::String(uuid::Uuid::new_v4().to_string()));
    }
}

/// LangGraph's `add_messages`: messages with a known id replace the old one in place,
/// `RemoveMessage`s delete by id (`__remove_all__` clears everything before it), others append.
pub fn add_messages(left: Value, right: Value) -> Result<Value> {
    let mut left: Vec<Value> = as_list(left).into_iter().map(coerce).collect::<Result<_>>()?;
    let mut right: Vec<Value> = as_list(right).into_iter().map(coerce).collect::<Result<_>>()?;
    left.iter_mut().for_each(ensure_id);
    right.iter_mut().for_each(ensure_id);

    let is_remove = |m: &Value| m.get("type").and_then(Value::as_str) == Some("remove");
    if let Some(pos) = right.iter().rposition(|m| is_remove(m) && id_of(m) == Some(REMOVE_ALL)) {
        return Ok(Value::Array(right.split_off(pos + 1)));
    }

    let mut index: std::collections::HashMap<String, usize> = left
        .iter()
        .enumerate()
        .filter_map(|(i, m)| id_of(m).map(|id| (id.to_string(), i)))
        .collect();
    let mut removed = std::collections::HashSet::new();
    for m in right {
        let id = id_of(&m).unwrap_or_default().to_string();
        if let Some(&i) = index.get(&id) {
            if is_remove(&m) {
                removed.insert(i);
            } else {
                removed.remove(&i);
                left[i] = m;
            }
        } else if is_remove(&m) {
            return Err(Error::invalid_update(format!(
                "Attempting to delete a message with an ID that doesn't exist ('{id}')"
            )));
        } else {
            index.insert(id, left.len());
            left.push(m);
        }
    }
    Ok(Value::Array(
        left.into_iter()
            .enumerate()
            .filter(|(i, _)| !removed.contains(i))
            .map(|(_, m)| m)
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_replaces_and_removes_by_id() {
        let left = json!([message("human", "hi", Some("1")), message("ai", "yo", Some("2"))]);
        let out = add_messages(left, json!([message("ai", "hello", Some("2")), ["user", "more"]]))
            .unwrap();
        let out = out.as_array().unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[1]["content"], "hello");
        assert_eq!(out[2]["type"], "human");
        assert!(out[2]["id"].is_string());
        let removed =
            add_messages(Value::Array(out.clone()), json!({"type": "remove", "id": "1"})).unwrap();
        assert_eq!(removed.as_array().unwrap().len(), 2);
        let err = add_messages(removed, json!({"type": "remove", "id": "nope"})).unwrap_err();
        assert!(err.to_string().contains("doesn't exist"));
    }

    #[test]
    fn remove_all_keeps_only_what_follows() {
        let left = json!([message("human", "a", Some("1"))]);
        let out = add_messages(
            left,
            json!([{"type": "remove", "id": REMOVE_ALL}, message("human", "b", Some("9"))]),
        )
        .unwrap();
        assert_eq!(out.as_array().unwrap().len(), 1);
        assert_eq!(out[0]["id"], "9");
    }

    #[test]
    fn role_dicts_and_strings_are_coerced() {
        let out = add_messages(json!([]), json!({"role": "assistant", "content": "x"})).unwrap();
        assert_eq!(out[0]["type"], "ai");
        assert_eq!(out[0]["tool_calls"], json!([]));
        let out = add_messages(out, json!("plain")).unwrap();
        assert_eq!(out[1]["type"], "human");
    }
}
