//! The graphs a runtime serves, and their system assistants: the bundled ones (`echo`, and
//! the `jarvis` example graph file), or a project's (`langgraph.json`).
//!
//! In `dev`, a project's graph files are watched ([`Registry::watch`]): an edit reloads that
//! graph, which serves the runs that start afterwards (a run holds the compiled graph it
//! started with); an edit that does not load keeps the last good version and logs why.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
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

/// Where a graph file graph comes from, to load it again.
#[derive(Debug, Clone)]
struct FileSource {
    /// The graph file.
    path: PathBuf,
    /// How errors name it.
    shown: String,
    /// The description `langgraph.json` gives it.
    description: Option<String>,
    /// Every file it was read from (its own and its subgraphs'), for the watcher.
    files: Vec<PathBuf>,
}

/// Graphs by id, compiled with the runtime's checkpointer.
pub struct Registry {
    /// Graphs and what their files say; replaced one graph at a time by reloads.
    graphs: RwLock<BTreeMap<String, (CompiledGraph, GraphInfo)>>,
    presets: Vec<Preset>,
    not_runnable: Vec<(String, String)>,
    /// The project's graph files, by graph id.
    sources: RwLock<BTreeMap<String, FileSource>>,
    saver: Arc<dyn orrery_engine::Checkpointer>,
    env: Env,
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

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Registry {
    fn empty(saver: Arc<dyn orrery_engine::Checkpointer>, env: Env) -> Registry {
        Registry {
            graphs: RwLock::new(BTreeMap::new()),
            presets: Vec::new(),
            not_runnable: Vec::new(),
            sources: RwLock::new(BTreeMap::new()),
            saver,
            env,
        }
    }

    fn insert(&self, id: &str, graph: CompiledGraph, info: GraphInfo) {
        write(&self.graphs).insert(id.to_string(), (graph, info));
    }

    /// The bundled graphs (used when no `langgraph.json` is given): `echo` and `jarvis`.
    ///
    /// # Errors
    /// When a bundled graph does not compile (a bug of the build).
    pub fn bundled(saver: SqlSaver) -> anyhow::Result<Registry> {
        let saver: Arc<dyn orrery_engine::Checkpointer> = Arc::new(saver);
        let mut r = Registry::empty(Arc::clone(&saver), Env::process());
        r.insert("echo", compile(echo_graph(), &saver, "echo")?, GraphInfo::default());
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
        let mut r = Registry::empty(Arc::clone(&saver), project.env.clone());
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
                    r.insert(
                        &g.id,
                        compile(graph, &saver, &g.id)?,
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
                    write(&r.sources).insert(
                        g.id.clone(),
                        FileSource {
                            path: path.clone(),
                            shown,
                            description: g.description.clone(),
                            files: loaded.files.clone(),
                        },
                    );
                    r.add_file(&g.id, loaded, &saver)?;
                }
            }
        }
        if !project.graphs.iter().any(|g| g.id == "echo") {
            r.insert("echo", compile(echo_graph(), &saver, "echo")?, GraphInfo::default());
        }
        for p in &r.presets {
            if r.get(&p.name).is_some() || project.graphs.iter().any(|g| g.id == p.name) {
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
        let info = GraphInfo {
            config_schema: Some(loaded.config_schema),
            state_schema: Some(loaded.state_schema),
            description: loaded.description,
        };
        self.insert(id, graph, info);
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
        Ok(())
    }

    /// A graph by id (its current version: a run keeps the one it started with).
    pub fn get(&self, graph_id: &str) -> Option<CompiledGraph> {
        read(&self.graphs).get(graph_id).map(|(g, _)| g.clone())
    }

    /// Graph ids, sorted.
    pub fn ids(&self) -> Vec<String> {
        read(&self.graphs).keys().cloned().collect()
    }

    /// What the graph file said about a graph.
    pub fn info(&self, graph_id: &str) -> Option<GraphInfo> {
        read(&self.graphs).get(graph_id).map(|(_, i)| i.clone())
    }

    /// The config schema of a graph, from its file's `configurable` fields.
    pub fn config_schema(&self, graph_id: &str) -> Option<Value> {
        self.info(graph_id).and_then(|i| i.config_schema)
    }

    /// Loads a project graph's file again; on success it serves the runs that start from now
    /// on. The assistants a file asks for are created at start-up only.
    ///
    /// # Errors
    /// The file does not load (file:line:column: field: why): the last good version stays.
    pub fn reload(&self, graph_id: &str) -> Result<(), String> {
        let Some(src) = read(&self.sources).get(graph_id).cloned() else {
            return Err(format!("graph `{graph_id}` is not a graph file"));
        };
        let mut loaded = orrery_graph_file::load_graph_file(&src.path, &src.shown, &self.env)
            .map_err(|e| e.to_string())?;
        if loaded.description.is_none() {
            loaded.description.clone_from(&src.description);
        }
        let name = loaded.name.clone().unwrap_or_else(|| graph_id.to_string());
        let files = loaded.files.clone();
        let graph = compile(loaded.graph, &self.saver, &name)
            .map_err(|e| format!("{}: {e}", loaded.file))?;
        let info = GraphInfo {
            config_schema: Some(loaded.config_schema),
            state_schema: Some(loaded.state_schema),
            description: loaded.description,
        };
        self.insert(graph_id, graph, info);
        if let Some(s) = write(&self.sources).get_mut(graph_id) {
            s.files = files;
        }
        Ok(())
    }

    /// The files of the project's graphs, by graph id.
    fn watched(&self) -> Vec<(String, Vec<PathBuf>)> {
        read(&self.sources).iter().map(|(id, s)| (id.clone(), s.files.clone())).collect()
    }

    /// Watches the project's graph files (`dev`): every `every`, the files of each graph are
    /// read, and a graph whose files changed is reloaded ([`Registry::reload`]); the result
    /// is logged. Polling the contents (not file system events) also sees editors that replace
    /// a file, bind mounts and network file systems; the files are few and small. Stops when
    /// the returned handle is dropped.
    pub fn watch(self: &Arc<Self>, every: Duration) -> WatchHandle {
        let me = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            let mut seen: BTreeMap<String, u64> = BTreeMap::new();
            let mut first = true;
            loop {
                let Some(reg) = me.upgrade() else { return };
                for (id, files) in reg.watched() {
                    let stamp = contents_stamp(&files);
                    let changed = seen.get(&id).is_some_and(|s| *s != stamp);
                    seen.insert(id.clone(), stamp);
                    if changed && !first {
                        match reg.reload(&id) {
                            Ok(()) => tracing::info!("graph `{id}` reloaded"),
                            Err(e) => tracing::error!(
                                "graph `{id}` not reloaded, the last good version still serves: {e}"
                            ),
                        }
                        // Its files (subgraphs) may have changed: stamp them as they are now.
                        if let Some((_, files)) = reg.watched().into_iter().find(|(g, _)| *g == id)
                        {
                            seen.insert(id, contents_stamp(&files));
                        }
                    }
                }
                first = false;
                drop(reg);
                tokio::time::sleep(every).await;
            }
        });
        WatchHandle(task)
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

/// Stops a [`Registry::watch`] when dropped.
pub struct WatchHandle(tokio::task::JoinHandle<()>);

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A hash of the files' contents (a missing file hashes as such).
fn contents_stamp(files: &[PathBuf]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in files {
        f.hash(&mut h);
        std::fs::read(f).ok().hash(&mut h);
    }
    h.finish()
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
