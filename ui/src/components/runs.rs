//! A thread's runs (status, duration, strategy) and a run's event log: every streamed event
//! with its time for a run started here, else what the run left in the thread (the
//! checkpoints it wrote) and what it was asked to do.

use leptos::prelude::*;
use orrery_api::Run;
use serde_json::Value;

use crate::components::browser::loading;
use crate::components::run::tail;
use crate::components::{ago, icons};
use crate::state::{Load, use_app};

/// Seconds between two ISO-8601 times, as "0.42 s" / "12 s" / "3 min".
fn duration(from: &str, to: &str) -> Option<String> {
    let (a, b) = (js_sys::Date::parse(from), js_sys::Date::parse(to));
    if a.is_nan() || b.is_nan() || b < a {
        return None;
    }
    let s = (b - a) / 1000.0;
    Some(if s < 10.0 {
        format!("{s:.2} s")
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else {
        format!("{:.0} min", s / 60.0)
    })
}

/// How many rows of a run's event log are shown at once (the newest).
const SHOWN: usize = 400;

/// One line of a payload, cut to `max` characters.
fn one_line(v: &Value, max: usize) -> String {
    let s = v.to_string();
    if s.chars().count() <= max {
        s
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// The open thread's runs, and the selected one's event log.
#[component]
pub fn RunsPanel() -> impl IntoView {
    let state = use_app();
    let runs = state.thread.runs;
    // Opened: the statuses as they are now.
    state.load_runs();
    let list = move || match runs.get() {
        Load::Ready(l) => l,
        _ => Vec::new(),
    };
    let status = move || match runs.get() {
        Load::Loading | Load::Idle => Some(loading("Loading runs…").into_any()),
        Load::Failed(e) => Some(
            view! { <p class="form-error">{format!("Cannot list the runs: {e}")}</p> }.into_any(),
        ),
        Load::Ready(l) if l.is_empty() => {
            Some(view! { <p class="empty">"No runs on this thread yet"</p> }.into_any())
        }
        Load::Ready(_) => None,
    };
    view! {
        <div id="runs-panel" class="detail-section runs-panel">
            <div class="side-caption state-caption">
                {move || format!("Runs ({})", list().len())}
                <span class="spacer"></span>
                <button
                    id="runs-refresh"
                    type="button"
                    class="icon-button"
                    title="Read the runs again"
                    aria-label="Read the runs again"
                    on:click=move |_| state.load_runs()
                >
                    {icons::refresh()}
                </button>
            </div>
            <ul id="runs" role="listbox" aria-label="Runs">
                <For each=list key=|r| (r.run_id.clone(), r.updated_at.clone()) let:r>
                    <RunRow r=r />
                </For>
            </ul>
            {status}
            {move || state.thread.run_log.get().map(|id| view! { <EventLog run_id=id /> })}
        </div>
    }
}

#[component]
fn RunRow(r: Run) -> impl IntoView {
    let state = use_app();
    let id = r.run_id.clone();
    let selected = {
        let id = id.clone();
        move || state.thread.run_log.with(|s| s.as_deref() == Some(id.as_str()))
    };
    let status = serde_json::to_value(r.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let took = duration(&r.created_at, &r.updated_at);
    let created = r.created_at.clone();
    let pick = id.clone();
    view! {
        <li
            class="run"
            class:selected=selected
            data-id=id.clone()
            data-status=status.clone()
            role="option"
            on:click=move |_| state.thread.run_log.set(Some(pick.clone()))
        >
            <span class="mono" title=id.clone()>{format!("…{}", tail(&id))}</span>
            <span class=format!("status {status}") title=format!("strategy: {}", r.multitask_strategy)>{status.clone()}</span>
            <span class="run-duration mono" title="From its creation to its last update">
                {took.unwrap_or_else(|| "—".into())}
            </span>
            <span class="muted run-ago" title=created.clone()>{ago(&created, state.chrome.now.get_untracked())}</span>
        </li>
    }
}

/// A run's event log.
#[component]
fn EventLog(run_id: String) -> impl IntoView {
    let state = use_app();
    let filter = RwSignal::new(String::new());
    // The log of the run streamed here, when that is this run.
    let is_live = {
        let run_id = run_id.clone();
        Memo::new(move |_| {
            state.run.live.with(|r| r.as_ref().and_then(|r| r.run_id.clone()))
                == Some(run_id.clone())
        })
    };
    let run = {
        let run_id = run_id.clone();
        move || {
            state.thread.runs.with(|l| match l {
                Load::Ready(l) => l.iter().find(|r| r.run_id == run_id).cloned(),
                _ => None,
            })
        }
    };
    let kwargs = move || {
        run().map(|r| {
            let mut asked = serde_json::Map::new();
            for k in ["input", "command", "config", "interrupt_before", "interrupt_after", "checkpoint_id"] {
                if let Some(v) = r.kwargs.get(k).filter(|v| !v.is_null()) {
                    asked.insert(k.to_string(), v.clone());
                }
            }
            view! {
                <details class="run-kwargs">
                    <summary>"What it was asked to do"</summary>
                    <pre class="json">{serde_json::to_string_pretty(&asked).unwrap_or_default()}</pre>
                </details>
            }
        })
    };
    let body = {
        let run_id = run_id.clone();
        move || {
            match is_live.get() {
            true => state.run.log.with(|log| {
                let log = &log.events;
                let kinds: std::collections::BTreeSet<String> = log
                    .iter()
                    .map(|e| e.event.split('|').next().unwrap_or_default().to_string())
                    .collect();
                let f = filter.get();
                let picked: Vec<(usize, &orrery_api::studio::LoggedEvent)> = log
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| f.is_empty() || e.event.split('|').next() == Some(f.as_str()))
                    .collect();
                // The newest rows when there are many (the log grows while the run streams).
                let hidden = picked.len().saturating_sub(SHOWN);
                let rows = picked
                    .into_iter()
                    .skip(hidden)
                    .map(|(i, e)| {
                        view! {
                            <li class="event" data-event=e.event.clone()>
                                <span class="event-no mono muted">{i + 1}</span>
                                <span class="event-at mono muted">{format!("+{:.0} ms", e.at_ms)}</span>
                                <span class="event-name mono">{e.event.clone()}</span>
                                <span class="event-data mono" title=one_line(&e.data, 2000)>{one_line(&e.data, 160)}</span>
                            </li>
                        }
                    })
                    .collect_view();
                view! {
                    <div class="event-filter">
                        <select
                            id="event-filter"
                            aria-label="Show events of one kind"
                            prop:value=move || filter.get()
                            on:change=move |e| filter.set(event_target_value(&e))
                        >
                            <option value="">"All events"</option>
                            {kinds.into_iter().map(|k| view! { <option value=k.clone()>{k.clone()}</option> }).collect_view()}
                        </select>
                        <span class="muted">{format!("{} events streamed", log.len())}</span>
                    </div>
                    {(hidden > 0).then(|| view! { <p class="muted">{format!("{hidden} earlier events not shown")}</p> })}
                    <ol id="event-log" class="event-log">{rows}</ol>
                }
                .into_any()
            }),
            false => {
                // A run not streamed here: the checkpoints it wrote, oldest first.
                let steps: Vec<Value> = state.thread.history.with(|h| match h {
                    Load::Ready(list) => list
                        .iter()
                        .rev()
                        .filter(|c| {
                            c.pointer("/metadata/run_id").and_then(Value::as_str)
                                == Some(run_id.as_str())
                        })
                        .cloned()
                        .collect(),
                    _ => Vec::new(),
                });
                let rows = steps
                    .iter()
                    .map(|c| {
                        let step =
                            c.pointer("/metadata/step").map(Value::to_string).unwrap_or_default();
                        let source = c
                            .pointer("/metadata/source")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        let writes = c
                            .pointer("/metadata/writes")
                            .filter(|w| !w.is_null())
                            .map(|w| one_line(w, 160))
                            .unwrap_or_default();
                        let next = c.get("next").map(|n| one_line(n, 80)).unwrap_or_default();
                        view! {
                            <li class="event" data-event="checkpoint">
                                <span class="event-no mono muted">{format!("#{step}")}</span>
                                <span class="event-name mono">{source}</span>
                                <span class="event-data mono">{writes}</span>
                                <span class="muted mono">{format!("next {next}")}</span>
                            </li>
                        }
                    })
                    .collect_view();
                view! {
                    <p class="muted">
                        "This run was not streamed in this window: the checkpoints it wrote (of the newest 50 the thread view holds)."
                    </p>
                    <ol id="event-log" class="event-log checkpoints">{rows}</ol>
                }
                .into_any()
            }
        }
        }
    };
    view! {
        <div id="run-log" class="run-log" data-run=run_id.clone()>
            <div class="side-caption">{format!("Event log · run …{}", tail(&run_id))}</div>
            {kwargs}
            {body}
        </div>
    }
}
