//! The tools a `tools` node can run: the built-in ones, and those a graph file defines under
//! `tools:` — `http` (a request built from the tool call's arguments; the response is the
//! result) and `command` (a local program given the arguments as JSON on stdin; its stdout is
//! the result).
//!
//! A tool's failure is not a node failure: the tools node answers the call with an error
//! `ToolMessage`, as LangGraph's `ToolNode` does, so the model can react. Secret values (header
//! values and command env taken from the project's env) are replaced by `***` in anything a
//! tool returns, success or error.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::env::Secret;
use crate::providers::{ToolSchema, error_chain, http_client};
use crate::template::{Template, ValueTemplate};
use crate::tools::BuiltinTool;

/// A tool, ready to run.
#[derive(Clone)]
pub(crate) enum Tool {
    Builtin(&'static BuiltinTool),
    Http(Arc<HttpTool>),
    Command(Arc<CommandTool>),
}

impl Tool {
    pub(crate) fn name(&self) -> &str {
        match self {
            Tool::Builtin(t) => t.name,
            Tool::Http(t) => &t.name,
            Tool::Command(t) => &t.name,
        }
    }

    /// How a model sees it.
    pub(crate) fn schema(&self) -> ToolSchema {
        match self {
            Tool::Builtin(t) => ToolSchema {
                name: t.name.to_string(),
                description: t.description.to_string(),
                parameters: t.parameters(),
            },
            Tool::Http(t) => ToolSchema {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: t.parameters.clone(),
            },
            Tool::Command(t) => ToolSchema {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: t.parameters.clone(),
            },
        }
    }

    /// Runs the tool; `cx` is the template context (with the call's `args`).
    ///
    /// # Errors
    /// What went wrong, as the model should read it.
    pub(crate) async fn run(
        &self,
        args: &Value,
        call_id: &str,
        cx: &Value,
    ) -> Result<Value, String> {
        match self {
            Tool::Builtin(t) => t.run(args, call_id),
            Tool::Http(t) => t.run(cx).await,
            Tool::Command(t) => t.run(args).await,
        }
    }
}

/// At most `n` characters of `s` (the end of it when `tail`).
fn clip(s: &str, n: usize, tail: bool) -> String {
    let count = s.chars().count();
    if count <= n {
        return s.to_string();
    }
    if tail {
        format!("…{}", s.chars().skip(count - n).collect::<String>())
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

fn redact(text: &str, secrets: &[Secret]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.expose().len() >= 4 {
            out = out.replace(s.expose(), "***");
        }
    }
    out
}

/// A result's text parsed as JSON when it is JSON, else kept as text.
fn result_of(text: &str) -> Value {
    let t = text.trim();
    serde_json::from_str::<Value>(t).unwrap_or_else(|_| Value::String(t.to_string()))
}

/// A header value: text (a template) or a secret with an optional prefix (`Bearer `).
pub(crate) enum HeaderValue {
    Text(Template),
    Secret { prefix: String, value: Secret },
}

/// An `http` tool.
pub(crate) struct HttpTool {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) parameters: Value,
    pub(crate) method: reqwest::Method,
    pub(crate) url: Template,
    pub(crate) headers: Vec<(String, HeaderValue)>,
    /// The JSON body; `None`: the call's arguments for POST, PUT and PATCH, nothing otherwise.
    pub(crate) body: Option<ValueTemplate>,
    pub(crate) timeout: Duration,
    pub(crate) secrets: Vec<Secret>,
}

/// `s` with everything but unreserved characters percent-encoded (for values put in a URL).
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn encoded(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(percent_encode(s)),
        Value::Array(a) => Value::Array(a.iter().map(encoded).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), encoded(x))).collect::<Map<_, _>>())
        }
        other => Value::String(percent_encode(&other.to_string())),
    }
}

impl HttpTool {
    async fn run(&self, cx: &Value) -> Result<Value, String> {
        let r = self.request(cx).await;
        r.map(|v| match v {
            Value::String(s) => Value::String(redact(&s, &self.secrets)),
            other => {
                let text = other.to_string();
                let clean = redact(&text, &self.secrets);
                if clean == text { other } else { result_of(&clean) }
            }
        })
        .map_err(|e| redact(&e, &self.secrets))
    }

    async fn request(&self, cx: &Value) -> Result<Value, String> {
        // Values written into the URL are percent-encoded.
        let mut url_cx = cx.clone();
        if let Some(a) = cx.get("args") {
            url_cx["args"] = encoded(a);
        }
        let url = self.url.render_text(&url_cx);
        let parsed = reqwest::Url::parse(&url)
            .map_err(|e| format!("{}: the URL `{url}` is not valid: {e}", self.name))?;
        let method = self.method.clone();
        let mut req = http_client()?.request(method.clone(), parsed);
        for (k, v) in &self.headers {
            req = match v {
                HeaderValue::Text(t) => req.header(k.as_str(), t.render_text(cx)),
                HeaderValue::Secret { prefix, value } => {
                    req.header(k.as_str(), format!("{prefix}{}", value.expose()))
                }
            };
        }
        let body = match &self.body {
            Some(b) => Some(b.render(cx)),
            None if matches!(method.as_str(), "POST" | "PUT" | "PATCH") => {
                Some(cx.get("args").cloned().unwrap_or_else(|| json!({})))
            }
            None => None,
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let what = format!("{method} {url}");
        let resp = match tokio::time::timeout(self.timeout, req.send()).await {
            Err(_) => return Err(format!("{what} timed out after {:?}", self.timeout)),
            Ok(Err(e)) => return Err(format!("{what} failed: {}", error_chain(&e))),
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        let text = match tokio::time::timeout(self.timeout, resp.text()).await {
            Err(_) => {
                return Err(format!("{what}: the response timed out after {:?}", self.timeout));
            }
            Ok(Err(e)) => return Err(format!("{what}: reading the response failed: {e}")),
            Ok(Ok(t)) => t,
        };
        if !status.is_success() {
            return Err(format!(
                "{what} answered HTTP {status}: {}",
                clip(text.trim(), 1000, false)
            ));
        }
        Ok(result_of(&text))
    }
}

/// A `command` tool.
pub(crate) struct CommandTool {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) parameters: Value,
    /// The program (resolved against the graph file's folder when it is a relative path).
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) cwd: PathBuf,
    /// Variables set for the program (its only environment besides PATH, HOME, LANG, TMPDIR).
    pub(crate) env: Vec<(String, Secret)>,
    pub(crate) timeout: Duration,
}

impl CommandTool {
    async fn run(&self, args: &Value) -> Result<Value, String> {
        let secrets: Vec<Secret> = self.env.iter().map(|(_, v)| v.clone()).collect();
        self.exec(args).await.map(|v| redact_value(v, &secrets)).map_err(|e| redact(&e, &secrets))
    }

    async fn exec(&self, args: &Value) -> Result<Value, String> {
        let shown = self.program.display().to_string();
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.args)
            .current_dir(&self.cwd)
            .env_clear()
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        for k in ["PATH", "HOME", "LANG", "TMPDIR"] {
            if let Some(v) = std::env::var_os(k) {
                cmd.env(k, v);
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v.expose());
        }
        #[cfg(unix)]
        cmd.process_group(0);
        let mut child = cmd.spawn().map_err(|e| format!("cannot start `{shown}`: {e}"))?;
        let input = args.to_string();
        let mut stdin = child.stdin.take();
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let feed = async move {
            if let Some(s) = stdin.as_mut() {
                // A program that does not read its input is fine.
                let _ = s.write_all(input.as_bytes()).await;
                let _ = s.shutdown().await;
            }
            drop(stdin);
        };
        let read_out = async move {
            let mut buf = Vec::new();
            if let Some(s) = stdout.as_mut() {
                let _ = s.read_to_end(&mut buf).await;
            }
            buf
        };
        let read_err = async move {
            let mut buf = Vec::new();
            if let Some(s) = stderr.as_mut() {
                let _ = s.read_to_end(&mut buf).await;
            }
            buf
        };
        let pid = child.id();
        let all = async {
            let ((), out, err, status) = tokio::join!(feed, read_out, read_err, child.wait());
            (out, err, status)
        };
        let (out, err, status) = match tokio::time::timeout(self.timeout, all).await {
            Ok(r) => r,
            Err(_) => {
                kill_group(pid).await;
                let _ = child.kill().await;
                return Err(format!(
                    "`{shown}` timed out after {:?} and was stopped",
                    self.timeout
                ));
            }
        };
        let status = status.map_err(|e| format!("`{shown}` failed: {e}"))?;
        let out = String::from_utf8_lossy(&out);
        if !status.success() {
            let err = String::from_utf8_lossy(&err);
            let how = match status.code() {
                Some(c) => format!("exited with status {c}"),
                None => "was killed by a signal".to_string(),
            };
            let tail = clip(err.trim(), 2000, true);
            return Err(if tail.is_empty() {
                format!("`{shown}` {how}")
            } else {
                format!("`{shown}` {how}; stderr: {tail}")
            });
        }
        Ok(result_of(&out))
    }
}

fn redact_value(v: Value, secrets: &[Secret]) -> Value {
    match v {
        Value::String(s) => Value::String(redact(&s, secrets)),
        other => {
            let text = other.to_string();
            let clean = redact(&text, secrets);
            if clean == text { other } else { result_of(&clean) }
        }
    }
}

/// Stops a timed-out program and whatever it started (its process group).
async fn kill_group(pid: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = pid {
        let _ = tokio::process::Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{pid}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await;
    }
    #[cfg(not(unix))]
    let _ = pid;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_values_are_encoded() {
        assert_eq!(percent_encode("a b/c?d=é"), "a%20b%2Fc%3Fd%3D%C3%A9");
        assert_eq!(encoded(&json!({"n": 3, "s": "x y"})), json!({"n": "3", "s": "x%20y"}));
    }

    #[test]
    fn results_and_redaction() {
        assert_eq!(result_of(" {\"a\": 1}\n"), json!({"a": 1}));
        assert_eq!(result_of("plain text\n"), json!("plain text"));
        let s = [Secret::new("tok-12345")];
        assert_eq!(
            redact_value(json!({"echo": "Bearer tok-12345"}), &s),
            json!({"echo": "Bearer ***"})
        );
        assert_eq!(clip("abcdef", 3, true), "…def");
    }
}
