//! `/ok`, `/`, `/info`.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use serde_json::json;

use crate::AppState;

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/ok", get(ok)).route("/", get(ok)).route("/info", get(info))
}

async fn ok() -> axum::Json<serde_json::Value> {
    axum::Json(json!({"ok": true, "services": {}}))
}

async fn info() -> axum::Json<serde_json::Value> {
    axum::Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "langgraph_py_version": "1.2.24",
        "flags": {"assistants": true, "crons": true, "langsmith": false,
                  "langsmith_tracing_replicas": false, "langsmith_tracing_session_on_runs": false},
        "host": {"kind": "self-hosted", "project_id": null, "host_revision_id": null,
                 "revision_id": null, "tenant_id": null},
    }))
}
