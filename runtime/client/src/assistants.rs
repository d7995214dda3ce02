//! `/assistants`.

use orrery_api::{Assistant, AssistantVersion};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::{
    AssistantCreate, AssistantPatch, AssistantSearch, Client, Page, Result, Timing, VersionSearch,
    Xray, to_body,
};

/// Assistant calls; see [`Client::assistants`].
#[derive(Debug, Clone, Copy)]
pub struct Assistants<'a> {
    pub(crate) c: &'a Client,
}

impl Assistants<'_> {
    /// `POST /assistants`.
    ///
    /// # Errors
    /// 404 unknown graph, 409 existing id (with `if_exists: raise`), 400 config and context.
    pub async fn create(&self, body: &AssistantCreate) -> Result<Assistant> {
        self.c.post_json(&["assistants"], body, "an assistant").await
    }

    /// `GET /assistants/{id}` (a UUID; graph names are refused with 422).
    ///
    /// # Errors
    /// 404 unknown, 422 not a UUID.
    pub async fn get(&self, assistant_id: &str) -> Result<Assistant> {
        self.c.get_json(&["assistants", assistant_id], &[], "an assistant").await
    }

    /// `PATCH /assistants/{id}`: a new version.
    ///
    /// # Errors
    /// 404 unknown, 400 config and context.
    pub async fn update(&self, assistant_id: &str, patch: &AssistantPatch) -> Result<Assistant> {
        let url = self.c.url(&["assistants", assistant_id], &[])?;
        self.c
            .call(Method::PATCH, url, Some(to_body(patch)?), Timing::Bounded, "an assistant")
            .await
    }

    /// `DELETE /assistants/{id}`; `delete_threads` also deletes the threads it ran on.
    ///
    /// # Errors
    /// 404 unknown.
    pub async fn delete(&self, assistant_id: &str, delete_threads: bool) -> Result<()> {
        let query: Vec<(&str, String)> =
            if delete_threads { vec![("delete_threads", "true".into())] } else { vec![] };
        let url = self.c.url(&["assistants", assistant_id], &query)?;
        self.c.call_empty(Method::DELETE, url, None).await
    }

    /// `POST /assistants/search`.
    ///
    /// # Errors
    /// 404 unknown `graph_id`; a decode error if `select` made the objects partial (use
    /// [`Assistants::search_raw`] then).
    pub async fn search(&self, query: &AssistantSearch) -> Result<Vec<Assistant>> {
        self.c.post_json(&["assistants", "search"], query, "assistants").await
    }

    /// `POST /assistants/search` with its pagination headers.
    ///
    /// # Errors
    /// As [`Assistants::search`].
    pub async fn search_page(&self, query: &AssistantSearch) -> Result<Page<Assistant>> {
        self.c.page(&["assistants", "search"], query, "assistants").await
    }

    /// `POST /assistants/search`, objects as the server sent them (for `select`).
    ///
    /// # Errors
    /// As [`Assistants::search`].
    pub async fn search_raw(&self, query: &AssistantSearch) -> Result<Vec<Value>> {
        self.c.post_json(&["assistants", "search"], query, "assistants").await
    }

    /// `POST /assistants/count` with the filter fields of `query` (`metadata`, `graph_id`,
    /// `name`).
    ///
    /// # Errors
    /// 404 unknown `graph_id`.
    pub async fn count(&self, query: &AssistantSearch) -> Result<u64> {
        let mut body = Map::new();
        if let Some(m) = &query.metadata {
            body.insert("metadata".into(), m.clone());
        }
        if let Some(g) = &query.graph_id {
            body.insert("graph_id".into(), json!(g));
        }
        if let Some(n) = &query.name {
            body.insert("name".into(), json!(n));
        }
        self.c.post_json(&["assistants", "count"], &body, "a count").await
    }

    /// `GET /assistants/{id}/graph` (a graph name works as id): `{nodes, edges}`.
    ///
    /// # Errors
    /// 404 unknown, 422 bad xray.
    pub async fn graph(&self, assistant_id: &str, xray: Xray) -> Result<Value> {
        let query: Vec<(&str, String)> = match xray {
            Xray::Off => vec![],
            Xray::On => vec![("xray", "true".into())],
            Xray::Depth(n) => vec![("xray", n.to_string())],
        };
        self.c.get_json(&["assistants", assistant_id, "graph"], &query, "a graph").await
    }

    /// `GET /assistants/{id}/schemas`: `{graph_id, input_schema, output_schema, state_schema,
    /// config_schema, context_schema}`.
    ///
    /// # Errors
    /// 404 unknown, 422 not a UUID.
    pub async fn schemas(&self, assistant_id: &str) -> Result<Value> {
        self.c.get_json(&["assistants", assistant_id, "schemas"], &[], "schemas").await
    }

    /// `GET /assistants/{id}/subgraphs[/{namespace}]?recurse=`: schemas by namespace.
    ///
    /// # Errors
    /// 404 unknown, 422 not a UUID.
    pub async fn subgraphs(
        &self,
        assistant_id: &str,
        namespace: Option<&str>,
        recurse: bool,
    ) -> Result<Map<String, Value>> {
        let query = [("recurse", recurse.to_string())];
        let mut segments = vec!["assistants", assistant_id, "subgraphs"];
        if let Some(ns) = namespace {
            segments.push(ns);
        }
        self.c.get_json(&segments, &query, "subgraphs").await
    }

    /// `POST /assistants/{id}/versions`, newest first.
    ///
    /// # Errors
    /// 404 unknown (or no version matches).
    pub async fn versions(
        &self,
        assistant_id: &str,
        query: &VersionSearch,
    ) -> Result<Vec<AssistantVersion>> {
        self.c.post_json(&["assistants", assistant_id, "versions"], query, "versions").await
    }

    /// `POST /assistants/{id}/latest`: make `version` the current one.
    ///
    /// # Errors
    /// 404 unknown assistant or version.
    pub async fn set_latest(&self, assistant_id: &str, version: i64) -> Result<Assistant> {
        self.c
            .post_json(
                &["assistants", assistant_id, "latest"],
                &json!({"version": version}),
                "an assistant",
            )
            .await
    }
}
