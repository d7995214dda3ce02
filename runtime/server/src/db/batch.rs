//! Statements that make up one write transaction, run either with bound parameters (one round
//! trip each) or, on SQLite, as one batch: sqlx hands every SQLite statement to the
//! connection's thread and back, and a transaction of seven statements held the one writer
//! connection across seven such hand-offs. A batch is `BEGIN; ...; COMMIT` sent in one call,
//! with the arguments written as SQL literals by [`Arg::literal`] (text quoted with `'` doubled,
//! the whole escaping SQLite's string literals need; integers; NULL).

use futures::future::BoxFuture;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

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

/// Runs `stmts` as one transaction on `writer`: on SQLite as one batch, else (or when an
/// argument cannot be a literal) statement by statement in a transaction. (Boxed: the future is
/// checked to be `Send` here, once, with its own lifetimes, which callers' futures need.)
pub(crate) fn transaction<'a>(
    writer: &'a sqlx::AnyPool,
    sqlite: bool,
    stmts: &'a [Stmt],
) -> BoxFuture<'a, DbResult<()>> {
    Box::pin(async move {
        if stmts.is_empty() {
            return Ok(());
        }
        let batch = if sqlite { batch_sql(stmts) } else { None };
        match batch {
            Some(sql) => {
                let mut conn = writer.acquire().await?;
                if let Err(e) = execute_raw(&mut conn, &sql).await {
                    // A statement failed inside the batch: nothing of it stays.
                    let _ = execute_raw(&mut conn, "ROLLBACK").await;
                    return Err(e.into());
                }
                Ok(())
            }
            None => {
                let mut tx = writer.begin().await?;
                for s in stmts {
                    s.query().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
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

fn batch_sql(stmts: &[Stmt]) -> Option<String> {
    let mut sql = String::from("BEGIN;\n");
    for s in stmts {
        sql.push_str(&s.inline()?);
        sql.push_str(";\n");
    }
    sql.push_str("COMMIT;");
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
        let batch = batch_sql(&[Stmt::new("DELETE FROM t WHERE a = $1").text("v")]);
        assert_eq!(batch.as_deref(), Some("BEGIN;\nDELETE FROM t WHERE a = 'v';\nCOMMIT;"));
    }

    #[tokio::test]
    async fn a_batch_is_one_transaction_on_sqlite() {
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
        let insert =
            |k: &str, v: &str| Stmt::new("INSERT INTO t (k, v) VALUES ($1, $2)").text(k).text(v);
        transaction(&pool, true, &[insert("a", "o'neil; DROP TABLE t; --"), insert("b", "2")])
            .await
            .expect("the batch commits");
        // The second statement fails (duplicate key): the first one of its batch is undone.
        let failed = transaction(&pool, true, &[insert("c", "3"), insert("a", "dup")]).await;
        assert!(failed.is_err());
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT k, v FROM t ORDER BY k").fetch_all(&pool).await.expect("rows");
        assert_eq!(
            rows,
            [("a".to_string(), "o'neil; DROP TABLE t; --".to_string()), ("b".into(), "2".into())]
        );
        // The connection is usable again after the rollback.
        transaction(&pool, true, &[insert("d", "4")]).await.expect("the next batch commits");
    }
}
