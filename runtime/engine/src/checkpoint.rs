//! The checkpoint model (format `v = 4`), the `Checkpointer` trait and the in-memory saver.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::types::{ERROR, INTERRUPT, RESUME, SCHEDULED};

/// A channel version. LangGraph's savers format them as `"{n:032}.{random:016}"`; only the
/// integer part orders them, so the engine keeps that part.
pub type Version = u64;

/// A snapshot of every channel at the end of a super-step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version, always 4.
    pub v: u32,
    /// Time-ordered UUIDv6; lexicographic order is creation order.
    pub id: String,
    /// Creation time, ISO-8601 UTC with `+00:00`.
    pub ts: String,
    /// Stored form of every channel that has a version and a value.
    pub channel_values: Map<String, Value>,
    /// Channel → version.
    pub channel_versions: BTreeMap<String, Version>,
    /// Node → (channel → version it last saw).
    pub versions_seen: BTreeMap<String, BTreeMap<String, Version>>,
    /// Channels updated by the step that produced this checkpoint (`None` for updates/forks).
    pub updated_channels: Option<Vec<String>>,
}

impl Checkpoint {
    /// An empty checkpoint (a thread with no history).
    pub fn empty() -> Checkpoint {
        Checkpoint {
            v: 4,
            id: new_checkpoint_id(-1),
            ts: now_iso(),
            channel_values: Map::new(),
            channel_versions: BTreeMap::new(),
            versions_seen: BTreeMap::new(),
            updated_channels: None,
        }
    }
}

/// Where a checkpoint lives: thread, namespace and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CheckpointRef {
    /// The thread.
    pub thread_id: String,
    /// `""` for the root graph, `"node:<task id>"` (joined with `|`) for subgraphs.
    pub checkpoint_ns: String,
    /// The checkpoint id.
    pub checkpoint_id: String,
}

/// A write of a task, stored against the checkpoint the task started from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingWrite {
    /// The task that wrote it (or the null task).
    pub task_id: String,
    /// The channel written.
    pub channel: String,
    /// The value.
    pub value: Value,
}

/// A checkpoint with its address, metadata, parent and pending writes.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointTuple {
    /// Where it lives.
    pub config: CheckpointRef,
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// `source`, `step`, `parents` and the merged run keys.
    pub metadata: Map<String, Value>,
    /// The checkpoint it was made from.
    pub parent: Option<CheckpointRef>,
    /// Writes of the tasks that run from this checkpoint.
    pub pending_writes: Vec<PendingWrite>,
}

/// Filters for [`Checkpointer::list`].
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Only this namespace (all namespaces when `None`).
    pub checkpoint_ns: Option<String>,
    /// Only this checkpoint.
    pub checkpoint_id: Option<String>,
    /// Metadata equality on every given key.
    pub filter: Option<Map<String, Value>>,
    /// Only ids lower than this one.
    pub before: Option<String>,
    /// At most this many.
    pub limit: Option<usize>,
}

/// Persists checkpoints and pending writes. Implemented in memory here, and on SQLite and
/// PostgreSQL by the runtime.
#[async_trait]
pub trait Checkpointer: Send + Sync {
    /// The addressed checkpoint, or the latest of the namespace when `checkpoint_id` is `None`.
    async fn get_tuple(
        &self,
        thread_id: &str,
        checkpoint_ns: &str,
        checkpoint_id: Option<&str>,
    ) -> Result<Option<CheckpointTuple>>;

    /// Checkpoints of a thread, newest first.
    async fn list(&self, thread_id: &str, options: &ListOptions) -> Result<Vec<CheckpointTuple>>;

    /// Stores a checkpoint.
    async fn put(
        &self,
        thread_id: &str,
        checkpoint_ns: &str,
        parent_id: Option<&str>,
        checkpoint: &Checkpoint,
        metadata: &Map<String, Value>,
    ) -> Result<()>;

    /// Stores the writes of one task against a checkpoint. Regular writes are insert-if-absent
    /// by position; special channels (`__error__`, `__interrupt__`, `__resume__`) replace.
    async fn put_writes(
        &self,
        at: &CheckpointRef,
        task_id: &str,
        task_path: &str,
        writes: &[(String, Value)],
    ) -> Result<()>;

    /// Deletes every checkpoint and write of a thread.
    async fn delete_thread(&self, thread_id: &str) -> Result<()>;
}

/// The fixed storage index of a special channel's write (LangGraph's `WRITES_IDX_MAP`).
pub fn special_write_index(channel: &str) -> Option<i64> {
    match channel {
        ERROR => Some(-1),
        SCHEDULED => Some(-2),
        INTERRUPT => Some(-3),
        RESUME => Some(-4),
        _ => None,
    }
}

#[derive(Debug, Clone)]
struct StoredWrite {
    task_id: String,
    idx: i64,
    task_path: String,
    channel: String,
    value: Value,
}

/// A stored checkpoint: the checkpoint and its metadata serialised (as LangGraph's saver keeps
/// them: compact, and a snapshot no later mutation can reach), its parent's id, and the pending
/// writes stored against it.
#[derive(Default)]
struct Stored {
    checkpoint: Vec<u8>,
    metadata: Vec<u8>,
    parent: Option<String>,
    writes: Vec<StoredWrite>,
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Checkpointer(format!("stored checkpoint: {e}")))
}

#[derive(Default)]
struct Memory {
    /// thread -> ns -> checkpoint id -> checkpoint
    threads: HashMap<String, HashMap<String, BTreeMap<String, Stored>>>,
}

/// Keeps everything in process memory, like LangGraph's `InMemorySaver`.
#[derive(Default)]
pub struct InMemorySaver {
    inner: Mutex<Memory>,
}

impl InMemorySaver {
    /// An empty saver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ids of every thread with checkpoints, sorted.
    pub fn list_threads(&self) -> Vec<String> {
        let Ok(mem) = self.lock() else { return Vec::new() };
        let mut out: Vec<String> = mem.threads.keys().cloned().collect();
        out.sort();
        out
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Memory>> {
        self.inner.lock().map_err(|_| Error::Checkpointer("in-memory saver poisoned".into()))
    }
}

fn tuple_of(thread_id: &str, ns: &str, id: &str, entry: &Stored) -> Result<CheckpointTuple> {
    let mut writes: Vec<&StoredWrite> = entry.writes.iter().collect();
    writes
        .sort_by(|a, b| (&a.task_path, &a.task_id, a.idx).cmp(&(&b.task_path, &b.task_id, b.idx)));
    Ok(CheckpointTuple {
        config: CheckpointRef {
            thread_id: thread_id.into(),
            checkpoint_ns: ns.into(),
            checkpoint_id: id.into(),
        },
        checkpoint: decode(&entry.checkpoint)?,
        metadata: decode(&entry.metadata)?,
        parent: entry.parent.as_ref().map(|p| CheckpointRef {
            thread_id: thread_id.into(),
            checkpoint_ns: ns.into(),
            checkpoint_id: p.clone(),
        }),
        pending_writes: writes
            .into_iter()
            .map(|w| PendingWrite {
                task_id: w.task_id.clone(),
                channel: w.channel.clone(),
                value: w.value.clone(),
            })
            .collect(),
    })
}

/// Whether `metadata` has every key of `filter` with an equal value.
pub fn metadata_matches(metadata: &Map<String, Value>, filter: &Map<String, Value>) -> bool {
    filter.iter().all(|(k, v)| metadata.get(k) == Some(v))
}

/// `map[key]`, inserting a default under an owned copy of the key only when it is missing.
fn slot<'a, V: Default>(map: &'a mut HashMap<String, V>, key: &str) -> &'a mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

#[async_trait]
impl Checkpointer for InMemorySaver {
    async fn get_tuple(
        &self,
        thread_id: &str,
        checkpoint_ns: &str,
        checkpoint_id: Option<&str>,
    ) -> Result<Option<CheckpointTuple>> {
        let mem = self.lock()?;
        let Some(cps) = mem.threads.get(thread_id).and_then(|t| t.get(checkpoint_ns)) else {
            return Ok(None);
        };
        let found = match checkpoint_id {
            Some(id) => cps.get_key_value(id),
            None => cps.iter().next_back(),
        };
        found.map(|(id, e)| tuple_of(thread_id, checkpoint_ns, id, e)).transpose()
    }

    async fn list(&self, thread_id: &str, options: &ListOptions) -> Result<Vec<CheckpointTuple>> {
        let mem = self.lock()?;
        let Some(namespaces) = mem.threads.get(thread_id) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for (ns, cps) in namespaces {
            if options.checkpoint_ns.as_ref().is_some_and(|n| n != ns) {
                continue;
            }
            for (id, e) in cps {
                if options.checkpoint_id.as_ref().is_some_and(|c| c != id)
                    || options.before.as_ref().is_some_and(|b| id >= b)
                {
                    continue;
                }
                let t = tuple_of(thread_id, ns, id, e)?;
                if options.filter.as_ref().is_some_and(|f| !metadata_matches(&t.metadata, f)) {
                    continue;
                }
                out.push(t);
            }
        }
        out.sort_by(|a, b| b.config.checkpoint_id.cmp(&a.config.checkpoint_id));
        if let Some(limit) = options.limit {
            out.truncate(limit);
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
    ) -> Result<()> {
        let encode = |v: &dyn erased::Encode| v.encode();
        let (cp, meta) = (encode(checkpoint)?, encode(metadata)?);
        let mut mem = self.lock()?;
        let cps = slot(slot(&mut mem.threads, thread_id), checkpoint_ns);
        let entry = cps.entry(checkpoint.id.clone()).or_default();
        entry.checkpoint = cp;
        entry.metadata = meta;
        entry.parent = parent_id.map(str::to_string);
        Ok(())
    }

    async fn put_writes(
        &self,
        at: &CheckpointRef,
        task_id: &str,
        task_path: &str,
        writes: &[(String, Value)],
    ) -> Result<()> {
        let mut mem = self.lock()?;
        let cps = slot(slot(&mut mem.threads, &at.thread_id), &at.checkpoint_ns);
        let Some(entry) = cps.get_mut(&at.checkpoint_id) else {
            return Err(Error::Checkpointer(format!(
                "no checkpoint {} to store writes against",
                at.checkpoint_id
            )));
        };
        for (i, (channel, value)) in writes.iter().enumerate() {
            let idx = special_write_index(channel).unwrap_or(i as i64);
            let existing = entry.writes.iter().position(|w| w.idx == idx && w.task_id == task_id);
            let w = StoredWrite {
                task_id: task_id.to_string(),
                idx,
                task_path: task_path.to_string(),
                channel: channel.clone(),
                value: value.clone(),
            };
            match existing {
                // Special channels replace; regular writes are insert-if-absent.
                Some(pos) if idx < 0 => entry.writes[pos] = w,
                Some(_) => {}
                None => entry.writes.push(w),
            }
        }
        Ok(())
    }

    async fn delete_thread(&self, thread_id: &str) -> Result<()> {
        let mut mem = self.lock()?;
        mem.threads.remove(thread_id);
        Ok(())
    }
}

mod erased {
    use super::{Error, Result};

    /// Serialises without naming the type (keeps `put` free of generics).
    pub(super) trait Encode {
        fn encode(&self) -> Result<Vec<u8>>;
    }

    /// The size of the last encoding: checkpoints of a run are alike, so one allocation of
    /// about the right size usually suffices.
    static LAST_LEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(256);

    impl<T: serde::Serialize> Encode for T {
        fn encode(&self) -> Result<Vec<u8>> {
            use std::sync::atomic::Ordering::Relaxed;
            let mut buf = Vec::with_capacity(LAST_LEN.load(Relaxed) + 32);
            serde_json::to_writer(&mut buf, self)
                .map_err(|e| Error::Checkpointer(format!("encode: {e}")))?;
            LAST_LEN.store(buf.len(), Relaxed);
            Ok(buf)
        }
    }
}

static LAST_V6_TS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static NODE_RNG: std::cell::Cell<u64> = std::cell::Cell::new({
        let b = *uuid::Uuid::new_v4().as_bytes();
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) | 1
    });
}

/// 48 random bits for a checkpoint id's node part: xorshift64*, seeded once per thread from the
/// OS (ids must be unique, not secret; a syscall per checkpoint would dominate a step).
fn random_node() -> u64 {
    NODE_RNG.with(|c| {
        let mut x = c.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        c.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// A UUIDv6 whose clock sequence is the step (as LangGraph makes checkpoint ids); strictly
/// increasing within the process.
pub fn new_checkpoint_id(step: i64) -> String {
    // 100-ns intervals since 1582-10-15.
    const GREGORIAN_OFFSET: u64 = 0x01B2_1DD2_1381_4000;
    let now = chrono::Utc::now();
    let nanos = now.timestamp_nanos_opt().unwrap_or(0).max(0) as u64;
    let mut ts = nanos / 100 + GREGORIAN_OFFSET;
    let mut last = LAST_V6_TS.load(Ordering::Relaxed);
    loop {
        if ts <= last {
            ts = last + 1;
        }
        match LAST_V6_TS.compare_exchange(last, ts, Ordering::SeqCst, Ordering::Relaxed) {
            Ok(_) => break,
            Err(actual) => last = actual,
        }
    }
    let clock_seq = (step as u64) & 0x3fff;
    let node = random_node().to_be_bytes();
    let node = [node[2], node[3], node[4], node[5], node[6], node[7]];
    let mut bytes = [0u8; 16];
    bytes[0..4].copy_from_slice(&((ts >> 28) as u32).to_be_bytes());
    bytes[4..6].copy_from_slice(&(((ts >> 12) & 0xffff) as u16).to_be_bytes());
    bytes[6..8].copy_from_slice(&(0x6000 | (ts & 0x0fff) as u16).to_be_bytes());
    bytes[8..10].copy_from_slice(&(0x8000 | clock_seq as u16).to_be_bytes());
    bytes[10..16].copy_from_slice(&node);
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// Now, as LangGraph writes checkpoint timestamps (`2026-11-25T09:27:42.361817+00:00`).
pub fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

/// The wire form LangGraph's savers use for a version: zero-padded integer and a fraction.
pub fn format_version(v: Version) -> String {
    let frac = (xxhash_rust::xxh3::xxh3_64(&v.to_le_bytes()) % 10_000_000_000_000) as f64 / 1e13;
    format!("{v:032}.{frac:016}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_ids_are_time_ordered_and_carry_the_step() {
        let a = new_checkpoint_id(-1);
        let b = new_checkpoint_id(0);
        let c = new_checkpoint_id(1);
        assert!(a < b && b < c);
        assert_eq!(&a[19..23], "bfff");
        assert_eq!(&b[19..23], "8000");
        assert_eq!(&c[19..23], "8001");
        assert_eq!(&a[14..15], "6");
    }

    #[test]
    fn versions_format_like_langgraph() {
        let s = format_version(3);
        assert!(s.starts_with("00000000000000000000000000000003."));
        assert_eq!(s.len(), 32 + 1 + 16);
    }

    #[tokio::test]
    async fn writes_are_insert_if_absent_and_specials_replace() {
        let saver = InMemorySaver::new();
        let cp = Checkpoint::empty();
        saver.put("t", "", None, &cp, &Map::new()).await.unwrap();
        let at = CheckpointRef {
            thread_id: "t".into(),
            checkpoint_ns: "".into(),
            checkpoint_id: cp.id.clone(),
        };
        saver.put_writes(&at, "task", "p", &[("x".into(), Value::from(1))]).await.unwrap();
        saver.put_writes(&at, "task", "p", &[("x".into(), Value::from(2))]).await.unwrap();
        saver.put_writes(&at, "task", "p", &[(RESUME.into(), Value::from("a"))]).await.unwrap();
        saver.put_writes(&at, "task", "p", &[(RESUME.into(), Value::from("b"))]).await.unwrap();
        let t = saver.get_tuple("t", "", None).await.unwrap().unwrap();
        let got: Vec<_> =
            t.pending_writes.iter().map(|w| (w.channel.as_str(), w.value.clone())).collect();
        assert_eq!(got, vec![(RESUME, Value::from("b")), ("x", Value::from(1))]);
    }
}
