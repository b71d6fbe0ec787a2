//! The ledger's rules: ids taken once, looks counted only once moto started the operation,
//! failures from the table, and the collision played once per set for its looks.

use super::*;

fn key(name: &str) -> SetKey {
    ("us-east-1".to_owned(), name.to_owned())
}

fn play(failures: &[&str], busy: Option<u32>) -> StackSetPlay {
    StackSetPlay {
        failures: failures.iter().map(|f| f.parse().expect("spec")).collect(),
        busy: busy.map(|b| b.to_string().parse().expect("looks")),
    }
}

fn create(places: &[(&str, &str)]) -> Start {
    Start {
        action: "CREATE",
        accounts: Vec::new(),
        places: places
            .iter()
            .map(|(a, r)| ((*a).to_owned(), (*r).to_owned()))
            .collect(),
        retain_stacks: None,
    }
}

const A: &str = "111111111111";
const B: &str = "222222222222";

#[test]
fn an_id_is_taken_once_and_freed_when_moto_refuses_the_call() {
    let mut ledger = Ledger::new(StackSetPlay::default());
    let set = key("base");
    assert!(ledger.reserve(&set, "t-add", create(&[]), "T0"));
    assert!(!ledger.reserve(&set, "t-add", create(&[]), "T0"), "taken");
    assert!(
        ledger.reserve(&key("other"), "t-add", create(&[]), "T0"),
        "per set"
    );
    ledger.release(&set, "t-add");
    assert!(ledger.reserve(&set, "t-add", create(&[]), "T0"), "freed");
    ledger.commit(&set, "t-add", "moto-1".into(), None, SetInfo::default());
    ledger.release(&set, "t-add");
    assert!(
        !ledger.reserve(&set, "t-add", create(&[]), "T0"),
        "started: kept"
    );
    assert_eq!(ledger.look(&key("base"), "unknown", "T"), None);
    assert_eq!(ledger.results(&key("base"), "unknown"), None);
}

#[test]
fn an_operation_runs_at_its_first_look_then_ends_as_the_table_says() {
    let mut ledger = Ledger::new(play(&["222222222222/eu-west-1=Role <x> missing"], None));
    let set = key("base");
    let places = [
        (A, "us-east-1"),
        (A, "eu-west-1"),
        (B, "us-east-1"),
        (B, "eu-west-1"),
    ];
    assert!(ledger.reserve(&set, "t-add", create(&places), "T0"));
    // At moto still: running, and the look does not count.
    let (at_moto, end) = ledger.look(&set, "t-add", "T1").expect("tracked");
    assert_eq!((at_moto.status, end), ("RUNNING", None));
    let info = SetInfo {
        id: Some("base:1".into()),
        ..SetInfo::default()
    };
    ledger.commit(&set, "t-add", "moto-1".into(), None, info);
    let rows = ledger.results(&set, "t-add").expect("tracked");
    assert!(rows
        .iter()
        .all(|r| r.status == "RUNNING" && r.reason.is_none()));
    let (first, end) = ledger.look(&set, "t-add", "T2").expect("tracked");
    assert_eq!(
        (first.status, first.ended.as_deref(), first.failed),
        ("RUNNING", None, None)
    );
    assert_eq!(end, None);
    assert!(ledger
        .results(&set, "t-add")
        .expect("rows")
        .iter()
        .all(|r| r.status == "RUNNING"));
    let (second, end) = ledger.look(&set, "t-add", "T3").expect("tracked");
    assert_eq!(
        (second.status, second.ended.as_deref()),
        ("FAILED", Some("T3"))
    );
    assert_eq!(second.failed, Some(1));
    assert_eq!(
        second.reason.as_deref(),
        Some("Failure tolerance exceeded in eu-west-1: 1 of 4 stack instances FAILED")
    );
    assert_eq!(second.set.id.as_deref(), Some("base:1"));
    let end = end.expect("ended at this look");
    assert_eq!(
        (end.stack_set.as_str(), end.action.as_str()),
        ("base", "CREATE")
    );
    let statuses: Vec<(&str, &str, Option<&str>)> = end
        .instances
        .iter()
        .map(|i| (i.account.as_str(), i.status.as_str(), i.reason.as_deref()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (A, "SUCCEEDED", None),
            (A, "SUCCEEDED", None),
            (B, "SUCCEEDED", None),
            (B, "FAILED", Some("Role <x> missing")),
        ]
    );
    assert_eq!(ledger.results(&set, "t-add"), Some(end.instances));
    // Later looks find it the same, and end it only once.
    let (third, end) = ledger.look(&set, "t-add", "T4").expect("tracked");
    assert_eq!(
        (third.status, third.ended.as_deref(), end),
        ("FAILED", Some("T3"), None)
    );
    assert!(
        third.xml().contains("<Status>FAILED</Status>"),
        "{}",
        third.xml()
    );
}

#[test]
fn an_operation_touching_no_failed_instance_succeeds() {
    let mut ledger = Ledger::new(play(&["222222222222/eu-west-1=no"], None));
    let set = key("base");
    assert!(ledger.reserve(
        &set,
        "t-update",
        create(&[(A, "eu-west-1"), (B, "us-east-1")]),
        "T0"
    ));
    ledger.commit(
        &set,
        "t-update",
        "t-update".into(),
        None,
        SetInfo::default(),
    );
    ledger.look(&set, "t-update", "T1");
    let (done, end) = ledger.look(&set, "t-update", "T2").expect("tracked");
    assert_eq!(
        (done.status, done.reason, done.failed),
        ("SUCCEEDED", None, Some(0))
    );
    assert!(end.is_some_and(|e| e.instances.iter().all(|i| i.status == "SUCCEEDED")));
}

#[test]
fn places_learnt_at_commit_replace_the_named_ones() {
    let mut ledger = Ledger::new(StackSetPlay::default());
    let set = key("base");
    assert!(ledger.reserve(&set, "t-update", create(&[]), "T0"));
    let listed = vec![(A.to_owned(), "us-east-1".to_owned())];
    ledger.commit(
        &set,
        "t-update",
        "m".into(),
        Some(listed),
        SetInfo::default(),
    );
    let rows = ledger.results(&set, "t-update").expect("tracked");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].account, A);
}

#[test]
fn the_collision_blocks_each_set_once_for_its_looks() {
    let mut ledger = Ledger::new(play(&[], Some(2)));
    let set = key("base");
    let info = SetInfo {
        id: Some("base:1".into()),
        ..SetInfo::default()
    };
    assert!(ledger.may_collide(&set));
    // A set moto does not have meets nothing, and is not marked.
    assert_eq!(ledger.blocker(&set, None, "T0"), None);
    assert!(ledger.may_collide(&set));
    let other = ledger
        .blocker(&set, Some(info.clone()), "T0")
        .expect("blocked");
    assert_eq!(other, "cfn-deployer-local-other-1");
    assert!(!ledger.may_collide(&set));
    assert_eq!(
        ledger.blocker(&set, None, "T1").as_deref(),
        Some(other.as_str())
    );
    assert_eq!(
        ledger.running_other(&set),
        Some((other.clone(), "T0".to_owned()))
    );
    assert!(
        !ledger.reserve(&set, &other, create(&[]), "T1"),
        "its id is taken"
    );
    assert_eq!(ledger.results(&set, &other), Some(Vec::new()));
    let (first, _) = ledger.look(&set, &other, "T2").expect("the other");
    assert_eq!(
        (first.status, first.action, first.ended.as_deref()),
        ("RUNNING", "UPDATE", None)
    );
    assert_eq!(first.set.id.as_deref(), Some("base:1"));
    assert!(ledger.blocker(&set, None, "T3").is_some(), "still running");
    let (second, end) = ledger.look(&set, &other, "T4").expect("the other");
    assert_eq!(
        (second.status, second.ended.as_deref(), end),
        ("SUCCEEDED", Some("T4"), None)
    );
    assert_eq!(ledger.blocker(&set, None, "T5"), None);
    assert_eq!(ledger.running_other(&set), None);
    let (later, _) = ledger.look(&set, &other, "T6").expect("the other");
    assert_eq!(
        (later.status, later.ended.as_deref()),
        ("SUCCEEDED", Some("T4"))
    );
    // Another set gets its own, numbered on.
    let next = ledger.blocker(&key("next"), Some(info), "T7");
    assert_eq!(next.as_deref(), Some("cfn-deployer-local-other-2"));
}

#[test]
fn without_busy_nothing_collides() {
    let mut ledger = Ledger::new(StackSetPlay::default());
    assert!(!ledger.may_collide(&key("base")));
    assert_eq!(
        ledger.blocker(&key("base"), Some(SetInfo::default()), "T"),
        None
    );
    assert_eq!(ledger.running_other(&key("base")), None);
}

#[test]
fn a_create_is_answered_again_for_its_token_only() {
    let mut ledger = Ledger::new(StackSetPlay::default());
    let set = key("base");
    assert_eq!(ledger.created(&set, Some("tok")), None);
    ledger.record_create(&set, Some("tok"), "<body/>".into());
    assert_eq!(ledger.created(&set, Some("tok")), Some("<body/>"));
    assert_eq!(ledger.created(&set, Some("else")), None);
    assert_eq!(ledger.created(&set, None), None);
    ledger.forget_set(&set);
    assert_eq!(ledger.created(&set, Some("tok")), None);
}
