//! A measurement, not a check (ignored by default; README, "Measuring the Studio"): the real
//! window against its embedded runtime, holding 10,000 threads of the `echo` assistant and one
//! thread with 1,000 checkpoints. Prints the medians of a few repeats of: rendering the thread
//! list (first page and count), paging through it end to end, jumping to its last page,
//! rendering the long thread's timeline and scrolling it end to end. Times are taken inside the
//! page (`performance.now()`, until the next animation frame after the DOM is complete), so
//! WebDriver's round trips are not in them.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use futures::StreamExt;
use orrery_client::{StateUpdate, ThreadCreate};
use serde_json::{Value, json};

use crate::harness::{Window, eventually, find_one, shot};

const THREADS: usize = 10_000;
const CHECKPOINTS: usize = 1_000;
const REPEATS: usize = 3;
/// How many pages one paging repeat turns (the list has 201).
const PAGES: usize = 40;

/// Runs an async script whose last argument is the callback; its answer as JSON.
async fn timed(client: &Client, script: &str) -> Value {
    match client.execute_async(script, vec![]).await {
        Ok(v) => v,
        Err(e) => {
            shot(client, "measure-failure.png").await;
            panic!("the measuring script failed: {e}");
        }
    }
}

/// Shared by the scripts: `until(cond, then)` polls `cond` once per animation frame (at most
/// 60 s) and calls `then` on the frame after it holds, so the figure includes a paint.
const UNTIL: &str = "const done = arguments[arguments.length - 1];
    const until = (cond, then) => { const t = performance.now(); (function poll() {
        if (cond()) { requestAnimationFrame(() => then()); }
        else if (performance.now() - t > 60000) { done({error: 'timed out'}); }
        else { requestAnimationFrame(poll); } })(); };
    const rows = () => Array.from(document.querySelectorAll('#threads li.thread'));
    const range = () => (document.querySelector('#threads-range') || {}).textContent || '';
    const mark = () => rows().forEach(li => li.__old = true);
    const fresh = () => rows().length > 0 && !rows().some(li => li.__old)
        && document.querySelector('#threads').getAttribute('aria-busy') === 'false';
    const scroller = el => { while (el && el !== document.body) {
        const s = getComputedStyle(el).overflowY;
        if ((s === 'auto' || s === 'scroll') && el.scrollHeight > el.clientHeight) return el;
        el = el.parentElement; } return null; };
    const scrollAll = (el, then) => { const t0 = performance.now(); el.scrollTop = 0;
        (function step() { if (el.scrollTop + el.clientHeight >= el.scrollHeight - 1) {
            requestAnimationFrame(() => then(performance.now() - t0)); }
          else { el.scrollTop += el.clientHeight / 2; requestAnimationFrame(step); } })(); };";

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

fn number(v: &Value, key: &str) -> f64 {
    match v.get(key).and_then(Value::as_f64) {
        Some(x) => x,
        None => panic!("the measuring script answered {v}"),
    }
}

#[tokio::test]
#[ignore = "a measurement that prints figures; run it by hand (README)"]
async fn measure_thread_list_and_history() {
    let window = Window::open().await;
    let client = &window.client;
    // Paging through 10,000 threads takes longer than WebDriver's default 30 s script timeout.
    let timeouts = fantoccini::wd::TimeoutConfiguration::new(
        Some(Duration::from_secs(300)),
        None,
        Some(Duration::ZERO),
    );
    client.update_timeouts(timeouts).await.unwrap();
    eventually(client, "the local runtime to be up", Duration::from_secs(60), || async {
        find_one(client, "li.connection[data-id='local'] .health.up").await
    })
    .await;
    client
        .find(Locator::Css("li.connection[data-id='local']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let url: String = eventually(client, "the runtime's URL", Duration::from_secs(20), || async {
        let v = client
            .execute(
                "for (const e of document.querySelectorAll('.runtime-url, .detail-url')) { \
                 const m = e.textContent.trim().match(/^http:\\/\\/127\\.0\\.0\\.1:\\d+$/); \
                 if (m) return m[0]; } return null",
                vec![],
            )
            .await?;
        Ok(v.as_str().map(str::to_string))
    })
    .await;
    let api = orrery_client::Client::new(url.clone()).unwrap();

    // The data: 10,000 threads of the echo assistant, then the long one (the newest).
    let assistants = api.assistants().search(&Default::default()).await.unwrap();
    let echo = assistants.iter().find(|a| a.graph_id == "echo").expect("the echo assistant");
    let metadata = json!({"assistant_id": echo.assistant_id, "graph_id": "echo"});
    let start = Instant::now();
    let created = futures::stream::iter(0..THREADS)
        .map(|_| {
            let api = api.clone();
            let body = ThreadCreate::default().metadata(metadata.clone());
            async move { api.threads().create(&body).await.map(|_| ()) }
        })
        .buffer_unordered(8)
        .filter(|r| std::future::ready(r.is_ok()))
        .count()
        .await;
    assert_eq!(created, THREADS, "threads created");
    println!("setup: {THREADS} threads created in {:.1} s", start.elapsed().as_secs_f64());
    let start = Instant::now();
    let long = api.threads().create(&ThreadCreate::default().metadata(metadata)).await.unwrap();
    for i in 0..CHECKPOINTS {
        let message = json!({"messages": [{"type": "human", "content": format!("message {i}")}]});
        let update = StateUpdate::new(message).as_node("echo");
        api.threads().update_state(&long.thread_id, &update).await.unwrap();
    }
    println!("setup: {CHECKPOINTS} checkpoints written in {:.1} s", start.elapsed().as_secs_f64());

    // The echo assistant's threads.
    client
        .find(Locator::Css("li.assistant[data-graph='echo']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client.find(Locator::Id("tab-threads")).await.unwrap().click().await.unwrap();
    eventually(client, "the thread list's count", Duration::from_secs(60), || async {
        let n = crate::harness::texts(client, "#threads-count").await?.join("");
        Ok(Some(()).filter(|()| n == "10,001"))
    })
    .await;
    shot(client, "measure-threads.png").await;

    let (mut render, mut paging, mut per_page, mut last) = (vec![], vec![], vec![], vec![]);
    let mut pages = 0.0;
    for _ in 0..REPEATS {
        let script = format!(
            "{UNTIL} mark(); const t0 = performance.now();
            document.querySelector('#threads-refresh').click();
            until(() => fresh() && / of /.test(range()), () => done({{ms: performance.now() - t0}}));"
        );
        render.push(number(&timed(client, &script).await, "ms"));
        println!("  render: {:.1} ms", render.last().copied().unwrap_or(f64::NAN));
        let script = format!(
            "{UNTIL} const t0 = performance.now(); let pages = 1;
            (function next() {{
              const b = document.querySelector('#threads-next');
              if (!b || b.disabled || pages > {PAGES}) {{ const ms = performance.now() - t0;
                done({{ms, pages, per_page: ms / Math.max(1, pages - 1)}}); return; }}
              mark(); b.click(); pages += 1; until(fresh, next);
            }})();"
        );
        let v = timed(client, &script).await;
        paging.push(number(&v, "ms"));
        per_page.push(number(&v, "per_page"));
        pages = number(&v, "pages");
        println!("  paging: {v}");
        let script = format!(
            "{UNTIL} document.querySelector('#threads-first').click();
            until(() => /^1–/.test(range()) && fresh(), () => {{
              mark(); const t0 = performance.now();
              document.querySelector('#threads-last').click();
              until(() => fresh() && /^10,?001/.test(range().split('–')[1] || ''),
                () => done({{ms: performance.now() - t0}}));
            }});"
        );
        last.push(number(&timed(client, &script).await, "ms"));
        println!("  last page: {:.1} ms", last.last().copied().unwrap_or(f64::NAN));
    }
    shot(client, "measure-threads-last.png").await;

    // The long thread: back to the first page, open it (the newest), time its timeline.
    let (mut history, mut scroll, mut load_all, mut scroll_all) = (vec![], vec![], vec![], vec![]);
    let (mut shown, mut all) = (0.0, 0.0);
    for i in 0..REPEATS {
        let script = format!(
            "{UNTIL} const back = document.querySelector('#thread-back'); if (back) back.click();
            until(() => document.querySelector('#threads-first'), () => {{
              document.querySelector('#threads-first').click();
              until(() => /^1–/.test(range()) && fresh(), () => {{
                const row = document.querySelector('#threads li.thread[data-id=\"{id}\"]');
                if (!row) {{ done({{error: 'the long thread is not on the first page'}}); return; }}
                const t0 = performance.now(); row.click();
                let n = -1, same = 0, changed = t0;
                until(() => {{ const c = document.querySelectorAll('#timeline li.checkpoint').length;
                  if (c > 0 && c === n) {{ same += 1; }}
                  else {{ same = 0; n = c; changed = performance.now(); }}
                  return same >= 5; }}, () => {{
                  const ms = changed - t0;
                  const el = scroller(document.querySelector('#timeline li.checkpoint'));
                  if (!el) {{ done({{ms, shown: n, scroll: 0}}); return; }}
                  scrollAll(el, s => {{
                    // Then every older page, 50 at a time, and the whole timeline scrolled.
                    const count = () => document.querySelectorAll('#timeline li.checkpoint').length;
                    const t1 = performance.now();
                    (function more() {{
                      const b = document.querySelector('#timeline-older');
                      if (!b) {{
                        const load_all = performance.now() - t1;
                        scrollAll(el, s2 => done({{ms, shown: n, scroll: s, all: count(), load_all, scroll_all: s2}}));
                        return;
                      }}
                      const before = count(); b.click();
                      until(() => count() > before || !document.querySelector('#timeline-older'), more);
                    }})();
                  }});
                }});
              }});
            }});",
            id = long.thread_id
        );
        let v = timed(client, &script).await;
        println!("  history: {v}");
        history.push(number(&v, "ms"));
        scroll.push(number(&v, "scroll"));
        load_all.push(number(&v, "load_all"));
        scroll_all.push(number(&v, "scroll_all"));
        all = number(&v, "all");
        shown = number(&v, "shown");
        if i == 0 {
            shot(client, "measure-history.png").await;
        }
    }

    let per_page = median(per_page);
    println!("thread list, {} threads (medians of {REPEATS}):", THREADS + 1);
    println!("  render the first page with its count: {:.1} ms", median(render));
    println!(
        "  page through {pages} pages: {:.0} ms ({:.1} ms a page, so about {:.1} s for all {} pages)",
        median(paging),
        per_page,
        per_page * (THREADS + 1).div_ceil(50) as f64 / 1000.0,
        (THREADS + 1).div_ceil(50)
    );
    println!("  jump from the first to the last page: {:.1} ms", median(last));
    println!("history of {CHECKPOINTS} checkpoints (medians of {REPEATS}):");
    println!(
        "  open the thread, timeline rendered ({shown} checkpoints shown): {:.1} ms",
        median(history)
    );
    println!("  scroll the timeline end to end: {:.1} ms", median(scroll));
    println!(
        "  load every older checkpoint (\"Load older\", 50 a page) until {all} are shown: {:.1} ms",
        median(load_all)
    );
    println!("  scroll the whole timeline end to end: {:.1} ms", median(scroll_all));
}
