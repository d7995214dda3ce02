//! The run queue and its workers: pending runs are rows in the database; workers claim them,
//! drive the engine, publish stream events to subscribers, and record the outcome.
//!
//! Architecture Invariant: a run's status is final in the database before its subscribers see
//! the end of the stream (clients re-read the run when a stream closes).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orrery_api::{Run, RunStatus, Thread, ThreadStatus};
use orrery_engine::{Breakpoints, Command, Goto, Input, RunConfig, Send, StreamEvent, StreamMode};
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, mpsc, watch};

use crate::db::Db;
use crate::events::ChainEvents;
use crate::graphs::Registry;
use crate::webhooks::Webhooks;

/// One server-sent event of a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame {
    /// Event name (`metadata`, `values`, `updates|sub:<id>`...).
    pub event: String,
    /// Compact JSON.
    pub data: String,
    /// `<ms>-<seq>`, as the real server numbers events.
    pub id: String,
}

/// How a run ended, for `/wait` and `/join`.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Final run status.
    pub status: RunStatus,
    /// The `/wait` body.
    pub body: Value,
}

/// Event ids as the real server writes them, `<unix ms>-0`, but strictly increasing: an event
/// in the same millisecond as the previous one takes the next millisecond, so no two events of
/// one source share an id (langgraph dev repeats ids within a millisecond, and a resume from
/// such an id skips its twins) and ids still compare correctly as strings.
#[derive(Default)]
pub struct EventIds {
    last_ms: std::sync::atomic::AtomicI64,
}

impl EventIds {
    /// The next id.
    pub fn next(&self) -> String {
        use std::sync::atomic::Ordering;
        let now = chrono::Utc::now().timestamp_millis();
        let prev = self
            .last_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(now.max(last + 1)))
            .unwrap_or(now);
        format!("{}-0", now.max(prev + 1))
    }
}

/// Live fan-out of every run of each thread, plus thread-level events (`state_update`), to the
/// thread streams (`GET /threads/{thread_id}/stream`).
#[derive(Default)]
pub struct ThreadHub {
    subscribers: Mutex<HashMap<String, Vec<mpsc::UnboundedSender<Frame>>>>,
    ids: EventIds,
}

impl ThreadHub {
    /// Receives every event published on `thread_id` from now on (never closes by itself).
    pub fn subscribe(&self, thread_id: &str) -> mpsc::UnboundedReceiver<Frame> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut subs = match self.subscribers.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        // Streams whose client went away are dropped here as well as on publishing.
        subs.retain(|_, v| {
            v.retain(|s| !s.is_closed());
            !v.is_empty()
        });
        subs.entry(thread_id.to_string()).or_default().push(tx);
        rx
    }

    /// Sends a frame to the streams of a thread.
    pub fn publish(&self, thread_id: &str, frame: &Frame) {
        let Ok(mut subs) = self.subscribers.lock() else { return };
        if let Some(v) = subs.get_mut(thread_id) {
            v.retain(|s| s.send(frame.clone()).is_ok());
            if v.is_empty() {
                subs.remove(thread_id);
            }
        }
    }

    /// Sends a thread-level event (a new id) to the streams of a thread.
    pub fn publish_event(&self, thread_id: &str, event: &str, data: &Value) {
        let frame = Frame { event: event.to_string(), data: data.to_string(), id: self.ids.next() };
        self.publish(thread_id, &frame);
    }
}

/// The event name under which a run's log stores its end (the real server's `control` message
/// `done`): a run-stream replay stops there, a thread stream shows it as `metadata`
/// `{"status": "run_done", "run_id": ...}`.
pub const RUN_DONE: &str = "control";

/// A run's log frame as a thread stream sends it.
pub fn thread_frame(f: Frame) -> Frame {
    if f.event == RUN_DONE { Frame { event: "metadata".into(), ..f } } else { f }
}

/// Who listens to a run, and whether it is over.
#[derive(Default)]
struct Subscribers {
    list: Vec<mpsc::UnboundedSender<Frame>>,
    finished: bool,
}

/// Live fan-out of one run's events. A resumable run (`stream_resumable`) also keeps every
/// event it published (its log), which goes to the database with the run's final status.
#[derive(Default)]
pub struct RunChannel {
    cancel: Notify,
    /// 0 = running, 1 = interrupt requested, 2 = rollback requested.
    cancel_kind: std::sync::atomic::AtomicU8,
    subscribers: Mutex<Subscribers>,
    /// The events so far, when the run is resumable. Locked before `subscribers`.
    history: Mutex<Vec<Frame>>,
    resumable: std::sync::atomic::AtomicBool,
    done: Mutex<Option<watch::Sender<Option<Outcome>>>>,
    ids: EventIds,
    /// The run's thread and its streams, once the run executes.
    thread: Mutex<Option<(String, Arc<ThreadHub>)>>,
    /// The end-of-run marker, made once.
    done_marker: Mutex<Option<Frame>>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl RunChannel {
    /// Receives every event published from now on; closes when the run ends (at once if it
    /// already has).
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Frame> {
        self.subscribe_with_history().1
    }

    /// The events published so far (a resumable run's; none otherwise) and every later one:
    /// together, with nothing missed or repeated.
    pub fn subscribe_with_history(&self) -> (Vec<Frame>, mpsc::UnboundedReceiver<Frame>) {
        let history = locked(&self.history);
        let mut subs = locked(&self.subscribers);
        let (tx, rx) = mpsc::unbounded_channel();
        if !subs.finished {
            subs.list.push(tx);
        }
        (history.clone(), rx)
    }

    /// The events published so far (a resumable run's; none otherwise).
    pub fn history(&self) -> Vec<Frame> {
        locked(&self.history).clone()
    }

    /// Whether the run has ended.
    pub fn is_finished(&self) -> bool {
        locked(&self.subscribers).finished
    }

    /// Resolves when the run has ended.
    pub fn outcome(&self) -> watch::Receiver<Option<Outcome>> {
        let mut guard = locked(&self.done);
        match guard.as_ref() {
            Some(tx) => tx.subscribe(),
            None => {
                let (tx, rx) = watch::channel(None);
                *guard = Some(tx);
                rx
            }
        }
    }

    fn request_cancel(&self, rollback: bool) {
        self.cancel_kind.store(if rollback { 2 } else { 1 }, std::sync::atomic::Ordering::SeqCst);
        self.cancel.notify_waiters();
        self.cancel.notify_one();
    }

    async fn cancelled(&self) -> bool {
        loop {
            match self.cancel_kind.load(std::sync::atomic::Ordering::SeqCst) {
                0 => self.cancel.notified().await,
                k => return k == 2,
            }
        }
    }

    /// The run starts: every event from now on also goes to the streams of `thread_id`, and
    /// is kept if the run is resumable.
    fn start(&self, thread_id: &str, hub: Arc<ThreadHub>, resumable: bool) {
        self.resumable.store(resumable, std::sync::atomic::Ordering::SeqCst);
        *locked(&self.thread) = Some((thread_id.to_string(), hub));
    }

    /// The thread the run executes on (once it does).
    pub fn thread_id(&self) -> Option<String> {
        locked(&self.thread).as_ref().map(|(t, _)| t.clone())
    }

    fn to_thread(&self, frame: &Frame) {
        if let Some((tid, hub)) = locked(&self.thread).as_ref() {
            hub.publish(tid, frame);
        }
    }

    fn publish(&self, event: String, data: &Value) {
        let frame = Frame { event, data: data.to_string(), id: self.ids.next() };
        {
            let mut history = locked(&self.history);
            if self.resumable.load(std::sync::atomic::Ordering::SeqCst) {
                history.push(frame.clone());
            }
            let mut subs = locked(&self.subscribers);
            subs.list.retain(|s| s.send(frame.clone()).is_ok());
        }
        self.to_thread(&frame);
    }

    fn done_marker(&self, run_id: &str) -> Frame {
        locked(&self.done_marker)
            .get_or_insert_with(|| Frame {
                event: RUN_DONE.into(),
                data: json!({"status": "run_done", "run_id": run_id}).to_string(),
                id: self.ids.next(),
            })
            .clone()
    }

    /// What the database keeps of the run's stream: a resumable run's events and its end
    /// marker; nothing for other runs.
    fn log(&self, run_id: &str) -> Vec<Frame> {
        if !self.resumable.load(std::sync::atomic::Ordering::SeqCst) {
            return Vec::new();
        }
        let mut log = locked(&self.history).clone();
        log.push(self.done_marker(run_id));
        log
    }

    fn finish(&self, run_id: &str, outcome: Outcome) {
        {
            let _history = locked(&self.history);
            let mut subs = locked(&self.subscribers);
            subs.finished = true;
            subs.list.clear(); // dropping the senders ends every subscriber's stream
        }
        // Thread streams learn that the run is over.
        self.to_thread(&thread_frame(self.done_marker(run_id)));
        // Kept even when nobody listens yet (`send` would drop it): a `/wait` whose run ended
        // before it asked for the outcome reads it here.
        let _ = self.outcome();
        if let Some(tx) = locked(&self.done).as_ref() {
            tx.send_replace(Some(outcome));
        }
    }
}

/// A joined run (see [`Runs::join`]).
pub struct Joined {
    /// The run's channel.
    pub channel: Arc<RunChannel>,
    /// What it published before the join (a resumable run's events).
    pub history: Vec<Frame>,
    /// Everything it publishes from the join on; closes when the run ends.
    pub events: mpsc::UnboundedReceiver<Frame>,
}

/// The run queue.
pub struct Runs {
    db: Db,
    registry: Arc<Registry>,
    webhooks: Arc<Webhooks>,
    wake: Notify,
    /// Runs this process queued that no worker has claimed yet (a hint: runs of other
    /// processes are found by polling).
    queued: std::sync::atomic::AtomicUsize,
    /// Runs executing in this process, at most `workers` (claimed by a worker or started by
    /// the request that made them).
    active: Arc<std::sync::atomic::AtomicUsize>,
    workers: std::sync::atomic::AtomicUsize,
    /// A run ended in the second the heap trim waits for (see [`Runs::trim_when_idle`]).
    ended: Arc<std::sync::atomic::AtomicBool>,
    /// A trim is scheduled.
    trimming: Arc<std::sync::atomic::AtomicBool>,
    live: Mutex<HashMap<String, Arc<RunChannel>>>,
    /// The thread streams.
    pub threads: Arc<ThreadHub>,
    /// Runs a previous process left running (they resume from their last checkpoint).
    requeued: Mutex<std::collections::HashSet<String>>,
}

/// Error classes whose message a run stream passes through; others are masked.
const PASS_THROUGH: [&str; 12] = [
    "ValueError",
    "TypeError",
    "KeyError",
    "AttributeError",
    "RuntimeError",
    "RecursionError",
    "GraphRecursionError",
    "TimeoutError",
    "InvalidUpdateError",
    "EmptyInputError",
    "HTTPException",
    "PanicError",
];

impl Runs {
    /// A queue over `db`.
    pub fn new(
        db: Db,
        registry: Arc<Registry>,
        requeued: Vec<String>,
        webhooks: Arc<Webhooks>,
    ) -> Arc<Runs> {
        Arc::new(Runs {
            db,
            registry,
            webhooks,
            wake: Notify::new(),
            queued: std::sync::atomic::AtomicUsize::new(0),
            active: Arc::default(),
            workers: std::sync::atomic::AtomicUsize::new(0),
            ended: Arc::default(),
            trimming: Arc::default(),
            live: Mutex::new(HashMap::new()),
            threads: Arc::new(ThreadHub::default()),
            requeued: Mutex::new(requeued.into_iter().collect()),
        })
    }

    /// The live channel of a run (created on first use).
    pub fn channel(&self, run_id: &str) -> Arc<RunChannel> {
        let mut live = locked(&self.live);
        Arc::clone(live.entry(run_id.to_string()).or_default())
    }

    /// The live channel of a run, if it is still known.
    pub fn existing_channel(&self, run_id: &str) -> Option<Arc<RunChannel>> {
        self.live.lock().ok().and_then(|l| l.get(run_id).cloned())
    }

    /// Live channels of the runs executing on a thread.
    pub fn thread_channels(&self, thread_id: &str) -> Vec<Arc<RunChannel>> {
        let live = locked(&self.live);
        live.values().filter(|c| c.thread_id().as_deref() == Some(thread_id)).cloned().collect()
    }

    /// Joins a run the database said is pending or running: its channel, the events it
    /// published so far (a resumable run's) and a receiver of every later one, nothing missed or
    /// repeated. `None` when the run ended before it could be joined: everything it leaves
    /// (status, outcome, a resumable run's log) is then in the database.
    pub async fn join(
        &self,
        thread_id: &str,
        run_id: &str,
    ) -> Result<Option<Joined>, crate::db::DbError> {
        let ch = self.channel(run_id);
        let (history, events) = ch.subscribe_with_history();
        let in_flight = ch.is_finished()
            || self.db.get_run(thread_id, run_id).await?.is_some_and(|r| r.status.in_flight());
        if in_flight || ch.is_finished() {
            return Ok(Some(Joined { channel: ch, history, events }));
        }
        // The run ended before this channel was made: nobody will finish it.
        let mut live = locked(&self.live);
        if live.get(run_id).is_some_and(|c| Arc::ptr_eq(c, &ch)) {
            live.remove(run_id);
        }
        Ok(None)
    }

    /// Tells the workers there is work: one of them looks (a worker that finds a run wakes the
    /// next, so a burst fans out). Waking every idle worker made each new run cost one write
    /// transaction per worker, all contending for SQLite's single writer.
    pub fn wake(&self) {
        self.queued.fetch_add(1, Ordering::AcqRel);
        self.wake.notify_one();
    }

    fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Takes one of the `workers` slots of executing runs, if one is free.
    pub fn reserve(&self) -> bool {
        let max = self.workers.load(Ordering::Acquire);
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .is_ok()
    }

    /// Gives a slot back.
    pub fn release(&self) {
        let _ = self.active.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Gives the memory runs freed back to the operating system once no run has ended for a
    /// second and none is running (so never in the middle of a load). Measured (release build,
    /// after three rounds of the benchmark's load): 11.9 -> 11.2 MB resident.
    fn trim_when_idle(&self) {
        self.ended.store(true, Ordering::Release);
        if self.trimming.swap(true, Ordering::AcqRel) {
            return;
        }
        let (active, ended, trimming) =
            (Arc::clone(&self.active), Arc::clone(&self.ended), Arc::clone(&self.trimming));
        tokio::spawn(async move {
            loop {
                ended.store(false, Ordering::Release);
                tokio::time::sleep(Duration::from_secs(1)).await;
                if !ended.load(Ordering::Acquire) && active.load(Ordering::Acquire) == 0 {
                    crate::platform::release_free_memory();
                    break;
                }
            }
            trimming.store(false, Ordering::Release);
        });
    }

    /// Executes a run its request inserted `running` (see [`Db::insert_run`]) in the slot the
    /// request reserved, then lets a worker look for what waits.
    pub fn start(self: &Arc<Self>, run: Run) {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let thread_has_more = me.execute(run).await;
            me.release();
            if thread_has_more {
                me.wake();
            } else if me.queued() > 0 {
                me.wake.notify_one();
            }
        });
    }

    /// Starts `n` workers.
    pub fn start_workers(self: &Arc<Self>, n: usize) {
        self.workers.store(n.max(1), Ordering::Release);
        for _ in 0..n.max(1) {
            let me = Arc::clone(self);
            tokio::spawn(async move { me.work().await });
        }
    }

    /// A worker: claims runs while there may be some, else waits to be woken (or polls every
    /// 500 ms, for runs other processes queue and runs whose start was delayed). Every claim is
    /// a write, so a worker looks only when a run was queued or its last run's thread has more.
    async fn work(self: Arc<Self>) {
        let mut look = true;
        loop {
            // Every slot taken (by runs their requests started): the run that ends wakes one.
            if look && self.reserve() {
                match self.db.claim_run().await {
                    Ok(Some(run)) => {
                        let _ =
                            self.queued.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                                Some(n.saturating_sub(1))
                            });
                        if self.queued() > 0 {
                            // There may be more: another worker looks while this one runs.
                            self.wake.notify_one();
                        }
                        let thread_has_more = self.execute(run).await;
                        self.release();
                        look = thread_has_more || self.queued() > 0;
                        continue;
                    }
                    // Whatever is queued waits for a busy thread: the run that ends there
                    // makes its worker look again.
                    Ok(None) => {
                        self.release();
                        self.queued.store(0, Ordering::Release);
                    }
                    Err(e) => {
                        self.release();
                        tracing::error!("claiming a run failed: {e}");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
            let _ = tokio::time::timeout(Duration::from_millis(500), self.wake.notified()).await;
            look = true;
        }
    }

    /// Cancels a run: a pending one at once, a running one by stopping its task. `rollback`
    /// also deletes the run and the checkpoints it made.
    pub async fn cancel(&self, run: &Run, rollback: bool) -> Result<(), crate::db::DbError> {
        if run.status == RunStatus::Pending && self.db.cancel_pending(&run.run_id, rollback).await?
        {
            self.settle_thread(&run.thread_id, None).await?;
            if let Some(ch) = self.existing_channel(&run.run_id) {
                ch.finish(&run.run_id, Outcome { status: RunStatus::Interrupted, body: json!({}) });
            }
            self.delete_if_temporary(run).await;
            return Ok(());
        }
        if let Some(ch) = self.existing_channel(&run.run_id) {
            ch.request_cancel(rollback);
        }
        Ok(())
    }

    /// Recomputes a thread's status after a cancelled run (from its latest checkpoint).
    async fn settle_thread(
        &self,
        thread_id: &str,
        error: Option<Value>,
    ) -> Result<(), crate::db::DbError> {
        let Some(mut thread) = self.db.get_thread(thread_id).await? else { return Ok(()) };
        let graph = thread
            .metadata
            .get("graph_id")
            .and_then(Value::as_str)
            .and_then(|g| self.registry.get(g));
        let mut next = false;
        if let Some(g) = graph
            && let Ok(s) = g.get_state(&RunConfig::thread(thread_id), false).await
        {
            next = !s.next.is_empty();
            if s.metadata.is_some() {
                thread.values = Some(s.values);
            }
        }
        thread.status = if next { ThreadStatus::Interrupted } else { ThreadStatus::Idle };
        if error.is_some() {
            thread.error = error;
        }
        thread.updated_at = orrery_engine::now_iso();
        // It stays busy while other runs are in flight.
        self.db.save_thread_state(&thread, true).await
    }

    /// Deletes a temporary (stateless) run's thread once the run has ended. The process that
    /// ran it does this, whichever process (HTTP handler or cron scheduler) created the run.
    async fn delete_if_temporary(&self, run: &Run) {
        if run.kwargs.get("temporary").and_then(Value::as_bool) == Some(true)
            && let Err(e) = self.db.delete_thread(&run.thread_id).await
        {
            tracing::warn!("deleting temporary thread {}: {e}", run.thread_id);
        }
    }

    /// Executes a claimed run; returns whether its thread may have more runs queued.
    async fn execute(&self, run: Run) -> bool {
        let started_at = orrery_engine::now_iso();
        let ch = self.channel(&run.run_id);
        let resumable = run.kwargs.get("resumable").and_then(Value::as_bool).unwrap_or(false);
        ch.start(&run.thread_id, Arc::clone(&self.threads), resumable);
        ch.publish("metadata".into(), &json!({"run_id": run.run_id, "attempt": 1}));
        let driven = tokio::select! {
            o = self.drive(&run, &ch) => Some(o),
            rollback = ch.cancelled() => {
                if let Err(e) = self.finish_cancelled(&run, &ch, rollback).await {
                    tracing::error!(run_id = %run.run_id, "recording a cancelled run failed: {e}");
                }
                None
            }
        };
        let mut thread_has_more = true;
        let outcome = match driven {
            None => Outcome { status: RunStatus::Interrupted, body: json!({}) },
            Some(Ok((o, more))) => {
                thread_has_more = more;
                o
            }
            Some(Err(e)) => {
                tracing::error!(run_id = %run.run_id, "run failed before it started: {e}");
                let err = json!({"error": "RuntimeError", "message": e});
                ch.publish("error".into(), &err);
                if let Err(e) = self
                    .db
                    .end_run(&run.thread_id, &run.run_id, RunStatus::Error, &ch.log(&run.run_id))
                    .await
                {
                    tracing::error!(run_id = %run.run_id, "recording a failed run failed: {e}");
                }
                Outcome { status: RunStatus::Error, body: json!({"__error__": err}) }
            }
        };
        if let Some(url) = run.kwargs.get("webhook").and_then(Value::as_str) {
            self.call_webhook(url, &run, &outcome, started_at).await;
        }
        ch.finish(&run.run_id, outcome);
        if let Ok(mut live) = self.live.lock() {
            live.remove(&run.run_id);
        }
        self.delete_if_temporary(&run).await;
        self.trim_when_idle();
        thread_has_more
    }

    /// Sends a run's webhook: the run with its final status, times, final values and error.
    async fn call_webhook(&self, url: &str, run: &Run, outcome: &Outcome, started_at: String) {
        let ended_at = orrery_engine::now_iso();
        let Ok(Value::Object(mut payload)) = serde_json::to_value(run) else { return };
        let error = outcome.body.get("__error__").cloned();
        let values = if error.is_none() && outcome.status == RunStatus::Success {
            outcome.body.clone()
        } else {
            match self.db.get_thread(&run.thread_id).await {
                Ok(Some(t)) => t.values.unwrap_or_else(|| json!({})),
                _ => json!({}),
            }
        };
        payload.insert("status".into(), json!(outcome.status.as_str()));
        payload.insert("updated_at".into(), json!(ended_at));
        payload.insert("run_started_at".into(), json!(started_at));
        payload.insert("run_ended_at".into(), json!(ended_at));
        payload.insert("webhook_sent_at".into(), json!(orrery_engine::now_iso()));
        payload.insert("values".into(), values);
        if let Some(e) = error {
            payload.insert("error".into(), e);
        }
        self.webhooks.send(url.to_string(), payload);
    }

    async fn finish_cancelled(
        &self,
        run: &Run,
        ch: &RunChannel,
        rollback: bool,
    ) -> Result<(), crate::db::DbError> {
        if rollback {
            self.db.rollback_run(&run.thread_id, &run.run_id).await?;
            self.settle_thread(&run.thread_id, None).await
        } else {
            let log = ch.log(&run.run_id);
            self.db.end_run(&run.thread_id, &run.run_id, RunStatus::Interrupted, &log).await?;
            let err = json!({"error": "UserInterrupt", "message": format!("interrupt requested via POST /threads/{}/runs/{}/cancel", run.thread_id, run.run_id)});
            self.settle_thread(&run.thread_id, Some(err)).await
        }
    }

    /// Runs the graph and records the outcome, and whether the thread has more runs queued.
    /// `Err` only for failures before the graph starts.
    async fn drive(&self, run: &Run, ch: &RunChannel) -> Result<(Outcome, bool), String> {
        let db_err = |e: crate::db::DbError| e.to_string();
        let assistant = self
            .db
            .get_assistant(&run.assistant_id)
            .await
            .map_err(db_err)?
            .ok_or_else(|| format!("assistant {} not found", run.assistant_id))?;
        let graph = self
            .registry
            .get(&assistant.graph_id)
            .ok_or_else(|| format!("graph {} not found", assistant.graph_id))?
            .clone();
        let mut thread = self
            .db
            .get_thread(&run.thread_id)
            .await
            .map_err(db_err)?
            .ok_or_else(|| format!("thread {} not found", run.thread_id))?;
        let kwargs = &run.kwargs;
        let requested = stream_modes(kwargs);
        let (config, mut input) = run_config(run, &assistant, kwargs, &requested)?;
        // A run picked up again after a crash continues from its last checkpoint instead of
        // applying its input a second time.
        // Taken out of the set: a run resumes from its checkpoints once.
        let requeued = self.requeued.lock().map(|mut r| r.remove(&run.run_id)).unwrap_or(true);
        if requeued
            && self.db.run_has_checkpoints(&run.thread_id, &run.run_id).await.map_err(db_err)?
        {
            input = Input::Resume;
        }

        // Checkpoints wait in memory as the run's durability allows (`async` by default).
        let durability = crate::db::Durability::of_run(
            kwargs.get("durability").and_then(Value::as_str),
            kwargs.get("checkpoint_during").and_then(Value::as_bool),
        );
        self.db.buffer_run(&run.thread_id, durability).await.map_err(db_err)?;

        let (tx, mut rx) = mpsc::unbounded_channel::<StreamEvent>();
        let legacy_messages = requested.iter().any(|m| m == "messages");
        let wants_debug = requested.iter().any(|m| m == "debug");
        let mut chain = requested.iter().any(|m| m == "events").then(|| {
            ChainEvents::new(&run.run_id, &run.thread_id, &assistant.graph_id, &config.metadata)
        });
        if let Some(c) = &chain {
            ch.publish("events".into(), &c.start(kwargs.get("input").unwrap_or(&Value::Null)));
        }
        let forward = async {
            let mut partial: HashMap<String, Value> = HashMap::new();
            while let Some(ev) = rx.recv().await {
                if ev.mode == StreamMode::Debug {
                    if let Some(c) = chain.as_mut() {
                        let name = ns_name("events", &ev.ns);
                        for e in c.on_debug(&ev.ns, &ev.data) {
                            ch.publish(name.clone(), &e);
                        }
                    }
                    if !wants_debug {
                        continue;
                    }
                }
                for (name, data) in frames(&ev, legacy_messages, &mut partial) {
                    ch.publish(name, &data);
                }
            }
        };
        let (result, ()) = tokio::join!(graph.stream_to(input, config.clone(), tx), forward);
        if let (Some(c), Ok(out)) = (&chain, &result) {
            ch.publish("events".into(), &c.end(&out.values));
        }

        let mut thread_cfg = RunConfig::thread(run.thread_id.clone());
        thread_cfg.checkpoint_ns = String::new();
        let state = graph.get_state(&thread_cfg, false).await.ok();
        let (status, body, error) = match &result {
            Ok(out) => (RunStatus::Success, out.values.clone(), Value::Null),
            Err(e) => {
                let kind = e.kind().to_string();
                // Model providers' errors of graph files are clear and carry no key.
                let message = if PASS_THROUGH.contains(&kind.as_str())
                    || orrery_graph_file::providers::ERROR_CLASSES.contains(&kind.as_str())
                {
                    e.to_string()
                } else {
                    "An internal error occurred".into()
                };
                let err = json!({"error": kind, "message": message});
                ch.publish("error".into(), &err);
                (RunStatus::Error, json!({"__error__": err}), err)
            }
        };
        let mut interrupts = Map::new();
        let mut next_nonempty = false;
        if let Some(s) = &state {
            thread.values = Some(s.values.clone());
            next_nonempty = !s.next.is_empty();
            for t in &s.tasks {
                if !t.interrupts.is_empty() {
                    interrupts.insert(
                        t.id.clone(),
                        Value::from(
                            t.interrupts
                                .iter()
                                .map(|i| json!({"value": i.value, "id": i.id}))
                                .collect::<Vec<_>>(),
                        ),
                    );
                }
            }
        }
        thread.status = if result.is_err() {
            ThreadStatus::Error
        } else if next_nonempty {
            ThreadStatus::Interrupted
        } else {
            ThreadStatus::Idle
        };
        thread.error = Some(error);
        thread.interrupts = Some(Value::Object(interrupts));
        if thread.config.is_empty() {
            thread.config.insert("configurable".into(), json!({}));
        }
        let more = self
            .db
            .finish_run(&run.run_id, status, &thread, &ch.log(&run.run_id))
            .await
            .map_err(db_err)?;
        Ok((Outcome { status, body }, more))
    }
}

/// The requested stream modes (default `["values"]`).
pub fn stream_modes(kwargs: &Map<String, Value>) -> Vec<String> {
    match kwargs.get("stream_mode") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => vec!["values".into()],
    }
}

fn breakpoints(v: Option<&Value>) -> Option<Breakpoints> {
    match v? {
        Value::String(s) if s == "*" => Some(Breakpoints::All),
        Value::Array(a) => Some(a.iter().filter_map(|x| x.as_str()).collect()),
        _ => None,
    }
}

fn goto_of(v: &Value) -> Vec<Goto> {
    match v {
        Value::String(s) => vec![Goto::Node(s.clone())],
        Value::Array(a) => a.iter().flat_map(goto_of).collect(),
        Value::Object(o) => match o.get("node").and_then(Value::as_str) {
            Some(node) => {
                vec![Goto::Send(Send::new(node, o.get("input").cloned().unwrap_or(Value::Null)))]
            }
            None => vec![],
        },
        _ => vec![],
    }
}

/// The engine config and input of a run.
fn run_config(
    run: &Run,
    assistant: &orrery_api::Assistant,
    kwargs: &Map<String, Value>,
    requested: &[String],
) -> Result<(RunConfig, Input), String> {
    let mut config = RunConfig::thread(run.thread_id.clone());
    let empty = Map::new();
    let run_cfg = kwargs.get("config").and_then(Value::as_object).unwrap_or(&empty);
    let mut configurable = assistant
        .config
        .get("configurable")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for src in [run_cfg.get("configurable"), kwargs.get("context")] {
        if let Some(Value::Object(m)) = src {
            for (k, v) in m {
                configurable.insert(k.clone(), v.clone());
            }
        }
    }
    for (k, v) in [
        ("run_id", json!(run.run_id)),
        ("thread_id", json!(run.thread_id)),
        ("graph_id", json!(assistant.graph_id)),
        ("assistant_id", json!(assistant.assistant_id)),
        ("user_id", json!("")),
    ] {
        configurable.insert(k.to_string(), v);
    }
    config.configurable = configurable;
    let mut metadata = run.metadata.clone();
    for (k, v) in [
        ("graph_id", json!(assistant.graph_id)),
        ("assistant_id", json!(assistant.assistant_id)),
        ("run_attempt", json!(1)),
        ("langgraph_version", json!("1.2.24")),
        ("langgraph_api_version", json!(env!("CARGO_PKG_VERSION"))),
        ("langgraph_plan", json!("developer")),
        ("langgraph_host", json!("self-hosted")),
    ] {
        metadata.entry(k.to_string()).or_insert(v);
    }
    config.metadata = metadata;
    let limit = run_cfg
        .get("recursion_limit")
        .or_else(|| assistant.config.get("recursion_limit"))
        .and_then(Value::as_u64)
        .unwrap_or(25);
    config.recursion_limit = limit.clamp(1, 100_000) as usize;
    config.checkpoint_id =
        kwargs.get("checkpoint_id").and_then(Value::as_str).map(str::to_string).or_else(|| {
            kwargs
                .get("checkpoint")
                .and_then(|c| c.get("checkpoint_id"))
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    config.interrupt_before = breakpoints(kwargs.get("interrupt_before"));
    config.interrupt_after = breakpoints(kwargs.get("interrupt_after"));
    config.subgraphs = kwargs.get("subgraphs").and_then(Value::as_bool).unwrap_or(false);
    let mut modes = Vec::new();
    for m in requested {
        let mode = match m.as_str() {
            "messages" | "messages-tuple" => StreamMode::Messages,
            // Chain events are derived from the debug task events.
            "events" => StreamMode::Debug,
            other => match StreamMode::parse(other) {
                Some(m) => m,
                None => continue,
            },
        };
        if !modes.contains(&mode) {
            modes.push(mode);
        }
    }
    config.stream_modes = modes;

    let input = match kwargs.get("command") {
        Some(Value::Object(c)) if !c.is_empty() => Input::Command(Command {
            update: c.get("update").cloned().filter(|v| !v.is_null()),
            goto: c.get("goto").map(goto_of).unwrap_or_default(),
            resume: c.get("resume").cloned().filter(|v| !v.is_null()),
            ..Default::default()
        }),
        _ => match kwargs.get("input") {
            None | Some(Value::Null) => Input::Resume,
            Some(v) => Input::Values(v.clone()),
        },
    };
    Ok((config, input))
}

/// Interrupts in stream chunks carry `response_schema` (LangGraph's dataclass form).
fn with_response_schema(mut v: Value) -> Value {
    if let Some(Value::Array(items)) = v.get_mut("__interrupt__") {
        for i in items.iter_mut() {
            if let Some(o) = i.as_object_mut() {
                o.entry("response_schema").or_insert(Value::Null);
            }
        }
    }
    v
}

/// The SSE frames of one engine event (§5.4 of the contract).
/// A frame's event name: the mode, then the subgraph namespace (`updates|child:<task>`).
fn ns_name(mode: &str, ns: &[String]) -> String {
    if ns.is_empty() { mode.to_string() } else { format!("{mode}|{}", ns.join("|")) }
}

fn frames(
    ev: &StreamEvent,
    legacy_messages: bool,
    partial: &mut HashMap<String, Value>,
) -> Vec<(String, Value)> {
    let suffix = if ev.ns.is_empty() { String::new() } else { format!("|{}", ev.ns.join("|")) };
    match ev.mode {
        StreamMode::Messages if legacy_messages => {
            let (Some(msg), meta) =
                (ev.data.get(0), ev.data.get(1).cloned().unwrap_or(Value::Null))
            else {
                return vec![];
            };
            let id = msg.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            let mut out = Vec::new();
            let is_chunk = msg.get("type").and_then(Value::as_str) == Some("AIMessageChunk");
            if !partial.contains_key(&id) {
                out.push((
                    format!("messages/metadata{suffix}"),
                    json!({ id.clone(): {"metadata": meta} }),
                ));
            }
            if is_chunk {
                let acc = partial.entry(id).or_insert_with(|| {
                    let mut m = msg.clone();
                    if let Some(o) = m.as_object_mut() {
                        o.insert("type".into(), json!("ai"));
                        o.insert("content".into(), json!(""));
                        o.remove("chunk_position");
                        o.remove("tool_call_chunks");
                    }
                    m
                });
                let add = msg.get("content").and_then(Value::as_str).unwrap_or_default();
                let cur =
                    acc.get("content").and_then(Value::as_str).unwrap_or_default().to_string();
                acc["content"] = json!(cur + add);
                out.push((format!("messages/partial{suffix}"), json!([acc.clone()])));
            } else {
                partial.insert(id, msg.clone());
                out.push((format!("messages/complete{suffix}"), json!([msg])));
            }
            out
        }
        mode => vec![(format!("{}{suffix}", mode.as_str()), with_response_schema(ev.data.clone()))],
    }
}

/// A new run row.
pub fn new_run(
    thread_id: &str,
    assistant_id: &str,
    kwargs: Map<String, Value>,
    metadata: Map<String, Value>,
    multitask_strategy: &str,
) -> Run {
    let now = orrery_engine::now_iso();
    Run {
        run_id: uuid::Uuid::now_v7().to_string(),
        thread_id: thread_id.to_string(),
        assistant_id: assistant_id.to_string(),
        metadata,
        status: RunStatus::Pending,
        kwargs,
        multitask_strategy: multitask_strategy.to_string(),
        created_at: now.clone(),
        updated_at: now,
        langsmith_session_name: None,
    }
}

/// A new thread row.
pub fn new_thread(thread_id: &str, metadata: Map<String, Value>) -> Thread {
    let now = orrery_engine::now_iso();
    Thread {
        thread_id: thread_id.to_string(),
        created_at: now.clone(),
        updated_at: now.clone(),
        state_updated_at: now,
        metadata,
        status: ThreadStatus::Idle,
        config: Map::new(),
        values: None,
        error: None,
        interrupts: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_is_kept_for_whoever_asks_after_the_run_ended() {
        // A run can end before its `/wait` asks for the outcome (it starts as soon as it is
        // inserted); the outcome must still be there, not lost because nobody listened.
        let ch = RunChannel::default();
        ch.finish("r1", Outcome { status: RunStatus::Success, body: json!({"messages": []}) });
        let rx = ch.outcome();
        let got = rx.borrow().clone();
        assert_eq!(
            got,
            Some(Outcome { status: RunStatus::Success, body: json!({"messages": []}) })
        );
    }
}
