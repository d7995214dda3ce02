//! The client's error type.

use serde_json::Value;

/// What can go wrong talking to a LangGraph server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error status. `detail` is the server's `detail` (or `error`)
    /// rendered as text; `body` is the response body as received (at most 64 KiB).
    #[error("HTTP {status}: {detail}")]
    Api {
        /// The HTTP status code.
        status: u16,
        /// The server's explanation, readable.
        detail: String,
        /// The raw body.
        body: String,
    },
    /// The request could not be sent or the response could not be read (connection refused,
    /// reset, timed out, TLS...).
    #[error("{method} {url}: {source}")]
    Transport {
        /// The request method.
        method: String,
        /// The URL asked for.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// A response (or a stream event) was not the JSON expected.
    #[error("cannot decode {what}: {source}")]
    Decode {
        /// What was being decoded.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A `/wait` or `/join` call ended with the run failing: the server answers 200 with
    /// `{"__error__": {"error": <exception class>, "message": ...}}`.
    #[error("run failed: {error}: {message}")]
    RunFailed {
        /// The exception class, e.g. `ValueError`.
        error: String,
        /// Its message.
        message: String,
    },
    /// The base URL (or a URL built from it) is not usable.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The server answered something this client cannot use (e.g. a stream endpoint that did
    /// not answer with `text/event-stream`, or reconnection attempts exhausted).
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The HTTP status of an [`Error::Api`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the server said 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether the server said 409 (e.g. `multitask_strategy: reject` on a busy thread).
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// Whether retrying the same request may succeed: transport failures and 502/503/504.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Api { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }

    /// Builds an [`Error::Api`] from a status and a response body: the `detail` of a JSON body
    /// (a string, or a list/object rendered readably), its `error` key (the store's 400), or
    /// the text itself.
    pub fn from_response(status: u16, body: &str) -> Error {
        const MAX_BODY: usize = 64 * 1024;
        let detail = detail_of(body).unwrap_or_else(|| {
            let text = body.trim();
            if text.is_empty() { canonical_reason(status).to_string() } else { clip(text, 2000) }
        });
        Error::Api { status, detail, body: clip(body, MAX_BODY) }
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn detail_of(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body.trim()).ok()?;
    let obj = v.as_object()?;
    ["detail", "error", "message"].iter().find_map(|k| obj.get(*k)).map(render_detail)
}

/// Renders a `detail` value: strings as they are, FastAPI-style validation lists as
/// `loc.path: msg; ...`, anything else as compact JSON.
pub(crate) fn render_detail(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(render_item).collect::<Vec<_>>().join("; "),
        Value::Object(_) => render_item(v),
        other => other.to_string(),
    }
}

fn render_item(v: &Value) -> String {
    let Some(obj) = v.as_object() else {
        return match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
    };
    let msg = obj.get("msg").or_else(|| obj.get("message")).and_then(Value::as_str);
    match (msg, obj.get("loc").and_then(Value::as_array)) {
        (Some(msg), Some(loc)) if !loc.is_empty() => {
            let path: Vec<String> = loc
                .iter()
                .map(|p| match p {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            format!("{}: {msg}", path.join("."))
        }
        (Some(msg), _) => msg.to_string(),
        _ => v.to_string(),
    }
}

fn canonical_reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("unknown error")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(status: u16, body: &str) -> String {
        match Error::from_response(status, body) {
            Error::Api { detail, .. } => detail,
            other => panic!("not an API error: {other}"),
        }
    }

    #[test]
    fn string_detail() {
        assert_eq!(
            detail(404, r#"{"detail":"Thread with ID x not found"}"#),
            "Thread with ID x not found"
        );
    }

    #[test]
    fn list_detail_is_readable() {
        let body = r#"{"detail":[{"loc":["body","assistant_id"],"msg":"field required","type":"missing"},{"loc":["body","limit",0],"msg":"bad"}]}"#;
        assert_eq!(detail(422, body), "body.assistant_id: field required; body.limit.0: bad");
    }

    #[test]
    fn object_detail_without_msg_is_json() {
        assert_eq!(detail(400, r#"{"detail":{"a":1}}"#), r#"{"a":1}"#);
    }

    #[test]
    fn store_error_key_and_plain_text() {
        assert_eq!(detail(400, r#"{"error":"Key is required"}"#), "Key is required");
        assert_eq!(
            detail(422, "Namespace label 'bad.label' must be a non-empty string without periods"),
            "Namespace label 'bad.label' must be a non-empty string without periods"
        );
        assert_eq!(detail(500, ""), "Internal Server Error");
    }

    #[test]
    fn display_and_helpers() {
        let e = Error::from_response(409, r#"{"detail":"busy"}"#);
        assert_eq!(e.to_string(), "HTTP 409: busy");
        assert!(e.is_conflict() && !e.is_not_found() && !e.is_transient());
        assert!(Error::from_response(503, "").is_transient());
    }

    #[test]
    fn clip_respects_char_boundaries() {
        let s = "é".repeat(10);
        let c = clip(&s, 5);
        assert!(c.starts_with("éé") && c.ends_with('…'));
    }
}
