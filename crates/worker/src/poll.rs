//! One `PollForJobs` call, and what of its answer the worker may take: errors that a wait
//! mends told from those it never does, and jobs kept only when the worker serves their
//! action type and has a slot for them.

use aws_sdk_codepipeline::types::{ActionTypeId, Job};
use aws_sdk_codepipeline::Client;
use cfn_deployer_aws::AwsFault;
use tracing::warn;

use crate::WorkerError;

/// Why a poll failed.
#[derive(Debug)]
pub(crate) enum Failed {
    /// Throttling, a 5xx, the network: outlasted with backoff.
    Passing(String),
    /// No wait mends it: the worker ends, saying what to fix.
    Permanent(WorkerError),
}

/// `Category/Custom/Provider/Version`, as the console names an action type.
pub(crate) fn name(t: &ActionTypeId) -> String {
    format!(
        "{}/{}/{}/{}",
        t.category().as_str(),
        t.owner().as_str(),
        t.provider(),
        t.version()
    )
}

/// What to fix for an error no wait mends; `None` for one a wait may.
pub(crate) fn permanent(fault: &AwsFault) -> Option<&'static str> {
    if fault.is_access_denied() {
        return Some("allow codepipeline:PollForJobs, AcknowledgeJob, GetJobDetails, PutJobSuccessResult and PutJobFailureResult to the worker's role");
    }
    match fault.code.as_deref() {
        Some("ActionTypeNotFoundException") => Some("check --category, --provider and --version against the custom action type registered in this account and Region"),
        Some("ValidationException") => Some("check --query (KEY=VALUE: the action type's queryable property, a value of at most 20 characters [A-Za-z0-9_-])"),
        _ => None,
    }
}

/// Asks for at most `max` jobs of `action_type`.
pub(crate) async fn poll(
    codepipeline: &Client,
    action_type: &ActionTypeId,
    query: Option<&(String, String)>,
    max: usize,
) -> Result<Vec<Job>, Failed> {
    let mut poll = codepipeline
        .poll_for_jobs()
        .action_type_id(action_type.clone())
        .max_batch_size(i32::try_from(max).unwrap_or(i32::MAX));
    if let Some((key, value)) = query {
        poll = poll.query_param(key, value);
    }
    match poll.send().await {
        Ok(out) => Ok(out.jobs.unwrap_or_default()),
        Err(e) => {
            let fault = AwsFault::of(&e);
            Err(match permanent(&fault) {
                Some(fix) => Failed::Permanent(WorkerError::Refused {
                    action_type: name(action_type),
                    message: fault.to_text(),
                    fix,
                }),
                None => Failed::Passing(fault.to_text()),
            })
        }
    }
}

/// The jobs of an answer the worker may claim: of an action type it serves, and no more
/// than `free`. The rest are left alone, unclaimed, for CodePipeline to hand out again.
pub(crate) fn servable(found: Vec<Job>, served: &[ActionTypeId], free: usize) -> Vec<Job> {
    let mut kept = Vec::new();
    for job in found {
        let id = job.id().unwrap_or_default().to_owned();
        let of = job.data().and_then(|d| d.action_type_id());
        match of {
            Some(t) if served.contains(t) => {}
            other => {
                let of = other.map(name).unwrap_or_else(|| "none".into());
                warn!(job_id = %id, action_type = %of, "job of an action type this worker does not serve: left alone");
                continue;
            }
        }
        if kept.len() == free {
            warn!(job_id = %id, "more jobs than were asked for: left for CodePipeline to hand out again");
            continue;
        }
        kept.push(job);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_codepipeline::types::{ActionCategory, ActionOwner, JobData};

    fn action(provider: &str) -> ActionTypeId {
        ActionTypeId::builder()
            .category(ActionCategory::Deploy)
            .owner(ActionOwner::Custom)
            .provider(provider)
            .version("1")
            .build()
            .expect("action type")
    }

    fn job(id: &str, provider: Option<&str>) -> Job {
        let data = JobData::builder()
            .set_action_type_id(provider.map(action))
            .build();
        Job::builder().id(id).nonce("n").data(data).build()
    }

    #[test]
    fn only_served_jobs_within_the_free_slots_are_kept() {
        let served = [action("CfnDeployer"), action("CfnDeployerGroup")];
        let found = vec![
            job("a", Some("CfnDeployer")),
            job("b", Some("SomeoneElse")),
            job("c", None),
            job("d", Some("CfnDeployerGroup")),
            job("e", Some("CfnDeployer")),
        ];
        let kept: Vec<String> = servable(found, &served, 2)
            .iter()
            .map(|j| j.id().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(kept, ["a", "d"]);
    }

    #[test]
    fn only_errors_no_wait_mends_are_permanent() {
        let fault = |code: &str| AwsFault {
            code: Some(code.to_owned()),
            message: "m".into(),
            status: Some(400),
        };
        for code in [
            "ActionTypeNotFoundException",
            "ValidationException",
            "AccessDeniedException",
        ] {
            assert!(permanent(&fault(code)).is_some(), "{code}");
        }
        for code in [
            "ThrottlingException",
            "InternalFailure",
            "ServiceUnavailable",
        ] {
            assert!(permanent(&fault(code)).is_none(), "{code}");
        }
        let dropped = AwsFault {
            code: None,
            message: "the request could not be sent".into(),
            status: None,
        };
        assert!(permanent(&dropped).is_none());
        assert_eq!(name(&action("CfnDeployer")), "Deploy/Custom/CfnDeployer/1");
    }
}
