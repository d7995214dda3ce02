//! Crons: the API (shape and defaults as in the real server's transcripts `70_crons.txt`,
//! `99_cron_fired.txt`, `sdk_05_crons_store.txt`) and the scheduler, fired at a chosen time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::{Backend, Server, both};

/// `uuid5(NAMESPACE_GRAPH, "echo")`.
const ECHO: &str = "046b5dc7-2108-582c-9c6c-31d556d138f0";

/// The Cron object's keys, in the real server's order.
const CRON_KEYS: [&str; 14] = [
    "cron_id",
    "assistant_id",
    "thread_id",
    "user_id",
    "end_time",
    "schedule",
    "timezone",
    "payload",
    "next_run_date",
    "metadata",
    "on_run_completed",
    "enabled",
    "created_at",
    "updated_at",
];

fn human(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": text}]})
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn date(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().with_timezone(&Utc)
}

/// The first multiple of `step` seconds strictly after `t` (UTC).
fn next_multiple(t: DateTime<Utc>, step: i64) -> i64 {
    (t.timestamp().div_euclid(step) + 1) * step
}

fn at(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// A server whose scheduler does not fire by itself: the tests fire at times they choose.
async fn server(backend: Backend) -> Server {
    let s = Server::start(backend).await;
    s.state.set_cron_scheduler(false);
    s
}

async fn thread(s: &Server) -> String {
    let (st, t) = s.post("/threads", json!({"metadata": {}})).await;
    assert_eq!(st, 200);
    t["thread_id"].as_str().unwrap().to_string()
}

async fn create(s: &Server, path: &str, body: Value) -> Value {
    let (st, c) = s.post(path, body.clone()).await;
    assert_eq!(st, 200, "{path} {body}: {c}");
    c
}

/// POST returning status, body and the pagination headers.
async fn search(s: &Server, body: Value) -> (u16, Value, Option<String>, Option<String>) {
    let r = s.http.post(format!("{}/runs/crons/search", s.url)).json(&body).send().await.unwrap();
    let h = |k: &str| r.headers().get(k).map(|v| v.to_str().unwrap().to_string());
    let (total, next) = (h("x-pagination-total"), h("x-pagination-next"));
    let status = r.status().as_u16();
    (status, serde_json::from_str(&r.text().await.unwrap()).unwrap(), total, next)
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|c| c["cron_id"].as_str().unwrap().to_string()).collect()
}

async fn patch(s: &Server, id: &str, body: Value) -> (u16, Value) {
    s.send(reqwest::Method::PATCH, &format!("/runs/crons/{id}"), Some(body)).await
}

/// Polls a run until it has ended.
async fn finished_run(s: &Server, thread_id: &str, run_id: &str) -> Value {
    for _ in 0..500 {
        let (st, run) = s.get(&format!("/threads/{thread_id}/runs/{run_id}")).await;
        if st == 200 && !["pending", "running"].contains(&run["status"].as_str().unwrap()) {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("run {run_id} did not finish");
}

both!(crons_have_the_real_servers_shape_and_defaults);
async fn crons_have_the_real_servers_shape_and_defaults(backend: Backend) {
    let s = server(backend).await;
    // A stateless cron (golden 70_crons.txt, first exchange).
    let c = create(
        &s,
        "/runs/crons",
        json!({"assistant_id": "echo", "schedule": "*/5 * * * *", "input": {"text": "cron"}, "metadata": {"kind": "golden"}, "timezone": "Europe/Paris"}),
    )
    .await;
    assert_eq!(keys(&c), CRON_KEYS);
    let id = c["cron_id"].as_str().unwrap().to_string();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7, "cron ids are UUIDv7");
    assert_eq!(c["assistant_id"], ECHO, "a graph name resolves to its system assistant");
    assert_eq!(c["thread_id"], Value::Null);
    assert_eq!(c["user_id"], "");
    assert_eq!(c["end_time"], Value::Null);
    assert_eq!(c["schedule"], "*/5 * * * *");
    assert_eq!(c["timezone"], "Europe/Paris");
    assert_eq!(
        c["payload"],
        json!({"assistant_id": ECHO, "schedule": "*/5 * * * *", "input": {"text": "cron"}, "metadata": {"kind": "golden"}, "timezone": "Europe/Paris", "config": {"configurable": {"cron_id": id}}})
    );
    assert_eq!(
        keys(&c["payload"]),
        ["assistant_id", "schedule", "input", "metadata", "timezone", "config"],
        "the payload is the body as sent, then the config holding the cron id"
    );
    assert_eq!(c["metadata"], json!({"kind": "golden"}));
    assert_eq!(c["on_run_completed"], "delete");
    assert_eq!(c["enabled"], true);
    assert_eq!(c["created_at"], c["updated_at"]);
    assert!(c["created_at"].as_str().unwrap().ends_with("+00:00"));
    // Paris is a whole number of hours off UTC: every 5 minutes there is every 5 minutes here.
    let created = date(&c["created_at"]);
    assert_eq!(c["next_run_date"], at(next_multiple(created, 300)));
    assert!(c["next_run_date"].as_str().unwrap().ends_with(":00+00:00"), "second precision");

    // A thread cron (golden: thread crons have on_run_completed null, end_time echoed as sent).
    let tid = thread(&s).await;
    let t = create(
        &s,
        &format!("/threads/{tid}/runs/crons"),
        json!({"assistant_id": "echo", "schedule": "0 * * * *", "input": {"text": "thread cron"}, "end_time": "2099-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(keys(&t), CRON_KEYS);
    assert_eq!(t["thread_id"], tid);
    assert_eq!(t["on_run_completed"], Value::Null);
    assert_eq!(t["end_time"], "2099-01-01T00:00:00Z");
    assert_eq!(t["timezone"], Value::Null);
    let tcid = t["cron_id"].as_str().unwrap();
    assert_eq!(
        t["payload"],
        json!({"assistant_id": ECHO, "schedule": "0 * * * *", "input": {"text": "thread cron"}, "end_time": "2099-01-01T00:00:00Z", "config": {"configurable": {"cron_id": tcid}}})
    );
    assert_eq!(t["next_run_date"], at(next_multiple(date(&t["created_at"]), 3600)));

    // The SDK's field order (golden sdk_05) is kept in the payload; a daily schedule.
    let sdk = create(
        &s,
        "/runs/crons",
        json!({"schedule": "0 0 * * *", "input": {"text": "t"}, "assistant_id": "echo", "on_run_completed": "keep", "config": {"configurable": {"k": 1}}}),
    )
    .await;
    assert_eq!(
        keys(&sdk["payload"]),
        ["schedule", "input", "assistant_id", "on_run_completed", "config"]
    );
    assert_eq!(
        sdk["payload"]["config"],
        json!({"configurable": {"k": 1, "cron_id": sdk["cron_id"]}}),
        "the cron id joins a given configurable"
    );
    assert_eq!(sdk["on_run_completed"], "keep");
    assert_eq!(sdk["next_run_date"], at(next_multiple(date(&sdk["created_at"]), 86_400)));

    // Reserved keys are dropped, not rejected.
    let r = create(
        &s,
        "/runs/crons",
        json!({"assistant_id": ECHO, "schedule": "@hourly", "metadata": {"run_id": "x", "ok": 1}, "config": {"configurable": {"__after_seconds__": 5}}}),
    )
    .await;
    assert_eq!(r["metadata"], json!({"ok": 1}));
    assert_eq!(r["payload"]["config"]["configurable"], json!({"cron_id": r["cron_id"]}));
    assert_eq!(r["next_run_date"], at(next_multiple(date(&r["created_at"]), 3600)));

    // GET answers the stored object.
    assert_eq!(s.get(&format!("/runs/crons/{id}")).await, (200, c));
    assert_eq!(s.get(&format!("/runs/crons/{tcid}")).await, (200, t));
}

both!(bad_cron_requests_are_rejected_as_the_real_server_rejects_them);
async fn bad_cron_requests_are_rejected_as_the_real_server_rejects_them(backend: Backend) {
    let s = server(backend).await;
    let detail = |d: &str| json!({"detail": d});
    assert_eq!(
        s.post("/runs/crons", json!({"assistant_id": "echo", "schedule": "not a cron"})).await,
        (
            422,
            detail(
                "Invalid cron schedule: 'not a cron'. Reason: Invalid cron schedule. Ensure the schedule uses the standard cron format (minute hour day_of_month month day_of_week). Example: '*/5 * * * *' for every 5 minutes."
            )
        )
    );
    for bad in ["61 * * * *", "* * * *", "* * * * * *", "* 24 * * *", "0 0 31 2 *", "", "@reboot"] {
        let (st, e) = s.post("/runs/crons", json!({"assistant_id": "echo", "schedule": bad})).await;
        assert_eq!(st, 422, "{bad:?}: {e}");
        assert!(
            e["detail"].as_str().unwrap().starts_with(&format!("Invalid cron schedule: '{bad}'"))
        );
    }
    assert_eq!(
        s.post(
            "/runs/crons",
            json!({"assistant_id": "echo", "schedule": "* * * * *", "timezone": "Mars/Olympus"})
        )
        .await,
        (
            422,
            detail(
                "Invalid timezone: 'Mars/Olympus'. Use IANA timezone format (e.g. 'America/New_York')."
            )
        )
    );
    // Schema violations.
    for body in [
        json!({"assistant_id": "echo"}),
        json!({"schedule": "* * * * *"}),
        json!({"assistant_id": "echo", "schedule": 5}),
        json!({"assistant_id": "echo", "schedule": "* * * * *", "enabled": "yes"}),
        json!({"assistant_id": "echo", "schedule": "* * * * *", "on_run_completed": "later"}),
        json!({"assistant_id": "echo", "schedule": "* * * * *", "end_time": "tomorrow"}),
        json!({"assistant_id": "echo", "schedule": "* * * * *", "stream_mode": "nope"}),
        json!([1, 2]),
    ] {
        assert_eq!(s.post("/runs/crons", body.clone()).await.0, 422, "{body}");
    }
    let (st, e) = s.post("/runs/crons", json!({"schedule": "* * * * *"})).await;
    assert_eq!((st, e), (422, detail("\"assistant_id\" is a required property")));
    // Unknown assistants: a name that is no graph, or a UUID that is no assistant.
    assert_eq!(
        s.post("/runs/crons", json!({"assistant_id": "nope", "schedule": "* * * * *"})).await,
        (404, detail("Assistant 'nope' not found"))
    );
    let ghost = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        s.post("/runs/crons", json!({"assistant_id": ghost, "schedule": "* * * * *"})).await,
        (404, detail(&format!("Assistant '{ghost}' not found")))
    );
    // Thread crons: the path id must be a UUID of an existing thread.
    assert_eq!(
        s.post(
            "/threads/nope/runs/crons",
            json!({"assistant_id": "echo", "schedule": "* * * * *"})
        )
        .await,
        (422, detail("Invalid thread ID: must be a UUID"))
    );
    let (st, e) = s
        .post(
            &format!("/threads/{ghost}/runs/crons"),
            json!({"assistant_id": "echo", "schedule": "* * * * *"}),
        )
        .await;
    assert_eq!(st, 404);
    assert!(
        e["detail"].as_str().unwrap().starts_with(&format!("Thread with ID '{ghost}' not found"))
    );
    // Cron ids.
    for method in [reqwest::Method::GET, reqwest::Method::PATCH, reqwest::Method::DELETE] {
        assert_eq!(
            s.send(method.clone(), "/runs/crons/nope", Some(json!({"enabled": false}))).await,
            (422, detail("Invalid cron ID: must be a UUID")),
            "{method}"
        );
    }
    assert_eq!(s.get(&format!("/runs/crons/{ghost}")).await, (404, detail("Not Found")));
    assert_eq!(
        s.send(reqwest::Method::DELETE, &format!("/runs/crons/{ghost}"), None).await,
        (404, detail("Not Found"))
    );
    assert_eq!(
        patch(&s, &ghost, json!({"enabled": false})).await,
        (404, detail(&format!("Cron '{ghost}' not found")))
    );
    assert_eq!(patch(&s, &ghost, json!({})).await, (400, detail("Request body cannot be empty")));
    // Search and count filters.
    assert_eq!(
        search(&s, json!({"assistant_id": "echo"})).await.1,
        detail("Invalid assistant ID: must be a UUID")
    );
    for body in [
        json!({"thread_id": "x"}),
        json!({"limit": 0}),
        json!({"limit": 1001}),
        json!({"offset": -1}),
        json!({"sort_by": "schedule"}),
        json!({"sort_order": "up"}),
        json!({"select": ["cron_id", "nope"]}),
        json!({"enabled": 1}),
    ] {
        assert_eq!(search(&s, body.clone()).await.0, 422, "{body}");
    }
    assert_eq!(s.post("/runs/crons/count", json!({"thread_id": "x"})).await.0, 422);
    // Nothing was stored along the way.
    assert_eq!(s.post("/runs/crons/count", json!({})).await, (200, json!(0)));
}

both!(crons_are_searched_counted_and_paged);
async fn crons_are_searched_counted_and_paged(backend: Backend) {
    let s = server(backend).await;
    let tid = thread(&s).await;
    let mut made = Vec::new();
    for (i, team) in ["a", "b", "a"].iter().enumerate() {
        let c = create(
            &s,
            "/runs/crons",
            json!({"assistant_id": "echo", "schedule": format!("{i} 0 * * *"), "metadata": {"team": team, "n": i}, "enabled": i != 1}),
        )
        .await;
        made.push(c["cron_id"].as_str().unwrap().to_string());
    }
    let t = create(
        &s,
        &format!("/threads/{tid}/runs/crons"),
        json!({"assistant_id": ECHO, "schedule": "30 * * * *"}),
    )
    .await;
    made.push(t["cron_id"].as_str().unwrap().to_string());

    // Newest first by default; the whole list fits: the total is real, no next page.
    let (st, all, total, next) = search(&s, json!({})).await;
    assert_eq!(st, 200);
    let newest_first: Vec<String> = made.iter().rev().cloned().collect();
    assert_eq!(ids(&all), newest_first);
    assert_eq!((total.as_deref(), next), (Some("4"), None));
    assert_eq!(keys(&all[0]), CRON_KEYS);

    // Paging + select (golden: limit 1 -> total 2, next 1).
    let (_, first, total, next) = search(
        &s,
        json!({"limit": 1, "offset": 0, "sort_by": "created_at", "sort_order": "asc", "select": ["next_run_date", "cron_id", "schedule"]}),
    )
    .await;
    assert_eq!(ids(&first), [made[0].clone()]);
    assert_eq!(
        keys(&first[0]),
        ["cron_id", "schedule", "next_run_date"],
        "selected fields, in the object's order"
    );
    assert_eq!((total.as_deref(), next.as_deref()), (Some("2"), Some("1")));
    let (_, page, total, next) =
        search(&s, json!({"limit": 2, "offset": 2, "sort_order": "asc", "sort_by": "cron_id"}))
            .await;
    assert_eq!(ids(&page), made[2..].to_vec());
    assert_eq!((total.as_deref(), next), (Some("4"), None));
    let (_, page, total, _) = search(&s, json!({"limit": 2, "offset": 10})).await;
    assert_eq!((page, total.as_deref()), (json!([]), Some("10")));

    // Filters.
    let (_, by_thread, _, _) = search(&s, json!({"thread_id": tid})).await;
    assert_eq!(ids(&by_thread), [made[3].clone()]);
    assert_eq!(ids(&search(&s, json!({"assistant_id": ECHO})).await.1).len(), 4);
    assert_eq!(
        search(&s, json!({"assistant_id": uuid::Uuid::new_v4().to_string()})).await.1,
        json!([])
    );
    assert_eq!(ids(&search(&s, json!({"enabled": false})).await.1), [made[1].clone()]);
    assert_eq!(ids(&search(&s, json!({"enabled": true})).await.1).len(), 3);
    assert_eq!(
        ids(&search(
            &s,
            json!({"metadata": {"team": "a"}, "sort_order": "asc", "sort_by": "created_at"})
        )
        .await
        .1),
        [made[0].clone(), made[2].clone()]
    );
    // Sorted by the next firing: 00:00, 00:01, 00:02 daily come after hh:30 hourly... or not;
    // whatever the clock, the order must follow next_run_date.
    let (_, by_next, _, _) =
        search(&s, json!({"sort_by": "next_run_date", "sort_order": "asc"})).await;
    let dates: Vec<DateTime<Utc>> =
        by_next.as_array().unwrap().iter().map(|c| date(&c["next_run_date"])).collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]), "{dates:?}");

    // Counts (no `enabled` filter there, as in the real server).
    assert_eq!(s.post("/runs/crons/count", json!({})).await, (200, json!(4)));
    assert_eq!(s.post("/runs/crons/count", json!({"thread_id": tid})).await, (200, json!(1)));
    assert_eq!(
        s.post("/runs/crons/count", json!({"assistant_id": ECHO, "metadata": {"team": "a"}})).await,
        (200, json!(2))
    );
    assert_eq!(s.post("/runs/crons/count", json!({"enabled": false})).await, (200, json!(4)));
}

both!(crons_are_patched_and_deleted);
async fn crons_are_patched_and_deleted(backend: Backend) {
    let s = server(backend).await;
    let c = create(
        &s,
        "/runs/crons",
        json!({"schedule": "*/15 * * * *", "input": {"text": "sdk cron"}, "assistant_id": "echo", "metadata": {"a": 1}}),
    )
    .await;
    let id = c["cron_id"].as_str().unwrap().to_string();

    // A new schedule moves the next firing (golden sdk_05: */15 -> */30).
    let (st, p) = patch(&s, &id, json!({"schedule": "*/30 * * * *"})).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(keys(&p), CRON_KEYS);
    assert_eq!(p["schedule"], "*/30 * * * *");
    assert_eq!(p["payload"]["schedule"], "*/30 * * * *");
    assert_eq!(keys(&p["payload"]), keys(&c["payload"]), "patched payload keys stay in place");
    assert_eq!(p["next_run_date"], at(next_multiple(date(&p["updated_at"]), 1800)));
    assert_eq!(p["created_at"], c["created_at"]);
    assert!(date(&p["updated_at"]) > date(&c["updated_at"]));

    // Golden 70: enabled false + new input; `enabled` joins the payload at its end.
    let (st, p) = patch(&s, &id, json!({"enabled": false, "input": {"text": "patched"}})).await;
    assert_eq!(st, 200);
    assert_eq!(p["enabled"], false);
    assert_eq!(p["payload"]["input"], json!({"text": "patched"}));
    assert_eq!(
        keys(&p["payload"]),
        ["schedule", "input", "assistant_id", "metadata", "config", "enabled"]
    );
    assert_eq!(p["payload"]["config"], json!({"configurable": {"cron_id": id}}));

    // end_time set, then cleared with an explicit null; metadata is merged.
    let (_, p) =
        patch(&s, &id, json!({"end_time": "2099-01-01T00:00:00Z", "metadata": {"b": 2}})).await;
    assert_eq!(p["end_time"], "2099-01-01T00:00:00Z");
    assert_eq!(p["metadata"], json!({"a": 1, "b": 2}));
    let (_, p) = patch(&s, &id, json!({"end_time": null})).await;
    assert_eq!(p["end_time"], Value::Null);
    // A time zone moves the next firing too (Kathmandu is 5:45 off UTC).
    let (_, p) = patch(&s, &id, json!({"timezone": "Asia/Kathmandu"})).await;
    assert_eq!(p["timezone"], "Asia/Kathmandu");
    let offset = 5 * 3600 + 45 * 60;
    let local = date(&p["updated_at"]) + chrono::Duration::seconds(offset);
    assert_eq!(p["next_run_date"], at(next_multiple(local, 1800) - offset));

    // Bad patches change nothing.
    assert_eq!(patch(&s, &id, json!({"timezone": "Mars/Olympus"})).await.0, 422);
    assert_eq!(patch(&s, &id, json!({"schedule": "nope"})).await.0, 422);
    assert_eq!(patch(&s, &id, json!({"enabled": "no"})).await.0, 422);
    assert_eq!(s.get(&format!("/runs/crons/{id}")).await, (200, p));

    assert_eq!(s.send(reqwest::Method::DELETE, &format!("/runs/crons/{id}"), None).await.0, 204);
    assert_eq!(s.get(&format!("/runs/crons/{id}")).await.0, 404);
    assert_eq!(s.send(reqwest::Method::DELETE, &format!("/runs/crons/{id}"), None).await.0, 404);
}

both!(deleting_an_assistant_or_a_thread_deletes_its_crons);
async fn deleting_an_assistant_or_a_thread_deletes_its_crons(backend: Backend) {
    let s = server(backend).await;
    let (_, a) = s.post("/assistants", json!({"graph_id": "echo", "name": "mine"})).await;
    let aid = a["assistant_id"].as_str().unwrap().to_string();
    let mine =
        create(&s, "/runs/crons", json!({"assistant_id": aid, "schedule": "0 0 * * *"})).await;
    assert_eq!(mine["assistant_id"], aid.as_str());
    let tid = thread(&s).await;
    let on_thread = create(
        &s,
        &format!("/threads/{tid}/runs/crons"),
        json!({"assistant_id": "echo", "schedule": "0 0 * * *"}),
    )
    .await;
    let other =
        create(&s, "/runs/crons", json!({"assistant_id": "echo", "schedule": "0 0 * * *"})).await;
    assert_eq!(s.post("/runs/crons/count", json!({})).await.1, json!(3));

    assert_eq!(s.send(reqwest::Method::DELETE, &format!("/assistants/{aid}"), None).await.0, 204);
    assert_eq!(s.get(&format!("/runs/crons/{}", mine["cron_id"].as_str().unwrap())).await.0, 404);
    assert_eq!(s.send(reqwest::Method::DELETE, &format!("/threads/{tid}"), None).await.0, 204);
    assert_eq!(
        s.get(&format!("/runs/crons/{}", on_thread["cron_id"].as_str().unwrap())).await.0,
        404
    );
    assert_eq!(ids(&search(&s, json!({})).await.1), [other["cron_id"].as_str().unwrap()]);
}

both!(a_thread_cron_fires_an_ordinary_run_on_its_thread);
async fn a_thread_cron_fires_an_ordinary_run_on_its_thread(backend: Backend) {
    let s = server(backend).await;
    let tid = thread(&s).await;
    let before = Utc::now();
    let c = create(
        &s,
        &format!("/threads/{tid}/runs/crons"),
        json!({"assistant_id": "echo", "schedule": "* * * * *", "input": human("tick"), "metadata": {"from": "cron"}}),
    )
    .await;
    let id = c["cron_id"].as_str().unwrap().to_string();
    assert_eq!(c["next_run_date"], at(next_multiple(date(&c["created_at"]), 60)));
    assert!(s.state.fire_due_crons(before).await.unwrap().is_empty(), "not due yet");

    let now = Utc::now() + chrono::Duration::seconds(61);
    let fired = s.state.fire_due_crons(now).await.unwrap();
    assert_eq!(fired.len(), 1);
    assert_eq!(
        (fired[0].cron_id.as_str(), fired[0].thread_id.as_str()),
        (id.as_str(), tid.as_str())
    );
    assert!(s.state.fire_due_crons(now).await.unwrap().is_empty(), "a slot fires once");

    let run = finished_run(&s, &tid, &fired[0].run_id).await;
    assert_eq!(run["status"], "success");
    assert_eq!(run["assistant_id"], ECHO);
    assert_eq!(run["multitask_strategy"], "enqueue");
    assert_eq!(run["kwargs"]["config"]["configurable"]["cron_id"], id.as_str());
    assert_eq!(run["kwargs"]["temporary"], false);
    assert_eq!(run["metadata"]["from"], "cron", "the cron's metadata goes to its runs");
    let (_, state) = s.get(&format!("/threads/{tid}/state")).await;
    let contents = crate::contents(&state["values"]["messages"]);
    assert_eq!(contents, ["tick", "tick"]);
    let (_, runs) = s.get(&format!("/threads/{tid}/runs")).await;
    assert_eq!(runs.as_array().unwrap().len(), 1);

    // The next slot is the first one after the firing.
    let (_, after) = s.get(&format!("/runs/crons/{id}")).await;
    assert_eq!(after["next_run_date"], at(next_multiple(now, 60)));
    assert!(date(&after["next_run_date"]) > date(&c["next_run_date"]));
    assert_eq!(after["updated_at"], c["updated_at"], "firing is not an update");
    assert_eq!(s.get(&format!("/threads/{tid}")).await.1["status"], "idle");
}

both!(a_stateless_cron_runs_on_a_new_thread_deleted_unless_kept);
async fn a_stateless_cron_runs_on_a_new_thread_deleted_unless_kept(backend: Backend) {
    let s = server(backend).await;
    let dropped = create(
        &s,
        "/runs/crons",
        json!({"assistant_id": "echo", "schedule": "* * * * *", "input": human("tock")}),
    )
    .await;
    let kept = create(
        &s,
        "/runs/crons",
        json!({"assistant_id": "echo", "schedule": "* * * * *", "input": human("kept"), "on_run_completed": "keep", "metadata": {"src": "cron"}, "context": {"delay_ms": 1}}),
    )
    .await;
    let now = Utc::now() + chrono::Duration::seconds(61);
    let mut fired = s.state.fire_due_crons(now).await.unwrap();
    fired.sort_by_key(|f| f.cron_id != dropped["cron_id"].as_str().unwrap());
    assert_eq!(fired.len(), 2);
    assert_ne!(fired[0].thread_id, fired[1].thread_id);

    // Kept: the run succeeded on a thread that stays, tagged with its graph and the cron's metadata.
    let k = &fired[1];
    assert_eq!(k.cron_id, kept["cron_id"].as_str().unwrap());
    let run = finished_run(&s, &k.thread_id, &k.run_id).await;
    assert_eq!(run["status"], "success");
    assert_eq!(run["kwargs"]["temporary"], false);
    assert_eq!(run["kwargs"]["config"]["configurable"]["cron_id"], kept["cron_id"]);
    assert_eq!(run["kwargs"]["context"], json!({"delay_ms": 1}));
    let (st, t) = s.get(&format!("/threads/{}", k.thread_id)).await;
    assert_eq!(st, 200);
    assert_eq!(t["metadata"], json!({"src": "cron", "graph_id": "echo", "assistant_id": ECHO}));
    assert_eq!(t["values"]["messages"][1]["content"], "kept");

    // Deleted: the run's thread goes once the run has ended.
    let d = &fired[0];
    let mut gone = false;
    for _ in 0..500 {
        if s.get(&format!("/threads/{}", d.thread_id)).await.0 == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the temporary thread of a delete cron is deleted after its run");
    assert_eq!(
        s.post("/threads/count", json!({})).await.1,
        json!(1),
        "only the kept thread is left"
    );
    // Both crons stay, moved to their next slot.
    let (_, all, _, _) = search(&s, json!({})).await;
    for c in all.as_array().unwrap() {
        assert_eq!(c["next_run_date"], at(next_multiple(now, 60)));
    }
}

both!(disabled_and_ended_crons_do_not_fire);
async fn disabled_and_ended_crons_do_not_fire(backend: Backend) {
    let s = server(backend).await;
    let tid = thread(&s).await;
    let path = format!("/threads/{tid}/runs/crons");
    let off = create(&s, &path, json!({"assistant_id": "echo", "schedule": "* * * * *", "input": human("off"), "enabled": false})).await;
    let end = (Utc::now() + chrono::Duration::seconds(30)).to_rfc3339();
    let ended = create(&s, "/runs/crons", json!({"assistant_id": "echo", "schedule": "* * * * *", "input": human("late"), "end_time": end})).await;
    let now = Utc::now() + chrono::Duration::seconds(61);
    assert!(s.state.fire_due_crons(now).await.unwrap().is_empty());
    for c in [&off, &ended] {
        let id = c["cron_id"].as_str().unwrap();
        assert_eq!(
            s.get(&format!("/runs/crons/{id}")).await.1["next_run_date"],
            c["next_run_date"],
            "a skipped cron keeps its slot"
        );
    }
    assert_eq!(s.get(&format!("/threads/{tid}/runs")).await.1, json!([]));

    // Enabled again / end time cleared: both fire at the same moment.
    let off_id = off["cron_id"].as_str().unwrap();
    let ended_id = ended["cron_id"].as_str().unwrap();
    assert_eq!(patch(&s, off_id, json!({"enabled": true})).await.0, 200);
    assert_eq!(patch(&s, ended_id, json!({"end_time": null})).await.0, 200);
    let fired = s.state.fire_due_crons(now).await.unwrap();
    let mut fired_ids: Vec<&str> = fired.iter().map(|f| f.cron_id.as_str()).collect();
    fired_ids.sort_unstable();
    let mut expected = vec![off_id, ended_id];
    expected.sort_unstable();
    assert_eq!(fired_ids, expected);
}

both!(concurrent_schedulers_fire_each_slot_once);
async fn concurrent_schedulers_fire_each_slot_once(backend: Backend) {
    let s = server(backend).await;
    let mut made = Vec::new();
    for i in 0..6 {
        let c = create(&s, "/runs/crons", json!({"assistant_id": "echo", "schedule": "* * * * *", "input": human(&format!("c{i}")), "on_run_completed": "keep"})).await;
        made.push(c["cron_id"].as_str().unwrap().to_string());
    }
    let now = Utc::now() + chrono::Duration::seconds(61);
    let (a, b) = tokio::join!(s.state.fire_due_crons(now), s.state.fire_due_crons(now));
    let mut fired: Vec<String> =
        a.unwrap().into_iter().chain(b.unwrap()).map(|f| f.cron_id).collect();
    fired.sort();
    made.sort();
    assert_eq!(fired, made, "every slot fired exactly once");
    assert_eq!(s.post("/threads/count", json!({})).await.1, json!(6));
}
