//! Statements that make up one write transaction. On PostgreSQL they run with bound parameters
//! in a transaction on the writer pool. On SQLite, transactions queued at the same time share
//! one commit ([`Committer`]), made on the calling thread by [`Lite`]: sqlx would hand every
//! SQLite statement to its connection's thread and back.

use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use tokio::sync::{mpsc, oneshot};

use super::lite::Lite;
use super::{DbError, DbResult};

/// Where sqlx writes. On SQLite, sqlx's writes and the hot path's commits take turns through
/// `gate`: SQLite has one writer at a time, and a commit on this thread that waited for
/// SQLite's lock while an sqlx transaction held it would block the very thread that
/// transaction needs to end. (The turn is a lock in this process, not sqlx's one writer
/// connection: sqlx pings a connection each time it goes back to its pool, a hand-off to the
/// connection's thread and back per commit.)
#[derive(Clone)]
pub(crate) struct Writer {
    pool: sqlx::AnyPool,
    gate: Option<Arc<tokio::sync::Mutex<()>>>,
}

type Turn = Option<tokio::sync::OwnedMutexGuard<()>>;

/// An sqlx transaction on the writer, holding the writer's turn until it ends: committed, or
/// rolled back on sqlx's connection thread once dropped (not when dropped: sqlx queues the
/// rollback, and the lock is SQLite's until it has run).
pub(crate) struct WriteTx {
    tx: Option<(sqlx::Transaction<'static, sqlx::Any>, Turn)>,
}

/// The writer's connection, holding the writer's turn while it is used, and after, until the
/// connection's thread has finished its statement (a caller that stops waiting for one, a
/// request whose client went away, leaves it running there).
pub(crate) struct WriteConn {
    conn: Option<(sqlx::pool::PoolConnection<sqlx::Any>, Turn)>,
}

/// Runs `work` in a task of its own (with the runtime's handle, when there is one).
fn spawn_detached(work: impl std::future::Future<Output = ()> + Send + 'static) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(work);
    }
}

impl Writer {
    /// The writer on `pool`; `gated` (SQLite) when the hot path commits beside it.
    pub(crate) fn new(pool: sqlx::AnyPool, gated: bool) -> Writer {
        Writer { pool, gate: gated.then(Arc::default) }
    }

    async fn turn(&self) -> Turn {
        match &self.gate {
            Some(g) => Some(Arc::clone(g).lock_owned().await),
            None => None,
        }
    }

    /// Begins a transaction.
    pub(crate) async fn begin(&self) -> Result<WriteTx, sqlx::Error> {
        let turn = self.turn().await;
        Ok(WriteTx { tx: Some((self.pool.begin().await?, turn)) })
    }

    /// The connection, for one statement.
    pub(crate) async fn conn(&self) -> Result<WriteConn, sqlx::Error> {
        let turn = self.turn().await;
        Ok(WriteConn { conn: Some((self.pool.acquire().await?, turn)) })
    }
}

const HELD: &str = "a writer's guard holds its connection until it is dropped";

impl WriteTx {
    /// Commits; the turn goes once the commit has run, even if the caller stops waiting.
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        let Some((tx, turn)) = self.tx.take() else { return Ok(()) };
        let commit = tokio::spawn(async move {
            let result = tx.commit().await;
            drop(turn);
            result
        });
        commit.await.unwrap_or_else(|e| Err(sqlx::Error::Protocol(format!("commit: {e}"))))
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let Some((tx, turn)) = self.tx.take() {
            spawn_detached(async move {
                let _ = tx.rollback().await;
                drop(turn);
            });
        }
    }
}

impl Drop for WriteConn {
    fn drop(&mut self) {
        if let Some((mut conn, turn)) = self.conn.take() {
            spawn_detached(async move {
                // Answered once the connection's thread is done with what it was given.
                let _ = sqlx::Connection::ping(&mut *conn).await;
                drop(conn);
                drop(turn);
            });
        }
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        self.tx.as_ref().expect(HELD).0.deref()
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        self.tx.as_mut().expect(HELD).0.deref_mut()
    }
}

impl std::ops::Deref for WriteConn {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        self.conn.as_ref().expect(HELD).0.deref()
    }
}

impl std::ops::DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        self.conn.as_mut().expect(HELD).0.deref_mut()
    }
}

/// An argument of a [`Stmt`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    Null,
}

/// A statement with `$n` placeholders and its arguments.
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    sql: String,
    args: Vec<Arg>,
}

impl Stmt {
    pub(crate) fn new(sql: impl Into<String>) -> Stmt {
        Stmt { sql: sql.into(), args: Vec::new() }
    }

    pub(crate) fn text(mut self, s: impl Into<String>) -> Stmt {
        self.args.push(Arg::Text(s.into()));
        self
    }

    pub(crate) fn opt(mut self, s: Option<impl Into<String>>) -> Stmt {
        self.args.push(s.map_or(Arg::Null, |s| Arg::Text(s.into())));
        self
    }

    pub(crate) fn int(mut self, n: i64) -> Stmt {
        self.args.push(Arg::Int(n));
        self
    }

    pub(crate) fn sql(&self) -> &str {
        &self.sql
    }

    pub(crate) fn args(&self) -> &[Arg] {
        &self.args
    }

    /// The bytes it carries (a bound on a group's size).
    fn size(&self) -> usize {
        self.sql.len()
            + self
                .args
                .iter()
                .map(|a| if let Arg::Text(s) = a { s.len() } else { 8 })
                .sum::<usize>()
    }

    /// The statement with its parameters bound (owned: the query outlives no borrow).
    pub(crate) fn query(&self) -> Query<'_, sqlx::Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.sql);
        for a in &self.args {
            q = match a {
                Arg::Text(s) => q.bind(s.clone()),
                Arg::Int(n) => q.bind(*n),
                Arg::Null => q.bind(None::<String>),
            };
        }
        q
    }
}

/// A row that a `RETURNING` clause gave: its columns' names and values as text (integers in
/// decimal; `None` for NULL).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RetRow(pub(crate) Vec<(String, Option<String>)>);

impl RetRow {
    pub(crate) fn get(&self, column: &str) -> Option<&Option<String>> {
        self.0.iter().find(|(c, _)| c == column).map(|(_, v)| v)
    }

    /// A row of sqlx's (PostgreSQL's) as text.
    fn of(row: &AnyRow) -> Result<RetRow, sqlx::Error> {
        use sqlx::{Column, Row};
        let mut cols = Vec::with_capacity(row.columns().len());
        for (i, c) in row.columns().iter().enumerate() {
            let v = match row.try_get::<Option<String>, _>(i) {
                Ok(v) => v,
                Err(_) => row.try_get::<Option<i64>, _>(i)?.map(|n| n.to_string()),
            };
            cols.push((c.name().to_string(), v));
        }
        Ok(RetRow(cols))
    }
}

/// The rows the `RETURNING` clauses of one transaction's statements gave, in order.
pub(crate) type Returned = Vec<RetRow>;

/// The text of `column` in the returned row whose `key` column is `value` (the last such row);
/// rows without a `key` column (other statements') are skipped.
pub(crate) fn returned(
    rows: &Returned,
    key: &str,
    value: &str,
    column: &str,
) -> Result<Option<String>, sqlx::Error> {
    let found = rows.iter().rev().find(|r| r.get(key).is_some_and(|k| k.as_deref() == Some(value)));
    match found {
        Some(row) => match row.get(column) {
            Some(v) => Ok(v.clone()),
            None => Err(sqlx::Error::ColumnNotFound(column.to_string())),
        },
        None => Ok(None),
    }
}

/// SQLite's group commit: write transactions queue here and one task commits whatever is
/// queued in one SQLite transaction (each in a savepoint of its own, see
/// [`Lite::commit_group`]). A burst of runs shares its commits, and the next group is ready as
/// soon as the last one is committed.
#[derive(Clone)]
pub(crate) struct Committer {
    queue: mpsc::UnboundedSender<Queued>,
}

/// A transaction's statements and who waits for its commit.
struct Queued {
    stmts: Vec<Stmt>,
    done: oneshot::Sender<DbResult<Returned>>,
}

/// A group stops growing at this many transactions or this many bytes of statements (bounds on
/// how long one commit holds the thread).
const MAX_GROUP: usize = 64;
const MAX_GROUP_BYTES: usize = 256 * 1024;

impl Committer {
    /// Starts the task that commits through `lite` in `writer`'s turn (so that sqlx's writes
    /// and these never overlap); it ends when the last `Committer` is dropped.
    pub(crate) fn start(writer: Writer, lite: Arc<Lite>) -> Committer {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(commit_groups(writer, lite, rx));
        Committer { queue }
    }

    /// Commits `stmts`, alone or with others: resolves once they are committed or rolled
    /// back. The work goes on in the task whether or not the caller waits.
    async fn commit(&self, stmts: Vec<Stmt>) -> DbResult<Returned> {
        let (done, rx) = oneshot::channel();
        self.queue.send(Queued { stmts, done }).map_err(|_| sqlx::Error::PoolClosed)?;
        rx.await.unwrap_or(Err(DbError::Sql(sqlx::Error::PoolClosed)))
    }
}

async fn commit_groups(writer: Writer, lite: Arc<Lite>, mut rx: mpsc::UnboundedReceiver<Queued>) {
    let mut next = None;
    let mut group = Vec::with_capacity(MAX_GROUP);
    loop {
        let Some(first) = next.take().or(rx.recv().await) else { return };
        let mut bytes = first.stmts.iter().map(Stmt::size).sum::<usize>();
        group.push(first);
        while group.len() < MAX_GROUP
            && bytes < MAX_GROUP_BYTES
            && let Ok(q) = rx.try_recv()
        {
            let size = q.stmts.iter().map(Stmt::size).sum::<usize>();
            if bytes + size > MAX_GROUP_BYTES {
                next = Some(q);
                break;
            }
            bytes += size;
            group.push(q);
        }
        // The writer's turn, held while this group commits: no sqlx write runs meanwhile.
        let turn = writer.turn().await;
        let items: Vec<&[Stmt]> = group.iter().map(|q| q.stmts.as_slice()).collect();
        let results = lite.commit_group(&items);
        drop(turn);
        for (q, result) in group.drain(..).zip(results) {
            let _ = q.done.send(result.map_err(DbError::from));
        }
    }
}

/// Runs `stmts` as one transaction: on SQLite (`committer`) sharing its commit with others
/// queued at the time; else statement by statement in a transaction on `writer`. (Boxed: the
/// future is checked to be `Send` here, once, with its own lifetimes, which callers' futures
/// need.)
pub(crate) fn transaction<'a>(
    writer: &'a Writer,
    committer: Option<&'a Committer>,
    stmts: Vec<Stmt>,
) -> BoxFuture<'a, DbResult<()>> {
    Box::pin(async move { returning(writer, committer, stmts).await.map(drop) })
}

/// [`transaction`], returning the rows its statements' `RETURNING` clauses gave.
pub(crate) fn returning<'a>(
    writer: &'a Writer,
    committer: Option<&'a Committer>,
    stmts: Vec<Stmt>,
) -> BoxFuture<'a, DbResult<Returned>> {
    Box::pin(async move {
        if stmts.is_empty() {
            return Ok(Returned::default());
        }
        if let Some(c) = committer {
            return c.commit(stmts).await;
        }
        let mut tx = writer.begin().await?;
        let mut rows = Vec::new();
        for s in &stmts {
            for r in s.query().fetch_all(&mut *tx).await? {
                rows.push(RetRow::of(&r)?);
            }
        }
        tx.commit().await?;
        Ok(rows)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A fresh SQLite file (removed on drop) with a table `t (k PRIMARY KEY, v)`: sqlx's writer
    /// pool of one connection, and the hot path's connections.
    struct TableT {
        dir: std::path::PathBuf,
        pool: sqlx::AnyPool,
        writer: Writer,
        lite: Arc<Lite>,
    }

    impl Drop for TableT {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    async fn table_t() -> TableT {
        sqlx::any::install_default_drivers();
        let dir = std::env::temp_dir().join(format!("orrery-batch-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let file = dir.join("t.sqlite");
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&format!("sqlite://{}?mode=rwc", file.display()))
            .await
            .expect("a database");
        sqlx::raw_sql("PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
            .execute(&pool)
            .await
            .expect("table");
        let lite = Arc::new(Lite::open(&file, 1).expect("the hot path's connections"));
        let writer = Writer::new(pool.clone(), true);
        TableT { dir, pool, writer, lite }
    }

    impl TableT {
        fn committer(&self) -> Committer {
            Committer::start(self.writer.clone(), Arc::clone(&self.lite))
        }

        async fn rows(&self) -> Vec<(String, String)> {
            sqlx::query_as("SELECT k, v FROM t ORDER BY k")
                .fetch_all(&self.pool)
                .await
                .expect("rows")
        }
    }

    fn insert(k: &str, v: &str) -> Stmt {
        Stmt::new("INSERT INTO t (k, v) VALUES ($1, $2)").text(k).text(v)
    }

    #[tokio::test]
    async fn parameters_bind_by_their_number_and_text_is_never_sql() {
        let db = table_t().await;
        let c = db.committer();
        let tricky = "o'neil; DROP TABLE t; -- $1 \0 \u{0}";
        let stmts = vec![
            // `$2` comes before `$1` in the text, and `$1` is used twice.
            Stmt::new("INSERT INTO t (v, k) VALUES ($2 || '|' || $1, $1 || 'x') RETURNING k, v")
                .text("a")
                .text(tricky),
            Stmt::new("INSERT INTO t (k, v) VALUES ($1, $3) RETURNING k, v")
                .text("nul\0inside")
                .int(7)
                .opt(None::<String>),
        ];
        let rows = returning(&db.writer, Some(&c), stmts).await.expect("committed");
        assert_eq!(returned(&rows, "k", "ax", "v").expect("a column"), Some(format!("{tricky}|a")));
        assert_eq!(returned(&rows, "k", "nul\0inside", "v").expect("a column"), None);
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM t").fetch_one(&db.pool).await.expect("count");
        assert_eq!(n, 2);
        let missing = returning(&db.writer, Some(&c), vec![Stmt::new("SELECT $2").text("a")]).await;
        assert!(missing.is_err(), "a missing argument is an error");
    }

    #[tokio::test]
    async fn a_transaction_fails_whole_and_the_connection_goes_on() {
        let db = table_t().await;
        let c = db.committer();
        let c = Some(&c);
        transaction(&db.writer, c, vec![insert("a", "1"), insert("b", "2")])
            .await
            .expect("the batch commits");
        // The second statement fails (duplicate key): the first one of its transaction is
        // undone.
        let failed = transaction(&db.writer, c, vec![insert("c", "3"), insert("a", "dup")]).await;
        assert!(failed.is_err());
        assert_eq!(db.rows().await, [("a".to_string(), "1".to_string()), ("b".into(), "2".into())]);
        transaction(&db.writer, c, vec![insert("d", "4")]).await.expect("the next batch commits");
        assert_eq!(db.rows().await.len(), 3);
    }

    #[tokio::test]
    async fn transactions_queued_together_commit_together_and_fail_alone() {
        let db = table_t().await;
        let c = db.committer();
        // Twenty transactions queued at once (one of them breaks the primary key, and one
        // inserts two rows, the second of which is a duplicate too).
        let mut txs: Vec<Vec<Stmt>> =
            (0..18).map(|i| vec![insert(&format!("k{i:02}"), "v")]).collect();
        txs.push(vec![insert("k03", "again")]);
        txs.push(vec![insert("x", "1"), insert("k05", "again")]);
        let results = futures::future::join_all(
            txs.into_iter().map(|stmts| transaction(&db.writer, Some(&c), stmts)),
        )
        .await;
        let failed: Vec<usize> =
            results.iter().enumerate().filter(|(_, r)| r.is_err()).map(|(i, _)| i).collect();
        assert_eq!(failed, [18, 19], "only the two duplicates fail");
        let rows = db.rows().await;
        assert_eq!(rows.len(), 18, "{rows:?}");
        assert!(rows.iter().all(|(k, v)| k.starts_with('k') && v == "v"), "{rows:?}");
    }

    #[tokio::test]
    async fn each_caller_gets_its_own_returned_rows() {
        let db = table_t().await;
        let c = db.committer();
        let upsert = |k: &str| {
            vec![
                Stmt::new("INSERT INTO t (k, v) VALUES ($1, 'new') RETURNING k, v").text(k),
                Stmt::new("UPDATE t SET v = 'kept' WHERE k = $1 RETURNING k, v").text(k),
            ]
        };
        let rows = futures::future::join_all(
            ["a", "b", "c"].iter().map(|k| returning(&db.writer, Some(&c), upsert(k))),
        )
        .await;
        for (k, rows) in ["a", "b", "c"].iter().zip(&rows) {
            let rows = rows.as_ref().expect("committed");
            assert_eq!(rows.len(), 2, "its own two rows: {rows:?}");
            // Two rows name `k` (the insert's and the update's): the last one is the answer.
            assert_eq!(returned(rows, "k", k, "v").expect("a text column"), Some("kept".into()));
        }
        let rows = rows[0].as_ref().expect("committed");
        assert_eq!(returned(rows, "k", "zz", "v").expect("no such row"), None);
        assert!(returned(rows, "k", "a", "no_such_column").is_err());
    }

    #[tokio::test]
    async fn an_sqlx_write_dropped_unfinished_is_rolled_back_before_the_next_commit() {
        let db = table_t().await;
        db.lite.never_wait();
        let c = db.committer();
        let mut tx = db.writer.begin().await.expect("a transaction");
        {
            // A slow insert (a count to two million) that its caller stops waiting for, as a
            // request whose client went away: sqlx's connection thread goes on with it.
            let slow = sqlx::query(
                "INSERT INTO t (k, v) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT 'slow', count(*) FROM c",
            )
            .execute(&mut *tx);
            tokio::pin!(slow);
            let early = tokio::time::timeout(Duration::from_millis(20), &mut slow).await;
            assert!(early.is_err(), "the insert was still running");
        }
        // Dropped, not committed: the insert ends, then the rollback runs, and only then may a
        // commit begin (it would meet the insert's lock and fail: this writer never waits).
        drop(tx);
        transaction(&db.writer, Some(&c), vec![insert("k", "v")])
            .await
            .expect("the commit never meets the dropped transaction's lock");
        assert_eq!(db.rows().await, [("k".to_string(), "v".to_string())]);
    }

    #[tokio::test]
    async fn a_commit_waits_for_an_sqlx_write_in_progress() {
        let db = table_t().await;
        let c = db.committer();
        let mut tx = db.writer.begin().await.expect("a transaction");
        sqlx::query("INSERT INTO t (k, v) VALUES ('sqlx', '1')")
            .execute(&mut *tx)
            .await
            .expect("an insert");
        // The commit cannot start while sqlx's transaction holds the writer: it would block
        // this thread on SQLite's lock, and sqlx's transaction could never end.
        let commit = transaction(&db.writer, Some(&c), vec![insert("lite", "2")]);
        tokio::pin!(commit);
        let early = tokio::time::timeout(Duration::from_millis(50), &mut commit).await;
        assert!(early.is_err(), "the commit waited");
        tx.commit().await.expect("sqlx's transaction commits");
        tokio::time::timeout(Duration::from_secs(5), commit)
            .await
            .expect("the commit goes on")
            .expect("and succeeds");
        assert_eq!(db.rows().await.len(), 2);
    }
}
