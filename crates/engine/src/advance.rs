//! The engine's state machine: a step starts the plan or follows the operation under way, and
//! goes on from one operation to the next by itself (a wait, then the deploy that waited; a
//! replaced stack's delete, then its create). Several steps run within a time budget; past it
//! the deploy pauses and hands back where to resume.

use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use crate::delete::deleted;
use crate::drift::DriftPoll;
use crate::error::StepError;
use crate::flight::{InFlight, Operation};
use crate::outcome::{Failure, Outcome, Remedy};
use crate::plan::{Action, Inputs, Plan};
use crate::start::Lazy;
use crate::Deployer;

/// How a front paces the polls within one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// How long one step may keep polling a running operation before handing it back; zero
    /// hands back after the first poll.
    pub poll_within: Duration,
    /// The pause between those polls.
    pub poll_interval: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Self {
            poll_within: Duration::ZERO,
            poll_interval: Duration::from_secs(3),
        }
    }
}

impl Deployer {
    /// One step of `plan`: start it (`state` is `None`) or follow the operation under way.
    pub async fn step<I: Inputs>(
        &self,
        plan: &Plan,
        inputs: &I,
        state: Option<&InFlight>,
    ) -> Result<Outcome, StepError<I::Error>> {
        let mut lazy = Lazy::new(inputs);
        match state {
            None => self.start(plan, &mut lazy).await,
            Some(flight) => {
                self.follow(&following(plan, flight), &mut lazy, flight)
                    .await
            }
        }
    }

    /// A step, then more polls while `pace` allows, all within `budget` (none: no limit). Past
    /// the budget the deploy pauses, and the outcome says where to resume.
    pub async fn advance<I: Inputs>(
        &self,
        plan: &Plan,
        inputs: &I,
        state: Option<InFlight>,
        pace: Pace,
        budget: Option<Duration>,
    ) -> Result<Outcome, StepError<I::Error>> {
        let plan = match &state {
            Some(flight) => following(plan, flight),
            None => plan.clone(),
        };
        let resume = state.clone().unwrap_or_else(|| InFlight::pending(&plan));
        let until = budget.map(|b| Instant::now() + b);
        let work = async {
            let mut lazy = Lazy::new(inputs);
            let outcome = match &state {
                None => {
                    info!(stack = %plan.stack_name, "starting deploy");
                    self.start(&plan, &mut lazy).await?
                }
                Some(flight) => self.follow(&plan, &mut lazy, flight).await?,
            };
            self.poll_more(&plan, &mut lazy, outcome, pace, until).await
        };
        let finished = match budget {
            None => work.await,
            Some(budget) => match tokio::time::timeout(budget, work).await {
                Ok(outcome) => outcome,
                Err(_) => return Ok(paused(&plan, resume)),
            },
        };
        Ok(match finished? {
            // The step ended in time: whatever stalls came before are over.
            Outcome::InProgress {
                mut flight,
                summary,
                percent,
            } => {
                flight.stalls = 0;
                Outcome::InProgress {
                    flight,
                    summary,
                    percent,
                }
            }
            other => other,
        })
    }

    async fn start<I: Inputs>(
        &self,
        plan: &Plan,
        inputs: &mut Lazy<'_, I>,
    ) -> Result<Outcome, StepError<I::Error>> {
        match &plan.action {
            Action::Delete => Ok(self.delete(plan).await?),
            Action::ChangeSetExecute { change_set, id } => Ok(self
                .execute_change_set(plan, change_set, id.as_deref())
                .await?),
            Action::Deploy { mode } => self.start_deploy(plan, *mode, inputs).await,
            Action::ChangeSetReplace { change_set } => {
                self.create_change_set(plan, change_set, inputs).await
            }
        }
    }

    async fn follow<I: Inputs>(
        &self,
        plan: &Plan,
        inputs: &mut Lazy<'_, I>,
        flight: &InFlight,
    ) -> Result<Outcome, StepError<I::Error>> {
        match flight.operation {
            Operation::Wait => {
                if let Some(still_busy) = self.wait(flight).await? {
                    return Ok(still_busy);
                }
                info!(stack = %plan.stack_name, "stack free: starting what waited");
                self.start(plan, inputs).await
            }
            Operation::Delete => Ok(match self.poll_delete(flight).await? {
                Some(outcome) => outcome,
                None => {
                    info!(stack = %plan.stack_name, "stack deleted");
                    deleted(&plan.stack_name, &flight.stack_id, false)
                }
            }),
            Operation::Replace => match self.poll_delete(flight).await? {
                Some(outcome) => Ok(outcome),
                None => {
                    info!(stack = %plan.stack_name, "failed stack deleted: creating it again");
                    self.start(plan, inputs).await
                }
            },
            Operation::ChangeSet => Ok(self.poll_change_set(flight).await?),
            Operation::Drift => match self.poll_drift(plan, flight).await? {
                DriftPoll::Step(outcome) => Ok(*outcome),
                DriftPoll::Done(verdict) => {
                    let checked = Plan {
                        drift_seen: Some(verdict),
                        ..plan.clone()
                    };
                    self.start(&checked, inputs).await
                }
            },
            Operation::Revert => Ok(self.poll_revert(plan, flight).await?),
            Operation::Create | Operation::Update | Operation::Monitor => {
                Ok(self.poll(plan, flight).await?)
            }
        }
    }

    /// Polls a running operation again while the pace and the time limit allow.
    async fn poll_more<I: Inputs>(
        &self,
        plan: &Plan,
        inputs: &mut Lazy<'_, I>,
        mut outcome: Outcome,
        pace: Pace,
        until: Option<Instant>,
    ) -> Result<Outcome, StepError<I::Error>> {
        let stop_polling = Instant::now() + pace.poll_within;
        while let Outcome::InProgress { flight, .. } = &outcome {
            let next = Instant::now() + pace.poll_interval;
            // A poll takes a moment too: leave it the length of one interval.
            let too_late =
                next > stop_polling || until.is_some_and(|u| next + pace.poll_interval > u);
            if too_late {
                break;
            }
            tokio::time::sleep_until(next).await;
            let flight = flight.clone();
            outcome = self.follow(plan, inputs, &flight).await?;
        }
        Ok(outcome)
    }
}

/// How many steps in a row may run out of time before the deploy gives up: each such step
/// hands back where it started, so a deploy whose steps always run out would never end.
pub const MAX_STALLS: u8 = 3;

/// A step that ran out of time: resume where it started, or give up after [`MAX_STALLS`].
fn paused(plan: &Plan, mut resume: InFlight) -> Outcome {
    resume.stalls = resume.stalls.saturating_add(1);
    if resume.stalls >= MAX_STALLS {
        warn!(stack = %plan.stack_name, stalls = resume.stalls, "no progress: giving up");
        return Outcome::Failed(
            Failure::deploy(
                Some(resume.stack_id).filter(|id| id.starts_with("arn:")),
                format!(
                    "The deploy of stack `{}` made no progress in {MAX_STALLS} steps in a row: each ran out of time before its calls to CloudFormation returned",
                    plan.stack_name
                ),
            )
            .with(&[Remedy::MoreTime]),
        );
    }
    warn!(stack = %plan.stack_name, stalls = resume.stalls, "time limit near: handing back a continuation");
    Outcome::in_progress(
        resume,
        "paused before the invocation's time limit; continuing",
    )
}

/// The plan as followed: whatever starts later (the deploy after a wait, the create after a
/// replaced stack's delete) keeps the request token the operation was started with, so that
/// every continuation of one deploy starts nothing twice.
fn following(plan: &Plan, flight: &InFlight) -> Plan {
    Plan {
        client_request_token: flight.client_request_token.clone(),
        drift_seen: flight.drift.as_ref().and_then(|d| d.verdict.clone()),
        ..plan.clone()
    }
}
