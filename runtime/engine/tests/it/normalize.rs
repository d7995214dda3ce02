//! Port of `tests/oracle/normalize.py` (the normalisation contract of the fixtures).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value};

pub const NULL_TASK: &str = "00000000-0000-0000-0000-000000000000";
const DROPPED_KEYS: [&str; 3] = ["ts", "timestamp", "created_at"];

fn is_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

fn uuid_at(s: &[u8], i: usize) -> bool {
    if i + 36 > s.len() {
        return false;
    }
    (0..36).all(|k| {
        let c = s[i + k];
        if [8, 13, 18, 23].contains(&k) { c == b'-' } else { is_hex(c) }
    })
}

/// Every uuid in `s` (non-overlapping, left to right).
fn uuids(s: &str) -> Vec<(usize, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if uuid_at(b, i) {
            out.push((i, s[i..i + 36].to_string()));
            i += 36;
        } else {
            i += 1;
        }
    }
    out
}

fn is_uuid_full(s: &str) -> bool {
    s.len() == 36 && uuid_at(s.as_bytes(), 0)
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(is_hex)
}

fn is_version(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 32 && b[..32].iter().all(u8::is_ascii_digit) && b[32] == b'.'
}

fn sub_uuids(s: &str, f: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut last = 0;
    for (i, u) in uuids(s) {
        out.push_str(&s[last..i]);
        out.push_str(&f(&u));
        last = i + 36;
    }
    out.push_str(&s[last..]);
    out
}

/// Canonical JSON text: sorted keys, compact.
pub fn canonical(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let b: BTreeMap<&String, Value> = m.iter().map(|(k, x)| (k, sorted(x))).collect();
                let mut out = Map::new();
                for (k, x) in b {
                    out.insert(k.clone(), x);
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string(&sorted(v)).unwrap_or_default()
}

fn strip(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| !DROPPED_KEYS.contains(&k.as_str()))
                .map(|(k, x)| (k, strip(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip).collect()),
        Value::String(s) if is_version(&s) => {
            Value::from(s.split('.').next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0))
        }
        other => other,
    }
}

fn placeholders(v: &Value, cmap: &HashMap<String, String>) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let k = match placeholders(&Value::String(k.clone()), cmap) {
                        Value::String(s) => s,
                        _ => k.clone(),
                    };
                    (k, placeholders(x, cmap))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| placeholders(x, cmap)).collect()),
        Value::String(s) => {
            if is_hex32(s) {
                return Value::String("I".into());
            }
            Value::String(sub_uuids(s, |u| {
                cmap.get(u)
                    .cloned()
                    .unwrap_or_else(|| if u == NULL_TASK { "NULL_TASK".into() } else { "T".into() })
            }))
        }
        other => other.clone(),
    }
}

type Group = (String, Vec<Value>);

fn write_groups(writes: &[Value], cmap: &HashMap<String, String>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for w in writes {
        let Some([task, channel, value]) = w.as_array().map(Vec::as_slice) else { continue };
        let task = task.as_str().unwrap_or_default().to_string();
        let pair = Value::Array(vec![channel.clone(), value.clone()]);
        match groups.iter_mut().find(|g| g.0 == task) {
            Some(g) => g.1.push(pair),
            None => groups.push((task, vec![pair])),
        }
    }
    let key = |g: &Group| {
        let mut ps: Vec<Value> = g.1.iter().map(|p| placeholders(p, cmap)).collect();
        ps.sort_by_key(canonical);
        canonical(&Value::Array(ps))
    };
    // Stable sort by key, as Python's `sorted`.
    let mut keyed: Vec<(String, Group)> = groups.into_iter().map(|g| (key(&g), g)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, g)| g).collect()
}

/// Normalises a raw `{"ops": [...], "checkpoints": {thread: [record]}}` document.
pub fn normalize(doc: Value) -> Value {
    let doc = strip(doc);
    let empty = Map::new();
    let threads = doc.get("checkpoints").and_then(Value::as_object).unwrap_or(&empty);
    let ids: BTreeSet<String> = threads
        .values()
        .flat_map(|recs| recs.as_array().cloned().unwrap_or_default())
        .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_string))
        .collect();
    let cmap: HashMap<String, String> =
        ids.iter().enumerate().map(|(i, c)| (c.clone(), format!("C{i}"))).collect();
    let mut tmap: HashMap<String, String> = HashMap::new();
    let mut imap: HashMap<String, String> = HashMap::new();
    let is_task = |s: &str| !cmap.contains_key(s) && s != NULL_TASK;

    let mut thread_ids: Vec<&String> = threads.keys().collect();
    thread_ids.sort();
    let mut records: Vec<Value> = Vec::new();
    for t in thread_ids {
        let mut recs = threads[t].as_array().cloned().unwrap_or_default();
        recs.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        records.extend(recs);
    }
    let pw =
        |r: &Value| r.get("pending_writes").and_then(Value::as_array).cloned().unwrap_or_default();
    for rec in &records {
        for (task, _) in write_groups(&pw(rec), &cmap) {
            if is_uuid_full(&task) && is_task(&task) && !tmap.contains_key(&task) {
                let n = tmap.len();
                tmap.insert(task, format!("T{n}"));
            }
        }
    }
    fn visit(
        v: &Value,
        tmap: &mut HashMap<String, String>,
        imap: &mut HashMap<String, String>,
        is_task: &dyn Fn(&str) -> bool,
    ) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                for k in keys {
                    visit(&Value::String(k.clone()), tmap, imap, is_task);
                    visit(&m[k], tmap, imap, is_task);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| visit(x, tmap, imap, is_task)),
            Value::String(s) => {
                if is_hex32(s) && !imap.contains_key(s) {
                    let n = imap.len();
                    imap.insert(s.clone(), format!("I{n}"));
                }
                for (_, u) in uuids(s) {
                    if is_task(&u) && !tmap.contains_key(&u) {
                        let n = tmap.len();
                        tmap.insert(u, format!("T{n}"));
                    }
                }
            }
            _ => {}
        }
    }
    for rec in &records {
        for (task, pairs) in write_groups(&pw(rec), &cmap) {
            visit(&Value::String(task), &mut tmap, &mut imap, &is_task);
            visit(&Value::Array(pairs), &mut tmap, &mut imap, &is_task);
        }
        let mut rest = rec.as_object().cloned().unwrap_or_default();
        rest.remove("pending_writes");
        visit(&Value::Object(rest), &mut tmap, &mut imap, &is_task);
    }
    visit(doc.get("ops").unwrap_or(&Value::Null), &mut tmap, &mut imap, &is_task);

    fn rewrite(
        v: Value,
        cmap: &HashMap<String, String>,
        tmap: &HashMap<String, String>,
        imap: &HashMap<String, String>,
    ) -> Value {
        let rs = |s: String| -> String {
            if is_hex32(&s) {
                return imap.get(&s).cloned().unwrap_or(s);
            }
            sub_uuids(&s, |u| {
                cmap.get(u).or_else(|| tmap.get(u)).cloned().unwrap_or_else(|| {
                    if u == NULL_TASK { "NULL_TASK".into() } else { u.to_string() }
                })
            })
        };
        match v {
            Value::Object(m) => Value::Object(
                m.into_iter().map(|(k, x)| (rs(k), rewrite(x, cmap, tmap, imap))).collect(),
            ),
            Value::Array(a) => {
                Value::Array(a.into_iter().map(|x| rewrite(x, cmap, tmap, imap)).collect())
            }
            Value::String(s) => Value::String(rs(s)),
            other => other,
        }
    }
    rewrite(doc, &cmap, &tmap, &imap)
}
