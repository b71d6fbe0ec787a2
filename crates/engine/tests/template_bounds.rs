//! Reading any template text costs memory in proportion to the text, never more: every
//! allocation made while counting a template's resources is counted here. The tests take turns,
//! so that no other test allocates on another thread meanwhile.

use std::alloc::System;
use std::sync::{Mutex, MutexGuard, PoisonError};

use cfn_deployer_engine::template::{resource_count, TemplateError};
use proptest::prelude::*;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

static TURN: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Pieces of YAML and JSON that make hostile templates when strung together.
fn template() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("Resources:\n".to_owned()),
        Just("  A: {Type: AWS::SNS::Topic}\n".to_owned()),
        Just("- ".to_owned()),
        Just("&a ".to_owned()),
        Just("*a ".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just(": ".to_owned()),
        Just("\n  ".to_owned()),
        Just(", ".to_owned()),
        Just("!Ref x ".to_owned()),
        Just("\"Resources\": ".to_owned()),
        "[a-z]{1,8}",
        ".{0,6}",
    ];
    prop::collection::vec((piece, 1usize..200), 0..64).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(p, n)| p.repeat(n))
            .collect::<String>()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_template_text_is_read_in_memory_bounded_by_its_size(text in template()) {
        let _turn = turn();
        let region = Region::new(GLOBAL);
        let result = resource_count(&text);
        let allocated = region.change().bytes_allocated;
        drop(_turn);
        // The parser keeps each scalar and a frame per open node: a small multiple of the text.
        let bound = 64 * text.len() + 256 * 1024;
        prop_assert!(allocated <= bound, "{allocated} bytes allocated for {} bytes of text: {result:?}", text.len());
    }
}

#[test]
fn the_alias_bomb_of_the_review_is_refused_in_kilobytes() {
    // 8 levels, each a list of 10 aliases of the level below: 10^8 nodes once expanded.
    let text = cfn_deployer_testkit::hostile::alias_bomb();
    let _turn = turn();
    let region = Region::new(GLOBAL);
    assert_eq!(resource_count(&text), Err(TemplateError::Alias));
    assert!(region.change().bytes_allocated < 64 * 1024);
}
