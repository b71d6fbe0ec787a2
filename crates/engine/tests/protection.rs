//! Termination protection switched off from a pipeline: refused, with nothing changed, unless
//! the deployment allows it.

mod common;

use aws_sdk_cloudformation::operation::update_stack::UpdateStackOutput;
use aws_sdk_cloudformation::operation::update_termination_protection::UpdateTerminationProtectionOutput;
use aws_sdk_cloudformation::types::StackStatus;
use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::mock;
use cfn_deployer_engine::{Action, Failure, FailureKind, Mode, Outcome, Plan};

use common::*;

fn unprotecting() -> Plan {
    Plan {
        termination_protection: Some(false),
        ..request().plan(Action::Deploy {
            mode: Mode::CreateUpdate,
        })
    }
}

#[tokio::test]
async fn switching_protection_off_is_refused_and_changes_nothing() {
    let described = protected_stack(StackStatus::UpdateComplete);
    let update = mock!(Client::update_stack)
        .then_output(|| UpdateStackOutput::builder().stack_id(ID).build());
    let unprotect = mock!(Client::update_termination_protection)
        .then_output(|| UpdateTerminationProtectionOutput::builder().build());
    let d = deployer(&[&described, &update, &unprotect]);
    let out = d.0.step(&unprotecting(), &request().inputs(), None).await;
    let Ok(Outcome::Failed(Failure { kind, message, .. })) = out else {
        panic!("{out:?}")
    };
    assert_eq!(kind, FailureKind::Permission);
    assert!(
        message.contains("CFN_DEPLOYER_ALLOW_UNPROTECT=true"),
        "{message}"
    );
    assert_eq!((update.num_calls(), unprotect.num_calls()), (0, 0));
}

#[tokio::test]
async fn the_deployment_may_allow_it() {
    let described = protected_stack(StackStatus::UpdateComplete);
    let unprotect = mock!(Client::update_termination_protection)
        .match_requests(|r| r.enable_termination_protection() == Some(false))
        .then_output(|| UpdateTerminationProtectionOutput::builder().build());
    let update = mock!(Client::update_stack)
        .then_output(|| UpdateStackOutput::builder().stack_id(ID).build());
    let d = deployer(&[&described, &unprotect, &update]);
    let allowed = d.0.clone().with_unprotect(true);
    let out = allowed
        .step(&unprotecting(), &request().inputs(), None)
        .await;
    assert!(matches!(out, Ok(Outcome::InProgress { .. })), "{out:?}");
    assert_eq!((unprotect.num_calls(), update.num_calls()), (1, 1));
}
