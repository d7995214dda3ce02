//! Equivalence tests: each scenario of `engine-semantics` §9 runs through this engine and is
//! compared with the fixture Python LangGraph produced for the same scenario
//! (`tests/oracle`, regenerated with `tests/oracle/generate.py`).

mod harness;
mod normalize;
mod scenarios;

use std::future::Future;
use std::pin::Pin;

use harness::Rec;

type Scenario = fn(&mut Rec) -> Pin<Box<dyn Future<Output = ()> + '_>>;

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        vec![$((stringify!($name), (|r: &mut Rec| Box::pin(scenarios::$name(r)) as Pin<Box<dyn Future<Output = ()> + '_>>) as Scenario)),*]
    };
}

/// Scenarios whose result still differs from LangGraph's. Each entry is a FIXME: the test
/// fails when one of them starts to match (so the list only shrinks) or when any other
/// scenario stops matching.
const KNOWN_DIFFERENT: &[&str] = &[];

#[tokio::test]
async fn scenarios_match_python_langgraph() {
    let all = scenarios![
        s01_linear,
        s02_second_run,
        s03_fanout_fanin,
        s04_uneven_no_join,
        s05_join,
        s06_defer,
        s07_concurrent_lastvalue,
        s08_send,
        s09_conditional_loop,
        s10_command_from_node,
        s11_command_input,
        s12_none_and_goto_only,
        s13_subgraph,
        s14_command_parent,
        s15_single_interrupt,
        s16_two_interrupts,
        s17_parallel_interrupts,
        s18_interrupt_in_subgraph,
        s19_interrupt_before,
        s20_interrupt_after,
        s21_resume_static,
        s22_retry,
        s23_error_parallel,
        s24_recursion_limit,
        s25_replay,
        s26_replay_interrupt,
        s27_update_past,
        s28_update_while_interrupted,
        s29_update_specials,
        s30_bulk_update,
        s31_new_input_past,
        s32_all_stream_modes,
        s33_checkpoint_debug_payloads,
        s34_graph_json,
        s35_metadata_merge,
    ];
    let mut failures = Vec::new();
    let mut fixed = Vec::new();
    let mut matched = 0;
    for (name, run) in all {
        let mut rec = Rec::new();
        run(&mut rec).await;
        let doc = rec.finish().await;
        let res = harness::compare(name, doc);
        let known = KNOWN_DIFFERENT.contains(&name);
        match (res, known) {
            (Ok(()), false) => matched += 1,
            (Ok(()), true) => fixed.push(name),
            (Err(d), false) => failures.push(format!("{name}: {d}")),
            (Err(_), true) => {}
        }
    }
    println!("{matched} scenarios match LangGraph 1.2.24; {} known to differ", KNOWN_DIFFERENT.len());
    assert!(fixed.is_empty(), "now matching, remove from KNOWN_DIFFERENT: {fixed:?}");
    assert!(failures.is_empty(), "{} scenarios differ:\n{}", failures.len(), failures.join("\n"));
}
