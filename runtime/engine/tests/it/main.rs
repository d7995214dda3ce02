//! Equivalence tests: each scenario of `engine-semantics` §9 runs through this engine and is
//! compared with the fixture Python LangGraph produced for the same scenario
//! (`tests/oracle`, regenerated with `tests/oracle/generate.py`).

// Test helpers may unwrap: a failure there is a test failure with a backtrace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod errors;
mod harness;
mod normalize;
mod scenarios;

use harness::Rec;

/// Runs one scenario and compares it with the fixture from Python LangGraph.
async fn check<F>(name: &str, run: F)
where
    F: for<'a> FnOnce(&'a mut Rec) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>,
{
    let mut rec = Rec::new();
    run(&mut rec).await;
    let doc = rec.finish().await;
    if let Err(diff) = harness::compare(name, doc) {
        panic!(
            "{name} differs from LangGraph 1.2.24 at {diff}\n(set ORRERY_DUMP=1 to write both sides to $TMPDIR/orrery-oracle)"
        );
    }
}

macro_rules! scenario_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                check(stringify!($name), |r| Box::pin(scenarios::$name(r))).await;
            }
        )*
    };
}

scenario_tests![
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
