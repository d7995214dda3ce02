//! Graph files to engine graphs: read, check every reference (with the line of the field),
//! then build an [`orrery_engine::StateGraph`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use orrery_engine::{
    CompileOptions, END, Goto, NodeError, NodeOptions, Reducer, RetryPolicy, RunConfig, START,
    StateGraph,
};
use serde_json::{Map, Value, json};

use crate::env::{Env, Secret};
use crate::nodes::{InterruptRun, Rule, ScriptedNode, SetRun, ToolsRun, context};
use crate::providers::{ProviderNode, RETRYABLE, ToolSchema, Wire};
use crate::source::{Document, FieldPath, FileError, Pos, Seg, Syntax, check_value};
use crate::spec::{
    AnthropicModel, ChatModelNode, CommandToolSpec, Condition, ConditionalEdgeSpec,
    FirstAvailableModel, GraphFile, HttpMethod, HttpToolSpec, InterruptNode, ModelSpec, NodeSpec,
    OpenAiModel, ReducerSpec, ResumeMode, RetrySpec, ScriptedModel, SecretRef, SetNode,
    SubgraphNode, TextOrSecret, ToolSpec, ToolsNode, ValueType,
};
use crate::template::{Path as TPath, Template, ValueTemplate};
use crate::tool_kinds::{CommandTool, HeaderValue, HttpTool, Tool};
use crate::tools::{BUILTIN_TOOLS, builtin, builtin_names};

/// An assistant a graph file asks for, created at start-up.
#[derive(Debug, Clone, PartialEq)]
pub struct AssistantPreset {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Its `config.configurable`.
    pub configurable: Map<String, Value>,
    /// Its metadata.
    pub metadata: Map<String, Value>,
}

/// A compiled graph file.
#[derive(Clone)]
pub struct LoadedGraph {
    /// The file as errors name it.
    pub file: String,
    /// `name` from the file.
    pub name: Option<String>,
    /// `description` from the file.
    pub description: Option<String>,
    /// The graph, ready for [`StateGraph::compile`].
    pub graph: StateGraph,
    /// JSON Schema of `configurable` (the assistants' config schema).
    pub config_schema: Value,
    /// JSON Schema of the state.
    pub state_schema: Value,
    /// Extra assistants.
    pub assistants: Vec<AssistantPreset>,
    /// Every file it was read from: its own and its subgraphs' (empty for text compiled
    /// without a path). What a reload watches.
    pub files: Vec<PathBuf>,
}

impl std::fmt::Debug for LoadedGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedGraph").field("file", &self.file).field("name", &self.name).finish()
    }
}

/// Reads and compiles the graph file at `path`; `shown` is how errors name it.
///
/// # Errors
/// An unreadable or malformed file, with the line, column and field.
pub fn load_graph_file(path: &Path, shown: &str, env: &Env) -> Result<LoadedGraph, FileError> {
    load_nested(path, shown, env, &[])
}

/// A graph file, read below the files in `stack` (its parents, to refuse cycles).
fn load_nested(
    path: &Path,
    shown: &str,
    env: &Env,
    stack: &[PathBuf],
) -> Result<LoadedGraph, FileError> {
    let text = std::fs::read_to_string(path).map_err(|e| FileError {
        file: shown.to_string(),
        pos: Pos { line: 1, column: 1 },
        field: String::new(),
        message: format!("cannot read the graph file: {e}"),
    })?;
    let me = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mut stack = stack.to_vec();
    stack.push(me);
    compile_inner(shown, &text, Syntax::of_path(shown), env, path.parent(), &stack)
}

/// Compiles graph file text (relative paths in it, such as a `command` tool's program, are
/// read from the current directory).
///
/// # Errors
/// A malformed file, with the line, column and field, and what was expected.
pub fn compile_text(
    file: &str,
    text: &str,
    syntax: Syntax,
    env: &Env,
) -> Result<LoadedGraph, FileError> {
    compile_text_at(file, text, syntax, env, None)
}

/// Compiles graph file text whose relative paths start at `base` (the file's folder).
///
/// # Errors
/// A malformed file, with the line, column and field, and what was expected.
pub fn compile_text_at(
    file: &str,
    text: &str,
    syntax: Syntax,
    env: &Env,
    base: Option<&Path>,
) -> Result<LoadedGraph, FileError> {
    compile_inner(file, text, syntax, env, base, &[])
}

fn compile_inner(
    file: &str,
    text: &str,
    syntax: Syntax,
    env: &Env,
    base: Option<&Path>,
    stack: &[PathBuf],
) -> Result<LoadedGraph, FileError> {
    let doc = Document::parse(file, text, syntax)?;
    if !doc.value.is_object() {
        return Err(doc.error(
            &FieldPath::root(),
            "expected a mapping with `state`, `nodes` and `edges` (see assets/schema/graph.schema.json)",
        ));
    }
    let spec: GraphFile = doc.deserialize_at(&FieldPath::root()).map_err(|e| refine(&doc, e))?;
    let base_dir = match base {
        Some(b) if !b.as_os_str().is_empty() => b.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut c = Compiler {
        doc: &doc,
        spec: &spec,
        env,
        base_dir,
        file_tools: Vec::new(),
        stack,
        files: std::cell::RefCell::new(stack.last().cloned().into_iter().collect()),
    };
    c.file_tools = c.build_tools()?;
    c.compile()
}

/// Errors inside a node or a model are reported by serde at the node (tagged enums buffer
/// their content): re-check that part alone to name the exact field.
fn refine(doc: &Document, e: FileError) -> FileError {
    let path = FieldPath::parse(&e.field);
    match path.0.as_slice() {
        [Seg::Key(n), Seg::Key(_), ..] if n == "nodes" => {
            let node_path = FieldPath(path.0[..2].to_vec());
            refine_node(doc, &node_path).unwrap_or(e)
        }
        [Seg::Key(n), Seg::Key(_), ..] if n == "tools" => {
            let tool_path = FieldPath(path.0[..2].to_vec());
            refine_tool(doc, &tool_path).unwrap_or(e)
        }
        _ => e,
    }
}

fn without(v: &Value, key: &str) -> Value {
    match v {
        Value::Object(m) => {
            let mut m = m.clone();
            m.remove(key);
            Value::Object(m)
        }
        other => other.clone(),
    }
}

fn refine_node(doc: &Document, at: &FieldPath) -> Option<FileError> {
    let node = doc.get(at)?;
    if !node.is_object() {
        return None;
    }
    let kinds = NodeSpec::KINDS.map(|k| format!("`{k}`")).join(", ");
    let Some(kind) = node.get("kind") else {
        return Some(doc.error(at, format!("missing field `kind`: expected one of {kinds}")));
    };
    let rest = without(node, "kind");
    let result = match kind.as_str() {
        Some("chat_model") => check_value::<ChatModelNode>(&rest).err(),
        Some("tools") => check_value::<ToolsNode>(&rest).err(),
        Some("interrupt") => check_value::<InterruptNode>(&rest).err(),
        Some("set") => check_value::<SetNode>(&rest).err(),
        Some("subgraph") => check_value::<SubgraphNode>(&rest).err(),
        _ => {
            return Some(doc.error(
                &at.key("kind"),
                format!("unknown node kind {kind}: expected one of {kinds}"),
            ));
        }
    };
    let (rel, msg) = result?;
    let mut full = at.clone();
    full.0.extend(rel.0.clone());
    if kind.as_str() == Some("chat_model") && rel.0.first() == Some(&Seg::Key("model".into())) {
        let model_at = at.key("model");
        if let Some(e) = refine_model(doc, &model_at) {
            return Some(e);
        }
    }
    Some(doc.refine(full, msg))
}

fn refine_tool(doc: &Document, at: &FieldPath) -> Option<FileError> {
    let tool = doc.get(at)?;
    if !tool.is_object() {
        return None;
    }
    let kinds = ToolSpec::KINDS.map(|k| format!("`{k}`")).join(", ");
    let Some(kind) = tool.get("kind") else {
        return Some(doc.error(at, format!("missing field `kind`: expected one of {kinds}")));
    };
    let rest = without(tool, "kind");
    let result = match kind.as_str() {
        Some("http") => check_value::<HttpToolSpec>(&rest).err(),
        Some("command") => check_value::<CommandToolSpec>(&rest).err(),
        _ => {
            return Some(doc.error(
                &at.key("kind"),
                format!("unknown tool kind {kind}: expected one of {kinds}"),
            ));
        }
    };
    let (rel, msg) = result?;
    let mut full = at.clone();
    full.0.extend(rel.0);
    Some(doc.refine(full, msg))
}

fn refine_model(doc: &Document, at: &FieldPath) -> Option<FileError> {
    let model = doc.get(at)?;
    if !model.is_object() {
        return None;
    }
    let providers = ModelSpec::PROVIDERS.map(|p| format!("`{p}`")).join(", ");
    let Some(provider) = model.get("provider") else {
        return Some(
            doc.error(at, format!("missing field `provider`: expected one of {providers}")),
        );
    };
    let rest = without(model, "provider");
    let result = match provider.as_str() {
        Some("scripted") => check_value::<ScriptedModel>(&rest).err(),
        Some("openai") => check_value::<OpenAiModel>(&rest).err(),
        Some("anthropic") => check_value::<AnthropicModel>(&rest).err(),
        Some("first_available") => {
            if let Some(Value::Array(list)) = rest.get("models") {
                for i in 0..list.len() {
                    if let Some(e) = refine_model(doc, &at.key("models").index(i)) {
                        return Some(e);
                    }
                }
            }
            check_value::<FirstAvailableModel>(&rest).err()
        }
        _ => {
            return Some(doc.error(
                &at.key("provider"),
                format!("unknown model provider {provider}: expected one of {providers}"),
            ));
        }
    };
    let (rel, msg) = result?;
    let mut full = at.clone();
    full.0.extend(rel.0);
    Some(doc.refine(full, msg))
}

fn normalize(name: &str) -> &str {
    match name {
        "START" | "__start__" => START,
        "END" | "__end__" => END,
        other => other,
    }
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::String => "string",
        ValueType::Number => "number",
        ValueType::Integer => "integer",
        ValueType::Boolean => "boolean",
        ValueType::Object => "object",
        ValueType::Array | ValueType::Messages => "array",
        ValueType::Any => "any",
    }
}

fn fits(t: ValueType, v: &Value) -> bool {
    match t {
        ValueType::String => v.is_string(),
        ValueType::Number => v.is_number(),
        ValueType::Integer => v.is_i64() || v.is_u64(),
        ValueType::Boolean => v.is_boolean(),
        ValueType::Object => v.is_object(),
        ValueType::Array | ValueType::Messages => v.is_array(),
        ValueType::Any => true,
    }
}

fn schema_of(t: ValueType) -> Value {
    match t {
        ValueType::Any => json!({}),
        ValueType::Messages => json!({"type": "array", "items": {"type": "object"}}),
        other => json!({"type": type_name(other)}),
    }
}

struct Compiler<'a> {
    doc: &'a Document,
    spec: &'a GraphFile,
    env: &'a Env,
    /// Where relative paths start.
    base_dir: PathBuf,
    /// The tools the file defines.
    file_tools: Vec<Tool>,
    /// The files this one is a subgraph of, itself last (absolute paths).
    stack: &'a [PathBuf],
    /// Every file read: this one and its subgraphs'.
    files: std::cell::RefCell<Vec<PathBuf>>,
}

type Res<T> = Result<T, FileError>;

impl Compiler<'_> {
    fn at(path: &str) -> FieldPath {
        FieldPath::parse(path)
    }

    fn err(&self, path: &FieldPath, msg: impl Into<String>) -> FileError {
        self.doc.error(path, msg)
    }

    fn node_list(&self) -> String {
        let mut names: Vec<&str> = self.spec.nodes.keys().map(String::as_str).collect();
        names.push("__start__");
        names.push("__end__");
        names.join(", ")
    }

    fn state_keys(&self) -> String {
        self.spec.state.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
    }

    /// The messages channel: the first with the `messages` reducer, else `messages`.
    fn default_messages_key(&self) -> String {
        self.spec
            .state
            .iter()
            .find(|(_, c)| c.reducer == ReducerSpec::Messages)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| "messages".into())
    }

    fn messages_key(&self, given: Option<&String>, field: &FieldPath) -> Res<String> {
        let key = given.cloned().unwrap_or_else(|| self.default_messages_key());
        if !self.spec.state.contains_key(&key) {
            return Err(self.err(
                field,
                format!(
                    "the messages channel `{key}` is not a state key; state keys are: {}",
                    self.state_keys()
                ),
            ));
        }
        Ok(key)
    }

    fn check_paths<'p>(
        &self,
        paths: impl Iterator<Item = &'p TPath>,
        field: &FieldPath,
    ) -> Res<()> {
        for p in paths {
            if let Some(k) = p.key_under("state")
                && !self.spec.state.contains_key(k)
            {
                return Err(self.err(
                    field,
                    format!("the state has no key `{k}`; its keys are: {}", self.state_keys()),
                ));
            }
        }
        Ok(())
    }

    fn template(&self, text: &str, field: &FieldPath) -> Res<Template> {
        let t = Template::parse(text).map_err(|e| self.err(field, e))?;
        self.check_paths(t.paths(), field)?;
        Ok(t)
    }

    fn value_template(&self, v: &Value, field: &FieldPath) -> Res<ValueTemplate> {
        let t = ValueTemplate::parse(v).map_err(|(sub, e)| {
            let path = if sub.is_empty() {
                field.clone()
            } else {
                let mut f = field.clone();
                f.0.extend(FieldPath::parse(&sub).0);
                f
            };
            self.err(&path, e)
        })?;
        let mut paths = Vec::new();
        collect_paths(&t, &mut paths);
        self.check_paths(paths.into_iter(), field)?;
        Ok(t)
    }

    fn tool_list(&self, names: &[String], field: &FieldPath) -> Res<Vec<Tool>> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                if let Some(t) = self.file_tools.iter().find(|t| t.name() == n) {
                    return Ok(t.clone());
                }
                builtin(n).map(Tool::Builtin).ok_or_else(|| {
                    let mut defined: Vec<&str> = self.file_tools.iter().map(Tool::name).collect();
                    if defined.is_empty() {
                        defined.push("none");
                    }
                    self.err(
                        &field.index(i),
                        format!(
                            "unknown tool `{n}`: the built-in tools are {}; the file's `tools` are {}",
                            builtin_names(),
                            defined.join(", ")
                        ),
                    )
                })
            })
            .collect()
    }

    /// The tools the file defines under `tools`, checked.
    fn build_tools(&self) -> Res<Vec<Tool>> {
        let mut out = Vec::new();
        for (name, spec) in &self.spec.tools {
            let at = Self::at("tools").key(name.clone());
            if builtin(name).is_some() {
                return Err(self.err(
                    &at,
                    format!("`{name}` is the name of a built-in tool: choose another name"),
                ));
            }
            if name.is_empty()
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(self.err(
                    &at,
                    format!("`{name}` cannot name a tool (letters, digits, `_` and `-` only)"),
                ));
            }
            let object = json!({"type": "object", "properties": {}});
            out.push(match spec {
                ToolSpec::Http(h) => {
                    let url = self.template(&h.url, &at.key("url"))?;
                    let head = h.url.split("{{").next().unwrap_or_default();
                    if !(head.starts_with("http://") || head.starts_with("https://")) {
                        return Err(
                            self.err(&at.key("url"), format!("`{}` is not an http(s) URL", h.url))
                        );
                    }
                    let mut headers = Vec::new();
                    let mut secrets = Vec::new();
                    for (k, v) in &h.headers {
                        let field = at.key("headers").key(k.clone());
                        if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
                            return Err(self.err(&field, format!("`{k}` is not a header name")));
                        }
                        let value = match v {
                            TextOrSecret::Text(t) => HeaderValue::Text(self.template(t, &field)?),
                            TextOrSecret::Secret(sv) => {
                                let r = SecretRef { env: sv.env.clone() };
                                let value = self.secret(&r, &field, false)?.ok_or_else(|| {
                                    self.err(&field.key("env"), "no value for this secret")
                                })?;
                                secrets.push(value.clone());
                                HeaderValue::Secret {
                                    prefix: sv.prefix.clone().unwrap_or_default(),
                                    value,
                                }
                            }
                        };
                        headers.push((k.clone(), value));
                    }
                    let body = match &h.body {
                        Some(b) => Some(self.value_template(b, &at.key("body"))?),
                        None => None,
                    };
                    let method = match h.method {
                        HttpMethod::GET => reqwest::Method::GET,
                        HttpMethod::POST => reqwest::Method::POST,
                        HttpMethod::PUT => reqwest::Method::PUT,
                        HttpMethod::PATCH => reqwest::Method::PATCH,
                        HttpMethod::DELETE => reqwest::Method::DELETE,
                    };
                    Tool::Http(Arc::new(HttpTool {
                        name: name.clone(),
                        description: h
                            .description
                            .clone()
                            .unwrap_or_else(|| format!("{method} {}", h.url)),
                        parameters: h.parameters.clone().unwrap_or(object),
                        method,
                        url,
                        headers,
                        body,
                        timeout: self.tool_timeout(h.timeout, &at.key("timeout"))?,
                        secrets,
                    }))
                }
                ToolSpec::Command(c) => {
                    let program = if c.command.contains('/') {
                        let p = self.base_dir.join(&c.command);
                        if !p.is_file() {
                            return Err(self.err(
                                &at.key("command"),
                                format!(
                                    "no such program `{}` (looked for {})",
                                    c.command,
                                    p.display()
                                ),
                            ));
                        }
                        p
                    } else if c.command.trim().is_empty() {
                        return Err(self.err(&at.key("command"), "expected a program"));
                    } else {
                        PathBuf::from(&c.command)
                    };
                    let cwd = match &c.cwd {
                        Some(d) => {
                            let p = self.base_dir.join(d);
                            if !p.is_dir() {
                                return Err(self.err(
                                    &at.key("cwd"),
                                    format!("no such folder `{d}` (looked for {})", p.display()),
                                ));
                            }
                            p
                        }
                        None => self.base_dir.clone(),
                    };
                    let (env, _) = self.headers(&c.env, &at.key("env"), false, false)?;
                    Tool::Command(Arc::new(CommandTool {
                        name: name.clone(),
                        description: c
                            .description
                            .clone()
                            .unwrap_or_else(|| format!("Runs {}", c.command)),
                        parameters: c.parameters.clone().unwrap_or(object),
                        program,
                        args: c.args.clone(),
                        cwd,
                        env,
                        timeout: self.tool_timeout(c.timeout, &at.key("timeout"))?,
                    }))
                }
            });
        }
        Ok(out)
    }

    fn tool_timeout(&self, t: Option<f64>, at: &FieldPath) -> Res<Duration> {
        match t {
            None => Ok(Duration::from_secs(30)),
            Some(_) => self.timeout(t, at),
        }
    }

    fn condition_path(&self, p: &str, field: &FieldPath) -> Res<TPath> {
        let path = TPath::parse(p).map_err(|e| self.err(field, e))?;
        self.check_paths(std::iter::once(&path), field)?;
        Ok(path)
    }

    fn target(&self, name: &str, field: &FieldPath) -> Res<String> {
        let n = normalize(name);
        if n == START {
            return Err(self.err(field, "an edge cannot lead to __start__"));
        }
        if n != END && !self.spec.nodes.contains_key(n) {
            return Err(self.err(
                field,
                format!("unknown node `{name}`; the nodes are: {}", self.node_list()),
            ));
        }
        Ok(n.to_string())
    }

    fn source(&self, name: &str, field: &FieldPath) -> Res<String> {
        let n = normalize(name);
        if n == END {
            return Err(self.err(field, "an edge cannot leave __end__"));
        }
        if n != START && !self.spec.nodes.contains_key(n) {
            return Err(self.err(
                field,
                format!("unknown node `{name}`; the nodes are: {}", self.node_list()),
            ));
        }
        Ok(n.to_string())
    }

    fn compile(&self) -> Res<LoadedGraph> {
        let spec = self.spec;
        let mut g = StateGraph::new();
        let mut state_props = Map::new();

        // State channels.
        for (key, ch) in &spec.state {
            let at = Self::at("state").key(key.clone());
            let ty = ch.ty.unwrap_or(match ch.reducer {
                ReducerSpec::Messages => ValueType::Messages,
                ReducerSpec::Append => ValueType::Array,
                ReducerSpec::Sum => ValueType::Number,
                ReducerSpec::Replace => ValueType::Any,
            });
            let ok = match ch.reducer {
                ReducerSpec::Messages => matches!(ty, ValueType::Messages | ValueType::Array),
                ReducerSpec::Append => {
                    matches!(ty, ValueType::Array | ValueType::Messages | ValueType::Any)
                }
                ReducerSpec::Sum => matches!(ty, ValueType::Number | ValueType::Integer),
                ReducerSpec::Replace => true,
            };
            if !ok {
                return Err(self.err(
                    &at.key("reducer"),
                    format!(
                        "reducer `{}` does not fit type `{}`: messages takes a message list, append a list, sum a number",
                        reducer_name(ch.reducer),
                        type_name(ty)
                    ),
                ));
            }
            if let Some(d) = &ch.default
                && !fits(ty, d)
            {
                return Err(self.err(
                    &at.key("default"),
                    format!("expected a {} default, got {d}", type_name(ty)),
                ));
            }
            let reducer = match ch.reducer {
                ReducerSpec::Messages => Reducer::AddMessages,
                ReducerSpec::Replace => match &ch.default {
                    None => Reducer::LastValue,
                    Some(d) => Reducer::custom("replace", d.clone(), |_, new| Ok(new)),
                },
                ReducerSpec::Append => Reducer::custom(
                    "append",
                    ch.default.clone().unwrap_or_else(|| json!([])),
                    |old, new| {
                        let mut list = match old {
                            Value::Array(a) => a,
                            Value::Null => Vec::new(),
                            other => vec![other],
                        };
                        match new {
                            Value::Array(a) => list.extend(a),
                            other => list.push(other),
                        }
                        Ok(Value::Array(list))
                    },
                ),
                ReducerSpec::Sum => {
                    let k = key.clone();
                    Reducer::custom(
                        "sum",
                        ch.default.clone().unwrap_or_else(|| json!(0)),
                        move |old, new| {
                            add_numbers(&old, &new).ok_or_else(|| {
                                orrery_engine::Error::InvalidUpdate {
                                    message: format!(
                                        "At key '{k}': the sum reducer adds numbers, got {new}"
                                    ),
                                }
                            })
                        },
                    )
                }
            };
            g = g.channel(key.clone(), reducer);
            let mut prop = schema_of(ty);
            if let Some(d) = &ch.description {
                prop["description"] = json!(d);
            }
            state_props.insert(key.clone(), prop);
        }
        for (name, keys) in [("input", &spec.input), ("output", &spec.output)] {
            if let Some(keys) = keys {
                for (i, k) in keys.iter().enumerate() {
                    if !spec.state.contains_key(k) {
                        return Err(self.err(
                            &Self::at(name).index(i),
                            format!(
                                "`{k}` is not a state key; state keys are: {}",
                                self.state_keys()
                            ),
                        ));
                    }
                }
                g = if name == "input" {
                    g.input_keys(keys.clone())
                } else {
                    g.output_keys(keys.clone())
                };
            }
        }

        // Configurable fields.
        let mut defaults = Map::new();
        let mut conf_props = Map::new();
        for (key, f) in &spec.configurable {
            let at = Self::at("configurable").key(key.clone());
            let mut prop = schema_of(f.ty);
            if let Some(d) = &f.default {
                if !fits(f.ty, d) {
                    return Err(self.err(
                        &at.key("default"),
                        format!("expected a {} default, got {d}", type_name(f.ty)),
                    ));
                }
                prop["default"] = d.clone();
                defaults.insert(key.clone(), d.clone());
            }
            if let Some(d) = &f.description {
                prop["description"] = json!(d);
            }
            if let Some(c) = &f.choices {
                prop["enum"] = json!(c);
            }
            conf_props.insert(key.clone(), prop);
        }
        let defaults = Arc::new(defaults);

        // Nodes.
        for (name, node) in &spec.nodes {
            let at = Self::at("nodes").key(name.clone());
            if matches!(name.as_str(), "__start__" | "__end__" | "START" | "END")
                || name.contains(':')
                || name.contains('|')
            {
                return Err(self.err(
                    &at,
                    format!("`{name}` cannot name a node (reserved, or contains `:` or `|`)"),
                ));
            }
            let opts = node_options(node);
            g = match node {
                NodeSpec::ChatModel(n) => self.chat_model(g, name, n, &at, &defaults, opts)?,
                NodeSpec::Tools(n) => {
                    let tools = match &n.tools {
                        Some(list) => self.tool_list(list, &at.key("tools"))?,
                        None => BUILTIN_TOOLS
                            .iter()
                            .map(Tool::Builtin)
                            .chain(self.file_tools.iter().cloned())
                            .collect(),
                    };
                    let run = Arc::new(ToolsRun {
                        tools,
                        messages_key: self
                            .messages_key(n.messages_key.as_ref(), &at.key("messages_key"))?,
                        defaults: Arc::clone(&defaults),
                    });
                    g.add_node_with(
                        name.clone(),
                        move |state, ctx| {
                            let run = Arc::clone(&run);
                            async move { run.call(&state, &ctx).await }
                        },
                        opts,
                    )
                }
                NodeSpec::Interrupt(n) => {
                    let payload = match &n.payload {
                        Some(p) => self.value_template(p, &at.key("payload"))?,
                        None => ValueTemplate::Lit(json!({"question": "Continue?"})),
                    };
                    let resume_into = match &n.resume_into {
                        None => None,
                        Some(p) => {
                            let mut parts = p.split('.').map(str::to_string);
                            let key = parts.next().unwrap_or_default();
                            if !spec.state.contains_key(&key) {
                                return Err(self.err(
                                    &at.key("resume_into"),
                                    format!(
                                        "`{key}` is not a state key; state keys are: {}",
                                        self.state_keys()
                                    ),
                                ));
                            }
                            Some((key, parts.collect()))
                        }
                    };
                    let run = Arc::new(InterruptRun {
                        payload,
                        resume_into,
                        replace: n.resume_mode == ResumeMode::Replace,
                        messages_key: self.default_messages_key(),
                        defaults: Arc::clone(&defaults),
                    });
                    g.add_fn_with(name.clone(), move |state, ctx| run.call(&state, &ctx), opts)
                }
                NodeSpec::Set(n) => {
                    let mut update = Vec::new();
                    for (k, v) in &n.update {
                        let field = at.key("update").key(k.clone());
                        if !spec.state.contains_key(k) {
                            return Err(self.err(
                                &field,
                                format!(
                                    "`{k}` is not a state key; state keys are: {}",
                                    self.state_keys()
                                ),
                            ));
                        }
                        update.push((k.clone(), self.value_template(v, &field)?));
                    }
                    let run = Arc::new(SetRun {
                        update,
                        messages_key: self.default_messages_key(),
                        defaults: Arc::clone(&defaults),
                    });
                    g.add_fn_with(name.clone(), move |state, ctx| Ok(run.call(&state, &ctx)), opts)
                }
                NodeSpec::Subgraph(n) => {
                    let child = self.subgraph(n, &at)?;
                    g.add_subgraph(name.clone(), child)
                }
            };
        }

        // Edges.
        let mut has_entry = false;
        for (i, e) in spec.edges.iter().enumerate() {
            let at = Self::at("edges").index(i);
            let from = self.source(&e.from, &at.key("from"))?;
            let to = self.target(&e.to, &at.key("to"))?;
            has_entry |= from == START;
            g = g.add_edge(from, to);
        }
        for (i, ce) in spec.conditional_edges.iter().enumerate() {
            let at = Self::at("conditional_edges").index(i);
            let from = self.source(&ce.from, &at.key("from"))?;
            has_entry |= from == START;
            g = self.conditional(g, from, ce, &at, &defaults)?;
        }
        if !has_entry {
            return Err(self.err(
                &Self::at("edges"),
                "no edge leaves __start__: add `{from: __start__, to: <first node>}`",
            ));
        }

        // The engine's own checks (reachability, ...), reported against the file.
        if let Err(e) = g.clone().compile(CompileOptions::default()) {
            let msg = e.to_string();
            let node = msg.split('`').nth(1).filter(|n| spec.nodes.contains_key(*n));
            let at = node.map_or_else(FieldPath::root, |n| Self::at("nodes").key(n));
            return Err(self.err(&at, msg));
        }

        let mut assistants = Vec::new();
        for (name, a) in &spec.assistants {
            let at = Self::at("assistants").key(name.clone());
            for (k, v) in &a.configurable {
                if let Some(f) = spec.configurable.get(k)
                    && !fits(f.ty, v)
                {
                    return Err(self.err(
                        &at.key("configurable").key(k.clone()),
                        format!(
                            "expected a {} (the type of configurable.{k}), got {v}",
                            type_name(f.ty)
                        ),
                    ));
                }
            }
            assistants.push(AssistantPreset {
                name: name.clone(),
                description: a.description.clone(),
                configurable: a.configurable.clone(),
                metadata: a.metadata.clone(),
            });
        }

        let title = spec.name.clone().unwrap_or_else(|| "LangGraph".into());
        Ok(LoadedGraph {
            file: self.doc.file.clone(),
            name: spec.name.clone(),
            description: spec.description.clone(),
            graph: g,
            config_schema: json!({"title": "Configurable", "type": "object", "properties": conf_props}),
            state_schema: json!({"title": title, "type": "object", "properties": state_props}),
            assistants,
            files: self.files.borrow().clone(),
        })
    }

    fn chat_model(
        &self,
        g: StateGraph,
        name: &str,
        n: &ChatModelNode,
        at: &FieldPath,
        defaults: &Arc<Map<String, Value>>,
        mut opts: NodeOptions,
    ) -> Res<StateGraph> {
        let tools = self.tool_list(&n.tools, &at.key("tools"))?;
        let messages_key = self.messages_key(n.messages_key.as_ref(), &at.key("messages_key"))?;
        let system_prompt = match &n.system_prompt {
            Some(s) => Some(self.template(s, &at.key("system_prompt"))?),
            None => None,
        };
        let setup = ModelSetup { n, tools: &tools, system_prompt, messages_key, defaults };
        let mat = at.key("model");
        let (model, provider, model_name) = match &n.model {
            ModelSpec::FirstAvailable(f) => {
                let mut chosen = None;
                let mut wanted = Vec::new();
                for (i, m) in f.models.iter().enumerate() {
                    let cat = mat.key("models").index(i);
                    if matches!(m, ModelSpec::FirstAvailable(_)) {
                        return Err(self.err(
                            &cat.key("provider"),
                            "a `first_available` candidate cannot be `first_available` itself",
                        ));
                    }
                    // Every candidate is checked, the chosen one or not.
                    let built = self.model(m, &cat, &setup, true)?;
                    match api_key_of(m) {
                        Some(k) if self.env.get(&k.env).is_none() => wanted.push(k.env.clone()),
                        _ => {
                            if chosen.is_none() {
                                chosen = Some(built);
                            }
                        }
                    }
                }
                chosen.ok_or_else(|| {
                    self.err(
                        &mat.key("models"),
                        if wanted.is_empty() {
                            "`first_available` needs at least one model".to_string()
                        } else {
                            format!(
                                "no model is available: set one of {} (or add a model without `api_key`, like the scripted one)",
                                wanted.join(", ")
                            )
                        },
                    )
                })?
            }
            m => self.model(m, &mat, &setup, false)?,
        };
        opts.metadata.insert("provider".into(), json!(provider));
        if let Some(m) = model_name {
            opts.metadata.insert("model".into(), json!(m));
        }
        if let Some(r) = &n.retry {
            opts.retry = Some(self.retry(r, &at.key("retry"))?);
        }
        Ok(match model {
            BuiltModel::Scripted(node) => g.add_node_with(
                name.to_string(),
                move |state, ctx| {
                    let node = Arc::clone(&node);
                    async move { node.call(state, ctx).await }
                },
                opts,
            ),
            BuiltModel::Provider(node) => g.add_node_with(
                name.to_string(),
                move |state, ctx| {
                    let node = Arc::clone(&node);
                    async move { node.call(state, ctx).await }
                },
                opts,
            ),
        })
    }

    /// A `subgraph` node's graph: its file read (relative to this one) and compiled; a file
    /// that is already one of its parents is a cycle.
    fn subgraph(&self, n: &SubgraphNode, at: &FieldPath) -> Res<orrery_engine::CompiledGraph> {
        let field = at.key("path");
        let path = self.base_dir.join(&n.path);
        if !path.is_file() {
            return Err(self.err(
                &field,
                format!("no such graph file `{}` (looked for {})", n.path, path.display()),
            ));
        }
        let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
        if let Some(i) = self.stack.iter().position(|p| *p == canonical) {
            let chain: Vec<String> = self.stack[i..]
                .iter()
                .chain(std::iter::once(&canonical))
                .map(|p| {
                    p.file_name().map_or_else(
                        || p.display().to_string(),
                        |f| f.to_string_lossy().into_owned(),
                    )
                })
                .collect();
            return Err(self.err(
                &field,
                format!("graph files include each other in a cycle: {}", chain.join(" -> ")),
            ));
        }
        let shown = shown_path(&self.doc.file, &n.path);
        let child = load_nested(&path, &shown, self.env, self.stack)?;
        self.files.borrow_mut().extend(child.files.iter().cloned());
        child
            .graph
            .compile(CompileOptions { name: child.name.clone(), ..Default::default() })
            .map_err(|e| self.err(&field, format!("{shown}: {e}")))
    }

    fn retry(&self, r: &RetrySpec, at: &FieldPath) -> Res<RetryPolicy> {
        if r.max_attempts == 0 {
            return Err(
                self.err(&at.key("max_attempts"), "expected at least 1 (the first attempt counts)")
            );
        }
        for (k, v) in [
            ("initial_interval", r.initial_interval),
            ("backoff_factor", r.backoff_factor),
            ("max_interval", r.max_interval),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(
                    self.err(&at.key(k), format!("expected a number of seconds >= 0, got {v}"))
                );
            }
        }
        Ok(RetryPolicy {
            initial_interval: r.initial_interval,
            backoff_factor: r.backoff_factor,
            max_interval: r.max_interval,
            max_attempts: r.max_attempts,
            jitter: r.jitter,
            retry_on: Some(
                r.retry_on
                    .clone()
                    .unwrap_or_else(|| RETRYABLE.iter().map(|s| s.to_string()).collect()),
            ),
        })
    }

    fn secret(&self, key: &SecretRef, field: &FieldPath, optional: bool) -> Res<Option<Secret>> {
        match self.env.get(&key.env) {
            Some(v) => Ok(Some(v)),
            None if optional => Ok(None),
            None => Err(self.err(
                &field.key("env"),
                format!(
                    "the environment has no `{}`: set it in langgraph.json's env (or its .env file) or in the server's environment",
                    key.env
                ),
            )),
        }
    }

    /// Headers (or env) with their secrets; also the bare secret values, for redaction.
    fn headers(
        &self,
        h: &indexmap::IndexMap<String, TextOrSecret>,
        at: &FieldPath,
        optional: bool,
        check_names: bool,
    ) -> Res<Headers> {
        let (mut out, mut secrets) = (Vec::new(), Vec::new());
        for (k, v) in h {
            let field = at.key(k.clone());
            if check_names && reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
                return Err(self.err(&field, format!("`{k}` is not a header name")));
            }
            let value = match v {
                TextOrSecret::Text(t) => Secret::new(t.clone()),
                TextOrSecret::Secret(s) => {
                    let r = SecretRef { env: s.env.clone() };
                    match self.secret(&r, &field, optional)? {
                        Some(v) => {
                            secrets.push(v.clone());
                            Secret::new(format!(
                                "{}{}",
                                s.prefix.as_deref().unwrap_or(""),
                                v.expose()
                            ))
                        }
                        None => continue,
                    }
                }
            };
            out.push((k.clone(), value));
        }
        Ok((out, secrets))
    }

    fn base_url(&self, given: Option<&String>, default: &str, at: &FieldPath) -> Res<String> {
        let url = given.map_or(default, String::as_str).trim_end_matches('/').to_string();
        match reqwest::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(url),
            _ => Err(self.err(at, format!("`{url}` is not an http(s) URL"))),
        }
    }

    fn timeout(&self, t: Option<f64>, at: &FieldPath) -> Res<Duration> {
        match t {
            None => Ok(Duration::from_secs(60)),
            Some(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => Ok(Duration::from_secs_f64(s)),
            Some(s) => Err(self.err(at, format!("expected seconds between 0 and 3600, got {s}"))),
        }
    }

    /// A real provider's node (OpenAI or Anthropic): its key, headers, base URL and timeout
    /// checked, the parameters that are set and `extra_body` in its request body.
    fn provider(
        &self,
        p: ProviderParts<'_>,
        mat: &FieldPath,
        s: &ModelSetup<'_>,
        optional: bool,
    ) -> Res<ProviderNode> {
        let mut params: Map<String, Value> =
            p.params.into_iter().filter_map(|(k, v)| Some((k.to_string(), v?))).collect();
        params.extend(p.extra_body.clone());
        let api_key = match p.api_key {
            Some(k) => self.secret(k, &mat.key("api_key"), optional)?,
            None => None,
        };
        let (headers, secrets) = self.headers(p.headers, &mat.key("headers"), optional, true)?;
        Ok(ProviderNode {
            wire: p.wire,
            model: p.model.to_string(),
            base_url: self.base_url(p.base_url, p.default_base_url, &mat.key("base_url"))?,
            api_key,
            api_key_env: p.api_key.map(|k| k.env.clone()),
            headers,
            secrets,
            params,
            timeout: self.timeout(p.timeout, &mat.key("timeout"))?,
            anthropic_version: p.anthropic_version,
            tools: s.tool_schemas(),
            system_prompt: s.system_prompt.clone(),
            messages_key: s.messages_key.clone(),
            defaults: Arc::clone(s.defaults),
        })
    }

    /// One model: checked and built. `optional`: a missing key makes it unavailable instead
    /// of an error (a `first_available` candidate).
    fn model(
        &self,
        m: &ModelSpec,
        mat: &FieldPath,
        s: &ModelSetup<'_>,
        optional: bool,
    ) -> Res<(BuiltModel, &'static str, Option<String>)> {
        match m {
            ModelSpec::Scripted(m) => {
                if let Some(key) = &m.api_key {
                    self.secret(key, &mat.key("api_key"), optional)?;
                }
                let node = self.scripted(m, mat, s)?;
                let name = node.model_name.clone();
                Ok((BuiltModel::Scripted(Arc::new(node)), "scripted", Some(name)))
            }
            ModelSpec::OpenAi(m) => {
                let node = self.provider(
                    ProviderParts {
                        wire: Wire::OpenAi,
                        default_base_url: "https://api.openai.com/v1",
                        model: &m.model,
                        base_url: m.base_url.as_ref(),
                        api_key: m.api_key.as_ref(),
                        headers: &m.headers,
                        timeout: m.timeout,
                        params: vec![
                            ("temperature", m.temperature.map(|x| json!(x))),
                            ("max_tokens", m.max_tokens.map(|x| json!(x))),
                            ("top_p", m.top_p.map(|x| json!(x))),
                            ("stop", m.stop.as_ref().map(|x| json!(x))),
                            ("seed", m.seed.map(|x| json!(x))),
                        ],
                        extra_body: &m.extra_body,
                        anthropic_version: String::new(),
                    },
                    mat,
                    s,
                    optional,
                )?;
                Ok((BuiltModel::Provider(Arc::new(node)), "openai", Some(m.model.clone())))
            }
            ModelSpec::Anthropic(m) => {
                let node = self.provider(
                    ProviderParts {
                        wire: Wire::Anthropic,
                        default_base_url: "https://api.anthropic.com",
                        model: &m.model,
                        base_url: m.base_url.as_ref(),
                        api_key: m.api_key.as_ref(),
                        headers: &m.headers,
                        timeout: m.timeout,
                        params: vec![
                            ("max_tokens", Some(json!(m.max_tokens.unwrap_or(1024)))),
                            ("temperature", m.temperature.map(|x| json!(x))),
                            ("top_p", m.top_p.map(|x| json!(x))),
                            ("top_k", m.top_k.map(|x| json!(x))),
                            ("stop_sequences", m.stop_sequences.as_ref().map(|x| json!(x))),
                        ],
                        extra_body: &m.extra_body,
                        anthropic_version: m
                            .anthropic_version
                            .clone()
                            .unwrap_or_else(|| "2023-06-01".into()),
                    },
                    mat,
                    s,
                    optional,
                )?;
                Ok((BuiltModel::Provider(Arc::new(node)), "anthropic", Some(m.model.clone())))
            }
            ModelSpec::FirstAvailable(_) => Err(self.err(
                &mat.key("provider"),
                "`first_available` can only be a node's model, not a candidate",
            )),
        }
    }

    fn scripted(
        &self,
        m: &ScriptedModel,
        mat: &FieldPath,
        s: &ModelSetup<'_>,
    ) -> Res<ScriptedNode> {
        let n = s.n;
        let mut rules = Vec::new();
        for (i, r) in m.rules.iter().enumerate() {
            let rat = mat.key("rules").index(i);
            let reply = match &r.reply {
                Some(t) => Some(self.template(t, &rat.key("reply"))?),
                None => None,
            };
            let mut calls = Vec::new();
            for (j, c) in r.tool_calls.iter().enumerate() {
                let cat = rat.key("tool_calls").index(j);
                if !n.tools.contains(&c.name) {
                    return Err(self.err(
                        &cat.key("name"),
                        format!(
                            "the rule calls `{}`, which is not one of this node's tools ({})",
                            c.name,
                            if n.tools.is_empty() {
                                "none".to_string()
                            } else {
                                n.tools.join(", ")
                            }
                        ),
                    ));
                }
                calls.push((
                    c.name.clone(),
                    self.value_template(&Value::Object(c.args.clone()), &cat.key("args"))?,
                ));
            }
            if let Some(t) = &r.when.tool
                && !n.tools.contains(t)
            {
                return Err(self.err(
                    &rat.key("when").key("tool"),
                    format!("`{t}` is not one of this node's tools ({})", n.tools.join(", ")),
                ));
            }
            rules.push(Rule { when: r.when.clone(), reply, tool_calls: calls });
        }
        let fallback = match &m.fallback {
            Some(t) => Some(self.template(t, &mat.key("fallback"))?),
            None => None,
        };
        Ok(ScriptedNode {
            model_name: m.name.clone().unwrap_or_else(|| "scripted".into()),
            rules,
            fallback,
            token_delay: Duration::from_millis(m.token_delay_ms.min(10_000)),
            system_prompt: s.system_prompt.clone(),
            messages_key: s.messages_key.clone(),
            defaults: Arc::clone(s.defaults),
        })
    }

    fn condition(&self, c: &Condition, field: &FieldPath, boolean: bool) -> Res<Cond> {
        Ok(match c {
            Condition::HasToolCalls => Cond::HasToolCalls,
            Condition::ToolCalled(names) => Cond::ToolCalled(names.clone()),
            Condition::Equals(e) => Cond::Equals(
                self.condition_path(&e.path, &field.key("equals").key("path"))?,
                e.value.clone(),
            ),
            Condition::In(e) => Cond::In(
                self.condition_path(&e.path, &field.key("in").key("path"))?,
                e.values.clone(),
            ),
            Condition::Value(p) => {
                if boolean {
                    return Err(self.err(field, "a case needs a true/false condition (has_tool_calls, tool_called, equals, in), not `value`"));
                }
                Cond::Value(self.condition_path(p, &field.key("value"))?)
            }
        })
    }

    fn conditional(
        &self,
        g: StateGraph,
        from: String,
        ce: &ConditionalEdgeSpec,
        at: &FieldPath,
        defaults: &Arc<Map<String, Value>>,
    ) -> Res<StateGraph> {
        let default = match &ce.default {
            Some(d) => Some(self.target(d, &at.key("default"))?),
            None => None,
        };
        let messages_key = self.default_messages_key();
        let defaults = Arc::clone(defaults);
        match (&ce.condition, ce.cases.is_empty()) {
            (Some(c), true) => {
                if ce.routes.is_empty() {
                    return Err(self.err(&at.key("routes"), "a condition needs `routes`: label → node, e.g. {\"true\": tools, \"false\": __end__}"));
                }
                let cond = self.condition(c, &at.key("condition"), false)?;
                let mut path_map = Vec::new();
                for (label, to) in &ce.routes {
                    path_map.push((label.clone(), self.target(to, &at.key("routes").key(label.clone()))?));
                }
                let labels: HashSet<String> = ce.routes.keys().cloned().collect();
                if let Some(d) = &default
                    && !labels.contains("default")
                {
                    path_map.push(("default".into(), d.clone()));
                }
                let (src, has_default) = (from.clone(), default.is_some());
                Ok(g.add_conditional_edges(
                    from,
                    move |state: &Value, config: &RunConfig| {
                        let cx = context(state, &config.configurable, &defaults, &messages_key);
                        let label = cond.label(&cx);
                        if labels.contains(&label) {
                            Ok(vec![Goto::Node(label)])
                        } else if has_default {
                            Ok(vec![Goto::Node("default".into())])
                        } else {
                            Err(NodeError::failed(
                                "ValueError",
                                format!("conditional edge from `{src}`: no route for `{label}` and no default"),
                            ))
                        }
                    },
                    Some(path_map),
                ))
            }
            (None, false) => {
                if !ce.routes.is_empty() {
                    return Err(self.err(&at.key("routes"), "`routes` go with `condition`; with `cases`, each case names its `to`"));
                }
                let mut cases = Vec::new();
                for (i, c) in ce.cases.iter().enumerate() {
                    let cat = at.key("cases").index(i);
                    let cond = self.condition(&c.when, &cat.key("when"), true)?;
                    cases.push((cond, self.target(&c.to, &cat.key("to"))?));
                }
                let mut targets: Vec<String> = cases.iter().map(|(_, t)| t.clone()).collect();
                targets.extend(default.clone());
                targets.dedup();
                let mut seen = HashSet::new();
                let path_map: Vec<(String, String)> =
                    targets.into_iter().filter(|t| seen.insert(t.clone())).map(|t| (t.clone(), t)).collect();
                let src = from.clone();
                Ok(g.add_conditional_edges(
                    from,
                    move |state: &Value, config: &RunConfig| {
                        let cx = context(state, &config.configurable, &defaults, &messages_key);
                        match cases.iter().find(|(c, _)| c.label(&cx) == "true") {
                            Some((_, to)) => Ok(vec![Goto::Node(to.clone())]),
                            None => match &default {
                                Some(d) => Ok(vec![Goto::Node(d.clone())]),
                                None => Err(NodeError::failed(
                                    "ValueError",
                                    format!("conditional edge from `{src}`: no case holds and no default"),
                                )),
                            },
                        }
                    },
                    Some(path_map),
                ))
            }
            _ => Err(self.err(at, "a conditional edge has either `condition` (with `routes`) or `cases`, not both and not neither")),
        }
    }
}

/// How errors name a file included by `parent` as `rel`: beside the parent, `./` parts dropped.
fn shown_path(parent: &str, rel: &str) -> String {
    let dir = Path::new(parent).parent().unwrap_or_else(|| Path::new(""));
    let mut out = PathBuf::new();
    for c in dir.join(rel).components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.display().to_string()
}

/// Header (or env) values, and the bare secrets among them (for redaction).
type Headers = (Vec<(String, Secret)>, Vec<Secret>);

/// What the OpenAI and Anthropic model specs share, for [`Compiler::provider`].
struct ProviderParts<'a> {
    wire: Wire,
    default_base_url: &'static str,
    model: &'a str,
    base_url: Option<&'a String>,
    api_key: Option<&'a SecretRef>,
    headers: &'a indexmap::IndexMap<String, TextOrSecret>,
    timeout: Option<f64>,
    /// Request parameters, in order; those that are `None` are left out.
    params: Vec<(&'static str, Option<Value>)>,
    extra_body: &'a Map<String, Value>,
    anthropic_version: String,
}

/// What a chat model node needs to build its model.
struct ModelSetup<'a> {
    n: &'a ChatModelNode,
    tools: &'a [Tool],
    system_prompt: Option<Template>,
    messages_key: String,
    defaults: &'a Arc<Map<String, Value>>,
}

impl ModelSetup<'_> {
    fn tool_schemas(&self) -> Vec<ToolSchema> {
        self.tools.iter().map(Tool::schema).collect()
    }
}

enum BuiltModel {
    Scripted(Arc<ScriptedNode>),
    Provider(Arc<ProviderNode>),
}

fn api_key_of(m: &ModelSpec) -> Option<&SecretRef> {
    match m {
        ModelSpec::Scripted(m) => m.api_key.as_ref(),
        ModelSpec::OpenAi(m) => m.api_key.as_ref(),
        ModelSpec::Anthropic(m) => m.api_key.as_ref(),
        ModelSpec::FirstAvailable(_) => None,
    }
}

/// What the graph drawing shows of a node: its kind (and provider, tools, description).
fn node_options(node: &NodeSpec) -> NodeOptions {
    let mut m = Map::new();
    let (kind, description) = match node {
        NodeSpec::ChatModel(n) => {
            if !n.tools.is_empty() {
                m.insert("tools".into(), json!(n.tools));
            }
            ("chat_model", &n.description)
        }
        NodeSpec::Tools(n) => {
            if let Some(t) = &n.tools {
                m.insert("tools".into(), json!(t));
            }
            ("tools", &n.description)
        }
        NodeSpec::Interrupt(n) => ("interrupt", &n.description),
        NodeSpec::Set(n) => ("set", &n.description),
        NodeSpec::Subgraph(n) => {
            m.insert("path".into(), json!(n.path));
            ("subgraph", &n.description)
        }
    };
    m.insert("kind".into(), json!(kind));
    if let Some(d) = description {
        m.insert("description".into(), json!(d));
    }
    NodeOptions { metadata: m, ..Default::default() }
}

fn reducer_name(r: ReducerSpec) -> &'static str {
    match r {
        ReducerSpec::Replace => "replace",
        ReducerSpec::Messages => "messages",
        ReducerSpec::Append => "append",
        ReducerSpec::Sum => "sum",
    }
}

fn add_numbers(a: &Value, b: &Value) -> Option<Value> {
    let a = if a.is_null() { &json!(0) } else { a };
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x.checked_add(y).map(Value::from),
        _ => {
            let s = a.as_f64()? + b.as_f64()?;
            serde_json::Number::from_f64(s).map(Value::Number)
        }
    }
}

fn collect_paths<'t>(t: &'t ValueTemplate, out: &mut Vec<&'t TPath>) {
    match t {
        ValueTemplate::Str(s) => out.extend(s.paths()),
        ValueTemplate::List(a) => a.iter().for_each(|x| collect_paths(x, out)),
        ValueTemplate::Map(m) => m.iter().for_each(|(_, x)| collect_paths(x, out)),
        ValueTemplate::Lit(_) => {}
    }
}

/// A built-in condition, ready to evaluate.
enum Cond {
    HasToolCalls,
    ToolCalled(Vec<String>),
    Equals(TPath, Value),
    In(TPath, Vec<Value>),
    Value(TPath),
}

fn tool_calls(cx: &Value) -> Vec<&str> {
    let last = &cx["last_message"];
    // The same reading of a message's kind as the tools node's (chunks and roles included).
    if crate::nodes::kind_of(last) != "ai" {
        return Vec::new();
    }
    last.get("tool_calls")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|c| c.get("name").and_then(Value::as_str)).collect())
        .unwrap_or_default()
}

impl Cond {
    fn label(&self, cx: &Value) -> String {
        let b = |x: bool| if x { "true".to_string() } else { "false".to_string() };
        match self {
            Cond::HasToolCalls => b(!tool_calls(cx).is_empty()),
            Cond::ToolCalled(names) => {
                b(tool_calls(cx).iter().any(|n| names.iter().any(|x| x == n)))
            }
            Cond::Equals(p, v) => b(p.get(cx).unwrap_or(&Value::Null) == v),
            Cond::In(p, vs) => b(vs.contains(p.get(cx).unwrap_or(&Value::Null))),
            Cond::Value(p) => match p.get(cx) {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => "null".into(),
            },
        }
    }
}
