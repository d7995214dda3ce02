//! Graph drawing: the JSON of LangGraph's `get_graph(xray).to_json()` (`engine-semantics` §6).

use serde_json::{Value, json};

use crate::graph::CompiledGraph;

impl CompiledGraph {
    /// The drawing JSON (`{"nodes": [...], "edges": [...]}`).
    pub fn draw(&self, _xray: u32) -> Value {
        json!({"nodes": [], "edges": []})
    }
}
