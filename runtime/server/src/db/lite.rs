//! SQLite's hot path: the statements every run makes (its thread read twice, its latest
//! checkpoint read, its two write transactions) run on the calling thread through rusqlite,
//! on connections of this module's own.
//!
//! sqlx gives every SQLite connection a thread of its own and hands each statement to it and
//! back; under load, those hand-offs (a wake-up of the other thread, then of the caller's) were
//! a third of the server's time (`perf`: the scheduler's `finish_task_switch` and spin-lock
//! releases), more than the statements themselves. A read of one row by its key, or the commit
//! of a group of transactions to the write-ahead log (`synchronous = NORMAL`: no `fsync` at
//! commit), takes tens of microseconds, less than a hand-off.
//!
//! Architecture Invariant: a commit here runs in the writer's turn (`batch::Writer`), which
//! sqlx's writes take too, so the file has one writer at a time, as before, and a commit never
//! waits on this thread for SQLite's lock. Readers never block the writer (WAL).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};

use super::batch::{Arg, RetRow, Stmt};

/// Cached prepared statements a connection keeps (the run path uses about a dozen).
const STATEMENT_CACHE: usize = 64;

/// The connections of the hot path to one SQLite file.
pub(crate) struct Lite {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Readers kept open for reuse (more are opened when more threads read at once, and
    /// closed after).
    kept_readers: usize,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Opens a connection with the settings of the server's others (see `db::pool_options`).
fn open(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -256;")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

impl Lite {
    /// Opens the hot path's connections to the database file at `path` (which the server's
    /// migrations have set up, in WAL mode), keeping up to `readers` reader connections.
    pub(crate) fn open(path: &Path, readers: usize) -> rusqlite::Result<Lite> {
        Ok(Lite {
            path: path.to_path_buf(),
            writer: Mutex::new(open(path)?),
            readers: Mutex::new(Vec::new()),
            kept_readers: readers,
        })
    }

    /// Makes the writer fail at once where it would wait for SQLite's lock (tests: a commit
    /// that meets another connection's lock shows as an error).
    #[cfg(test)]
    pub(crate) fn never_wait(&self) {
        let _ = locked(&self.writer).busy_timeout(Duration::ZERO);
    }

    /// Runs `f` on a reader connection (of its own while it runs).
    fn read<T, E: From<rusqlite::Error>>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        let kept = locked(&self.readers).pop();
        let conn = match kept {
            Some(c) => c,
            None => open(&self.path)?,
        };
        let result = f(&conn);
        let mut readers = locked(&self.readers);
        if readers.len() < self.kept_readers {
            readers.push(conn);
        }
        result
    }

    /// Runs the read `s`, calling `each` with every row.
    pub(crate) fn query<E: From<rusqlite::Error>>(
        &self,
        s: &Stmt,
        mut each: impl FnMut(&rusqlite::Row<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.read(|conn| {
            let mut st = conn.prepare_cached(s.sql())?;
            bind(&mut st, s.args())?;
            let mut rows = st.raw_query();
            while let Some(row) = rows.next()? {
                each(row)?;
            }
            Ok(())
        })
    }

    /// Commits `group` (each item a transaction's statements) in one SQLite transaction, each
    /// item inside a savepoint of its own: an item whose statement fails is undone alone and
    /// gets its error; the others commit. Returns each item's `RETURNING` rows.
    pub(crate) fn commit_group(&self, group: &[&[Stmt]]) -> Vec<rusqlite::Result<Vec<RetRow>>> {
        let conn = locked(&self.writer);
        let mut results: Vec<Option<rusqlite::Result<Vec<RetRow>>>> =
            group.iter().map(|_| None).collect();
        // Each pass decides at least one item (an error that ends the whole transaction is
        // its item's, and the pass starts again without it), so this ends.
        for _ in 0..=group.len() {
            let todo: Vec<usize> = (0..group.len()).filter(|i| results[*i].is_none()).collect();
            if todo.is_empty() {
                break;
            }
            if !conn.is_autocommit() {
                // A transaction a failure left open (a failed rollback): it goes, uncommitted.
                let _ = conn.execute_batch("ROLLBACK");
            }
            if let Err(e) = exec(&conn, "BEGIN IMMEDIATE") {
                for i in todo {
                    results[i] = Some(Err(copy_error(&e)));
                }
                break;
            }
            let mut done = Vec::new();
            let mut restart = false;
            for &i in &todo {
                match in_savepoint(&conn, group[i]) {
                    Ok(rows) => done.push((i, rows)),
                    Err(e) => {
                        let lost = conn.is_autocommit();
                        results[i] = Some(Err(e));
                        if lost {
                            // SQLite rolled the whole transaction back (an I/O error, say):
                            // the items done so far go again in the next pass.
                            restart = true;
                            break;
                        }
                    }
                }
            }
            if restart {
                continue;
            }
            match exec(&conn, "COMMIT") {
                Ok(()) => {
                    for (i, rows) in done {
                        results[i] = Some(Ok(rows));
                    }
                }
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    for (i, _) in done {
                        results[i] = Some(Err(copy_error(&e)));
                    }
                }
            }
            break;
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
                        Some("the transaction was not run".into()),
                    ))
                })
            })
            .collect()
    }
}

/// Runs a statement of no parameters and no rows (prepared once per connection).
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.raw_execute().map(drop)
}

/// One item of a group: its statements inside a savepoint, undone when one fails.
fn in_savepoint(conn: &Connection, stmts: &[Stmt]) -> rusqlite::Result<Vec<RetRow>> {
    exec(conn, "SAVEPOINT item")?;
    let mut rows = Vec::new();
    let result = stmts.iter().try_for_each(|s| run(conn, s, &mut rows));
    match result.and_then(|()| exec(conn, "RELEASE item")) {
        Ok(()) => Ok(rows),
        Err(e) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK TO item; RELEASE item");
            }
            Err(e)
        }
    }
}

/// Runs one statement (prepared once per connection), adding the rows it returns to `out`.
fn run(conn: &Connection, s: &Stmt, out: &mut Vec<RetRow>) -> rusqlite::Result<()> {
    let mut st = conn.prepare_cached(s.sql())?;
    bind(&mut st, s.args())?;
    let names: Vec<String> = st.column_names().into_iter().map(String::from).collect();
    let mut rows = st.raw_query();
    while let Some(row) = rows.next()? {
        let mut cols = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            cols.push((name.clone(), text_of(row.get_ref(i)?)));
        }
        out.push(RetRow(cols));
    }
    Ok(())
}

/// Binds `$n` parameters (by their number: a statement may use `$7` before `$1`).
pub(crate) fn bind(st: &mut rusqlite::Statement<'_>, args: &[Arg]) -> rusqlite::Result<()> {
    for i in 1..=st.parameter_count() {
        let n = st
            .parameter_name(i)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(i);
        let value = match args.get(n.wrapping_sub(1)) {
            Some(Arg::Text(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Some(Arg::Int(v)) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Some(Arg::Null) => ToSqlOutput::Borrowed(ValueRef::Null),
            None => return Err(rusqlite::Error::InvalidParameterCount(n, args.len())),
        };
        st.raw_bind_parameter(i, value)?;
    }
    Ok(())
}

/// A returned value as text (integers in decimal), `None` for NULL.
fn text_of(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(x) => Some(x.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    }
}

/// The same failure again, for the other callers of a group that one error ended.
fn copy_error(e: &rusqlite::Error) -> rusqlite::Error {
    let code = match e {
        rusqlite::Error::SqliteFailure(f, _) => f.extended_code,
        _ => rusqlite::ffi::SQLITE_ERROR,
    };
    rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(e.to_string()))
}
