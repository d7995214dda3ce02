//! The checkpoint model (format `v = 4`), the `Checkpointer` trait and the in-memory saver.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Result;
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

/// Whether `metadata` has every key of `filter` with an equal value.
pub fn metadata_matches(metadata: &Map<String, Value>, filter: &Map<String, Value>) -> bool {
    filter.iter().all(|(k, v)| metadata.get(k) == Some(v))
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
    thread_local! {
        /// The formatted date and time of the last whole second seen on this thread: a run
        /// stamps many checkpoints a second, and only the microseconds differ.
        static SECOND: std::cell::RefCell<(i64, String)> =
            const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    let now = chrono::Utc::now();
    let (secs, micros) = (now.timestamp(), now.timestamp_subsec_micros().min(999_999));
    SECOND.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            *cached = (secs, now.format("%Y-%m-%dT%H:%M:%S").to_string());
        }
        let mut out = String::with_capacity(cached.1.len() + 13);
        out.push_str(&cached.1);
        out.push('.');
        let mut digits = [b'0'; 6];
        let mut m = micros;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (m % 10) as u8;
            m /= 10;
        }
        digits.iter().for_each(|&d| out.push(char::from(d)));
        out.push_str("+00:00");
        out
    })
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
    fn timestamps_read_like_langgraph() {
        let ts = now_iso();
        let parsed = chrono::DateTime::parse_from_rfc3339(&ts).unwrap();
        assert_eq!(parsed.to_rfc3339_opts(chrono::SecondsFormat::Micros, false), ts);
        assert!(ts.ends_with("+00:00") && ts.len() == 32, "{ts}");
        assert!(now_iso() >= ts);
    }

    #[test]
    fn versions_format_like_langgraph() {
        let s = format_version(3);
        assert!(s.starts_with("00000000000000000000000000000003."));
        assert_eq!(s.len(), 32 + 1 + 16);
    }
}
