//! Checkpoint write-behind: a run's checkpoints and task writes wait in memory and reach the
//! database in batches, as LangGraph's `durability` modes say:
//! - `sync`: every write before the run goes on (no buffer);
//! - `async` (the server's default): in the background, a few milliseconds after the first
//!   unsaved one, and whatever is left in the transaction that records the run's end;
//! - `exit`: only at the end, and only the last checkpoint of each namespace (with its writes).
//!
//! Readers in this process see buffered data as if it were stored (the saver consults the buffer
//! first), so only other processes sharing a PostgreSQL database see the delay. The data
//! structures live here; the SQL that flushes them is in the parent module.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// How a run's checkpoints reach the database (a run's `durability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Each write before the run goes on.
    Sync,
    /// Batched in the background; the rest when the run ends.
    Async,
    /// Only the final checkpoint of each namespace, when the run ends.
    Exit,
}

impl Durability {
    /// A run's durability from its `durability` and the deprecated `checkpoint_during`
    /// (`false` means `exit` when `durability` is absent).
    pub fn of_run(durability: Option<&str>, checkpoint_during: Option<bool>) -> Durability {
        match durability {
            Some("sync") => Durability::Sync,
            Some("exit") => Durability::Exit,
            Some(_) => Durability::Async,
            None if checkpoint_during == Some(false) => Durability::Exit,
            None => Durability::Async,
        }
    }
}

/// A checkpoint waiting to be stored (already serialized).
#[derive(Debug, Clone)]
pub(crate) struct PutOp {
    pub ns: String,
    pub id: String,
    pub parent: Option<String>,
    pub run_id: Option<String>,
    pub checkpoint: String,
    pub metadata: String,
}

/// One task write waiting to be stored.
#[derive(Debug, Clone)]
pub(crate) struct WriteRow {
    pub ns: String,
    pub checkpoint_id: String,
    pub task_id: String,
    pub task_path: String,
    pub idx: i64,
    pub channel: String,
    pub value: String,
    /// Special channels (errors, interrupts, resume values) replace an earlier write at their
    /// index; regular writes keep the first.
    pub special: bool,
}

/// A buffered write of either kind, in the order the engine made them.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Put(PutOp),
    Writes(Vec<WriteRow>),
}

#[derive(Default)]
struct Queue {
    /// Not yet committed, oldest first. A flush copies a prefix, stores it, then drains it.
    ops: Vec<Arc<Op>>,
    /// Set when the run ended: later writes go straight to the database.
    closed: bool,
}

/// The buffer of one thread's running run.
pub(crate) struct ThreadBuffer {
    pub durability: Durability,
    queue: Mutex<Queue>,
    /// Held while a batch is being stored, so batches land in order and the run's end waits for
    /// the one in flight.
    pub flushing: Arc<tokio::sync::Mutex<()>>,
    /// A background flush is scheduled.
    pub scheduled: AtomicBool,
}

impl ThreadBuffer {
    fn new(durability: Durability) -> ThreadBuffer {
        ThreadBuffer {
            durability,
            queue: Mutex::new(Queue::default()),
            flushing: Arc::new(tokio::sync::Mutex::new(())),
            scheduled: AtomicBool::new(false),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `op`; `Err(op)` when the buffer is closed (the caller stores it itself).
    pub fn push(&self, op: Arc<Op>) -> Result<(), Arc<Op>> {
        let mut q = self.queue();
        if q.closed {
            return Err(op);
        }
        q.ops.push(op);
        Ok(())
    }

    /// Everything not yet committed, oldest first.
    pub fn snapshot(&self) -> Vec<Arc<Op>> {
        self.queue().ops.clone()
    }

    /// Forgets the first `n` operations (they were committed).
    pub fn drain(&self, n: usize) {
        let mut q = self.queue();
        let n = n.min(q.ops.len());
        q.ops.drain(..n);
    }

    /// Closes the buffer and returns what it still holds.
    pub fn close(&self) -> Vec<Arc<Op>> {
        let mut q = self.queue();
        q.closed = true;
        std::mem::take(&mut q.ops)
    }

    /// Marks a background flush as scheduled; false when one already is.
    pub fn schedule(&self) -> bool {
        !self.scheduled.swap(true, Ordering::AcqRel)
    }
}

/// The buffers of the threads whose runs are executing in this process.
#[derive(Default)]
pub(crate) struct Buffers {
    map: Mutex<HashMap<String, Arc<ThreadBuffer>>>,
}

impl Buffers {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<ThreadBuffer>>> {
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The buffer of `thread_id`, if a run there buffers its writes.
    pub fn get(&self, thread_id: &str) -> Option<Arc<ThreadBuffer>> {
        self.map().get(thread_id).cloned()
    }

    /// Starts buffering `thread_id`'s writes; returns the buffer it replaced (whose content
    /// the caller must store first).
    pub fn open(&self, thread_id: &str, durability: Durability) -> Option<Arc<ThreadBuffer>> {
        self.map().insert(thread_id.to_string(), Arc::new(ThreadBuffer::new(durability)))
    }

    /// Stops buffering `thread_id` if `buf` is still its buffer.
    pub fn remove(&self, thread_id: &str, buf: &Arc<ThreadBuffer>) {
        let mut map = self.map();
        if map.get(thread_id).is_some_and(|b| Arc::ptr_eq(b, buf)) {
            map.remove(thread_id);
        }
    }
}

/// What an `exit` run leaves: per namespace only its last checkpoint, whose parent becomes the
/// checkpoint the run started from (the first buffered one's parent), and only the writes made
/// against a kept checkpoint. Other modes keep everything.
pub(crate) fn compact(durability: Durability, ops: Vec<Arc<Op>>) -> Vec<Arc<Op>> {
    if durability != Durability::Exit {
        return ops;
    }
    // Per namespace: the first parent and the last checkpoint.
    let mut first_parent: HashMap<&str, Option<&str>> = HashMap::new();
    let mut last: HashMap<&str, &str> = HashMap::new();
    for op in &ops {
        if let Op::Put(p) = op.as_ref() {
            first_parent.entry(&p.ns).or_insert(p.parent.as_deref());
            last.insert(&p.ns, &p.id);
        }
    }
    let mut out = Vec::new();
    for op in &ops {
        match op.as_ref() {
            Op::Put(p) if last.get(p.ns.as_str()) == Some(&p.id.as_str()) => {
                out.push(Arc::new(Op::Put(PutOp {
                    ns: p.ns.clone(),
                    id: p.id.clone(),
                    parent: first_parent.get(p.ns.as_str()).copied().flatten().map(str::to_string),
                    run_id: p.run_id.clone(),
                    checkpoint: p.checkpoint.clone(),
                    metadata: p.metadata.clone(),
                })));
            }
            Op::Put(_) => {}
            Op::Writes(rows) => {
                let kept: Vec<WriteRow> = rows
                    .iter()
                    .filter(|r| {
                        last.get(r.ns.as_str()) == Some(&r.checkpoint_id.as_str())
                            || !last.contains_key(r.ns.as_str())
                    })
                    .cloned()
                    .collect();
                if !kept.is_empty() {
                    out.push(Arc::new(Op::Writes(kept)));
                }
            }
        }
    }
    out
}

/// The buffered writes against one checkpoint merged into the stored ones (`stored` as
/// `(task_path, task_id, idx, channel, value)`), as the database would hold them after a flush:
/// a special write replaces, a regular one keeps the first; ordered by task path, task, index.
pub(crate) fn merge_writes(
    mut stored: Vec<(String, String, i64, String, String)>,
    ops: &[Arc<Op>],
    ns: &str,
    checkpoint_id: &str,
) -> Vec<(String, String, i64, String, String)> {
    for op in ops {
        let Op::Writes(rows) = op.as_ref() else { continue };
        for r in rows.iter().filter(|r| r.ns == ns && r.checkpoint_id == checkpoint_id) {
            let at = stored.iter().position(|s| s.1 == r.task_id && s.2 == r.idx);
            let row =
                (r.task_path.clone(), r.task_id.clone(), r.idx, r.channel.clone(), r.value.clone());
            match at {
                Some(i) if r.special => stored[i] = row,
                Some(_) => {}
                None => stored.push(row),
            }
        }
    }
    stored.sort_by(|a, b| (&a.0, &a.1, a.2).cmp(&(&b.0, &b.1, b.2)));
    stored
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(ns: &str, id: &str, parent: Option<&str>) -> Arc<Op> {
        Arc::new(Op::Put(PutOp {
            ns: ns.into(),
            id: id.into(),
            parent: parent.map(str::to_string),
            run_id: None,
            checkpoint: "{}".into(),
            metadata: "{}".into(),
        }))
    }

    fn write(ns: &str, cp: &str, task: &str, idx: i64, value: &str, special: bool) -> WriteRow {
        WriteRow {
            ns: ns.into(),
            checkpoint_id: cp.into(),
            task_id: task.into(),
            task_path: format!("p-{task}"),
            idx,
            channel: "c".into(),
            value: value.into(),
            special,
        }
    }

    #[test]
    fn exit_keeps_the_last_checkpoint_with_the_first_parent_and_its_writes() {
        let ops = vec![
            put("", "1", Some("0")),
            Arc::new(Op::Writes(vec![write("", "1", "t", 0, "a", false)])),
            put("", "2", Some("1")),
            Arc::new(Op::Writes(vec![write("", "2", "t", 0, "b", false)])),
        ];
        let out = compact(Durability::Exit, ops);
        assert_eq!(out.len(), 2);
        match out[0].as_ref() {
            Op::Put(p) => assert_eq!((p.id.as_str(), p.parent.as_deref()), ("2", Some("0"))),
            Op::Writes(_) => panic!("expected the checkpoint first"),
        }
        match out[1].as_ref() {
            Op::Writes(w) => assert_eq!(w[0].value, "b"),
            Op::Put(_) => panic!("expected the writes second"),
        }
        assert_eq!(
            compact(Durability::Async, vec![put("", "1", None), put("", "2", None)]).len(),
            2
        );
    }

    #[test]
    fn merged_writes_replace_special_keep_first_regular_and_sort() {
        let stored = vec![("p-b".into(), "b".into(), 0, "c".into(), "old".into())];
        let ops = vec![Arc::new(Op::Writes(vec![
            write("", "1", "b", 0, "new", false),
            write("", "1", "a", -3, "int", true),
            write("", "1", "a", -3, "int2", true),
            write("", "2", "z", 0, "other checkpoint", false),
        ]))];
        let out = merge_writes(stored, &ops, "", "1");
        let values: Vec<&str> = out.iter().map(|r| r.4.as_str()).collect();
        assert_eq!(values, ["int2", "old"]);
    }

    #[test]
    fn a_closed_buffer_refuses_writes_and_durability_reads_the_run() {
        let b = ThreadBuffer::new(Durability::Async);
        assert!(b.push(put("", "1", None)).is_ok());
        assert_eq!(b.close().len(), 1);
        assert!(b.push(Arc::new(Op::Writes(vec![]))).is_err());
        assert_eq!(Durability::of_run(None, Some(false)), Durability::Exit);
        assert_eq!(Durability::of_run(Some("sync"), Some(false)), Durability::Sync);
        assert_eq!(Durability::of_run(None, None), Durability::Async);
    }
}
