//! Crons: schedules (five-field cron patterns, optionally in an IANA time zone), the API's cron
//! object, and the scheduler that fires due crons (`api-contract.md` §2.5).
//!
//! A firing claims its slot and creates its run in one transaction ([`Db::fire_cron`]): the
//! claim is a conditional UPDATE of `next_run_at`, so processes sharing a PostgreSQL database
//! never fire one slot twice. As in LangGraph, the next slot is the first one after the moment of
//! firing: slots missed while no server ran are not caught up.
//!
//! [`Db::fire_cron`]: crate::db::Db::fire_cron

use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use croner::parser::{CronParser, Seconds, Year};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::db::{CronFiring, CronJob, CronRow, DbError};
use crate::http::ApiError;
use crate::http::runs::{run_request, tag_thread};
use crate::runs::{new_run, new_thread};

/// The `next_run_at` of a cron whose schedule has no next slot (9999-12-31T23:59:59Z).
const NEVER: i64 = 253_402_300_799;

/// Crons claimed per database round trip.
const BATCH: i64 = 100;

/// Keys the server owns in `configurable` / `context`: silently dropped from requests.
const RESERVED_CONFIGURABLE: [&str; 13] = [
    "langgraph_auth_user",
    "langgraph_auth_user_id",
    "langgraph_auth_permissions",
    "langgraph_request_id",
    "__langsmith_project__",
    "__langsmith_example_id__",
    "__request_start_time_ms__",
    "__after_seconds__",
    "__otel_traceparent__",
    "__otel_tracestate__",
    "__dd_trace_headers__",
    "__pregel_node_finished",
    "__context_provided__",
];

/// Keys the server owns in `metadata`: silently dropped from requests.
const RESERVED_METADATA: [&str; 5] =
    ["thread_id", "assistant_id", "run_id", "cron_id", "counters_since_delta_snapshot"];

/// Drops reserved keys from a write body (top-level and `config.` `metadata`,
/// `config.configurable`, `context`), as the real server does instead of rejecting them.
pub(crate) fn strip_reserved(body: &mut Map<String, Value>) {
    let drop = |m: Option<&mut Value>, keys: &[&str]| {
        if let Some(Value::Object(m)) = m {
            m.retain(|k, _| !keys.contains(&k.as_str()));
        }
    };
    drop(body.get_mut("metadata"), &RESERVED_METADATA);
    if let Some(Value::Object(config)) = body.get_mut("config") {
        drop(config.get_mut("metadata"), &RESERVED_METADATA);
        drop(config.get_mut("configurable"), &RESERVED_CONFIGURABLE);
    }
    drop(body.get_mut("configurable"), &RESERVED_CONFIGURABLE);
    drop(body.get_mut("context"), &RESERVED_CONFIGURABLE);
}

// ------------------------------------------------------------------------------ schedules

/// A parsed cron pattern: five fields (minute hour day-of-month month day-of-week) or a
/// nickname (`@hourly`, `@daily`, `@midnight`, `@weekly`, `@monthly`, `@yearly`, `@annually`).
/// Day-of-month and day-of-week combine with OR when both are restricted, as in vixie cron and
/// croniter.
fn parse_pattern(schedule: &str) -> Option<croner::Cron> {
    let trimmed = schedule.trim();
    let pattern = if trimmed.eq_ignore_ascii_case("@midnight") { "0 0 * * *" } else { trimmed };
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .sloppy_ranges(true)
        .build()
        .parse(pattern)
        .ok()
}

/// `422 Invalid cron schedule: ...`, worded as the real server words it.
pub(crate) fn invalid_schedule(schedule: &str) -> ApiError {
    ApiError::unprocessable(format!(
        "Invalid cron schedule: '{schedule}'. Reason: Invalid cron schedule. Ensure the schedule uses the standard cron format (minute hour day_of_month month day_of_week). Example: '*/5 * * * *' for every 5 minutes."
    ))
}

/// The IANA time zone named `name` (exactly: the bundled database would also match other
/// cases, chrono-tz and Python's `zoneinfo` do not), or `None`.
///
/// The database is jiff's bundled copy: compact TZif data in one read-only blob, read only
/// when a cron names a zone. (chrono-tz, used before, keeps its tables as Rust statics full of
/// pointers that the loader relocates, about a megabyte of the process's memory at every
/// start, used or not.)
fn time_zone(name: &str) -> Option<jiff::tz::TimeZone> {
    static DB: std::sync::OnceLock<jiff::tz::TimeZoneDatabase> = std::sync::OnceLock::new();
    let tz = DB.get_or_init(jiff::tz::TimeZoneDatabase::bundled).get(name).ok()?;
    (tz.iana_name() == Some(name) && !tz.is_unknown()).then_some(tz)
}

/// An IANA time zone, or `422 Invalid timezone: ...`.
pub(crate) fn parse_timezone(tz: &str) -> Result<jiff::tz::TimeZone, ApiError> {
    time_zone(tz).ok_or_else(|| {
        ApiError::unprocessable(format!(
            "Invalid timezone: '{tz}'. Use IANA timezone format (e.g. 'America/New_York')."
        ))
    })
}

/// The first slot of `schedule` strictly after `after`, in unix seconds; the pattern is read in
/// `timezone` (UTC without one). `None` when the schedule or zone is invalid or has no next slot.
pub fn next_run(schedule: &str, timezone: Option<&str>, after: DateTime<Utc>) -> Option<i64> {
    let cron = parse_pattern(schedule)?;
    let tz = match timezone {
        Some(t) => time_zone(t)?,
        None => jiff::tz::TimeZone::UTC,
    };
    // A leap second (chrono's nanoseconds past 999,999,999) counts as the second's last instant.
    let nanos =
        i32::try_from(after.timestamp_subsec_nanos()).unwrap_or(999_999_999).min(999_999_999);
    let local = jiff::Timestamp::new(after.timestamp(), nanos).ok()?.to_zoned(tz);
    cron.find_next_occurrence(&local, false).ok().map(|t| t.timestamp().as_second())
}

/// A validated schedule's next slot after `now`, or the 422 the real server answers.
pub(crate) fn checked_next_run(
    schedule: &str,
    timezone: Option<&str>,
    now: DateTime<Utc>,
) -> Result<i64, ApiError> {
    if let Some(tz) = timezone {
        parse_timezone(tz)?;
    }
    next_run(schedule, timezone, now).ok_or_else(|| invalid_schedule(schedule))
}

/// `next_run_date` as the API shows it: second precision, `+00:00`.
pub fn format_next_run(unix_seconds: i64) -> String {
    Utc.timestamp_opt(unix_seconds, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, false))
        .unwrap_or_default()
}

/// An `end_time` (ISO 8601, with or without an offset; UTC without one) in unix microseconds.
pub(crate) fn parse_end_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z"] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.timestamp_micros());
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_micros())
}

/// The API's Cron object, fields in the real server's order.
pub(crate) fn cron_json(c: &CronRow) -> Value {
    json!({
        "cron_id": c.cron_id,
        "assistant_id": c.assistant_id,
        "thread_id": c.thread_id,
        "user_id": c.user_id,
        "end_time": c.end_time,
        "schedule": c.schedule,
        "timezone": c.timezone,
        "payload": c.payload,
        "next_run_date": format_next_run(c.next_run_at),
        "metadata": c.metadata,
        "on_run_completed": c.on_run_completed,
        "enabled": c.enabled,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

/// Sets `config.configurable.cron_id` of a payload or run kwargs (creating the objects as
/// needed, replacing non-objects).
pub(crate) fn set_cron_id(payload: &mut Map<String, Value>, cron_id: &str) {
    let config = payload.entry("config").or_insert_with(|| json!({}));
    if !config.is_object() {
        *config = json!({});
    }
    let Some(config) = config.as_object_mut() else { return };
    let configurable = config.entry("configurable").or_insert_with(|| json!({}));
    if !configurable.is_object() {
        *configurable = json!({});
    }
    if let Some(c) = configurable.as_object_mut() {
        c.insert("cron_id".into(), json!(cron_id));
    }
}

// ------------------------------------------------------------------------------ firing

/// A run a cron firing created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The cron.
    pub cron_id: String,
    /// The run's thread (new for a stateless cron).
    pub thread_id: String,
    /// The run.
    pub run_id: String,
}

/// The run body of one firing: the payload, with the cron's metadata under the payload's, and
/// `on_completion: keep` for a stateless cron that keeps its threads. Returns whether `cron_id`
/// was taken out of `config.configurable` (a run cannot have both `configurable` and `context`).
fn run_body(cron: &CronRow) -> (Map<String, Value>, bool) {
    let mut body = cron.payload.clone();
    if cron.thread_id.is_none() && cron.on_run_completed.as_deref() == Some("keep") {
        body.entry("on_completion").or_insert_with(|| json!("keep"));
    }
    let mut metadata = cron.metadata.clone();
    if let Some(Value::Object(m)) = body.get("metadata") {
        metadata.extend(m.clone());
    }
    body.insert("metadata".into(), Value::Object(metadata));
    let has_context = body.get("context").and_then(Value::as_object).is_some_and(|c| !c.is_empty());
    let mut moved = false;
    if has_context
        && let Some(Value::Object(config)) = body.get_mut("config")
        && let Some(Value::Object(configurable)) = config.get_mut("configurable")
    {
        moved = configurable.remove("cron_id").is_some();
        if configurable.is_empty() {
            config.remove("configurable");
        }
    }
    (body, moved)
}

/// Fires every enabled cron due at `now` whose end time has not passed. Returns the runs made.
pub(crate) async fn fire_due(st: &AppState, now: DateTime<Utc>) -> Result<Vec<Fired>, DbError> {
    let mut fired = Vec::new();
    loop {
        let due = st.db.due_crons(now.timestamp(), now.timestamp_micros(), BATCH).await?;
        let full = due.len() as i64 >= BATCH;
        let mut claimed = 0;
        for cron in &due {
            let (firing, run) = fire_one(st, cron, now).await?;
            if firing != CronFiring::Lost {
                claimed += 1;
            }
            fired.extend(run);
        }
        if !full || claimed == 0 {
            break;
        }
    }
    if !fired.is_empty() {
        st.runs.wake();
    }
    Ok(fired)
}

async fn fire_one(
    st: &AppState,
    cron: &CronRow,
    now: DateTime<Utc>,
) -> Result<(CronFiring, Option<Fired>), DbError> {
    let next_at = next_run(&cron.schedule, cron.timezone.as_deref(), now).unwrap_or(NEVER);
    let claim_only = || st.db.fire_cron(&cron.cron_id, cron.next_run_at, next_at, None);
    let stateless = cron.thread_id.is_none();
    let (body, moved) = run_body(cron);
    let mut req = match run_request(st, &Value::Object(body), stateless).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(cron_id = %cron.cron_id, "cron run not created: {}", e.detail());
            return Ok((claim_only().await?, None));
        }
    };
    if moved {
        set_cron_id(&mut req.kwargs, &cron.cron_id);
    }
    let (mut thread, is_new) = match &cron.thread_id {
        None => (new_thread(&uuid::Uuid::now_v7().to_string(), req.run_metadata.clone()), true),
        Some(tid) => match st.db.get_thread(tid).await? {
            Some(t) => (t, false),
            None => return Ok((claim_only().await?, None)),
        },
    };
    let tagged = tag_thread(&mut thread, &req.assistant);
    let strategy = req.strategy.clone();
    let run = new_run(
        &thread.thread_id,
        &req.assistant.assistant_id,
        req.kwargs,
        req.metadata,
        &strategy,
    );
    let job = CronJob {
        thread: &thread,
        new_thread: is_new,
        tag: (tagged && !is_new).then_some(&req.assistant),
        run: &run,
        reject_if_busy: strategy == "reject",
    };
    let firing = st.db.fire_cron(&cron.cron_id, cron.next_run_at, next_at, Some(job)).await?;
    if firing != CronFiring::Fired {
        return Ok((firing, None));
    }
    if !is_new && (strategy == "interrupt" || strategy == "rollback") {
        for r in st.db.in_flight_runs(&thread.thread_id).await? {
            if r.run_id != run.run_id {
                st.runs.cancel(&r, strategy == "rollback").await?;
            }
        }
    }
    Ok((
        firing,
        Some(Fired {
            cron_id: cron.cron_id.clone(),
            thread_id: thread.thread_id,
            run_id: run.run_id,
        }),
    ))
}

/// Starts the scheduler: every second it fires the crons that are due (while
/// [`AppState::set_cron_scheduler`] has not paused it). It stops with the last `AppState`.
pub(crate) fn spawn_scheduler(st: &Arc<AppState>) {
    let weak: Weak<AppState> = Arc::downgrade(st);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let Some(st) = weak.upgrade() else { break };
            if !st.cron_scheduler_running() {
                continue;
            }
            if let Err(e) = fire_due(&st, Utc::now()).await {
                tracing::warn!("cron scheduler: {e}");
            }
        }
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next(schedule: &str, tz: Option<&str>, after: &str) -> Option<String> {
        next_run(schedule, tz, utc(after)).map(format_next_run)
    }

    #[test]
    fn slots_follow_croniters_rules() {
        let at = "2026-11-25T09:38:54.581838+00:00"; // a Wednesday
        assert_eq!(
            next("*/5 * * * *", Some("Europe/Paris"), at).unwrap(),
            "2026-11-25T09:40:00+00:00"
        );
        assert_eq!(next("0 * * * *", None, at).unwrap(), "2026-11-25T10:00:00+00:00");
        assert_eq!(next("0 0 * * *", None, at).unwrap(), "2026-11-26T00:00:00+00:00");
        // Strictly after: a slot at the very moment is not the next one.
        assert_eq!(
            next("* * * * *", None, "2026-11-25T09:39:00Z").unwrap(),
            "2026-11-25T09:40:00+00:00"
        );
        // Day of month OR day of week when both are restricted (Friday the 27th comes first).
        assert_eq!(next("0 0 13 * 5", None, at).unwrap(), "2026-11-27T00:00:00+00:00");
        // Read in the zone: 09:00 in New York is 14:00 UTC in winter, 13:00 in summer.
        assert_eq!(
            next("0 9 * * *", Some("America/New_York"), at).unwrap(),
            "2026-11-25T14:00:00+00:00"
        );
        assert_eq!(
            next("0 9 * * *", Some("America/New_York"), "2026-07-01T00:00:00Z").unwrap(),
            "2026-07-01T13:00:00+00:00"
        );
        // Across daylight saving time in New York: 02:30 does not exist on 2026-03-08 (the slot
        // comes when the clock jumps to 03:00); 01:30 happens twice on 2026-11-01 (only the
        // first one is a slot).
        let ny = Some("America/New_York");
        assert_eq!(
            next("30 2 * * *", ny, "2026-03-08T05:00:00Z").unwrap(),
            "2026-03-08T07:00:00+00:00"
        );
        assert_eq!(
            next("30 1 * * *", ny, "2026-11-01T04:00:00Z").unwrap(),
            "2026-11-01T05:30:00+00:00"
        );
        assert_eq!(
            next("30 1 * * *", ny, "2026-11-01T05:45:00Z").unwrap(),
            "2026-11-02T06:30:00+00:00"
        );
        assert_eq!(next("@midnight", None, at), next("0 0 * * *", None, at));
        assert_eq!(next("@hourly", None, at), next("0 * * * *", None, at));
        assert_eq!(next("0 12 * * mon", None, at).unwrap(), "2026-11-30T12:00:00+00:00");
    }

    #[test]
    fn bad_schedules_and_zones_have_no_slot() {
        let at = "2026-11-25T09:38:54Z";
        for bad in
            ["", "not a cron", "* * * *", "* * * * * *", "60 * * * *", "0 0 30 2 *", "@reboot"]
        {
            assert_eq!(next(bad, None, at), None, "{bad:?}");
        }
        assert_eq!(next("* * * * *", Some("Mars/Olympus"), at), None);
        assert!(parse_timezone("Europe/Paris").is_ok());
        // IANA names exactly as spelled (links included), as chrono-tz and zoneinfo read them.
        for name in ["UTC", "Etc/UTC", "US/Eastern", "Europe/Kiev", "Asia/Kolkata", "Etc/GMT+5"] {
            assert!(parse_timezone(name).is_ok(), "{name}");
        }
        for name in ["europe/paris", "EUROPE/PARIS", "utc", "Etc/Unknown", ""] {
            assert!(parse_timezone(name).is_err(), "{name}");
        }
        assert_eq!(
            parse_timezone("Mars/Olympus").err().unwrap().detail(),
            "Invalid timezone: 'Mars/Olympus'. Use IANA timezone format (e.g. 'America/New_York')."
        );
    }

    #[test]
    fn end_times_parse_with_or_without_an_offset() {
        let midnight = utc("2099-01-01T00:00:00Z").timestamp_micros();
        for s in [
            "2099-01-01T00:00:00Z",
            "2099-01-01T00:00:00+00:00",
            "2099-01-01T00:00:00",
            "2099-01-01 00:00:00",
            "2099-01-01",
        ] {
            assert_eq!(parse_end_time(s), Some(midnight), "{s}");
        }
        assert_eq!(parse_end_time("2099-01-01T01:00:00+01:00"), Some(midnight));
        assert_eq!(parse_end_time("2099-01-01T00:00:00.5"), Some(midnight + 500_000));
        assert_eq!(parse_end_time("tomorrow"), None);
        assert_eq!(format_next_run(0), "1970-01-01T00:00:00+00:00");
    }

    #[test]
    fn reserved_keys_are_dropped() {
        let mut body = json!({"metadata": {"run_id": 1, "a": 1}, "config": {"configurable": {"langgraph_request_id": 1, "b": 2}, "metadata": {"cron_id": 1}}, "context": {"__after_seconds__": 1}})
            .as_object()
            .cloned()
            .unwrap();
        strip_reserved(&mut body);
        assert_eq!(
            Value::Object(body),
            json!({"metadata": {"a": 1}, "config": {"configurable": {"b": 2}, "metadata": {}}, "context": {}})
        );
    }
}
