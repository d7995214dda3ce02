//! Crons (`api-contract.md` §2.5): stateless and thread crons, search, count, get, patch,
//! delete. Bodies are checked against the `CronCreate` / `ThreadCronCreate` / `CronPatch` /
//! `CronSearch` / `CronCountRequest` schemas; validation errors are 422 with the JSON Schema
//! validator's wording (clients only look at the status).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use orrery_api::STREAM_MODES;
use serde_json::{Map, Value, json};

use super::openapi::Method::{Delete, Get, Patch, Post};
use super::openapi::Schema::{ArrayOf, Inline, Ref};
use super::openapi::{Endpoint, Reply};
use super::{ApiError, Body, check_uuid, contains, json_with};
use crate::AppState;
use crate::crons::{
    checked_next_run, cron_json, invalid_schedule, parse_end_time, parse_timezone, set_cron_id,
    strip_reserved,
};
use crate::db::{CronInsert, CronRow, NO_END};
use crate::graphs::system_assistant_id;

pub(crate) fn endpoints() -> Vec<Endpoint> {
    const C: &str = "Crons";
    vec![
        Endpoint::new(Post, "/runs/crons", create_cron, C, "Create a cron")
            .describe("Each firing runs on a new thread, deleted after the run unless `on_run_completed` is `keep`.")
            .body(Ref("CronCreate"))
            .json(Ref("Cron"))
            .errors(&[404, 422]),
        Endpoint::new(Post, "/threads/{thread_id}/runs/crons", create_thread_cron, C, "Create a cron on a thread")
            .describe("Each firing is an ordinary run on the thread.")
            .body(Ref("ThreadCronCreate"))
            .json(Ref("Cron"))
            .errors(&[404, 422]),
        Endpoint::new(Post, "/runs/crons/search", search_crons, C, "Search crons")
            .describe("Newest first by default, with pagination headers. With `select`, each object has only the fields named.")
            .body(Ref("CronSearch"))
            .json(ArrayOf("Cron"))
            .errors(&[422]),
        Endpoint::new(Post, "/runs/crons/count", count_crons, C, "Count crons")
            .body(Ref("CronCountRequest"))
            .json(Inline(r#"{"type": "integer"}"#))
            .errors(&[422]),
        Endpoint::new(Get, "/runs/crons/{cron_id}", get_cron, C, "Get a cron")
            .json(Ref("Cron"))
            .errors(&[404, 422]),
        Endpoint::new(Patch, "/runs/crons/{cron_id}", patch_cron, C, "Update a cron")
            .describe("An empty body is 400; `end_time: null` removes the end time.")
            .body(Ref("CronPatch"))
            .json(Ref("Cron"))
            .errors(&[400, 404, 422]),
        Endpoint::new(Delete, "/runs/crons/{cron_id}", delete_cron, C, "Delete a cron")
            .reply(Reply::Empty(204))
            .errors(&[404, 422]),
    ]
}

// ------------------------------------------------------------------------------ validation

const SORT_BY: [&str; 7] = [
    "cron_id",
    "assistant_id",
    "thread_id",
    "next_run_date",
    "end_time",
    "created_at",
    "updated_at",
];
const SELECT: [&str; 14] = [
    "cron_id",
    "assistant_id",
    "thread_id",
    "on_run_completed",
    "end_time",
    "schedule",
    "timezone",
    "created_at",
    "updated_at",
    "user_id",
    "payload",
    "next_run_date",
    "metadata",
    "enabled",
];

/// What a body field must be.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Object,
    Bool,
    /// An object, or an array of objects.
    Input,
    /// `"*"` or an array of node names.
    Breakpoints,
    /// A stream mode or an array of them.
    StreamMode,
    OneOf(&'static [&'static str]),
    DateTime,
    /// A date-time or `null` (PATCH: `null` clears the end time).
    NullableDateTime,
    Webhook,
    Config,
    Uuid,
    Limit,
    Offset,
    Select,
}

fn invalid(detail: String) -> ApiError {
    ApiError::unprocessable(detail)
}

fn not_of_type(v: &Value, t: &str) -> ApiError {
    invalid(format!("{v} is not of type \"{t}\""))
}

fn not_one_of(v: &Value, allowed: &[&str]) -> ApiError {
    invalid(format!("{v} is not one of {}", json!(allowed)))
}

fn any_of(v: &Value) -> ApiError {
    invalid(format!("{v} is not valid under any of the schemas listed in the 'anyOf' keyword"))
}

fn check(v: &Value, kind: Kind) -> Result<(), ApiError> {
    let strings_in = |v: &Value, allowed: &[&str]| v.as_str().is_some_and(|s| allowed.contains(&s));
    match kind {
        Kind::Str => v.as_str().map(|_| ()).ok_or_else(|| not_of_type(v, "string")),
        Kind::Object => v.as_object().map(|_| ()).ok_or_else(|| not_of_type(v, "object")),
        Kind::Bool => v.as_bool().map(|_| ()).ok_or_else(|| not_of_type(v, "boolean")),
        Kind::Input => match v {
            Value::Object(_) => Ok(()),
            Value::Array(a) if a.iter().all(Value::is_object) => Ok(()),
            _ => Err(any_of(v)),
        },
        Kind::Breakpoints => match v {
            Value::String(s) if s == "*" => Ok(()),
            Value::Array(a) if a.iter().all(Value::is_string) => Ok(()),
            _ => Err(any_of(v)),
        },
        Kind::StreamMode => match v {
            Value::String(_) if strings_in(v, &STREAM_MODES) => Ok(()),
            Value::Array(a) if a.iter().all(|m| strings_in(m, &STREAM_MODES)) => Ok(()),
            _ => Err(any_of(v)),
        },
        Kind::OneOf(allowed) => {
            if strings_in(v, allowed) {
                Ok(())
            } else {
                Err(not_one_of(v, allowed))
            }
        }
        Kind::DateTime => match v.as_str() {
            Some(s) if parse_end_time(s).is_some() => Ok(()),
            Some(_) => Err(invalid(format!("{v} is not a \"date-time\""))),
            None => Err(not_of_type(v, "string")),
        },
        Kind::NullableDateTime if v.is_null() => Ok(()),
        Kind::NullableDateTime => check(v, Kind::DateTime),
        Kind::Webhook => match v.as_str() {
            Some("") => Err(invalid(format!("{v} is shorter than 1 character"))),
            Some(s) if s.chars().count() > 65_536 => {
                Err(invalid(format!("{v} is longer than 65536 characters")))
            }
            Some(_) => Ok(()),
            None => Err(not_of_type(v, "string")),
        },
        Kind::Config => {
            let Some(c) = v.as_object() else { return Err(not_of_type(v, "object")) };
            if let Some(t) = c.get("tags") {
                match t.as_array() {
                    Some(a) => {
                        for x in a {
                            check(x, Kind::Str)?;
                        }
                    }
                    None => return Err(not_of_type(t, "array")),
                }
            }
            if let Some(r) = c.get("recursion_limit")
                && !r.is_i64()
                && !r.is_u64()
            {
                return Err(not_of_type(r, "integer"));
            }
            if let Some(c) = c.get("configurable") {
                check(c, Kind::Object)?;
            }
            Ok(())
        }
        Kind::Uuid => match v.as_str() {
            Some(_) => Ok(()),
            None => Err(not_of_type(v, "string")),
        },
        Kind::Limit => match v.as_i64() {
            Some(n) if n < 1 => Err(invalid(format!("{v} is less than the minimum of 1"))),
            Some(n) if n > 1000 => Err(invalid(format!("{v} is greater than the maximum of 1000"))),
            Some(_) => Ok(()),
            None => Err(not_of_type(v, "integer")),
        },
        Kind::Offset => match v.as_i64() {
            Some(n) if n < 0 => Err(invalid(format!("{v} is less than the minimum of 0"))),
            Some(_) => Ok(()),
            None => Err(not_of_type(v, "integer")),
        },
        Kind::Select => {
            let Some(a) = v.as_array() else { return Err(not_of_type(v, "array")) };
            for x in a {
                if !strings_in(x, &SELECT) {
                    return Err(not_one_of(x, &SELECT));
                }
            }
            Ok(())
        }
    }
}

/// The fields every cron write schema shares.
const PAYLOAD_FIELDS: [(&str, Kind); 14] = [
    ("schedule", Kind::Str),
    ("timezone", Kind::Str),
    ("input", Kind::Input),
    ("metadata", Kind::Object),
    ("config", Kind::Config),
    ("context", Kind::Object),
    ("webhook", Kind::Webhook),
    ("interrupt_before", Kind::Breakpoints),
    ("interrupt_after", Kind::Breakpoints),
    ("enabled", Kind::Bool),
    ("stream_mode", Kind::StreamMode),
    ("stream_subgraphs", Kind::Bool),
    ("stream_resumable", Kind::Bool),
    ("durability", Kind::OneOf(&["sync", "async", "exit"])),
];

/// A JSON object body whose listed fields have the right kinds (`required` must be present).
fn validated(
    body: Value,
    required: &[&str],
    fields: &[(&str, Kind)],
) -> Result<Map<String, Value>, ApiError> {
    let Value::Object(body) = body else { return Err(not_of_type(&body, "object")) };
    for k in required {
        if !body.contains_key(*k) {
            return Err(invalid(format!("\"{k}\" is a required property")));
        }
    }
    for (k, kind) in fields {
        if let Some(v) = body.get(*k) {
            check(v, *kind)?;
        }
    }
    Ok(body)
}

// ------------------------------------------------------------------------------ handlers

/// A timestamp as the API shows them (microseconds, `+00:00`).
fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

async fn create_cron(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    create(&st, None, body).await
}

async fn create_thread_cron(
    State(st): State<Arc<AppState>>,
    Path(tid): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    check_uuid(&tid, "thread")?;
    create(&st, Some(&tid), body).await
}

/// A cron's webhook must pass the server's webhook policy, as a run's does.
async fn check_webhook(st: &AppState, payload: &Map<String, Value>) -> Result<(), ApiError> {
    match payload.get("webhook").and_then(Value::as_str) {
        Some(url) => st.webhooks.policy().check(url).await.map_err(ApiError::unprocessable),
        None => Ok(()),
    }
}

async fn create(st: &AppState, thread_id: Option<&str>, body: Value) -> Result<Response, ApiError> {
    let mut payload = validated(body, &["assistant_id", "schedule"], &PAYLOAD_FIELDS)?;
    check_webhook(st, &payload).await?;
    let own = match thread_id {
        None => ("on_run_completed", Kind::OneOf(&["delete", "keep"])),
        Some(_) => {
            ("multitask_strategy", Kind::OneOf(&["reject", "rollback", "interrupt", "enqueue"]))
        }
    };
    for (k, kind) in [("assistant_id", Kind::Str), ("end_time", Kind::DateTime), own] {
        if let Some(v) = payload.get(k) {
            check(v, kind)?;
        }
    }
    strip_reserved(&mut payload);

    // A graph name or a UUID (404 otherwise, as the real server answers for crons).
    let assistant_ref = payload.get("assistant_id").and_then(Value::as_str).unwrap_or_default();
    let assistant_id = if st.registry.get(assistant_ref).is_some() {
        system_assistant_id(assistant_ref)
    } else {
        match uuid::Uuid::parse_str(assistant_ref) {
            Ok(u) => u.to_string(),
            Err(_) => {
                return Err(ApiError::not_found(format!("Assistant '{assistant_ref}' not found")));
            }
        }
    };
    let timezone = payload.get("timezone").and_then(Value::as_str).map(str::to_string);
    if let Some(tz) = &timezone {
        parse_timezone(tz)?;
    }
    let cron_id = uuid::Uuid::now_v7().to_string();
    set_cron_id(&mut payload, &cron_id);
    let schedule = payload.get("schedule").and_then(Value::as_str).unwrap_or_default().to_string();
    let now = chrono::Utc::now();
    let next_run_at = checked_next_run(&schedule, timezone.as_deref(), now)?;
    payload.insert("assistant_id".into(), json!(assistant_id));

    let end_time = payload.get("end_time").and_then(Value::as_str).map(str::to_string);
    let end_at = end_time.as_deref().and_then(parse_end_time).unwrap_or(NO_END);
    let created_at = iso(now);
    let row = CronRow {
        cron_id,
        assistant_id: assistant_id.clone(),
        thread_id: thread_id.map(str::to_string),
        user_id: String::new(),
        end_time,
        end_at,
        schedule,
        timezone,
        metadata: payload.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default(),
        on_run_completed: match thread_id {
            Some(_) => None,
            None => Some(
                payload
                    .get("on_run_completed")
                    .and_then(Value::as_str)
                    .unwrap_or("delete")
                    .to_string(),
            ),
        },
        enabled: payload.get("enabled").and_then(Value::as_bool).unwrap_or(true),
        payload,
        next_run_at,
        created_at: created_at.clone(),
        updated_at: created_at,
    };
    match st.db.insert_cron(&row).await? {
        CronInsert::Inserted => Ok(axum::Json(cron_json(&row)).into_response()),
        CronInsert::NoAssistant => {
            Err(ApiError::not_found(format!("Assistant '{assistant_id}' not found")))
        }
        CronInsert::NoThread => Err(ApiError::not_found(format!(
            "Thread with ID '{}' not found. Please verify the ID is correct and the thread hasn't been deleted or expired.",
            thread_id.unwrap_or_default()
        ))),
    }
}

async fn get_cron(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    check_uuid(&id, "cron")?;
    let c = st.db.get_cron(&id).await?.ok_or_else(|| ApiError::not_found("Not Found"))?;
    Ok(axum::Json(cron_json(&c)).into_response())
}

async fn delete_cron(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    check_uuid(&id, "cron")?;
    if !st.db.delete_cron(&id).await? {
        return Err(ApiError::not_found("Not Found"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Applies a validated patch to a cron read at `now` (the real server's `Crons.update`).
fn patched(
    mut c: CronRow,
    patch: &Map<String, Value>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<CronRow, ApiError> {
    let timezone = patch.get("timezone").and_then(Value::as_str);
    if let Some(tz) = timezone {
        c.timezone = Some(tz.to_string());
    }
    if let Some(schedule) = patch.get("schedule").and_then(Value::as_str) {
        c.next_run_at = checked_next_run(schedule, c.timezone.as_deref(), now)
            .map_err(|_| invalid_schedule(schedule))?;
        c.schedule = schedule.to_string();
    } else if timezone.is_some() {
        c.next_run_at = checked_next_run(&c.schedule, c.timezone.as_deref(), now)?;
    }
    match patch.get("end_time") {
        Some(Value::Null) => {
            c.end_time = None;
            c.end_at = NO_END;
        }
        Some(Value::String(s)) => {
            c.end_at = parse_end_time(s).unwrap_or(NO_END);
            c.end_time = Some(s.clone());
        }
        _ => {}
    }
    if let Some(e) = patch.get("enabled").and_then(Value::as_bool) {
        c.enabled = e;
    }
    if let Some(o) = patch.get("on_run_completed").and_then(Value::as_str) {
        c.on_run_completed = Some(o.to_string());
    }
    if let Some(Value::Object(m)) = patch.get("metadata") {
        c.metadata.extend(m.clone());
    }
    // The payload takes every patched field (shallow), keeping its assistant and cron id.
    let assistant = c.payload.get("assistant_id").cloned();
    for (k, v) in patch {
        c.payload.insert(k.clone(), v.clone());
    }
    if let Some(a) = assistant {
        c.payload.insert("assistant_id".into(), a);
    }
    set_cron_id(&mut c.payload, &c.cron_id);
    c.updated_at = iso(now);
    Ok(c)
}

async fn patch_cron(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    check_uuid(&id, "cron")?;
    let mut patch = validated(body, &[], &PAYLOAD_FIELDS)?;
    check_webhook(&st, &patch).await?;
    for (k, kind) in [
        ("end_time", Kind::NullableDateTime),
        ("on_run_completed", Kind::OneOf(&["delete", "keep"])),
    ] {
        if let Some(v) = patch.get(k) {
            check(v, kind)?;
        }
    }
    if patch.is_empty() {
        return Err(ApiError::bad_request("Request body cannot be empty"));
    }
    strip_reserved(&mut patch);
    if let Some(tz) = patch.get("timezone").and_then(Value::as_str) {
        parse_timezone(tz)?;
    }
    // Optimistic: the write only lands if nobody (a scheduler firing, another patch) changed
    // the cron since it was read; then the patch is applied again to the fresh row.
    for _ in 0..16 {
        let read = st
            .db
            .get_cron(&id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("Cron '{id}' not found")))?;
        let new = patched(read.clone(), &patch, chrono::Utc::now())?;
        if st.db.replace_cron(&new, &read).await? {
            return Ok(axum::Json(cron_json(&new)).into_response());
        }
    }
    Err(ApiError::conflict("Conflict"))
}

/// `assistant_id` / `thread_id` filters: UUIDs (an empty string is no filter).
fn id_filter<'a>(
    body: &'a Map<String, Value>,
    key: &str,
    what: &str,
) -> Result<Option<&'a str>, ApiError> {
    match body.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()) {
        Some(id) => {
            check_uuid(id, what)?;
            Ok(Some(id))
        }
        None => Ok(None),
    }
}

async fn filtered(
    st: &AppState,
    body: &Map<String, Value>,
    enabled: Option<bool>,
) -> Result<Vec<CronRow>, ApiError> {
    let assistant_id = id_filter(body, "assistant_id", "assistant")?;
    let thread_id = id_filter(body, "thread_id", "thread")?;
    let metadata = body.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default();
    Ok(st
        .db
        .list_crons(assistant_id, thread_id, enabled)
        .await?
        .into_iter()
        .filter(|c| contains(&c.metadata, &metadata))
        .collect())
}

async fn search_crons(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let body = validated(
        body,
        &[],
        &[
            ("assistant_id", Kind::Uuid),
            ("thread_id", Kind::Uuid),
            ("enabled", Kind::Bool),
            ("metadata", Kind::Object),
            ("limit", Kind::Limit),
            ("offset", Kind::Offset),
            ("sort_by", Kind::OneOf(&SORT_BY)),
            ("sort_order", Kind::OneOf(&["asc", "desc"])),
            ("select", Kind::Select),
        ],
    )?;
    let enabled = body.get("enabled").and_then(Value::as_bool);
    let mut items = filtered(&st, &body, enabled).await?;
    let limit = body.get("limit").and_then(Value::as_u64).unwrap_or(10) as usize;
    let offset = body.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;

    // Newest first unless told otherwise; ties by id (UUIDv7, so creation order).
    let sort_by = body.get("sort_by").and_then(Value::as_str);
    let asc = sort_by.is_some() && body.get("sort_order").and_then(Value::as_str) == Some("asc");
    let text_key = |s: Option<&String>| s.map_or_else(|| "none".to_string(), |s| s.to_lowercase());
    items.sort_by(|a, b| {
        let primary = match sort_by {
            Some("cron_id") => a.cron_id.to_lowercase().cmp(&b.cron_id.to_lowercase()),
            Some("assistant_id") => {
                a.assistant_id.to_lowercase().cmp(&b.assistant_id.to_lowercase())
            }
            Some("thread_id") => {
                text_key(a.thread_id.as_ref()).cmp(&text_key(b.thread_id.as_ref()))
            }
            Some("next_run_date") => a.next_run_at.cmp(&b.next_run_at),
            Some("end_time") => {
                let k = |c: &CronRow| if c.end_at == NO_END { i64::MIN } else { c.end_at };
                k(a).cmp(&k(b))
            }
            Some("updated_at") => a.updated_at.cmp(&b.updated_at),
            _ => a.created_at.cmp(&b.created_at),
        };
        primary.then_with(|| a.cron_id.cmp(&b.cron_id))
    });
    if !asc {
        items.reverse();
    }

    let total = items.len();
    let page: Vec<&CronRow> = items.iter().skip(offset).take(limit).collect();
    let mut headers = Vec::new();
    if offset + limit < total {
        headers.push(("x-pagination-total", (offset + limit + 1).to_string()));
        headers.push(("x-pagination-next", (offset + limit).to_string()));
    } else {
        headers.push(("x-pagination-total", (offset + page.len()).to_string()));
    }
    let select: Option<Vec<&str>> = body
        .get("select")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .filter(|s: &Vec<&str>| !s.is_empty());
    let out: Vec<Value> = page
        .into_iter()
        .map(|c| {
            let mut v = cron_json(c);
            if let (Some(select), Some(o)) = (&select, v.as_object_mut()) {
                o.retain(|k, _| select.contains(&k.as_str()));
            }
            v
        })
        .collect();
    Ok(json_with(out, &headers))
}

async fn count_crons(
    State(st): State<Arc<AppState>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let body = validated(
        body,
        &[],
        &[("assistant_id", Kind::Uuid), ("thread_id", Kind::Uuid), ("metadata", Kind::Object)],
    )?;
    // Like the real server, the count has no `enabled` filter.
    Ok(axum::Json(filtered(&st, &body, None).await?.len()).into_response())
}
