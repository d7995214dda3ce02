//! `/threads`.

use orrery_api::{Thread, ThreadState};
use reqwest::Method;
use serde_json::{Value, json};

use crate::runs::EventStream;
use crate::{
    Client, HistorySearch, Page, Result, StateUpdate, StateUpdated, ThreadCreate, ThreadPatch,
    ThreadSearch, ThreadStreamMode, Timing, to_body,
};

/// Thread calls; see [`Client::threads`].
#[derive(Debug, Clone, Copy)]
pub struct Threads<'a> {
    pub(crate) c: &'a Client,
}

impl Threads<'_> {
    /// `POST /threads`.
    ///
    /// # Errors
    /// 409 existing id (with `if_exists: raise`), 422 bad id.
    pub async fn create(&self, body: &ThreadCreate) -> Result<Thread> {
        self.c.post_json(&["threads"], body, "a thread").await
    }

    /// `GET /threads/{id}`.
    ///
    /// # Errors
    /// 404 unknown, 422 not a UUID.
    pub async fn get(&self, thread_id: &str) -> Result<Thread> {
        self.c.get_json(&["threads", thread_id], &[], "a thread").await
    }

    /// `PATCH /threads/{id}`: metadata merged.
    ///
    /// # Errors
    /// 404 unknown.
    pub async fn update(&self, thread_id: &str, patch: &ThreadPatch) -> Result<Thread> {
        let url = self.c.url(&["threads", thread_id], &[])?;
        self.c.call(Method::PATCH, url, Some(to_body(patch)?), Timing::Bounded, "a thread").await
    }

    /// `DELETE /threads/{id}` (with its runs and checkpoints).
    ///
    /// # Errors
    /// 404 unknown.
    pub async fn delete(&self, thread_id: &str) -> Result<()> {
        let url = self.c.url(&["threads", thread_id], &[])?;
        self.c.call_empty(Method::DELETE, url, None).await
    }

    /// `POST /threads/search`.
    ///
    /// # Errors
    /// 400 bad id in `ids`; a decode error with `select` (use [`Threads::search_raw`]).
    pub async fn search(&self, query: &ThreadSearch) -> Result<Vec<Thread>> {
        self.c.post_json(&["threads", "search"], query, "threads").await
    }

    /// `POST /threads/search` with its pagination headers.
    ///
    /// # Errors
    /// As [`Threads::search`].
    pub async fn search_page(&self, query: &ThreadSearch) -> Result<Page<Thread>> {
        self.c.page(&["threads", "search"], query, "threads").await
    }

    /// `POST /threads/search`, objects as sent (for `select` and `extract`).
    ///
    /// # Errors
    /// As [`Threads::search`].
    pub async fn search_raw(&self, query: &ThreadSearch) -> Result<Vec<Value>> {
        self.c.post_json(&["threads", "search"], query, "threads").await
    }

    /// `POST /threads/count` with the filter fields of `query` (`metadata`, `values`,
    /// `status`).
    ///
    /// # Errors
    /// 422 bad filter.
    pub async fn count(&self, query: &ThreadSearch) -> Result<u64> {
        let body = ThreadSearch {
            metadata: query.metadata.clone(),
            values: query.values.clone(),
            status: query.status,
            ..ThreadSearch::default()
        };
        self.c.post_json(&["threads", "count"], &body, "a count").await
    }

    /// `POST /threads/{id}/copy`: a new thread with the same metadata and checkpoints.
    ///
    /// # Errors
    /// 409 (sic) when the source does not exist.
    pub async fn copy(&self, thread_id: &str) -> Result<Thread> {
        self.c.post_json(&["threads", thread_id, "copy"], &json!({}), "a thread").await
    }

    /// `POST /threads/prune`: delete threads (`strategy` `delete`) or keep only their latest
    /// checkpoint (`keep_latest`). Returns how many were pruned.
    ///
    /// # Errors
    /// 422 bad strategy.
    pub async fn prune(&self, thread_ids: &[&str], strategy: &str) -> Result<u64> {
        let body = json!({"thread_ids": thread_ids, "strategy": strategy});
        let v: Value = self.c.post_json(&["threads", "prune"], &body, "a prune answer").await?;
        Ok(v.get("pruned_count").and_then(Value::as_u64).unwrap_or(0))
    }

    /// `GET /threads/{id}/state`: the latest checkpoint (an empty state before the first run).
    ///
    /// # Errors
    /// 404 unknown.
    pub async fn get_state(&self, thread_id: &str, subgraphs: bool) -> Result<ThreadState> {
        let query = [("subgraphs", subgraphs.to_string())];
        self.c.get_json(&["threads", thread_id, "state"], &query, "a thread state").await
    }

    /// `GET /threads/{id}/state/{checkpoint_id}`.
    ///
    /// # Errors
    /// 404 unknown thread.
    pub async fn get_state_at(
        &self,
        thread_id: &str,
        checkpoint_id: &str,
        subgraphs: bool,
    ) -> Result<ThreadState> {
        let query = [("subgraphs", subgraphs.to_string())];
        self.c
            .get_json(&["threads", thread_id, "state", checkpoint_id], &query, "a thread state")
            .await
    }

    /// `POST /threads/{id}/state/checkpoint`: the state at a checkpoint given as an object
    /// (`{checkpoint_id, checkpoint_ns?, ...}`).
    ///
    /// # Errors
    /// 404 unknown thread.
    pub async fn get_state_at_checkpoint(
        &self,
        thread_id: &str,
        checkpoint: &Value,
        subgraphs: bool,
    ) -> Result<ThreadState> {
        let body = json!({"checkpoint": checkpoint, "subgraphs": subgraphs});
        self.c
            .post_json(&["threads", thread_id, "state", "checkpoint"], &body, "a thread state")
            .await
    }

    /// `POST /threads/{id}/state`: a new checkpoint as if `as_node` had written `values`.
    ///
    /// # Errors
    /// 400 thread never ran or unknown node, 409 a run is in flight, 404 unknown thread.
    pub async fn update_state(
        &self,
        thread_id: &str,
        update: &StateUpdate,
    ) -> Result<StateUpdated> {
        self.c.post_json(&["threads", thread_id, "state"], update, "a state update answer").await
    }

    /// `GET /threads/{id}/history?limit=&before=`: states, newest first (the server's default
    /// limit is 1).
    ///
    /// # Errors
    /// 404 unknown thread, 422 bad limit.
    pub async fn history(
        &self,
        thread_id: &str,
        limit: Option<u64>,
        before: Option<&str>,
    ) -> Result<Vec<ThreadState>> {
        let mut query = Vec::new();
        if let Some(l) = limit {
            query.push(("limit", l.to_string()));
        }
        if let Some(b) = before {
            query.push(("before", b.to_string()));
        }
        self.c.get_json(&["threads", thread_id, "history"], &query, "thread states").await
    }

    /// `POST /threads/{id}/history`: states filtered by checkpoint metadata, newest first.
    ///
    /// # Errors
    /// 404 unknown thread.
    pub async fn search_history(
        &self,
        thread_id: &str,
        query: &HistorySearch,
    ) -> Result<Vec<ThreadState>> {
        self.c.post_json(&["threads", thread_id, "history"], query, "thread states").await
    }

    /// `GET /threads/{id}/stream`: every run of the thread and its state updates, as they
    /// happen (it never ends by itself: drop it). Events carry ids; pass one as
    /// `last_event_id` to replay from there.
    ///
    /// # Errors
    /// 422 bad mode or id; a transport error.
    pub async fn join_stream(
        &self,
        thread_id: &str,
        modes: &[ThreadStreamMode],
        last_event_id: Option<&str>,
    ) -> Result<EventStream> {
        let mut query = Vec::new();
        if !modes.is_empty() {
            let m: Vec<&str> = modes.iter().map(|m| m.as_str()).collect();
            query.push(("stream_modes", m.join(",")));
        }
        let url = self.c.url(&["threads", thread_id, "stream"], &query)?;
        EventStream::open(self.c, Method::GET, url, None, last_event_id).await
    }
}
