//! Meta and assistants.

use std::sync::Arc;

use orrery_client::{AssistantCreate, AssistantPatch, AssistantSearch, VersionSearch, Xray};
use serde_json::{Value, json};

use crate::{Backend, marker, status_of, system_assistant_id};

crate::tests![meta, system_assistant, graph_and_schemas, create_patch_versions_delete, paging];

async fn meta(b: Arc<Backend>) {
    let ok = b.client.ok().await.unwrap();
    assert_eq!(ok["ok"], json!(true), "{ok}");
    let info = b.client.info().await.unwrap();
    assert!(info["version"].as_str().is_some_and(|v| !v.is_empty()), "{info}");
    assert_eq!(info["flags"]["assistants"], json!(true), "{info}");
    // Crons are a feature flag (the crons test checks the flag tells the truth).
    assert!(info["flags"]["crons"].is_boolean(), "{info}");
    // An API key is sent and ignored by both servers (noop auth).
    let keyed = b.client.clone().with_api_key("not-a-real-key");
    assert_eq!(keyed.ok().await.unwrap()["ok"], json!(true));
}

async fn system_assistant(b: Arc<Backend>) {
    let found = b
        .client
        .assistants()
        .search(
            &AssistantSearch::default()
                .graph_id(b.chat_graph())
                .metadata(json!({"created_by": "system"})),
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let a = &found[0];
    assert_eq!(a.assistant_id, b.chat_assistant_id());
    assert_eq!(
        a.assistant_id,
        system_assistant_id(b.chat_graph()),
        "LangGraph's uuid5(6ba7b821-..., graph) system assistant id"
    );
    assert_eq!(a.name, b.chat_graph());
    assert_eq!(a.version, 1);
    let got = b.client.assistants().get(b.chat_assistant_id()).await.unwrap();
    assert_eq!(&got, a);
    let n = b
        .client
        .assistants()
        .count(
            &AssistantSearch::default()
                .graph_id(b.chat_graph())
                .metadata(json!({"created_by": "system"})),
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    // Graph names are not ids on GET (422), unknown UUIDs are 404.
    assert_eq!(status_of(b.client.assistants().get(b.chat_graph()).await), 422);
    assert_eq!(
        status_of(b.client.assistants().get("00000000-0000-4000-8000-000000000000").await),
        404
    );
    // An unknown graph filter is 404 on both.
    let r = b.client.assistants().search(&AssistantSearch::default().graph_id("nope")).await;
    assert_eq!(status_of(r), 404);
}

fn node_ids(graph: &Value) -> Vec<String> {
    graph["nodes"]
        .as_array()
        .map(|n| n.iter().filter_map(|n| n["id"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

async fn graph_and_schemas(b: Arc<Backend>) {
    let a = b.client.assistants();
    // A graph name works as the id here.
    let g = a.graph(b.chat_graph(), Xray::Off).await.unwrap();
    let nodes = node_ids(&g);
    for n in ["__start__", b.chat_node(), "__end__"] {
        assert!(nodes.iter().any(|x| x == n), "{n} missing in {g}");
    }
    assert!(g["edges"].as_array().is_some_and(|e| !e.is_empty()), "{g}");
    let by_id = a.graph(b.chat_assistant_id(), Xray::On).await.unwrap();
    assert_eq!(node_ids(&by_id), nodes);
    assert_eq!(status_of(a.graph(b.chat_graph(), Xray::Depth(0)).await), 422);

    let s = a.schemas(b.chat_assistant_id()).await.unwrap();
    assert_eq!(s["graph_id"], json!(b.chat_graph()), "{s}");
    let props = &s["state_schema"]["properties"];
    assert!(props.get("messages").is_some(), "{s}");

    let subs = a.subgraphs(b.chat_assistant_id(), None, true).await.unwrap();
    assert!(subs.is_empty(), "{subs:?}");
    // By namespace: the same, filtered (`{}` when the graph has no such subgraph).
    let one = a.subgraphs(b.chat_assistant_id(), Some("child"), false).await.unwrap();
    assert!(one.is_empty(), "{one:?}");
    let missing = uuid::Uuid::new_v4().to_string();
    assert_eq!(status_of(a.subgraphs(&missing, Some("child"), false).await), 404);
    if b.is_lgdev() {
        // `nested` has a compiled subgraph node `child`.
        let nested = system_assistant_id("nested");
        let g = a.graph("nested", Xray::Off).await.unwrap();
        let xg = a.graph("nested", Xray::On).await.unwrap();
        assert!(node_ids(&xg).len() > node_ids(&g).len(), "xray shows the inner nodes: {xg}");
        let nested_id = a
            .search(&AssistantSearch::default().graph_id("nested"))
            .await
            .unwrap()
            .first()
            .map(|a| a.assistant_id.clone())
            .unwrap();
        assert_eq!(nested_id, nested);
        let subs = a.subgraphs(&nested_id, None, false).await.unwrap();
        assert_eq!(subs.keys().collect::<Vec<_>>(), ["child"], "{subs:?}");
        let one = a.subgraphs(&nested_id, Some("child"), true).await.unwrap();
        assert!(one.contains_key("child"), "{one:?}");
    }
}

async fn create_patch_versions_delete(b: Arc<Backend>) {
    let a = b.client.assistants();
    let tag = marker("assistant");
    let created = a
        .create(
            &AssistantCreate::new(b.chat_graph())
                .name("Client test")
                .description("made by the client tests")
                .metadata(json!({"test": tag, "owner": "client"}))
                .config(json!({"tags": ["client"]})),
        )
        .await
        .unwrap();
    assert_eq!(created.version, 1);
    assert_eq!(created.graph_id, b.chat_graph());
    assert_eq!(created.name, "Client test");
    assert_eq!(created.description.as_deref(), Some("made by the client tests"));
    let id = created.assistant_id.clone();

    // The same id again: 409, or the existing one with if_exists=do_nothing.
    let again = AssistantCreate::new(b.chat_graph()).assistant_id(id.clone());
    assert_eq!(status_of(a.create(&again).await), 409);
    let same = a.create(&again.if_exists(orrery_client::IfExists::DoNothing)).await.unwrap();
    assert_eq!(same.assistant_id, id);
    assert_eq!(same.name, "Client test");
    // An unknown graph is 404.
    assert_eq!(status_of(a.create(&AssistantCreate::new("no-such-graph")).await), 404);

    let patched = a
        .update(&id, &AssistantPatch::default().name("Renamed").metadata(json!({"extra": 1})))
        .await
        .unwrap();
    assert_eq!(patched.version, 2);
    assert_eq!(patched.name, "Renamed");
    assert_eq!(patched.metadata["test"], json!(tag), "metadata is merged");
    assert_eq!(patched.metadata["extra"], json!(1));

    let versions = a.versions(&id, &VersionSearch::default()).await.unwrap();
    let v: Vec<(i64, Option<String>)> =
        versions.iter().map(|v| (v.version, v.name.clone())).collect();
    assert_eq!(v, [(2, Some("Renamed".into())), (1, Some("Client test".into()))]);
    let v1 = a.versions(&id, &VersionSearch::default().limit(1u64).offset(1u64)).await.unwrap();
    assert_eq!(v1.iter().map(|v| v.version).collect::<Vec<_>>(), [1]);

    let latest = a.set_latest(&id, 1).await.unwrap();
    assert_eq!(latest.version, 1);
    assert_eq!(latest.name, "Client test");
    assert_eq!(a.get(&id).await.unwrap().name, "Client test");
    assert_eq!(status_of(a.set_latest(&id, 42).await), 404);

    let mine = AssistantSearch::default().metadata(json!({"test": tag}));
    assert_eq!(a.search(&mine).await.unwrap().len(), 1);
    assert_eq!(a.count(&mine).await.unwrap(), 1);
    let raw = a
        .search_raw(&mine.clone().select(vec!["assistant_id".to_string(), "name".into()]))
        .await
        .unwrap();
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0]["assistant_id"], json!(id));
    assert_eq!(
        raw[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["assistant_id", "name"],
        "POST /assistants/search select=[assistant_id,name] returns only those: {}",
        raw[0]
    );

    a.delete(&id, false).await.unwrap();
    assert_eq!(status_of(a.get(&id).await), 404);
    assert_eq!(status_of(a.delete(&id, false).await), 404);
    assert_eq!(a.count(&mine).await.unwrap(), 0);
}

async fn paging(b: Arc<Backend>) {
    let a = b.client.assistants();
    let tag = marker("paging");
    let mut ids = Vec::new();
    for i in 0..3 {
        let c = a
            .create(
                &AssistantCreate::new(b.chat_graph())
                    .name(format!("page {i}"))
                    .metadata(json!({"test": tag})),
            )
            .await
            .unwrap();
        ids.push(c.assistant_id);
    }
    let q = AssistantSearch::default()
        .metadata(json!({"test": tag}))
        .sort_by("name")
        .sort_order(orrery_client::SortOrder::Asc)
        .limit(2u64);
    let p1 = a.search_page(&q).await.unwrap();
    let names: Vec<&str> = p1.items.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["page 0", "page 1"]);
    assert_eq!(p1.next, Some(2), "X-Pagination-Next");
    let p2 = a.search_page(&q.clone().offset(2u64)).await.unwrap();
    assert_eq!(p2.items.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["page 2"]);
    assert_eq!(p2.next, None);
    assert_eq!(p2.total, Some(3), "the last page's total is the real total");
    for id in ids {
        a.delete(&id, false).await.unwrap();
    }
}
