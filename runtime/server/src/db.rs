//! Persistence on SQLite (the default, a file under the data dir) or PostgreSQL (when
//! `DATABASE_URI` names one): schema migrations, rows of assistants, threads and runs, and the
//! engine's `Checkpointer`. One set of portable SQL serves both (`$n` parameters,
//! `ON CONFLICT`, `RETURNING`); the run claim differs where PostgreSQL needs locking.
//!
//! Architecture Invariant: SQL lives in this module only; handlers call these functions.
//! Every write that must not be half-done runs in one transaction.

mod batch;
mod buffer;
mod lite;
mod thread_search;

use std::path::Path;
use std::sync::Arc;

use batch::{Stmt, WriteTx, Writer};
pub use buffer::Durability;
use buffer::{Buffers, Op, ThreadBuffer, WriteRow};
pub use thread_search::{ThreadFilter, ThreadOrder, ThreadPage};

use async_trait::async_trait;
use orrery_api::{Assistant, Run, RunStatus, Thread, ThreadStatus};

use crate::runs::Frame;
use orrery_engine::{
    Checkpoint, CheckpointRef, CheckpointTuple, Checkpointer, ListOptions, PendingWrite,
    metadata_matches, special_write_index,
};
use serde_json::{Map, Value};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database failed.
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    /// SQLite's hot path failed (see `lite`).
    #[error("database: {0}")]
    Lite(#[from] rusqlite::Error),
    /// A stored JSON column did not parse.
    #[error("stored data is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Result of store calls.
pub type DbResult<T> = Result<T, DbError>;

/// Schema migrations: (version, SQLite script, PostgreSQL script); most are portable.
const MIGRATIONS: [(i64, &str, &str); 6] = [
    (1, include_str!("../migrations/0001_init.sql"), include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_store.sql"), include_str!("../migrations/0002_store.sql")),
    (3, include_str!("../migrations/0003_crons.sql"), include_str!("../migrations/0003_crons.sql")),
    (
        4,
        include_str!("../migrations/0004_run_events.sql"),
        include_str!("../migrations/0004_run_events.sql"),
    ),
    (
        5,
        include_str!("../migrations/0005_runs_mark_thread_busy.sqlite.sql"),
        include_str!("../migrations/0005_runs_mark_thread_busy.postgres.sql"),
    ),
    (
        6,
        include_str!("../migrations/0006_thread_search_indexes.sqlite.sql"),
        include_str!("../migrations/0006_thread_search_indexes.postgres.sql"),
    ),
];

/// Which database serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The database.
#[derive(Clone)]
pub struct Db {
    /// Reads (and, on PostgreSQL, writes too).
    pub(crate) pool: AnyPool,
    /// sqlx's writes. On SQLite a pool of one connection, whose turn the hot path's commits
    /// share (see [`Writer`]): SQLite has one writer at a time, and writers queued here wait
    /// their turn in order, where writers on several connections would poll for the file lock
    /// (`busy_timeout` sleeps up to 100 ms between tries). On PostgreSQL the same pool as
    /// `pool`.
    pub(crate) writer: Writer,
    /// On SQLite, the writer's group commit (see [`batch::Committer`]).
    committer: Option<batch::Committer>,
    /// On SQLite, the connections of the hot path's reads and commits (see [`lite`]).
    lite: Option<Arc<lite::Lite>>,
    backend: Backend,
    /// Checkpoints of running runs not yet stored (see [`Durability`]).
    buffers: Arc<Buffers>,
    /// Assistants by id, on SQLite (which one process serves): every run reads its assistant
    /// twice. Any assistant write empties it.
    assistants: Option<Arc<AssistantCache>>,
}

/// Empties the assistant cache when dropped (when a write ends, committed or not).
struct ClearOnDrop<'a>(&'a Db);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.assistants_changed();
    }
}

/// A cache of assistant rows. The generation stops a read that raced with a write from
/// caching what it read before the write.
#[derive(Default)]
pub(crate) struct AssistantCache {
    inner: std::sync::Mutex<(u64, std::collections::HashMap<String, Assistant>)>,
}

impl AssistantCache {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, (u64, std::collections::HashMap<String, Assistant>)> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, id: &str) -> (u64, Option<Assistant>) {
        let g = self.lock();
        (g.0, g.1.get(id).cloned())
    }

    fn put(&self, generation: u64, a: &Assistant) {
        let mut g = self.lock();
        if g.0 == generation {
            g.1.insert(a.assistant_id.clone(), a.clone());
        }
    }

    fn clear(&self) {
        let mut g = self.lock();
        g.0 += 1;
        g.1.clear();
    }
}

/// The columns of a row, from sqlx (PostgreSQL, and SQLite off the hot path) or from rusqlite
/// (SQLite's hot path, see [`lite`]): one mapping of a row to its type serves both.
trait Cols {
    fn str(&self, column: &str) -> DbResult<String>;
    fn opt_str(&self, column: &str) -> DbResult<Option<String>>;
    fn int(&self, column: &str) -> DbResult<i64>;
}

/// `Cols` for a row type whose `$get(column)` decodes a column by name.
macro_rules! cols_by_name {
    ($row:ty, $get:ident) => {
        impl Cols for $row {
            fn str(&self, column: &str) -> DbResult<String> {
                Ok(self.$get(column)?)
            }
            fn opt_str(&self, column: &str) -> DbResult<Option<String>> {
                Ok(self.$get(column)?)
            }
            fn int(&self, column: &str) -> DbResult<i64> {
                Ok(self.$get(column)?)
            }
        }
    };
}

cols_by_name!(AnyRow, try_get);
cols_by_name!(rusqlite::Row<'_>, get);

impl Cols for batch::RetRow {
    fn str(&self, column: &str) -> DbResult<String> {
        self.opt_str(column)?
            .ok_or_else(|| sqlx::Error::Decode(format!("{column} is NULL").into()).into())
    }
    fn opt_str(&self, column: &str) -> DbResult<Option<String>> {
        match self.get(column) {
            Some(v) => Ok(v.clone()),
            None => Err(sqlx::Error::ColumnNotFound(column.into()).into()),
        }
    }
    fn int(&self, column: &str) -> DbResult<i64> {
        let v = self.str(column)?;
        v.parse().map_err(|_| {
            sqlx::Error::Decode(format!("{column}: {v} is not an integer").into()).into()
        })
    }
}

fn obj(s: &str) -> DbResult<Map<String, Value>> {
    match serde_json::from_str::<Value>(s)? {
        Value::Object(m) => Ok(m),
        _ => Ok(Map::new()),
    }
}

fn opt_json(s: Option<String>) -> DbResult<Option<Value>> {
    Ok(match s {
        Some(s) => Some(serde_json::from_str(&s)?),
        None => None,
    })
}

fn text(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// `($1, $2, ...), ($n+1, ...)`: the VALUES list of a multi-row insert of `rows` rows of `cols`
/// columns.
fn values_placeholders(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The options of a pool of at most `max` connections; SQLite connections use WAL (readers run
/// beside the one writer) and wait for locks instead of failing.
fn pool_options(backend: Backend, max: u32) -> AnyPoolOptions {
    // No ping before each use: it is a round trip to the connection (for SQLite, to its
    // thread and back) for every statement; a broken connection fails its statement instead.
    AnyPoolOptions::new().max_connections(max).test_before_acquire(false).after_connect(
        move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // One statement per call: the Any driver runs only the first of several.
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = NORMAL",
                        "PRAGMA busy_timeout = 10000",
                        // 256 KiB of page cache a connection (the default is 2 MiB): a page
                        // missing from it is a read from the operating system's cache, and
                        // the caches of all connections stay in the process's memory after a
                        // burst (measured: no slower than 1 MiB, 0.9 MiB less resident memory
                        // after the benchmark's load).
                        "PRAGMA cache_size = -256",
                    ] {
                        conn.execute(pragma).await?;
                    }
                }
                Ok(())
            })
        },
    )
}

impl Db {
    /// Opens PostgreSQL at `database_uri` when given, else (creating it if needed) the SQLite
    /// file in `dir`, and brings the schema up to date.
    ///
    /// # Errors
    /// When the database cannot be opened or a migration fails.
    pub async fn open(dir: &Path, database_uri: Option<&str>) -> DbResult<Db> {
        sqlx::any::install_default_drivers();
        let file = dir.join("orrery.sqlite");
        let (url, backend) = match database_uri {
            Some(uri) => (uri.to_string(), Backend::Postgres),
            None => (format!("sqlite://{}?mode=rwc", file.display()), Backend::Sqlite),
        };
        // SQLite: readers beside the one writer (WAL); each connection is a thread of its own
        // with its own page cache and statements, so a few are enough on a local file: one
        // more than the threads that serve requests, from 2 (`dev` serves on one thread) to 4.
        let max = match backend {
            Backend::Sqlite => {
                let threads = tokio::runtime::Handle::current().metrics().num_workers();
                u32::try_from(threads + 1).unwrap_or(4).clamp(2, 4)
            }
            Backend::Postgres => 16,
        };
        let pool = pool_options(backend, max).connect(&url).await?;
        let writer = match backend {
            Backend::Sqlite => Writer::new(pool_options(backend, 1).connect(&url).await?, true),
            Backend::Postgres => Writer::new(pool.clone(), false),
        };
        let assistants = (backend == Backend::Sqlite).then(Arc::default);
        let mut db = Db {
            pool,
            writer,
            committer: None,
            lite: None,
            backend,
            buffers: Arc::default(),
            assistants,
        };
        db.migrate().await?;
        if backend == Backend::Sqlite {
            // After the migrations: the file exists, in WAL mode, with its tables.
            let lite = Arc::new(lite::Lite::open(&file, usize::try_from(max).unwrap_or(2))?);
            db.committer = Some(batch::Committer::start(db.writer.clone(), Arc::clone(&lite)));
            db.lite = Some(lite);
        }
        Ok(db)
    }

    /// Which database serves.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs a read, calling `each` with every row: on SQLite on this thread (see [`lite`]),
    /// else on the pool.
    async fn read_rows(
        &self,
        read: Stmt,
        mut each: impl FnMut(&dyn Cols) -> DbResult<()> + Send,
    ) -> DbResult<()> {
        if let Some(lite) = &self.lite {
            return lite.query(&read, |row| each(row));
        }
        for row in read.query().fetch_all(&self.pool).await? {
            each(&row)?;
        }
        Ok(())
    }

    async fn migrate(&self) -> DbResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS orrery_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)")
            .execute(&mut *tx)
            .await?;
        for (version, sqlite, postgres) in MIGRATIONS {
            let sql = if self.backend == Backend::Sqlite { sqlite } else { postgres };
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM orrery_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if done.is_none() {
                sqlx::raw_sql(sql).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO orrery_migrations (version, applied_at) VALUES ($1, $2)")
                    .bind(version)
                    .bind(orrery_engine::now_iso())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    // ---------------------------------------------------------------- assistants

    fn assistant(row: &AnyRow) -> DbResult<Assistant> {
        Ok(Assistant {
            assistant_id: row.try_get("assistant_id")?,
            graph_id: row.try_get("graph_id")?,
            config: obj(row.try_get("config")?)?,
            context: obj(row.try_get("context")?)?,
            metadata: obj(row.try_get("metadata")?)?,
            name: row.try_get("name")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            version: row.try_get("version")?,
            description: row.try_get("description")?,
        })
    }

    /// Inserts an assistant and its first version, unless the id exists. Returns whether it was
    /// inserted.
    pub async fn insert_assistant(&self, a: &Assistant) -> DbResult<bool> {
        self.assistants_changed();
        let _after = ClearOnDrop(self);
        let mut tx = self.writer.begin().await?;
        let res = sqlx::query(
            "INSERT INTO assistants (assistant_id, graph_id, config, context, metadata, name, description, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        )
        .bind(&a.assistant_id)
        .bind(&a.graph_id)
        .bind(text(&a.config))
        .bind(text(&a.context))
        .bind(text(&a.metadata))
        .bind(&a.name)
        .bind(&a.description)
        .bind(a.version)
        .bind(&a.created_at)
        .bind(&a.updated_at)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return Ok(false);
        }
        Self::insert_version(&mut tx, a).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn insert_version(tx: &mut WriteTx, a: &Assistant) -> DbResult<()> {
        sqlx::query("DELETE FROM assistant_versions WHERE assistant_id = $1 AND version = $2")
            .bind(&a.assistant_id)
            .bind(a.version)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO assistant_versions (assistant_id, version, graph_id, config, context, metadata, name, description, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&a.assistant_id)
        .bind(a.version)
        .bind(&a.graph_id)
        .bind(text(&a.config))
        .bind(text(&a.context))
        .bind(text(&a.metadata))
        .bind(&a.name)
        .bind(&a.description)
        .bind(&a.updated_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// One assistant.
    pub async fn get_assistant(&self, id: &str) -> DbResult<Option<Assistant>> {
        let generation = match &self.assistants {
            Some(cache) => match cache.get(id) {
                (_, Some(a)) => return Ok(Some(a)),
                (generation, None) => Some(generation),
            },
            None => None,
        };
        let row = sqlx::query("SELECT * FROM assistants WHERE assistant_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let a = row.as_ref().map(Self::assistant).transpose()?;
        if let (Some(cache), Some(generation), Some(a)) = (&self.assistants, generation, &a) {
            cache.put(generation, a);
        }
        Ok(a)
    }

    /// Forgets cached assistants (before and after every assistant write).
    fn assistants_changed(&self) {
        if let Some(cache) = &self.assistants {
            cache.clear();
        }
    }

    /// Every assistant (the API filters and sorts; the count is small).
    pub async fn list_assistants(&self) -> DbResult<Vec<Assistant>> {
        let rows = sqlx::query("SELECT * FROM assistants").fetch_all(&self.pool).await?;
        rows.iter().map(Self::assistant).collect()
    }

    /// Stores a new version of an assistant and points the assistant at it.
    pub async fn update_assistant(&self, a: &Assistant) -> DbResult<()> {
        self.assistants_changed();
        let _after = ClearOnDrop(self);
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE assistants SET graph_id = $1, config = $2, context = $3, metadata = $4, name = $5, description = $6, version = $7, updated_at = $8 WHERE assistant_id = $9",
        )
        .bind(&a.graph_id)
        .bind(text(&a.config))
        .bind(text(&a.context))
        .bind(text(&a.metadata))
        .bind(&a.name)
        .bind(&a.description)
        .bind(a.version)
        .bind(&a.updated_at)
        .bind(&a.assistant_id)
        .execute(&mut *tx)
        .await?;
        Self::insert_version(&mut tx, a).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Points an assistant at one of its existing versions (no new version).
    pub async fn point_assistant(&self, a: &Assistant) -> DbResult<()> {
        self.assistants_changed();
        let _after = ClearOnDrop(self);
        sqlx::query(
            "UPDATE assistants SET graph_id = $1, config = $2, metadata = $3, name = $4, description = $5, version = $6, updated_at = $7 WHERE assistant_id = $8",
        )
        .bind(&a.graph_id)
        .bind(text(&a.config))
        .bind(text(&a.metadata))
        .bind(&a.name)
        .bind(&a.description)
        .bind(a.version)
        .bind(&a.updated_at)
        .bind(&a.assistant_id)
        .execute(&mut *self.writer.conn().await?)
        .await?;
        Ok(())
    }

    /// The highest version number of an assistant.
    pub async fn max_assistant_version(&self, id: &str) -> DbResult<i64> {
        let v: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(version) FROM assistant_versions WHERE assistant_id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        Ok(v.unwrap_or(0))
    }

    /// Versions of an assistant, newest first.
    pub async fn assistant_versions(&self, id: &str) -> DbResult<Vec<Assistant>> {
        let rows = sqlx::query(
            "SELECT *, created_at AS updated_at FROM assistant_versions WHERE assistant_id = $1 ORDER BY version DESC",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::assistant).collect()
    }

    /// Deletes an assistant with its versions and crons. Returns whether it existed.
    pub async fn delete_assistant(&self, id: &str) -> DbResult<bool> {
        self.assistants_changed();
        let _after = ClearOnDrop(self);
        let mut tx = self.writer.begin().await?;
        let n = sqlx::query("DELETE FROM assistants WHERE assistant_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for table in ["assistant_versions", "crons"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE assistant_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    // ---------------------------------------------------------------- threads

    fn thread(row: &dyn Cols) -> DbResult<Thread> {
        let status = row.str("status")?;
        Ok(Thread {
            thread_id: row.str("thread_id")?,
            created_at: row.str("created_at")?,
            updated_at: row.str("updated_at")?,
            state_updated_at: row.str("state_updated_at")?,
            metadata: obj(&row.str("metadata")?)?,
            status: ThreadStatus::parse(&status).unwrap_or(ThreadStatus::Idle),
            config: obj(&row.str("config")?)?,
            values: opt_json(row.opt_str("values")?)?,
            error: opt_json(row.opt_str("error")?)?,
            interrupts: opt_json(row.opt_str("interrupts")?)?,
        })
    }

    /// Inserts a thread unless the id exists. Returns whether it was inserted.
    pub async fn insert_thread(&self, t: &Thread) -> DbResult<bool> {
        let rows =
            self.returning(vec![Self::insert_thread_stmt(t, " RETURNING thread_id")]).await?;
        Ok(!rows.is_empty())
    }

    /// The insert of a thread, which does nothing when the id exists (followed by `returning`).
    fn insert_thread_stmt(t: &Thread, returning: &str) -> Stmt {
        Stmt::new(format!(
            "INSERT INTO threads (thread_id, created_at, updated_at, state_updated_at, metadata, status, config, \"values\", error, interrupts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING{returning}",
        ))
        .text(&t.thread_id)
        .text(&t.created_at)
        .text(&t.updated_at)
        .text(&t.state_updated_at)
        .text(text(&t.metadata))
        .text(t.status.as_str())
        .text(text(&t.config))
        .opt(t.values.as_ref().map(text))
        .opt(t.error.as_ref().map(text))
        .opt(t.interrupts.as_ref().map(text))
    }

    /// One thread.
    pub async fn get_thread(&self, id: &str) -> DbResult<Option<Thread>> {
        let mut found = None;
        let read = Stmt::new("SELECT * FROM threads WHERE thread_id = $1").text(id);
        self.read_rows(read, |row| {
            found = Some(Self::thread(row)?);
            Ok(())
        })
        .await?;
        Ok(found)
    }

    /// Records the state its caller derived for a thread (status, values, error, interrupts,
    /// and their times), and nothing else: its metadata and config stay as they are now, a
    /// `PATCH` made since the thread was read included. With `busy_if_in_flight`, the status
    /// is `busy` while the thread has a run pending or running (the database decides, in the
    /// same statement).
    pub async fn save_thread_state(&self, t: &Thread, busy_if_in_flight: bool) -> DbResult<()> {
        let status = if busy_if_in_flight {
            "CASE WHEN EXISTS (SELECT 1 FROM runs WHERE thread_id = $7 AND status IN ('pending', 'running')) THEN 'busy' ELSE $3 END"
        } else {
            "$3"
        };
        self.transaction(vec![
            Stmt::new(format!(
                "UPDATE threads SET updated_at = $1, state_updated_at = $2, status = {status}, \"values\" = $4, error = $5, interrupts = $6 WHERE thread_id = $7",
            ))
            .text(&t.updated_at)
            .text(&t.state_updated_at)
            .text(t.status.as_str())
            .opt(t.values.as_ref().map(text))
            .opt(t.error.as_ref().map(text))
            .opt(t.interrupts.as_ref().map(text))
            .text(&t.thread_id),
        ])
        .await
    }

    /// Merges `patch` into a thread's metadata (its keys replace the thread's) and sets
    /// `updated_at` to `now`, and nothing else: a run that ends meanwhile keeps the status and
    /// values it wrote. The metadata is read in the transaction that writes it (on SQLite in
    /// the writer's turn, on PostgreSQL with the row locked), so patches made at once each keep
    /// their keys. Returns the thread as patched, or `None` when there is none.
    pub async fn patch_thread_metadata(
        &self,
        id: &str,
        patch: Map<String, Value>,
        now: &str,
    ) -> DbResult<Option<Thread>> {
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(&format!("SELECT * FROM threads WHERE thread_id = $1{lock}"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut t = Self::thread(&row)?;
        t.metadata.extend(patch);
        t.updated_at = now.to_string();
        sqlx::query("UPDATE threads SET metadata = $1, updated_at = $2 WHERE thread_id = $3")
            .bind(text(&t.metadata))
            .bind(&t.updated_at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(t))
    }

    /// Deletes a thread with its runs (and their stream logs), crons and checkpoints, in one
    /// transaction.
    pub async fn delete_thread(&self, id: &str) -> DbResult<bool> {
        self.discard_buffer(id).await;
        let mut tx = self.writer.begin().await?;
        let n = sqlx::query("DELETE FROM threads WHERE thread_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for table in ["runs", "run_events", "crons", "checkpoints", "checkpoint_writes"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE thread_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Prunes a thread to its latest state: every checkpoint but the newest of each namespace
    /// goes, with its pending writes; the one kept loses its parent. One transaction. Returns
    /// whether the thread exists.
    pub async fn keep_latest_checkpoints(&self, thread_id: &str) -> DbResult<bool> {
        self.flush_thread(thread_id).await?;
        let mut tx = self.writer.begin().await?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT thread_id FROM threads WHERE thread_id = $1")
                .bind(thread_id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Ok(false);
        }
        // The newest checkpoint of each namespace (ids are time ordered).
        let keep = "SELECT checkpoint_ns, MAX(checkpoint_id) AS checkpoint_id FROM checkpoints WHERE thread_id = $1 GROUP BY checkpoint_ns";
        sqlx::query(&format!(
            "DELETE FROM checkpoint_writes WHERE thread_id = $1 AND NOT EXISTS
               (SELECT 1 FROM ({keep}) k WHERE k.checkpoint_ns = checkpoint_writes.checkpoint_ns AND k.checkpoint_id = checkpoint_writes.checkpoint_id)"
        ))
        .bind(thread_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "DELETE FROM checkpoints WHERE thread_id = $1 AND checkpoint_id NOT IN
               (SELECT k.checkpoint_id FROM ({keep}) k WHERE k.checkpoint_ns = checkpoints.checkpoint_ns)"
        ))
        .bind(thread_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE thread_id = $1")
            .bind(thread_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    // ---------------------------------------------------------------- runs

    fn run(row: &dyn Cols) -> DbResult<Run> {
        let status = row.str("status")?;
        Ok(Run {
            run_id: row.str("run_id")?,
            thread_id: row.str("thread_id")?,
            assistant_id: row.str("assistant_id")?,
            metadata: obj(&row.str("metadata")?)?,
            status: RunStatus::parse(&status).unwrap_or(RunStatus::Error),
            kwargs: obj(&row.str("kwargs")?)?,
            multitask_strategy: row.str("multitask_strategy")?,
            created_at: row.str("created_at")?,
            updated_at: row.str("updated_at")?,
            langsmith_session_name: None,
        })
    }

    /// Whether a request may start the run it inserts (see [`Db::insert_run`]): only where this
    /// process is the database's one writer (SQLite); elsewhere a worker's claim decides.
    pub fn starts_runs(&self) -> bool {
        self.backend == Backend::Sqlite
    }

    /// Inserts a run, after tagging its thread with `tag` when given (see
    /// [`Db::tag_thread_stmt`]; the run's insert marks the thread busy), in one transaction. With `start` (see [`Db::starts_runs`]) the
    /// run is inserted `running` when its thread has no run pending or running (the caller
    /// then executes it: no worker claims it), else `pending`; returns whether it was inserted
    /// `running`.
    pub async fn insert_run(
        &self,
        tag: Option<&Assistant>,
        r: &Run,
        start: bool,
    ) -> DbResult<bool> {
        let start = start && self.starts_runs();
        let run = Self::insert_run_stmt(r, start);
        let stmts = match tag {
            Some(a) => vec![self.tag_thread_stmt(&r.thread_id, a), run],
            None => vec![run],
        };
        let rows = self.returning(stmts).await?;
        let status = batch::returned(&rows, "run_id", &r.run_id, "status")?;
        Ok(status.as_deref() == Some(RunStatus::Running.as_str()))
    }

    /// Names a thread's graph and assistant in its metadata (`graph_id`, `assistant_id`), where
    /// it has no such key yet: its first run does this. Only those keys are written, so a
    /// `PATCH` or a run's end made since the thread was read stays.
    fn tag_thread_stmt(&self, thread_id: &str, a: &Assistant) -> Stmt {
        let sql = match self.backend {
            Backend::Sqlite => {
                "UPDATE threads SET metadata = json_insert(metadata, '$.graph_id', $2, '$.assistant_id', $3) WHERE thread_id = $1"
            }
            Backend::Postgres => {
                "UPDATE threads SET metadata = (jsonb_build_object('graph_id', $2::text, 'assistant_id', $3::text) || metadata::jsonb)::text WHERE thread_id = $1"
            }
        };
        Stmt::new(sql).text(thread_id).text(&a.graph_id).text(&a.assistant_id)
    }

    /// The insert of a run (its trigger marks the thread busy). With `start`, its status is
    /// `running` unless its thread has a run pending or running, and the statement returns
    /// `run_id, status`.
    fn insert_run_stmt(r: &Run, start: bool) -> Stmt {
        let (status, returning) = if start {
            (
                "CASE WHEN EXISTS (SELECT 1 FROM runs WHERE thread_id = $2 AND status IN ('pending', 'running')) THEN $5 ELSE 'running' END",
                " RETURNING run_id, status",
            )
        } else {
            ("$5", "")
        };
        Stmt::new(format!(
            "INSERT INTO runs (run_id, thread_id, assistant_id, metadata, status, kwargs, multitask_strategy, created_at, updated_at) SELECT $1, $2, $3, $4, {status}, $6, $7, $8, $9{returning}",
        ))
        .text(&r.run_id)
        .text(&r.thread_id)
        .text(&r.assistant_id)
        .text(text(&r.metadata))
        .text(r.status.as_str())
        .text(text(&r.kwargs))
        .text(&r.multitask_strategy)
        .text(&r.created_at)
        .text(&r.updated_at)
    }

    /// One run of a thread.
    pub async fn get_run(&self, thread_id: &str, run_id: &str) -> DbResult<Option<Run>> {
        let read = Stmt::new("SELECT * FROM runs WHERE run_id = $1 AND thread_id = $2")
            .text(run_id)
            .text(thread_id);
        Ok(self.runs(read).await?.pop())
    }

    /// The runs a read gives, in its order.
    async fn runs(&self, read: Stmt) -> DbResult<Vec<Run>> {
        let mut runs = Vec::new();
        self.read_rows(read, |row| {
            runs.push(Self::run(row)?);
            Ok(())
        })
        .await?;
        Ok(runs)
    }

    /// Runs of a thread, newest first.
    pub async fn list_runs(
        &self,
        thread_id: &str,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> DbResult<Vec<Run>> {
        self.runs(
            Stmt::new(
                "SELECT * FROM runs WHERE thread_id = $1 AND ($2 IS NULL OR status = $2) ORDER BY created_at DESC, run_id DESC LIMIT $3 OFFSET $4",
            )
            .text(thread_id)
            .opt(status)
            .int(limit)
            .int(offset),
        )
        .await
    }

    /// Runs of a thread that are pending or running.
    pub async fn in_flight_runs(&self, thread_id: &str) -> DbResult<Vec<Run>> {
        self.runs(
            Stmt::new(
                "SELECT * FROM runs WHERE thread_id = $1 AND status IN ('pending', 'running') ORDER BY created_at",
            )
            .text(thread_id),
        )
        .await
    }

    /// Every run (of any thread) whose status is one of `statuses`, oldest first.
    pub async fn runs_with_status(&self, statuses: &[RunStatus]) -> DbResult<Vec<Run>> {
        let mut out = Vec::new();
        for status in statuses {
            let rows = sqlx::query("SELECT * FROM runs WHERE status = $1 ORDER BY created_at")
                .bind(status.as_str())
                .fetch_all(&self.pool)
                .await?;
            for r in &rows {
                out.push(Self::run(r)?);
            }
        }
        Ok(out)
    }

    /// Claims the oldest pending run whose thread has nothing running: it becomes `running`.
    /// SQLite has one writer at a time, so the UPDATE is the claim; on PostgreSQL the claim
    /// locks the runs table for its few milliseconds, so two workers (or processes) never start
    /// two runs of one thread.
    pub async fn claim_run(&self) -> DbResult<Option<Run>> {
        let claim = Stmt::new(
            "UPDATE runs SET status = 'running', updated_at = $1 WHERE run_id = (
                SELECT r.run_id FROM runs r
                WHERE r.status = 'pending' AND r.created_at <= $1
                  AND NOT EXISTS (SELECT 1 FROM runs o WHERE o.thread_id = r.thread_id AND o.status = 'running')
                ORDER BY r.created_at, r.run_id LIMIT 1)
             RETURNING *",
        )
        .text(orrery_engine::now_iso());
        if self.backend == Backend::Postgres {
            let mut tx = self.writer.begin().await?;
            sqlx::query("LOCK TABLE runs IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
            let row = claim.query().fetch_optional(&mut *tx).await?;
            tx.commit().await?;
            return row.as_ref().map(|r| Self::run(r)).transpose();
        }
        // One statement is its own transaction; it shares a commit with others.
        let rows = self.returning(vec![claim]).await?;
        rows.first().map(|r| Self::run(r)).transpose()
    }

    /// Runs left `running` by a process that died: they go back to the queue. Returns their ids.
    pub async fn requeue_running(&self) -> DbResult<Vec<String>> {
        let rows = sqlx::query(
            "UPDATE runs SET status = 'pending' WHERE status = 'running' RETURNING run_id",
        )
        .fetch_all(&mut *self.writer.conn().await?)
        .await?;
        rows.iter().map(|r| r.try_get::<String, _>("run_id").map_err(DbError::from)).collect()
    }

    /// Whether a run already saved checkpoints (it was interrupted by a crash and resumes).
    pub async fn run_has_checkpoints(&self, thread_id: &str, run_id: &str) -> DbResult<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM checkpoints WHERE thread_id = $1 AND run_id = $2",
        )
        .bind(thread_id)
        .bind(run_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Ends a run with `status` and stores its stream log (empty unless the run is resumable),
    /// in one transaction.
    pub async fn end_run(
        &self,
        thread_id: &str,
        run_id: &str,
        status: RunStatus,
        log: &[Frame],
    ) -> DbResult<()> {
        let ending = self.end_buffer_begin(thread_id).await;
        let mut stmts = ending.as_ref().map(|e| e.stmts(thread_id)).unwrap_or_default();
        stmts.push(
            Stmt::new("UPDATE runs SET status = $1, updated_at = $2 WHERE run_id = $3")
                .text(status.as_str())
                .text(orrery_engine::now_iso())
                .text(run_id),
        );
        stmts.extend(Self::log_stmts(thread_id, run_id, log));
        self.transaction(stmts).await?;
        self.end_buffer_done(thread_id, ending).await;
        Ok(())
    }

    /// One write transaction: on SQLite, sharing its commit with others (see [`batch`]).
    async fn transaction(&self, stmts: Vec<Stmt>) -> DbResult<()> {
        batch::transaction(&self.writer, self.committer.as_ref(), stmts).await
    }

    /// [`Db::transaction`], returning the rows its `RETURNING` clauses gave.
    async fn returning(&self, stmts: Vec<Stmt>) -> DbResult<batch::Returned> {
        batch::returning(&self.writer, self.committer.as_ref(), stmts).await
    }

    /// The statements that store a run's stream log, numbered in order.
    fn log_stmts(thread_id: &str, run_id: &str, log: &[Frame]) -> Vec<Stmt> {
        const ROWS: usize = 150; // 900 parameters a statement
        let mut out = Vec::new();
        for (chunk_no, chunk) in log.chunks(ROWS).enumerate() {
            let mut st = Stmt::new(format!(
                "INSERT INTO run_events (run_id, seq, thread_id, event_id, event, data) VALUES {} ON CONFLICT (run_id, seq) DO NOTHING",
                values_placeholders(chunk.len(), 6)
            ));
            for (i, f) in chunk.iter().enumerate() {
                st = st
                    .text(run_id)
                    .int((chunk_no * ROWS + i) as i64)
                    .text(thread_id)
                    .text(&f.id)
                    .text(&f.event)
                    .text(&f.data);
            }
            out.push(st);
        }
        out
    }

    fn frame(row: &AnyRow) -> DbResult<Frame> {
        Ok(Frame {
            event: row.try_get("event")?,
            data: row.try_get("data")?,
            id: row.try_get("event_id")?,
        })
    }

    /// A finished resumable run's stream log, in order (its end marker last).
    pub async fn run_log(&self, run_id: &str) -> DbResult<Vec<Frame>> {
        let rows = sqlx::query("SELECT * FROM run_events WHERE run_id = $1 ORDER BY seq")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::frame).collect()
    }

    /// The stream logs of a thread's finished resumable runs, each frame with its run id, in
    /// id order.
    pub async fn thread_log(&self, thread_id: &str) -> DbResult<Vec<(String, Frame)>> {
        let rows = sqlx::query(
            "SELECT * FROM run_events WHERE thread_id = $1 ORDER BY event_id, run_id, seq",
        )
        .bind(thread_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("run_id")?, Self::frame(r)?))).collect()
    }

    /// Cancels a pending run (deleting it for a rollback). Returns whether it was still pending.
    pub async fn cancel_pending(&self, run_id: &str, rollback: bool) -> DbResult<bool> {
        let n = if rollback {
            sqlx::query("DELETE FROM runs WHERE run_id = $1 AND status = 'pending'")
                .bind(run_id)
                .execute(&mut *self.writer.conn().await?)
                .await?
        } else {
            sqlx::query("UPDATE runs SET status = 'interrupted', updated_at = $1 WHERE run_id = $2 AND status = 'pending'")
                .bind(orrery_engine::now_iso())
                .bind(run_id)
                .execute(&mut *self.writer.conn().await?)
                .await?
        };
        Ok(n.rows_affected() > 0)
    }

    /// Deletes a run, its stream log and every checkpoint it made, in one transaction.
    pub async fn rollback_run(&self, thread_id: &str, run_id: &str) -> DbResult<()> {
        self.discard_buffer(thread_id).await;
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM runs WHERE run_id = $1").bind(run_id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM run_events WHERE run_id = $1")
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM checkpoint_writes WHERE thread_id = $1 AND checkpoint_id IN
               (SELECT checkpoint_id FROM checkpoints WHERE thread_id = $1 AND run_id = $2)",
        )
        .bind(thread_id)
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM checkpoints WHERE thread_id = $1 AND run_id = $2")
            .bind(thread_id)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a run with its stream log, in one transaction. Returns whether it existed.
    pub async fn delete_run(&self, thread_id: &str, run_id: &str) -> DbResult<bool> {
        let mut tx = self.writer.begin().await?;
        let n = sqlx::query("DELETE FROM runs WHERE run_id = $1 AND thread_id = $2")
            .bind(run_id)
            .bind(thread_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM run_events WHERE run_id = $1 AND thread_id = $2")
            .bind(run_id)
            .bind(thread_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Ends a run and records what it left on the thread and its stream log (empty unless the
    /// run is resumable), in one transaction. Returns whether the thread has more runs queued
    /// (it stays busy).
    pub async fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        thread: &Thread,
        log: &[Frame],
    ) -> DbResult<bool> {
        let tid = &thread.thread_id;
        let ending = self.end_buffer_begin(tid).await;
        let now = orrery_engine::now_iso();
        let mut stmts = ending.as_ref().map(|e| e.stmts(tid)).unwrap_or_default();
        stmts.push(
            Stmt::new("UPDATE runs SET status = $1, updated_at = $2 WHERE run_id = $3")
                .text(status.as_str())
                .text(&now)
                .text(run_id),
        );
        stmts.extend(Self::log_stmts(tid, run_id, log));
        // The thread stays busy while other runs are in flight. Its metadata is not the run's
        // to write: a `PATCH` made while the run went on stays.
        stmts.push(
            Stmt::new(
                "UPDATE threads SET updated_at = $1, state_updated_at = $1,
                   status = CASE WHEN EXISTS (SELECT 1 FROM runs WHERE thread_id = $7 AND status IN ('pending', 'running')) THEN 'busy' ELSE $2 END,
                   config = $3, \"values\" = $4, error = $5, interrupts = $6 WHERE thread_id = $7
                 RETURNING thread_id, status",
            )
            .text(&now)
            .text(thread.status.as_str())
            .text(text(&thread.config))
            .opt(thread.values.as_ref().map(text))
            .opt(thread.error.as_ref().map(text))
            .opt(thread.interrupts.as_ref().map(text))
            .text(tid),
        );
        let rows = self.returning(stmts).await?;
        self.end_buffer_done(tid, ending).await;
        // The thread's status as this transaction left it (a deleted thread gives none).
        let status = batch::returned(&rows, "thread_id", tid, "status")?;
        Ok(status.as_deref() == Some("busy"))
    }
}

// -------------------------------------------------------------------- crons

/// `end_at` of a cron that has no end time.
pub const NO_END: i64 = i64::MAX;

/// A cron as stored (the API object is [`crate::crons::cron_json`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CronRow {
    /// UUIDv7.
    pub cron_id: String,
    /// The assistant it runs (a UUID).
    pub assistant_id: String,
    /// The thread it runs on; `None` for a stateless cron (a new thread per firing).
    pub thread_id: Option<String>,
    /// Owner (`""` without auth).
    pub user_id: String,
    /// The end time as the client sent it.
    pub end_time: Option<String>,
    /// `end_time` in unix microseconds, [`NO_END`] without one.
    pub end_at: i64,
    /// The cron schedule.
    pub schedule: String,
    /// IANA time zone of the schedule (UTC without one).
    pub timezone: Option<String>,
    /// The run body of each firing.
    pub payload: Map<String, Value>,
    /// Next firing, unix seconds.
    pub next_run_at: i64,
    /// Metadata (merged into each run's).
    pub metadata: Map<String, Value>,
    /// `delete` or `keep` for stateless crons, `None` for thread crons.
    pub on_run_completed: Option<String>,
    /// Whether it fires.
    pub enabled: bool,
    /// ISO-8601 creation time.
    pub created_at: String,
    /// ISO-8601 update time.
    pub updated_at: String,
}

/// The outcome of [`Db::insert_cron`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronInsert {
    /// Stored.
    Inserted,
    /// Its assistant does not exist.
    NoAssistant,
    /// Its thread does not exist.
    NoThread,
}

/// The run one firing creates.
#[derive(Debug)]
pub struct CronJob<'a> {
    /// The thread the run goes to.
    pub thread: &'a Thread,
    /// Whether the thread is new (a stateless cron's): it is inserted.
    pub new_thread: bool,
    /// The assistant to name in an existing thread's metadata (its first run names its graph
    /// and assistant, see `Db::tag_thread_stmt`).
    pub tag: Option<&'a Assistant>,
    /// The pending run.
    pub run: &'a Run,
    /// `multitask_strategy: reject`: no run while the thread has one in flight.
    pub reject_if_busy: bool,
}

/// The outcome of [`Db::fire_cron`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronFiring {
    /// The slot was no longer due (another scheduler fired it, or the cron changed or went).
    Lost,
    /// The slot was claimed without a run (thread gone, or busy with `reject`).
    Skipped,
    /// The slot was claimed and the run created.
    Fired,
}

impl Db {
    fn cron(row: &AnyRow) -> DbResult<CronRow> {
        let enabled: i64 = row.try_get("enabled")?;
        Ok(CronRow {
            cron_id: row.try_get("cron_id")?,
            assistant_id: row.try_get("assistant_id")?,
            thread_id: row.try_get("thread_id")?,
            user_id: row.try_get("user_id")?,
            end_time: row.try_get("end_time")?,
            end_at: row.try_get("end_at")?,
            schedule: row.try_get("schedule")?,
            timezone: row.try_get("timezone")?,
            payload: obj(row.try_get("payload")?)?,
            next_run_at: row.try_get("next_run_at")?,
            metadata: obj(row.try_get("metadata")?)?,
            on_run_completed: row.try_get("on_run_completed")?,
            enabled: enabled != 0,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }

    /// Stores a new cron if its assistant (and thread) exist. One statement: the existence
    /// checks and the insert see the same data (and SQLite takes its write lock at once).
    pub async fn insert_cron(&self, c: &CronRow) -> DbResult<CronInsert> {
        let n = sqlx::query(
            "INSERT INTO crons (cron_id, assistant_id, thread_id, user_id, end_time, end_at, schedule, timezone, payload, next_run_at, metadata, on_run_completed, enabled, created_at, updated_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15
             WHERE EXISTS (SELECT 1 FROM assistants WHERE assistant_id = $2)
               AND ($16 = '' OR EXISTS (SELECT 1 FROM threads WHERE thread_id = $16))",
        )
        .bind(&c.cron_id)
        .bind(&c.assistant_id)
        .bind(&c.thread_id)
        .bind(&c.user_id)
        .bind(&c.end_time)
        .bind(c.end_at)
        .bind(&c.schedule)
        .bind(&c.timezone)
        .bind(text(&c.payload))
        .bind(c.next_run_at)
        .bind(text(&c.metadata))
        .bind(&c.on_run_completed)
        .bind(i64::from(c.enabled))
        .bind(&c.created_at)
        .bind(&c.updated_at)
        .bind(c.thread_id.as_deref().unwrap_or_default())
        .execute(&mut *self.writer.conn().await?)
        .await?
        .rows_affected();
        if n > 0 {
            Ok(CronInsert::Inserted)
        } else if self.get_assistant(&c.assistant_id).await?.is_none() {
            Ok(CronInsert::NoAssistant)
        } else {
            Ok(CronInsert::NoThread)
        }
    }

    /// One cron.
    pub async fn get_cron(&self, id: &str) -> DbResult<Option<CronRow>> {
        let row = sqlx::query("SELECT * FROM crons WHERE cron_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::cron).transpose()
    }

    /// Crons of an assistant and/or a thread, enabled or not (`None`: any), unordered.
    pub async fn list_crons(
        &self,
        assistant_id: Option<&str>,
        thread_id: Option<&str>,
        enabled: Option<bool>,
    ) -> DbResult<Vec<CronRow>> {
        let rows = sqlx::query(
            "SELECT * FROM crons WHERE ($1 = '' OR assistant_id = $1) AND ($2 = '' OR thread_id = $2) AND ($3 < 0 OR enabled = $3)",
        )
        .bind(assistant_id.unwrap_or_default())
        .bind(thread_id.unwrap_or_default())
        .bind(enabled.map_or(-1, i64::from))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::cron).collect()
    }

    /// Writes a changed cron unless someone else changed it since it was read (its firing slot
    /// or its update time moved). Returns whether it was written.
    pub async fn replace_cron(&self, c: &CronRow, read: &CronRow) -> DbResult<bool> {
        let n = sqlx::query(
            "UPDATE crons SET end_time = $1, end_at = $2, schedule = $3, timezone = $4, payload = $5, next_run_at = $6, metadata = $7, on_run_completed = $8, enabled = $9, updated_at = $10
             WHERE cron_id = $11 AND next_run_at = $12 AND updated_at = $13",
        )
        .bind(&c.end_time)
        .bind(c.end_at)
        .bind(&c.schedule)
        .bind(&c.timezone)
        .bind(text(&c.payload))
        .bind(c.next_run_at)
        .bind(text(&c.metadata))
        .bind(&c.on_run_completed)
        .bind(i64::from(c.enabled))
        .bind(&c.updated_at)
        .bind(&c.cron_id)
        .bind(read.next_run_at)
        .bind(&read.updated_at)
        .execute(&mut *self.writer.conn().await?)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// Deletes a cron. Returns whether it existed.
    pub async fn delete_cron(&self, id: &str) -> DbResult<bool> {
        let n = sqlx::query("DELETE FROM crons WHERE cron_id = $1")
            .bind(id)
            .execute(&mut *self.writer.conn().await?)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Enabled crons due at `now_s` (unix seconds) whose end time has not passed at `now_us`
    /// (unix microseconds), earliest first.
    pub async fn due_crons(&self, now_s: i64, now_us: i64, limit: i64) -> DbResult<Vec<CronRow>> {
        let rows = sqlx::query(
            "SELECT * FROM crons WHERE enabled = 1 AND next_run_at <= $1 AND end_at >= $2 ORDER BY next_run_at, cron_id LIMIT $3",
        )
        .bind(now_s)
        .bind(now_us)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::cron).collect()
    }

    /// Fires one slot of a cron, in one transaction: claims it by moving `next_run_at` from
    /// `due_at` to `next_at` (a conditional UPDATE, so two processes sharing the database never
    /// fire the same slot twice) and creates the run, with its thread for a stateless cron.
    pub async fn fire_cron(
        &self,
        cron_id: &str,
        due_at: i64,
        next_at: i64,
        job: Option<CronJob<'_>>,
    ) -> DbResult<CronFiring> {
        let mut tx = self.writer.begin().await?;
        let claimed = sqlx::query(
            "UPDATE crons SET next_run_at = $1 WHERE cron_id = $2 AND next_run_at = $3 AND enabled = 1",
        )
        .bind(next_at)
        .bind(cron_id)
        .bind(due_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            return Ok(CronFiring::Lost);
        }
        let Some(job) = job else {
            tx.commit().await?;
            return Ok(CronFiring::Skipped);
        };
        if job.new_thread {
            Self::insert_thread_stmt(job.thread, "").query().execute(&mut *tx).await?;
        } else {
            let tid = &job.thread.thread_id;
            let busy: Option<i64> = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM runs WHERE thread_id = $1 AND status IN ('pending', 'running')) FROM threads WHERE thread_id = $1",
            )
            .bind(tid)
            .fetch_optional(&mut *tx)
            .await?;
            let skip = match busy {
                None => true, // the thread went
                Some(n) => job.reject_if_busy && n > 0,
            };
            if skip {
                tx.commit().await?;
                return Ok(CronFiring::Skipped);
            }
            if let Some(a) = job.tag {
                self.tag_thread_stmt(tid, a).query().execute(&mut *tx).await?;
            }
        }
        Self::insert_run_stmt(job.run, false).query().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(CronFiring::Fired)
    }
}

/// A store item as the API returns it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Item {
    /// Namespace labels.
    pub namespace: Vec<String>,
    /// Key within the namespace.
    pub key: String,
    /// The stored object.
    pub value: Value,
    /// ISO-8601 creation time.
    pub created_at: String,
    /// ISO-8601 update time.
    pub updated_at: String,
}

fn expiry(ttl_minutes: Option<f64>) -> Option<String> {
    let ttl = ttl_minutes.filter(|t| t.is_finite() && *t > 0.0)?;
    let at = chrono::Utc::now() + chrono::Duration::milliseconds((ttl * 60_000.0) as i64);
    Some(at.to_rfc3339_opts(chrono::SecondsFormat::Micros, false))
}

impl Db {
    fn item(row: &AnyRow) -> DbResult<Item> {
        let ns: String = row.try_get("namespace")?;
        let value: String = row.try_get("value")?;
        Ok(Item {
            namespace: ns.split('.').map(str::to_string).collect(),
            key: row.try_get("key")?,
            value: serde_json::from_str(&value)?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }

    /// Puts an item (created or replaced), with an optional time to live in minutes.
    pub async fn put_item(
        &self,
        namespace: &str,
        key: &str,
        value: &Value,
        ttl_minutes: Option<f64>,
    ) -> DbResult<()> {
        let now = orrery_engine::now_iso();
        sqlx::query(
            "INSERT INTO store_items (namespace, key, value, created_at, updated_at, ttl_minutes, expires_at) VALUES ($1, $2, $3, $4, $4, $5, $6)
             ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, ttl_minutes = excluded.ttl_minutes, expires_at = excluded.expires_at",
        )
        .bind(namespace)
        .bind(key)
        .bind(text(value))
        .bind(&now)
        // NOTE: 0 stands for "no time to live": a NULL double confuses the PostgreSQL statement
        // cache of sqlx's Any driver when the same statement later binds a number.
        .bind(ttl_minutes.filter(|t| t.is_finite() && *t > 0.0).unwrap_or(0.0))
        .bind(expiry(ttl_minutes))
        .execute(&mut *self.writer.conn().await?)
        .await?;
        Ok(())
    }

    /// One live (unexpired) item; `refresh` restarts its time to live.
    pub async fn get_item(
        &self,
        namespace: &str,
        key: &str,
        refresh: bool,
    ) -> DbResult<Option<Item>> {
        let now = orrery_engine::now_iso();
        let row = sqlx::query(
            "SELECT * FROM store_items WHERE namespace = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > $3)",
        )
        .bind(namespace)
        .bind(key)
        .bind(&now)
        .fetch_optional(&self.pool)
        .await?;
        if refresh && let Some(r) = &row {
            let ttl: Option<f64> = r.try_get("ttl_minutes")?;
            sqlx::query("UPDATE store_items SET expires_at = $1 WHERE namespace = $2 AND key = $3")
                .bind(expiry(ttl))
                .bind(namespace)
                .bind(key)
                .execute(&mut *self.writer.conn().await?)
                .await?;
        }
        row.as_ref().map(Self::item).transpose()
    }

    /// Deletes an item (absent is fine).
    pub async fn delete_item(&self, namespace: &str, key: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM store_items WHERE namespace = $1 AND key = $2")
            .bind(namespace)
            .bind(key)
            .execute(&mut *self.writer.conn().await?)
            .await?;
        Ok(())
    }

    /// Live items whose namespace starts with `prefix` (dot-joined; empty = all), oldest key first.
    pub async fn items_under(&self, prefix: &str) -> DbResult<Vec<Item>> {
        let now = orrery_engine::now_iso();
        let like = format!("{}.%", prefix.replace('%', "\\%").replace('_', "\\_"));
        let rows = sqlx::query(
            "SELECT * FROM store_items WHERE ($1 = '' OR namespace = $1 OR namespace LIKE $2 ESCAPE '\\')
               AND (expires_at IS NULL OR expires_at > $3)
             ORDER BY updated_at DESC, namespace, key",
        )
        .bind(prefix)
        .bind(like)
        .bind(&now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::item).collect()
    }

    /// Copies a thread (new id, same metadata, every checkpoint and write), in one transaction.
    /// Returns `None` when the source does not exist.
    pub async fn copy_thread(&self, from: &str, to: &str) -> DbResult<Option<Thread>> {
        let Some(src) = self.get_thread(from).await? else { return Ok(None) };
        self.flush_thread(from).await?;
        let now = orrery_engine::now_iso();
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO threads (thread_id, created_at, updated_at, state_updated_at, metadata, status, config, \"values\", error, interrupts)
             SELECT $1, $2, $2, $2, metadata, 'idle', config, \"values\", NULL, NULL FROM threads WHERE thread_id = $3",
        )
        .bind(to)
        .bind(&now)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, run_id, checkpoint, metadata)
             SELECT $1, checkpoint_ns, checkpoint_id, parent_checkpoint_id, run_id, checkpoint, metadata FROM checkpoints WHERE thread_id = $2",
        )
        .bind(to)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, value, task_path)
             SELECT $1, checkpoint_ns, checkpoint_id, task_id, idx, channel, value, task_path FROM checkpoint_writes WHERE thread_id = $2",
        )
        .bind(to)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let _ = src;
        self.get_thread(to).await
    }
}

// -------------------------------------------------------------------- checkpointer

/// How long a buffered checkpoint of an `async` run may wait before a background flush stores
/// it. Short runs end sooner and store everything with their end, in one transaction.
const FLUSH_DELAY: std::time::Duration = std::time::Duration::from_millis(5);

/// Rows per multi-row INSERT (well under both databases' parameter limits).
const ROWS_PER_INSERT: usize = 200;

/// The engine's checkpoints in the database.
#[derive(Clone)]
pub struct SqlSaver {
    db: Db,
}

impl SqlSaver {
    /// A saver on `db`.
    pub fn new(db: Db) -> SqlSaver {
        SqlSaver { db }
    }
}

fn engine_err(e: impl std::fmt::Display) -> orrery_engine::Error {
    orrery_engine::Error::Checkpointer(e.to_string())
}

/// A stored write: `(task_path, task_id, idx, channel, value)`.
type WriteTuple = (String, String, i64, String, String);

impl Db {
    /// Starts buffering the checkpoints of a run on `thread_id` (nothing to do for `sync`).
    /// A buffer a failed run left behind is stored first.
    pub async fn buffer_run(&self, thread_id: &str, durability: Durability) -> DbResult<()> {
        if durability == Durability::Sync {
            return Ok(());
        }
        if let Some(old) = self.buffers.open(thread_id, durability) {
            let _flushing = old.flushing.lock().await;
            let ops = buffer::compact(old.durability, old.close());
            self.store_ops(thread_id, &ops).await?;
        }
        Ok(())
    }

    /// Stores every op in one transaction.
    async fn store_ops(&self, thread_id: &str, ops: &[Arc<Op>]) -> DbResult<()> {
        if ops.is_empty() {
            return Ok(());
        }
        self.transaction(ops_stmts(thread_id, ops)).await
    }

    /// Stores what `thread_id`'s buffer holds now (waiting for a flush in flight).
    async fn flush_buffer(&self, thread_id: &str, buf: &Arc<ThreadBuffer>) -> DbResult<()> {
        let _flushing = buf.flushing.lock().await;
        buf.scheduled.store(false, std::sync::atomic::Ordering::Release);
        let ops = buf.snapshot();
        self.store_ops(thread_id, &ops).await?;
        buf.drain(ops.len());
        Ok(())
    }

    /// Stores `thread_id`'s buffered checkpoints now if its run is `async` (before SQL that reads
    /// them in the database).
    pub async fn flush_thread(&self, thread_id: &str) -> DbResult<()> {
        match self.buffers.get(thread_id) {
            Some(buf) if buf.durability == Durability::Async => {
                self.flush_buffer(thread_id, &buf).await
            }
            _ => Ok(()),
        }
    }

    /// Schedules a background flush of an `async` buffer unless one is scheduled.
    fn schedule_flush(&self, thread_id: &str, buf: &Arc<ThreadBuffer>) {
        if buf.durability != Durability::Async || !buf.schedule() {
            return;
        }
        let (db, buf, thread_id) = (self.clone(), Arc::clone(buf), thread_id.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(FLUSH_DELAY).await;
            if let Err(e) = db.flush_buffer(&thread_id, &buf).await {
                // The ops stay queued: the run's end stores them with its status, or fails.
                tracing::warn!(thread_id = %thread_id, "storing buffered checkpoints failed: {e}");
            }
        });
    }

    /// Starts ending `thread_id`'s buffer: waits for a flush in flight and returns what the
    /// transaction that records the run's end must store first. Readers keep seeing the buffer
    /// until [`Db::end_buffer_done`].
    async fn end_buffer_begin(&self, thread_id: &str) -> Option<Ending> {
        let buf = self.buffers.get(thread_id)?;
        let guard = Arc::clone(&buf.flushing).lock_owned().await;
        let snapshot = buf.snapshot();
        let taken = snapshot.len();
        let ops = buffer::compact(buf.durability, snapshot);
        Some(Ending { buf, taken, ops, _guard: guard })
    }

    /// Closes the buffer once the end transaction committed; writes that raced with the end (a
    /// state update) are stored on their own.
    async fn end_buffer_done(&self, thread_id: &str, ending: Option<Ending>) {
        let Some(ending) = ending else { return };
        let late: Vec<Arc<Op>> = ending.buf.close().into_iter().skip(ending.taken).collect();
        self.buffers.remove(thread_id, &ending.buf);
        if let Err(e) = self.store_ops(thread_id, &late).await {
            tracing::error!(thread_id = %thread_id, "storing checkpoints written as the run ended: {e}");
        }
    }

    /// Drops `thread_id`'s buffer unstored (the run is rolled back or the thread deleted).
    async fn discard_buffer(&self, thread_id: &str) {
        if let Some(b) = self.buffers.get(thread_id) {
            let _flushing = b.flushing.lock().await;
            b.close();
            self.buffers.remove(thread_id, &b);
        }
    }
}

/// A buffer being ended (see [`Db::end_buffer_begin`]).
struct Ending {
    buf: Arc<ThreadBuffer>,
    /// How many queued ops the end transaction stores (compaction may drop some).
    taken: usize,
    ops: Vec<Arc<Op>>,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Ending {
    /// The statements that store what the run's end takes from the buffer.
    fn stmts(&self, thread_id: &str) -> Vec<Stmt> {
        ops_stmts(thread_id, &self.ops)
    }
}

/// The statements that store buffered checkpoints and writes: checkpoints first (the last of a
/// repeated id wins), then regular writes (the first of a repeated key wins) and special writes
/// (the last wins).
fn ops_stmts(thread_id: &str, ops: &[Arc<Op>]) -> Vec<Stmt> {
    let mut puts: Vec<&buffer::PutOp> = Vec::new();
    let mut regular: Vec<&WriteRow> = Vec::new();
    let mut special: Vec<&WriteRow> = Vec::new();
    for op in ops {
        match op.as_ref() {
            Op::Put(p) => {
                puts.retain(|q| !(q.ns == p.ns && q.id == p.id));
                puts.push(p);
            }
            Op::Writes(rows) => {
                for r in rows {
                    if r.special {
                        special.retain(|q| {
                            !(q.ns == r.ns
                                && q.checkpoint_id == r.checkpoint_id
                                && q.task_id == r.task_id
                                && q.idx == r.idx)
                        });
                        special.push(r);
                    } else {
                        regular.push(r);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for chunk in puts.chunks(ROWS_PER_INSERT) {
        let mut st = Stmt::new(format!(
            "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, run_id, checkpoint, metadata) VALUES {}
             ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET parent_checkpoint_id = excluded.parent_checkpoint_id, run_id = excluded.run_id, checkpoint = excluded.checkpoint, metadata = excluded.metadata",
            values_placeholders(chunk.len(), 7)
        ));
        for p in chunk {
            st = st
                .text(thread_id)
                .text(&p.ns)
                .text(&p.id)
                .opt(p.parent.as_deref())
                .opt(p.run_id.as_deref())
                .text(&p.checkpoint)
                .text(&p.metadata);
        }
        out.push(st);
    }
    for (rows, on_conflict) in [
        (&regular, "DO NOTHING"),
        (
            &special,
            "DO UPDATE SET channel = excluded.channel, value = excluded.value, task_path = excluded.task_path",
        ),
    ] {
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut st = Stmt::new(format!(
                "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, value, task_path) VALUES {}
                 ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) {on_conflict}",
                values_placeholders(chunk.len(), 8)
            ));
            for r in chunk {
                st = st
                    .text(thread_id)
                    .text(&r.ns)
                    .text(&r.checkpoint_id)
                    .text(&r.task_id)
                    .int(r.idx)
                    .text(&r.channel)
                    .text(&r.value)
                    .text(&r.task_path);
            }
            out.push(st);
        }
    }
    out
}

impl SqlSaver {
    /// The stored writes against one checkpoint, in order.
    async fn stored_writes(
        &self,
        thread_id: &str,
        ns: &str,
        id: &str,
    ) -> orrery_engine::Result<Vec<WriteTuple>> {
        let rows = sqlx::query(
            "SELECT task_path, task_id, idx, channel, value FROM checkpoint_writes WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3 ORDER BY task_path, task_id, idx",
        )
        .bind(thread_id)
        .bind(ns)
        .bind(id)
        .fetch_all(&self.db.pool)
        .await
        .map_err(engine_err)?;
        rows.iter()
            .map(|w| -> Result<WriteTuple, sqlx::Error> {
                Ok((
                    w.try_get("task_path")?,
                    w.try_get("task_id")?,
                    w.try_get("idx")?,
                    w.try_get("channel")?,
                    w.try_get("value")?,
                ))
            })
            .collect::<Result<_, _>>()
            .map_err(engine_err)
    }

    /// A checkpoint tuple from its stored (or buffered) columns and its writes.
    #[allow(clippy::too_many_arguments)]
    fn build_tuple(
        thread_id: &str,
        ns: &str,
        id: &str,
        parent: Option<&str>,
        checkpoint: &str,
        metadata: &str,
        writes: Vec<WriteTuple>,
    ) -> orrery_engine::Result<CheckpointTuple> {
        let checkpoint: Checkpoint = serde_json::from_str(checkpoint).map_err(engine_err)?;
        let metadata: Map<String, Value> = serde_json::from_str(metadata).map_err(engine_err)?;
        let mut pending_writes = Vec::with_capacity(writes.len());
        for (_, task_id, _, channel, value) in writes {
            pending_writes.push(PendingWrite {
                task_id,
                channel,
                value: serde_json::from_str(&value).map_err(engine_err)?,
            });
        }
        let at = |checkpoint_id: &str| CheckpointRef {
            thread_id: thread_id.to_string(),
            checkpoint_ns: ns.to_string(),
            checkpoint_id: checkpoint_id.to_string(),
        };
        Ok(CheckpointTuple {
            config: at(id),
            checkpoint,
            metadata,
            parent: parent.map(at),
            pending_writes,
        })
    }

    /// A stored checkpoint row as a tuple, with its stored writes and, when given, the buffered
    /// ones merged in.
    async fn tuple(
        &self,
        row: &AnyRow,
        buffered: Option<&[Arc<Op>]>,
    ) -> orrery_engine::Result<CheckpointTuple> {
        let get = |c: &str| row.try_get::<String, _>(c).map_err(engine_err);
        let (thread_id, ns, id) = (get("thread_id")?, get("checkpoint_ns")?, get("checkpoint_id")?);
        let parent: Option<String> = row.try_get("parent_checkpoint_id").map_err(engine_err)?;
        let mut writes = self.stored_writes(&thread_id, &ns, &id).await?;
        if let Some(ops) = buffered {
            writes = buffer::merge_writes(writes, ops, &ns, &id);
        }
        Self::build_tuple(
            &thread_id,
            &ns,
            &id,
            parent.as_deref(),
            &get("checkpoint")?,
            &get("metadata")?,
            writes,
        )
    }

    /// Queues `op` on the thread's buffer, or stores it now (no buffer, or `sync`).
    async fn save(&self, thread_id: &str, op: Op) -> orrery_engine::Result<()> {
        let op = Arc::new(op);
        let op = match self.db.buffers.get(thread_id) {
            Some(buf) => match buf.push(op) {
                Ok(()) => {
                    self.db.schedule_flush(thread_id, &buf);
                    return Ok(());
                }
                Err(op) => op,
            },
            None => op,
        };
        self.db.store_ops(thread_id, &[op]).await.map_err(engine_err)
    }
}

#[async_trait]
impl Checkpointer for SqlSaver {
    async fn get_tuple(
        &self,
        thread_id: &str,
        checkpoint_ns: &str,
        checkpoint_id: Option<&str>,
    ) -> orrery_engine::Result<Option<CheckpointTuple>> {
        let buffered = self.db.buffers.get(thread_id).map(|b| b.snapshot());
        if let Some(ops) = &buffered {
            // A buffered checkpoint is newer than every stored one of its thread.
            let found = ops.iter().rev().find_map(|op| match op.as_ref() {
                Op::Put(p)
                    if p.ns == checkpoint_ns && checkpoint_id.is_none_or(|id| id == p.id) =>
                {
                    Some(p)
                }
                _ => None,
            });
            if let Some(p) = found {
                // Its writes came after it, so none of them is stored yet.
                let writes = buffer::merge_writes(Vec::new(), ops, &p.ns, &p.id);
                return Self::build_tuple(
                    thread_id,
                    &p.ns,
                    &p.id,
                    p.parent.as_deref(),
                    &p.checkpoint,
                    &p.metadata,
                    writes,
                )
                .map(Some);
            }
        }
        // The checkpoint and its writes in one query: one row per write, or one row with no
        // write.
        let by_id = if checkpoint_id.is_some() { "AND checkpoint_id = $3" } else { "" };
        let sql = format!(
            "SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id, c.checkpoint, c.metadata,
                    w.task_path, w.task_id, w.idx, w.channel, w.value
             FROM (SELECT * FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = $2 {by_id}
                   ORDER BY checkpoint_id DESC LIMIT 1) c
             LEFT JOIN checkpoint_writes w
               ON w.thread_id = c.thread_id AND w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.checkpoint_id
             ORDER BY w.task_path, w.task_id, w.idx"
        );
        let mut read = Stmt::new(sql).text(thread_id).text(checkpoint_ns);
        if let Some(id) = checkpoint_id {
            read = read.text(id);
        }
        // (ns, id, parent, checkpoint, metadata) of the first row, and the writes.
        let mut head: Option<(String, String, Option<String>, String, String)> = None;
        let mut writes = Vec::new();
        self.db
            .read_rows(read, |r| {
                if head.is_none() {
                    head = Some((
                        r.str("checkpoint_ns")?,
                        r.str("checkpoint_id")?,
                        r.opt_str("parent_checkpoint_id")?,
                        r.str("checkpoint")?,
                        r.str("metadata")?,
                    ));
                }
                if let Some(task_id) = r.opt_str("task_id")? {
                    writes.push((
                        r.str("task_path")?,
                        task_id,
                        r.int("idx")?,
                        r.str("channel")?,
                        r.str("value")?,
                    ));
                }
                Ok(())
            })
            .await
            .map_err(engine_err)?;
        let Some((ns, id, parent, checkpoint, metadata)) = head else { return Ok(None) };
        if let Some(ops) = &buffered {
            writes = buffer::merge_writes(writes, ops, &ns, &id);
        }
        Self::build_tuple(thread_id, &ns, &id, parent.as_deref(), &checkpoint, &metadata, writes)
            .map(Some)
    }

    async fn list(
        &self,
        thread_id: &str,
        options: &ListOptions,
    ) -> orrery_engine::Result<Vec<CheckpointTuple>> {
        // History reads the database: an `async` run's buffer is stored first. An `exit` run's
        // steps are not history (only its end is kept).
        if let Some(buf) = self.db.buffers.get(thread_id)
            && buf.durability == Durability::Async
        {
            self.db.flush_buffer(thread_id, &buf).await.map_err(engine_err)?;
        }
        // Without a metadata filter the limit goes to the database: a long thread's history
        // page must not read every checkpoint (each holds the channel values of its step).
        let limit = match (&options.filter, options.limit) {
            (None, Some(l)) => i64::try_from(l).unwrap_or(i64::MAX),
            _ => -1,
        };
        let sql = if limit >= 0 {
            "SELECT * FROM checkpoints WHERE thread_id = $1
               AND ($2 IS NULL OR checkpoint_ns = $2)
               AND ($3 IS NULL OR checkpoint_id = $3)
               AND ($4 IS NULL OR checkpoint_id < $4)
             ORDER BY checkpoint_id DESC LIMIT $5"
        } else {
            "SELECT * FROM checkpoints WHERE thread_id = $1
               AND ($2 IS NULL OR checkpoint_ns = $2)
               AND ($3 IS NULL OR checkpoint_id = $3)
               AND ($4 IS NULL OR checkpoint_id < $4)
             ORDER BY checkpoint_id DESC"
        };
        let mut query = sqlx::query(sql)
            .bind(thread_id)
            .bind(&options.checkpoint_ns)
            .bind(&options.checkpoint_id)
            .bind(&options.before);
        if limit >= 0 {
            query = query.bind(limit);
        }
        let rows = query.fetch_all(&self.db.pool).await.map_err(engine_err)?;
        let mut out = Vec::new();
        for r in rows {
            if options.limit.is_some_and(|l| out.len() >= l) {
                break;
            }
            let t = self.tuple(&r, None).await?;
            if options.filter.as_ref().is_some_and(|f| !metadata_matches(&t.metadata, f)) {
                continue;
            }
            out.push(t);
        }
        Ok(out)
    }

    async fn put(
        &self,
        thread_id: &str,
        checkpoint_ns: &str,
        parent_id: Option<&str>,
        checkpoint: &Checkpoint,
        metadata: &Map<String, Value>,
    ) -> orrery_engine::Result<()> {
        let op = Op::Put(buffer::PutOp {
            ns: checkpoint_ns.to_string(),
            id: checkpoint.id.clone(),
            parent: parent_id.map(str::to_string),
            run_id: metadata.get("run_id").and_then(Value::as_str).map(str::to_string),
            checkpoint: serde_json::to_string(checkpoint).map_err(engine_err)?,
            metadata: serde_json::to_string(metadata).map_err(engine_err)?,
        });
        self.save(thread_id, op).await
    }

    async fn put_writes(
        &self,
        at: &CheckpointRef,
        task_id: &str,
        task_path: &str,
        writes: &[(String, Value)],
    ) -> orrery_engine::Result<()> {
        let mut rows = Vec::with_capacity(writes.len());
        for (i, (channel, value)) in writes.iter().enumerate() {
            let special = special_write_index(channel);
            rows.push(WriteRow {
                ns: at.checkpoint_ns.clone(),
                checkpoint_id: at.checkpoint_id.clone(),
                task_id: task_id.to_string(),
                task_path: task_path.to_string(),
                idx: special.unwrap_or(i as i64),
                channel: channel.clone(),
                value: serde_json::to_string(value).map_err(engine_err)?,
                special: special.is_some(),
            });
        }
        self.save(&at.thread_id, Op::Writes(rows)).await
    }

    async fn delete_thread(&self, thread_id: &str) -> orrery_engine::Result<()> {
        self.db.discard_buffer(thread_id).await;
        let mut tx = self.db.writer.begin().await.map_err(engine_err)?;
        for table in ["checkpoints", "checkpoint_writes"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE thread_id = $1"))
                .bind(thread_id)
                .execute(&mut *tx)
                .await
                .map_err(engine_err)?;
        }
        tx.commit().await.map_err(engine_err)?;
        Ok(())
    }
}
