//! Statements that make up one write transaction, run either with bound parameters (one round
//! trip each) or, on SQLite, as one batch: sqlx hands every SQLite statement to the
//! connection's thread and back, and a transaction of seven statements held the one writer
//! connection across seven such hand-offs. A batch is `BEGIN; ...; COMMIT` sent in one call,
//! with the arguments written as SQL literals by [`Arg::literal`] (text quoted with `'` doubled,
//! the whole escaping SQLite's string literals need; integers; NULL). Transactions queued at the
//! same time share one batch and one commit ([`Committer`]).

use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use tokio::sync::{mpsc, oneshot};

use super::DbResult;

/// An argument of a [`Stmt`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    Null,
}

impl Arg {
    /// The argument as an SQLite literal; `None` for text holding a NUL character (which a
    /// literal cannot carry; such a batch falls back to bound parameters).
    fn literal(&self) -> Option<String> {
        match self {
            Arg::Text(s) if s.contains('\0') => None,
            Arg::Text(s) => Some(format!("'{}'", s.replace('\'', "''"))),
            Arg::Int(n) => Some(n.to_string()),
            Arg::Null => Some("NULL".into()),
        }
    }
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

    /// The statement with every `$n` replaced by its argument's literal. Our statements hold
    /// no `$` inside quotes, so every `$` followed by digits is a placeholder.
    fn inline(&self) -> Option<String> {
        let mut out = String::with_capacity(self.sql.len() + 64);
        let mut chars = self.sql.char_indices().peekable();
        while let Some((_, c)) = chars.next() {
            if c != '$' {
                out.push(c);
                continue;
            }
            let mut digits = String::new();
            while let Some((_, d)) = chars.peek().filter(|(_, d)| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            let n: usize = digits.parse().ok()?;
            out.push_str(&self.args.get(n.checked_sub(1)?)?.literal()?);
        }
        Some(out)
    }
}

/// SQLite's group commit: write transactions queue here and one task sends whatever is queued
/// to the writer connection as a single `BEGIN; ...; COMMIT` batch. With one writer, each
/// transaction used to wait for the previous one's round trip through the async thread (the
/// result back, the connection released, the next waiter polled); now the next group is ready
/// as soon as the writer is free, and a burst of runs shares its commits.
#[derive(Clone)]
pub(crate) struct Committer {
    queue: mpsc::UnboundedSender<Queued>,
}

/// The rows `RETURNING` clauses gave in a committed group (of every transaction in it: each
/// caller picks its own by their keys).
pub(crate) type Returned = Arc<Vec<AnyRow>>;

/// The text of `column` in the returned row whose `key` column is `value` (the last such row);
/// rows without a `key` column (other statements', other transactions') are skipped.
pub(crate) fn returned(
    rows: &Returned,
    key: &str,
    value: &str,
    column: &str,
) -> Result<Option<String>, sqlx::Error> {
    use sqlx::Row;
    match rows.iter().rev().find(|r| r.try_get::<String, _>(key).is_ok_and(|k| k == value)) {
        Some(row) => Ok(Some(row.try_get(column)?)),
        None => Ok(None),
    }
}

/// A transaction's statements, as literals, and who waits for its commit.
struct Queued {
    body: String,
    done: oneshot::Sender<Result<Returned, sqlx::Error>>,
}

/// A group stops growing at this many transactions or this much SQL (bounds on one batch's
/// wait and on the memory that parsing it takes).
const MAX_GROUP: usize = 64;
const MAX_GROUP_BYTES: usize = 64 * 1024;

impl Committer {
    /// Starts the task that commits on `writer` (it ends when the last `Committer` is dropped).
    pub(crate) fn start(writer: sqlx::AnyPool) -> Committer {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(commit_groups(writer, rx));
        Committer { queue }
    }

    /// Commits `body` (statements ending in `;`), alone or with others: resolves once it is
    /// committed or rolled back. The work goes on in the task whether or not the caller waits.
    async fn commit(&self, body: String) -> Result<Returned, sqlx::Error> {
        let (done, rx) = oneshot::channel();
        self.queue.send(Queued { body, done }).map_err(|_| sqlx::Error::PoolClosed)?;
        rx.await.unwrap_or(Err(sqlx::Error::PoolClosed))
    }
}

async fn commit_groups(writer: sqlx::AnyPool, mut rx: mpsc::UnboundedReceiver<Queued>) {
    let mut next = None;
    let mut group = Vec::with_capacity(MAX_GROUP);
    loop {
        let Some(first) = next.take().or(rx.recv().await) else { return };
        let mut bytes = first.body.len();
        group.push(first);
        while group.len() < MAX_GROUP
            && bytes < MAX_GROUP_BYTES
            && let Ok(q) = rx.try_recv()
        {
            if bytes + q.body.len() > MAX_GROUP_BYTES {
                next = Some(q);
                break;
            }
            bytes += q.body.len();
            group.push(q);
        }
        // A group that fails (one of its transactions broke a constraint, say) is rolled back
        // whole, and each transaction is tried again alone: each gets its own outcome.
        if group.len() > 1
            && let Ok(rows) = run_batch(&writer, group.iter().map(|q| q.body.as_str())).await
        {
            let rows = Arc::new(rows);
            for q in group.drain(..) {
                let _ = q.done.send(Ok(Arc::clone(&rows)));
            }
            continue;
        }
        for q in group.drain(..) {
            let result = run_batch(&writer, std::iter::once(q.body.as_str())).await;
            let _ = q.done.send(result.map(Arc::new));
        }
    }
}

/// Runs the bodies in one transaction and returns the rows their statements gave; nothing of it
/// stays when one statement fails.
async fn run_batch<'a>(
    writer: &sqlx::AnyPool,
    bodies: impl Iterator<Item = &'a str>,
) -> Result<Vec<AnyRow>, sqlx::Error> {
    use futures::TryStreamExt;
    use sqlx::Executor;
    let mut sql = String::from("BEGIN;\n");
    for b in bodies {
        sql.push_str(b);
    }
    sql.push_str("COMMIT;");
    let mut conn = writer.acquire().await?;
    let result: Result<Vec<AnyRow>, sqlx::Error> = (&mut *conn)
        .fetch_many(sql.as_str())
        .try_filter_map(|step| async move { Ok(step.right()) })
        .try_collect()
        .await;
    if result.is_err() {
        let _ = execute_raw(&mut conn, "ROLLBACK").await;
    }
    result
}

/// Runs `stmts` as one transaction: on SQLite (`committer`) as one batch, sharing its commit
/// with others queued at the time; else (or when an argument cannot be a literal) statement by
/// statement in a transaction on `writer`. (Boxed: the future is checked to be `Send` here,
/// once, with its own lifetimes, which callers' futures need.)
pub(crate) fn transaction<'a>(
    writer: &'a sqlx::AnyPool,
    committer: Option<&'a Committer>,
    stmts: &'a [Stmt],
) -> BoxFuture<'a, DbResult<()>> {
    Box::pin(async move { returning(writer, committer, stmts).await.map(drop) })
}

/// [`transaction`], returning the rows its statements' `RETURNING` clauses gave (on SQLite,
/// together with those of the other transactions that shared its commit).
pub(crate) fn returning<'a>(
    writer: &'a sqlx::AnyPool,
    committer: Option<&'a Committer>,
    stmts: &'a [Stmt],
) -> BoxFuture<'a, DbResult<Returned>> {
    Box::pin(async move {
        if stmts.is_empty() {
            return Ok(Returned::default());
        }
        if let Some(c) = committer
            && let Some(body) = batch_body(stmts)
        {
            return Ok(c.commit(body).await?);
        }
        let mut tx = writer.begin().await?;
        let mut rows = Vec::new();
        for s in stmts {
            rows.extend(s.query().fetch_all(&mut *tx).await?);
        }
        tx.commit().await?;
        Ok(Arc::new(rows))
    })
}

/// Runs every statement of `sql` (no parameters) on `conn`.
fn execute_raw<'c>(
    conn: &'c mut sqlx::AnyConnection,
    sql: &'c str,
) -> BoxFuture<'c, Result<sqlx::any::AnyQueryResult, sqlx::Error>> {
    use sqlx::Executor;
    conn.execute(sql)
}

/// The statements with their arguments as literals, each ending in `;`.
fn batch_body(stmts: &[Stmt]) -> Option<String> {
    let mut sql = String::new();
    for s in stmts {
        sql.push_str(&s.inline()?);
        sql.push_str(";\n");
    }
    Some(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_quoted_literals() {
        let s = Stmt::new("UPDATE t SET a = $1, b = $2, c = $3 WHERE id = $10 OR id = $1")
            .text("it's")
            .opt(None::<String>)
            .int(-4)
            .text("x")
            .text("x")
            .text("x")
            .text("x")
            .text("x")
            .text("x")
            .text("tenth ' ''");
        assert_eq!(
            s.inline().as_deref(),
            Some(
                "UPDATE t SET a = 'it''s', b = NULL, c = -4 WHERE id = 'tenth '' ''''' OR id = 'it''s'"
            )
        );
        assert_eq!(Stmt::new("SELECT $2").text("a").inline(), None, "a missing argument");
        assert_eq!(Stmt::new("SELECT $1").text("nul\0").inline(), None, "NUL falls back");
        let batch = batch_body(&[Stmt::new("DELETE FROM t WHERE a = $1").text("v")]);
        assert_eq!(batch.as_deref(), Some("DELETE FROM t WHERE a = 'v';\n"));
    }

    /// An in-memory SQLite database of one connection with a table `t (k PRIMARY KEY, v)`.
    async fn table_t() -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("an in-memory database");
        sqlx::raw_sql("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
            .execute(&pool)
            .await
            .expect("table");
        pool
    }

    #[tokio::test]
    async fn a_batch_is_one_transaction_on_sqlite() {
        let pool = table_t().await;
        let insert =
            |k: &str, v: &str| Stmt::new("INSERT INTO t (k, v) VALUES ($1, $2)").text(k).text(v);
        let c = Committer::start(pool.clone());
        let c = Some(&c);
        transaction(&pool, c, &[insert("a", "o'neil; DROP TABLE t; --"), insert("b", "2")])
            .await
            .expect("the batch commits");
        // The second statement fails (duplicate key): the first one of its batch is undone.
        let failed = transaction(&pool, c, &[insert("c", "3"), insert("a", "dup")]).await;
        assert!(failed.is_err());
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT k, v FROM t ORDER BY k").fetch_all(&pool).await.expect("rows");
        assert_eq!(
            rows,
            [("a".to_string(), "o'neil; DROP TABLE t; --".to_string()), ("b".into(), "2".into())]
        );
        // The connection is usable again after the rollback.
        transaction(&pool, c, &[insert("d", "4")]).await.expect("the next batch commits");
    }

    #[tokio::test]
    async fn transactions_queued_together_commit_together_and_fail_alone() {
        let pool = table_t().await;
        let c = Committer::start(pool.clone());
        let insert = |k: &str, v: &str| {
            vec![Stmt::new("INSERT INTO t (k, v) VALUES ($1, $2)").text(k).text(v)]
        };
        // Twenty transactions queued at once (one of them breaks the primary key, and one
        // inserts two rows, the second of which is a duplicate too).
        let mut txs: Vec<Vec<Stmt>> = (0..18).map(|i| insert(&format!("k{i:02}"), "v")).collect();
        txs.push(insert("k03", "again"));
        txs.push([insert("x", "1"), insert("k05", "again")].concat());
        let results =
            futures::future::join_all(txs.iter().map(|stmts| transaction(&pool, Some(&c), stmts)))
                .await;
        let failed: Vec<usize> =
            results.iter().enumerate().filter(|(_, r)| r.is_err()).map(|(i, _)| i).collect();
        assert_eq!(failed, [18, 19], "only the two duplicates fail");
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT k, v FROM t ORDER BY k").fetch_all(&pool).await.expect("rows");
        assert_eq!(rows.len(), 18, "{rows:?}");
        assert!(rows.iter().all(|(k, v)| k.starts_with('k') && v == "v"), "{rows:?}");
    }

    #[tokio::test]
    async fn each_caller_finds_its_own_returned_row_in_a_shared_commit() {
        let pool = table_t().await;
        let c = Committer::start(pool.clone());
        let upsert = |k: &str| {
            vec![
                Stmt::new("INSERT INTO t (k, v) VALUES ($1, 'new') RETURNING k, v").text(k),
                Stmt::new("UPDATE t SET v = 'kept' WHERE k = $1 RETURNING k, v").text(k),
            ]
        };
        let txs: Vec<Vec<Stmt>> = ["a", "b", "c"].iter().map(|k| upsert(k)).collect();
        let rows =
            futures::future::join_all(txs.iter().map(|stmts| returning(&pool, Some(&c), stmts)))
                .await;
        for (k, rows) in ["a", "b", "c"].iter().zip(&rows) {
            let rows = rows.as_ref().expect("committed");
            // Two rows name `k` (the insert's and the update's): the last one is the answer.
            assert_eq!(returned(rows, "k", k, "v").expect("a text column"), Some("kept".into()));
        }
        let rows = rows[0].as_ref().expect("committed");
        assert_eq!(returned(rows, "k", "zz", "v").expect("no such row"), None);
        assert!(returned(rows, "k", "a", "no_such_column").is_err());
    }
}
