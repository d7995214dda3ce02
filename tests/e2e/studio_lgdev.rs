//! The Studio against a real `langgraph dev` serving the repository's copy of the golden
//! project (`tests/lgdev/proj`), in the real window: the `agent` graph (scripted model →
//! human_approval's `interrupt()` → tools → model) lights its nodes in order, its approval is
//! resumed, a past checkpoint is forked and re-run, and an assistant with an edited system
//! prompt answers with it (`[<system prompt>] You said: ...`).

use std::time::Duration;

use fantoccini::{Client, Locator};
use orrery_e2e::LangGraphDev;

use crate::harness::{Window, attrs, eventually, find_one, shot, texts};
use crate::studio::{
    click, fill, finish, first_new_checkpoint, new_branch, run_ended, say, select_checkpoint,
    timeline,
};

/// The last AI answer in the thread's chat, once there is one.
async fn last_answer(client: &Client, starts: &str) -> String {
    eventually(client, "the answer", Duration::from_secs(30), || async {
        let chat = texts(client, "#chat .msg.ai .msg-text").await?;
        Ok(chat.into_iter().rfind(|t| t.starts_with(starts)))
    })
    .await
}

#[tokio::test]
async fn the_studio_against_a_real_langgraph_dev_in_the_real_window() {
    let server = LangGraphDev::start().expect("a real langgraph dev server");
    let window = Window::open().await;
    let client = &window.client;

    let steps = async {
        eventually(client, "the window", Duration::from_secs(60), || async {
            find_one(client, "#add-connection").await
        })
        .await;
        click(client, "#add-connection", "Add connection").await;
        fill(client, "#conn-name", "golden dev").await?;
        fill(client, "#conn-url", &server.url).await?;
        click(client, "#conn-save", "Save").await;
        let id = eventually(client, "the connection", Duration::from_secs(20), || async {
            for li in client.find_all(Locator::Css("li.connection")).await? {
                if li.prop("textContent").await?.unwrap_or_default().contains("golden dev") {
                    return li.attr("data-id").await;
                }
            }
            Ok(None)
        })
        .await;
        let row = format!("li.connection[data-id='{id}']");
        eventually(client, "the server to be up", Duration::from_secs(30), || async {
            find_one(client, &format!("{row} .health.up")).await
        })
        .await;
        click(client, &row, "the connection").await;
        click(client, "li.assistant[data-graph='agent']", "the agent assistant").await;

        // A run lights agent then human_approval, whose interrupt() stops it.
        click(client, "#tab-threads", "the Threads tab").await;
        click(client, "#thread-new:not([disabled])", "the New thread button").await;
        click(client, "#thread-graph", "the Show graph button").await;
        eventually(client, "the graph beside the thread", Duration::from_secs(20), || async {
            find_one(client, "#thread-view svg#graph g.node[data-id='human_approval']").await
        })
        .await;
        say(client, "What is the weather in Paris?").await?;
        let lit = run_ended(client, "interrupted").await;
        assert_eq!(lit, "agent,human_approval", "nodes lit in order");
        let form = eventually(client, "the resume form", Duration::from_secs(20), || async {
            find_one(client, "#pending #resume-form").await
        })
        .await;
        let payload = texts(client, "#pending .interrupt-payload").await?.join(" ");
        assert!(payload.contains("Approve tool call?"), "the interrupt's payload: {payload}");
        shot(client, "lgdev-interrupt.png").await;

        // Resume with {"approved": true}: human_approval again, tools, agent.
        form.find(Locator::Id("resume-value")).await?.send_keys("{\"approved\": true}").await?;
        click(client, "#resume-submit", "Resume").await;
        let lit = run_ended(client, "done").await;
        assert_eq!(lit, "human_approval,tools,agent", "the resumed run");
        let answer = last_answer(client, "The weather result is").await;
        assert!(answer.contains("sunny and 22C in Paris"), "the final answer: {answer}");

        // Fork at the checkpoint after the first agent step: a second branch.
        let before = timeline(client).await?;
        let first = before
            .iter()
            .find(|c| c.3 == "#1")
            .cloned()
            .unwrap_or_else(|| panic!("checkpoint #1 in {before:?}"));
        click(client, &format!("#timeline li.checkpoint[data-id='{}']", first.0), "#1").await;
        click(client, "#edit-state", "Edit state").await;
        let editor = eventually(client, "the state editor", Duration::from_secs(10), || async {
            find_one(client, "#state-editor").await
        })
        .await;
        editor.clear().await?;
        editor
            .send_keys("{\"messages\": [{\"type\": \"human\", \"content\": \"forked here\"}]}")
            .await?;
        click(client, "#fork-submit", "Fork").await;
        let (after, fork) = new_branch(client, &before).await;
        assert_eq!(fork.1, first.0, "the fork's parent is #1: {after:?}");
        shot(client, "lgdev-fork.png").await;

        // Re-run from #1 of the first line (next: human_approval): it continues there.
        let next = select_checkpoint(client, &first.0, "#1").await;
        assert_eq!(next, ["human_approval"]);
        click(client, "#rerun", "Re-run from here").await;
        let lit = run_ended(client, "interrupted").await;
        assert_eq!(lit, "human_approval", "the re-run starts at #1's next node");
        let (rerun, new) = first_new_checkpoint(client, &after).await;
        assert_eq!(new.1, first.0, "the re-run's first checkpoint follows #1: {rerun:?}");
        shot(client, "lgdev-rerun.png").await;

        // An assistant with an edited system prompt; the next run answers with it.
        click(client, "#thread-back", "Back").await;
        click(client, "#tab-assistant", "the Assistant tab").await;
        let field =
            eventually(client, "the system prompt field", Duration::from_secs(20), || async {
                find_one(client, "#cfg-system_prompt").await
            })
            .await;
        assert_eq!(field.prop("value").await?.as_deref(), Some(""), "no prompt set yet");
        fill(client, "#assistant-name", "terse agent").await?;
        fill(client, "#cfg-system_prompt", "Be terse").await?;
        click(client, "#assistant-save-new", "Save as new assistant").await;
        eventually(client, "the new assistant", Duration::from_secs(20), || async {
            let names = texts(client, "li.assistant.selected .assistant-name").await?;
            Ok(Some(()).filter(|_| names == ["terse agent"]))
        })
        .await;
        click(client, "#tab-threads", "the Threads tab").await;
        click(client, "#thread-new:not([disabled])", "the New thread button").await;
        say(client, "hello there").await?;
        run_ended(client, "done").await;
        let answer = last_answer(client, "[").await;
        assert_eq!(answer, "[Be terse] You said: hello there", "the run used the edited prompt");

        // A second version with another prompt, then back to the first.
        click(client, "#thread-back", "Back").await;
        click(client, "#tab-assistant", "the Assistant tab").await;
        fill(client, "#cfg-system_prompt", "Be kind").await?;
        click(client, "#assistant-save:not([disabled])", "Save version").await;
        let versions = eventually(client, "two versions", Duration::from_secs(20), || async {
            let v = attrs(client, "li.version", "data-version").await?;
            Ok(Some(v).filter(|v| v.len() == 2))
        })
        .await;
        assert_eq!(versions, ["2", "1"]);
        let diff = eventually(client, "the diff", Duration::from_secs(10), || async {
            let p = texts(client, "#version-diff .change-path").await?;
            Ok(Some(p).filter(|p| !p.is_empty()))
        })
        .await;
        assert!(
            diff.iter().any(|p| p.ends_with("system_prompt")),
            "the prompt changed between the versions: {diff:?}"
        );
        shot(client, "lgdev-assistant-versions.png").await;
        click(client, "li.version[data-version='1'] .version-set-latest", "Make v1 current").await;
        eventually(client, "v1 current", Duration::from_secs(20), || async {
            let v = attrs(client, "#assistant-view", "data-version").await?.join("");
            Ok(Some(()).filter(|_| v == "1"))
        })
        .await;
        let prompt = client.find(Locator::Id("cfg-system_prompt")).await?.prop("value").await?;
        assert_eq!(prompt.as_deref(), Some("Be terse"), "v1's prompt is back");
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let log = format!("\nserver log:\n{}", server.log());
    finish(client, steps, "lgdev-failure.png", &log).await;
    drop(window);
    drop(server);
}
