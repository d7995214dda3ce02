//! Pure helpers for what the views show: short ids, relative times, form validation, the
//! capabilities in an `/info` body. No DOM, no JS: tested natively.

use serde_json::Value;

/// The first 8 characters of an id (a UUID's first group), enough to tell threads apart.
pub fn short_id(id: &str) -> &str {
    match id.char_indices().nth(8) {
        Some((end, _)) => &id[..end],
        None => id,
    }
}

/// "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago" from two times in milliseconds.
/// Times in the future (clock skew) read as "just now".
pub fn relative_time(then_ms: f64, now_ms: f64) -> String {
    let secs = ((now_ms - then_ms) / 1000.0).floor();
    if secs.is_nan() || secs < 5.0 {
        return "just now".to_string();
    }
    if secs < 60.0 {
        return format!("{secs} s ago");
    }
    let mins = (secs / 60.0).floor();
    if mins < 60.0 {
        return format!("{mins} min ago");
    }
    let hours = (mins / 60.0).floor();
    if hours < 48.0 {
        return format!("{hours} h ago");
    }
    format!("{} d ago", (hours / 24.0).floor())
}

/// The name field of the connection form: why it is not acceptable, if it is not.
pub fn check_name(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() { Some("A name is required") } else { None }
}

/// The URL field of the connection form: an `http://` or `https://` URL with a host.
pub fn check_url(url: &str) -> Option<&'static str> {
    let url = url.trim();
    if url.is_empty() {
        return Some("A URL is required");
    }
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://"))
    else {
        return Some("The URL must start with http:// or https://");
    };
    if url.chars().any(char::is_whitespace) {
        return Some("The URL cannot contain spaces");
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Drop user info and the port to see whether a host is left.
    let host = host.rsplit('@').next().unwrap_or_default();
    let host = if host.starts_with('[') {
        host.split(']').next().unwrap_or_default().trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Some("The URL needs a host, e.g. http://127.0.0.1:2024");
    }
    None
}

/// What an `/info` body says the server can do.
#[derive(Debug, Default, PartialEq)]
pub struct Capabilities {
    /// `flags`: feature name and whether it is on.
    pub flags: Vec<(String, bool)>,
    /// Other facts worth a glance (`langgraph_py_version`, `host.kind`, ...), as text.
    pub facts: Vec<(String, String)>,
}

/// Reads the flags and the scalar facts of an `/info` body. `version` is left out: the view
/// shows it already.
pub fn capabilities(info: &Value) -> Capabilities {
    let mut caps = Capabilities::default();
    let Some(obj) = info.as_object() else {
        return caps;
    };
    if let Some(flags) = obj.get("flags").and_then(Value::as_object) {
        for (name, on) in flags {
            caps.flags.push((name.clone(), on.as_bool().unwrap_or(!on.is_null())));
        }
    }
    for (key, value) in obj {
        match (key.as_str(), value) {
            ("version" | "flags", _) => {}
            (_, Value::Object(inner)) => {
                for (sub, v) in inner {
                    if let Some(text) = scalar(v) {
                        caps.facts.push((format!("{key}.{sub}"), text));
                    }
                }
            }
            (_, v) => {
                if let Some(text) = scalar(v) {
                    caps.facts.push((key.clone(), text));
                }
            }
        }
    }
    caps
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A milliseconds duration as people read it: "12 ms", "1.2 s".
pub fn latency(ms: u64) -> String {
    if ms < 1000 { format!("{ms} ms") } else { format!("{:.1} s", ms as f64 / 1000.0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_id_keeps_the_first_group_of_a_uuid() {
        assert_eq!(short_id("1ef7a3c2-1234-5678-9abc-def012345678"), "1ef7a3c2");
        assert_eq!(short_id("abc"), "abc");
        assert_eq!(short_id("ééééééééé"), "éééééééé");
    }

    #[test]
    fn relative_time_reads_like_a_person() {
        let now = 1_000_000_000.0;
        assert_eq!(relative_time(now - 1_000.0, now), "just now");
        assert_eq!(relative_time(now + 60_000.0, now), "just now");
        assert_eq!(relative_time(now - 42_000.0, now), "42 s ago");
        assert_eq!(relative_time(now - 5.5 * 60_000.0, now), "5 min ago");
        assert_eq!(relative_time(now - 3.0 * 3_600_000.0, now), "3 h ago");
        assert_eq!(relative_time(now - 72.0 * 3_600_000.0, now), "3 d ago");
        assert_eq!(relative_time(f64::NAN, now), "just now");
    }

    #[test]
    fn urls_need_http_and_a_host() {
        assert_eq!(check_url("http://127.0.0.1:2024"), None);
        assert_eq!(check_url(" https://x.example.com/base "), None);
        assert_eq!(check_url("HTTPS://X.EXAMPLE.COM"), None);
        assert_eq!(check_url("http://[::1]:2024"), None);
        assert!(check_url("").is_some());
        assert!(check_url("ftp://x").is_some());
        assert!(check_url("127.0.0.1:2024").is_some());
        assert!(check_url("http://").is_some());
        assert!(check_url("http://:2024").is_some());
        assert!(check_url("http://a b").is_some());
    }

    #[test]
    fn names_cannot_be_blank() {
        assert_eq!(check_name("prod"), None);
        assert!(check_name("   ").is_some());
    }

    #[test]
    fn capabilities_read_flags_and_facts() {
        let info = json!({
            "version": "0.16.7",
            "langgraph_py_version": "1.2.24",
            "flags": {"assistants": true, "crons": true, "langsmith": false},
            "host": {"kind": "self-hosted", "project_id": null}
        });
        let caps = capabilities(&info);
        assert_eq!(
            caps.flags,
            vec![
                ("assistants".to_string(), true),
                ("crons".to_string(), true),
                ("langsmith".to_string(), false)
            ]
        );
        assert_eq!(
            caps.facts,
            vec![
                ("langgraph_py_version".to_string(), "1.2.24".to_string()),
                ("host.kind".to_string(), "self-hosted".to_string())
            ]
        );
        assert_eq!(capabilities(&json!(null)), Capabilities::default());
    }

    #[test]
    fn latency_switches_to_seconds() {
        assert_eq!(latency(12), "12 ms");
        assert_eq!(latency(1234), "1.2 s");
    }
}
