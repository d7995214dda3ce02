//! `{{ ... }}` templates: placeholders that read the state, `configurable` and a few
//! conveniences about the conversation.
//!
//! A placeholder is a path (`state.ticket.id`, `state.messages[-1].content`,
//! `configurable.user_email`) followed by optional filters: `| default: <JSON>`, `| json`,
//! `| upper`, `| lower`; `args` is a tool call's arguments (in `http` and `command` tools).
//! A string that is exactly one placeholder keeps the value's JSON type (so
//! `args: {email: "{{ configurable.user_email }}"}` may pass objects and numbers through);
//! otherwise values are written into the text (strings as they are, null as nothing, anything
//! else as JSON).

use serde_json::{Map, Value};

/// The names a placeholder can start with.
pub const ROOTS: [&str; 9] = [
    "state",
    "args",
    "configurable",
    "last_message",
    "last_user_message",
    "last_tool_call",
    "last_tool_result",
    "system_prompt",
    "now",
];

/// A path into the template context: `state.messages[-1].content`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Key(String),
    Index(i64),
}

impl Path {
    /// Parses a path whose first key is one of [`ROOTS`].
    ///
    /// # Errors
    /// An empty or malformed path, or an unknown root.
    pub fn parse(s: &str) -> Result<Path, String> {
        let s = s.trim();
        let mut parts = Vec::new();
        for seg in s.split('.') {
            let seg = seg.trim();
            let (name, mut rest) = match seg.find('[') {
                Some(i) => (&seg[..i], &seg[i..]),
                None => (seg, ""),
            };
            if name.is_empty() && (parts.is_empty() || rest.is_empty()) {
                return Err(format!("`{s}` is not a path (expected names separated by dots)"));
            }
            if !name.is_empty() {
                if !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
                    return Err(format!("`{name}` in `{s}` is not a name"));
                }
                parts.push(Part::Key(name.to_string()));
            }
            while !rest.is_empty() {
                let end = rest.find(']').ok_or_else(|| format!("`{s}`: `[` without its `]`"))?;
                let idx: i64 = rest[1..end]
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{s}`: an index is a whole number, like [0] or [-1]"))?;
                parts.push(Part::Index(idx));
                rest = &rest[end + 1..];
            }
        }
        match parts.first() {
            Some(Part::Key(root)) if ROOTS.contains(&root.as_str()) => Ok(Path { parts }),
            _ => Err(format!(
                "`{s}` must start with one of: {} (state keys are read as state.<key>)",
                ROOTS.join(", ")
            )),
        }
    }

    /// The value at this path in `ctx` (null when absent).
    pub fn get<'a>(&self, ctx: &'a Value) -> Option<&'a Value> {
        let mut cur = ctx;
        for p in &self.parts {
            cur = match (p, cur) {
                (Part::Key(k), Value::Object(m)) => m.get(k)?,
                (Part::Index(i), Value::Array(a)) => {
                    let i = if *i < 0 { a.len() as i64 + i } else { *i };
                    a.get(usize::try_from(i).ok()?)?
                }
                (Part::Key(k), Value::Array(a)) => a.get(k.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// The first key after the root (`ticket` in `state.ticket.id`), if the root is `root`.
    pub fn key_under(&self, root: &str) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Key(r), Part::Key(k), ..] if r == root => Some(k),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Default(Value),
    Json,
    Upper,
    Lower,
}

#[derive(Debug, Clone, PartialEq)]
struct Placeholder {
    path: Path,
    filters: Vec<Filter>,
}

impl Placeholder {
    fn eval(&self, ctx: &Value) -> Value {
        let mut v = self.path.get(ctx).cloned().unwrap_or(Value::Null);
        for f in &self.filters {
            v = match f {
                Filter::Default(d) => {
                    if v.is_null() || v.as_str() == Some("") {
                        d.clone()
                    } else {
                        v
                    }
                }
                Filter::Json => Value::String(v.to_string()),
                Filter::Upper => Value::String(text_of(&v).to_uppercase()),
                Filter::Lower => Value::String(text_of(&v).to_lowercase()),
            };
        }
        v
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Hole(Placeholder),
}

/// A parsed template string.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pieces: Vec<Piece>,
}

fn split_filters(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '|' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_placeholder(expr: &str) -> Result<Placeholder, String> {
    let mut parts = split_filters(expr).into_iter();
    let path = Path::parse(parts.next().unwrap_or_default())?;
    let mut filters = Vec::new();
    for f in parts {
        let f = f.trim();
        let (name, arg) = match f.find(':') {
            Some(i) => (f[..i].trim(), Some(f[i + 1..].trim())),
            None => (f, None),
        };
        filters.push(match (name, arg) {
            ("default", Some(a)) => Filter::Default(
                serde_json::from_str(a)
                    .map_err(|_| format!("`default:` takes a JSON value (\"text\", 0, true, null), got `{a}`"))?,
            ),
            ("json", None) => Filter::Json,
            ("upper", None) => Filter::Upper,
            ("lower", None) => Filter::Lower,
            _ => {
                return Err(format!(
                    "unknown filter `{f}`: expected `default: <JSON value>`, `json`, `upper` or `lower`"
                ));
            }
        });
    }
    Ok(Placeholder { path, filters })
}

impl Template {
    /// Parses a template string.
    ///
    /// # Errors
    /// An unclosed `{{`, or a placeholder that is not a known path with known filters.
    pub fn parse(s: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = s;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end =
                after.find("}}").ok_or_else(|| "`{{` without its closing `}}`".to_string())?;
            pieces.push(Piece::Hole(parse_placeholder(&after[..end])?));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template { pieces })
    }

    /// Renders to a value: a lone placeholder keeps its type, anything else is text.
    pub fn render(&self, ctx: &Value) -> Value {
        match self.pieces.as_slice() {
            [Piece::Hole(h)] => h.eval(ctx),
            [] => Value::String(String::new()),
            _ => Value::String(self.render_text(ctx)),
        }
    }

    /// Renders to text.
    pub fn render_text(&self, ctx: &Value) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Hole(h) => out.push_str(&text_of(&h.eval(ctx))),
            }
        }
        out
    }

    /// The paths the template reads.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Hole(h) => Some(&h.path),
            Piece::Text(_) => None,
        })
    }
}

/// A value as text: strings as they are, null as nothing, anything else as JSON.
pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A JSON value whose strings are templates.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueTemplate {
    /// A string template.
    Str(Template),
    /// A list.
    List(Vec<ValueTemplate>),
    /// A mapping.
    Map(Vec<(String, ValueTemplate)>),
    /// Anything else, as it is.
    Lit(Value),
}

impl ValueTemplate {
    /// Parses every string of `v`; on error, the path (`a.b[1]`) of the bad string and why.
    ///
    /// # Errors
    /// A string that is not a valid template.
    pub fn parse(v: &Value) -> Result<ValueTemplate, (String, String)> {
        Ok(match v {
            Value::String(s) => {
                ValueTemplate::Str(Template::parse(s).map_err(|e| (String::new(), e))?)
            }
            Value::Array(a) => ValueTemplate::List(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| {
                        ValueTemplate::parse(x).map_err(|(p, e)| (format!("[{i}]{}", dot(&p)), e))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(m) => ValueTemplate::Map(
                m.iter()
                    .map(|(k, x)| {
                        ValueTemplate::parse(x)
                            .map(|t| (k.clone(), t))
                            .map_err(|(p, e)| (format!("{k}{}", dot(&p)), e))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => ValueTemplate::Lit(other.clone()),
        })
    }

    /// Renders every string.
    pub fn render(&self, ctx: &Value) -> Value {
        match self {
            ValueTemplate::Str(t) => t.render(ctx),
            ValueTemplate::List(a) => Value::Array(a.iter().map(|x| x.render(ctx)).collect()),
            ValueTemplate::Map(m) => Value::Object(
                m.iter().map(|(k, x)| (k.clone(), x.render(ctx))).collect::<Map<_, _>>(),
            ),
            ValueTemplate::Lit(v) => v.clone(),
        }
    }
}

fn dot(p: &str) -> String {
    if p.is_empty() || p.starts_with('[') { p.to_string() } else { format!(".{p}") }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_paths_filters_and_types() {
        let ctx = json!({"state": {"n": 2, "messages": [{"content": "a"}, {"content": "b"}]},
                         "configurable": {"who": "Ada"}});
        let t = Template::parse("Hi {{ configurable.who | upper }}, {{state.n}} msgs, last {{ state.messages[-1].content }}").unwrap();
        assert_eq!(t.render(&ctx), json!("Hi ADA, 2 msgs, last b"));
        assert_eq!(Template::parse("{{ state.n }}").unwrap().render(&ctx), json!(2));
        assert_eq!(
            Template::parse("{{ configurable.none | default: \"x|y\" }}").unwrap().render(&ctx),
            json!("x|y")
        );
        assert_eq!(
            Template::parse("{{ state.messages[0] | json }}").unwrap().render(&ctx),
            json!("{\"content\":\"a\"}")
        );
    }

    #[test]
    fn rejects_unknown_roots_filters_and_unclosed() {
        assert!(Template::parse("{{ stat.x }}").unwrap_err().contains("must start with one of"));
        assert!(Template::parse("{{ state.x | shout }}").unwrap_err().contains("unknown filter"));
        assert!(Template::parse("{{ state.x ").unwrap_err().contains("closing"));
    }

    #[test]
    fn value_templates_report_the_bad_string() {
        let err = ValueTemplate::parse(&json!({"a": [1, {"b": "{{ oops }}"}]})).unwrap_err();
        assert_eq!(err.0, "a[1].b");
    }
}
