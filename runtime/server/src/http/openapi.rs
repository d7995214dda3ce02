//! The API's description: one table of endpoints ([`Endpoint`]) from which both the router
//! (`http::router`) and the OpenAPI 3.1 document served at `GET /openapi.json` are made, so
//! the document lists exactly the routes the server serves. Request and response bodies
//! refer to the schemas in `openapi/schemas.json` (hand-written, committed with the code).

use std::sync::{Arc, OnceLock};

use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter, on};
use serde_json::{Map, Value, json};

use crate::AppState;

/// The component schemas the endpoints refer to.
const SCHEMAS: &str = include_str!("../../openapi/schemas.json");

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    fn filter(self) -> MethodFilter {
        match self {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Patch => MethodFilter::PATCH,
            Method::Delete => MethodFilter::DELETE,
        }
    }

    /// The lower-case name OpenAPI keys operations by.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }
}

/// A schema: a component by name, an array of one, or inline JSON Schema text.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Schema {
    Ref(&'static str),
    ArrayOf(&'static str),
    Inline(&'static str),
}

impl Schema {
    fn to_json(self) -> Value {
        match self {
            Schema::Ref(name) => json!({"$ref": format!("#/components/schemas/{name}")}),
            Schema::ArrayOf(name) => {
                json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}})
            }
            Schema::Inline(text) => serde_json::from_str(text).unwrap_or_else(|e| {
                tracing::error!("an inline schema of the API description is not JSON: {e}");
                Value::Null
            }),
        }
    }
}

/// What a successful request answers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reply {
    /// A JSON body with this status.
    Json(u16, Schema),
    /// A `text/event-stream` of server-sent events.
    Events,
    /// No body.
    Empty(u16),
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum In {
    Query,
    Header,
}

/// A query or header parameter (path parameters come from the path).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Param {
    pub(crate) name: &'static str,
    pub(crate) at: In,
    /// JSON Schema text.
    pub(crate) schema: &'static str,
    pub(crate) description: &'static str,
}

/// A query parameter.
pub(crate) const fn query(
    name: &'static str,
    schema: &'static str,
    description: &'static str,
) -> Param {
    Param { name, at: In::Query, schema, description }
}

/// A header parameter.
pub(crate) const fn header(
    name: &'static str,
    schema: &'static str,
    description: &'static str,
) -> Param {
    Param { name, at: In::Header, schema, description }
}

/// One route: what serves it and how the API description shows it.
pub(crate) struct Endpoint {
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    pub(crate) router: MethodRouter<Arc<AppState>>,
    tag: &'static str,
    summary: &'static str,
    description: Option<&'static str>,
    params: Vec<Param>,
    body: Option<Schema>,
    reply: Reply,
    errors: Vec<u16>,
    /// `{assistant_id}` also takes a graph name.
    graph_name: bool,
}

impl Endpoint {
    /// `method path`, served by `handler`, described as `summary` under `tag`.
    pub(crate) fn new<H, T>(
        method: Method,
        path: &'static str,
        handler: H,
        tag: &'static str,
        summary: &'static str,
    ) -> Endpoint
    where
        H: Handler<T, Arc<AppState>>,
        T: 'static,
    {
        Endpoint {
            method,
            path,
            router: on(method.filter(), handler),
            tag,
            summary,
            description: None,
            params: Vec::new(),
            body: None,
            reply: Reply::Json(200, Schema::Inline("{}")),
            errors: Vec::new(),
            graph_name: false,
        }
    }

    /// A longer description.
    pub(crate) fn describe(mut self, text: &'static str) -> Endpoint {
        self.description = Some(text);
        self
    }

    /// The JSON request body's schema.
    pub(crate) fn body(mut self, schema: Schema) -> Endpoint {
        self.body = Some(schema);
        self
    }

    /// What success answers.
    pub(crate) fn reply(mut self, reply: Reply) -> Endpoint {
        self.reply = reply;
        self
    }

    /// A 200 JSON answer.
    pub(crate) fn json(self, schema: Schema) -> Endpoint {
        self.reply(Reply::Json(200, schema))
    }

    /// Query and header parameters.
    pub(crate) fn params(mut self, params: &[Param]) -> Endpoint {
        self.params.extend_from_slice(params);
        self
    }

    /// Error statuses it answers with (`{"detail": ...}`).
    pub(crate) fn errors(mut self, codes: &[u16]) -> Endpoint {
        self.errors.extend_from_slice(codes);
        self
    }

    /// `{assistant_id}` is a UUID or a graph name.
    pub(crate) fn graph_name_ok(mut self) -> Endpoint {
        self.graph_name = true;
        self
    }

    /// `{name}` segments of the path.
    pub(crate) fn path_params(&self) -> Vec<&'static str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect()
    }

    fn operation_id(&self) -> String {
        let mut id = String::from(self.method.as_str());
        for seg in self.path.split('/').filter(|s| !s.is_empty()) {
            id.push('_');
            match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(p) => {
                    id.push_str("by_");
                    id.push_str(p);
                }
                None => id.push_str(&seg.replace('-', "_")),
            }
        }
        if self.path == "/" {
            id.push_str("_root");
        }
        id
    }

    fn path_param_json(&self, name: &str) -> Value {
        let (schema, description) = match name {
            "assistant_id" if self.graph_name => (
                json!({"anyOf": [{"type": "string", "format": "uuid"}, {"type": "string"}]}),
                "The assistant's id, or a graph name (its system assistant).",
            ),
            "assistant_id" => (json!({"type": "string", "format": "uuid"}), "The assistant's id."),
            "thread_id" => (json!({"type": "string", "format": "uuid"}), "The thread's id."),
            "run_id" => (json!({"type": "string", "format": "uuid"}), "The run's id."),
            "cron_id" => (json!({"type": "string", "format": "uuid"}), "The cron's id."),
            "checkpoint_id" => (json!({"type": "string"}), "A checkpoint's id."),
            "namespace" => (
                json!({"type": "string"}),
                "A subgraph namespace, `|`-separated for nested subgraphs (`parent|child`).",
            ),
            _ => (json!({"type": "string"}), ""),
        };
        json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
    }

    fn operation(&self) -> Value {
        let mut op = Map::new();
        op.insert("tags".into(), json!([self.tag]));
        op.insert("summary".into(), json!(self.summary));
        if let Some(d) = self.description {
            op.insert("description".into(), json!(d));
        }
        op.insert("operationId".into(), json!(self.operation_id()));
        let mut params: Vec<Value> =
            self.path_params().into_iter().map(|p| self.path_param_json(p)).collect();
        for p in &self.params {
            params.push(json!({
                "name": p.name,
                "in": if p.at == In::Query { "query" } else { "header" },
                "required": false,
                "description": p.description,
                "schema": Schema::Inline(p.schema).to_json(),
            }));
        }
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        if let Some(b) = self.body {
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": b.to_json()}}}),
            );
        }
        let mut responses = Map::new();
        match self.reply {
            Reply::Json(status, schema) => {
                responses.insert(
                    status.to_string(),
                    json!({"description": "Success", "content": {"application/json": {"schema": schema.to_json()}}}),
                );
            }
            Reply::Events => {
                responses.insert(
                    "200".into(),
                    json!({
                        "description": "Server-sent events: `event: <name>`, `data: <JSON>`, an `id:` where the stream has ids; a `: heartbeat` comment every 5 s.",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    }),
                );
            }
            Reply::Empty(status) => {
                responses.insert(status.to_string(), json!({"description": "Success"}));
            }
        }
        for code in &self.errors {
            let reason = axum::http::StatusCode::from_u16(*code)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Error");
            responses.insert(
                code.to_string(),
                json!({"description": reason, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}),
            );
        }
        op.insert("responses".into(), Value::Object(responses));
        Value::Object(op)
    }
}

/// The tags, in the order the document lists them.
const TAGS: [(&str, &str); 7] = [
    ("System", "Health and server information."),
    ("Assistants", "An assistant is a configured instance of a graph."),
    ("Threads", "A thread holds the state (checkpoints) a sequence of runs builds up."),
    ("Thread Runs", "A run executes an assistant's graph on a thread."),
    ("Stateless Runs", "Runs on a temporary thread, deleted afterwards unless kept."),
    ("Crons", "Runs on a schedule, on a thread or on a new thread each time."),
    ("Store", "A key-value store of JSON documents by namespace, shared by every thread."),
];

/// The OpenAPI document of `endpoints`.
pub(crate) fn document_of(endpoints: &[Endpoint]) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for e in endpoints {
        let entry = paths.entry(e.path.to_string()).or_insert_with(|| json!({}));
        if let Some(ops) = entry.as_object_mut() {
            ops.insert(e.method.as_str().into(), e.operation());
        }
    }
    let schemas: Value = serde_json::from_str(SCHEMAS).unwrap_or_else(|e| {
        tracing::error!("openapi/schemas.json is not JSON: {e}");
        json!({})
    });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Orrery",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The Orrery agent server: the LangGraph Server HTTP API (assistants, threads, runs, crons, store) over the orrery engine. Errors are `{\"detail\": \"...\"}` with the status code unless noted.",
        },
        "tags": TAGS.iter().map(|(name, d)| json!({"name": name, "description": d})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

/// The document of the API this server serves (made once).
pub(crate) fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| document_of(&super::endpoints()))
}

/// Every `$ref` target in a JSON value.
#[cfg(test)]
fn refs(v: &Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if k == "$ref"
                    && let Some(r) = x.as_str()
                {
                    out.insert(r.to_string());
                } else {
                    refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::{BTreeMap, BTreeSet};

    use super::{Method, Reply, SCHEMAS, Schema, document_of, refs};
    use crate::http::endpoints;

    #[test]
    fn the_document_lists_exactly_the_routes_of_the_table() {
        let table = endpoints();
        let doc = document_of(&table);
        assert_eq!(doc["openapi"], "3.1.0");
        // The table has no route twice (the router would panic on it too).
        let mut seen = BTreeSet::new();
        for e in &table {
            assert!(seen.insert((e.path, e.method)), "{} {} twice", e.method.as_str(), e.path);
        }
        let mut want: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for e in &table {
            want.entry(e.path).or_default().insert(e.method.as_str());
        }
        let paths = doc["paths"].as_object().unwrap();
        let got: BTreeMap<&str, BTreeSet<&str>> = paths
            .iter()
            .map(|(p, ops)| {
                (p.as_str(), ops.as_object().unwrap().keys().map(String::as_str).collect())
            })
            .collect();
        assert_eq!(got, want);
        // Operation ids are unique; every path parameter is declared.
        let mut ids = BTreeSet::new();
        for (path, ops) in paths {
            for (method, op) in ops.as_object().unwrap() {
                assert!(
                    ids.insert(op["operationId"].as_str().unwrap().to_string()),
                    "{method} {path}"
                );
                let declared: BTreeSet<&str> = op["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .filter(|p| p["in"] == "path")
                            .map(|p| p["name"].as_str().unwrap())
                            .collect()
                    })
                    .unwrap_or_default();
                let in_path: BTreeSet<&str> = path
                    .split('/')
                    .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                    .collect();
                assert_eq!(declared, in_path, "{method} {path}");
                assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
            }
        }
        assert!(table.iter().any(|e| e.path == "/openapi.json" && e.method == Method::Get));
    }

    #[test]
    fn every_schema_reference_resolves_and_every_schema_is_used() {
        let schemas: serde_json::Value =
            serde_json::from_str(SCHEMAS).expect("schemas.json parses");
        let names: BTreeSet<String> = schemas
            .as_object()
            .unwrap()
            .keys()
            .map(|k| format!("#/components/schemas/{k}"))
            .collect();
        let doc = document_of(&endpoints());
        let mut used = BTreeSet::new();
        refs(&doc, &mut used);
        for r in &used {
            assert!(names.contains(r), "{r} is referenced but not defined");
        }
        // Schemas referenced only from other schemas count as used.
        let mut from_paths = BTreeSet::new();
        refs(&doc["paths"], &mut from_paths);
        let mut reachable = from_paths.clone();
        let mut todo: Vec<String> = from_paths.into_iter().collect();
        while let Some(r) = todo.pop() {
            let name = r.trim_start_matches("#/components/schemas/");
            let mut inner = BTreeSet::new();
            refs(&schemas[name], &mut inner);
            for i in inner {
                if reachable.insert(i.clone()) {
                    todo.push(i);
                }
            }
        }
        let unused: Vec<&String> = names.difference(&reachable).collect();
        assert!(unused.is_empty(), "schemas no route uses: {unused:?}");
    }

    #[test]
    fn inline_schemas_are_json_and_parameters_are_described() {
        for e in endpoints() {
            let inline = e.params.iter().map(|p| p.schema).chain(
                [
                    e.body,
                    match e.reply {
                        Reply::Json(_, s) => Some(s),
                        _ => None,
                    },
                ]
                .into_iter()
                .flatten()
                .filter_map(|s| match s {
                    Schema::Inline(t) => Some(t),
                    _ => None,
                }),
            );
            for text in inline {
                let v: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|err| {
                    panic!("{} {}: {text}: {err}", e.method.as_str(), e.path)
                });
                assert!(v.is_object(), "{text}");
            }
            for p in &e.params {
                assert!(!p.description.is_empty(), "{} {} {}", e.method.as_str(), e.path, p.name);
            }
            for p in e.path_params() {
                assert!(
                    !e.path_param_json(p)["description"].as_str().unwrap().is_empty(),
                    "{} has no description",
                    p
                );
            }
        }
    }
}
