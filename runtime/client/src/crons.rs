//! `/runs/crons`: scheduled runs.

use orrery_api::Cron;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::{Client, CronCreate, CronPatch, CronSearch, Page, Result, Timing, to_body};

/// Cron calls; see [`Client::crons`]. (`orrery-runtime` does not serve crons yet: 404.)
#[derive(Debug, Clone, Copy)]
pub struct Crons<'a> {
    pub(crate) c: &'a Client,
}

impl Crons<'_> {
    /// `POST /runs/crons`: a stateless cron (a new thread per firing).
    ///
    /// # Errors
    /// 422 bad schedule or time zone, 404 unknown assistant.
    pub async fn create(&self, cron: &CronCreate) -> Result<Cron> {
        self.c.post_json(&["runs", "crons"], cron, "a cron").await
    }

    /// `POST /threads/{id}/runs/crons`: a cron running on a thread.
    ///
    /// # Errors
    /// As [`Crons::create`], 404 unknown thread.
    pub async fn create_for_thread(&self, thread_id: &str, cron: &CronCreate) -> Result<Cron> {
        self.c.post_json(&["threads", thread_id, "runs", "crons"], cron, "a cron").await
    }

    /// `GET /runs/crons/{id}`.
    ///
    /// # Errors
    /// 404 unknown.
    pub async fn get(&self, cron_id: &str) -> Result<Cron> {
        self.c.get_json(&["runs", "crons", cron_id], &[], "a cron").await
    }

    /// `PATCH /runs/crons/{id}`.
    ///
    /// # Errors
    /// 400 empty patch, 404 unknown.
    pub async fn update(&self, cron_id: &str, patch: &CronPatch) -> Result<Cron> {
        let url = self.c.url(&["runs", "crons", cron_id], &[])?;
        self.c.call(Method::PATCH, url, Some(to_body(patch)?), Timing::Bounded, "a cron").await
    }

    /// `DELETE /runs/crons/{id}`.
    ///
    /// # Errors
    /// 404 unknown.
    pub async fn delete(&self, cron_id: &str) -> Result<()> {
        let url = self.c.url(&["runs", "crons", cron_id], &[])?;
        self.c.call_empty(Method::DELETE, url, None).await
    }

    /// `POST /runs/crons/search`.
    ///
    /// # Errors
    /// 422 bad filter; a decode error with `select` (use [`Crons::search_raw`]).
    pub async fn search(&self, query: &CronSearch) -> Result<Vec<Cron>> {
        self.c.post_json(&["runs", "crons", "search"], query, "crons").await
    }

    /// `POST /runs/crons/search` with its pagination headers.
    ///
    /// # Errors
    /// As [`Crons::search`].
    pub async fn search_page(&self, query: &CronSearch) -> Result<Page<Cron>> {
        self.c.page(&["runs", "crons", "search"], query, "crons").await
    }

    /// `POST /runs/crons/search`, objects as sent (for `select`).
    ///
    /// # Errors
    /// As [`Crons::search`].
    pub async fn search_raw(&self, query: &CronSearch) -> Result<Vec<Value>> {
        self.c.post_json(&["runs", "crons", "search"], query, "crons").await
    }

    /// `POST /runs/crons/count` with the filter fields of `query` (`assistant_id`,
    /// `thread_id`, `metadata`).
    ///
    /// # Errors
    /// 422 bad filter.
    pub async fn count(&self, query: &CronSearch) -> Result<u64> {
        let mut body = Map::new();
        if let Some(a) = &query.assistant_id {
            body.insert("assistant_id".into(), json!(a));
        }
        if let Some(t) = &query.thread_id {
            body.insert("thread_id".into(), json!(t));
        }
        if let Some(m) = &query.metadata {
            body.insert("metadata".into(), m.clone());
        }
        self.c.post_json(&["runs", "crons", "count"], &body, "a count").await
    }
}
