//! Source documents: YAML or JSON text read into a JSON value that remembers where every key
//! and item came from, so that any error can name the file, line, column and field.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A path into a document, shown as `nodes.agent.tools[1]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    /// The empty path (the whole document).
    pub fn root() -> FieldPath {
        FieldPath(Vec::new())
    }

    /// This path with a key appended.
    pub fn key(&self, k: impl Into<String>) -> FieldPath {
        let mut p = self.0.clone();
        p.push(Seg::Key(k.into()));
        FieldPath(p)
    }

    /// This path with an index appended.
    pub fn index(&self, i: usize) -> FieldPath {
        let mut p = self.0.clone();
        p.push(Seg::Index(i));
        FieldPath(p)
    }

    /// Parses `a.b[2].c` (the form of [`fmt::Display`]).
    pub fn parse(s: &str) -> FieldPath {
        let mut out = Vec::new();
        for part in s.split('.').filter(|p| !p.is_empty()) {
            let (name, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !name.is_empty() {
                out.push(Seg::Key(name.to_string()));
            }
            while let Some(end) = rest.find(']') {
                if let Ok(i) = rest[1..end].parse() {
                    out.push(Seg::Index(i));
                }
                rest = &rest[end + 1..];
            }
        }
        FieldPath(out)
    }

    fn pointer(&self) -> String {
        let mut s = String::new();
        for seg in &self.0 {
            s.push('/');
            match seg {
                Seg::Key(k) => s.push_str(&k.replace('~', "~0").replace('/', "~1")),
                Seg::Index(i) => s.push_str(&i.to_string()),
            }
        }
        s
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A line and column, both counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

/// A problem in a file, with where it is and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct FileError {
    /// The file as the user named it.
    pub file: String,
    /// Where.
    pub pos: Pos,
    /// The field (`nodes.agent.kind`), empty for the document itself or a syntax error.
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.pos.line, self.pos.column)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}", self.message)
    }
}

/// A parsed file: its value and the position of every key and item.
#[derive(Debug, Clone)]
pub struct Document {
    /// How errors name the file.
    pub file: String,
    /// The content.
    pub value: Value,
    positions: HashMap<String, Pos>,
}

/// The syntax of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// YAML 1.2 (JSON is valid YAML too, but has a parser of its own here).
    Yaml,
    /// JSON.
    Json,
}

impl Syntax {
    /// JSON for `.json` files, YAML otherwise.
    pub fn of_path(path: &str) -> Syntax {
        if path.to_ascii_lowercase().ends_with(".json") { Syntax::Json } else { Syntax::Yaml }
    }
}

impl Document {
    /// Parses `text`; `file` is how errors name it.
    ///
    /// # Errors
    /// A syntax error, with its line and column.
    pub fn parse(file: &str, text: &str, syntax: Syntax) -> Result<Document, FileError> {
        match syntax {
            Syntax::Yaml => parse_yaml(file, text),
            Syntax::Json => parse_json(file, text),
        }
    }

    /// Where `path` is: the key of a mapping entry, the start of an item, or the closest
    /// enclosing node that exists.
    pub fn pos(&self, path: &FieldPath) -> Pos {
        let mut p = path.0.clone();
        loop {
            if let Some(pos) = self.positions.get(&FieldPath(p.clone()).pointer()) {
                return *pos;
            }
            if p.pop().is_none() {
                return Pos { line: 1, column: 1 };
            }
        }
    }

    /// Whether the document has a node at `path`.
    pub fn has(&self, path: &FieldPath) -> bool {
        self.positions.contains_key(&path.pointer())
    }

    /// The value at `path`.
    pub fn get(&self, path: &FieldPath) -> Option<&Value> {
        self.value.pointer(&path.pointer())
    }

    /// An error about the field at `path`.
    pub fn error(&self, path: &FieldPath, message: impl Into<String>) -> FileError {
        FileError {
            file: self.file.clone(),
            pos: self.pos(path),
            field: path.to_string(),
            message: message.into(),
        }
    }

    /// Deserializes the value at `at` into `T`; an error names the exact field when the
    /// document has it (an unknown field points at that key), else the closest enclosing one.
    ///
    /// # Errors
    /// When the value does not have `T`'s shape.
    pub fn deserialize_at<T: DeserializeOwned>(&self, at: &FieldPath) -> Result<T, FileError> {
        let value = self.get(at).unwrap_or(&Value::Null);
        check_value::<T>(value).map_err(|(rel, msg)| {
            let mut path = at.clone();
            path.0.extend(rel.0);
            self.refine(path, msg)
        })
    }

    /// An error at `path`; `unknown field `x`` errors move onto the key `x`.
    pub fn refine(&self, path: FieldPath, message: String) -> FileError {
        if let Some(rest) = message.strip_prefix("unknown field `")
            && let Some(end) = rest.find('`')
        {
            let child = path.key(&rest[..end]);
            if self.has(&child) {
                return self.error(&child, message);
            }
        }
        self.error(&path, message)
    }
}

/// Deserializes `value` into `T`; on failure, the relative path of the field and the message.
pub(crate) fn check_value<T: DeserializeOwned>(value: &Value) -> Result<T, (FieldPath, String)> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let mut path = FieldPath::root();
        for seg in e.path().iter() {
            match seg {
                serde_path_to_error::Segment::Seq { index } => path.0.push(Seg::Index(*index)),
                serde_path_to_error::Segment::Map { key } => path.0.push(Seg::Key(key.clone())),
                serde_path_to_error::Segment::Enum { .. }
                | serde_path_to_error::Segment::Unknown => {}
            }
        }
        (path, e.into_inner().to_string())
    })
}

fn pos_of(span: &Span) -> Pos {
    Pos { line: span.start.line(), column: span.start.col() + 1 }
}

enum Frame {
    Map { map: Map<String, Value>, key: Option<(String, Pos)>, anchor: usize, path: FieldPath },
    Seq { items: Vec<Value>, anchor: usize, path: FieldPath },
}

struct YamlBuilder {
    file: String,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    positions: HashMap<String, Pos>,
    root: Option<Value>,
    docs: usize,
}

impl YamlBuilder {
    fn err(&self, pos: Pos, field: &FieldPath, message: impl Into<String>) -> FileError {
        FileError {
            file: self.file.clone(),
            pos,
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// The path and position a new node at `pos` gets, or `None` when it is a mapping key.
    fn slot(&mut self, pos: Pos) -> Option<FieldPath> {
        match self.stack.last_mut() {
            None => {
                self.positions.insert(String::new(), pos);
                Some(FieldPath::root())
            }
            Some(Frame::Map { key: None, .. }) => None,
            Some(Frame::Map { key: Some((k, kpos)), path, .. }) => {
                let p = path.key(k.clone());
                self.positions.insert(p.pointer(), *kpos);
                Some(p)
            }
            Some(Frame::Seq { items, path, .. }) => {
                let p = path.index(items.len());
                self.positions.insert(p.pointer(), pos);
                Some(p)
            }
        }
    }

    fn put(&mut self, value: Value) -> Result<(), FileError> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(value);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(value);
                Ok(())
            }
            Some(Frame::Map { map, key, .. }) => {
                if let Some((k, _)) = key.take() {
                    map.insert(k, value);
                }
                Ok(())
            }
        }
    }

    fn key(&mut self, k: String, pos: Pos) -> Result<(), FileError> {
        if let Some(Frame::Map { map, key, path, .. }) = self.stack.last_mut() {
            if map.contains_key(&k) {
                let field = path.key(k.clone());
                return Err(self.err(pos, &field, format!("duplicate key `{k}`")));
            }
            *key = Some((k, pos));
        }
        Ok(())
    }

    fn event(&mut self, ev: Event<'_>, span: Span) -> Result<(), FileError> {
        let pos = pos_of(&span);
        match ev {
            Event::DocumentStart(_) => {
                self.docs += 1;
                if self.docs > 1 {
                    return Err(self.err(
                        pos,
                        &FieldPath::root(),
                        "a graph file holds one YAML document (found a second `---`)",
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let forced_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let is_key = self.slot(pos).is_none();
                if is_key {
                    return self.key(text.into_owned(), pos);
                }
                let v = if style == ScalarStyle::Plain && !forced_str {
                    plain_scalar(&text)
                } else {
                    Value::String(text.into_owned())
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                self.put(v)?;
            }
            Event::Alias(id) => {
                let v = self.anchors.get(&id).cloned().unwrap_or(Value::Null);
                match self.slot(pos) {
                    None => {
                        let k = match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        return self.key(k, pos);
                    }
                    Some(_) => self.put(v)?,
                }
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                let Some(path) = self.slot(pos) else {
                    let field = match self.stack.last() {
                        Some(Frame::Map { path, .. } | Frame::Seq { path, .. }) => path.clone(),
                        None => FieldPath::root(),
                    };
                    return Err(self.err(
                        pos,
                        &field,
                        "a mapping key must be a plain value, not a mapping or a list",
                    ));
                };
                self.stack.push(if is_map {
                    Frame::Map { map: Map::new(), key: None, anchor, path }
                } else {
                    Frame::Seq { items: Vec::new(), anchor, path }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let (v, anchor) = match self.stack.pop() {
                    Some(Frame::Map { map, anchor, .. }) => (Value::Object(map), anchor),
                    Some(Frame::Seq { items, anchor, .. }) => (Value::Array(items), anchor),
                    None => return Ok(()),
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                self.put(v)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn plain_scalar(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = |t: &str, radix: u32| !t.is_empty() && t.chars().all(|c| c.is_digit(radix));
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits(unsigned, 10) {
        if let Ok(i) = s.parse::<i64>() {
            return Value::from(i);
        }
        if let Ok(u) = s.parse::<u64>() {
            return Value::from(u);
        }
    }
    if let Some(h) = s.strip_prefix("0x")
        && digits(h, 16)
        && let Ok(i) = i64::from_str_radix(h, 16)
    {
        return Value::from(i);
    }
    if let Some(o) = s.strip_prefix("0o")
        && digits(o, 8)
        && let Ok(i) = i64::from_str_radix(o, 8)
    {
        return Value::from(i);
    }
    let looks_float = unsigned.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '.')
        && unsigned.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && unsigned.chars().any(|c| c.is_ascii_digit());
    if looks_float
        && let Ok(f) = s.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(s.to_string())
}

fn parse_yaml(file: &str, text: &str) -> Result<Document, FileError> {
    let mut b = YamlBuilder {
        file: file.to_string(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        positions: HashMap::new(),
        root: None,
        docs: 0,
    };
    for item in Parser::new_from_str(text) {
        match item {
            Ok((ev, span)) => b.event(ev, span)?,
            Err(e) => {
                let m = e.marker();
                return Err(FileError {
                    file: file.to_string(),
                    pos: Pos { line: m.line(), column: m.col() + 1 },
                    field: String::new(),
                    message: format!("YAML syntax error: {}", e.info()),
                });
            }
        }
    }
    b.positions.entry(String::new()).or_insert(Pos { line: 1, column: 1 });
    Ok(Document {
        file: file.to_string(),
        value: b.root.unwrap_or(Value::Null),
        positions: b.positions,
    })
}

fn parse_json(file: &str, text: &str) -> Result<Document, FileError> {
    let value: Value = serde_json::from_str(text).map_err(|e| FileError {
        file: file.to_string(),
        pos: Pos { line: e.line(), column: e.column().max(1) },
        field: String::new(),
        message: format!("JSON syntax error: {e}")
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string(),
    })?;
    let mut scan = JsonScan {
        chars: text.chars().collect(),
        i: 0,
        line: 1,
        col: 1,
        positions: HashMap::new(),
    };
    scan.positions.insert(String::new(), Pos { line: 1, column: 1 });
    scan.skip_ws();
    scan.value(&FieldPath::root());
    Ok(Document { file: file.to_string(), value, positions: scan.positions })
}

/// Walks JSON text that `serde_json` already accepted, recording where each key and item is.
struct JsonScan {
    chars: Vec<char>,
    i: usize,
    line: usize,
    col: usize,
    positions: HashMap<String, Pos>,
}

impl JsonScan {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }
    fn pos(&self) -> Pos {
        Pos { line: self.line, column: self.col }
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }
    fn string(&mut self) -> String {
        let start = self.i;
        self.bump(); // opening quote
        while let Some(c) = self.bump() {
            match c {
                '\\' => {
                    self.bump();
                }
                '"' => break,
                _ => {}
            }
        }
        let raw: String = self.chars[start..self.i].iter().collect();
        serde_json::from_str(&raw).unwrap_or_default()
    }
    fn value(&mut self, path: &FieldPath) {
        match self.peek() {
            Some('{') => {
                self.bump();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some('}') | None => {
                            self.bump();
                            return;
                        }
                        Some(',') => {
                            self.bump();
                        }
                        Some('"') => {
                            let pos = self.pos();
                            let k = self.string();
                            let child = path.key(k);
                            self.positions.insert(child.pointer(), pos);
                            self.skip_ws();
                            self.bump(); // ':'
                            self.skip_ws();
                            self.value(&child);
                        }
                        Some(_) => {
                            self.bump();
                        }
                    }
                }
            }
            Some('[') => {
                self.bump();
                let mut n = 0;
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(']') | None => {
                            self.bump();
                            return;
                        }
                        Some(',') => {
                            self.bump();
                        }
                        Some(_) => {
                            let child = path.index(n);
                            self.positions.insert(child.pointer(), self.pos());
                            n += 1;
                            self.value(&child);
                        }
                    }
                }
            }
            Some('"') => {
                self.string();
            }
            Some(_) => {
                while self
                    .peek()
                    .is_some_and(|c| !matches!(c, ',' | '}' | ']') && !c.is_whitespace())
                {
                    self.bump();
                }
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_values_and_positions() {
        let text = "a: 1\nb:\n  - x\n  - {c: true, d: 2.5}\ne: ~\nf: '3'\ng: |\n  hi\n";
        let d = Document::parse("f.yaml", text, Syntax::Yaml).unwrap();
        assert_eq!(
            d.value,
            json!({"a": 1, "b": ["x", {"c": true, "d": 2.5}], "e": null, "f": "3", "g": "hi\n"})
        );
        assert_eq!(d.pos(&FieldPath::parse("b[1].d")), Pos { line: 4, column: 15 });
        assert_eq!(d.pos(&FieldPath::parse("b[0]")), Pos { line: 3, column: 5 });
        assert_eq!(d.pos(&FieldPath::parse("e")), Pos { line: 5, column: 1 });
        assert_eq!(d.pos(&FieldPath::parse("b[1].zz")), Pos { line: 4, column: 5 });
    }

    #[test]
    fn yaml_errors_name_line_and_column() {
        let e = Document::parse("f.yaml", "a: [1, 2\nb: 3\n", Syntax::Yaml).unwrap_err();
        assert_eq!(e.file, "f.yaml");
        assert!(e.message.starts_with("YAML syntax error"), "{e}");
        let e = Document::parse("f.yaml", "a: 1\na: 2\n", Syntax::Yaml).unwrap_err();
        assert_eq!((e.pos.line, e.field.as_str()), (2, "a"));
        assert!(e.message.contains("duplicate key"));
    }

    #[test]
    fn anchors_and_aliases_copy_values() {
        let d = Document::parse("f.yaml", "x: &v {a: 1}\ny: *v\n", Syntax::Yaml).unwrap();
        assert_eq!(d.value, json!({"x": {"a": 1}, "y": {"a": 1}}));
    }

    #[test]
    fn json_positions_and_errors() {
        let text =
            "{\n\t\"graphs\": {\n\t\t\"a\": \"./a.yaml\"\n\t},\n  \"list\": [1, {\"k\": \"v\"}]\n}";
        let d = Document::parse("l.json", text, Syntax::Json).unwrap();
        assert_eq!(d.pos(&FieldPath::parse("graphs.a")), Pos { line: 3, column: 3 });
        assert_eq!(d.pos(&FieldPath::parse("list[1].k")), Pos { line: 5, column: 16 });
        let e = Document::parse("l.json", "{\n \"a\": ,\n}", Syntax::Json).unwrap_err();
        assert_eq!(e.pos.line, 2);
        assert!(e.message.starts_with("JSON syntax error"), "{e}");
    }

    #[test]
    fn paths_print_and_parse() {
        let p = FieldPath::parse("nodes.agent.tools[1]");
        assert_eq!(p.to_string(), "nodes.agent.tools[1]");
        assert_eq!(p.0.len(), 4);
    }
}
