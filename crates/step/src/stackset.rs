//! Stack sets, for every front: the files a stack-set job names read (its template, staged
//! when large; its parameters and targets when they lie in files), then the engine's
//! stack-set step run in the set's own account and Region, and its end handed back as one
//! [`Ended`].

use std::time::Duration;

use cfn_deployer_artifact::{s3_url, Location};
use cfn_deployer_engine::stackset::{Phase, SetOutcome, SetPlan, SetState};
use cfn_deployer_engine::{request_token, Template, MAX_TEMPLATE_BODY};
use cfn_deployer_params::stackset::{parameters, targets};
use cfn_deployer_params::{ArtifactPath, FileRef, S3File, StackSetRequest};
use serde_json::Value;
use tracing::info;

use crate::ended::Ended;
use crate::error::StepError;
use crate::prepare::{FileReader, Role, Stager};
use crate::step::{Front, Stepper};

impl Stepper {
    /// One step of a stack-set job.
    pub(crate) async fn stack_set<F: Front>(
        &self,
        front: &F,
        arrival: &F::Arrival,
        request: &StackSetRequest,
        state: Option<SetState>,
        budget: Option<Duration>,
    ) -> Result<Ended, F::Error> {
        // The engine gets what is left of the budget once the files are read.
        let started = std::time::Instant::now();
        let files = front.files(arrival);
        let mut plan = request.plan.clone();
        plan.request_token = request_token(front.request_id(arrival));
        // The template matters only while the update is yet to start: before the first phase,
        // between phases, or with the update still to come after the instances are added.
        let updating = |s: &SetState| s.operation_id.is_none() || s.next.contains(&Phase::Update);
        if state.as_ref().is_none_or(updating) {
            if let Some(file) = &request.template {
                plan.template = Some(self.set_template(&files, file, &plan).await?);
            }
        }
        if let Some(path) = &request.parameters_file {
            let value = json_file(&files, path, Role::Parameters).await?;
            plan.parameters = parameters(request.front, "Parameters", value)
                .map_err(|e| F::Error::from(StepError::Params(e)))?;
        }
        if let Some(path) = &request.overrides_file {
            let value = json_file(&files, path, Role::ParameterOverrides).await?;
            plan.parameter_overrides = parameters(request.front, "ParameterOverrides", value)
                .map_err(|e| F::Error::from(StepError::Params(e)))?;
        }
        if let Some(path) = &request.targets_file {
            let value = json_file(&files, path, Role::DeploymentTargets).await?;
            plan.targets = Some(
                targets(request.front, Some(value), plan.permission_model)
                    .map_err(|e| F::Error::from(StepError::Params(e)))?,
            );
        }
        self.check_target(&request.target)
            .map_err(|e| F::Error::from(*e))?;
        let deployer = self
            .deployer_for(&request.target, front.request_id(arrival))
            .await
            .map_err(F::Error::from)?;
        let outcome = deployer
            .advance_set(
                &plan,
                state,
                self.settings.pace,
                budget.map(|b| b.saturating_sub(started.elapsed())),
            )
            .await
            .map_err(|e| F::Error::from(StepError::Deploy(e)))?;
        let ended = Ended::from_set(outcome, front.words(), !self.settings.role_policy_on());
        Ok(match self.place(&request.target).await {
            Some(place) => ended.placed(&format!("Stack set `{}`", plan.name), &place),
            None => ended,
        })
    }

    /// The stack set's template: inline when CloudFormation takes it so, else staged (or, for
    /// an S3 object of its own, read where it lies).
    async fn set_template<R: FileReader>(
        &self,
        files: &R,
        file: &FileRef,
        plan: &SetPlan,
    ) -> Result<Template, R::Error> {
        let bytes = files.read(file, Role::Template).await?;
        let place = files.place(file);
        let body = String::from_utf8(bytes).map_err(|_| StepError::ConfigFile {
            key: files.template_key(),
            file: place.clone(),
            problem: "is not UTF-8 text: write the template in YAML or JSON".into(),
        })?;
        if body.len() <= MAX_TEMPLATE_BODY {
            return Ok(Template::Body(body));
        }
        if let FileRef::S3(S3File {
            location,
            inner: None,
        }) = file
        {
            return Ok(Template::Url(s3_url(&self.stager.region, location)));
        }
        let Some(bucket) = &self.stager.bucket else {
            return Err(StepError::NoStagingBucket {
                template: place,
                size: body.len(),
                inside_zip: matches!(file, FileRef::S3(_)),
            }
            .into());
        };
        let location = staged(bucket, plan);
        info!(stack_set = %plan.name, size = body.len(), "stack set template staged");
        Ok(Template::Url(
            self.stager.put(&location, body, &place).await?,
        ))
    }
}

/// Where a stack set's large template is staged: beside the stacks' (`cfn-deployer/staged/`,
/// the prefix the target accounts may read), named by the job's token so every delivery
/// writes the same object.
fn staged(bucket: &str, plan: &SetPlan) -> Location {
    Stager::location_of(bucket, &plan.name, &plan.request_token)
}

/// A JSON file a stack-set key names.
async fn json_file<R: FileReader>(
    files: &R,
    path: &ArtifactPath,
    role: Role,
) -> Result<Value, R::Error> {
    let file = FileRef::Artifact(path.clone());
    let bytes = files.read(&file, role).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        StepError::ConfigFile {
            key: role.key(),
            file: files.place(&file),
            problem: format!("is not valid JSON ({e})"),
        }
        .into()
    })
}

impl Ended {
    /// The end of a stack-set step.
    pub(crate) fn from_set(
        outcome: SetOutcome,
        words: &crate::words::Words,
        policy_off: bool,
    ) -> Self {
        let summary_of = |summary: String| {
            if policy_off {
                format!("{summary}; {}", crate::ended::POLICY_OFF)
            } else {
                summary
            }
        };
        match outcome {
            SetOutcome::Succeeded {
                stack_set_id,
                operation_id,
                summary,
            } => {
                info!(%summary, "stack set job succeeded");
                Self::SetSucceeded {
                    stack_set_id,
                    operation_id,
                    summary: summary_of(summary),
                }
            }
            SetOutcome::InProgress {
                state,
                summary,
                percent,
            } => {
                info!(%summary, "stack set operation under way");
                Self::SetInProgress {
                    state,
                    summary: summary_of(summary),
                    percent,
                }
            }
            SetOutcome::Failed(failure) => {
                info!(message = %failure.message, "stack set job failed");
                Self::Failed {
                    kind: failure.kind,
                    message: words.message(&failure),
                    stack_id: None,
                    name: None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_set_in_another_account_is_said_to_be_there() {
        let ended = Ended::SetSucceeded {
            stack_set_id: "baseline:1".into(),
            operation_id: None,
            summary: "Stack set `baseline`: 2 of 2 instances SUCCEEDED".into(),
        };
        let Ended::SetSucceeded { summary, .. } =
            ended.placed("Stack set `baseline`", "222222222222 / eu-west-1")
        else {
            panic!("a success")
        };
        assert_eq!(
            summary,
            "Stack set `baseline` in 222222222222 / eu-west-1: 2 of 2 instances SUCCEEDED"
        );
        let waiting = Ended::SetInProgress {
            state: SetState {
                stack_set_id: String::new(),
                phase: cfn_deployer_engine::stackset::Phase::Add,
                operation_id: None,
                blocked_by: None,
                next: Vec::new(),
                last_operation: None,
            },
            summary: "throttled".into(),
            percent: None,
        };
        let Ended::SetInProgress { summary, .. } =
            waiting.placed("Stack set `baseline`", "eu-west-1")
        else {
            panic!("under way")
        };
        assert_eq!(summary, "Stack set `baseline` in eu-west-1: throttled");
    }
}
