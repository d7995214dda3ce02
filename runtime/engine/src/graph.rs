//! The `StateGraph` builder and its lowering to a Pregel program (`engine-semantics` §1.1).

use std::collections::{BTreeSet, HashSet};
use std::future::Future;
use std::sync::Arc;

use crate::{HashMap, IndexMap};
use futures::future::BoxFuture;
use serde_json::{Map, Value};

use crate::channel::{Kind, Reducer};
use crate::checkpoint::Checkpointer;
use crate::context::{NodeContext, RunConfig};
use crate::error::{Error, NodeError, Result};
use crate::retry::RetryPolicy;
use crate::types::{END, Goto, NodeOutput, RESERVED_NODE_NAMES, START, TASKS, branch_channel};

/// A node's body: state (or `Send` argument) in, update out.
pub type NodeFn = Arc<
    dyn Fn(Value, NodeContext) -> BoxFuture<'static, std::result::Result<NodeOutput, NodeError>>
        + Send
        + Sync,
>;

/// A router for conditional edges: state in, labels (or `Send`s) out.
pub type RouterFn =
    Arc<dyn Fn(&Value, &RunConfig) -> std::result::Result<Vec<Goto>, NodeError> + Send + Sync>;

/// Which nodes a static breakpoint applies to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Breakpoints {
    /// None.
    #[default]
    None,
    /// Every node (`"*"`).
    All,
    /// These nodes.
    Nodes(Vec<String>),
}

impl Breakpoints {
    pub(crate) fn matches(&self, node: &str) -> bool {
        match self {
            Breakpoints::None => false,
            Breakpoints::All => node != START,
            Breakpoints::Nodes(n) => n.iter().any(|x| x == node),
        }
    }
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Breakpoints::None) || matches!(self, Breakpoints::Nodes(n) if n.is_empty())
    }
}

impl<S: Into<String>> FromIterator<S> for Breakpoints {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let v: Vec<String> = iter.into_iter().map(Into::into).collect();
        if v.iter().any(|s| s == "*") { Breakpoints::All } else { Breakpoints::Nodes(v) }
    }
}

/// Per-node options.
#[derive(Clone, Default)]
pub struct NodeOptions {
    /// Retries for failures.
    pub retry: Option<RetryPolicy>,
    /// Run only when nothing else is left to run.
    pub defer: bool,
    /// Shown in the graph drawing.
    pub metadata: Map<String, Value>,
    /// Where a `Command` returned by this node may go (drawn as conditional edges).
    pub ends: Vec<String>,
}

#[derive(Clone)]
pub(crate) enum NodeKind {
    Func(NodeFn),
    Subgraph(Arc<CompiledGraph>),
}

#[derive(Clone)]
pub(crate) struct NodeSpec {
    pub(crate) kind: NodeKind,
    pub(crate) options: NodeOptions,
}

/// A conditional edge.
#[derive(Clone)]
pub(crate) struct Branch {
    pub(crate) router: RouterFn,
    /// label → node; `None` means labels are node names.
    pub(crate) path_map: Option<IndexMap<String, String>>,
}

impl Branch {
    pub(crate) fn resolve(&self, label: &str) -> Result<String> {
        match &self.path_map {
            Some(m) => m.get(label).cloned().ok_or_else(|| {
                Error::InvalidGraph(format!("Branch returned unknown label '{label}'"))
            }),
            None => Ok(label.to_string()),
        }
    }
    /// The destinations a drawing can show, with their labels.
    pub(crate) fn destinations(&self) -> Vec<(String, String)> {
        self.path_map
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }
}

/// Managed values computed per task (LangGraph's `RemainingSteps`, `IsLastStep`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Managed {
    /// `stop - step`.
    RemainingSteps,
    /// `step == stop - 1`.
    IsLastStep,
}

/// Builds a graph over JSON state: keys with reducers, nodes, edges.
#[derive(Clone, Default)]
pub struct StateGraph {
    pub(crate) state: IndexMap<String, Reducer>,
    pub(crate) managed: IndexMap<String, Managed>,
    pub(crate) input_keys: Option<Vec<String>>,
    pub(crate) output_keys: Option<Vec<String>>,
    pub(crate) nodes: IndexMap<String, NodeSpec>,
    pub(crate) edges: Vec<(String, String)>,
    pub(crate) joins: Vec<(Vec<String>, String)>,
    pub(crate) branches: IndexMap<String, Vec<Branch>>,
    pub(crate) errors: Vec<String>,
    pub(crate) external_targets: Vec<String>,
}

/// Options for [`StateGraph::compile`].
#[derive(Clone, Default)]
pub struct CompileOptions {
    /// Persists checkpoints; required for interrupts, history and resume.
    pub checkpointer: Option<Arc<dyn Checkpointer>>,
    /// Stop before these nodes.
    pub interrupt_before: Breakpoints,
    /// Stop after these nodes.
    pub interrupt_after: Breakpoints,
    /// Graph-wide retry policy (a node's own policy wins).
    pub retry: Option<RetryPolicy>,
    /// Name of the graph.
    pub name: Option<String>,
}

impl StateGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a state key with its reducer.
    pub fn channel(mut self, key: impl Into<String>, reducer: Reducer) -> Self {
        self.state.insert(key.into(), reducer);
        self
    }

    /// Adds a managed value the nodes can read.
    pub fn managed(mut self, key: impl Into<String>, managed: Managed) -> Self {
        self.managed.insert(key.into(), managed);
        self
    }

    /// Restricts which keys the graph accepts as input.
    pub fn input_keys<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        self.input_keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Restricts which keys the graph returns.
    pub fn output_keys<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        self.output_keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Adds a node running an async function.
    pub fn add_node<F, Fut>(self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(Value, NodeContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<NodeOutput, NodeError>> + Send + 'static,
    {
        self.add_node_with(name, f, NodeOptions::default())
    }

    /// Adds a node with options.
    pub fn add_node_with<F, Fut>(self, name: impl Into<String>, f: F, options: NodeOptions) -> Self
    where
        F: Fn(Value, NodeContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<NodeOutput, NodeError>> + Send + 'static,
    {
        let f = Arc::new(f);
        let func: NodeFn = Arc::new(move |v, ctx| {
            let f = Arc::clone(&f);
            Box::pin(async move { f(v, ctx).await })
        });
        self.insert_node(name.into(), NodeSpec { kind: NodeKind::Func(func), options })
    }

    /// Adds a node whose body is a synchronous function.
    pub fn add_fn<F>(self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(Value, NodeContext) -> std::result::Result<NodeOutput, NodeError>
            + Send
            + Sync
            + 'static,
    {
        self.add_fn_with(name, f, NodeOptions::default())
    }

    /// Adds a synchronous node with options.
    pub fn add_fn_with<F>(self, name: impl Into<String>, f: F, options: NodeOptions) -> Self
    where
        F: Fn(Value, NodeContext) -> std::result::Result<NodeOutput, NodeError>
            + Send
            + Sync
            + 'static,
    {
        let f = Arc::new(f);
        let func: NodeFn = Arc::new(move |v, ctx| {
            let r = f(v, ctx);
            Box::pin(async move { r })
        });
        self.insert_node(name.into(), NodeSpec { kind: NodeKind::Func(func), options })
    }

    /// Adds a compiled graph as a node (a subgraph with its own checkpoint namespace).
    pub fn add_subgraph(self, name: impl Into<String>, graph: CompiledGraph) -> Self {
        self.insert_node(
            name.into(),
            NodeSpec { kind: NodeKind::Subgraph(Arc::new(graph)), options: NodeOptions::default() },
        )
    }

    fn insert_node(mut self, name: String, spec: NodeSpec) -> Self {
        if self.nodes.contains_key(&name) {
            self.errors.push(format!("Node `{name}` already present."));
        } else if RESERVED_NODE_NAMES.contains(&name.as_str()) {
            self.errors.push(format!("Node `{name}` is reserved."));
        } else if name.contains('|') || name.contains(':') {
            self.errors.push(format!("'{name}' is a reserved character sequence for node names (':' and '|' are not allowed)."));
        }
        self.nodes.insert(name, spec);
        self
    }

    /// Declares that `node` may be reached from outside, by a `Command(goto=...)` given as run
    /// input, so the reachability check accepts it without an incoming edge.
    pub fn reachable_by_command(mut self, node: impl Into<String>) -> Self {
        self.external_targets.push(node.into());
        self
    }

    /// Adds a plain edge (use [`START`] and [`END`] for the graph's ends).
    pub fn add_edge(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.edges.push((from.into(), to.into()));
        self
    }

    /// Adds a join edge: `to` runs once every node of `from` has finished.
    pub fn add_join<S: Into<String>>(
        mut self,
        from: impl IntoIterator<Item = S>,
        to: impl Into<String>,
    ) -> Self {
        self.joins.push((from.into_iter().map(Into::into).collect(), to.into()));
        self
    }

    /// Adds a conditional edge. `path_map` maps the router's labels to nodes; without one, the
    /// labels are node names and the drawing cannot show the destinations.
    pub fn add_conditional_edges<F, L, T>(
        mut self,
        from: impl Into<String>,
        router: F,
        path_map: Option<Vec<(L, T)>>,
    ) -> Self
    where
        F: Fn(&Value, &RunConfig) -> std::result::Result<Vec<Goto>, NodeError>
            + Send
            + Sync
            + 'static,
        L: Into<String>,
        T: Into<String>,
    {
        let path_map = path_map.map(|m| m.into_iter().map(|(l, t)| (l.into(), t.into())).collect());
        self.branches
            .entry(from.into())
            .or_default()
            .push(Branch { router: Arc::new(router), path_map });
        self
    }

    /// Validates and lowers the graph.
    ///
    /// # Errors
    /// [`Error::InvalidGraph`] naming the offending node or edge.
    pub fn compile(self, options: CompileOptions) -> Result<CompiledGraph> {
        self.validate(&options)?;
        CompiledGraph::lower(self, options)
    }

    fn validate(&self, options: &CompileOptions) -> Result<()> {
        if let Some(e) = self.errors.first() {
            return Err(Error::InvalidGraph(e.clone()));
        }
        let known = |n: &str| self.nodes.contains_key(n);
        for (a, b) in &self.edges {
            if a == END {
                return Err(Error::InvalidGraph("END cannot be a start node".into()));
            }
            if b == START {
                return Err(Error::InvalidGraph("START cannot be an end node".into()));
            }
            if a != START && !known(a) {
                return Err(Error::InvalidGraph(format!(
                    "Found edge starting at unknown node '{a}'"
                )));
            }
            if b != END && !known(b) {
                return Err(Error::InvalidGraph(format!(
                    "Found edge ending at unknown node `{b}`"
                )));
            }
        }
        for (sources, to) in &self.joins {
            for a in sources {
                if a == START || a == END || !known(a) {
                    return Err(Error::InvalidGraph(format!("Need to add_node `{a}` first")));
                }
            }
            if to == END || !known(to) {
                return Err(Error::InvalidGraph(format!("Need to add_node `{to}` first")));
            }
        }
        for (src, branches) in &self.branches {
            if src != START && !known(src) {
                return Err(Error::InvalidGraph(format!(
                    "Found edge starting at unknown node '{src}'"
                )));
            }
            for b in branches {
                for (_, dest) in b.destinations() {
                    if dest != END && !known(&dest) {
                        return Err(Error::InvalidGraph(format!(
                            "At '{src}' node, 'condition' branch found unknown target '{dest}'"
                        )));
                    }
                }
            }
        }
        let has_entry =
            self.edges.iter().any(|(a, _)| a == START) || self.branches.contains_key(START);
        if !has_entry {
            return Err(Error::InvalidGraph(
                "Graph must have an entrypoint: add at least one edge from START to another node"
                    .into(),
            ));
        }
        for bp in [&options.interrupt_before, &options.interrupt_after] {
            if let Breakpoints::Nodes(ns) = bp {
                for n in ns {
                    if !known(n) {
                        return Err(Error::InvalidGraph(format!("Interrupt node `{n}` not found")));
                    }
                }
            }
        }
        // Reachability: nodes no edge, branch, join or Command can lead to.
        let mut reached: HashSet<&str> = HashSet::new();
        let mut frontier = vec![START];
        frontier.extend(self.external_targets.iter().map(String::as_str));
        // A router without a path map can lead anywhere.
        let has_unbounded = self.branches.values().flatten().any(|b| b.path_map.is_none());
        while let Some(n) = frontier.pop() {
            if !reached.insert(n) {
                continue;
            }
            let mut next: Vec<&str> =
                self.edges.iter().filter(|(a, _)| a == n).map(|(_, b)| b.as_str()).collect();
            for (srcs, to) in &self.joins {
                if srcs.iter().any(|s| s == n) {
                    next.push(to);
                }
            }
            if let Some(bs) = self.branches.get(n) {
                for b in bs {
                    if let Some(m) = &b.path_map {
                        next.extend(m.values().map(String::as_str));
                    }
                }
            }
            if let Some(spec) = self.nodes.get(n) {
                next.extend(spec.options.ends.iter().map(String::as_str));
            }
            frontier.extend(next.into_iter().filter(|x| *x != END));
        }
        if !has_unbounded {
            for name in self.nodes.keys() {
                if !reached.contains(name.as_str()) {
                    return Err(Error::InvalidGraph(format!(
                        "Node `{name}` is not reachable: add an edge, a conditional edge or a Command destination that leads to it"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// How a lowered node is triggered and what it writes besides its own output.
#[derive(Clone)]
pub(crate) struct PregelNode {
    pub(crate) name: String,
    pub(crate) kind: Option<NodeKind>, // None for the hidden __start__ node
    pub(crate) triggers: Vec<String>,
    /// Static successors (plain edges), written as `branch:to:<node>` (or nothing for END).
    pub(crate) edges: Vec<String>,
    /// Join channels this node writes its name to.
    pub(crate) joins: Vec<String>,
    pub(crate) branches: Vec<Branch>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) ends: Vec<String>,
    pub(crate) defer: bool,
}

/// A validated graph, ready to run. Cheap to clone (the lowered program is shared).
#[derive(Clone)]
pub struct CompiledGraph {
    pub(crate) inner: Arc<Lowered>,
}

impl std::ops::Deref for CompiledGraph {
    type Target = Lowered;
    fn deref(&self) -> &Lowered {
        &self.inner
    }
}

/// The lowered Pregel program of a [`CompiledGraph`].
#[derive(Clone)]
pub struct Lowered {
    pub(crate) spec: Arc<StateGraph>,
    pub(crate) channels: IndexMap<String, Arc<Kind>>,
    pub(crate) state_keys: Vec<String>,
    pub(crate) input_keys: Vec<String>,
    pub(crate) output_keys: Vec<String>,
    pub(crate) managed: IndexMap<String, Managed>,
    pub(crate) nodes: IndexMap<String, PregelNode>,
    pub(crate) trigger_to_nodes: HashMap<String, Vec<String>>,
    pub(crate) checkpointer: Option<Arc<dyn Checkpointer>>,
    pub(crate) interrupt_before: Breakpoints,
    pub(crate) interrupt_after: Breakpoints,
    pub(crate) name: String,
}

pub(crate) fn join_channel(sources: &[String], to: &str) -> String {
    format!("join:{}:{to}", sources.join("+"))
}

impl CompiledGraph {
    fn lower(spec: StateGraph, options: CompileOptions) -> Result<CompiledGraph> {
        let mut channels: IndexMap<String, Arc<Kind>> = IndexMap::default();
        for (k, r) in &spec.state {
            channels.insert(k.clone(), Arc::new(Kind::from_reducer(r)));
        }
        channels.insert(START.into(), Arc::new(Kind::Ephemeral { guard: true }));
        channels.insert(TASKS.into(), Arc::new(Kind::Topic));

        let mut nodes: IndexMap<String, PregelNode> = IndexMap::default();
        let blank = |name: &str| PregelNode {
            name: name.to_string(),
            kind: None,
            triggers: vec![],
            edges: vec![],
            joins: vec![],
            branches: vec![],
            retry: None,
            metadata: Map::new(),
            ends: vec![],
            defer: false,
        };
        let mut start = blank(START);
        start.triggers = vec![START.into()];
        nodes.insert(START.into(), start);
        for (name, ns) in &spec.nodes {
            let mut n = blank(name);
            n.kind = Some(ns.kind.clone());
            n.retry = ns.options.retry.clone().or_else(|| options.retry.clone());
            n.metadata = ns.options.metadata.clone();
            n.ends = ns.options.ends.clone();
            n.defer = ns.options.defer;
            let trigger = branch_channel(name);
            let kind = if ns.options.defer {
                Kind::LastValueAfterFinish
            } else {
                Kind::Ephemeral { guard: false }
            };
            channels.insert(trigger.clone(), Arc::new(kind));
            n.triggers.push(trigger);
            nodes.insert(name.clone(), n);
        }
        for (a, b) in &spec.edges {
            if let Some(n) = nodes.get_mut(a) {
                n.edges.push(b.clone());
            }
        }
        for (sources, to) in &spec.joins {
            let ch = join_channel(sources, to);
            let names: BTreeSet<String> = sources.iter().cloned().collect();
            let defer = spec.nodes.get(to).is_some_and(|n| n.options.defer);
            let kind =
                if defer { Kind::BarrierAfterFinish { names } } else { Kind::Barrier { names } };
            channels.insert(ch.clone(), Arc::new(kind));
            for s in sources {
                if let Some(n) = nodes.get_mut(s) {
                    n.joins.push(ch.clone());
                }
            }
            if let Some(n) = nodes.get_mut(to) {
                n.triggers.push(ch);
            }
        }
        for (src, bs) in &spec.branches {
            if let Some(n) = nodes.get_mut(src) {
                n.branches.extend(bs.iter().cloned());
            }
        }
        let mut trigger_to_nodes: HashMap<String, Vec<String>> = HashMap::default();
        for n in nodes.values() {
            for t in &n.triggers {
                trigger_to_nodes.entry(t.clone()).or_default().push(n.name.clone());
            }
        }
        let state_keys: Vec<String> = spec.state.keys().cloned().collect();
        let input_keys = spec.input_keys.clone().unwrap_or_else(|| state_keys.clone());
        let output_keys = spec.output_keys.clone().unwrap_or_else(|| state_keys.clone());
        Ok(CompiledGraph {
            inner: Arc::new(Lowered {
                channels,
                state_keys,
                input_keys,
                output_keys,
                managed: spec.managed.clone(),
                nodes,
                trigger_to_nodes,
                checkpointer: options.checkpointer,
                interrupt_before: options.interrupt_before,
                interrupt_after: options.interrupt_after,
                name: options.name.unwrap_or_else(|| "LangGraph".into()),
                spec: Arc::new(spec),
            }),
        })
    }

    /// The graph's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The checkpointer, if any.
    pub fn checkpointer(&self) -> Option<&Arc<dyn Checkpointer>> {
        self.checkpointer.as_ref()
    }

    /// A copy with another checkpointer (how subgraphs inherit their parent's).
    pub fn with_checkpointer(mut self, saver: Option<Arc<dyn Checkpointer>>) -> Self {
        Arc::make_mut(&mut self.inner).checkpointer = saver;
        self
    }

    /// A JSON Schema of the state: one property per state key.
    pub fn state_schema(&self) -> serde_json::Value {
        let props: Map<String, Value> =
            self.state_keys.iter().map(|k| (k.clone(), serde_json::json!({}))).collect();
        serde_json::json!({"title": self.name, "type": "object", "properties": props})
    }

    /// Names of the user nodes, in insertion order.
    pub fn node_names(&self) -> impl Iterator<Item = &str> {
        self.spec.nodes.keys().map(String::as_str)
    }

    /// The subgraphs used as nodes, by node name.
    pub fn subgraphs(&self) -> Vec<(String, Arc<CompiledGraph>)> {
        self.spec
            .nodes
            .iter()
            .filter_map(|(n, s)| match &s.kind {
                NodeKind::Subgraph(g) => Some((n.clone(), Arc::clone(g))),
                NodeKind::Func(_) => None,
            })
            .collect()
    }
}
