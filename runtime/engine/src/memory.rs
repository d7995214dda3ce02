//! The in-memory checkpointer, like LangGraph's `InMemorySaver`.
//!
//! Checkpoints are kept encoded, as LangGraph's saver keeps them serialised: a snapshot no later
//! mutation can reach. The encoding is compact because a long run keeps every checkpoint: ids
//! are 128-bit keys, channel and node names are interned once per saver and written as small
//! integers, versions are varints, and only values and metadata are JSON. A super-step stores a
//! few hundred bytes instead of a few kilobytes, which matters more than the CPU spent encoding:
//! fresh memory costs a page fault and a zeroed page.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::HashMap;
use crate::checkpoint::{
    Checkpoint, CheckpointRef, CheckpointTuple, Checkpointer, ListOptions, PendingWrite,
    metadata_matches, special_write_index,
};
use crate::error::{Error, Result};

/// Keeps everything in process memory.
#[derive(Default)]
pub struct InMemorySaver {
    inner: Mutex<Memory>,
}

#[derive(Default)]
struct Memory {
    names: Names,
    /// thread -> ns -> checkpoint id -> checkpoint
    threads: HashMap<String, HashMap<String, BTreeMap<u128, Stored>>>,
}

/// One checkpoint: its encoded body (checkpoint, metadata and parent) and its pending writes,
/// encoded as a list of records in the order they were stored.
#[derive(Default)]
struct Stored {
    body: Box<[u8]>,
    writes: Vec<u8>,
}

/// Interned names (channels and nodes): a graph has few, and they repeat in every checkpoint.
#[derive(Default)]
struct Names {
    ids: HashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl Names {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        let name: Arc<str> = Arc::from(name);
        self.names.push(Arc::clone(&name));
        self.ids.insert(name, id);
        id
    }

    fn name(&self, id: u64) -> Result<&str> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.names.get(i))
            .map(|n| &**n)
            .ok_or_else(|| corrupt("unknown name"))
    }
}

fn corrupt(what: &str) -> Error {
    Error::Checkpointer(format!("stored checkpoint is corrupt: {what}"))
}

fn checkpoint_key(id: &str) -> Option<u128> {
    uuid::Uuid::try_parse(id).ok().map(|u| u.as_u128())
}

fn key_to_id(key: u128) -> String {
    uuid::Uuid::from_u128(key).hyphenated().to_string()
}

/// Appends the encoded forms.
struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn signed(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    fn json(&mut self, v: &impl serde::Serialize) -> Result<()> {
        let encoded =
            serde_json::to_vec(v).map_err(|e| Error::Checkpointer(format!("encode: {e}")))?;
        self.bytes(&encoded);
        Ok(())
    }

    fn u128(&mut self, v: u128) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
}

/// Reads what [`Writer`] wrote; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn byte(&mut self) -> Result<u8> {
        let (&b, rest) = self.0.split_first().ok_or_else(|| corrupt("truncated"))?;
        self.0 = rest;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(corrupt("varint too long"))
    }

    fn signed(&mut self) -> Result<i64> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = usize::try_from(self.varint()?).map_err(|_| corrupt("length"))?;
        if n > self.0.len() {
            return Err(corrupt("truncated"));
        }
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(b)
    }

    fn str(&mut self) -> Result<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| corrupt("text"))
    }

    fn json<T: serde::de::DeserializeOwned>(&mut self) -> Result<T> {
        serde_json::from_slice(self.bytes()?).map_err(|e| corrupt(&e.to_string()))
    }

    fn u128(&mut self) -> Result<u128> {
        if self.0.len() < 16 {
            return Err(corrupt("truncated"));
        }
        let (b, rest) = self.0.split_at(16);
        self.0 = rest;
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        Ok(u128::from_le_bytes(a))
    }
}

fn encode_body(
    names: &mut Names,
    checkpoint: &Checkpoint,
    metadata: &Map<String, Value>,
    parent: Option<u128>,
) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(256);
    let mut w = Writer(&mut buf);
    w.varint(u64::from(checkpoint.v));
    w.bytes(checkpoint.ts.as_bytes());
    match parent {
        Some(p) => {
            w.varint(1);
            w.u128(p);
        }
        None => w.varint(0),
    }
    w.varint(checkpoint.channel_values.len() as u64);
    for (name, value) in &checkpoint.channel_values {
        w.varint(u64::from(names.intern(name)));
        w.json(value)?;
    }
    w.varint(checkpoint.channel_versions.len() as u64);
    for (name, version) in &checkpoint.channel_versions {
        w.varint(u64::from(names.intern(name)));
        w.varint(*version);
    }
    w.varint(checkpoint.versions_seen.len() as u64);
    for (node, seen) in &checkpoint.versions_seen {
        w.varint(u64::from(names.intern(node)));
        w.varint(seen.len() as u64);
        for (name, version) in seen {
            w.varint(u64::from(names.intern(name)));
            w.varint(*version);
        }
    }
    match &checkpoint.updated_channels {
        Some(updated) => {
            w.varint(updated.len() as u64 + 1);
            for name in updated {
                w.varint(u64::from(names.intern(name)));
            }
        }
        None => w.varint(0),
    }
    w.json(metadata)?;
    Ok(buf)
}

struct Body {
    checkpoint: Checkpoint,
    metadata: Map<String, Value>,
    parent: Option<u128>,
}

fn decode_body(names: &Names, id: u128, bytes: &[u8]) -> Result<Body> {
    let mut r = Reader(bytes);
    let v = u32::try_from(r.varint()?).map_err(|_| corrupt("format version"))?;
    let ts = r.str()?.to_string();
    let parent = match r.varint()? {
        0 => None,
        _ => Some(r.u128()?),
    };
    let mut channel_values = Map::new();
    for _ in 0..r.varint()? {
        let name = names.name(r.varint()?)?.to_string();
        channel_values.insert(name, r.json()?);
    }
    let mut channel_versions = BTreeMap::new();
    for _ in 0..r.varint()? {
        let name = names.name(r.varint()?)?.to_string();
        channel_versions.insert(name, r.varint()?);
    }
    let mut versions_seen = BTreeMap::new();
    for _ in 0..r.varint()? {
        let node = names.name(r.varint()?)?.to_string();
        let mut seen = BTreeMap::new();
        for _ in 0..r.varint()? {
            let name = names.name(r.varint()?)?.to_string();
            seen.insert(name, r.varint()?);
        }
        versions_seen.insert(node, seen);
    }
    let updated_channels = match r.varint()? {
        0 => None,
        n => {
            let mut out = Vec::new();
            for _ in 1..n {
                out.push(names.name(r.varint()?)?.to_string());
            }
            Some(out)
        }
    };
    let metadata = r.json()?;
    let checkpoint = Checkpoint {
        v,
        id: key_to_id(id),
        ts,
        channel_values,
        channel_versions,
        versions_seen,
        updated_channels,
    };
    Ok(Body { checkpoint, metadata, parent })
}

/// A task id as stored: 16 bytes when it is a UUID (the engine's are), else the text.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TaskKey<'a> {
    Uuid(u128),
    Text(&'a str),
}

impl<'a> TaskKey<'a> {
    fn of(task_id: &'a str) -> TaskKey<'a> {
        match uuid::Uuid::try_parse(task_id) {
            Ok(u) if u.hyphenated().to_string() == task_id => TaskKey::Uuid(u.as_u128()),
            _ => TaskKey::Text(task_id),
        }
    }

    fn text(self) -> String {
        match self {
            TaskKey::Uuid(u) => key_to_id(u),
            TaskKey::Text(t) => t.to_string(),
        }
    }
}

/// A pending write as stored: `(task id, index, task path, channel, value JSON)`; the task
/// path and the channel are interned names.
struct WriteRecord<'a> {
    task_id: TaskKey<'a>,
    idx: i64,
    task_path: u64,
    channel: u64,
    value: &'a [u8],
}

fn encode_write(out: &mut Vec<u8>, rec: &WriteRecord<'_>) {
    let mut w = Writer(out);
    match rec.task_id {
        TaskKey::Uuid(u) => {
            w.varint(0);
            w.u128(u);
        }
        TaskKey::Text(t) => {
            w.varint(1);
            w.bytes(t.as_bytes());
        }
    }
    w.signed(rec.idx);
    w.varint(rec.task_path);
    w.varint(rec.channel);
    w.bytes(rec.value);
}

fn decode_writes(bytes: &[u8]) -> Result<Vec<WriteRecord<'_>>> {
    let mut r = Reader(bytes);
    let mut out = Vec::new();
    while !r.is_empty() {
        let task_id = match r.varint()? {
            0 => TaskKey::Uuid(r.u128()?),
            _ => TaskKey::Text(r.str()?),
        };
        out.push(WriteRecord {
            task_id,
            idx: r.signed()?,
            task_path: r.varint()?,
            channel: r.varint()?,
            value: r.bytes()?,
        });
    }
    Ok(out)
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

    fn lock(&self) -> Result<MutexGuard<'_, Memory>> {
        self.inner.lock().map_err(|_| Error::Checkpointer("in-memory saver poisoned".into()))
    }
}

fn tuple_of(
    names: &Names,
    thread_id: &str,
    ns: &str,
    id: u128,
    entry: &Stored,
) -> Result<CheckpointTuple> {
    let body = decode_body(names, id, &entry.body)?;
    let mut writes = decode_writes(&entry.writes)?
        .into_iter()
        .map(|w| Ok((names.name(w.task_path)?, w.task_id.text(), w.idx, w.channel, w.value)))
        .collect::<Result<Vec<_>>>()?;
    writes.sort_by(|a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2)));
    let pending_writes = writes
        .into_iter()
        .map(|(_, task_id, _, channel, value)| {
            Ok(PendingWrite {
                task_id,
                channel: names.name(channel)?.to_string(),
                value: serde_json::from_slice(value).map_err(|e| corrupt(&e.to_string()))?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(CheckpointTuple {
        config: CheckpointRef {
            thread_id: thread_id.into(),
            checkpoint_ns: ns.into(),
            checkpoint_id: body.checkpoint.id.clone(),
        },
        checkpoint: body.checkpoint,
        metadata: body.metadata,
        parent: body.parent.map(|p| CheckpointRef {
            thread_id: thread_id.into(),
            checkpoint_ns: ns.into(),
            checkpoint_id: key_to_id(p),
        }),
        pending_writes,
    })
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
            Some(id) => checkpoint_key(id).and_then(|k| cps.get_key_value(&k)),
            None => cps.iter().next_back(),
        };
        found.map(|(id, e)| tuple_of(&mem.names, thread_id, checkpoint_ns, *id, e)).transpose()
    }

    async fn list(&self, thread_id: &str, options: &ListOptions) -> Result<Vec<CheckpointTuple>> {
        let mem = self.lock()?;
        let Some(namespaces) = mem.threads.get(thread_id) else { return Ok(Vec::new()) };
        let only = match options.checkpoint_id.as_deref() {
            Some(id) => match checkpoint_key(id) {
                Some(k) => Some(k),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        let before = options.before.as_deref().map(checkpoint_key);
        let mut out = Vec::new();
        for (ns, cps) in namespaces {
            if options.checkpoint_ns.as_ref().is_some_and(|n| n != ns) {
                continue;
            }
            for (id, e) in cps {
                if only.is_some_and(|k| k != *id) {
                    continue;
                }
                // An id that is not a checkpoint id compares as a string would.
                let is_before = match (&before, options.before.as_deref()) {
                    (Some(Some(b)), _) => id < b,
                    (Some(None), Some(b)) => key_to_id(*id).as_str() < b,
                    _ => true,
                };
                if !is_before {
                    continue;
                }
                let t = tuple_of(&mem.names, thread_id, ns, *id, e)?;
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
        let bad_id = |id: &str| Error::Checkpointer(format!("not a checkpoint id: {id:?}"));
        let key = checkpoint_key(&checkpoint.id).ok_or_else(|| bad_id(&checkpoint.id))?;
        let parent = match parent_id {
            Some(p) => Some(checkpoint_key(p).ok_or_else(|| bad_id(p))?),
            None => None,
        };
        let mut guard = self.lock()?;
        let mem = &mut *guard;
        let body = encode_body(&mut mem.names, checkpoint, metadata, parent)?;
        let cps = slot(slot(&mut mem.threads, thread_id), checkpoint_ns);
        cps.entry(key).or_default().body = body.into_boxed_slice();
        Ok(())
    }

    async fn put_writes(
        &self,
        at: &CheckpointRef,
        task_id: &str,
        task_path: &str,
        writes: &[(String, Value)],
    ) -> Result<()> {
        let missing = || {
            Error::Checkpointer(format!(
                "no checkpoint {} to store writes against",
                at.checkpoint_id
            ))
        };
        let key = checkpoint_key(&at.checkpoint_id).ok_or_else(missing)?;
        let mut guard = self.lock()?;
        let mem = &mut *guard;
        let entry = mem
            .threads
            .get_mut(&at.thread_id)
            .and_then(|t| t.get_mut(&at.checkpoint_ns))
            .and_then(|cps| cps.get_mut(&key))
            .ok_or_else(missing)?;
        let mut encoded = Vec::with_capacity(writes.len());
        for (i, (channel, value)) in writes.iter().enumerate() {
            let idx = special_write_index(channel).unwrap_or(i as i64);
            let json = serde_json::to_vec(value)
                .map_err(|e| Error::Checkpointer(format!("encode: {e}")))?;
            encoded.push((idx, u64::from(mem.names.intern(channel)), json));
        }
        let task_key = TaskKey::of(task_id);
        let path = u64::from(mem.names.intern(task_path));
        let existing = decode_writes(&entry.writes)?;
        let clash = |idx: i64| existing.iter().any(|w| w.idx == idx && w.task_id == task_key);
        // Special channels replace; regular writes are insert-if-absent.
        let replaces = encoded.iter().any(|(idx, _, _)| *idx < 0 && clash(*idx));
        let mut out = Vec::new();
        if replaces {
            for w in &existing {
                let replaced = w.task_id == task_key
                    && w.idx < 0
                    && encoded.iter().any(|(idx, _, _)| *idx == w.idx);
                if !replaced {
                    encode_write(&mut out, w);
                }
            }
        }
        for (idx, channel, json) in &encoded {
            if *idx >= 0 && clash(*idx) {
                continue;
            }
            let rec = WriteRecord {
                task_id: task_key,
                idx: *idx,
                task_path: path,
                channel: *channel,
                value: json,
            };
            encode_write(&mut out, &rec);
        }
        if replaces {
            entry.writes = out;
        } else {
            entry.writes.extend_from_slice(&out);
        }
        Ok(())
    }

    async fn delete_thread(&self, thread_id: &str) -> Result<()> {
        let mut mem = self.lock()?;
        mem.threads.remove(thread_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::checkpoint::new_checkpoint_id;
    use crate::types::RESUME;

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

    #[tokio::test]
    async fn a_checkpoint_comes_back_as_it_was_stored() {
        let saver = InMemorySaver::new();
        let parent = Checkpoint::empty();
        let mut cp = Checkpoint::empty();
        cp.id = new_checkpoint_id(3);
        cp.channel_values.insert("messages".into(), serde_json::json!([{"a": [1, 2.5, null]}]));
        cp.channel_versions.insert("messages".into(), 300);
        cp.channel_versions.insert("branch:to:a".into(), 1 << 40);
        cp.versions_seen.insert("a".into(), BTreeMap::from([("messages".into(), 299)]));
        cp.versions_seen.insert("__input__".into(), BTreeMap::new());
        cp.updated_channels = Some(vec!["messages".into()]);
        let mut meta = Map::new();
        meta.insert("step".into(), Value::from(-1));
        meta.insert("source".into(), Value::from("input"));
        saver.put("t", "ns", Some(&parent.id), &cp, &meta).await.unwrap();
        let t = saver.get_tuple("t", "ns", Some(&cp.id)).await.unwrap().unwrap();
        assert_eq!(t.checkpoint, cp);
        assert_eq!(t.metadata, meta);
        assert_eq!(t.parent.unwrap().checkpoint_id, parent.id);
        assert!(saver.get_tuple("t", "ns", Some("not-an-id")).await.unwrap().is_none());
        assert!(saver.get_tuple("t", "", None).await.unwrap().is_none());
    }

    #[test]
    fn truncated_bytes_are_an_error_not_a_panic() {
        let mut names = Names::default();
        let cp = Checkpoint::empty();
        let body = encode_body(&mut names, &cp, &Map::new(), None).unwrap();
        for n in 0..body.len() {
            assert!(decode_body(&names, 1, &body[..n]).is_err(), "prefix of {n} bytes");
        }
        assert!(Reader(&[0xff; 11]).varint().is_err());
    }
}
