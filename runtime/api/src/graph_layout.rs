//! A drawing of an assistant's graph (`GET /assistants/{id}/graph`): where every node, subgraph
//! box and edge goes, top to bottom. Pure functions over the server's JSON, so the UI (wasm32)
//! draws what the tests (native) check.
//!
//! The layout is layered (Sugiyama-style), one level of nesting at a time:
//! 1. **Cycles**: a depth-first search from `__start__` (then from the nodes entered from
//!    outside, then from any node left) marks the edges that close a cycle (back edges); the
//!    others form a DAG.
//! 2. **Layers**: longest path from the sources of that DAG, so every forward edge points down.
//!    An edge that spans several layers gets one invisible "dummy" per layer in between, so it
//!    is routed between the nodes instead of through them.
//! 3. **Order** within each layer: barycenter sweeps, down then up, keeping the order with the
//!    fewest crossings, then swaps of neighbours while they remove crossings.
//! 4. **Coordinates**: node widths come from their labels; each layer is placed as close as it
//!    can get to the average position of its neighbours without two boxes coming closer than the
//!    gap (isotonic regression), sweeping down and up a few times.
//! 5. **Back edges** (loops) leave their source on the side and run up a lane outside every box
//!    of the layers they span, into the side of their target.
//!
//! Subgraphs: with xray the server names inner nodes `child:inner_a`. Every `prefix:` becomes a
//! cluster, laid out on its own first and then placed in its parent as one tall box with a
//! label; a collapsed cluster is one node. Edges keep their real endpoints (the inner nodes).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// The id of the entry node.
pub const START: &str = "__start__";
/// The id of the exit node.
pub const END: &str = "__end__";
/// Separates a subgraph's name from its inner node's in xray ids (`child:inner_a`).
pub const NS_SEP: char = ':';

/// The advance of one character of the node labels (12 px monospace), with some slack.
pub const CHAR_W: f64 = 7.4;
/// Height of a node box.
pub const NODE_H: f64 = 34.0;
/// Height of the `__start__` / `__end__` pills.
pub const PILL_H: f64 = 24.0;
/// Height of a cluster's title bar.
pub const CLUSTER_HEAD: f64 = 26.0;

const NODE_MIN_W: f64 = 72.0;
const NODE_PAD_X: f64 = 16.0;
const PILL_PAD_X: f64 = 12.0;
const COLLAPSED_EXTRA_W: f64 = 30.0;
const LAYER_GAP: f64 = 54.0;
const NODE_GAP: f64 = 28.0;
const DUMMY_GAP: f64 = 14.0;
const CLUSTER_PAD: f64 = 14.0;
const LANE_GAP: f64 = 20.0;
const LANE_STEP: f64 = 12.0;
const LANE_CORNER: f64 = 10.0;
const MARGIN: f64 = 20.0;
const SELF_LOOP: f64 = 24.0;
const PORT_STEP: f64 = 12.0;
const SIDE_PORT_STEP: f64 = 8.0;
const PLACE_ROUNDS: usize = 10;

// ------------------------------------------------------------------------------------- input

/// A node as the server sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Its id (`child:inner_a` inside an expanded subgraph).
    pub id: String,
    /// `type` (`runnable`, `schema`, …); `__end__` has none.
    pub kind: Option<String>,
    /// `data` (`{"name": …}` for runnables).
    pub data: Option<Value>,
    /// `metadata`, when the graph declares some.
    pub metadata: Option<Value>,
}

/// An edge as the server sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// Id of the node it leaves.
    pub source: String,
    /// Id of the node it enters.
    pub target: String,
    /// Taken only when a condition routes there.
    pub conditional: bool,
    /// `data`: the condition's label, when the graph names its branches.
    pub data: Option<Value>,
}

/// The graph as the server sends it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    /// Nodes, in the server's order, each id once.
    pub nodes: Vec<Node>,
    /// Edges, in the server's order.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// Reads `{nodes: [{id, type?, data?, metadata?}], edges: [{source, target, conditional?,
    /// data?}]}`. A repeated node id counts once; an edge to an unlisted node adds that node.
    ///
    /// # Errors
    /// A message naming what is missing or of the wrong type.
    pub fn from_json(value: &Value) -> Result<Graph, String> {
        let object = value.as_object().ok_or("the graph is not a JSON object")?;
        let nodes = match object.get("nodes") {
            Some(Value::Array(nodes)) => nodes.as_slice(),
            Some(_) => return Err("the graph's \"nodes\" is not a list".into()),
            None => return Err("the graph has no \"nodes\"".into()),
        };
        let edges = match object.get("edges") {
            Some(Value::Array(edges)) => edges.as_slice(),
            None | Some(Value::Null) => &[],
            Some(_) => return Err("the graph's \"edges\" is not a list".into()),
        };
        let mut graph = Graph::default();
        let mut seen = BTreeSet::new();
        for (i, node) in nodes.iter().enumerate() {
            let id = node
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("node {i} of the graph has no \"id\" string"))?;
            if !seen.insert(id.to_string()) {
                continue;
            }
            let field = |k: &str| node.get(k).filter(|v| !v.is_null()).cloned();
            graph.nodes.push(Node {
                id: id.to_string(),
                kind: node.get("type").and_then(Value::as_str).map(str::to_string),
                data: field("data"),
                metadata: field("metadata"),
            });
        }
        for (i, edge) in edges.iter().enumerate() {
            let end = |k: &str| {
                edge.get(k)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| format!("edge {i} of the graph has no \"{k}\" string"))
            };
            let (source, target) = (end("source")?, end("target")?);
            for id in [&source, &target] {
                if seen.insert(id.clone()) {
                    graph.nodes.push(Node {
                        id: id.clone(),
                        kind: None,
                        data: None,
                        metadata: None,
                    });
                }
            }
            graph.edges.push(Edge {
                source,
                target,
                conditional: edge.get("conditional").and_then(Value::as_bool).unwrap_or(false),
                data: edge.get("data").filter(|v| !v.is_null()).cloned(),
            });
        }
        Ok(graph)
    }

    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Every subgraph prefix in the ids (`a` and `a:b` for `a:b:c`), sorted.
    pub fn clusters(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        for node in &self.nodes {
            out.extend(prefixes(&node.id).map(str::to_string));
        }
        out.into_iter().collect()
    }
}

/// The subgraph prefixes of an id, outermost first: `a`, `a:b` for `a:b:c`. An empty part ends
/// them (`a::b` is the node `:b` of `a`).
fn prefixes(id: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    std::iter::from_fn(move || {
        let cut = id.get(start..)?.find(NS_SEP)?;
        if cut == 0 {
            return None;
        }
        let end = start + cut;
        start = end + NS_SEP.len_utf8();
        id.get(..end)
    })
}

/// The text shown on an edge for its `data`: a string as is, anything else as JSON.
pub fn edge_label(data: &Value) -> String {
    match data {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

// ------------------------------------------------------------------------------------ output

/// A point of the drawing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Left to right.
    pub x: f64,
    /// Top to bottom.
    pub y: f64,
}

/// A box of the drawing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// Right edge.
    pub fn right(&self) -> f64 {
        self.x + self.w
    }
    /// Bottom edge.
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }
    /// Horizontal centre.
    pub fn cx(&self) -> f64 {
        self.x + self.w / 2.0
    }
    /// Vertical centre.
    pub fn cy(&self) -> f64 {
        self.y + self.h / 2.0
    }
    /// Whether the two boxes share more than an edge line.
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.right()
            && other.x < self.right()
            && self.y < other.bottom()
            && other.y < self.bottom()
    }
    /// Whether `other` lies inside this box.
    pub fn contains(&self, other: &Rect) -> bool {
        other.x >= self.x
            && other.y >= self.y
            && other.right() <= self.right()
            && other.bottom() <= self.bottom()
    }
}

/// What a drawn node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// `__start__` (a small pill).
    Start,
    /// `__end__` (a small pill).
    End,
    /// Any other node of the graph.
    Node,
    /// A collapsed subgraph, standing for all of its nodes.
    Collapsed,
}

/// A node where it is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedNode {
    /// The graph's node id, or the subgraph prefix of a collapsed subgraph.
    pub id: String,
    /// What to write in it (an inner node's own name, without its subgraph prefix).
    pub label: String,
    /// Kind.
    pub kind: NodeKind,
    /// Its box.
    pub rect: Rect,
    /// Index in [`Graph::nodes`] (none for a collapsed subgraph).
    pub node: Option<usize>,
    /// The innermost expanded subgraph it is drawn in.
    pub cluster: Option<String>,
    /// Graph nodes it stands for: 1, or every node of a collapsed subgraph.
    pub members: usize,
}

/// An edge where it is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedEdge {
    /// Index in [`Graph::edges`] (the first one when several merged into this line).
    pub edge: usize,
    /// Drawn source: a [`PlacedNode::id`].
    pub source: String,
    /// Drawn target: a [`PlacedNode::id`].
    pub target: String,
    /// Conditional (drawn dashed).
    pub conditional: bool,
    /// Closes a cycle (routed up a side lane).
    pub back: bool,
    /// Label from the edge's data.
    pub label: Option<String>,
    /// Where to centre the label.
    pub label_at: Option<Point>,
    /// The route: from the source box's boundary to the target box's boundary.
    pub points: Vec<Point>,
    /// The route as an SVG path (`d`), with curves.
    pub path: String,
}

/// An expanded subgraph's box.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedCluster {
    /// Its prefix (`child`, `child:grandchild`).
    pub id: String,
    /// Its own name (the last part of the prefix).
    pub label: String,
    /// The box, title bar included.
    pub rect: Rect,
    /// 0 for a subgraph of the top graph, 1 inside it, …
    pub depth: usize,
    /// Graph nodes inside.
    pub members: usize,
}

/// The whole drawing; coordinates start at 0,0 and end at `width`,`height`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Layout {
    /// Width of the drawing.
    pub width: f64,
    /// Height of the drawing.
    pub height: f64,
    /// Nodes (collapsed subgraphs included).
    pub nodes: Vec<PlacedNode>,
    /// Edges.
    pub edges: Vec<PlacedEdge>,
    /// Expanded subgraphs, outer ones first.
    pub clusters: Vec<PlacedCluster>,
    /// Edge crossings between adjacent layers left after ordering (a quality figure).
    pub crossings: usize,
}

impl Layout {
    /// The drawn node with this id.
    pub fn node(&self, id: &str) -> Option<&PlacedNode> {
        self.nodes.iter().find(|n| n.id == id)
    }
}

/// Choices for [`layout`].
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Subgraph prefixes drawn as one node.
    pub collapsed: BTreeSet<String>,
    /// Barycenter sweeps (down or up) when ordering the layers; 0 keeps the search order.
    pub sweeps: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { collapsed: BTreeSet::new(), sweeps: 24 }
    }
}

/// Lays the graph out. Never fails: any graph [`Graph::from_json`] accepts gets a drawing.
pub fn layout(graph: &Graph, options: &Options) -> Layout {
    let members: Vec<usize> = (0..graph.nodes.len()).collect();
    let ctx = Ctx { graph, options };
    let block = ctx.block("", &members);
    let mut out = Emit::default();
    ctx.emit(&block, MARGIN, MARGIN, 0, None, &mut out);
    let mut layout = Layout {
        width: block.w + 2.0 * MARGIN,
        height: block.h + 2.0 * MARGIN,
        nodes: out.nodes,
        edges: Vec::new(),
        clusters: out.clusters,
        crossings: out.crossings,
    };
    layout.edges = route(&layout.nodes, &out.index, out.pending);
    layout
}

// ---------------------------------------------------------------------------------- internals

/// A drawn endpoint: a graph node, or a collapsed subgraph.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum EndRef {
    Node(usize),
    Collapsed(String),
}

enum Kind {
    Node(usize),
    Collapsed { prefix: String, members: usize },
    Cluster { prefix: String, block: Block, members: usize, content_dx: f64 },
    Dummy,
}

struct Item {
    kind: Kind,
    w: f64,
    h: f64,
    /// Centre, relative to the block.
    x: f64,
    /// Top, relative to the block.
    y: f64,
    layer: usize,
    /// Extra room on the right for a self-loop.
    pad_right: f64,
}

impl Item {
    fn is_dummy(&self) -> bool {
        matches!(self.kind, Kind::Dummy)
    }
    fn left(&self) -> f64 {
        self.x - self.w / 2.0
    }
    fn right(&self) -> f64 {
        self.x + self.w / 2.0 + self.pad_right
    }
}

enum Route {
    /// Down, through these dummies.
    Forward(Vec<usize>),
    /// Up a lane at this x, on the right side or the left.
    Back {
        lane: f64,
        right: bool,
    },
    /// A back edge going up between the boxes, through these dummies (top one first).
    Up(Vec<usize>),
    SelfLoop,
}

struct LevelEdge {
    edge: usize,
    src: EndRef,
    tgt: EndRef,
    /// Items at this level holding the endpoints.
    su: usize,
    tv: usize,
    /// Offset of the endpoints' centres from their items' centres (non-zero inside clusters).
    su_port: f64,
    tv_port: f64,
    conditional: bool,
    label: Option<String>,
    route: Route,
}

struct Block {
    w: f64,
    h: f64,
    items: Vec<Item>,
    edges: Vec<LevelEdge>,
    crossings: usize,
}

/// A segment between adjacent layers, with the endpoints' offsets from their items' centres.
#[derive(Clone, Copy)]
struct Seg {
    u: usize,
    v: usize,
    pu: f64,
    pv: f64,
}

struct Ctx<'a> {
    graph: &'a Graph,
    options: &'a Options,
}

fn text_w(label: &str) -> f64 {
    label.chars().count() as f64 * CHAR_W
}

impl Ctx<'_> {
    /// The drawn endpoint standing for a graph node: the node, or its outermost collapsed
    /// subgraph.
    fn visible(&self, node: usize) -> EndRef {
        match prefixes(&self.graph.nodes[node].id).find(|p| self.options.collapsed.contains(*p)) {
            Some(prefix) => EndRef::Collapsed(prefix.to_string()),
            None => EndRef::Node(node),
        }
    }

    /// Lays out the nodes under `prefix` ("" for the whole graph).
    fn block(&self, prefix: &str, members: &[usize]) -> Block {
        let graph = self.graph;
        let strip = if prefix.is_empty() { 0 } else { prefix.len() + NS_SEP.len_utf8() };

        // Items: direct nodes, and one per child subgraph, in the order they first appear.
        let mut items: Vec<Item> = Vec::new();
        let mut rep: BTreeMap<usize, usize> = BTreeMap::new();
        let mut children: Vec<(String, Vec<usize>)> = Vec::new();
        let mut child_item: BTreeMap<String, usize> = BTreeMap::new();
        for &n in members {
            let id = &graph.nodes[n].id;
            let rel = id.get(strip..).unwrap_or(id);
            match rel.find(NS_SEP).filter(|&cut| cut > 0) {
                None => {
                    rep.insert(n, items.len());
                    items.push(node_item(n, id, rel));
                }
                Some(cut) => {
                    let child = id[..strip + cut].to_string();
                    let at = *child_item.entry(child.clone()).or_insert_with(|| {
                        children.push((child.clone(), Vec::new()));
                        items.push(Item::new(Kind::Dummy, 0.0, 0.0));
                        items.len() - 1
                    });
                    rep.insert(n, at);
                    if let Some((_, list)) = children.iter_mut().find(|(c, _)| *c == child) {
                        list.push(n);
                    }
                }
            }
        }
        for (child, list) in children {
            let at = child_item.get(&child).copied().unwrap_or(0);
            let name = child.rsplit(NS_SEP).next().unwrap_or(&child).to_string();
            items[at] = if self.options.collapsed.contains(&child) {
                let w = (text_w(&name) + 2.0 * NODE_PAD_X + COLLAPSED_EXTRA_W).max(NODE_MIN_W);
                Item::new(Kind::Collapsed { prefix: child, members: list.len() }, w, NODE_H)
            } else {
                let block = self.block(&child, &list);
                let head_w = text_w(&name) + 48.0;
                let w = (block.w + 2.0 * CLUSTER_PAD).max(head_w);
                let content_dx = (w - block.w) / 2.0;
                let h = block.h + CLUSTER_HEAD + CLUSTER_PAD;
                let kind = Kind::Cluster { prefix: child, block, members: list.len(), content_dx };
                Item::new(kind, w, h)
            };
        }
        let real = items.len();

        // Edges whose both ends are here; the ones inside a child belong to the child.
        let in_block: BTreeSet<usize> = members.iter().copied().collect();
        let index: BTreeMap<&str, usize> =
            graph.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();
        let mut edges: Vec<LevelEdge> = Vec::new();
        let mut merged: BTreeMap<(EndRef, EndRef), usize> = BTreeMap::new();
        // Items entered from outside this block, and items left to outside it.
        let mut entries: Vec<usize> = Vec::new();
        let mut exits: Vec<usize> = Vec::new();
        for (e, edge) in graph.edges.iter().enumerate() {
            let (Some(&s), Some(&t)) =
                (index.get(edge.source.as_str()), index.get(edge.target.as_str()))
            else {
                continue;
            };
            match (in_block.contains(&s), in_block.contains(&t)) {
                (true, true) => {}
                (false, true) => {
                    if let Some(&v) = rep.get(&t) {
                        entries.push(v);
                    }
                    continue;
                }
                (true, false) => {
                    if let Some(&v) = rep.get(&s) {
                        exits.push(v);
                    }
                    continue;
                }
                (false, false) => continue,
            }
            let (Some(&su), Some(&tv)) = (rep.get(&s), rep.get(&t)) else { continue };
            let (src, tgt) = (self.visible(s), self.visible(t));
            if su == tv && !(matches!(items[su].kind, Kind::Node(_)) && s == t) {
                continue; // inside a child subgraph (or hidden in a collapsed one)
            }
            let label = edge.data.as_ref().map(edge_label);
            if let Some(&m) = merged.get(&(src.clone(), tgt.clone())) {
                let into: &mut LevelEdge = &mut edges[m];
                into.conditional |= edge.conditional;
                into.label = match (into.label.take(), label) {
                    (Some(a), Some(b)) if a != b => Some(format!("{a} / {b}")),
                    (a, b) => a.or(b),
                };
                continue;
            }
            merged.insert((src.clone(), tgt.clone()), edges.len());
            let su_port = port(&items[su], &src);
            let tv_port = port(&items[tv], &tgt);
            let route = if su == tv { Route::SelfLoop } else { Route::Forward(Vec::new()) };
            edges.push(LevelEdge {
                edge: e,
                src,
                tgt,
                su,
                tv,
                su_port,
                tv_port,
                conditional: edge.conditional,
                label,
                route,
            });
        }
        for e in &edges {
            if matches!(e.route, Route::SelfLoop) {
                items[e.su].pad_right = SELF_LOOP;
            }
        }

        // 1. Cycles: DFS from __start__, then the entries, then the sources, then the rest.
        let mut out: Vec<Vec<usize>> = vec![Vec::new(); real];
        let mut indeg = vec![0usize; real];
        for (i, e) in edges.iter().enumerate() {
            if e.su != e.tv {
                out[e.su].push(i);
                indeg[e.tv] += 1;
            }
        }
        let mut roots: Vec<usize> = Vec::new();
        roots.extend(
            (0..real)
                .filter(|&i| matches!(items[i].kind, Kind::Node(n) if graph.nodes[n].id == START)),
        );
        roots.extend(entries.iter().copied());
        roots.extend((0..real).filter(|&i| indeg[i] == 0));
        roots.extend(0..real);
        let (back, discovered) = dfs(real, &edges, &out, &roots);

        // 2. Layers: longest path over the forward edges.
        let mut layer = vec![0usize; real];
        let mut fwd_in = vec![0usize; real];
        for (i, e) in edges.iter().enumerate() {
            if e.su != e.tv && !back[i] {
                fwd_in[e.tv] += 1;
            }
        }
        let mut ready: Vec<usize> =
            discovered.iter().copied().filter(|&v| fwd_in[v] == 0).collect();
        ready.reverse();
        while let Some(v) = ready.pop() {
            for &i in &out[v] {
                if back[i] {
                    continue;
                }
                let t = edges[i].tv;
                layer[t] = layer[t].max(layer[v] + 1);
                fwd_in[t] -= 1;
                if fwd_in[t] == 0 {
                    ready.push(t);
                }
            }
        }
        // Sources other than __start__ and the entries of a subgraph (nodes nothing leads to)
        // sit right above their first successor rather than at the top.
        for v in 0..real {
            let is_start = matches!(items[v].kind, Kind::Node(n) if graph.nodes[n].id == START);
            if is_start
                || entries.contains(&v)
                || edges.iter().enumerate().any(|(i, e)| e.tv == v && e.su != v && !back[i])
            {
                continue;
            }
            let below = out[v].iter().filter(|&&i| !back[i]).map(|&i| layer[edges[i].tv]).min();
            if let Some(l) = below {
                layer[v] = layer[v].max(l.saturating_sub(1));
            }
        }
        // A subgraph's exits that lead nowhere inside it sit at its bottom, so the edges that
        // leave it do not run across it.
        let bottom = layer.iter().copied().max().unwrap_or(0);
        for &v in &exits {
            if out[v].iter().all(|&i| back[i]) {
                layer[v] = bottom;
            }
        }
        for (i, item) in items.iter_mut().enumerate() {
            item.layer = layer[i];
        }
        let depth = layer.iter().copied().max().map_or(0, |m| m + 1);

        // Dummies for long edges; segments between adjacent layers. A back edge goes up a side
        // lane when its ends are the outermost boxes of their layers on that side; otherwise it
        // goes up between the boxes, through dummies like a long forward edge. Which ones can
        // take a lane is known only once placed: those that cannot are moved and the layers
        // placed again (rarely more than once).
        let mut first_rank: Vec<f64> = vec![0.0; real];
        for (k, &v) in discovered.iter().enumerate() {
            first_rank[v] = k as f64;
        }
        let mut through: BTreeSet<usize> = BTreeSet::new();
        let mut attempt = 0;
        let (crossings, height) = loop {
            attempt += 1;
            items.truncate(real);
            let mut rank = first_rank.clone();
            let mut segs: Vec<Vec<Seg>> = vec![Vec::new(); depth.saturating_sub(1)];
            for i in 0..edges.len() {
                let e = &edges[i];
                if e.su == e.tv {
                    continue;
                }
                if back[i] && !through.contains(&i) {
                    edges[i].route = Route::Back { lane: 0.0, right: true };
                    continue;
                }
                // From the upper end down to the lower one.
                let (upper, lower) = if back[i] {
                    ((e.tv, e.tv_port), (e.su, e.su_port))
                } else {
                    ((e.su, e.su_port), (e.tv, e.tv_port))
                };
                let mut via = Vec::new();
                let mut prev = upper;
                for l in layer[upper.0] + 1..layer[lower.0] {
                    let d = items.len();
                    let mut dummy = Item::new(Kind::Dummy, 0.0, 0.0);
                    dummy.layer = l;
                    items.push(dummy);
                    rank.push(rank[upper.0] + 0.5 + i as f64 * 1e-6);
                    segs[l - 1].push(Seg { u: prev.0, v: d, pu: prev.1, pv: 0.0 });
                    prev = (d, 0.0);
                    via.push(d);
                }
                let last = Seg { u: prev.0, v: lower.0, pu: prev.1, pv: lower.1 };
                segs[layer[lower.0] - 1].push(last);
                edges[i].route = if back[i] { Route::Up(via) } else { Route::Forward(via) };
            }

            // 3. Order.
            let mut layers: Vec<Vec<usize>> = vec![Vec::new(); depth];
            for (i, item) in items.iter().enumerate() {
                layers[item.layer].push(i);
            }
            for list in &mut layers {
                list.sort_by(|a, b| rank[*a].total_cmp(&rank[*b]));
            }
            let crossings = order(&mut layers, &segs, items.len(), self.options.sweeps);

            // 4. Coordinates.
            place_x(&mut items, &layers, &segs);
            let mut top = 0.0;
            for list in &layers {
                let h = list
                    .iter()
                    .filter(|&&v| !items[v].is_dummy())
                    .map(|&v| items[v].h)
                    .fold(PILL_H, f64::max);
                for &v in list {
                    let item = &mut items[v];
                    if item.is_dummy() {
                        item.y = top;
                        item.h = h;
                    } else {
                        item.y = top + (h - item.h) / 2.0;
                    }
                }
                top += h + LAYER_GAP;
            }
            let height = if depth == 0 { 0.0 } else { top - LAYER_GAP };

            // 5. Back-edge lanes.
            let blocked = lanes(&items, &layers, &mut edges);
            if blocked.is_empty() || attempt >= 4 {
                break (crossings, height);
            }
            through.extend(blocked);
        };

        // Normalise to start at 0.
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for item in items.iter().filter(|i| !i.is_dummy()) {
            lo = lo.min(item.left());
            hi = hi.max(item.right());
        }
        for item in items.iter().filter(|i| i.is_dummy()) {
            lo = lo.min(item.x - 2.0);
            hi = hi.max(item.x + 2.0);
        }
        for e in &edges {
            if let Route::Back { lane, .. } = e.route {
                lo = lo.min(lane - 4.0);
                hi = hi.max(lane + 4.0);
            }
        }
        if !lo.is_finite() {
            return Block { w: 0.0, h: 0.0, items, edges, crossings };
        }
        for item in &mut items {
            item.x -= lo;
        }
        for e in &mut edges {
            if let Route::Back { lane, .. } = &mut e.route {
                *lane -= lo;
            }
        }
        Block { w: hi - lo, h: height, items, edges, crossings }
    }

    /// Writes a laid-out block at `(ox, oy)`: its nodes and clusters, and its edges as pending
    /// routes in absolute coordinates.
    fn emit(
        &self,
        block: &Block,
        ox: f64,
        oy: f64,
        depth: usize,
        cluster: Option<&str>,
        out: &mut Emit,
    ) {
        out.crossings += block.crossings;
        for item in &block.items {
            let rect = Rect { x: ox + item.left(), y: oy + item.y, w: item.w, h: item.h };
            match &item.kind {
                Kind::Node(n) => {
                    let id = self.graph.nodes[*n].id.clone();
                    let kind = match id.as_str() {
                        START => NodeKind::Start,
                        END => NodeKind::End,
                        _ => NodeKind::Node,
                    };
                    let label = display_name(&id, cluster);
                    out.index.insert(EndRef::Node(*n), out.nodes.len());
                    out.nodes.push(PlacedNode {
                        id,
                        label,
                        kind,
                        rect,
                        node: Some(*n),
                        cluster: cluster.map(str::to_string),
                        members: 1,
                    });
                }
                Kind::Collapsed { prefix, members } => {
                    out.index.insert(EndRef::Collapsed(prefix.clone()), out.nodes.len());
                    out.nodes.push(PlacedNode {
                        id: prefix.clone(),
                        label: prefix.rsplit(NS_SEP).next().unwrap_or(prefix).to_string(),
                        kind: NodeKind::Collapsed,
                        rect,
                        node: None,
                        cluster: cluster.map(str::to_string),
                        members: *members,
                    });
                }
                Kind::Cluster { prefix, block: inner, members, content_dx } => {
                    out.clusters.push(PlacedCluster {
                        id: prefix.clone(),
                        label: prefix.rsplit(NS_SEP).next().unwrap_or(prefix).to_string(),
                        rect,
                        depth,
                        members: *members,
                    });
                    self.emit(
                        inner,
                        rect.x + content_dx,
                        rect.y + CLUSTER_HEAD,
                        depth + 1,
                        Some(prefix),
                        out,
                    );
                }
                Kind::Dummy => {}
            }
        }
        for e in &block.edges {
            let route = match &e.route {
                Route::Forward(via) => PendingRoute::Forward(
                    via.iter()
                        .map(|&d| {
                            let item = &block.items[d];
                            (ox + item.x, oy + item.y, oy + item.y + item.h)
                        })
                        .collect(),
                ),
                Route::Back { lane, right } => {
                    PendingRoute::Back { lane: ox + lane, right: *right }
                }
                Route::Up(via) => PendingRoute::Up(
                    via.iter()
                        .rev()
                        .map(|&d| {
                            let item = &block.items[d];
                            (ox + item.x, oy + item.y + item.h, oy + item.y)
                        })
                        .collect(),
                ),
                Route::SelfLoop => PendingRoute::SelfLoop,
            };
            out.pending.push(Pending {
                edge: e.edge,
                src: e.src.clone(),
                tgt: e.tgt.clone(),
                conditional: e.conditional,
                label: e.label.clone(),
                route,
            });
        }
    }
}

/// An inner node's name without the prefix of the subgraph it is drawn in.
fn display_name(id: &str, cluster: Option<&str>) -> String {
    match cluster {
        Some(prefix) => id
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix(NS_SEP))
            .unwrap_or(id)
            .to_string(),
        None => id.to_string(),
    }
}

impl Item {
    fn new(kind: Kind, w: f64, h: f64) -> Item {
        Item { kind, w, h, x: 0.0, y: 0.0, layer: 0, pad_right: 0.0 }
    }
}

fn node_item(n: usize, id: &str, label: &str) -> Item {
    if id == START || id == END {
        Item::new(Kind::Node(n), text_w(label) * 11.0 / 12.0 + 2.0 * PILL_PAD_X, PILL_H)
    } else {
        Item::new(Kind::Node(n), (text_w(label) + 2.0 * NODE_PAD_X).max(NODE_MIN_W), NODE_H)
    }
}

/// Horizontal offset of a drawn endpoint's centre from its item's centre.
fn port(item: &Item, end: &EndRef) -> f64 {
    match &item.kind {
        Kind::Cluster { block, content_dx, .. } => match center_x(block, end) {
            Some(x) => content_dx + x - item.w / 2.0,
            None => 0.0,
        },
        _ => 0.0,
    }
}

/// Where a drawn endpoint's centre is inside a block (relative to it).
fn center_x(block: &Block, end: &EndRef) -> Option<f64> {
    block.items.iter().find_map(|item| match (&item.kind, end) {
        (Kind::Node(n), EndRef::Node(m)) if n == m => Some(item.x),
        (Kind::Collapsed { prefix, .. }, EndRef::Collapsed(p)) if prefix == p => Some(item.x),
        (Kind::Cluster { block, content_dx, .. }, _) => {
            center_x(block, end).map(|x| item.left() + content_dx + x)
        }
        _ => None,
    })
}

/// Whether a drawn endpoint inside a block can leave it sideways (`right` or left) without
/// crossing a box: nothing stands beside it in its layer, at any depth.
fn side_clear(block: &Block, end: &EndRef, right: bool) -> bool {
    let holds = |item: &Item| match (&item.kind, end) {
        (Kind::Node(n), EndRef::Node(m)) => n == m,
        (Kind::Collapsed { prefix, .. }, EndRef::Collapsed(p)) => prefix == p,
        (Kind::Cluster { block, .. }, _) => center_x(block, end).is_some(),
        _ => false,
    };
    let Some(at) = block.items.iter().find(|i| holds(i)) else { return true };
    let beside = block.items.iter().any(|i| {
        !i.is_dummy() && i.layer == at.layer && if right { i.x > at.x } else { i.x < at.x }
    });
    if beside {
        return false;
    }
    match &at.kind {
        Kind::Cluster { block, .. } => side_clear(block, end, right),
        _ => true,
    }
}

/// Iterative DFS; returns which edges close a cycle and the discovery order.
fn dfs(
    n: usize,
    edges: &[LevelEdge],
    out: &[Vec<usize>],
    roots: &[usize],
) -> (Vec<bool>, Vec<usize>) {
    let mut back = vec![false; edges.len()];
    let mut state = vec![0u8; n]; // 0 new, 1 on the stack, 2 done
    let mut order = Vec::with_capacity(n);
    for &root in roots {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        order.push(root);
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(top) = stack.last_mut() {
            let (v, next) = *top;
            if let Some(&e) = out[v].get(next) {
                top.1 += 1;
                let w = edges[e].tv;
                match state[w] {
                    0 => {
                        state[w] = 1;
                        order.push(w);
                        stack.push((w, 0));
                    }
                    1 => back[e] = true,
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }
    (back, order)
}

fn crossings_of(segs: &[Vec<Seg>], pos: &[usize]) -> usize {
    let mut total = 0;
    for list in segs {
        for (i, a) in list.iter().enumerate() {
            for b in &list[i + 1..] {
                let du = pos[a.u] as isize - pos[b.u] as isize;
                let dv = pos[a.v] as isize - pos[b.v] as isize;
                if du * dv < 0 {
                    total += 1;
                }
            }
        }
    }
    total
}

fn positions(layers: &[Vec<usize>], n: usize) -> Vec<usize> {
    let mut pos = vec![0usize; n];
    for list in layers {
        for (p, &v) in list.iter().enumerate() {
            pos[v] = p;
        }
    }
    pos
}

/// Orders the layers to reduce crossings; returns the crossings left.
fn order(layers: &mut [Vec<usize>], segs: &[Vec<Seg>], n: usize, sweeps: usize) -> usize {
    let mut up: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut down: Vec<Vec<usize>> = vec![Vec::new(); n];
    for list in segs {
        for s in list {
            up[s.v].push(s.u);
            down[s.u].push(s.v);
        }
    }
    let mut pos = positions(layers, n);
    let mut best = crossings_of(segs, &pos);
    let mut best_layers = layers.to_vec();
    for sweep in 0..sweeps {
        if best == 0 {
            break;
        }
        let downward = sweep % 2 == 0;
        let range: Vec<usize> = if downward {
            (1..layers.len()).collect()
        } else {
            (0..layers.len().saturating_sub(1)).rev().collect()
        };
        for l in range {
            let nb = if downward { &up } else { &down };
            let mut keyed: Vec<(f64, usize, usize)> = layers[l]
                .iter()
                .map(|&v| {
                    let list = &nb[v];
                    let key = if list.is_empty() {
                        pos[v] as f64
                    } else {
                        list.iter().map(|&u| pos[u] as f64).sum::<f64>() / list.len() as f64
                    };
                    (key, pos[v], v)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            layers[l] = keyed.into_iter().map(|(_, _, v)| v).collect();
            for (p, &v) in layers[l].iter().enumerate() {
                pos[v] = p;
            }
        }
        let c = crossings_of(segs, &pos);
        if c < best {
            best = c;
            best_layers = layers.to_vec();
        }
    }
    layers.clone_from_slice(&best_layers);
    if sweeps == 0 {
        return best;
    }
    // Swap neighbours while that removes crossings.
    let mut pos = positions(layers, n);
    for _ in 0..8 {
        let mut improved = false;
        for list in layers.iter_mut() {
            for i in 0..list.len().saturating_sub(1) {
                let (a, b) = (list[i], list[i + 1]);
                let cost = |left: usize, right: usize, pos: &[usize]| {
                    let mut c = 0;
                    for nb in [&up, &down] {
                        for &x in &nb[left] {
                            for &y in &nb[right] {
                                if pos[x] > pos[y] {
                                    c += 1;
                                }
                            }
                        }
                    }
                    c
                };
                if cost(b, a, &pos) < cost(a, b, &pos) {
                    list.swap(i, i + 1);
                    pos[a] = i + 1;
                    pos[b] = i;
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
    crossings_of(segs, &pos)
}

/// The gap between two neighbours in a layer.
fn gap(a: &Item, b: &Item) -> f64 {
    let base = if a.is_dummy() || b.is_dummy() { DUMMY_GAP } else { NODE_GAP };
    base + a.pad_right
}

/// Places each layer's items as near their wished-for centres as the gaps allow (weighted
/// isotonic regression by pool-adjacent-violators).
fn place_layer(items: &mut [Item], list: &[usize], wish: &[f64], weight: &[f64]) {
    let mut offset = Vec::with_capacity(list.len());
    let mut acc = 0.0;
    for (i, &v) in list.iter().enumerate() {
        if i > 0 {
            let u = list[i - 1];
            acc += items[u].w / 2.0 + gap(&items[u], &items[v]) + items[v].w / 2.0;
        }
        offset.push(acc);
    }
    // Pools of (weight, weighted sum, count).
    let mut pools: Vec<(f64, f64, usize)> = Vec::new();
    for i in 0..list.len() {
        pools.push((weight[i], weight[i] * (wish[i] - offset[i]), 1));
        while pools.len() > 1 {
            let (w2, s2, c2) = pools[pools.len() - 1];
            let (w1, s1, c1) = pools[pools.len() - 2];
            if s1 / w1 > s2 / w2 {
                pools.pop();
                let last = pools.len() - 1;
                pools[last] = (w1 + w2, s1 + s2, c1 + c2);
            } else {
                break;
            }
        }
    }
    let mut i = 0;
    for (w, s, c) in pools {
        let y = s / w;
        for _ in 0..c {
            items[list[i]].x = y + offset[i];
            i += 1;
        }
    }
}

fn place_x(items: &mut [Item], layers: &[Vec<usize>], segs: &[Vec<Seg>]) {
    // Neighbours with the offset to add to their centre to get a wish for ours.
    let n = items.len();
    let mut up: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    let mut down: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for list in segs {
        for s in list {
            up[s.v].push((s.u, s.pu - s.pv));
            down[s.u].push((s.v, s.pv - s.pu));
        }
    }
    // Start packed and centred.
    for list in layers {
        let wish: Vec<f64> = vec![0.0; list.len()];
        let weight: Vec<f64> = vec![1.0; list.len()];
        place_layer(items, list, &wish, &weight);
    }
    let wish_of = |items: &[Item], v: usize, nbs: &[&Vec<(usize, f64)>]| {
        let mut sum = 0.0;
        let mut count = 0.0;
        for list in nbs {
            for &(u, off) in list.iter() {
                sum += items[u].x + off;
                count += 1.0;
            }
        }
        if count > 0.0 { (sum / count, count) } else { (items[v].x, 0.1) }
    };
    let pass = |items: &mut [Item], l: usize, dirs: (bool, bool)| {
        let list = &layers[l];
        let mut wish = Vec::with_capacity(list.len());
        let mut weight = Vec::with_capacity(list.len());
        for &v in list {
            let mut nbs: Vec<&Vec<(usize, f64)>> = Vec::new();
            if dirs.0 {
                nbs.push(&up[v]);
            }
            if dirs.1 {
                nbs.push(&down[v]);
            }
            let (x, w) = wish_of(items, v, &nbs);
            let boost = if items[v].is_dummy() { 2.0 } else { 1.0 };
            wish.push(x);
            weight.push(w * boost);
        }
        place_layer(items, list, &wish, &weight);
    };
    for _ in 0..PLACE_ROUNDS {
        for l in 1..layers.len() {
            pass(items, l, (true, false));
        }
        for l in (0..layers.len().saturating_sub(1)).rev() {
            pass(items, l, (false, true));
        }
    }
    for l in 0..layers.len() {
        pass(items, l, (true, true));
    }
}

/// Picks a side and a lane for every back edge.
/// Returns the back edges that have no clear side: some box stands between an end and the lane.
fn lanes(items: &[Item], layers: &[Vec<usize>], edges: &mut [LevelEdge]) -> Vec<usize> {
    let mut blocked = Vec::new();
    let right_ext: Vec<f64> = layers
        .iter()
        .map(|l| l.iter().map(|&v| items[v].right()).fold(f64::NEG_INFINITY, f64::max))
        .collect();
    let left_ext: Vec<f64> = layers
        .iter()
        .map(|l| l.iter().map(|&v| items[v].left()).fold(f64::INFINITY, f64::min))
        .collect();
    let mut backs: Vec<usize> =
        (0..edges.len()).filter(|&i| matches!(edges[i].route, Route::Back { .. })).collect();
    let span = |e: &LevelEdge| items[e.su].layer.saturating_sub(items[e.tv].layer);
    backs.sort_by_key(|&i| (span(&edges[i]), i));
    // (top layer, bottom layer, lane) per side.
    let mut taken: [Vec<(usize, usize, f64)>; 2] = [Vec::new(), Vec::new()];
    for i in backs {
        let (su, tv) = (edges[i].su, edges[i].tv);
        let (lt, ls) = (items[tv].layer, items[su].layer);
        let (lo, hi) = (lt.min(ls), lt.max(ls));
        let between = |v: usize, right: bool| {
            let l = &layers[items[v].layer];
            l.iter()
                .filter(|&&w| {
                    !items[w].is_dummy()
                        && if right { items[w].x > items[v].x } else { items[w].x < items[v].x }
                })
                .count()
        };
        let hi_ext = (lo..=hi).map(|l| right_ext[l]).fold(f64::NEG_INFINITY, f64::max);
        let lo_ext = (lo..=hi).map(|l| left_ext[l]).fold(f64::INFINITY, f64::min);
        let inner = |v: usize, end: &EndRef, right: bool| match &items[v].kind {
            Kind::Cluster { block, .. } => usize::from(!side_clear(block, end, right)),
            _ => 0,
        };
        let (src, tgt) = (&edges[i].src, &edges[i].tgt);
        let cost_r =
            between(su, true) + between(tv, true) + inner(su, src, true) + inner(tv, tgt, true);
        let cost_l =
            between(su, false) + between(tv, false) + inner(su, src, false) + inner(tv, tgt, false);
        let mid = (items[su].x + edges[i].su_port + items[tv].x + edges[i].tv_port) / 2.0;
        let right = match cost_r.cmp(&cost_l) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Equal => hi_ext - mid <= mid - lo_ext,
        };
        if cost_r.min(cost_l) > 0 {
            blocked.push(i);
        }
        let side = usize::from(!right);
        let overlapping = taken[side].iter().filter(|(a, b, _)| *a <= hi && lo <= *b);
        let lane = if right {
            overlapping.fold(hi_ext + LANE_GAP, |acc, (_, _, x)| acc.max(x + LANE_STEP))
        } else {
            overlapping.fold(lo_ext - LANE_GAP, |acc, (_, _, x)| acc.min(x - LANE_STEP))
        };
        taken[side].push((lo, hi, lane));
        edges[i].route = Route::Back { lane, right };
    }
    blocked
}

// -------------------------------------------------------------------------------- routing

#[derive(Default)]
struct Emit {
    nodes: Vec<PlacedNode>,
    clusters: Vec<PlacedCluster>,
    index: BTreeMap<EndRef, usize>,
    pending: Vec<Pending>,
    crossings: usize,
}

enum PendingRoute {
    /// Down through dummies: (x, top, bottom) of each, absolute.
    Forward(Vec<(f64, f64, f64)>),
    /// Up through dummies: (x, bottom, top) of each, absolute, lowest first.
    Up(Vec<(f64, f64, f64)>),
    Back {
        lane: f64,
        right: bool,
    },
    SelfLoop,
}

struct Pending {
    edge: usize,
    src: EndRef,
    tgt: EndRef,
    conditional: bool,
    label: Option<String>,
    route: PendingRoute,
}

fn pt(x: f64, y: f64) -> Point {
    Point { x, y }
}

/// Spreads `k` ports `step` apart around 0, within `room`.
fn spread(i: usize, k: usize, step: f64, room: f64) -> f64 {
    if k < 2 {
        return 0.0;
    }
    let step = step.min(room / (k - 1) as f64);
    (i as f64 - (k - 1) as f64 / 2.0) * step
}

/// An edge's end on a node's top or bottom: (x of the edge's next point, the edge, whether it
/// is the edge's first point).
type Port = (f64, usize, bool);

fn route(
    nodes: &[PlacedNode],
    index: &BTreeMap<EndRef, usize>,
    pending: Vec<Pending>,
) -> Vec<PlacedEdge> {
    let rect_of = |e: &EndRef| index.get(e).map(|&i| (i, nodes[i].rect));
    // Raw routes first (ports at the centres), then spread the ports of shared nodes.
    let mut raw: Vec<(Pending, usize, usize, Vec<Point>)> = Vec::new();
    for p in pending {
        let (Some((si, s)), Some((ti, t))) = (rect_of(&p.src), rect_of(&p.tgt)) else { continue };
        let points = match &p.route {
            PendingRoute::Forward(via) => {
                let mut pts = vec![pt(s.cx(), s.bottom())];
                for &(x, top, bottom) in via {
                    pts.push(pt(x, top));
                    pts.push(pt(x, bottom));
                }
                pts.push(pt(t.cx(), t.y));
                pts
            }
            PendingRoute::Up(via) => {
                let mut pts = vec![pt(s.cx(), s.y)];
                for &(x, bottom, top) in via {
                    pts.push(pt(x, bottom));
                    pts.push(pt(x, top));
                }
                pts.push(pt(t.cx(), t.bottom()));
                pts
            }
            PendingRoute::Back { lane, right } => {
                let (sx, tx) = if *right { (s.right(), t.right()) } else { (s.x, t.x) };
                vec![pt(sx, s.cy()), pt(*lane, s.cy()), pt(*lane, t.cy()), pt(tx, t.cy())]
            }
            PendingRoute::SelfLoop => {
                let r = s.right();
                vec![pt(r, s.cy() - 7.0), pt(r + SELF_LOOP - 4.0, s.cy()), pt(r, s.cy() + 7.0)]
            }
        };
        raw.push((p, si, ti, points));
    }
    // Ports on the bottom and top of shared nodes, ordered by where their edges go.
    let mut ports: BTreeMap<(usize, bool), Vec<Port>> = BTreeMap::new();
    let mut sides: BTreeMap<(usize, bool), Vec<(usize, bool)>> = BTreeMap::new();
    for (k, (p, si, ti, pts)) in raw.iter().enumerate() {
        let n = pts.len();
        match p.route {
            PendingRoute::Forward(_) | PendingRoute::Up(_) => {
                let down = matches!(p.route, PendingRoute::Forward(_));
                ports.entry((*si, down)).or_default().push((pts[1].x, k, true));
                ports.entry((*ti, !down)).or_default().push((pts[n - 2].x, k, false));
            }
            PendingRoute::Back { right, .. } => {
                sides.entry((*si, right)).or_default().push((k, true));
                sides.entry((*ti, right)).or_default().push((k, false));
            }
            PendingRoute::SelfLoop => {}
        }
    }
    for ((node, _), mut list) in ports {
        list.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let (k, room) = (list.len(), nodes[node].rect.w * 0.6);
        for (i, (_, e, first)) in list.into_iter().enumerate() {
            let at = if first { 0 } else { raw[e].3.len() - 1 };
            raw[e].3[at].x += spread(i, k, PORT_STEP, room);
        }
    }
    for ((node, _), list) in sides {
        let (k, room) = (list.len(), nodes[node].rect.h * 0.6);
        for (i, (e, is_src)) in list.into_iter().enumerate() {
            let dy = spread(i, k, SIDE_PORT_STEP, room);
            let pts = &mut raw[e].3;
            if is_src {
                pts[0].y += dy;
                pts[1].y += dy;
            } else {
                pts[2].y += dy;
                pts[3].y += dy;
            }
        }
    }
    raw.into_iter()
        .map(|(p, si, ti, points)| {
            let back = matches!(p.route, PendingRoute::Back { .. } | PendingRoute::Up(_));
            let (path, label_at) = match p.route {
                PendingRoute::Forward(_) | PendingRoute::Up(_) => forward_path(&points),
                PendingRoute::Back { .. } => back_path(&points),
                PendingRoute::SelfLoop => self_loop_path(&points),
            };
            PlacedEdge {
                edge: p.edge,
                source: nodes[si].id.clone(),
                target: nodes[ti].id.clone(),
                conditional: p.conditional,
                back,
                label_at: p.label.as_ref().map(|_| label_at),
                label: p.label,
                points,
                path,
            }
        })
        .collect()
}

fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() { format!("{}", r as i64) } else { format!("{r:.1}") }
}

/// Vertical S-curves between the points; the label goes in the middle of the longest piece.
fn forward_path(points: &[Point]) -> (String, Point) {
    let mut d = String::new();
    let mut label = points.first().copied().unwrap_or(pt(0.0, 0.0));
    let mut longest = -1.0;
    for (i, p) in points.iter().enumerate() {
        if i == 0 {
            d.push_str(&format!("M{},{}", num(p.x), num(p.y)));
            continue;
        }
        let a = points[i - 1];
        let len = (p.y - a.y).abs() + (p.x - a.x).abs();
        if len > longest {
            longest = len;
            label = pt((a.x + p.x) / 2.0, (a.y + p.y) / 2.0);
        }
        if (a.x - p.x).abs() < 0.5 {
            d.push_str(&format!(" L{},{}", num(p.x), num(p.y)));
        } else {
            let dy = (p.y - a.y) / 2.0;
            d.push_str(&format!(
                " C{},{} {},{} {},{}",
                num(a.x),
                num(a.y + dy),
                num(p.x),
                num(p.y - dy),
                num(p.x),
                num(p.y)
            ));
        }
    }
    (d, label)
}

/// Out of the source's side, up the lane with rounded corners, into the target's side.
fn back_path(points: &[Point]) -> (String, Point) {
    let [s, a, b, t] = match points {
        [s, a, b, t] => [*s, *a, *b, *t],
        _ => return (String::new(), pt(0.0, 0.0)),
    };
    let lane = a.x;
    let dir = if lane >= s.x { 1.0 } else { -1.0 };
    let r = LANE_CORNER.min((lane - s.x).abs() / 2.0).min((s.y - t.y).abs() / 2.0).max(0.0);
    let up = if b.y <= a.y { -1.0 } else { 1.0 };
    let d = format!(
        "M{},{} H{} Q{},{} {},{} V{} Q{},{} {},{} H{}",
        num(s.x),
        num(s.y),
        num(lane - dir * r),
        num(lane),
        num(a.y),
        num(lane),
        num(a.y + up * r),
        num(b.y - up * r),
        num(lane),
        num(b.y),
        num(lane - dir * r),
        num(b.y),
        num(t.x)
    );
    (d, pt(lane, (a.y + b.y) / 2.0))
}

fn self_loop_path(points: &[Point]) -> (String, Point) {
    let [s, m, t] = match points {
        [s, m, t] => [*s, *m, *t],
        _ => return (String::new(), pt(0.0, 0.0)),
    };
    let d = format!(
        "M{},{} C{},{} {},{} {},{}",
        num(s.x),
        num(s.y),
        num(m.x + 4.0),
        num(s.y - 12.0),
        num(m.x + 4.0),
        num(t.y + 12.0),
        num(t.x),
        num(t.y)
    );
    (d, pt(m.x + 8.0, m.y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `GET /assistants/agent/graph` of the golden langgraph dev project.
    fn agent() -> Value {
        json!({"nodes":[{"id":"__start__","type":"runnable","data":{"name":"__start__"}},{"id":"agent","type":"runnable","data":{"name":"agent"}},{"id":"human_approval","type":"runnable","data":{"name":"human_approval"}},{"id":"tools","type":"runnable","data":{"name":"tools"}},{"id":"__end__"}],"edges":[{"source":"__start__","target":"agent"},{"source":"agent","target":"__end__","conditional":true},{"source":"agent","target":"human_approval","conditional":true},{"source":"human_approval","target":"agent","conditional":true},{"source":"human_approval","target":"tools","conditional":true},{"source":"tools","target":"agent"}]})
    }

    /// The golden `nested` graph with `xray=true`.
    fn nested_xray() -> Value {
        json!({"nodes":[{"id":"__start__","type":"runnable","data":{"name":"__start__"}},{"id":"before","type":"runnable","data":{"name":"before"}},{"id":"after","type":"runnable","data":{"name":"after"}},{"id":"__end__"},{"id":"child:inner_a","type":"runnable","data":{"name":"child:inner_a"}},{"id":"child:inner_b","type":"runnable","data":{"name":"child:inner_b"}}],"edges":[{"source":"__start__","target":"before"},{"source":"before","target":"child:inner_a"},{"source":"child:inner_b","target":"after"},{"source":"after","target":"__end__"},{"source":"child:inner_a","target":"child:inner_b"}]})
    }

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    /// A graph of `n` nodes between `__start__` and `__end__`: a spine, forward skips, loops
    /// back, conditional branches with labels; with `sub`, a third of the nodes sit in
    /// subgraphs (one of them nested).
    fn generated(n: usize, seed: u64, sub: bool) -> Value {
        let mut rng = Lcg(seed);
        let names: Vec<String> = (0..n)
            .map(|i| {
                let base = match rng.next(4) {
                    0 => format!("n{i}"),
                    1 => format!("step_{i}"),
                    2 => format!("call_model_{i}"),
                    _ => format!("retrieve_documents_{i}"),
                };
                match (sub, i % 10) {
                    (true, 3..=5) => format!("research:{base}"),
                    (true, 6) => format!("research:deep:{base}"),
                    _ => base,
                }
            })
            .collect();
        let mut nodes = vec![json!({"id": START, "type": "runnable", "data": {"name": START}})];
        nodes.extend(
            names.iter().map(|id| json!({"id": id, "type": "runnable", "data": {"name": id}})),
        );
        nodes.push(json!({"id": END}));
        let mut edges = vec![json!({"source": START, "target": names[0]})];
        for i in 0..n {
            if i + 1 < n && rng.next(5) != 0 {
                edges.push(json!({"source": names[i], "target": names[i + 1]}));
            } else if i + 1 < n {
                let j = (i + 1 + rng.next(3) as usize).min(n - 1);
                edges.push(json!({"source": names[i], "target": names[j], "conditional": true}));
                edges.push(json!({"source": names[i], "target": names[i + 1], "conditional": true, "data": "retry"}));
            }
            if rng.next(3) == 0 && i + 2 < n {
                let j = i + 2 + rng.next(4) as usize;
                if j < n {
                    edges
                        .push(json!({"source": names[i], "target": names[j], "conditional": true}));
                }
            }
            if i > 2 && rng.next(6) == 0 {
                let j = i - 1 - rng.next(i.min(6) as u64) as usize;
                edges.push(json!({"source": names[i], "target": names[j], "conditional": true, "data": "again"}));
            }
            if i + 4 > n {
                edges.push(json!({"source": names[i], "target": END, "conditional": i + 1 < n}));
            }
        }
        json!({"nodes": nodes, "edges": edges})
    }

    /// A wide graph of `n` nodes: a router fans out into six rows; every node is fed by one
    /// of the row above, a third by a second (conditional, sometimes labelled) one; some loop
    /// back to an earlier row; the last row ends at `__end__`.
    fn generated_wide(n: usize, seed: u64) -> Value {
        let mut rng = Lcg(seed);
        let names: Vec<String> = (0..n)
            .map(|i| match (i, rng.next(3)) {
                (0, _) => "router".to_string(),
                (_, 0) => format!("tool_{i}"),
                (_, 1) => format!("summarize_{i}"),
                _ => format!("check_{i}"),
            })
            .collect();
        let row = |i: usize| if i == 0 { 0 } else { 1 + (i - 1) * 6 / (n - 1) };
        let mut nodes = vec![json!({"id": START, "type": "runnable", "data": {"name": START}})];
        nodes.extend(
            names.iter().map(|id| json!({"id": id, "type": "runnable", "data": {"name": id}})),
        );
        nodes.push(json!({"id": END}));
        let mut edges = vec![json!({"source": START, "target": "router"})];
        let in_row = |r: usize| (0..n).filter(move |&i| row(i) == r).collect::<Vec<_>>();
        for j in 1..n {
            let above = in_row(row(j) - 1);
            let p = above[rng.next(above.len() as u64) as usize];
            edges.push(json!({"source": names[p], "target": names[j], "conditional": row(j) == 1}));
            if row(j) > 1 && rng.next(3) == 0 {
                let q = above[rng.next(above.len() as u64) as usize];
                let mut e = json!({"source": names[q], "target": names[j], "conditional": true});
                if rng.next(2) == 0 {
                    e["data"] = json!(["yes", "no", "done"][rng.next(3) as usize]);
                }
                edges.push(e);
            }
        }
        for i in 0..n {
            if row(i) == 6 {
                edges.push(json!({"source": names[i], "target": END}));
            }
            if row(i) > 2 && rng.next(6) == 0 {
                let earlier: Vec<usize> = (1..n).filter(|&j| row(j) + 1 < row(i)).collect();
                let j = earlier[rng.next(earlier.len() as u64) as usize];
                edges.push(json!({"source": names[i], "target": names[j], "conditional": true, "data": "retry"}));
            }
        }
        json!({"nodes": nodes, "edges": edges})
    }

    fn on_boundary(p: Point, r: &Rect) -> bool {
        let e = 0.01;
        let inside =
            p.x >= r.x - e && p.x <= r.right() + e && p.y >= r.y - e && p.y <= r.bottom() + e;
        let side = (p.x - r.x).abs() < e
            || (p.x - r.right()).abs() < e
            || (p.y - r.y).abs() < e
            || (p.y - r.bottom()).abs() < e;
        inside && side
    }

    /// What every drawing must satisfy.
    fn check(layout: &Layout) {
        let frame = Rect { x: 0.0, y: 0.0, w: layout.width, h: layout.height };
        for (i, a) in layout.nodes.iter().enumerate() {
            assert!(frame.contains(&a.rect), "{} outside the drawing: {:?}", a.id, a.rect);
            for b in &layout.nodes[i + 1..] {
                assert!(
                    !a.rect.overlaps(&b.rect),
                    "{} overlaps {}: {:?} {:?}",
                    a.id,
                    b.id,
                    a.rect,
                    b.rect
                );
            }
        }
        for c in &layout.clusters {
            assert!(frame.contains(&c.rect), "cluster {} outside the drawing", c.id);
            for n in &layout.nodes {
                let inside = n.id.starts_with(&format!("{}{NS_SEP}", c.id));
                if inside {
                    assert!(c.rect.contains(&n.rect), "{} not inside its cluster {}", n.id, c.id);
                } else {
                    assert!(!c.rect.overlaps(&n.rect), "{} overlaps cluster {}", n.id, c.id);
                }
            }
        }
        for e in &layout.edges {
            let s = layout.node(&e.source).map(|n| n.rect);
            let t = layout.node(&e.target).map(|n| n.rect);
            let (Some(s), Some(t)) = (s, t) else { panic!("edge to a node not drawn: {e:?}") };
            let (first, last) = (e.points[0], e.points[e.points.len() - 1]);
            assert!(
                on_boundary(first, &s),
                "edge {}→{} starts off its source: {first:?} {s:?}",
                e.source,
                e.target
            );
            assert!(
                on_boundary(last, &t),
                "edge {}→{} ends off its target: {last:?} {t:?}",
                e.source,
                e.target
            );
            assert!(e.path.starts_with('M') && e.path.len() > 8, "path {:?}", e.path);
            if e.back && first.y == e.points[1].y {
                // Up a side lane: the lane and its two stubs run clear of every other box.
                let (a, b) = (e.points[1], e.points[2]);
                let lane = Rect { x: a.x - 0.5, y: a.y.min(b.y), w: 1.0, h: (a.y - b.y).abs() };
                let stub = |p: Point, q: Point| Rect {
                    x: p.x.min(q.x) + 0.5,
                    y: p.y - 0.5,
                    w: (p.x - q.x).abs() - 1.0,
                    h: 1.0,
                };
                for n in &layout.nodes {
                    let ends = n.id == e.source || n.id == e.target;
                    let inside = |id: &str| id.starts_with(&format!("{}{NS_SEP}", n.id));
                    assert!(
                        !lane.overlaps(&n.rect),
                        "lane of {}→{} crosses {}",
                        e.source,
                        e.target,
                        n.id
                    );
                    if !ends && !inside(&e.source) && !inside(&e.target) {
                        for (p, q) in [(first, a), (b, last)] {
                            assert!(
                                !stub(p, q).overlaps(&n.rect),
                                "stub of {}→{} crosses {}",
                                e.source,
                                e.target,
                                n.id
                            );
                        }
                    }
                }
            } else if e.back {
                assert!(last.y < first.y, "back edge {}→{} does not go up", e.source, e.target);
            } else if e.source != e.target {
                assert!(
                    last.y > first.y,
                    "forward edge {}→{} does not go down",
                    e.source,
                    e.target
                );
            }
        }
    }

    #[test]
    fn agent_graph_from_the_golden_server() {
        let graph = Graph::from_json(&agent()).unwrap();
        assert_eq!(graph.nodes.len(), 5);
        assert_eq!(graph.edges.len(), 6);
        let layout = layout(&graph, &Options::default());
        check(&layout);
        assert_eq!(layout.nodes.len(), 5);
        assert_eq!(layout.edges.len(), 6);
        let y = |id: &str| layout.node(id).unwrap().rect.y;
        assert!(y("__start__") < y("agent") && y("agent") < y("human_approval"));
        assert!(y("human_approval") < y("tools"));
        assert_eq!(layout.node("__start__").unwrap().kind, NodeKind::Start);
        assert_eq!(layout.node("__end__").unwrap().kind, NodeKind::End);
        assert!(layout.node("__start__").unwrap().rect.h < layout.node("agent").unwrap().rect.h);
        let edge = |s: &str, t: &str| {
            layout.edges.iter().find(|e| e.source == s && e.target == t).unwrap()
        };
        assert!(edge("human_approval", "agent").back);
        assert!(edge("tools", "agent").back);
        assert!(!edge("agent", "human_approval").back);
        assert!(edge("agent", "__end__").conditional);
        assert!(!edge("__start__", "agent").conditional);
        assert!(!edge("tools", "agent").conditional);
        // Two loops into agent, from different heights: different lanes.
        assert_ne!(edge("human_approval", "agent").points[1].x, edge("tools", "agent").points[1].x);
        // The wider label makes the wider box.
        let w = |id: &str| layout.node(id).unwrap().rect.w;
        assert!(w("human_approval") > w("tools"));
        assert!(w("human_approval") >= "human_approval".len() as f64 * CHAR_W);
        assert_eq!(layout.crossings, 0);
    }

    #[test]
    fn xray_subgraph_is_a_labelled_cluster() {
        let graph = Graph::from_json(&nested_xray()).unwrap();
        assert_eq!(graph.clusters(), ["child"]);
        let layout = layout(&graph, &Options::default());
        check(&layout);
        assert_eq!(layout.clusters.len(), 1);
        let c = &layout.clusters[0];
        assert_eq!((c.id.as_str(), c.label.as_str(), c.members, c.depth), ("child", "child", 2, 0));
        let a = layout.node("child:inner_a").unwrap();
        assert_eq!(a.label, "inner_a");
        assert_eq!(a.cluster.as_deref(), Some("child"));
        let y = |id: &str| layout.node(id).unwrap().rect;
        assert!(y("before").bottom() < c.rect.y && c.rect.bottom() < y("after").y);
        assert!(y("child:inner_a").y < y("child:inner_b").y);
        // The edge into the subgraph ends on the inner node, not on the box.
        let into = layout.edges.iter().find(|e| e.source == "before").unwrap();
        assert_eq!(into.target, "child:inner_a");
        assert_eq!(layout.edges.len(), 5);
        // Aligned: before sits right above inner_a.
        assert!((y("before").cx() - y("child:inner_a").cx()).abs() < 1.0);
    }

    #[test]
    fn subgraph_entries_at_its_top_and_exits_at_its_bottom() {
        let v = json!({"nodes": [{"id": "__start__"}, {"id": "before"}, {"id": "after"},
            {"id": "s:a"}, {"id": "s:b"}, {"id": "s:c"}, {"id": "s:d"}, {"id": "s:entry"},
            {"id": "s:exit"}],
            "edges": [{"source": "__start__", "target": "before"},
                      {"source": "before", "target": "s:a"}, {"source": "s:a", "target": "s:b"},
                      {"source": "s:b", "target": "s:c"}, {"source": "s:c", "target": "s:d"},
                      {"source": "before", "target": "s:entry"},
                      {"source": "s:entry", "target": "s:d"},
                      {"source": "s:a", "target": "s:exit"},
                      {"source": "s:exit", "target": "after"}, {"source": "s:d", "target": "after"}]});
        let layout = layout(&Graph::from_json(&v).unwrap(), &Options::default());
        check(&layout);
        let y = |id: &str| layout.node(id).unwrap().rect.cy();
        assert_eq!(y("s:entry"), y("s:a"), "an entry stays at the top of its subgraph");
        assert_eq!(y("s:exit"), y("s:d"), "an exit goes to the bottom of its subgraph");
    }

    #[test]
    fn collapsed_subgraph_is_one_node() {
        let graph = Graph::from_json(&nested_xray()).unwrap();
        let options = Options { collapsed: ["child".to_string()].into(), ..Options::default() };
        let layout = layout(&graph, &options);
        check(&layout);
        assert!(layout.clusters.is_empty());
        let child = layout.node("child").unwrap();
        assert_eq!((child.kind, child.members, child.node), (NodeKind::Collapsed, 2, None));
        assert!(layout.node("child:inner_a").is_none());
        let pairs: Vec<(&str, &str)> =
            layout.edges.iter().map(|e| (e.source.as_str(), e.target.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("__start__", "before"),
                ("before", "child"),
                ("child", "after"),
                ("after", "__end__")
            ]
        );
    }

    #[test]
    fn thirty_nodes_are_readable() {
        let graph = Graph::from_json(&generated(30, 7, false)).unwrap();
        assert_eq!(graph.nodes.len(), 32);
        let ordered = layout(&graph, &Options::default());
        check(&ordered);
        assert_eq!(ordered.nodes.len(), 32);
        let pairs: BTreeSet<(&str, &str)> =
            graph.edges.iter().map(|e| (e.source.as_str(), e.target.as_str())).collect();
        assert_eq!(ordered.edges.len(), pairs.len(), "every edge is drawn, repeats merged");
        let unordered = layout(&graph, &Options { sweeps: 0, ..Options::default() });
        check(&unordered);
        let backs = ordered.edges.iter().filter(|e| e.back).count();
        println!(
            "30 nodes, {} edges ({backs} back): {} crossings after ordering, {} in search order; \
             drawing {:.0} x {:.0}",
            graph.edges.len(),
            ordered.crossings,
            unordered.crossings,
            ordered.width,
            ordered.height
        );
        assert!(ordered.crossings <= unordered.crossings);
        assert!(ordered.crossings <= 6, "{} crossings", ordered.crossings);
        for seed in 1..40 {
            let graph = Graph::from_json(&generated(30, seed, seed % 2 == 0)).unwrap();
            let a = layout(&graph, &Options::default());
            check(&a);
            let b = layout(&graph, &Options { sweeps: 0, ..Options::default() });
            assert!(a.crossings <= b.crossings, "seed {seed}: {} > {}", a.crossings, b.crossings);
        }
    }

    #[test]
    fn thirty_wide_nodes_are_readable() {
        let graph = Graph::from_json(&generated_wide(30, 6)).unwrap();
        let ordered = layout(&graph, &Options::default());
        check(&ordered);
        let unordered = layout(&graph, &Options { sweeps: 0, ..Options::default() });
        check(&unordered);
        let layers: BTreeSet<i64> = ordered.nodes.iter().map(|n| n.rect.cy() as i64).collect();
        println!(
            "30 nodes wide, {} edges ({} back), {} layers: {} crossings after ordering, {} in \
             search order; drawing {:.0} x {:.0}",
            ordered.edges.len(),
            ordered.edges.iter().filter(|e| e.back).count(),
            layers.len(),
            ordered.crossings,
            unordered.crossings,
            ordered.width,
            ordered.height
        );
        assert!(ordered.crossings < unordered.crossings);
        let mut total = (0, 0);
        for seed in 1..40 {
            let graph = Graph::from_json(&generated_wide(30, seed)).unwrap();
            let a = layout(&graph, &Options::default());
            check(&a);
            let b = layout(&graph, &Options { sweeps: 0, ..Options::default() });
            assert!(a.crossings <= b.crossings, "seed {seed}: {} > {}", a.crossings, b.crossings);
            total = (total.0 + a.crossings, total.1 + b.crossings);
        }
        println!(
            "39 wide graphs: {} crossings after ordering, {} in search order",
            total.0, total.1
        );
    }

    #[test]
    fn thirty_nodes_with_nested_subgraphs() {
        let graph = Graph::from_json(&generated(30, 11, true)).unwrap();
        assert_eq!(graph.clusters(), ["research", "research:deep"]);
        let layout_all = layout(&graph, &Options::default());
        check(&layout_all);
        assert_eq!(layout_all.clusters.len(), 2);
        let deep = layout_all.clusters.iter().find(|c| c.id == "research:deep").unwrap();
        let outer = layout_all.clusters.iter().find(|c| c.id == "research").unwrap();
        assert!(outer.rect.contains(&deep.rect) && deep.depth == 1);
        println!(
            "30 nodes in subgraphs: {} crossings; drawing {:.0} x {:.0}",
            layout_all.crossings, layout_all.width, layout_all.height
        );
        for collapsed in [&["research"][..], &["research:deep"], &["research", "research:deep"]] {
            let options = Options {
                collapsed: collapsed.iter().map(|s| s.to_string()).collect(),
                ..Options::default()
            };
            let l = layout(&graph, &options);
            check(&l);
            let inner =
                l.nodes.iter().filter(|n| n.id.starts_with(&format!("{}:", collapsed[0]))).count();
            assert_eq!(inner, 0, "{collapsed:?}");
            assert!(l.node(collapsed[0]).is_some_and(|n| n.kind == NodeKind::Collapsed));
        }
    }

    #[test]
    fn cycles_self_loops_and_no_start() {
        let v = json!({"nodes": [{"id": "a"}, {"id": "b"}, {"id": "c"}],
            "edges": [{"source": "a", "target": "b"}, {"source": "b", "target": "c"},
                      {"source": "c", "target": "a"}, {"source": "b", "target": "b"}]});
        let layout = layout(&Graph::from_json(&v).unwrap(), &Options::default());
        check(&layout);
        assert_eq!(layout.edges.iter().filter(|e| e.back).count(), 1);
        let self_loop = layout.edges.iter().find(|e| e.source == "b" && e.target == "b").unwrap();
        assert!(!self_loop.back && self_loop.points.len() == 3);
        // The loop has room: nothing is drawn in it.
        let b = layout.node("b").unwrap().rect;
        let room = Rect { x: b.right(), y: b.y, w: SELF_LOOP, h: b.h };
        assert!(layout.nodes.iter().all(|n| !n.rect.overlaps(&room)));
    }

    #[test]
    fn labels_merges_and_determinism() {
        let v = json!({"nodes": [{"id": "__start__"}, {"id": "route"}, {"id": "x"}],
            "edges": [{"source": "__start__", "target": "route"},
                      {"source": "route", "target": "x", "conditional": true, "data": "yes"},
                      {"source": "route", "target": "x", "conditional": true, "data": "maybe"},
                      {"source": "route", "target": "__end__", "conditional": true, "data": {"k": 1}}]});
        let graph = Graph::from_json(&v).unwrap();
        assert!(graph.node("__end__").is_some(), "an edge's unlisted target is added");
        let a = layout(&graph, &Options::default());
        check(&a);
        let merged = a.edges.iter().find(|e| e.target == "x").unwrap();
        assert_eq!(merged.label.as_deref(), Some("yes / maybe"));
        assert!(merged.label_at.is_some() && merged.conditional);
        let to_end = a.edges.iter().find(|e| e.target == "__end__").unwrap();
        assert_eq!(to_end.label.as_deref(), Some(r#"{"k":1}"#));
        assert_eq!(a, layout(&graph, &Options::default()));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(Graph::from_json(&json!([])).is_err());
        assert!(Graph::from_json(&json!({})).is_err());
        assert!(Graph::from_json(&json!({"nodes": 3})).is_err());
        assert!(Graph::from_json(&json!({"nodes": [{"name": "x"}]})).is_err());
        assert!(Graph::from_json(&json!({"nodes": [], "edges": [{"source": "a"}]})).is_err());
        assert!(Graph::from_json(&json!({"nodes": [], "edges": {}})).is_err());
        let dup = Graph::from_json(&json!({"nodes": [{"id": "a"}, {"id": "a"}]})).unwrap();
        assert_eq!(dup.nodes.len(), 1);
        let empty = layout(&Graph::default(), &Options::default());
        assert!(empty.nodes.is_empty() && empty.width > 0.0 && empty.height > 0.0);
        // Odd ids: a trailing separator, an empty prefix.
        let odd = json!({"nodes": [{"id": ":x"}, {"id": "y:"}, {"id": "y"}, {"id": "a::b"}],
            "edges": [{"source": ":x", "target": "y:"}, {"source": "y:", "target": "a::b"}]});
        check(&layout(&Graph::from_json(&odd).unwrap(), &Options::default()));
    }
}
