//! The one step every front runs: its settings and state read, the plan made, the engine
//! advanced within the front's time budget, and where the deploy stands handed back as one
//! [`Ended`], whatever happened, a panic included. A front supplies only what is its own
//! ([`Front`]): how its parameters and state arrive and leave, its words, its budget.

use std::future::Future;
use std::time::Duration;

use cfn_deployer_engine::{
    catch_panic, request_token, Deployer, FailureKind, InFlight, Outcome, StepError as EngineError,
};
use std::sync::Arc;

use cfn_deployer_params::{GroupRequest, Params, Request, Target};
use futures_util::FutureExt as _;
use tracing::{error, Instrument};

use crate::ended::{Ended, GroupReport, Resume};
use crate::error::{Failing, StepError};
use crate::prepare::{FileReader, Preparer, Stager};
use crate::settings::Settings;
use crate::targets::Targets;
use crate::words::Words;

/// What a front supplies to the step: how its parameters and state arrive, where its files
/// lie, what it does once the engine has moved, and how the end leaves as its answer.
pub trait Front: Sync {
    /// What one step is asked with: a job, a task.
    type Arrival: Sync;
    /// Why the step fails, in the front's words.
    type Error: From<StepError> + Failing + Send + Sync + 'static;
    /// The front's files for one step.
    type Files<'a>: FileReader<Error = Self::Error> + Send
    where
        Self: 'a;
    /// What the front hands back: a report, a task's answer.
    type Answer;

    /// The front's words.
    fn words(&self) -> &Words;

    /// What the arrival asks for: one stack, or a group.
    fn request(&self, arrival: &Self::Arrival) -> Result<Request, Self::Error>;

    /// What every delivery of the same deploy shares: the idempotency token derives from it.
    fn request_id<'a>(&self, arrival: &'a Self::Arrival) -> &'a str;

    /// Where the last step left the deploy, `None` before the first; bound to what `request`
    /// asks (a stack's operation to its stack, a group's run to a group).
    fn resume(
        &self,
        arrival: &Self::Arrival,
        request: &Request,
    ) -> Result<Option<Resume>, Self::Error>;

    /// The files of this step.
    fn files<'a>(&'a self, arrival: &'a Self::Arrival) -> Self::Files<'a>;

    /// What the front does once the engine has moved, before it answers: write files, read
    /// what the answer needs.
    fn after(
        &self,
        arrival: &Self::Arrival,
        params: &Params,
        deployer: &Deployer,
        outcome: &mut Outcome,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// What the front does once a group run is over, before it answers: write its report.
    fn after_group(
        &self,
        arrival: &Self::Arrival,
        request: &GroupRequest,
        report: &GroupReport,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The one place where the end of a step becomes the front's answer.
    fn answer(&self, arrival: &Self::Arrival, ended: Ended) -> Self::Answer;
}

/// Runs steps with one deployer and the deployment's settings.
#[derive(Debug, Clone)]
pub struct Stepper {
    deployer: Deployer,
    pub(crate) settings: Settings,
    pub(crate) stager: Stager,
    targets: Arc<Targets>,
}

impl Stepper {
    /// A stepper with `settings`, deploying with CloudFormation as they say.
    pub fn new(settings: Settings) -> Self {
        let deployer = Deployer::new(aws_sdk_cloudformation::Client::new(&settings.sdk))
            .with_roles(settings.roles.clone())
            .with_unprotect(settings.allow_unprotect);
        Self::with_deployer(settings, deployer)
    }

    /// A stepper with `settings`, deploying with `deployer` (a mocked client, in tests).
    pub fn with_deployer(settings: Settings, deployer: Deployer) -> Self {
        let stager = Stager {
            s3: aws_sdk_s3::Client::from_conf(cfn_deployer_aws::s3_config(&settings.sdk).build()),
            region: cfn_deployer_aws::region(&settings.sdk).to_owned(),
            bucket: settings.staging_bucket.clone(),
        };
        Self {
            deployer,
            targets: Arc::new(Targets::new(settings.assume_roles.clone())),
            settings,
            stager,
        }
    }

    /// The deployer for `target`: this one for the deployer's own account and Region, else
    /// one with the target's Region and the credentials of its role, assumed for `request`.
    pub async fn deployer_for(
        &self,
        target: &Target,
        request: &str,
    ) -> Result<Deployer, StepError> {
        if target.is_home() {
            return Ok(self.deployer.clone());
        }
        let sdk = self
            .targets
            .sdk_for(&self.settings.sdk, target, request)
            .await?;
        Ok(Deployer::new(aws_sdk_cloudformation::Client::new(&sdk))
            .with_roles(crate::targets::policy_in(&self.settings.roles, target))
            .with_unprotect(self.settings.allow_unprotect))
    }

    /// Refuses `target`'s role, with no STS call, unless the deployment allows it.
    pub fn check_target(&self, target: &Target) -> Result<(), Box<StepError>> {
        self.targets.check(target)
    }

    /// Where `target` lies, as a summary names it (`222222222222 / eu-west-1`), when its
    /// account or its Region differs from the deployer's own; `None` when neither does.
    pub async fn place(&self, target: &Target) -> Option<String> {
        if target.is_home() {
            return None;
        }
        let home = cfn_deployer_aws::region(&self.settings.sdk);
        let region = target.region.as_deref().unwrap_or(home);
        let account = match target.account() {
            Some(account) => {
                let own = self.targets.own_account(&self.settings.sdk).await;
                (own.as_deref() != Some(account)).then_some(account)
            }
            None => None,
        };
        match (account, region != home) {
            (Some(account), _) => Some(format!("{account} / {region}")),
            (None, true) => Some(region.to_owned()),
            (None, false) => None,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The deployer.
    pub fn deployer(&self) -> &Deployer {
        &self.deployer
    }

    /// An S3 client with the deployer's own role.
    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.stager.s3
    }

    /// Runs one step of what `arrival` asks within `budget` (none: no limit) and answers it.
    /// Whatever happens in the step, a panic included, ends in an answer.
    pub fn run<'a, F: Front>(
        &'a self,
        front: &'a F,
        arrival: &'a F::Arrival,
        budget: Option<Duration>,
    ) -> impl Future<Output = F::Answer> + Send + 'a
    where
        F::Arrival: Sync,
        F::Answer: 'a,
    {
        let words = *front.words();
        guarded(self.step(front, arrival, budget), move |what| {
            Ended::Failed {
                kind: FailureKind::Deploy,
                message: words.internal_error(&what),
                stack_id: None,
                name: None,
            }
        })
        .map(move |ended| front.answer(arrival, ended))
    }

    async fn step<F: Front>(
        &self,
        front: &F,
        arrival: &F::Arrival,
        budget: Option<Duration>,
    ) -> Ended {
        let request = match front.request(arrival) {
            Ok(request) => request,
            Err(err) => return Ended::from_error(&err),
        };
        let resume = match front.resume(arrival, &request) {
            Ok(resume) => resume,
            Err(err) => return Ended::from_error(&err),
        };
        let done = match (&request, resume) {
            (Request::Stack(params), resume) => {
                let flight = match resume {
                    Some(Resume::Stack(flight)) => Some(flight),
                    _ => None,
                };
                let span = tracing::info_span!("deploy", stack = %params.stack);
                self.advance(front, arrival, params, flight, budget)
                    .instrument(span)
                    .await
            }
            (Request::Group(group), resume) => {
                let state = match resume {
                    Some(Resume::Group(state)) => Some(state),
                    _ => None,
                };
                let span = tracing::info_span!("group");
                self.group(front, arrival, group, state, budget)
                    .instrument(span)
                    .await
            }
            (Request::StackSet(set), resume) => {
                let state = match resume {
                    Some(Resume::StackSet(state)) => Some(state),
                    _ => None,
                };
                let span = tracing::info_span!("stack_set", stack_set = %set.plan.name);
                self.stack_set(front, arrival, set, state, budget)
                    .instrument(span)
                    .await
            }
        };
        done.unwrap_or_else(|err| Ended::from_error(&err))
    }

    async fn advance<F: Front>(
        &self,
        front: &F,
        arrival: &F::Arrival,
        params: &Params,
        flight: Option<InFlight>,
        budget: Option<Duration>,
    ) -> Result<Ended, F::Error> {
        let deployer = self
            .deployer_for(&params.target, front.request_id(arrival))
            .await
            .map_err(F::Error::from)?;
        let mut plan = params.plan(&request_token(front.request_id(arrival)));
        // The deployment's DriftCheck, for a deploy whose settings name none.
        plan.drift_check = params
            .settings
            .drift_check
            .unwrap_or(self.settings.drift_check);
        let files = front.files(arrival);
        let inputs = Preparer::new(&files, params, &self.stager);
        let mut outcome = deployer
            .advance(&plan, &inputs, flight, self.settings.pace, budget)
            .await
            .map_err(|e| match e {
                EngineError::Deploy(e) => F::Error::from(StepError::Deploy(e)),
                EngineError::Inputs(e) => e,
            })?;
        front
            .after(arrival, params, &deployer, &mut outcome)
            .await?;
        let ended = Ended::from_outcome(
            outcome,
            &params.stack,
            front.words(),
            !self.settings.role_policy_on(),
        );
        Ok(match self.place(&params.target).await {
            Some(place) => ended.placed(&format!("Stack `{}`", params.stack), &place),
            None => ended,
        })
    }
}

/// Runs `work`, turning a panic into `on_panic`'s answer with the message the panic carried:
/// the one panic guard of every front. (An abort cannot be caught; the template reader's
/// bounds exist so that none happens.) A plain function, not an `async fn`, so that the
/// work's large future is not held twice.
pub fn guarded<T, F>(
    work: F,
    on_panic: impl FnOnce(String) -> T + Send,
) -> impl Future<Output = T> + Send
where
    F: Future<Output = T> + Send,
{
    catch_panic(work).map(|caught| {
        caught.unwrap_or_else(|what| {
            error!(panic = %what, "the step panicked: reporting an internal error");
            on_panic(what)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfn_deployer_engine::Remedy;

    const WORDS: Words = Words {
        remedy: |_: Remedy| "do it again",
        again: "Run it again",
        logs: "the tool's logs",
        id: "the run id",
    };

    #[tokio::test]
    async fn a_step_that_panics_is_one_failure_saying_it_is_a_bug() {
        let ended = guarded(
            async {
                let empty: Vec<u8> = Vec::new();
                // An index out of bounds, as a bug would make.
                let _ = empty[usize::from(empty.is_empty())];
                Ended::Failed {
                    kind: FailureKind::Configuration,
                    message: "never reached".into(),
                    stack_id: None,
                    name: None,
                }
            },
            |what| Ended::Failed {
                kind: FailureKind::Deploy,
                message: WORDS.internal_error(&what),
                stack_id: None,
                name: None,
            },
        )
        .await;
        let Ended::Failed { kind, message, .. } = ended else {
            panic!("{ended:?}")
        };
        assert_eq!(kind, FailureKind::Deploy);
        for part in [
            "internal error",
            "index out of bounds",
            crate::ISSUES_URL,
            "Run it again;",
            "the run id from the tool's logs",
        ] {
            assert!(message.contains(part), "{part}: {message}");
        }
    }
}
