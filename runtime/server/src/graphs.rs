//! The graphs a runtime serves, and their system assistants: the bundled ones (`echo`, and
//! the `jarvis` example graph file), or a project's (`langgraph.json`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use orrery_engine::messages::message;
use orrery_engine::{CompileOptions, CompiledGraph, END, Reducer, START, StateGraph};
use orrery_graph_file::{Env, GraphSource, LoadedGraph, Project, Syntax};
use serde_json::{Map, Value, json};

use crate::db::SqlSaver;

/// The namespace LangGraph derives system assistant ids from (`NAMESPACE_GRAPH` in
/// langgraph-api: one digit off `uuid.NAMESPACE_URL`, `6ba7b811-...`).
const NAMESPACE_GRAPH: uuid::Uuid = uuid::uuid!("6ba7b821-9dad-11d1-80b4-00c04fd430c8");

/// The id of a graph's system assistant: `uuid5(NAMESPACE_GRAPH, graph_id)`.
pub fn system_assistant_id(graph_id: &str) -> String {
    uuid::Uuid::new_v5(&NAMESPACE_GRAPH, graph_id.as_bytes()).to_string()
}

/// What a graph file says about its graph besides the graph itself.
#[derive(Debug, Clone, Default)]
pub struct GraphInfo {
    /// JSON Schema of `configurable` (the assistants' config schema).
    pub config_schema: Option<Value>,
    /// JSON Schema of the state, with the file's types.
    pub state_schema: Option<Value>,
    /// The graph's description.
    pub description: Option<String>,
}

/// An assistant a graph file asks for, created at start-up beside the system assistants.
#[derive(Debug, Clone)]
pub struct Preset {
    /// Its graph.
    pub graph_id: String,
    /// Its name (also accepted as an `assistant_id`, like a graph id).
    pub name: String,
    /// `uuid5(NAMESPACE_GRAPH, name)`.
    pub assistant_id: String,
    /// Its description.
    pub description: Option<String>,
    /// Its `config.configurable`.
    pub configurable: Map<String, Value>,
    /// Its metadata.
    pub metadata: Map<String, Value>,
}

/// Graphs by id, compiled with the runtime's checkpointer.
pub struct Registry {
    graphs: BTreeMap<String, CompiledGraph>,
    info: BTreeMap<String, GraphInfo>,
    presets: Vec<Preset>,
    not_runnable: Vec<(String, String)>,
}

fn compile(
    g: StateGraph,
    saver: &Arc<dyn orrery_engine::Checkpointer>,
    name: &str,
) -> anyhow::Result<CompiledGraph> {
    Ok(g.compile(CompileOptions {
        checkpointer: Some(Arc::clone(saver)),
        name: Some(name.to_string()),
        ..Default::default()
    })?)
}

impl Registry {
    fn empty() -> Registry {
        Registry {
            graphs: BTreeMap::new(),
            info: BTreeMap::new(),
            presets: Vec::new(),
            not_runnable: Vec::new(),
        }
    }

    /// The bundled graphs (used when no `langgraph.json` is given): `echo` and `jarvis`.
    ///
    /// # Errors
    /// When a bundled graph does not compile (a bug of the build).
    pub fn bundled(saver: SqlSaver) -> anyhow::Result<Registry> {
        let saver: Arc<dyn orrery_engine::Checkpointer> = Arc::new(saver);
        let mut r = Registry::empty();
        r.graphs.insert("echo".to_string(), compile(echo_graph(), &saver, "echo")?);
        let jarvis = orrery_graph_file::compile_text(
            orrery_graph_file::JARVIS_FILE,
            orrery_graph_file::JARVIS_YAML,
            Syntax::Yaml,
            &Env::process(),
        )?;
        r.add_file("jarvis", jarvis, &saver)?;
        Ok(r)
    }

    /// A project's graphs, plus the bundled `echo` unless the project has its own. Python and
    /// TypeScript graphs are skipped (see [`Registry::not_runnable`]).
    ///
    /// # Errors
    /// A graph file that is missing or malformed (with file, line and field), an unknown
    /// native graph, or a preset assistant whose name is taken.
    pub fn project(project: &Project, saver: SqlSaver) -> anyhow::Result<Registry> {
        let saver: Arc<dyn orrery_engine::Checkpointer> = Arc::new(saver);
        let mut r = Registry::empty();
        let manifest = project.config_path.display().to_string();
        for g in &project.graphs {
            match &g.source {
                GraphSource::NotRunnable { language } => {
                    r.not_runnable.push((g.id.clone(), format!("{language} graph {}", g.path)));
                }
                GraphSource::Native(name) => {
                    let graph = match name.as_str() {
                        "echo" => echo_graph(),
                        other => anyhow::bail!(
                            "{manifest}:{}:{}: graphs.{}: unknown native graph `{other}`: the runtime has native:echo",
                            g.pos.line,
                            g.pos.column,
                            g.id
                        ),
                    };
                    r.graphs.insert(g.id.clone(), compile(graph, &saver, &g.id)?);
                    r.info.insert(
                        g.id.clone(),
                        GraphInfo { description: g.description.clone(), ..Default::default() },
                    );
                }
                GraphSource::File(path) => {
                    let shown = path.display().to_string();
                    let mut loaded =
                        orrery_graph_file::load_graph_file(path, &shown, &project.env)?;
                    if loaded.description.is_none() {
                        loaded.description.clone_from(&g.description);
                    }
                    r.add_file(&g.id, loaded, &saver)?;
                }
            }
        }
        if !project.graphs.iter().any(|g| g.id == "echo") {
            r.graphs.insert("echo".to_string(), compile(echo_graph(), &saver, "echo")?);
        }
        for p in &r.presets {
            if r.graphs.contains_key(&p.name) || project.graphs.iter().any(|g| g.id == p.name) {
                anyhow::bail!(
                    "assistant `{}` of graph `{}` has the name of a graph: rename one of them",
                    p.name,
                    p.graph_id
                );
            }
        }
        Ok(r)
    }

    fn add_file(
        &mut self,
        id: &str,
        loaded: LoadedGraph,
        saver: &Arc<dyn orrery_engine::Checkpointer>,
    ) -> anyhow::Result<()> {
        let name = loaded.name.clone().unwrap_or_else(|| id.to_string());
        let graph = compile(loaded.graph, saver, &name)
            .map_err(|e| anyhow::anyhow!("{}: {e}", loaded.file))?;
        self.graphs.insert(id.to_string(), graph);
        for a in loaded.assistants {
            if self.presets.iter().any(|p| p.name == a.name) {
                anyhow::bail!(
                    "{}: assistants.{}: another graph file defines an assistant of this name",
                    loaded.file,
                    a.name
                );
            }
            self.presets.push(Preset {
                graph_id: id.to_string(),
                assistant_id: system_assistant_id(&a.name),
                name: a.name,
                description: a.description,
                configurable: a.configurable,
                metadata: a.metadata,
            });
        }
        self.info.insert(
            id.to_string(),
            GraphInfo {
                config_schema: Some(loaded.config_schema),
                state_schema: Some(loaded.state_schema),
                description: loaded.description,
            },
        );
        Ok(())
    }

    /// A graph by id.
    pub fn get(&self, graph_id: &str) -> Option<&CompiledGraph> {
        self.graphs.get(graph_id)
    }

    /// Graph ids, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.graphs.keys().map(String::as_str)
    }

    /// What the graph file said about a graph.
    pub fn info(&self, graph_id: &str) -> Option<&GraphInfo> {
        self.info.get(graph_id)
    }

    /// The config schema of a graph, from its file's `configurable` fields.
    pub fn config_schema(&self, graph_id: &str) -> Option<&Value> {
        self.info.get(graph_id).and_then(|i| i.config_schema.as_ref())
    }

    /// The assistants graph files ask for.
    pub fn presets(&self) -> &[Preset] {
        &self.presets
    }

    /// A preset assistant by name.
    pub fn preset(&self, name: &str) -> Option<&Preset> {
        self.presets.iter().find(|p| p.name == name)
    }

    /// The project's graphs that are recognised but not served (Python, TypeScript), with why.
    pub fn not_runnable(&self) -> &[(String, String)] {
        &self.not_runnable
    }
}

/// The bundled `echo` graph: `messages` with `add_messages`; node `echo` appends an AI message
/// whose content is the last message's content, after `configurable.delay_ms` milliseconds.
pub fn echo_graph() -> StateGraph {
    StateGraph::new()
        .channel("messages", Reducer::AddMessages)
        .add_node("echo", |state: Value, ctx| async move {
            let delay = ctx.configurable("delay_ms").and_then(Value::as_u64).unwrap_or(0);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay.min(3_600_000))).await;
            }
            let last = state["messages"]
                .as_array()
                .and_then(|m| m.last())
                .map(|m| m["content"].clone())
                .unwrap_or_else(|| json!(""));
            let id = format!("run-{}", uuid::Uuid::new_v4());
            Ok(json!({"messages": [message("ai", last, Some(&id))]}).into())
        })
        .add_edge(START, "echo")
        .add_edge("echo", END)
}
