//! Thread search (`POST /threads/search` and `/threads/count`) in SQL: the filters become a
//! WHERE clause, the sort an ORDER BY (the thread id breaking ties), the page LIMIT/OFFSET, so a
//! page reads its rows and no others (`threads_by_updated` serves the default order).
//!
//! A metadata or values filter is top-level key → equal value, equal as `serde_json::Value`s
//! are: `1` is not `1.0`, `null` needs the key present with a null value. Both databases hold
//! the JSON as text; keys and values are always bound parameters.
//! - SQLite: `json_each` over the object (no JSON path: a path cannot spell every key), the
//!   member's `type` (`integer`/`real`/`text`/`true`/`false`/`null`...) and its `atom` (the
//!   unescaped string, the integer).
//! - PostgreSQL: the member's text as the `json` type keeps it (`col::json -> key`, verbatim),
//!   compared with the value serialized the way every stored row was (`serde_json`), which is
//!   equal for equal strings, integers, booleans and nulls (and `0.0`/`-0.0` for a zero).
//!
//! An object or array value is matched in SQL only by the member's type, an integer beyond
//! `i64` on SQLite by its type, and a non-zero float by a narrow range around it (`serde_json`
//! does not always read a double's shortest text back to the same double, so the stored value
//! `matches` compares may be a unit off the one written): the request then reads every row that
//! passes the SQL (in order) and finishes filtering and paging in memory with
//! [`ThreadFilter::matches`].

use orrery_api::Thread;
use serde_json::{Map, Value};
use sqlx::Row;

use super::{Backend, Db, DbResult};

/// What a thread search keeps: every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct ThreadFilter {
    /// Only these thread ids (`None`: any; empty: none).
    pub ids: Option<Vec<String>>,
    /// Only threads of this status.
    pub status: Option<String>,
    /// Keys the metadata must have, each with an equal value.
    pub metadata: Map<String, Value>,
    /// Keys the values must have (then they must be an object), each with an equal value.
    pub values: Map<String, Value>,
}

/// Whether `haystack` has every key of `needle` with an equal value.
fn contains(haystack: &Map<String, Value>, needle: &Map<String, Value>) -> bool {
    needle.iter().all(|(k, v)| haystack.get(k) == Some(v))
}

impl ThreadFilter {
    /// Whether a thread passes the filter: the definition the SQL implements.
    pub fn matches(&self, t: &Thread) -> bool {
        self.ids.as_ref().is_none_or(|ids| ids.contains(&t.thread_id))
            && self.status.as_deref().is_none_or(|s| t.status.as_str() == s)
            && contains(&t.metadata, &self.metadata)
            && (self.values.is_empty()
                || t.values
                    .as_ref()
                    .and_then(Value::as_object)
                    .is_some_and(|v| contains(v, &self.values)))
    }
}

/// The column a thread search sorts by (then by thread id, in the same direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThreadOrder {
    /// `thread_id`.
    ThreadId,
    /// `status` (its name).
    Status,
    /// `created_at`.
    CreatedAt,
    /// `state_updated_at`.
    StateUpdatedAt,
    /// `updated_at`, the default.
    #[default]
    UpdatedAt,
}

impl ThreadOrder {
    fn column(self) -> &'static str {
        match self {
            ThreadOrder::ThreadId => "thread_id",
            ThreadOrder::Status => "status",
            ThreadOrder::CreatedAt => "created_at",
            ThreadOrder::StateUpdatedAt => "state_updated_at",
            ThreadOrder::UpdatedAt => "updated_at",
        }
    }
}

/// One page of a thread search.
#[derive(Debug, Clone)]
pub struct ThreadPage {
    /// At most `limit` threads, from `offset` on.
    pub threads: Vec<Thread>,
    /// Whether more threads match after these.
    pub more: bool,
    /// How many threads match: exact when there are no more, else at least `offset + limit + 1`
    /// (all the pagination headers need).
    pub total: usize,
}

/// A bound argument.
#[derive(Debug, Clone)]
enum Arg {
    Text(String),
    Int(i64),
    Float(f64),
}

/// A statement being built: `$n` placeholders numbered in order of appearance.
#[derive(Debug, Default)]
struct Sql {
    text: String,
    args: Vec<Arg>,
    /// Whether the WHERE clause is the whole filter (else a superset of it: the rows must go
    /// through [`ThreadFilter::matches`] too).
    exact: bool,
}

impl Sql {
    /// Adds an argument; returns its placeholder.
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::Text(s) => q.bind(s.as_str()),
                Arg::Int(i) => q.bind(*i),
                Arg::Float(f) => q.bind(*f),
            };
        }
        q
    }

    /// ` WHERE ...` for `f` (nothing without filters).
    fn filter(&mut self, backend: Backend, f: &ThreadFilter) {
        self.exact = true;
        let mut conds = Vec::new();
        if let Some(ids) = &f.ids {
            let list = self.arg(Arg::Text(super::text(ids)));
            conds.push(match backend {
                Backend::Sqlite => {
                    format!("threads.thread_id IN (SELECT value FROM json_each({list}))")
                }
                Backend::Postgres => {
                    format!("threads.thread_id IN (SELECT json_array_elements_text({list}::json))")
                }
            });
        }
        if let Some(status) = &f.status {
            let s = self.arg(Arg::Text(status.clone()));
            conds.push(match backend {
                Backend::Sqlite => format!("threads.status = {s}"),
                Backend::Postgres => format!("threads.status COLLATE \"C\" = {s}"),
            });
        }
        for (column, filter) in [("metadata", &f.metadata), ("\"values\"", &f.values)] {
            for (k, v) in filter {
                let cond = match backend {
                    Backend::Sqlite => self.sqlite_member(column, k, v),
                    Backend::Postgres => self.postgres_member(column, k, v),
                };
                conds.push(cond);
            }
        }
        if !conds.is_empty() {
            self.text.push_str(" WHERE ");
            self.text.push_str(&conds.join(" AND "));
        }
    }

    /// SQLite: the object in `column` has member `key` equal to `v`.
    fn sqlite_member(&mut self, column: &str, key: &str, v: &Value) -> String {
        let k = self.arg(Arg::Text(key.to_string()));
        let test = match v {
            Value::Null => "j.type = 'null'".to_string(),
            Value::Bool(true) => "j.type = 'true'".to_string(),
            Value::Bool(false) => "j.type = 'false'".to_string(),
            Value::String(s) => {
                format!("j.type = 'text' AND j.atom = {}", self.arg(Arg::Text(s.clone())))
            }
            Value::Number(n) => match (n.as_i64(), n.is_f64(), n.as_f64()) {
                (Some(i), _, _) => {
                    format!("j.type = 'integer' AND j.atom = {}", self.arg(Arg::Int(i)))
                }
                // A zero (`-0.0` too) reads back exactly.
                (None, true, Some(0.0)) => {
                    format!("j.type = 'real' AND j.atom = {}", self.arg(Arg::Float(0.0)))
                }
                (None, true, Some(x)) => {
                    let (lo, hi) = self.float_range(x);
                    format!("j.type = 'real' AND j.atom BETWEEN {lo} AND {hi}")
                }
                _ => {
                    // Beyond i64: SQLite holds it as a double.
                    self.exact = false;
                    "j.type IN ('integer', 'real')".to_string()
                }
            },
            Value::Array(_) => {
                self.exact = false;
                "j.type = 'array'".to_string()
            }
            Value::Object(_) => {
                self.exact = false;
                "j.type = 'object'".to_string()
            }
        };
        // An array's members have integer keys, which never equal a text key.
        format!(
            "EXISTS (SELECT 1 FROM json_each(threads.{column}) AS j WHERE j.key = {k} AND {test})"
        )
    }

    /// The bounds of a narrow range around a non-zero double, for the SQL half of a float
    /// comparison; the exact half is [`ThreadFilter::matches`]. A float filter compares the
    /// values `serde_json` reads from the stored text and from the request, and its reading is
    /// not always correctly rounded (nor is SQLite's): a stored `x` may read back a unit off,
    /// which SQL cannot reproduce.
    fn float_range(&mut self, x: f64) -> (String, String) {
        self.exact = false;
        let tol = x.abs() * 1e-9 + 1e-300;
        (self.arg(Arg::Float(x - tol)), self.arg(Arg::Float(x + tol)))
    }

    /// PostgreSQL: the object in `column` has member `key` equal to `v`.
    fn postgres_member(&mut self, column: &str, key: &str, v: &Value) -> String {
        // NULL when the column is not an object or lacks the key.
        let member =
            format!("(threads.{column}::json -> {}::text)", self.arg(Arg::Text(key.to_string())));
        match v {
            Value::Array(_) | Value::Object(_) => {
                self.exact = false;
                let kind = if v.is_array() { "array" } else { "object" };
                format!("json_typeof({member}) = '{kind}'")
            }
            Value::Number(n) if n.as_f64() == Some(0.0) && n.is_f64() => {
                let a = self.arg(Arg::Text("0.0".into()));
                let b = self.arg(Arg::Text("-0.0".into()));
                format!("{member}::text IN ({a}, {b})")
            }
            Value::Number(n) if n.is_f64() => {
                let (lo, hi) = self.float_range(n.as_f64().unwrap_or_default());
                // CASE: the cast only once the member is known to be a number.
                format!(
                    "CASE WHEN json_typeof({member}) = 'number' THEN ({member}::text)::float8 BETWEEN {lo} AND {hi} ELSE false END"
                )
            }
            _ => format!("{member}::text = {}", self.arg(Arg::Text(super::text(v)))),
        }
    }

    /// ` ORDER BY ...`: the column, then the thread id, in one direction, byte order.
    fn order(&mut self, backend: Backend, order: ThreadOrder, asc: bool) {
        let dir = if asc { "ASC" } else { "DESC" };
        let collate = if backend == Backend::Postgres { " COLLATE \"C\"" } else { "" };
        let mut keys = vec![order.column()];
        if order != ThreadOrder::ThreadId {
            keys.push("thread_id");
        }
        let keys: Vec<String> =
            keys.iter().map(|c| format!("threads.{c}{collate} {dir}")).collect();
        self.text.push_str(" ORDER BY ");
        self.text.push_str(&keys.join(", "));
    }
}

fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Db {
    /// A page of the threads `f` keeps, sorted by `order` then thread id (descending unless
    /// `asc`), `limit` of them from `offset` on. Rows as stored (a running run's buffered
    /// checkpoints do not change its thread's row).
    pub async fn search_threads(
        &self,
        f: &ThreadFilter,
        order: ThreadOrder,
        asc: bool,
        limit: usize,
        offset: usize,
    ) -> DbResult<ThreadPage> {
        let mut sql = Sql { text: "SELECT * FROM threads".into(), ..Sql::default() };
        sql.filter(self.backend, f);
        sql.order(self.backend, order, asc);
        if !sql.exact {
            let rows = sql.query().fetch_all(&self.pool).await?;
            let mut all = Vec::new();
            for row in &rows {
                let t = Self::thread(row)?;
                if f.matches(&t) {
                    all.push(t);
                }
            }
            let total = all.len();
            let end = offset.saturating_add(limit).min(total);
            let threads =
                if offset < total { all.drain(offset..end).collect() } else { Vec::new() };
            return Ok(ThreadPage { threads, more: end < total, total });
        }
        // One row past the page says whether another follows.
        let l = sql.arg(Arg::Int(as_i64(limit.saturating_add(1))));
        let o = sql.arg(Arg::Int(as_i64(offset)));
        sql.text.push_str(&format!(" LIMIT {l} OFFSET {o}"));
        let rows = sql.query().fetch_all(&self.pool).await?;
        let more = rows.len() > limit;
        let threads =
            rows.iter().take(limit).map(|r| Self::thread(r)).collect::<DbResult<Vec<Thread>>>()?;
        let total = if more {
            offset.saturating_add(limit).saturating_add(1)
        } else if threads.is_empty() && offset > 0 {
            // Past the end: how far the end is.
            self.count_threads(f).await?
        } else {
            offset + threads.len()
        };
        Ok(ThreadPage { threads, more, total })
    }

    /// How many threads `f` keeps.
    pub async fn count_threads(&self, f: &ThreadFilter) -> DbResult<usize> {
        let mut sql = Sql::default();
        sql.filter(self.backend, f);
        if !sql.exact {
            let text = format!("SELECT * FROM threads{}", sql.text);
            sql.text = text;
            let rows = sql.query().fetch_all(&self.pool).await?;
            let mut n = 0;
            for row in &rows {
                n += usize::from(f.matches(&Self::thread(row)?));
            }
            return Ok(n);
        }
        sql.text = format!("SELECT COUNT(*) AS n FROM threads{}", sql.text);
        let n: i64 = sql.query().fetch_one(&self.pool).await?.try_get("n")?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}
