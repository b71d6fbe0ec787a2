use super::*;

use StackDriftDetectionStatus as D;
use StackDriftStatus as S;

fn verdict(status: DriftStatus, drifted: u32, reason: Option<&str>) -> DriftVerdict {
    DriftVerdict {
        status,
        drifted,
        reason: reason.map(str::to_owned),
    }
}

#[test]
fn every_detection_status_has_a_next_move() {
    let unknown = D::from("SOMETHING_NEW");
    let rows: [(&D, Option<S>, DriftCheck, DriftStep); 12] = [
        (
            &D::DetectionInProgress,
            None,
            DriftCheck::Fail,
            DriftStep::Detecting,
        ),
        (
            &D::DetectionInProgress,
            Some(S::Drifted),
            DriftCheck::Warn,
            DriftStep::Detecting,
        ),
        (
            &D::DetectionComplete,
            Some(S::InSync),
            DriftCheck::Fail,
            DriftStep::Go(verdict(DriftStatus::InSync, 2, None)),
        ),
        (
            &D::DetectionComplete,
            Some(S::InSync),
            DriftCheck::Warn,
            DriftStep::Go(verdict(DriftStatus::InSync, 2, None)),
        ),
        (
            &D::DetectionComplete,
            Some(S::Drifted),
            DriftCheck::Fail,
            DriftStep::Refuse(verdict(DriftStatus::Drifted, 2, None)),
        ),
        (
            &D::DetectionComplete,
            Some(S::Drifted),
            DriftCheck::Warn,
            DriftStep::Go(verdict(DriftStatus::Drifted, 2, None)),
        ),
        (
            &D::DetectionComplete,
            Some(S::NotChecked),
            DriftCheck::Fail,
            DriftStep::Refuse(verdict(DriftStatus::Unknown, 2, None)),
        ),
        (
            &D::DetectionComplete,
            None,
            DriftCheck::Warn,
            DriftStep::Go(verdict(DriftStatus::Unknown, 2, None)),
        ),
        (
            &D::DetectionFailed,
            Some(S::Drifted),
            DriftCheck::Fail,
            DriftStep::Refuse(verdict(DriftStatus::Unknown, 2, None)),
        ),
        (
            &D::DetectionFailed,
            None,
            DriftCheck::Warn,
            DriftStep::Go(verdict(DriftStatus::Unknown, 2, None)),
        ),
        (
            &unknown,
            None,
            DriftCheck::Fail,
            DriftStep::Refuse(verdict(DriftStatus::Unknown, 2, None)),
        ),
        (
            &unknown,
            None,
            DriftCheck::Warn,
            DriftStep::Go(verdict(DriftStatus::Unknown, 2, None)),
        ),
    ];
    for (detection, drift, check, expected) in rows {
        assert_eq!(
            on_detection(detection, drift.as_ref(), 2, None, check),
            expected,
            "{detection:?} {drift:?} {check:?}"
        );
    }
}

#[test]
fn a_failed_detection_keeps_cloudformations_reason_cut_to_fit_a_token() {
    let long = "x".repeat(2_000);
    let DriftStep::Refuse(v) =
        on_detection(&D::DetectionFailed, None, 0, Some(&long), DriftCheck::Fail)
    else {
        panic!("a failed detection under FAIL refuses")
    };
    assert!(v
        .reason
        .as_deref()
        .is_some_and(|r| r.chars().count() <= MAX_REASON && r.ends_with("…")));
    let DriftStep::Go(v) = on_detection(&D::DetectionFailed, None, 0, Some(""), DriftCheck::Warn)
    else {
        panic!("a failed detection under WARN goes on")
    };
    assert_eq!(v.reason, None, "an empty reason is no reason");
}

#[test]
fn verdicts_travel_in_few_characters_and_read_back() {
    let drift = Drift {
        detection: Some("b78ac9b0-dec1-11e7-a451-503a3example".into()),
        verdict: Some(verdict(DriftStatus::Drifted, 3, None)),
    };
    let text = serde_json::to_string(&drift).expect("serialises");
    assert_eq!(
        text,
        r#"{"d":"b78ac9b0-dec1-11e7-a451-503a3example","v":{"s":"DRIFTED","n":3}}"#
    );
    assert_eq!(
        serde_json::from_str::<Drift>(&text).expect("reads back"),
        drift
    );
    assert_eq!(
        serde_json::from_str::<Drift>("{}").expect("reads an empty one"),
        Drift::default()
    );
}

#[test]
fn only_a_deploy_over_drift_or_a_failed_detection_gets_a_note() {
    assert_eq!(verdict(DriftStatus::InSync, 0, None).note(), None);
    assert_eq!(verdict(DriftStatus::NotChecked, 0, None).note(), None);
    assert_eq!(
        verdict(DriftStatus::Drifted, 2, None).note().as_deref(),
        Some("2 resource(s) had drifted from the template before the deploy (DriftCheck WARN)")
    );
    let note = verdict(
        DriftStatus::Unknown,
        0,
        Some("Access denied on s3:GetBucketPolicy"),
    )
    .note();
    assert!(
        note.is_some_and(|n| n.contains("drift is unknown") && n.ends_with("s3:GetBucketPolicy"))
    );
}

#[test]
fn drifted_resources_are_named_five_at_most_with_what_differs() {
    let topic = DriftedResource {
        logical_resource_id: "Topic".into(),
        resource_type: "AWS::SNS::Topic".into(),
        status: "MODIFIED".into(),
        differences: vec![PropertyDifference {
            path: "/DisplayName".into(),
            expected: "orders".into(),
            actual: "orders-hotfix".into(),
            kind: "NOT_EQUAL".into(),
        }],
    };
    let queue = DriftedResource {
        logical_resource_id: "Queue".into(),
        resource_type: "AWS::SQS::Queue".into(),
        status: "DELETED".into(),
        differences: Vec::new(),
    };
    assert_eq!(
        describe(&[topic.clone(), queue.clone()]),
        "`Topic` (AWS::SNS::Topic) MODIFIED: /DisplayName expected `orders`, actual `orders-hotfix`; `Queue` (AWS::SQS::Queue) DELETED"
    );
    let many: Vec<DriftedResource> = std::iter::repeat_n(queue, 8).collect();
    let text = describe(&many);
    assert_eq!(text.matches("DELETED").count(), MAX_NAMED);
    assert!(text.ends_with("; and 3 more"), "{text}");
}
