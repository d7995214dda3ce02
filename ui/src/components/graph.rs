//! The Graph screen: the selected assistant's graph drawn as inline SVG (layout from
//! `orrery_api::graph_layout`), with xray, zoom and pan, fit, export, and a side panel for the
//! selected node.

use std::sync::Arc;

use leptos::ev;
use leptos::prelude::*;
use orrery_api::graph_layout::{
    self, Layout, NodeKind, Options, PlacedCluster, PlacedEdge, PlacedNode,
};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::components::icons;
use crate::state::{AppState, Load, use_app};

/// The drawing's style, shared by the window and the exported file. Colours are the palette's
/// variables; the export replaces them with their current values.
const GRAPH_CSS: &str = "\
#graph{display:block;width:100%;height:100%;font-family:var(--mono);user-select:none;-webkit-user-select:none}
#graph .node{cursor:pointer}
#graph .node .box{fill:var(--bg);stroke:var(--border-strong);stroke-width:1.2}
#graph .node .stack{fill:var(--bg);stroke:var(--border-strong);stroke-width:1.2}
#graph .node text{fill:var(--text);font-size:12px;font-family:var(--mono);text-anchor:middle;dominant-baseline:central}
#graph .node:hover .box{stroke:var(--accent)}
#graph .node.selected .box{stroke:var(--accent);stroke-width:2;fill:var(--accent-soft)}
#graph .node.start .box,#graph .node.end .box{fill:var(--bg-hover);stroke:var(--border-strong)}
#graph .node.start text,#graph .node.end text{fill:var(--muted);font-size:11px}
#graph .node.collapsed .box{stroke:var(--accent)}
#graph .node.visited .box{stroke:var(--up);stroke-width:2}
#graph .node.running .box{stroke:var(--accent);stroke-width:3;fill:var(--accent-soft);animation:graph-pulse 1s ease-in-out infinite}
#graph .node .order{fill:var(--up);font-size:10px;font-weight:600;text-anchor:end}
@keyframes graph-pulse{50%{stroke-opacity:0.35}}
#graph .badge rect{fill:var(--accent)}
#graph .badge text{fill:var(--accent-text);font-size:10px;font-weight:600}
#graph .edge{fill:none;stroke:var(--muted);stroke-width:1.4}
#graph .edge.conditional{stroke-dasharray:5 4}
#graph .edge.active{stroke:var(--accent);stroke-width:2}
#graph .arrow{fill:var(--muted)}
#graph .arrow.active{fill:var(--accent)}
#graph .edge-label rect{fill:var(--bg);stroke:var(--border)}
#graph .edge-label text{fill:var(--muted);font-size:11px;font-family:var(--mono);text-anchor:middle;dominant-baseline:central}
#graph .cluster .frame{fill:var(--accent-soft);fill-opacity:0.45;stroke:var(--accent);stroke-opacity:0.55;stroke-dasharray:6 4}
#graph .cluster .title{fill:var(--accent);font-size:11px;font-weight:600;font-family:var(--mono);dominant-baseline:central}
#graph .cluster-toggle{cursor:pointer}
#graph .cluster-toggle rect{fill:var(--bg);stroke:var(--accent);stroke-opacity:0.6}
#graph .cluster-toggle path{stroke:var(--accent);stroke-width:1.5}
";

/// The smallest and largest zoom.
const MIN_ZOOM: f64 = 0.05;
const MAX_ZOOM: f64 = 4.0;
/// The first view of a graph is no smaller than this; a bigger graph starts at its top.
const READABLE_ZOOM: f64 = 0.6;
/// One click of the zoom buttons.
const ZOOM_STEP: f64 = 1.25;

/// Zoom and pan: screen = drawing × k + (tx, ty).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Viewport {
    k: f64,
    tx: f64,
    ty: f64,
}

/// A drag in progress (pan).
#[derive(Debug, Clone, Copy)]
struct Drag {
    x: f64,
    y: f64,
    from: Viewport,
    moved: bool,
}

fn f(v: f64) -> String {
    format!("{:.1}", v)
}

/// The graph of the selected assistant, with its toolbar and side panel.
#[component]
pub fn GraphPanel() -> impl IntoView {
    let state = use_app();
    let canvas = NodeRef::<leptos::html::Div>::new();
    let view_port = RwSignal::new(Viewport { k: 1.0, tx: 0.0, ty: 0.0 });
    let drag = StoredValue::new(None::<Drag>);
    // The canvas width the view was last fitted or kept centred for.
    let last_width = StoredValue::new(0.0_f64);
    let swallow_click = StoredValue::new(false);

    let layout = Memo::new(move |_| {
        let collapsed = state.graph.collapsed.get();
        state.graph.data.with(|d| match d {
            Load::Ready(graph) => Some(Arc::new(graph_layout::layout(
                graph,
                &Options { collapsed, ..Options::default() },
            ))),
            _ => None,
        })
    });

    let size = move || {
        canvas.get_untracked().map(|el| {
            let r = el.get_bounding_client_rect();
            (r.width(), r.height())
        })
    };
    // Fits the drawing in the canvas, no smaller than `floor` (then it starts at the top).
    let fit = move |floor: f64| {
        let (Some(l), Some((cw, ch))) = (layout.get_untracked(), size()) else { return };
        if cw <= 0.0 || ch <= 0.0 || l.width <= 0.0 || l.height <= 0.0 {
            return;
        }
        let k = ((cw - 24.0) / l.width).min((ch - 24.0) / l.height).clamp(MIN_ZOOM, 1.25);
        let k = k.max(floor.min(1.25));
        let tx = (cw - l.width * k) / 2.0;
        let ty = if l.height * k <= ch { (ch - l.height * k) / 2.0 } else { 8.0 };
        view_port.set(Viewport { k, tx, ty });
        last_width.set_value(cw);
    };
    // When the canvas changes width (the node panel opens or closes, the window is resized),
    // the drawing keeps its place relative to the centre.
    let keep_centre = move || {
        let Some((cw, _)) = size() else { return };
        let old = last_width.get_value();
        if old > 0.0 && (cw - old).abs() > 0.5 {
            view_port.update(|v| v.tx += (cw - old) / 2.0);
        }
        last_width.set_value(cw);
    };
    // Brings a node into view (when picked from the side panel's links, say).
    let reveal = move |id: &str| {
        let (Some(l), Some((cw, ch))) = (layout.get_untracked(), size()) else { return };
        let Some(r) = l.node(id).map(|n| n.rect) else { return };
        // The shift that brings [lo, hi] inside [pad, room - pad], the start first.
        let shift = |lo: f64, hi: f64, room: f64| {
            let pad = 12.0;
            let d = if hi > room - pad { room - pad - hi } else { 0.0 };
            if lo + d < pad { pad - lo } else { d }
        };
        view_port.update(|v| {
            v.tx += shift(r.x * v.k + v.tx, r.right() * v.k + v.tx, cw);
            v.ty += shift(r.y * v.k + v.ty, r.bottom() * v.k + v.ty, ch);
        });
    };
    Effect::new(move |_| {
        let node = state.graph.node.get();
        request_animation_frame(move || {
            keep_centre();
            if let Some(id) = node {
                reveal(&id);
            }
        });
    });
    let resize = window_event_listener(ev::resize, move |_| keep_centre());
    on_cleanup(move || resize.remove());
    let zoom_at = move |mx: f64, my: f64, factor: f64| {
        view_port.update(|v| {
            let k = (v.k * factor).clamp(MIN_ZOOM, MAX_ZOOM);
            v.tx = mx - (mx - v.tx) * k / v.k;
            v.ty = my - (my - v.ty) * k / v.k;
            v.k = k;
        });
    };
    let zoom_center = move |factor: f64| {
        if let Some((cw, ch)) = size() {
            zoom_at(cw / 2.0, ch / 2.0, factor);
        }
    };

    // A new graph (another assistant, xray on or off) starts with a fitted view.
    Effect::new(move |_| {
        let ready = state.graph.data.with(|d| matches!(d, Load::Ready(_)));
        if ready {
            request_animation_frame(move || fit(READABLE_ZOOM));
        }
    });

    let on_wheel = move |e: ev::WheelEvent| {
        e.prevent_default();
        let Some(el) = canvas.get_untracked() else { return };
        let r = el.get_bounding_client_rect();
        let scale = if e.delta_mode() == 1 { 0.05 } else { 0.0015 };
        let factor = (-e.delta_y() * scale).exp();
        zoom_at(f64::from(e.client_x()) - r.left(), f64::from(e.client_y()) - r.top(), factor);
    };
    let on_down = move |e: ev::PointerEvent| {
        swallow_click.set_value(false);
        if e.button() != 0 {
            return;
        }
        let from = view_port.get_untracked();
        let (x, y) = (f64::from(e.client_x()), f64::from(e.client_y()));
        drag.set_value(Some(Drag { x, y, from, moved: false }));
    };
    let on_move = move |e: ev::PointerEvent| {
        let Some(mut d) = drag.get_value() else { return };
        let (dx, dy) = (f64::from(e.client_x()) - d.x, f64::from(e.client_y()) - d.y);
        if !d.moved {
            if dx.abs() + dy.abs() < 4.0 {
                return;
            }
            d.moved = true;
            drag.set_value(Some(d));
            if let Some(el) = canvas.get_untracked() {
                let _ = el.set_pointer_capture(e.pointer_id());
            }
        }
        view_port.set(Viewport { k: d.from.k, tx: d.from.tx + dx, ty: d.from.ty + dy });
    };
    let on_up = move |_| {
        if let Some(d) = drag.get_value() {
            swallow_click.set_value(d.moved);
        }
        drag.set_value(None);
    };
    let on_background = move |_| {
        if swallow_click.get_value() {
            swallow_click.set_value(false);
            return;
        }
        state.graph.node.set(None);
    };
    let pick = Callback::new(move |id: String| {
        if swallow_click.get_value() {
            swallow_click.set_value(false);
            return;
        }
        state.graph.node.set(Some(id));
    });
    let toggle_cluster = Callback::new(move |prefix: String| {
        if swallow_click.get_value() {
            swallow_click.set_value(false);
            return;
        }
        state.graph.collapsed.update(|c| {
            if !c.remove(&prefix) {
                c.insert(prefix);
            }
        });
    });

    let assistant = move || {
        let id = state.browse.assistant.get()?;
        state.browse.assistants.with(|l| match l {
            Load::Ready(list) => list.iter().find(|a| a.assistant_id == id).cloned(),
            _ => None,
        })
    };
    let file_name = move || assistant().map(|a| a.graph_id).unwrap_or_else(|| "graph".to_string());
    let export_svg = move |_| match svg_document(layout.get_untracked().as_deref()) {
        Ok(svg) => {
            if let Err(e) = download(&svg_url(&svg), &format!("{}.svg", file_name())) {
                state.report(e);
            }
        }
        Err(e) => state.report(e),
    };
    let export_png = move |_| {
        let name = format!("{}.png", file_name());
        let result = svg_document(layout.get_untracked().as_deref())
            .and_then(|svg| png_download(state, &svg, layout.get_untracked().as_deref(), name));
        if let Err(e) = result {
            state.report(e);
        }
    };
    let has_drawing = move || layout.with(|l| l.as_ref().is_some_and(|l| !l.nodes.is_empty()));

    let transform = move || {
        let v = view_port.get();
        format!("translate({:.2},{:.2}) scale({:.4})", v.tx, v.ty, v.k)
    };
    let drawing = move || {
        layout.get().map(|l| {
            let clusters =
                l.clusters.iter().map(|c| cluster_view(c, toggle_cluster)).collect_view();
            let edges = l.edges.iter().map(|e| edge_view(state, e)).collect_view();
            let labels = l.edges.iter().filter_map(edge_label_view).collect_view();
            let nodes =
                l.nodes.iter().map(|n| node_view(state, n, pick, toggle_cluster)).collect_view();
            view! {
                <g class="clusters">{clusters}</g>
                <g class="edges">{edges}</g>
                <g class="edge-labels">{labels}</g>
                <g class="nodes">{nodes}</g>
            }
        })
    };
    let status = move || match state.graph.data.get() {
        _ if state.browse.assistant.with(Option::is_none) => Some(
            view! { <p class="graph-status empty hint">"Select an assistant to see its graph"</p> }
                .into_any(),
        ),
        Load::Idle => None,
        Load::Loading => Some(
            view! {
                <div class="graph-status loading" role="status">
                    <span class="spinner"></span>
                    "Loading the graph…"
                </div>
            }
            .into_any(),
        ),
        Load::Failed(e) => Some(
            view! {
                <div class="graph-status list-error">
                    <p>{e}</p>
                    <button type="button" on:click=move |_| state.load_graph()>
                        "Retry"
                    </button>
                </div>
            }
            .into_any(),
        ),
        Load::Ready(g) if g.nodes.is_empty() => {
            Some(view! { <p class="graph-status empty">"This graph has no nodes"</p> }.into_any())
        }
        Load::Ready(_) => None,
    };
    let zoom_text = move || format!("{:.0}%", view_port.get().k * 100.0);

    view! {
        <section id="graph-pane" class="pane">
            <style>{GRAPH_CSS}</style>
            <header class="pane-head">
                <h3>"Graph"</h3>
                <span class="pane-sub">
                    {move || {
                        assistant()
                            .map(|a| {
                                if a.name == a.graph_id {
                                    format!("· {}", a.name)
                                } else {
                                    format!("· {} · {}", a.name, a.graph_id)
                                }
                            })
                    }}
                </span>
                <span class="spacer"></span>
                <label class="switch" title="Expand subgraphs (xray)">
                    <input
                        id="graph-xray"
                        type="checkbox"
                        prop:checked=move || state.graph.xray.get()
                        disabled=move || state.browse.assistant.with(Option::is_none)
                        on:change=move |e| {
                            state.graph.xray.set(event_target_checked(&e));
                            state.load_graph();
                        }
                    />
                    "xray"
                </label>
                <button
                    id="graph-export-svg"
                    type="button"
                    title="Download the drawing as SVG"
                    disabled=move || !has_drawing()
                    on:click=export_svg
                >
                    "Export SVG"
                </button>
                <button
                    id="graph-export-png"
                    type="button"
                    title="Download the drawing as PNG"
                    disabled=move || !has_drawing()
                    on:click=export_png
                >
                    "PNG"
                </button>
                <button
                    id="graph-refresh"
                    type="button"
                    class="icon-button"
                    title="Reload the graph"
                    aria-label="Reload the graph"
                    disabled=move || state.browse.assistant.with(Option::is_none)
                    on:click=move |_| state.load_graph()
                >
                    {icons::refresh()}
                </button>
            </header>
            <div class="graph-body">
                <div
                    class="graph-canvas"
                    class:dragging=move || drag.with_value(|d| d.is_some_and(|d| d.moved))
                    node_ref=canvas
                    on:wheel=on_wheel
                    on:pointerdown=on_down
                    on:pointermove=on_move
                    on:pointerup=on_up
                    on:pointercancel=on_up
                    on:click=on_background
                >
                    <svg
                        id="graph"
                        role="img"
                        aria-label="The assistant's graph"
                        data-lit=move || state.with_live(|r| r.lit_line()).unwrap_or_default()
                        data-running=move || {
                            state.with_live(|r| r.active.join(",")).unwrap_or_default()
                        }
                    >
                        <defs>
                            <marker
                                id="graph-arrow"
                                viewBox="0 0 10 10"
                                refX="9"
                                refY="5"
                                markerWidth="7"
                                markerHeight="7"
                                orient="auto-start-reverse"
                            >
                                <path class="arrow" d="M0,0 L10,5 L0,10 z"></path>
                            </marker>
                            <marker
                                id="graph-arrow-active"
                                viewBox="0 0 10 10"
                                refX="9"
                                refY="5"
                                markerWidth="7"
                                markerHeight="7"
                                orient="auto-start-reverse"
                            >
                                <path class="arrow active" d="M0,0 L10,5 L0,10 z"></path>
                            </marker>
                        </defs>
                        <g id="graph-viewport" transform=transform>
                            {drawing}
                        </g>
                    </svg>
                    {status}
                    <div class="graph-controls" on:click=|e| e.stop_propagation()>
                        <button
                            id="graph-zoom-out"
                            type="button"
                            class="icon-button"
                            title="Zoom out"
                            aria-label="Zoom out"
                            on:click=move |_| zoom_center(1.0 / ZOOM_STEP)
                        >
                            {icons::minus()}
                        </button>
                        <span id="graph-zoom" class="zoom mono">{zoom_text}</span>
                        <button
                            id="graph-zoom-in"
                            type="button"
                            class="icon-button"
                            title="Zoom in"
                            aria-label="Zoom in"
                            on:click=move |_| zoom_center(ZOOM_STEP)
                        >
                            {icons::plus()}
                        </button>
                        <button
                            id="graph-fit"
                            type="button"
                            title="Fit the whole graph in view"
                            on:click=move |_| fit(0.0)
                        >
                            "Fit"
                        </button>
                    </div>
                    <div class="graph-legend muted" aria-hidden="true">
                        <svg width="26" height="8">
                            <path d="M1,4 H25" class="legend-edge"></path>
                        </svg>
                        "edge"
                        <svg width="26" height="8">
                            <path d="M1,4 H25" class="legend-edge conditional"></path>
                        </svg>
                        "conditional"
                    </div>
                </div>
                <NodePanel layout=layout />
            </div>
        </section>
    }
}

fn node_view(
    state: AppState,
    n: &PlacedNode,
    pick: Callback<String>,
    toggle: Callback<String>,
) -> impl IntoView + use<> {
    let id = n.id.clone();
    let selected = {
        let id = id.clone();
        move || state.graph.node.with(|s| s.as_deref() == Some(id.as_str()))
    };
    let class = match n.kind {
        NodeKind::Start => "node start",
        NodeKind::End => "node end",
        NodeKind::Node => "node",
        NodeKind::Collapsed => "node collapsed",
    };
    let running = {
        let id = id.clone();
        move || state.with_live(|r| r.active.contains(&id)).unwrap_or(false)
    };
    // The order of the node's starts in the last run ("1,3" when it ran first and third).
    let order = {
        let id = id.clone();
        move || {
            state.with_live(|r| {
                r.lit
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| **n == id)
                    .map(|(i, _)| (i + 1).to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            })
        }
    };
    let visited = {
        let order = order.clone();
        move || order().is_some_and(|o| !o.is_empty())
    };
    let (w, h) = (n.rect.w, n.rect.h);
    let pill = matches!(n.kind, NodeKind::Start | NodeKind::End);
    let rx = if pill { h / 2.0 } else { 8.0 };
    let collapsed = n.kind == NodeKind::Collapsed;
    let stack = collapsed.then(|| {
        view! {
            <rect class="stack" x="4" y="4" width=f(w) height=f(h) rx=f(rx)></rect>
        }
    });
    let badge = collapsed.then(|| {
        let prefix = id.clone();
        let count = n.members.to_string();
        view! {
            <g
                class="badge"
                transform=format!("translate({},{})", f(w - 30.0), f(h / 2.0 - 8.0))
                on:click=move |e| {
                    e.stop_propagation();
                    toggle.run(prefix.clone());
                }
            >
                <title>"Expand this subgraph"</title>
                <rect width="22" height="16" rx="8"></rect>
                <text x="11" y="8.5" text-anchor="middle" dominant-baseline="central">
                    {count}
                </text>
            </g>
        }
    });
    let label_x = if collapsed { (w - 30.0) / 2.0 + 2.0 } else { w / 2.0 };
    let bp = {
        let id = id.clone();
        Memo::new(move |_| {
            state.graph.breakpoints.with(|m| m.get(&id).copied().unwrap_or_default())
        })
    };
    let has_bp = move || {
        let b = bp.get();
        b.before || b.after
    };
    let click_id = id.clone();
    view! {
        <g
            class=class
            class:selected=selected
            class:running=running
            class:visited=visited
            class:breakpoint=has_bp
            data-id=id
            transform=format!("translate({},{})", f(n.rect.x), f(n.rect.y))
            on:click=move |e| {
                e.stop_propagation();
                pick.run(click_id.clone());
            }
        >
            {stack}
            <rect class="box" width=f(w) height=f(h) rx=f(rx)></rect>
            <text x=f(label_x) y=f(h / 2.0)>{n.label.clone()}</text>
            {move || bp.get().before.then(|| view! { <circle class="bp before" cx="0" cy=f(h / 2.0) r="5"><title>"Pauses before"</title></circle> })}
            {move || bp.get().after.then(|| view! { <circle class="bp after" cx=f(w) cy=f(h / 2.0) r="5"><title>"Pauses after"</title></circle> })}
            <text class="order" x=f(w - 4.0) y="-5">
                {move || order().filter(|o| !o.is_empty()).map(|o| format!("#{o}"))}
            </text>
            {badge}
        </g>
    }
}

fn edge_view(state: AppState, e: &PlacedEdge) -> impl IntoView + use<> {
    let class = match (e.conditional, e.back) {
        (true, true) => "edge conditional back",
        (true, false) => "edge conditional",
        (false, true) => "edge back",
        (false, false) => "edge",
    };
    let (source, target) = (e.source.clone(), e.target.clone());
    let active = move || {
        state.graph.node.with(|s| s.as_deref().is_some_and(|id| id == source || id == target))
    };
    let marker = {
        let active = active.clone();
        move || {
            if active() { "url(#graph-arrow-active)" } else { "url(#graph-arrow)" }
        }
    };
    view! {
        <path
            class=class
            class:active=active
            d=e.path.clone()
            marker-end=marker
            data-source=e.source.clone()
            data-target=e.target.clone()
        ></path>
    }
}

fn edge_label_view(e: &PlacedEdge) -> Option<impl IntoView + use<>> {
    let (label, at) = (e.label.clone()?, e.label_at?);
    let w = label.chars().count() as f64 * 6.7 + 12.0;
    Some(view! {
        <g class="edge-label" transform=format!("translate({},{})", f(at.x), f(at.y))>
            <rect x=f(-w / 2.0) y="-9" width=f(w) height="18" rx="4"></rect>
            <text>{label}</text>
        </g>
    })
}

fn cluster_view(c: &PlacedCluster, toggle: Callback<String>) -> impl IntoView + use<> {
    let r = c.rect;
    let prefix = c.id.clone();
    view! {
        <g class="cluster" data-id=c.id.clone() data-depth=c.depth.to_string()>
            <rect class="frame" x=f(r.x) y=f(r.y) width=f(r.w) height=f(r.h) rx="10"></rect>
            <text class="title" x=f(r.x + 12.0) y=f(r.y + graph_layout::CLUSTER_HEAD / 2.0 + 1.0)>
                {c.label.clone()}
            </text>
            <g
                class="cluster-toggle"
                data-id=c.id.clone()
                transform=format!("translate({},{})", f(r.right() - 24.0), f(r.y + 5.0))
                on:click=move |e| {
                    e.stop_propagation();
                    toggle.run(prefix.clone());
                }
            >
                <title>"Collapse this subgraph"</title>
                <rect width="16" height="16" rx="4"></rect>
                <path d="M4.5,8 H11.5"></path>
            </g>
        </g>
    }
}

/// The selected node's id, kind, data and edges; the breakpoint control comes with the next
/// slice.
#[component]
fn NodePanel(layout: Memo<Option<Arc<Layout>>>) -> impl IntoView {
    let state = use_app();
    let selected = move || {
        let id = state.graph.node.get()?;
        let l = layout.get()?;
        let placed = l.node(&id)?.clone();
        let graph_node = state.graph.data.with(|d| match d {
            Load::Ready(g) => placed.node.and_then(|i| g.nodes.get(i).cloned()),
            _ => None,
        });
        let outgoing: Vec<(String, bool)> = l
            .edges
            .iter()
            .filter(|e| e.source == id)
            .map(|e| (e.target.clone(), e.conditional))
            .collect();
        let incoming: Vec<(String, bool)> = l
            .edges
            .iter()
            .filter(|e| e.target == id)
            .map(|e| (e.source.clone(), e.conditional))
            .collect();
        Some((placed, graph_node, incoming, outgoing))
    };
    move || {
        selected().map(|(placed, node, incoming, outgoing)| {
            let kind = match placed.kind {
                NodeKind::Start => "entry".to_string(),
                NodeKind::End => "exit".to_string(),
                NodeKind::Collapsed => format!("subgraph of {}, collapsed", placed.members),
                NodeKind::Node => {
                    node.as_ref().and_then(|n| n.kind.clone()).unwrap_or_else(|| "node".into())
                }
            };
            let data = node.as_ref().and_then(|n| n.data.as_ref()).map(pretty);
            let metadata = node.as_ref().and_then(|n| n.metadata.as_ref()).map(pretty);
            let expand = (placed.kind == NodeKind::Collapsed).then(|| {
                let prefix = placed.id.clone();
                view! {
                    <button
                        type="button"
                        on:click=move |_| {
                            state.graph.collapsed.update(|c| {
                                c.remove(&prefix);
                            });
                        }
                    >
                        "Expand subgraph"
                    </button>
                }
            });
            view! {
                <aside id="graph-node-panel" class="graph-side" data-id=placed.id.clone()>
                    <header class="side-title-row">
                        <h4 class="mono">{placed.label.clone()}</h4>
                        <span class="spacer"></span>
                        <button
                            type="button"
                            class="icon-button"
                            title="Close"
                            aria-label="Close the node panel"
                            on:click=move |_| state.graph.node.set(None)
                        >
                            {icons::close()}
                        </button>
                    </header>
                    <dl class="kv">
                        <dt>"Id"</dt>
                        <dd class="mono" title=placed.id.clone()>{placed.id.clone()}</dd>
                        <dt>"Kind"</dt>
                        <dd>{kind}</dd>
                        {placed.cluster.clone().map(|c| view! {
                            <dt>"Subgraph"</dt>
                            <dd class="mono">{c}</dd>
                        })}
                    </dl>
                    {expand}
                    <NodeLinks title="Comes from" links=incoming />
                    <NodeLinks title="Goes to" links=outgoing />
                    {data.map(|d| view! {
                        <div class="side-block">
                            <div class="caps-title">"Data"</div>
                            <pre class="json">{d}</pre>
                        </div>
                    })}
                    {metadata.map(|d| view! {
                        <div class="side-block">
                            <div class="caps-title">"Metadata"</div>
                            <pre class="json">{d}</pre>
                        </div>
                    })}
                    <LastUpdate node=placed.id.clone() />
                    {(placed.kind == NodeKind::Node && placed.cluster.is_none()).then(|| view! { <BreakpointToggles node=placed.id.clone() /> })}
                </aside>
            }
        })
    }
}

/// Breakpoints on a node for the next runs: pause before it, after it.
#[component]
fn BreakpointToggles(node: String) -> impl IntoView {
    let state = use_app();
    let get = {
        let node = node.clone();
        move || state.graph.breakpoints.with(|m| m.get(&node).copied().unwrap_or_default())
    };
    let toggle = move |after: bool| {
        let node = node.clone();
        move |_| state.toggle_breakpoint(&node, after)
    };
    let before_on = {
        let get = get.clone();
        move || get().before
    };
    let after_on = move || get().after;
    view! {
        <div class="side-block breakpoints">
            <div class="caps-title">"Breakpoints (next runs)"</div>
            <button
                id="bp-before"
                type="button"
                class="toggle"
                class:on=before_on.clone()
                aria-pressed=move || if before_on() { "true" } else { "false" }
                title="Pause the next runs before this node (interrupt_before)"
                on:click=toggle(false)
            >
                "● Pause before"
            </button>
            <button
                id="bp-after"
                type="button"
                class="toggle"
                class:on=after_on.clone()
                aria-pressed=move || if after_on() { "true" } else { "false" }
                title="Pause the next runs after this node (interrupt_after)"
                on:click=toggle(true)
            >
                "● Pause after"
            </button>
            {move || state.graph.step.get().then(|| view! {
                <p class="muted">"Step mode is on: runs pause before every node."</p>
            })}
        </div>
    }
}

/// The node's last update in the last run started from the thread view.
#[component]
fn LastUpdate(node: String) -> impl IntoView {
    let state = use_app();
    move || {
        let (update, ran, run_id) = state.with_live(|run| {
            (
                run.last_update(&node).map(pretty),
                run.lit.iter().filter(|n| **n == node).count(),
                run.run_id.clone(),
            )
        })?;
        Some(view! {
            <div id="graph-node-update" class="side-block">
                <div class="caps-title">"Last update"</div>
                {match update {
                    Some(u) => view! { <pre class="json">{u}</pre> }.into_any(),
                    None if ran > 0 => view! {
                        <p class="muted">"It ran but wrote nothing (or is still running)"</p>
                    }
                    .into_any(),
                    None => view! { <p class="muted">"It did not run in the last run"</p> }.into_any(),
                }}
                {(ran > 0).then(|| view! {
                    <p class="muted">{format!("Ran {ran} time{} in run {}", if ran == 1 { "" } else { "s" }, run_id.as_deref().map(crate::format::short_id).unwrap_or("…"))}</p>
                })}
            </div>
        })
    }
}

#[component]
fn NodeLinks(title: &'static str, links: Vec<(String, bool)>) -> impl IntoView {
    let state = use_app();
    (!links.is_empty()).then(|| {
        let items = links
            .into_iter()
            .map(|(id, conditional)| {
                let go = id.clone();
                view! {
                    <li>
                        <button
                            type="button"
                            class="link mono"
                            on:click=move |_| state.graph.node.set(Some(go.clone()))
                        >
                            {id}
                        </button>
                        {conditional.then(|| view! { <span class="muted">" (conditional)"</span> })}
                    </li>
                }
            })
            .collect_view();
        view! {
            <div class="side-block">
                <div class="caps-title">{title}</div>
                <ul class="links">{items}</ul>
            </div>
        }
    })
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

// ---------------------------------------------------------------------------------- export

fn js_error(context: &str, e: JsValue) -> String {
    let detail = e.as_string().or_else(|| {
        js_sys::Reflect::get(&e, &JsValue::from_str("message")).ok().and_then(|m| m.as_string())
    });
    match detail {
        Some(d) => format!("{context}: {d}"),
        None => context.to_string(),
    }
}

/// `GRAPH_CSS` with every `var(--name)` replaced by its value now (so the file stands alone).
fn resolved_css() -> String {
    let root = document().document_element();
    let style = root.and_then(|r| window().get_computed_style(&r).ok().flatten());
    let mut out = String::with_capacity(GRAPH_CSS.len());
    let mut rest = GRAPH_CSS;
    while let Some(at) = rest.find("var(--") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 4..];
        let Some(end) = after.find(')') else {
            out.push_str(&rest[at..]);
            rest = "";
            break;
        };
        let name = &after[..end];
        let value = style
            .as_ref()
            .and_then(|s| s.get_property_value(name).ok())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "currentColor".into());
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The drawing as a standalone SVG file: the on-screen SVG at zoom 1, without the controls and
/// the selection, with its style resolved and a background.
fn svg_document(layout: Option<&Layout>) -> Result<String, String> {
    let layout = layout.ok_or("no graph to export")?;
    let doc = document();
    let svg = doc.get_element_by_id("graph").ok_or("the drawing is not on screen")?;
    let copy: web_sys::Element = svg
        .clone_node_with_deep(true)
        .map_err(|e| js_error("cannot copy the drawing", e))?
        .dyn_into()
        .map_err(|_| "cannot copy the drawing".to_string())?;
    let (w, h) = (f(layout.width), f(layout.height));
    let set = |el: &web_sys::Element, k: &str, v: &str| {
        el.set_attribute(k, v).map_err(|e| js_error("cannot prepare the file", e))
    };
    set(&copy, "width", &w)?;
    set(&copy, "height", &h)?;
    set(&copy, "viewBox", &format!("0 0 {w} {h}"))?;
    copy.remove_attribute("role").ok();
    if let Ok(Some(g)) = copy.query_selector("#graph-viewport") {
        g.remove_attribute("transform").ok();
    }
    if let Ok(list) = copy.query_selector_all(".cluster-toggle, .badge title, text.order") {
        for i in 0..list.length() {
            if let Some(node) = list.item(i)
                && let Some(parent) = node.parent_node()
            {
                parent.remove_child(&node).ok();
            }
        }
    }
    if let Ok(list) = copy.query_selector_all(".selected, .active, .running, .visited") {
        for i in 0..list.length() {
            if let Some(el) = list.item(i).and_then(|n| n.dyn_into::<web_sys::Element>().ok()) {
                el.class_list().remove_2("selected", "active").ok();
                el.class_list().remove_2("running", "visited").ok();
                if el.get_attribute("marker-end").is_some() {
                    set(&el, "marker-end", "url(#graph-arrow)")?;
                }
            }
        }
    }
    let ns = Some("http://www.w3.org/2000/svg");
    let style =
        doc.create_element_ns(ns, "style").map_err(|e| js_error("cannot prepare the file", e))?;
    style.set_text_content(Some(&resolved_css()));
    let background =
        doc.create_element_ns(ns, "rect").map_err(|e| js_error("cannot prepare the file", e))?;
    set(&background, "width", "100%")?;
    set(&background, "height", "100%")?;
    set(&background, "fill", &resolved_var("--bg").unwrap_or_else(|| "#ffffff".into()))?;
    let first = copy.first_child();
    copy.insert_before(&background, first.as_ref())
        .map_err(|e| js_error("cannot prepare the file", e))?;
    copy.insert_before(&style, Some(&background))
        .map_err(|e| js_error("cannot prepare the file", e))?;
    let text = web_sys::XmlSerializer::new()
        .and_then(|s| s.serialize_to_string(&copy))
        .map_err(|e| js_error("cannot write the SVG", e))?;
    Ok(format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{text}\n"))
}

fn resolved_var(name: &str) -> Option<String> {
    let root = document().document_element()?;
    let style = window().get_computed_style(&root).ok().flatten()?;
    let v = style.get_property_value(name).ok()?;
    Some(v.trim().to_string()).filter(|v| !v.is_empty())
}

fn svg_url(svg: &str) -> String {
    format!("data:image/svg+xml;charset=utf-8,{}", js_sys::encode_uri_component(svg))
}

/// Saves `href` under `name` through a temporary download link.
fn download(href: &str, name: &str) -> Result<(), String> {
    let doc = document();
    let a: web_sys::HtmlAnchorElement = doc
        .create_element("a")
        .map_err(|e| js_error("cannot start the download", e))?
        .dyn_into()
        .map_err(|_| "cannot start the download".to_string())?;
    a.set_href(href);
    a.set_download(name);
    a.set_attribute("hidden", "").ok();
    let body = doc.body().ok_or("cannot start the download: no page body")?;
    body.append_child(&a).map_err(|e| js_error("cannot start the download", e))?;
    a.click();
    body.remove_child(&a).ok();
    Ok(())
}

/// Draws the SVG on a canvas at twice the size and saves it as PNG.
fn png_download(
    state: AppState,
    svg: &str,
    layout: Option<&Layout>,
    name: String,
) -> Result<(), String> {
    let layout = layout.ok_or("no graph to export")?;
    let (w, h) = (layout.width, layout.height);
    let img = web_sys::HtmlImageElement::new().map_err(|e| js_error("cannot draw the PNG", e))?;
    let loaded = img.clone();
    let onload = Closure::once_into_js(move || {
        let draw = || -> Result<(), String> {
            let canvas: web_sys::HtmlCanvasElement = document()
                .create_element("canvas")
                .map_err(|e| js_error("cannot draw the PNG", e))?
                .dyn_into()
                .map_err(|_| "cannot draw the PNG".to_string())?;
            let scale = 2.0;
            canvas.set_width((w * scale).ceil() as u32);
            canvas.set_height((h * scale).ceil() as u32);
            let ctx: web_sys::CanvasRenderingContext2d = canvas
                .get_context("2d")
                .map_err(|e| js_error("cannot draw the PNG", e))?
                .ok_or("cannot draw the PNG: no 2D canvas")?
                .dyn_into()
                .map_err(|_| "cannot draw the PNG".to_string())?;
            ctx.scale(scale, scale).map_err(|e| js_error("cannot draw the PNG", e))?;
            ctx.draw_image_with_html_image_element_and_dw_and_dh(&loaded, 0.0, 0.0, w, h)
                .map_err(|e| js_error("cannot draw the PNG", e))?;
            let url = canvas
                .to_data_url_with_type("image/png")
                .map_err(|e| js_error("cannot encode the PNG", e))?;
            download(&url, &name)
        };
        if let Err(e) = draw() {
            state.report(e);
        }
    });
    let onerror = Closure::once_into_js(move || {
        state.report("cannot draw the PNG: the SVG did not load as an image".into());
    });
    img.set_onload(Some(onload.unchecked_ref()));
    img.set_onerror(Some(onerror.unchecked_ref()));
    img.set_src(&svg_url(svg));
    Ok(())
}
