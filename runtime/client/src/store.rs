//! `/store`: the key-value store shared by all threads.

use orrery_api::Item;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Client, ItemSearch, NamespaceSearch, PutItem, Result, Timing, to_body};

/// Store calls; see [`Client::store`].
#[derive(Debug, Clone, Copy)]
pub struct Store<'a> {
    pub(crate) c: &'a Client,
}

#[derive(Deserialize)]
struct Items {
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Namespaces {
    namespaces: Vec<Vec<String>>,
}

impl Store<'_> {
    /// `PUT /store/items`: create or replace an item.
    ///
    /// # Errors
    /// 422 bad namespace label (contains `.` or is empty) or a value that is not an object.
    pub async fn put(&self, item: &PutItem) -> Result<()> {
        let url = self.c.url(&["store", "items"], &[])?;
        self.c.call_empty(Method::PUT, url, Some(to_body(item)?)).await
    }

    /// `GET /store/items?namespace=a.b&key=`: the item, `None` when there is none.
    ///
    /// # Errors
    /// 422 bad namespace.
    pub async fn get<S: AsRef<str>>(
        &self,
        namespace: &[S],
        key: &str,
        refresh_ttl: Option<bool>,
    ) -> Result<Option<Item>> {
        let ns: Vec<&str> = namespace.iter().map(AsRef::as_ref).collect();
        let mut query = vec![("namespace", ns.join(".")), ("key", key.to_string())];
        if let Some(r) = refresh_ttl {
            query.push(("refresh_ttl", r.to_string()));
        }
        self.c.get_json(&["store", "items"], &query, "a store item").await
    }

    /// `DELETE /store/items` (the namespace and key travel in a JSON body).
    ///
    /// # Errors
    /// 422 bad namespace.
    pub async fn delete<S: AsRef<str>>(&self, namespace: &[S], key: &str) -> Result<()> {
        let ns: Vec<&str> = namespace.iter().map(AsRef::as_ref).collect();
        let url = self.c.url(&["store", "items"], &[])?;
        let body = json!({"namespace": ns, "key": key});
        self.c.call_empty(Method::DELETE, url, Some(body)).await
    }

    /// `POST /store/items/search`.
    ///
    /// # Errors
    /// 422 bad query.
    pub async fn search(&self, query: &ItemSearch) -> Result<Vec<Item>> {
        let url = self.c.url(&["store", "items", "search"], &[])?;
        let r: Items = self
            .c
            .call(Method::POST, url, Some(to_body(query)?), Timing::Bounded, "store items")
            .await?;
        Ok(r.items)
    }

    /// `POST /store/namespaces`.
    ///
    /// # Errors
    /// 422 bad query.
    pub async fn list_namespaces(&self, query: &NamespaceSearch) -> Result<Vec<Vec<String>>> {
        let r: Namespaces = self.c.post_json(&["store", "namespaces"], query, "namespaces").await?;
        Ok(r.namespaces)
    }

    /// The raw JSON of `POST /store/items/search` (e.g. to read `score`s of other shapes).
    ///
    /// # Errors
    /// 422 bad query.
    pub async fn search_raw(&self, query: &ItemSearch) -> Result<Value> {
        self.c.post_json(&["store", "items", "search"], query, "store items").await
    }
}
