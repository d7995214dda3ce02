//! The Studio's editing and stepping tools in the real window, against the embedded runtime's
//! Jarvis graph (its scripted model answers in Spanish when the system prompt says so):
//! the assistant editor (a copy with an edited system prompt, a second version, the diff
//! between them, rolling back), breakpoints and step mode with Continue, a thread's runs with
//! their event log, and the command palette.

use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::{Client, Locator};

use crate::harness::{Window, attrs, eventually, find_one, shot, texts};
use crate::studio::{click, fill, finish, open_local_assistant, run_ended, say};

/// The open assistant editor's (id, version).
async fn editor(client: &Client) -> Option<(String, String)> {
    let view = find_one(client, "#assistant-view").await.ok()??;
    Some((view.attr("data-id").await.ok()??, view.attr("data-version").await.ok()??))
}

#[tokio::test]
async fn assistants_breakpoints_step_mode_runs_and_the_palette_in_the_real_window() {
    let window = Window::open().await;
    let client = &window.client;

    let steps = async {
        open_local_assistant(client, "jarvis").await?;

        // The editor: the config schema's fields, filled with the assistant's values.
        click(client, "#tab-assistant", "the Assistant tab").await;
        let prompt =
            eventually(client, "the system prompt field", Duration::from_secs(20), || async {
                find_one(client, "#assistant-editor textarea#cfg-system_prompt").await
            })
            .await;
        let shown = prompt.prop("value").await?.unwrap_or_default();
        assert!(shown.starts_with("You are Jarvis"), "the graph's default prompt: {shown}");
        let email = client.find(Locator::Id("cfg-user_email")).await?.prop("value").await?;
        assert_eq!(email.as_deref(), Some("priya@acme.com"), "the second configurable field");
        let save_disabled =
            client.find(Locator::Id("assistant-save")).await?.attr("disabled").await?;
        assert!(save_disabled.is_some(), "the graph's default assistant is saved as a copy");
        let (jarvis_id, _) = editor(client).await.expect("the editor of jarvis");

        // Edit the system prompt and save a new assistant: it is selected, at version 1.
        fill(client, "#assistant-name", "jarvis-es").await?;
        fill(client, "#cfg-system_prompt", "Eres Jarvis. Responde siempre en español.").await?;
        shot(client, "studio-assistant-edit.png").await;
        click(client, "#assistant-save-new", "Save as new assistant").await;
        let (copy_id, version) =
            eventually(client, "the new assistant's editor", Duration::from_secs(20), || async {
                Ok(editor(client).await.filter(|(id, _)| *id != jarvis_id))
            })
            .await;
        assert_eq!(version, "1");
        let names = texts(client, "li.assistant .assistant-name").await?;
        assert!(names.contains(&"jarvis-es".to_string()), "listed: {names:?}");
        let kept = client.find(Locator::Id("cfg-system_prompt")).await?.prop("value").await?;
        assert_eq!(kept.as_deref(), Some("Eres Jarvis. Responde siempre en español."));

        // The next run of that assistant uses the edited prompt: Jarvis answers in Spanish.
        click(client, "#tab-threads", "the Threads tab").await;
        click(client, "#thread-new:not([disabled])", "the New thread button").await;
        say(client, "Hola").await?;
        run_ended(client, "done").await;
        let answer = eventually(client, "the Spanish answer", Duration::from_secs(20), || async {
            let chat = texts(client, "#chat .msg.ai .msg-text").await?;
            Ok(chat.into_iter().last().filter(|t| !t.is_empty()))
        })
        .await;
        assert!(
            answer.starts_with("¡Hola! Soy Jarvis"),
            "the run used the edited prompt: {answer}"
        );
        shot(client, "studio-assistant-spanish-answer.png").await;
        // The state as JSON highlighted by the shell (syntect): keys and strings in spans.
        click(client, "#state-raw-toggle", "the JSON view of the state").await;
        let raw = eventually(client, "the highlighted state", Duration::from_secs(10), || async {
            let keys = texts(client, "#state-raw .sy-key").await?;
            Ok(Some(keys).filter(|k| !k.is_empty()))
        })
        .await;
        assert!(raw.iter().any(|k| k.contains("messages")), "highlighted keys: {raw:?}");
        let text = texts(client, "#state-raw").await?.join("");
        assert!(text.contains("¡Hola! Soy Jarvis"), "the whole state as JSON: {text}");
        shot(client, "studio-state-json.png").await;

        // A second version, the diff between the two, and a roll back to the first.
        click(client, "#thread-back", "Back").await;
        click(client, "#tab-assistant", "the Assistant tab").await;
        fill(client, "#assistant-description", "Jarvis, en español").await?;
        fill(client, "#cfg-user_email", "sam@acme.com").await?;
        click(client, "#assistant-save:not([disabled])", "Save version").await;
        eventually(client, "version 2", Duration::from_secs(20), || async {
            Ok(editor(client).await.filter(|(id, v)| *id == copy_id && v == "2"))
        })
        .await;
        let versions = eventually(client, "two versions", Duration::from_secs(20), || async {
            let v = attrs(client, "li.version", "data-version").await?;
            Ok(Some(v).filter(|v| v.len() == 2))
        })
        .await;
        assert_eq!(versions, ["2", "1"], "newest first");
        let diff = eventually(client, "the diff of v1 and v2", Duration::from_secs(10), || async {
            let from = attrs(client, "#version-diff", "data-from").await?.join("");
            let paths = texts(client, "#version-diff .change-path").await?;
            Ok(Some(paths).filter(|p| from == "1" && !p.is_empty()))
        })
        .await;
        assert!(diff.contains(&"description".to_string()), "changed fields: {diff:?}");
        assert!(
            diff.contains(&"config.configurable.user_email".to_string()),
            "changed fields: {diff:?}"
        );
        assert!(!diff.iter().any(|p| p.contains("system_prompt")), "unchanged: {diff:?}");
        shot(client, "studio-assistant-versions.png").await;
        click(client, "li.version[data-version='1'] .version-set-latest", "Make v1 current").await;
        eventually(client, "version 1 current again", Duration::from_secs(20), || async {
            Ok(editor(client).await.filter(|(id, v)| *id == copy_id && v == "1"))
        })
        .await;
        let email = client.find(Locator::Id("cfg-user_email")).await?.prop("value").await?;
        assert_eq!(email.as_deref(), Some("priya@acme.com"), "v1's settings are back");

        // Breakpoints: pause before tools, on the copy's graph.
        click(client, "#tab-graph", "the Graph tab").await;
        click(client, "svg#graph g.node[data-id='tools']", "the tools node").await;
        click(client, "#bp-before", "Pause before").await;
        eventually(client, "the breakpoint mark", Duration::from_secs(10), || async {
            find_one(client, "svg#graph g.node.breakpoint[data-id='tools'] circle.bp.before").await
        })
        .await;
        shot(client, "studio-breakpoint.png").await;
        click(client, "#tab-threads", "the Threads tab").await;
        click(client, "#thread-new:not([disabled])", "the New thread button").await;
        say(client, "Mi impresora está rota").await?;
        let lit = run_ended(client, "interrupted").await;
        assert_eq!(lit, "agent", "the run paused before tools");
        let next = eventually(client, "paused before tools", Duration::from_secs(20), || async {
            if find_one(client, "#pending #run-continue").await?.is_none() {
                return Ok(None);
            }
            texts(client, "#pending .next .node-pill").await.map(Some)
        })
        .await;
        assert_eq!(next, ["tools"]);
        click(client, "#run-continue", "Continue").await;
        // On from the breakpoint: tools, agent (which asks for the ticket), approve's interrupt.
        let lit = run_ended(client, "interrupted").await;
        assert_eq!(lit, "tools,agent,approve");

        // Step mode: every node pauses; each Continue runs one.
        click(client, "#composer-breakpoints", "clear the breakpoints").await;
        click(client, "#thread-back", "Back").await;
        click(client, "#thread-new:not([disabled])", "the New thread button").await;
        click(client, "#composer-step", "Step mode").await;
        say(client, "Mi impresora está rota").await?;
        let lit = run_ended(client, "interrupted").await;
        assert_eq!(lit, "", "step mode pauses before the first node");
        let mut steps_lit = Vec::new();
        for _ in 0..2 {
            eventually(client, "the Continue button", Duration::from_secs(20), || async {
                find_one(client, "#run-continue:not([disabled])").await
            })
            .await;
            click(client, "#run-continue", "Continue").await;
            steps_lit.push(run_ended(client, "interrupted").await);
        }
        assert_eq!(steps_lit, ["agent", "tools"], "one node per Continue");
        eventually(client, "paused again", Duration::from_secs(20), || async {
            find_one(client, "#pending #run-continue").await
        })
        .await;
        shot(client, "studio-step-mode.png").await;
        click(client, "#composer-step", "Step mode off").await;

        // The thread's runs, with status and duration, and the last one's event log.
        click(client, "#thread-runs", "the Runs button").await;
        // Runs that stopped at a breakpoint ended well: success (or interrupted, as some
        // server versions say). A run's status is written just after its stream ends, so the
        // list may need a refresh to show the last one's.
        let finished = |s: &String| s == "success" || s == "interrupted";
        let runs = eventually(client, "three finished runs", Duration::from_secs(20), || async {
            let r = attrs(client, "#runs li.run", "data-status").await?;
            if r.len() == 3 && !r.iter().all(finished) {
                click(client, "#runs-refresh", "refresh the runs").await;
            }
            Ok(Some(r).filter(|r| r.len() == 3 && r.iter().all(finished)))
        })
        .await;
        assert!(runs.iter().any(|s| s == "success"), "statuses: {runs:?}");
        let durations = texts(client, "#runs li.run .run-duration").await?;
        assert!(durations.iter().all(|d| d.ends_with(" s")), "durations: {durations:?}");
        click(client, "#runs li.run:first-child", "the newest run").await;
        let events = eventually(client, "the event log", Duration::from_secs(20), || async {
            let e = attrs(client, "#event-log li.event", "data-event").await?;
            Ok(Some(e).filter(|e| !e.is_empty()))
        })
        .await;
        assert_eq!(events.first().map(String::as_str), Some("metadata"), "{events:?}");
        assert!(events.iter().any(|e| e == "updates"), "updates logged: {events:?}");
        assert!(events.iter().any(|e| e == "debug"), "debug logged: {events:?}");
        shot(client, "studio-runs.png").await;

        // The command palette: Ctrl+K, type, Enter.
        let body = client.find(Locator::Css("body")).await?;
        body.send_keys(&format!("{}k", char::from(Key::Control))).await?;
        let input = eventually(client, "the palette", Duration::from_secs(10), || async {
            find_one(client, "#palette #palette-input").await
        })
        .await;
        input.send_keys("assistant editor").await?;
        let items = texts(client, "#palette-list .palette-label").await?;
        assert_eq!(items, ["Go to the assistant editor"], "filtered commands");
        shot(client, "studio-palette.png").await;
        input.send_keys(&char::from(Key::Enter).to_string()).await?;
        eventually(client, "the assistant tab", Duration::from_secs(10), || async {
            if find_one(client, "#palette").await?.is_some() {
                return Ok(None);
            }
            find_one(client, "#tab-assistant.active").await
        })
        .await;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    finish(client, steps, "studio-edit-failure.png", "").await;
}
