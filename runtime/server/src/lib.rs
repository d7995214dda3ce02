//! `orrery-runtime`: an agent server that speaks the LangGraph Server HTTP API, runs graphs on
//! the orrery engine and keeps everything in SQLite (default) or PostgreSQL.
//!
//! The flow of a run: an HTTP handler (`http/runs.rs`) validates the request, stores a pending
//! run and subscribes to its events; a worker (`runs.rs`) claims it, drives the engine, which
//! persists each checkpoint through `db::SqlSaver`, and publishes every stream event to the
//! subscribers as SSE frames; the outcome is recorded on the run and its thread before the
//! stream closes.

pub mod crons;
pub mod db;
mod events;
pub mod graphs;
mod http;
// The C library calls Rust's standard library lacks (the runtime's only `unsafe`).
mod platform;
pub mod runs;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use orrery_api::Assistant;
use serde_json::{Map, Value, json};

use crate::db::{Db, DbError, SqlSaver};
use crate::graphs::{Registry, system_assistant_id};
use crate::http::ApiError;
use crate::runs::Runs;

/// Everything the handlers share.
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Served graphs.
    pub registry: Arc<Registry>,
    /// The run queue.
    pub runs: Arc<Runs>,
    /// Webhook policy and sender.
    pub webhooks: Arc<webhooks::Webhooks>,
    /// Whether the cron scheduler fires due crons by itself (see [`AppState::set_cron_scheduler`]).
    cron_scheduler: AtomicBool,
}

/// How to start a runtime.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the SQLite file lives.
    pub data_dir: PathBuf,
    /// Run workers.
    pub workers: usize,
    /// PostgreSQL to use instead of the SQLite file (`DATABASE_URI`).
    pub database_uri: Option<String>,
}

impl AppState {
    /// Opens the database, registers the bundled graphs and their system assistants, requeues
    /// runs a previous process left running, and starts the workers and the cron scheduler.
    ///
    /// # Errors
    /// When the data dir or the database cannot be opened.
    pub async fn start(options: &Options) -> anyhow::Result<Arc<AppState>> {
        AppState::start_with(options, None).await
    }

    /// As [`AppState::start`], serving `project`'s graphs (a `langgraph.json`) instead of the
    /// bundled ones when given; `echo` stays unless the project has its own.
    ///
    /// # Errors
    /// When the data dir or the database cannot be opened, or a graph file is malformed.
    pub async fn start_with(
        options: &Options,
        project: Option<&orrery_graph_file::Project>,
    ) -> anyhow::Result<Arc<AppState>> {
        std::fs::create_dir_all(&options.data_dir)?;
        let db = Db::open(&options.data_dir, options.database_uri.as_deref()).await?;
        let saver = SqlSaver::new(db.clone());
        let registry = Arc::new(match project {
            Some(p) => {
                for w in &p.warnings {
                    tracing::warn!("{w}");
                }
                Registry::project(p, saver)?
            }
            None => Registry::bundled(saver)?,
        });
        if !registry.not_runnable().is_empty() {
            let list: Vec<String> =
                registry.not_runnable().iter().map(|(id, why)| format!("{id} ({why})")).collect();
            tracing::warn!(
                "graphs not runnable yet, not served: {}; serving: {}",
                list.join(", "),
                registry.ids().join(", ")
            );
        }
        for graph_id in &registry.ids() {
            let now = orrery_engine::now_iso();
            let mut metadata = Map::new();
            metadata.insert("created_by".into(), json!("system"));
            let a = Assistant {
                assistant_id: system_assistant_id(graph_id),
                graph_id: graph_id.to_string(),
                config: Map::new(),
                context: Map::new(),
                metadata,
                name: graph_id.to_string(),
                created_at: now.clone(),
                updated_at: now,
                version: 1,
                description: registry.info(graph_id).and_then(|i| i.description.clone()),
            };
            db.insert_assistant(&a).await?;
        }
        for p in registry.presets() {
            let now = orrery_engine::now_iso();
            let mut metadata = p.metadata.clone();
            metadata.insert("created_by".into(), json!("system"));
            let mut config = Map::new();
            config.insert("configurable".into(), Value::Object(p.configurable.clone()));
            let a = Assistant {
                assistant_id: p.assistant_id.clone(),
                graph_id: p.graph_id.clone(),
                config,
                context: p.configurable.clone(),
                metadata,
                name: p.name.clone(),
                created_at: now.clone(),
                updated_at: now,
                version: 1,
                description: p.description.clone(),
            };
            db.insert_assistant(&a).await?;
        }
        let requeued = db.requeue_running().await?;
        if !requeued.is_empty() {
            tracing::info!("requeued {} runs left running by a previous process", requeued.len());
        }
        let webhooks =
            Arc::new(webhooks::Webhooks::new(webhooks::WebhookPolicy::of_project(project)));
        let runs = Runs::new(db.clone(), Arc::clone(&registry), requeued, Arc::clone(&webhooks));
        runs.start_workers(options.workers);
        let state = Arc::new(AppState {
            db,
            registry,
            runs,
            webhooks,
            cron_scheduler: AtomicBool::new(true),
        });
        crons::spawn_scheduler(&state);
        Ok(state)
    }

    /// Fires every enabled cron due at `now` whose end time has not passed, as the scheduler
    /// does each second with the current time: each firing claims its slot, advances
    /// `next_run_date` past `now` and creates its run in one transaction. Returns the runs made.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn fire_due_crons(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<crons::Fired>, DbError> {
        crons::fire_due(self, now).await
    }

    /// Pauses (`false`) or resumes (`true`) the scheduler's own firing; [`AppState::fire_due_crons`]
    /// works either way (tests fire at a time of their choosing).
    pub fn set_cron_scheduler(&self, running: bool) {
        self.cron_scheduler.store(running, Ordering::SeqCst);
    }

    pub(crate) fn cron_scheduler_running(&self) -> bool {
        self.cron_scheduler.load(Ordering::SeqCst)
    }

    /// An assistant by UUID or by graph name (its system assistant).
    pub(crate) async fn resolve_assistant(&self, id: &str) -> Result<Assistant, ApiError> {
        let uuid = if uuid::Uuid::parse_str(id).is_ok() {
            id.to_string()
        } else if self.registry.get(id).is_some() {
            system_assistant_id(id)
        } else if let Some(p) = self.registry.preset(id) {
            p.assistant_id.clone()
        } else {
            let graphs = self.registry.ids();
            return Err(ApiError::unprocessable(format!(
                "Invalid assistant: '{id}'. Must be either:\n- A valid assistant UUID, or\n- One of the registered graphs: {}",
                graphs.join(", ")
            )));
        };
        self.db
            .get_assistant(&uuid)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("Assistant {uuid} not found")))
    }
}

/// The API router.
pub fn app(state: Arc<AppState>) -> axum::Router {
    http::router(state)
}

/// Binds `addr`; a busy port is an error that says so (never a silent move to another port).
///
/// # Errors
/// When the address cannot be bound.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "port {} on {} is already in use: stop the other server or pass --port",
                addr.port(),
                addr.ip()
            )
        } else {
            anyhow::anyhow!("cannot listen on {addr}: {e}")
        }
    })
}

/// Serves the API on `listener` until `shutdown` resolves.
///
/// # Errors
/// When the server fails.
pub async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use axum::serve::ListenerExt;
    // Small responses and SSE frames must not wait for Nagle's algorithm (40 ms stalls).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!("TCP_NODELAY: {e}");
        }
    });
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await?;
    Ok(())
}
