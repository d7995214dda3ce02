//! `POST /threads/search` and `/threads/count`, which filter, sort and page in SQL: every JSON
//! type of metadata and values filters, keys SQL or a JSON path could trip on, status with
//! metadata, every sort, pages and their headers, on both databases. Each answer is checked
//! against exact ids and against a plain in-memory evaluation of the same request.

use orrery_api::{Thread, ThreadStatus};
use serde_json::{Map, Value, json};

use crate::{Backend, Server, both};

fn id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

fn ids(list: &[usize]) -> Vec<String> {
    list.iter().map(|&i| id(i)).collect()
}

fn stamp(secs: u32) -> String {
    format!("2025-01-01T00:00:{secs:02}+00:00")
}

/// The threads: metadata, status, values, and (created, updated, state updated) seconds, with
/// ties in every time column.
fn fixtures() -> Vec<Thread> {
    use ThreadStatus::{Busy, Error, Idle, Interrupted};
    let rows: Vec<(Value, ThreadStatus, Option<Value>, [u32; 3])> = vec![
        (json!({"s": "a", "n": 1, "kind": "x"}), Idle, None, [3, 5, 1]),
        (json!({"s": "b", "n": 1.0, "kind": "x"}), Busy, None, [9, 9, 1]),
        (
            json!({"s": "a", "n": 2, "b": true, "kind": "y"}),
            Interrupted,
            Some(json!({"topic": "rust", "n": 3})),
            [3, 1, 4],
        ),
        (
            json!({"b": false, "z": null, "kind": "y"}),
            Error,
            Some(json!({"topic": "go"})),
            [0, 7, 4],
        ),
        (
            json!({"o": {"x": 1, "y": [1, 2]}, "kind": "x"}),
            Idle,
            Some(json!({"topic": "rust", "o": {"a": [1, {"b": null}]}})),
            [12, 3, 8],
        ),
        (
            json!({"o": {"y": [1, 2], "x": 1}}),
            Idle,
            Some(json!(["not", "an", "object"])),
            [1, 12, 0],
        ),
        (
            json!({"o": {"x": 1.0, "y": [1, 2]}}),
            Busy,
            Some(json!({"o": {"a": [1, {}]}})),
            [5, 0, 2],
        ),
        (
            json!({"it's \"q\".k": "v", "a.b": 1, "$.x": "p", "back\\slash": true, "[0]": "i"}),
            Idle,
            None,
            [7, 7, 7],
        ),
        (json!({"s": "A", "a.b": "1"}), Idle, None, [2, 2, 9]),
        (
            json!({"n": -5, "f": 0.1, "big": 18_446_744_073_709_551_615_u64, "min": i64::MIN}),
            Interrupted,
            None,
            [15, 7, 3],
        ),
        (json!({"f": 0.300_000_000_000_000_04, "zero": 0.0, "s": "a"}), Busy, None, [6, 11, 6]),
        (json!({"zero": -0.0, "z": "null"}), Idle, Some(json!({"zero": -0.0})), [4, 4, 5]),
        (
            json!({"s": "a", "u": "héllo 😀", "ctl": "line\nbreak\t\"q\"\\ \u{1}"}),
            Error,
            None,
            [8, 6, 7],
        ),
        (json!({"arr": [1, 2, 3], "e": {}, "ea": []}), Idle, None, [10, 8, 10]),
        (json!({"arr": [3, 2, 1], "e": {"k": 1}}), Idle, None, [11, 10, 11]),
        (json!({"n": 1, "kind": "x", "s": "a"}), Idle, None, [14, 5, 12]),
    ];
    rows.into_iter()
        .enumerate()
        .map(|(i, (metadata, status, values, [c, u, s]))| Thread {
            thread_id: id(i),
            created_at: stamp(c),
            updated_at: stamp(u),
            state_updated_at: stamp(s),
            metadata: metadata.as_object().cloned().unwrap(),
            status,
            config: Map::new(),
            values,
            error: None,
            interrupts: None,
        })
        .collect()
}

/// A request evaluated in memory: the ids of every matching thread in order.
fn expected(all: &[Thread], body: &Value) -> Vec<String> {
    let has = |hay: &Map<String, Value>, needle: &Value| {
        needle.as_object().is_none_or(|n| n.iter().all(|(k, v)| hay.get(k) == Some(v)))
    };
    let mut out: Vec<&Thread> = all
        .iter()
        .filter(|t| {
            body["ids"].as_array().is_none_or(|ids| ids.contains(&json!(t.thread_id)))
                && body["status"].as_str().is_none_or(|s| t.status.as_str() == s)
                && has(&t.metadata, &body["metadata"])
                && (body["values"].as_object().is_none_or(Map::is_empty)
                    || t.values
                        .as_ref()
                        .and_then(Value::as_object)
                        .is_some_and(|v| has(v, &body["values"])))
        })
        .collect();
    let sort_by = body["sort_by"].as_str();
    let key = |t: &Thread| -> (String, String) {
        let k = match sort_by {
            Some("thread_id") => t.thread_id.clone(),
            Some("status") => t.status.as_str().to_string(),
            Some("created_at") => t.created_at.clone(),
            Some("state_updated_at") => t.state_updated_at.clone(),
            _ => t.updated_at.clone(),
        };
        (k, t.thread_id.clone())
    };
    out.sort_by_key(|t| key(t));
    if !(sort_by.is_some() && body["sort_order"] == "asc") {
        out.reverse();
    }
    out.into_iter().map(|t| t.thread_id.clone()).collect()
}

async fn seeded(backend: Backend) -> (Server, Vec<Thread>) {
    let s = Server::start(backend).await;
    let all = fixtures();
    for t in &all {
        assert!(s.state.db.insert_thread(t).await.unwrap());
    }
    (s, all)
}

/// A search: the ids found and the pagination headers (total, next).
async fn search(s: &Server, body: &Value) -> (Vec<String>, String, Option<String>) {
    let r = s.http.post(format!("{}/threads/search", s.url)).json(body).send().await.unwrap();
    assert_eq!(r.status(), 200, "{body}");
    let header = |k: &str| r.headers().get(k).map(|v| v.to_str().unwrap().to_string());
    let (total, next) = (header("x-pagination-total").unwrap(), header("x-pagination-next"));
    let found: Value = r.json().await.unwrap();
    let ids = found
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["thread_id"].as_str().unwrap().to_string())
        .collect();
    (ids, total, next)
}

async fn count(s: &Server, body: &Value) -> u64 {
    let (st, n) = s.post("/threads/count", body.clone()).await;
    assert_eq!(st, 200, "{body}: {n}");
    n.as_u64().unwrap()
}

both!(thread_search_filters_every_json_type);
async fn thread_search_filters_every_json_type(backend: Backend) {
    let (s, all) = seeded(backend).await;
    let cases: Vec<(Value, &[usize])> = vec![
        (json!({}), &[5, 10, 14, 1, 13, 9, 7, 3, 12, 15, 0, 11, 4, 8, 2, 6]),
        (json!({"metadata": {}}), &[5, 10, 14, 1, 13, 9, 7, 3, 12, 15, 0, 11, 4, 8, 2, 6]),
        // Strings, case-sensitive.
        (json!({"metadata": {"s": "a"}}), &[10, 12, 15, 0, 2]),
        (json!({"metadata": {"s": "A"}}), &[8]),
        (json!({"metadata": {"s": "a", "kind": "x"}}), &[15, 0]),
        // Integers are not floats.
        (json!({"metadata": {"n": 1}}), &[15, 0]),
        (json!({"metadata": {"n": 1.0}}), &[1]),
        (json!({"metadata": {"n": -5}}), &[9]),
        (json!({"metadata": {"n": "1"}}), &[]),
        (json!({"metadata": {"min": i64::MIN}}), &[9]),
        (json!({"metadata": {"big": 18_446_744_073_709_551_615_u64}}), &[9]),
        (json!({"metadata": {"big": 18_446_744_073_709_551_614_u64}}), &[]),
        (json!({"metadata": {"f": 0.1}}), &[9]),
        (json!({"metadata": {"f": 0.300_000_000_000_000_04}}), &[10]),
        (json!({"metadata": {"f": 0.3}}), &[]),
        (json!({"metadata": {"zero": 0.0}}), &[10, 11]),
        (json!({"metadata": {"zero": -0.0}}), &[10, 11]),
        (json!({"metadata": {"zero": 0}}), &[]),
        // Booleans and null: the key must be there.
        (json!({"metadata": {"b": true}}), &[2]),
        (json!({"metadata": {"b": false}}), &[3]),
        (json!({"metadata": {"z": null}}), &[3]),
        (json!({"metadata": {"z": "null"}}), &[11]),
        (json!({"metadata": {"missing": null}}), &[]),
        // Objects (any key order) and arrays (in order).
        (json!({"metadata": {"o": {"x": 1, "y": [1, 2]}}}), &[5, 4]),
        (json!({"metadata": {"o": {"y": [1, 2], "x": 1}}}), &[5, 4]),
        (json!({"metadata": {"o": {"x": 1.0, "y": [1, 2]}}}), &[6]),
        (json!({"metadata": {"o": {"x": 1}}}), &[]),
        (json!({"metadata": {"arr": [1, 2, 3]}}), &[13]),
        (json!({"metadata": {"arr": [1, 2]}}), &[]),
        (json!({"metadata": {"e": {}}}), &[13]),
        (json!({"metadata": {"ea": []}}), &[13]),
        (json!({"metadata": {"o": {"x": 1, "y": [1, 2]}, "kind": "x"}}), &[4]),
        // Keys with quotes, dots, path syntax, backslashes, SQL.
        (json!({"metadata": {"it's \"q\".k": "v"}}), &[7]),
        (json!({"metadata": {"a.b": 1}}), &[7]),
        (json!({"metadata": {"a.b": "1"}}), &[8]),
        (json!({"metadata": {"$.x": "p"}}), &[7]),
        (json!({"metadata": {"back\\slash": true}}), &[7]),
        (json!({"metadata": {"[0]": "i"}}), &[7]),
        (json!({"metadata": {"a": {"b": 1}}}), &[]),
        (json!({"metadata": {"x') OR 1=1 --": 1}}), &[]),
        (json!({"metadata": {"s": "a' OR '1'='1"}}), &[]),
        // Non-ASCII and escaped characters.
        (json!({"metadata": {"u": "héllo 😀"}}), &[12]),
        (json!({"metadata": {"ctl": "line\nbreak\t\"q\"\\ \u{1}"}}), &[12]),
        (json!({"metadata": {"ctl": "line\nbreak"}}), &[]),
        // Status, alone and with metadata.
        (json!({"status": "error"}), &[3, 12]),
        (json!({"status": "idle", "metadata": {"s": "a"}}), &[15, 0]),
        (json!({"status": "busy", "metadata": {"s": "a"}}), &[10]),
        (json!({"status": "busy", "metadata": {"o": {"x": 1.0, "y": [1, 2]}}}), &[6]),
        (json!({"status": "idle", "metadata": {"o": {"x": 1.0, "y": [1, 2]}}}), &[]),
        (json!({"status": "nope"}), &[]),
        // Values: an object with the key.
        (json!({"values": {"topic": "rust"}}), &[4, 2]),
        (json!({"values": {"topic": "rust", "n": 3}}), &[2]),
        (json!({"values": {"o": {"a": [1, {"b": null}]}}}), &[4]),
        (json!({"values": {"o": {"a": [1, {}]}}}), &[6]),
        (json!({"values": {"zero": 0.0}}), &[11]),
        (json!({"values": {"0": "not"}}), &[]),
        (json!({"values": {}}), &[5, 10, 14, 1, 13, 9, 7, 3, 12, 15, 0, 11, 4, 8, 2, 6]),
        (json!({"values": {"topic": "rust"}, "metadata": {"kind": "y"}}), &[2]),
        // Ids.
        (json!({"ids": [id(1), id(4), id(99)]}), &[1, 4]),
        (json!({"ids": []}), &[]),
        (json!({"ids": [id(0), id(2), id(3)], "metadata": {"s": "a"}}), &[0, 2]),
    ];
    for (filter, want) in cases {
        let mut body = filter.clone();
        body["limit"] = json!(100);
        let (found, total, next) = search(&s, &body).await;
        assert_eq!(found, ids(want), "{filter}");
        assert_eq!(found, expected(&all, &body), "{filter}");
        assert_eq!((total, next), (want.len().to_string(), None), "{filter}");
        assert_eq!(count(&s, &filter).await, want.len() as u64, "{filter}");
    }
    assert_eq!(s.post("/threads/search", json!({"ids": [id(1), "nope"]})).await.0, 400);
    assert_eq!(
        s.post("/threads/count", json!({"ids": [1]})).await,
        (400, json!({"detail": "Invalid thread ID "}))
    );
}

both!(thread_search_sorts_and_pages);
async fn thread_search_sorts_and_pages(backend: Backend) {
    let (s, all) = seeded(backend).await;
    // Ties break on the thread id, in the same direction.
    let (found, _, _) =
        search(&s, &json!({"limit": 100, "sort_by": "updated_at", "sort_order": "asc"})).await;
    assert_eq!(found, ids(&[6, 2, 8, 4, 11, 0, 15, 12, 3, 7, 9, 13, 1, 14, 10, 5]));
    let (found, _, _) =
        search(&s, &json!({"limit": 100, "sort_by": "status", "sort_order": "asc"})).await;
    assert_eq!(found, ids(&[1, 6, 10, 3, 12, 0, 4, 5, 7, 8, 11, 13, 14, 15, 2, 9]));
    // sort_order alone does not sort ascending.
    let (found, _, _) = search(&s, &json!({"limit": 100, "sort_order": "asc"})).await;
    assert_eq!(found, ids(&[5, 10, 14, 1, 13, 9, 7, 3, 12, 15, 0, 11, 4, 8, 2, 6]));

    let sorts = [
        None,
        Some("thread_id"),
        Some("status"),
        Some("created_at"),
        Some("state_updated_at"),
        Some("updated_at"),
        Some("bogus"),
    ];
    for sort_by in sorts {
        for order in [None, Some("asc"), Some("desc")] {
            for filter in [
                json!({}),
                json!({"metadata": {"kind": "x"}}),
                json!({"metadata": {"o": {"x": 1, "y": [1, 2]}}}),
            ] {
                let mut body = filter.clone();
                if let Some(b) = sort_by {
                    body["sort_by"] = json!(b);
                }
                if let Some(o) = order {
                    body["sort_order"] = json!(o);
                }
                let want = expected(&all, &body);
                body["limit"] = json!(100);
                assert_eq!(search(&s, &body).await.0, want, "{body}");
                // Page by page, with the headers `page` sets.
                for limit in [0, 1, 4, 5] {
                    for offset in [0, 1, 3, 4, 8, 15, 16, 17, 40] {
                        body["limit"] = json!(limit);
                        body["offset"] = json!(offset);
                        let (found, total, next) = search(&s, &body).await;
                        let end = (offset + limit).min(want.len());
                        let page = if offset < want.len() { &want[offset..end] } else { &[][..] };
                        assert_eq!(found, page, "{body}");
                        if end < want.len() {
                            assert_eq!(total, (offset + limit + 1).to_string(), "{body}");
                            assert_eq!(next, Some((offset + limit).to_string()), "{body}");
                        } else {
                            assert_eq!((total, next), (want.len().to_string(), None), "{body}");
                        }
                    }
                }
            }
        }
    }
    // The default limit is 10; select still projects.
    let (found, total, next) = search(&s, &json!({})).await;
    assert_eq!(found, ids(&[5, 10, 14, 1, 13, 9, 7, 3, 12, 15]));
    assert_eq!((total.as_str(), next.as_deref()), ("11", Some("10")));
    let (_, found) = s
        .post("/threads/search", json!({"select": ["thread_id", "status"], "status": "error"}))
        .await;
    assert_eq!(
        found,
        json!([{"thread_id": id(3), "status": "error"}, {"thread_id": id(12), "status": "error"}])
    );
}

/// What `serde_json` reads back from the text it writes for `x` (not always `x`).
fn reread(x: f64) -> Value {
    serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap()
}

both!(thread_search_compares_floats_as_serde_json_reads_them);
async fn thread_search_compares_floats_as_serde_json_reads_them(backend: Backend) {
    let s = Server::start(backend).await;
    let mut floats = vec![
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        5e-324,
        1e23,
        9_007_199_254_740_993.0,
        0.1 + 0.2,
        2.225_073_858_507_201e-308,
        // Read back a unit off by SQLite, by serde_json.
        4.778_266_386_564_676e-29,
        123_456_789.123_456_79,
    ];
    let n = std::env::var("ORRERY_TEST_FLOATS").ok().and_then(|n| n.parse().ok()).unwrap_or(300);
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    while floats.len() < n {
        // xorshift64*: random bit patterns, so every exponent and mantissa shape.
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        let x = f64::from_bits(seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
        if x.is_finite() && x != 0.0 {
            floats.push(x);
        }
    }
    for (i, x) in floats.iter().enumerate() {
        let t = Thread {
            thread_id: id(i),
            created_at: stamp(0),
            updated_at: stamp(0),
            state_updated_at: stamp(0),
            metadata: json!({"f": x, "k": "v"}).as_object().cloned().unwrap(),
            status: ThreadStatus::Idle,
            config: Map::new(),
            values: None,
            error: None,
            interrupts: None,
        };
        assert!(s.state.db.insert_thread(&t).await.unwrap());
    }
    let stored: Vec<Value> = floats.iter().map(|&x| reread(x)).collect();
    for x in &floats {
        for q in [*x, f64::from_bits(x.to_bits() + 1), f64::from_bits(x.to_bits() - 1)] {
            if !q.is_finite() {
                continue;
            }
            let want: Vec<String> =
                (0..floats.len()).rev().filter(|&i| stored[i] == reread(q)).map(id).collect();
            let body = json!({"metadata": {"f": q, "k": "v"}, "limit": 100});
            assert_eq!(search(&s, &body).await.0, want, "{q:e}");
        }
    }
}
