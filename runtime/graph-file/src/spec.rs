//! The graph file format: what a `.yaml` / `.json` graph file may contain. These types are the
//! single source of the published JSON Schema (`assets/schema/graph.schema.json`).

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

/// A declarative graph: state channels, nodes of built-in kinds, edges, and the configurable
/// fields its assistants can set.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Orrery graph file")]
pub struct GraphFile {
    /// The schema this file follows (for editors).
    #[serde(rename = "$schema", default)]
    pub schema: Option<String>,
    /// The graph's name (shown in drawings); the graph id in `langgraph.json` is used when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// What the graph does.
    #[serde(default)]
    pub description: Option<String>,
    /// State channels by key.
    pub state: IndexMap<String, ChannelSpec>,
    /// Fields of `config.configurable` the graph reads; they become the assistants' config schema.
    #[serde(default)]
    pub configurable: IndexMap<String, ConfigField>,
    /// State keys accepted as run input (default: all).
    #[serde(default)]
    pub input: Option<Vec<String>>,
    /// State keys returned as output (default: all).
    #[serde(default)]
    pub output: Option<Vec<String>>,
    /// Tools the graph defines besides the built-in ones (`http`, `command`), by name.
    #[serde(default)]
    pub tools: IndexMap<String, ToolSpec>,
    /// Nodes by name.
    pub nodes: IndexMap<String, NodeSpec>,
    /// Plain edges. `__start__` (or `START`) and `__end__` (or `END`) are the graph's ends.
    #[serde(default)]
    pub edges: Vec<EdgeSpec>,
    /// Edges whose destination a built-in condition chooses.
    #[serde(default)]
    pub conditional_edges: Vec<ConditionalEdgeSpec>,
    /// Assistants created with the graph at start-up, besides its default one.
    #[serde(default)]
    pub assistants: IndexMap<String, AssistantSpec>,
}

/// A state channel.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    /// How writes combine (default `replace`).
    #[serde(default)]
    pub reducer: ReducerSpec,
    /// The type of the value (for the state schema).
    #[serde(default, rename = "type")]
    pub ty: Option<ValueType>,
    /// The value before any write (`append` starts at `[]`, `sum` at `0` unless set).
    #[serde(default)]
    pub default: Option<Value>,
    /// What the channel holds.
    #[serde(default)]
    pub description: Option<String>,
}

/// How writes to a channel combine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReducerSpec {
    /// The last write wins (one write per step).
    #[default]
    #[serde(alias = "last_value")]
    Replace,
    /// LangGraph's `add_messages`: append, replace by id, remove.
    #[serde(alias = "add_messages")]
    Messages,
    /// Lists are concatenated; a single value is appended.
    Append,
    /// Numbers are added.
    Sum,
}

/// Value types of channels and configurable fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// Text.
    String,
    /// Any number.
    Number,
    /// A whole number.
    Integer,
    /// true / false.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
    /// A list of chat messages.
    Messages,
    /// Anything.
    Any,
}

/// A field of `config.configurable`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigField {
    /// Its type.
    #[serde(rename = "type", default = "any_type")]
    pub ty: ValueType,
    /// The value when neither the assistant nor the run sets it.
    #[serde(default)]
    pub default: Option<Value>,
    /// What it changes (shown in the assistant form).
    #[serde(default)]
    pub description: Option<String>,
    /// The allowed values.
    #[serde(default, rename = "enum")]
    pub choices: Option<Vec<Value>>,
}

fn any_type() -> ValueType {
    ValueType::Any
}

/// A node: one of the built-in kinds.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeSpec {
    /// Calls a chat model with the conversation; its answer (text and tool calls) is appended.
    ChatModel(Box<ChatModelNode>),
    /// Runs the tool calls of the last AI message; tool messages are appended.
    Tools(ToolsNode),
    /// Pauses for a human (`interrupt()`); the answer is merged into the state.
    Interrupt(InterruptNode),
    /// Writes templated values to the state.
    Set(SetNode),
    /// Runs another graph file as a subgraph (its own checkpoint namespace; state keys of the
    /// same name are shared).
    Subgraph(SubgraphNode),
}

impl NodeSpec {
    /// The kinds, as written in files.
    pub const KINDS: [&'static str; 5] = ["chat_model", "tools", "interrupt", "set", "subgraph"];
}

/// A `chat_model` node.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatModelNode {
    /// The model.
    pub model: ModelSpec,
    /// The system prompt, a template (`{{ configurable.system_prompt }}`).
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// The tools the model may call: built-in ones, or defined under `tools`.
    #[serde(default)]
    pub tools: Vec<String>,
    /// The messages channel (default `messages`).
    #[serde(default)]
    pub messages_key: Option<String>,
    /// What the node does.
    #[serde(default)]
    pub description: Option<String>,
    /// Retries of a failed model call (none when absent). By default only failures worth
    /// another try are retried: rate limits (429), server errors and overload (5xx), timeouts
    /// and lost connections — never a bad key (401) or a bad request (400).
    #[serde(default)]
    pub retry: Option<RetrySpec>,
}

/// A retry policy (LangGraph's `RetryPolicy`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Attempts in all, the first included (default 3).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Seconds before the first retry (default 0.5).
    #[serde(default = "default_initial")]
    pub initial_interval: f64,
    /// The wait is multiplied by this after each retry (default 2).
    #[serde(default = "default_backoff")]
    pub backoff_factor: f64,
    /// The longest wait, seconds (default 128).
    #[serde(default = "default_max_interval")]
    pub max_interval: f64,
    /// Adds up to a second of random wait (default true).
    #[serde(default = "default_true")]
    pub jitter: bool,
    /// The error classes to retry (default: `RateLimitError`, `InternalServerError`,
    /// `OverloadedError`, `APITimeoutError`, `APIConnectionError`).
    #[serde(default)]
    pub retry_on: Option<Vec<String>>,
}

fn default_attempts() -> u32 {
    3
}
fn default_initial() -> f64 {
    0.5
}
fn default_backoff() -> f64 {
    2.0
}
fn default_max_interval() -> f64 {
    128.0
}
fn default_true() -> bool {
    true
}

/// A chat model provider.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum ModelSpec {
    /// An offline model that answers from rules (demos and tests).
    Scripted(ScriptedModel),
    /// Any OpenAI-compatible chat-completions API (OpenAI, Azure-style proxies, vLLM,
    /// Ollama, LM Studio, OpenRouter...), streamed.
    #[serde(rename = "openai")]
    OpenAi(OpenAiModel),
    /// Anthropic's Messages API, streamed.
    Anthropic(AnthropicModel),
    /// The first of `models` whose `api_key` is set in the environment (a model without
    /// `api_key`, like the scripted one, is always available): e.g. a real provider when its
    /// key is set, else the scripted model.
    FirstAvailable(FirstAvailableModel),
}

impl ModelSpec {
    /// The providers, as written in files.
    pub const PROVIDERS: [&'static str; 4] = ["scripted", "openai", "anthropic", "first_available"];
}

/// `first_available`: candidates, tried in order at load time.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FirstAvailableModel {
    /// The candidates (not `first_available` themselves).
    pub models: Vec<ModelSpec>,
}

/// Text, or a secret taken from the environment.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TextOrSecret {
    /// Plain text.
    Text(String),
    /// `{env: NAME}`, or `{env: NAME, prefix: "Bearer "}`.
    Secret(SecretValue),
}

/// A value taken from the project's environment by name, with text before it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretValue {
    /// The variable's name.
    pub env: String,
    /// Written before the value (`Bearer `).
    #[serde(default)]
    pub prefix: Option<String>,
}

/// A real provider's model spec: its own fields, then the request options every provider
/// has (`headers`, `extra_body`, `timeout`), in that order.
macro_rules! provider_model {
    ($(#[$attr:meta])* pub struct $name:ident { $($(#[$fattr:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fattr])* pub $field: $ty,)*
            /// Extra request headers (values may be `{env: NAME}`).
            #[serde(default)]
            pub headers: IndexMap<String, TextOrSecret>,
            /// Extra fields merged into the request body (`null` takes a field out).
            #[serde(default)]
            pub extra_body: Map<String, Value>,
            /// Seconds to wait for the answer to start and between streamed chunks (default 60).
            #[serde(default)]
            pub timeout: Option<f64>,
        }
    };
}

provider_model! {
    /// An OpenAI-compatible chat-completions API.
    pub struct OpenAiModel {
        /// The model (`gpt-4o-mini`, `llama3.1`...).
        pub model: String,
        /// The API's base URL (default `https://api.openai.com/v1`); requests go to
        /// `{base_url}/chat/completions`.
        #[serde(default)]
        pub base_url: Option<String>,
        /// The key, sent as `Authorization: Bearer` (none for local servers that need none).
        #[serde(default)]
        pub api_key: Option<SecretRef>,
        /// Sampling temperature.
        #[serde(default)]
        pub temperature: Option<f64>,
        /// The longest answer, in tokens.
        #[serde(default)]
        pub max_tokens: Option<u64>,
        /// Nucleus sampling.
        #[serde(default)]
        pub top_p: Option<f64>,
        /// Stop sequences.
        #[serde(default)]
        pub stop: Option<Vec<String>>,
        /// Seed for reproducible sampling.
        #[serde(default)]
        pub seed: Option<i64>,
    }
}

provider_model! {
    /// Anthropic's Messages API.
    pub struct AnthropicModel {
        /// The model (`claude-sonnet-4-5`, `claude-haiku-4-5`...).
        pub model: String,
        /// The API's base URL (default `https://api.anthropic.com`); requests go to
        /// `{base_url}/v1/messages`.
        #[serde(default)]
        pub base_url: Option<String>,
        /// The key, sent as `x-api-key`.
        #[serde(default)]
        pub api_key: Option<SecretRef>,
        /// The `anthropic-version` header (default `2023-06-01`).
        #[serde(default)]
        pub anthropic_version: Option<String>,
        /// The longest answer, in tokens (default 1024).
        #[serde(default)]
        pub max_tokens: Option<u64>,
        /// Sampling temperature.
        #[serde(default)]
        pub temperature: Option<f64>,
        /// Nucleus sampling.
        #[serde(default)]
        pub top_p: Option<f64>,
        /// Top-k sampling.
        #[serde(default)]
        pub top_k: Option<u64>,
        /// Stop sequences.
        #[serde(default)]
        pub stop_sequences: Option<Vec<String>>,
    }
}

/// The scripted model: the first rule whose `when` matches the conversation answers.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptedModel {
    /// The model name reported in metadata (default `scripted`).
    #[serde(default)]
    pub name: Option<String>,
    /// Rules, tried in order.
    #[serde(default)]
    pub rules: Vec<ScriptRule>,
    /// The answer when no rule matches (a template).
    #[serde(default)]
    pub fallback: Option<String>,
    /// A pause between streamed tokens, in milliseconds.
    #[serde(default)]
    pub token_delay_ms: u64,
    /// A key the provider needs, from the project's env (checked at load time like a real
    /// provider's key; never shown).
    #[serde(default)]
    pub api_key: Option<SecretRef>,
}

/// A value taken from the project's environment by name.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// The variable's name.
    pub env: String,
}

/// One scripted answer.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptRule {
    /// When this rule answers (every condition given must hold; none = always).
    #[serde(default)]
    pub when: RuleMatch,
    /// The text of the answer (a template), streamed token by token.
    #[serde(default)]
    pub reply: Option<String>,
    /// Tool calls of the answer.
    #[serde(default)]
    pub tool_calls: Vec<ToolCallSpec>,
}

/// Conditions on the conversation.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleMatch {
    /// The kind of the last message.
    #[serde(default)]
    pub last: Option<MessageKind>,
    /// The last message contains one of these (case-insensitive).
    #[serde(default)]
    pub contains: Option<Words>,
    /// The last message contains none of these (case-insensitive).
    #[serde(default)]
    pub not_contains: Option<Words>,
    /// The last message is the result of this tool.
    #[serde(default)]
    pub tool: Option<String>,
    /// The system prompt contains one of these (case-insensitive).
    #[serde(default)]
    pub system_contains: Option<Words>,
}

/// One word or phrase, or several.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Words {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Words {
    /// The phrases, lowercased.
    pub fn lowered(&self) -> Vec<String> {
        match self {
            Words::One(s) => vec![s.to_lowercase()],
            Words::Many(v) => v.iter().map(|s| s.to_lowercase()).collect(),
        }
    }
}

/// Kinds of messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// From the user.
    Human,
    /// From the model.
    Ai,
    /// A tool's result.
    Tool,
    /// A system message.
    System,
}

/// A tool call the scripted model makes.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolCallSpec {
    /// The tool.
    pub name: String,
    /// Its arguments; strings are templates.
    #[serde(default)]
    pub args: Map<String, Value>,
}

/// A tool defined in the graph file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ToolSpec {
    /// An HTTP request built from the tool call's arguments (`{{ args.city }}`); the response
    /// (JSON or text) is the result; an error status is an error tool message.
    Http(HttpToolSpec),
    /// A local program: the tool call's arguments as JSON on its stdin, its stdout (JSON or
    /// text) the result; a non-zero exit is an error tool message with the end of its stderr.
    Command(CommandToolSpec),
}

impl ToolSpec {
    /// The kinds, as written in files.
    pub const KINDS: [&'static str; 2] = ["http", "command"];
}

/// HTTP methods of `http` tools.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum HttpMethod {
    /// GET (the default; no body unless `body` is given).
    #[default]
    #[serde(alias = "get")]
    GET,
    /// POST (the body is the call's arguments unless `body` is given).
    #[serde(alias = "post")]
    POST,
    /// PUT (like POST).
    #[serde(alias = "put")]
    PUT,
    /// PATCH (like POST).
    #[serde(alias = "patch")]
    PATCH,
    /// DELETE.
    #[serde(alias = "delete")]
    DELETE,
}

/// An `http` tool.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpToolSpec {
    /// What it does (the model reads this).
    #[serde(default)]
    pub description: Option<String>,
    /// The JSON Schema of its arguments (default: any object).
    #[serde(default)]
    pub parameters: Option<Value>,
    /// The method (default GET).
    #[serde(default)]
    pub method: HttpMethod,
    /// The URL, a template: `https://api.example.com/weather?q={{ args.city }}` (values from
    /// `args` are percent-encoded).
    pub url: String,
    /// Request headers: text (a template) or `{env: NAME, prefix: "Bearer "}`.
    #[serde(default)]
    pub headers: IndexMap<String, TextOrSecret>,
    /// The JSON body, whose strings are templates (default for POST, PUT and PATCH: the call's
    /// arguments).
    #[serde(default)]
    pub body: Option<Value>,
    /// Seconds to wait for the response (default 30).
    #[serde(default)]
    pub timeout: Option<f64>,
}

/// A `command` tool.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandToolSpec {
    /// What it does (the model reads this).
    #[serde(default)]
    pub description: Option<String>,
    /// The JSON Schema of its arguments (default: any object).
    #[serde(default)]
    pub parameters: Option<Value>,
    /// The program: a path relative to the graph file (`./tools/lookup.sh`), or a name looked
    /// up in PATH.
    pub command: String,
    /// Its command-line arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Its working directory, relative to the graph file (default: the graph file's folder).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Its environment besides PATH, HOME, LANG and TMPDIR: text or `{env: NAME}`.
    #[serde(default)]
    pub env: IndexMap<String, TextOrSecret>,
    /// Seconds before it is stopped (default 30).
    #[serde(default)]
    pub timeout: Option<f64>,
}

/// A `tools` node.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolsNode {
    /// The tools it may run, built-in or defined under `tools` (default: all).
    #[serde(default)]
    pub tools: Option<Vec<String>>,
    /// The messages channel (default `messages`).
    #[serde(default)]
    pub messages_key: Option<String>,
    /// What the node does.
    #[serde(default)]
    pub description: Option<String>,
}

/// An `interrupt` node.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InterruptNode {
    /// What the human is shown; strings are templates.
    #[serde(default)]
    pub payload: Option<Value>,
    /// Where the answer goes: a state key, or a dotted path under one (`review.decision`).
    #[serde(default)]
    pub resume_into: Option<String>,
    /// How the answer is written there: `merge` (objects are merged into what is there, other
    /// values replace it) or `replace` (nothing of an earlier answer stays).
    #[serde(default)]
    pub resume_mode: ResumeMode,
    /// What the node does.
    #[serde(default)]
    pub description: Option<String>,
}

/// How an interrupt's answer is written into the state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResumeMode {
    /// Objects merge into what is there; other values replace it.
    #[default]
    Merge,
    /// The answer replaces what is there.
    Replace,
}

/// A `set` node.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetNode {
    /// State key → value; strings are templates.
    pub update: IndexMap<String, Value>,
    /// What the node does.
    #[serde(default)]
    pub description: Option<String>,
}

/// A `subgraph` node.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubgraphNode {
    /// The graph file to run, relative to this file (`./research.yaml`).
    pub path: String,
    /// What the node does.
    #[serde(default)]
    pub description: Option<String>,
}

/// A plain edge.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeSpec {
    /// The source node (or `__start__`).
    pub from: String,
    /// The destination node (or `__end__`).
    pub to: String,
}

/// A conditional edge: either `condition` with `routes` (label → node), or `cases` tried in
/// order; `default` when nothing matches.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionalEdgeSpec {
    /// The source node.
    pub from: String,
    /// A condition whose result (`true`/`false`, or a value's text) picks a route.
    #[serde(default)]
    pub condition: Option<Condition>,
    /// Label → destination.
    #[serde(default)]
    pub routes: IndexMap<String, String>,
    /// Conditions tried in order; the first that holds picks its destination.
    #[serde(default)]
    pub cases: Vec<CaseSpec>,
    /// The destination when no route or case matches.
    #[serde(default)]
    pub default: Option<String>,
}

/// One case of a conditional edge.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseSpec {
    /// The condition (a `true`/`false` one).
    pub when: Condition,
    /// Where to go when it holds.
    pub to: String,
}

/// A built-in condition. Paths read the same context as templates (`state.approval.approved`,
/// `configurable.auto_approve`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The last message is an AI message with tool calls.
    HasToolCalls,
    /// The last AI message calls one of these tools.
    ToolCalled(Vec<String>),
    /// The value at `path` equals `value`.
    Equals(EqualsCondition),
    /// The value at `path` is one of `values`.
    In(InCondition),
    /// The label is the value at this path, as text (`null` when absent).
    Value(String),
}

/// `equals`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EqualsCondition {
    /// Where to look.
    pub path: String,
    /// What it must be.
    pub value: Value,
}

/// `in`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InCondition {
    /// Where to look.
    pub path: String,
    /// What it may be.
    pub values: Vec<Value>,
}

/// An assistant created with the graph.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssistantSpec {
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Its `config.configurable`.
    #[serde(default)]
    pub configurable: Map<String, Value>,
    /// Its metadata.
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// The JSON Schema of graph files, as published in `assets/schema/graph.schema.json`.
pub fn json_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(GraphFile)).unwrap_or(Value::Null)
}
