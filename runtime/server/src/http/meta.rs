//! `/ok`, `/`, `/info`, `/openapi.json`.

use serde_json::json;

use super::openapi::{Endpoint, Method::Get, Schema::Ref};

pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Get, "/ok", ok, "System", "Health check").json(Ref("Ok")),
        Endpoint::new(Get, "/", ok, "System", "Health check (alias of /ok)").json(Ref("Ok")),
        Endpoint::new(Get, "/info", info, "System", "Server version and capability flags")
            .json(Ref("Info")),
        Endpoint::new(Get, "/openapi.json", openapi, "System", "This API description")
            .describe("The OpenAPI 3.1 document of every route this server serves."),
    ]
}

async fn openapi() -> axum::Json<&'static serde_json::Value> {
    axum::Json(super::openapi::document())
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
