//! A project's environment: the `env` of `langgraph.json` (an object, or the path of a `.env`
//! file), looked up by name before the process environment.
//!
//! The values are secrets (API keys): [`Secret`] never shows its value in `Debug` or
//! `Display`, nothing here logs values, and the graphs only hand them to providers and tools,
//! never to state.

use std::fmt;

use indexmap::IndexMap;

/// A secret value: redacted when printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(v: impl Into<String>) -> Secret {
        Secret(v.into())
    }
    /// The value itself, for the one place that needs it (a provider's request).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Named secrets of a project.
#[derive(Debug, Clone, Default)]
pub struct Env {
    values: IndexMap<String, Secret>,
    /// Whether names missing here are looked up in the process environment.
    process_fallback: bool,
}

impl Env {
    /// An empty environment that falls back to the process environment.
    pub fn process() -> Env {
        Env { values: IndexMap::new(), process_fallback: true }
    }

    /// An environment of exactly these values (tests).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Env {
        Env {
            values: pairs.into_iter().map(|(k, v)| (k.into(), Secret::new(v))).collect(),
            process_fallback: false,
        }
    }

    /// Adds or replaces a value.
    pub fn insert(&mut self, name: impl Into<String>, value: Secret) {
        self.values.insert(name.into(), value);
    }

    /// A value by name: the project's, else the process environment's.
    pub fn get(&self, name: &str) -> Option<Secret> {
        if let Some(v) = self.values.get(name) {
            return Some(v.clone());
        }
        if self.process_fallback { std::env::var(name).ok().map(Secret) } else { None }
    }

    /// The names the project defines (never the values).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Whether the project defines no value.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Parses `.env` text: `NAME=value` lines, `export NAME=value`, `#` comments, single quotes
/// (literal), double quotes (with `\n`, `\t`, `\"`, `\\` escapes, may span lines), and
/// `# comment` after an unquoted value. On a bad line, its number and why.
///
/// # Errors
/// A line that is not an assignment, or a quote left open.
pub fn parse_dotenv(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let Some(eq) = line.find('=') else {
            return Err((lineno, format!("expected NAME=value, got `{}`", first_word(line))));
        };
        let name = line[..eq].trim();
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err((lineno, format!("`{name}` is not a variable name")));
        }
        let raw = line[eq + 1..].trim_start();
        let value = if let Some(rest) = raw.strip_prefix('\'') {
            match rest.find('\'') {
                Some(end) => rest[..end].to_string(),
                None => return Err((lineno, format!("{name}: the ' quote is not closed"))),
            }
        } else if let Some(rest) = raw.strip_prefix('"') {
            let mut buf = rest.to_string();
            loop {
                if let Some(v) = closed_double(&buf) {
                    break v;
                }
                match lines.get(i) {
                    Some(next) => {
                        buf.push('\n');
                        buf.push_str(next);
                        i += 1;
                    }
                    None => return Err((lineno, format!("{name}: the \" quote is not closed"))),
                }
            }
        } else {
            let v = match raw.find(" #") {
                Some(c) => &raw[..c],
                None => raw,
            };
            v.trim_end().to_string()
        };
        out.push((name.to_string(), value));
    }
    Ok(out)
}

fn first_word(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or_default()
}

/// The unescaped content of a double-quoted value if `s` (after the opening quote) closes it.
fn closed_double(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(o) => out.push(o),
                None => return None,
            },
            o => out.push(o),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dotenv_forms() {
        let text = "# c\nA=1\nexport B = two words # note\nC='lit $X # no'\nD=\"l1\\nl2 \\\"q\\\"\"\nE=\"multi\nline\"\nF=\n";
        let got = parse_dotenv(text).unwrap();
        assert_eq!(
            got,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "lit $X # no".into()),
                ("D".into(), "l1\nl2 \"q\"".into()),
                ("E".into(), "multi\nline".into()),
                ("F".into(), String::new()),
            ]
        );
        assert_eq!(parse_dotenv("A=1\nnot an assignment\n").unwrap_err().0, 2);
        assert_eq!(parse_dotenv("A=\"open\n").unwrap_err().0, 1);
    }

    #[test]
    fn secrets_are_redacted() {
        let env = Env::from_pairs([("KEY", "sk-123")]);
        let shown = format!("{env:?} {}", env.get("KEY").unwrap());
        assert!(!shown.contains("sk-123"), "{shown}");
        assert_eq!(env.get("KEY").unwrap().expose(), "sk-123");
        assert!(env.get("PATH").is_none(), "no process fallback here");
    }
}
