//! The Studio in the real window, against the embedded runtime serving the bundled Jarvis graph
//! (its scripted model): a chat message runs agent → tools → agent → approve, lighting the
//! nodes in that order, and stops at the approval interrupt; the resume form answers it and
//! the run ends with the ticket; an edit at a past checkpoint forks the thread (a second branch
//! in the timeline); a re-run from a past checkpoint continues from there.

use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::{Client, Locator};

use crate::harness::{Step, Window, attrs, eventually, find_one, shot, texts};

/// The live run panel once its run ended in `phase`: its lit nodes.
pub(crate) async fn run_ended(client: &Client, phase: &str) -> String {
    let css = format!("#live-run[data-phase='{phase}']");
    eventually(client, &format!("the run to end {phase}"), Duration::from_secs(60), || async {
        let Some(panel) = find_one(client, &css).await? else { return Ok(None) };
        panel.attr("data-lit").await
    })
    .await
}

/// Clicks the element matching `css` once it is there; `what` names the step when it fails.
/// SVG nodes are clicked through a DOM event (WebKitWebDriver does not click SVG groups).
/// The view may render the element anew between finding and clicking it (a run's state
/// changed under it): it is found again and clicked, as a person clicks the button they now
/// see, a few times at most.
pub(crate) async fn click(client: &Client, css: &str, what: &str) {
    let mut error = String::new();
    for _ in 0..5 {
        let el = eventually(client, what, Duration::from_secs(20), || async {
            find_one(client, css).await
        })
        .await;
        let done = if css.contains("svg") {
            let script = "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))";
            let arg = serde_json::to_value(&el).map_err(|e| e.to_string());
            match arg {
                Ok(arg) => {
                    client.execute(script, vec![arg]).await.map(|_| ()).map_err(|e| e.to_string())
                }
                Err(e) => Err(e),
            }
        } else {
            el.click().await.map_err(|e| e.to_string())
        };
        match done {
            Ok(()) => return,
            Err(e) => {
                let gone = e.contains("was not found") || e.contains("stale element");
                error = e;
                if !gone {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    shot(client, "studio-failure.png").await;
    panic!("{what}: cannot click {css}: {error}");
}

/// Waits for the embedded runtime, selects it and clicks the assistant named `name`.
pub(crate) async fn open_local_assistant(
    client: &Client,
    name: &str,
) -> Result<(), fantoccini::error::CmdError> {
    eventually(client, "the local runtime to be up", Duration::from_secs(60), || async {
        find_one(client, "li.connection[data-id='local'] .health.up").await
    })
    .await;
    client.find(Locator::Css("li.connection[data-id='local']")).await?.click().await?;
    let item = eventually(client, name, Duration::from_secs(30), || async {
        // textContent: WebKit's rendered text leaves out ellipsised names.
        let names = texts(client, "li.assistant .assistant-name").await?;
        let Some(at) = names.iter().position(|n| n == name) else { return Ok(None) };
        Ok(client.find_all(Locator::Css("li.assistant")).await?.into_iter().nth(at))
    })
    .await;
    item.click().await
}

/// Ends a window test: on a failed step, a screenshot (`shot_name`) and the window's text (and
/// `extra`, e.g. a server's log) for the report; then the session is closed and the failure
/// raised.
pub(crate) async fn finish(
    client: &Client,
    steps: Result<(), fantoccini::error::CmdError>,
    shot_name: &str,
    extra: &str,
) {
    if let Err(e) = &steps {
        shot(client, shot_name).await;
        let text = texts(client, "body").await.unwrap_or_default().join("");
        eprintln!("studio step failed ({e}); the window said:\n{text}{extra}");
    }
    client.clone().close().await.ok();
    if let Err(e) = steps {
        panic!("{shot_name}: {e}");
    }
}

/// Waits for a new branch in the timeline (a checkpoint not in `before`, drawn off the main
/// line); the timeline then, and the new checkpoint.
pub(crate) async fn new_branch(client: &Client, before: &[Row]) -> (Vec<Row>, Row) {
    let after = eventually(client, "a second branch", Duration::from_secs(20), || async {
        let t = timeline(client).await?;
        let forked = t.iter().any(|c| !before.iter().any(|b| b.0 == c.0));
        Ok(Some(t).filter(|t| forked && t.iter().any(|c| c.2 != "0")))
    })
    .await;
    let fork = after
        .iter()
        .find(|c| !before.iter().any(|b| b.0 == c.0))
        .cloned()
        .unwrap_or_else(|| panic!("the fork's checkpoint: before {before:?}\nafter {after:?}"));
    (after, fork)
}

/// Selects checkpoint `id` (shown as `step`) and returns the nodes it runs next.
pub(crate) async fn select_checkpoint(client: &Client, id: &str, step: &str) -> Vec<String> {
    click(client, &format!("#timeline li.checkpoint[data-id='{id}']"), step).await;
    eventually(client, &format!("{step} selected"), Duration::from_secs(10), || async {
        let t = texts(client, "#thread-view .checkpoint-head .cp-step").await?.join("");
        if t != step {
            return Ok(None);
        }
        texts(client, "#thread-view .next .node-pill").await.map(Some)
    })
    .await
}

/// Waits for checkpoints not in `known`; the timeline then, and the oldest new one (the first a
/// re-run wrote).
pub(crate) async fn first_new_checkpoint(client: &Client, known: &[Row]) -> (Vec<Row>, Row) {
    let now = eventually(client, "the re-run's checkpoint", Duration::from_secs(20), || async {
        let t = timeline(client).await?;
        Ok(Some(t).filter(|t| t.iter().any(|c| !known.iter().any(|a| a.0 == c.0))))
    })
    .await;
    // The list is newest first.
    let first = now
        .iter()
        .rfind(|c| !known.iter().any(|a| a.0 == c.0))
        .cloned()
        .unwrap_or_else(|| panic!("the re-run's first checkpoint in {now:?}"));
    (now, first)
}

/// Replaces the text of the field `css` with `text`.
pub(crate) async fn fill(
    client: &Client,
    css: &str,
    text: &str,
) -> Result<(), fantoccini::error::CmdError> {
    let el =
        eventually(client, css, Duration::from_secs(20), || async { find_one(client, css).await })
            .await;
    el.clear().await?;
    el.send_keys(text).await?;
    Ok(())
}

/// Sends a chat message on the open thread with Ctrl+Enter.
pub(crate) async fn say(client: &Client, text: &str) -> Result<(), fantoccini::error::CmdError> {
    let input = eventually(client, "the chat box", Duration::from_secs(20), || async {
        find_one(client, "#chat-input").await
    })
    .await;
    input.send_keys(text).await?;
    input.send_keys(&format!("{}{}", char::from(Key::Control), char::from(Key::Enter))).await
}

/// The timeline's checkpoints: (id, parent, lane, step text), newest first. Read in one script:
/// the list is patched in place when the thread is read again, so element-by-element reads
/// could mix two versions.
/// A timeline row: (checkpoint id, parent id, lane, step text).
pub(crate) type Row = (String, String, String, String);

pub(crate) async fn timeline(client: &Client) -> Step<Vec<Row>> {
    let script = "return Array.from(document.querySelectorAll('#timeline li.checkpoint')).map(li => \
        [li.dataset.id || '', li.dataset.parent || '', li.dataset.lane || '', \
         (li.querySelector('.cp-step') || {}).textContent || ''])";
    let rows: Vec<Row> =
        serde_json::from_value(client.execute(script, vec![]).await?).unwrap_or_default();
    Ok(rows)
}

#[tokio::test]
async fn jarvis_runs_lights_its_nodes_resumes_forks_and_reruns_in_the_real_window() {
    let window = Window::open().await;
    let client = &window.client;

    let steps = async {
        // The bundled Jarvis assistant (not its Spanish sibling, which runs the same graph).
        open_local_assistant(client, "jarvis").await?;
        click(client, "#tab-threads", "the Threads tab").await;
        click(client, "#thread-new:not([disabled])", "the New thread button").await;
        eventually(client, "the new thread's view", Duration::from_secs(20), || async {
            find_one(client, "#thread-view #chat-input").await
        })
        .await;
        // The graph beside the thread, to watch the run.
        click(client, "#thread-graph", "the Show graph button").await;
        eventually(client, "Jarvis's graph beside the thread", Duration::from_secs(20), || async {
            find_one(client, "#thread-view svg#graph g.node[data-id='approve']").await
        })
        .await;

        // A message, sent with Ctrl+Enter: the run stops at the approval interrupt.
        let input = client.find(Locator::Id("chat-input")).await?;
        input.send_keys("My printer is broken").await?;
        input.send_keys(&format!("{}{}", char::from(Key::Control), char::from(Key::Enter))).await?;
        let lit = run_ended(client, "interrupted").await;
        assert_eq!(lit, "agent,tools,agent,approve", "nodes lit in order by the first run");
        let graph_lit = attrs(client, "svg#graph", "data-lit").await?.join("");
        assert_eq!(graph_lit, lit, "the graph view recorded the same sequence");
        // The thread is read again: the interrupt's payload and the resume form.
        let form = eventually(client, "the resume form", Duration::from_secs(20), || async {
            find_one(client, "#pending #resume-form").await
        })
        .await;
        let payload = texts(client, "#pending .interrupt-payload").await?.join(" ");
        assert!(payload.contains("create_ticket"), "the interrupt's payload: {payload}");
        let cards = attrs(client, "#chat .tool-call", "data-tool").await?;
        assert_eq!(cards, ["lookup_user", "create_ticket"], "tool calls as cards");
        let result =
            texts(client, "#chat .tool-call[data-tool='lookup_user'] .tool-result").await?;
        assert!(result.join("").contains("Result"), "the lookup's result in its card: {result:?}");
        // The node panel shows the last update of a node that ran.
        click(client, "svg#graph g.node[data-id='tools']", "the tools node").await;
        let update =
            eventually(client, "the node's last update", Duration::from_secs(10), || async {
                let t = texts(client, "#graph-node-update pre").await?.join("");
                Ok(Some(t).filter(|t| !t.is_empty()))
            })
            .await;
        assert!(update.contains("messages"), "the tools node's last update: {update}");
        click(client, "#graph-node-panel button[aria-label='Close the node panel']", "close").await;
        shot(client, "studio-interrupt.png").await;

        // Resume with a JSON value: approve, tools, agent; the answer names the ticket.
        let value = form.find(Locator::Id("resume-value")).await?;
        value.send_keys("{\"approved\": true}").await?;
        click(client, "#resume-submit", "the Resume button").await;
        let lit = run_ended(client, "done").await;
        assert_eq!(lit, "approve,tools,agent", "the resumed run continues at the interrupt");
        let answer = eventually(client, "Jarvis's answer", Duration::from_secs(20), || async {
            let chat = texts(client, "#chat .msg.ai .msg-text").await?;
            Ok(chat.into_iter().find(|t| t.starts_with("Done: ticket")))
        })
        .await;
        assert!(answer.contains("My printer is broken"), "the final answer: {answer}");
        shot(client, "studio-answer.png").await;

        // Fork: edit the state at the checkpoint after the first agent step (#1).
        let before = timeline(client).await?;
        assert!(before.iter().all(|c| c.2 == "0"), "one line before any fork: {before:?}");
        let first_agent = before.iter().find(|c| c.3 == "#1").cloned().expect("checkpoint #1");
        let css = format!("#timeline li.checkpoint[data-id='{}']", first_agent.0);
        click(client, &css, "checkpoint #1").await;
        click(client, "#edit-state", "the Edit state button").await;
        let editor = eventually(client, "the state editor", Duration::from_secs(10), || async {
            find_one(client, "#state-editor").await
        })
        .await;
        let as_node = client.find(Locator::Id("edit-as-node")).await?.prop("value").await?;
        assert_eq!(as_node.as_deref(), Some("agent"), "the checkpoint's writer is proposed");
        editor.clear().await?;
        let edit = "{\"approval\": {\"comment\": \"edited in the e2e test\"}}";
        editor.send_keys(edit).await?;
        let typed = client.find(Locator::Id("state-editor")).await?.prop("value").await?;
        assert_eq!(typed.as_deref(), Some(edit), "the editor holds what was typed");
        click(client, "#fork-submit", "the Fork button").await;
        let (after, fork) = new_branch(client, &before).await;
        assert_eq!(fork.1, first_agent.0, "the fork's parent is the edited checkpoint: {after:?}");
        assert_eq!(fork.3, "#2", "the fork is the step after #1");
        assert_eq!(after.len(), before.len() + 1, "one new checkpoint: {after:?}");
        let marks = texts(client, "#timeline .cp-fork").await?;
        assert_eq!(marks.len(), 1, "one branch point marked: {marks:?}");
        let state = texts(client, "#state-json").await?.join("");
        assert!(state.contains("edited in the e2e test"), "the fork's state: {state}");
        shot(client, "studio-fork.png").await;

        // Re-run from a past checkpoint of the first line: #2, after the lookup (next: agent).
        let lookup = after
            .iter()
            .find(|c| c.3 == "#2" && c.0 != fork.0)
            .cloned()
            .expect("checkpoint #2 on the first line");
        let next = select_checkpoint(client, &lookup.0, "#2").await;
        assert_eq!(next, ["agent"], "#2 runs agent next");
        click(client, "#rerun", "the Re-run button").await;
        let lit = run_ended(client, "interrupted").await;
        assert_eq!(lit, "agent,approve", "the re-run starts at #2's next node, not at the start");
        let (rerun, new) = first_new_checkpoint(client, &after).await;
        assert_eq!(new.1, lookup.0, "the re-run's first checkpoint follows #2: {rerun:?}");
        assert_eq!(new.3, "#3", "and is its next step");
        eventually(client, "the resume form again", Duration::from_secs(20), || async {
            find_one(client, "#pending #resume-form").await
        })
        .await;
        shot(client, "studio-rerun.png").await;

        // The same screen in the other theme.
        click(client, "#theme-toggle", "the theme toggle").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        shot(client, "studio-rerun-other-theme.png").await;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    finish(client, steps, "studio-failure.png", "").await;
}

/// A graph whose scripted model answers one word every 150 ms, to watch tokens arrive.
const SLOW_GRAPH: &str = "\
name: slowpoke
state:
  messages:
    reducer: messages
nodes:
  agent:
    kind: chat_model
    model:
      provider: scripted
      token_delay_ms: 150
      fallback: One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty
edges:
  - {from: __start__, to: agent}
  - {from: agent, to: __end__}
";

/// The streaming answer's text in the live run panel while the run streams.
async fn streaming_text(client: &Client) -> Step<Option<String>> {
    if find_one(client, "#live-run[data-phase='streaming']").await?.is_none() {
        return Ok(None);
    }
    let text = texts(client, "#live-chat .msg.ai .msg-text").await?.join("");
    Ok(Some(text).filter(|t| !t.is_empty()))
}

#[tokio::test]
async fn tokens_stream_in_and_a_run_can_be_cancelled_in_the_real_window() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("slowpoke.yaml"), SLOW_GRAPH).unwrap();
    std::fs::write(
        project.path().join("langgraph.json"),
        r#"{"graphs": {"slowpoke": "./slowpoke.yaml"}}"#,
    )
    .unwrap();
    let window = Window::open().await;
    let client = &window.client;

    let steps = async {
        eventually(client, "the local runtime to be up", Duration::from_secs(60), || async {
            find_one(client, "li.connection[data-id='local'] .health.up").await
        })
        .await;
        click(client, "li.connection[data-id='local']", "the local connection").await;
        let path = eventually(client, "the project field", Duration::from_secs(20), || async {
            find_one(client, "#project-path").await
        })
        .await;
        path.send_keys(&project.path().display().to_string()).await?;
        click(client, "#project-apply", "Apply").await;
        click(client, "li.assistant[data-graph='slowpoke']", "the project's assistant").await;
        click(client, "#tab-threads", "the Threads tab").await;
        click(client, "#thread-new:not([disabled])", "the New thread button").await;
        click(client, "#thread-graph", "the Show graph button").await;

        // Tokens arrive one by one: the answer grows while the agent node is lit.
        let input = eventually(client, "the chat box", Duration::from_secs(20), || async {
            find_one(client, "#chat-input").await
        })
        .await;
        input.send_keys("Count to twenty").await?;
        click(client, "#run-send", "Send").await;
        let first = eventually(client, "the first tokens", Duration::from_secs(30), || async {
            streaming_text(client).await
        })
        .await;
        let running = attrs(client, "svg#graph", "data-running").await?.join("");
        assert_eq!(running, "agent", "the streaming node is lit");
        shot(client, "studio-streaming.png").await;
        let later = eventually(client, "more tokens", Duration::from_secs(30), || async {
            Ok(streaming_text(client).await?.filter(|t| t.len() > first.len()))
        })
        .await;
        assert!(later.starts_with(&first), "the answer grows: {first:?} then {later:?}");
        assert!(!first.contains("twenty"), "the first tokens came before the end: {first:?}");
        let lit = run_ended(client, "done").await;
        assert_eq!(lit, "agent");
        eventually(client, "the whole answer in the chat", Duration::from_secs(20), || async {
            let chat = texts(client, "#chat .msg.ai .msg-text").await?.join("");
            Ok(Some(()).filter(|_| chat.ends_with("twenty")))
        })
        .await;

        // A second run, cancelled while it streams: its answer is never saved.
        let input = client.find(Locator::Id("chat-input")).await?;
        input.send_keys("Again please").await?;
        click(client, "#run-send", "Send").await;
        eventually(client, "the second answer's first tokens", Duration::from_secs(30), || async {
            streaming_text(client).await
        })
        .await;
        click(client, "#run-cancel", "Cancel").await;
        run_ended(client, "cancelled").await;
        let answers =
            eventually(client, "the thread read again", Duration::from_secs(20), || async {
                let humans = texts(client, "#chat .msg.human").await?;
                let answers = texts(client, "#chat .msg.ai .msg-text").await?;
                Ok(Some(answers).filter(|_| humans.len() == 2))
            })
            .await;
        assert_eq!(answers.len(), 1, "only the first answer was saved: {answers:?}");
        shot(client, "studio-cancelled.png").await;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    finish(client, steps, "studio-failure.png", "").await;
}
