//! Graph drawing: the JSON of LangGraph's `get_graph(xray).to_json()` with `data.id` removed, as
//! the LangGraph server returns it (`engine-semantics` §6).
//!
//! Edges come from the declared topology: plain and join edges, conditional edges with a path
//! map (or a node's declared `Command` destinations), and an edge to `__end__` for a node with no
//! way out. Only edges of nodes reachable from `__start__` are drawn, grouped by source in the
//! order a breadth-first walk from `__start__` meets them, each group sorted by target.

use petgraph::graphmap::DiGraphMap;
use petgraph::visit::Bfs;
use serde_json::{Map, Value, json};

use crate::graph::{CompiledGraph, NodeKind};
use crate::types::{END, START};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    source: String,
    target: String,
    conditional: bool,
    label: Option<String>,
}

impl Edge {
    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("source".into(), Value::String(self.source.clone()));
        m.insert("target".into(), Value::String(self.target.clone()));
        if let Some(l) = &self.label {
            m.insert("data".into(), Value::String(l.clone()));
        }
        if self.conditional {
            m.insert("conditional".into(), Value::Bool(true));
        }
        Value::Object(m)
    }
}

struct Drawing {
    nodes: Vec<Value>,
    edges: Vec<Edge>,
}

fn runnable(id: &str, metadata: &Map<String, Value>) -> Value {
    let mut m = json!({"id": id, "type": "runnable", "data": {"name": id}});
    if !metadata.is_empty() {
        m["metadata"] = Value::Object(metadata.clone());
    }
    m
}

impl CompiledGraph {
    /// The drawing JSON (`{"nodes": [...], "edges": [...]}`); `xray` expands subgraphs that
    /// many levels deep.
    pub fn draw(&self, xray: u32) -> Value {
        let d = self.drawing(xray);
        json!({
            "nodes": d.nodes,
            "edges": d.edges.iter().map(Edge::to_value).collect::<Vec<_>>(),
        })
    }

    /// Every edge the declared topology allows, per source.
    fn declared_edges(&self) -> Vec<Edge> {
        let spec = &self.spec;
        let mut edges = Vec::new();
        let mut push = |s: &str, t: &str, conditional: bool, label: Option<String>| {
            edges.push(Edge { source: s.into(), target: t.into(), conditional, label });
        };
        for (a, b) in &spec.edges {
            push(a, b, false, None);
        }
        for (sources, to) in &spec.joins {
            for s in sources {
                push(s, to, false, None);
            }
        }
        for (src, branches) in &spec.branches {
            for b in branches {
                for (label, dest) in b.destinations() {
                    let label = if label == dest { None } else { Some(label) };
                    push(src, &dest, true, label);
                }
            }
        }
        for (name, node) in &spec.nodes {
            for end in &node.options.ends {
                push(name, end, true, None);
            }
        }
        // A node with no way out ends the graph.
        for name in spec.nodes.keys() {
            if !edges.iter().any(|e| &e.source == name) {
                edges.push(Edge {
                    source: name.clone(),
                    target: END.into(),
                    conditional: false,
                    label: None,
                });
            }
        }
        edges
    }

    fn drawing(&self, xray: u32) -> Drawing {
        let declared = self.declared_edges();
        let mut g: DiGraphMap<&str, ()> = DiGraphMap::new();
        g.add_node(START);
        for e in &declared {
            g.add_edge(e.source.as_str(), e.target.as_str(), ());
        }
        // Sources in the order a breadth-first walk from START reaches them.
        let mut order: Vec<String> = Vec::new();
        let mut bfs = Bfs::new(&g, START);
        while let Some(n) = bfs.next(&g) {
            order.push(n.to_string());
        }
        let mut edges: Vec<Edge> = Vec::new();
        for src in &order {
            let mut group: Vec<Edge> =
                declared.iter().filter(|e| &e.source == src).cloned().collect();
            group.sort();
            group.dedup();
            edges.extend(group);
        }
        let interrupt_of = |name: &str| {
            let b = self.interrupt_before.matches(name);
            let a = self.interrupt_after.matches(name);
            match (b, a) {
                (true, true) => Some("before,after"),
                (true, false) => Some("before"),
                (false, true) => Some("after"),
                _ => None,
            }
        };
        let mut nodes = vec![runnable(START, &Map::new())];
        let mut expanded: Vec<(String, Drawing)> = Vec::new();
        for (name, spec) in &self.spec.nodes {
            if let (NodeKind::Subgraph(child), true) = (&spec.kind, xray > 0) {
                expanded.push((name.clone(), child.drawing(xray - 1)));
                continue;
            }
            let mut meta = spec.options.metadata.clone();
            if let Some(i) = interrupt_of(name) {
                meta.insert("__interrupt".into(), Value::String(i.into()));
            }
            if spec.options.defer {
                meta.insert("defer".into(), Value::Bool(true));
            }
            nodes.push(runnable(name, &meta));
        }
        if edges.iter().any(|e| e.target == END) {
            nodes.push(json!({"id": END}));
        }
        let mut child_edges = Vec::new();
        for (name, child) in expanded {
            let prefix = |id: &str| format!("{name}:{id}");
            let starts: Vec<&Edge> = child.edges.iter().filter(|e| e.source == START).collect();
            let ends: Vec<&Edge> = child.edges.iter().filter(|e| e.target == END).collect();
            let drop_start = starts.len() == 1;
            let drop_end = ends.len() == 1;
            let entry = if drop_start { prefix(&starts[0].target) } else { prefix(START) };
            let exit = if drop_end { prefix(&ends[0].source) } else { prefix(END) };
            for e in edges.iter_mut() {
                if e.target == name {
                    e.target = entry.clone();
                }
                if e.source == name {
                    e.source = exit.clone();
                }
            }
            for n in child.nodes {
                let id = n["id"].as_str().unwrap_or_default().to_string();
                if (id == START && drop_start) || (id == END && drop_end) {
                    continue;
                }
                let mut n = n.clone();
                n["id"] = Value::String(prefix(&id));
                if n.get("data").is_some() {
                    n["data"]["name"] = Value::String(prefix(&id));
                }
                nodes.push(n);
            }
            for e in child.edges {
                if (e.source == START && drop_start) || (e.target == END && drop_end) {
                    continue;
                }
                child_edges.push(Edge {
                    source: prefix(&e.source),
                    target: prefix(&e.target),
                    ..e
                });
            }
        }
        edges.extend(child_edges);
        Drawing { nodes, edges }
    }
}
