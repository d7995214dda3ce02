//! The store, and crons (langgraph dev only: our runtime does not serve crons yet).

use std::sync::Arc;

use orrery_client::{
    CronCreate, CronPatch, CronSearch, ItemSearch, NamespaceSearch, OnCompletion, PutItem,
    ThreadCreate,
};
use serde_json::json;

use crate::{Backend, marker, status_of};

crate::tests![store_items_and_namespaces, crons];

async fn store_items_and_namespaces(b: Arc<Backend>) {
    let s = b.client.store();
    let root = marker("store");
    s.put(&PutItem::new(&[root.as_str(), "u1"], "prefs", json!({"theme": "dark", "lang": "fr"})))
        .await
        .unwrap();
    s.put(
        &PutItem::new(&[root.as_str(), "u2"], "prefs", json!({"theme": "light"}))
            .index(json!(false))
            .ttl(5.0),
    )
    .await
    .unwrap();
    s.put(&PutItem::new(&[root.as_str(), "docs"], "d1", json!({"text": "hello"}))).await.unwrap();

    let item = s.get(&[root.as_str(), "u1"], "prefs", None).await.unwrap().unwrap();
    assert_eq!(item.namespace, [root.as_str(), "u1"]);
    assert_eq!(item.key, "prefs");
    assert_eq!(item.value["theme"], json!("dark"));
    assert!(s.get(&[root.as_str(), "u1"], "missing", None).await.unwrap().is_none());

    // Replace.
    s.put(&PutItem::new(&[root.as_str(), "u1"], "prefs", json!({"theme": "solarized"})))
        .await
        .unwrap();
    let item = s.get(&[root.as_str(), "u1"], "prefs", Some(true)).await.unwrap().unwrap();
    assert_eq!(item.value, json!({"theme": "solarized"}).as_object().cloned().unwrap());

    let all = s.search(&ItemSearch::new(&[root.as_str()])).await.unwrap();
    assert_eq!(all.len(), 3);
    let light = s
        .search(&ItemSearch::new(&[root.as_str()]).filter(json!({"theme": "light"})))
        .await
        .unwrap();
    assert_eq!(light.len(), 1);
    assert_eq!(light[0].namespace, [root.as_str(), "u2"]);
    let one = s.search(&ItemSearch::new(&[root.as_str()]).limit(1u64)).await.unwrap();
    assert_eq!(one.len(), 1);

    let ns =
        s.list_namespaces(&NamespaceSearch::default().prefix(vec![root.clone()])).await.unwrap();
    let mut ns: Vec<Vec<String>> = ns;
    ns.sort();
    assert_eq!(
        ns,
        [
            vec![root.clone(), "docs".to_string()],
            vec![root.clone(), "u1".to_string()],
            vec![root.clone(), "u2".to_string()]
        ]
    );
    let top = s
        .list_namespaces(&NamespaceSearch::default().prefix(vec![root.clone()]).max_depth(1u64))
        .await
        .unwrap();
    assert_eq!(top, [vec![root.clone()]]);
    let docs = s
        .list_namespaces(
            &NamespaceSearch::default().prefix(vec![root.clone()]).suffix(vec!["docs".to_string()]),
        )
        .await
        .unwrap();
    assert_eq!(docs, [vec![root.clone(), "docs".to_string()]]);

    s.delete(&[root.as_str(), "u1"], "prefs").await.unwrap();
    assert!(s.get(&[root.as_str(), "u1"], "prefs", None).await.unwrap().is_none());
    assert_eq!(s.search(&ItemSearch::new(&[root.as_str()])).await.unwrap().len(), 2);

    // Errors: a label with a dot (plain-text 422), a value that is not an object.
    let e = s.put(&PutItem::new(&["bad.label"], "k", json!({}))).await;
    match e {
        Err(orrery_client::Error::Api { status: 422, detail, .. }) => {
            assert!(detail.contains("bad.label"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(status_of(s.put(&PutItem::new(&["x"], "k", json!("not an object"))).await), 422);
    for key in ["d1"] {
        s.delete(&[root.as_str(), "docs"], key).await.unwrap();
    }
    s.delete(&[root.as_str(), "u2"], "prefs").await.unwrap();
}

async fn crons(b: Arc<Backend>) {
    let c = b.client.crons();
    // A schedule that does not fire during the test.
    let yearly = "0 0 1 1 *";
    let info = b.client.info().await.unwrap();
    if info["flags"]["crons"] != json!(true) {
        // A server without crons says so in /info, and the routes are not there.
        let r = c.create(&CronCreate::new(b.chat_graph(), yearly)).await;
        assert!(matches!(status_of(r), 404 | 405), "flags.crons is false");
        return;
    }
    let tag = marker("cron");
    let stateless = c
        .create(
            &CronCreate::new(b.chat_graph(), yearly)
                .input(Backend::chat_input("cron"))
                .metadata(json!({"test": tag}))
                .timezone("Europe/Paris")
                .on_run_completed(OnCompletion::Keep),
        )
        .await
        .unwrap();
    assert_eq!(stateless.thread_id, None);
    assert_eq!(stateless.schedule, yearly);
    assert_eq!(stateless.timezone.as_deref(), Some("Europe/Paris"));
    assert_eq!(stateless.on_run_completed.as_deref(), Some("keep"));
    assert_eq!(stateless.assistant_id, b.chat_assistant_id(), "the graph name is resolved");
    assert_eq!(stateless.metadata["test"], json!(tag));
    // Midnight on 1 January in Paris is 23:00 UTC on 31 December.
    let next = stateless.next_run_date.clone().unwrap_or_default();
    assert!(next.contains("-12-31T23:00:00"), "{next}");

    let tid = b.client.threads().create(&ThreadCreate::default()).await.unwrap().thread_id;
    let on_thread = c
        .create_for_thread(
            &tid,
            &CronCreate::new(b.chat_graph(), yearly)
                .metadata(json!({"test": tag}))
                .end_time("2099-01-01T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(on_thread.thread_id.as_deref(), Some(tid.as_str()));
    assert_eq!(on_thread.end_time.as_deref(), Some("2099-01-01T00:00:00Z"));
    assert_eq!(on_thread.on_run_completed, None, "thread crons have no on_run_completed");

    let got = c.get(&stateless.cron_id).await.unwrap();
    assert_eq!(got, stateless);
    let mine = CronSearch::default().metadata(json!({"test": tag}));
    assert_eq!(c.search(&mine).await.unwrap().len(), 2);
    assert_eq!(c.count(&mine).await.unwrap(), 2);
    let by_thread = c.search(&CronSearch::default().thread_id(tid.clone())).await.unwrap();
    assert_eq!(by_thread.len(), 1);
    assert_eq!(by_thread[0].cron_id, on_thread.cron_id);
    let page = c.search_page(&mine.clone().limit(1u64)).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.next, Some(1));

    let patched = c
        .update(&stateless.cron_id, &CronPatch::default().schedule("0 12 * * *").enabled(false))
        .await
        .unwrap();
    assert_eq!(patched.schedule, "0 12 * * *");
    assert!(!patched.enabled);
    assert_eq!(c.get(&stateless.cron_id).await.unwrap().schedule, "0 12 * * *");
    let enabled = c.search(&mine.clone().enabled(true)).await.unwrap();
    assert_eq!(
        enabled.iter().map(|c| c.cron_id.as_str()).collect::<Vec<_>>(),
        [on_thread.cron_id.as_str()]
    );
    assert_eq!(status_of(c.update(&stateless.cron_id, &CronPatch::default()).await), 400);
    let bad = c.create(&CronCreate::new(b.chat_graph(), "not a cron")).await;
    assert_eq!(status_of(bad), 422);
    let bad_tz = c.create(&CronCreate::new(b.chat_graph(), yearly).timezone("Mars/Olympus")).await;
    assert_eq!(status_of(bad_tz), 422);

    c.delete(&stateless.cron_id).await.unwrap();
    c.delete(&on_thread.cron_id).await.unwrap();
    assert_eq!(status_of(c.get(&stateless.cron_id).await), 404);
    assert_eq!(status_of(c.delete(&stateless.cron_id).await), 404);
    assert_eq!(c.count(&mine).await.unwrap(), 0);
}
