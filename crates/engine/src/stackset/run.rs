//! The stack-set job's state machine: [`Deployer::advance_set`] reads the set and chooses the
//! phases, starts each phase's operation and follows it, waits out another operation or
//! throttling, and ends in success or with the failed instances named; all within a pace and a
//! time budget, handing back a [`SetState`] to resume from.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use super::operation::Started;
use super::results::counts;
use super::scope::{phases, wanted, Place};
use super::table::OpStep;
use super::{in_progress, Phase, SetAction, SetOutcome, SetPlan, SetState};
use crate::advance::Pace;
use crate::error::{is_throttling, DeployError};
use crate::outcome::{Failure, FailureKind};
use crate::Deployer;

impl Deployer {
    /// One step of a stack-set job: start it (`state` is `None`) or resume it, then go on
    /// polling while `pace` allows, all within `budget` (none: no limit). Throttling and
    /// another operation on the set are waited out; past the budget the job pauses, and the
    /// outcome's state says where to resume.
    pub async fn advance_set(
        &self,
        plan: &SetPlan,
        state: Option<SetState>,
        pace: Pace,
        budget: Option<Duration>,
    ) -> Result<SetOutcome, DeployError> {
        if let Some(refused) = self.refuse_administration_role(plan) {
            warn!(stack_set = %plan.name, "administration role refused");
            return Ok(SetOutcome::Failed(refused));
        }
        let first = state.unwrap_or_else(|| unbegun(plan));
        // Where the job stands after each step, for a pause to hand back: the operations
        // started so far are not started again, though their ids would make that harmless.
        let latest = Mutex::new(first.clone());
        let until = budget.map(|b| Instant::now() + b);
        let work = async {
            let mut outcome = self.step_set(plan, first).await?;
            let stop_polling = Instant::now() + pace.poll_within;
            while let SetOutcome::InProgress { state, .. } = &outcome {
                let state = state.clone();
                *latest.lock().unwrap_or_else(PoisonError::into_inner) = state.clone();
                let next = Instant::now() + pace.poll_interval;
                // A poll takes a moment too: leave it the length of one interval.
                let too_late =
                    next > stop_polling || until.is_some_and(|u| next + pace.poll_interval > u);
                if too_late {
                    break;
                }
                tokio::time::sleep_until(next).await;
                outcome = self.step_set(plan, state).await?;
            }
            Ok(outcome)
        };
        let Some(budget) = budget else {
            return work.await;
        };
        match tokio::time::timeout(budget, work).await {
            Ok(outcome) => outcome,
            Err(_) => {
                warn!(stack_set = %plan.name, "time limit near: handing back a continuation");
                Ok(SetOutcome::InProgress {
                    state: latest
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone(),
                    summary: "paused before the invocation's time limit; continuing".into(),
                    percent: None,
                })
            }
        }
    }

    /// The administration role refused by the deployer's role policy, before any call.
    fn refuse_administration_role(&self, plan: &SetPlan) -> Option<Failure> {
        let role = plan.administration_role_arn.as_deref()?;
        let what = format!("Stack set `{}` names the administration role", plan.name);
        let refusal = self.roles.refusal(&what, role)?;
        Some(Failure {
            stack_id: None,
            kind: FailureKind::Permission,
            message: format!(
                "{refusal}. Allow it with CFN_DEPLOYER_SERVICE_ROLE_ARN or CFN_DEPLOYER_ALLOWED_ROLE_ARNS"
            ),
            remedies: Vec::new(),
        })
    }

    /// One step; throttling, on any call, leaves the job where that call found it.
    async fn step_set(
        &self,
        plan: &SetPlan,
        mut state: SetState,
    ) -> Result<SetOutcome, DeployError> {
        match self.walk_set(plan, &mut state).await {
            Err(e) if is_throttling(&e) => {
                info!(stack_set = %plan.name, call = e.operation, "throttled");
                let summary = format!(
                    "{} on stack set `{}` throttled by CloudFormation: trying again in the next step",
                    e.operation, plan.name
                );
                Ok(in_progress(&state, summary, None))
            }
            other => other,
        }
    }

    /// Moves the job on from `s` as far as it goes without waiting, updating `s` on the way.
    async fn walk_set(&self, plan: &SetPlan, s: &mut SetState) -> Result<SetOutcome, DeployError> {
        // The instances as the set was read, for the first phase to start from; each later
        // phase reads them again, as the one before changed them.
        let mut known = None;
        if s.stack_set_id.is_empty() {
            if let Some(outcome) = self.begin_set(plan, s, &mut known).await? {
                return Ok(outcome);
            }
        }
        loop {
            if let Some(other) = s.blocked_by.clone() {
                match self.describe_set_operation(plan, &other).await? {
                    Some(op) if op.step() == OpStep::Running => {
                        return Ok(blocked(plan, s, &other))
                    }
                    _ => {
                        info!(stack_set = %plan.name, operation = %other, "other operation over");
                        s.blocked_by = None;
                    }
                }
            }
            let id = match s.operation_id.clone() {
                Some(id) => id,
                None => {
                    let existing = match known.take() {
                        Some(known) => known,
                        None => self.set_instances(plan).await?,
                    };
                    match self.start_set_phase(plan, s.phase, &existing).await? {
                        Started::Now(id) => {
                            info!(stack_set = %plan.name, operation = %id, api = s.phase.api(), "operation started");
                            s.operation_id = Some(id.clone());
                            let summary = format!(
                                "{} operation `{id}` started on stack set `{}`",
                                s.phase.api(),
                                plan.name
                            );
                            return Ok(in_progress(s, summary, Some(0)));
                        }
                        Started::Earlier(id) => {
                            info!(stack_set = %plan.name, operation = %id, "operation started earlier: following it");
                            s.operation_id = Some(id.clone());
                            id
                        }
                        Started::Blocked => return self.await_set_operation(plan, s).await,
                        Started::Nothing => match next_phase(s) {
                            true => continue,
                            false => return self.finish_set(plan, s).await,
                        },
                    }
                }
            };
            let Some(op) = self.describe_set_operation(plan, &id).await? else {
                // Just started, and not yet visible to a read (eventual consistency).
                let summary = format!(
                    "{} operation `{id}` not yet visible on stack set `{}`",
                    s.phase.api(),
                    plan.name
                );
                return Ok(in_progress(s, summary, None));
            };
            match op.step() {
                OpStep::Running => return self.set_progress(plan, s, &id, &op).await,
                OpStep::Failed(remedy) => return self.set_failure(plan, s, &id, &op, remedy).await,
                OpStep::Done => {
                    info!(stack_set = %plan.name, operation = %id, "operation succeeded");
                    s.last_operation = Some(id);
                    // The last operation stays followed: a step that stops short of the end
                    // (throttled, blocked) finds it done again rather than starting anything.
                    if !next_phase(s) {
                        return self.finish_set(plan, s).await;
                    }
                }
            }
        }
    }

    /// Reads the set and chooses the phases into `s`, leaving the instances read in `known`;
    /// or the job's outcome when there is no phase to run.
    async fn begin_set(
        &self,
        plan: &SetPlan,
        s: &mut SetState,
        known: &mut Option<Vec<Place>>,
    ) -> Result<Option<SetOutcome>, DeployError> {
        let (id, chosen) = match (plan.action, self.describe_set(plan).await?) {
            (SetAction::Delete, None) => {
                return Ok(Some(SetOutcome::Succeeded {
                    stack_set_id: String::new(),
                    operation_id: None,
                    summary: format!("Stack set `{}` does not exist: nothing to delete", plan.name),
                }))
            }
            (SetAction::Instances, None) => {
                return Ok(Some(configuration(format!(
                    "Stack set `{}` (StackSetName) does not exist, so it has no instances to deploy: create it first with a deploy that gives its TemplatePath",
                    plan.name
                ))))
            }
            (SetAction::Deploy, None) => {
                let Some(template) = &plan.template else {
                    return Ok(Some(configuration(format!(
                        "Stack set `{}` does not exist, and the deploy gives no template (TemplatePath) to create it from",
                        plan.name
                    ))));
                };
                match self.create_set(plan, template).await? {
                    Some(id) => {
                        info!(stack_set = %plan.name, id = %id, "stack set created");
                        let add = wanted(plan).map(|_| Phase::Add);
                        if add.is_none() {
                            return Ok(Some(SetOutcome::Succeeded {
                                summary: format!(
                                    "Stack set `{}` created; the deploy names no instances",
                                    plan.name
                                ),
                                stack_set_id: id,
                                operation_id: None,
                            }));
                        }
                        // A set just created has no instance to list.
                        *known = Some(Vec::new());
                        (id, add.into_iter().collect())
                    }
                    // Created by another caller first: deployed to like any existing set.
                    None => match self.describe_set(plan).await? {
                        Some(id) => (id, phases(plan, known.insert(self.set_instances(plan).await?))),
                        None => {
                            let summary = format!(
                                "Stack set `{}` was created and deleted by another caller meanwhile: reading it again in the next step",
                                plan.name
                            );
                            return Ok(Some(in_progress(s, summary, None)));
                        }
                    },
                }
            }
            (_, Some(id)) => (id, phases(plan, known.insert(self.set_instances(plan).await?))),
        };
        let mut chosen = chosen.into_iter();
        let Some(first) = chosen.next() else {
            // Not so far: an existing set always has a phase to run.
            return Ok(Some(SetOutcome::Succeeded {
                stack_set_id: id,
                operation_id: None,
                summary: format!("Stack set `{}`: nothing had to change", plan.name),
            }));
        };
        info!(stack_set = %plan.name, first = ?first, "phases chosen");
        *s = SetState {
            stack_set_id: id,
            phase: first,
            operation_id: None,
            blocked_by: None,
            next: chosen.collect(),
            last_operation: None,
        };
        Ok(None)
    }

    /// Our phase could not start for another operation: wait for it to end.
    async fn await_set_operation(
        &self,
        plan: &SetPlan,
        s: &mut SetState,
    ) -> Result<SetOutcome, DeployError> {
        match self.running_set_operation(plan).await? {
            Some(other) => {
                info!(stack_set = %plan.name, operation = %other, "waiting for another operation");
                s.blocked_by = Some(other.clone());
                Ok(blocked(plan, s, &other))
            }
            None => {
                // It ended between our call and the listing: call again in the next step.
                let summary = format!(
                    "another operation was running on stack set `{}`: trying again in the next step",
                    plan.name
                );
                Ok(in_progress(s, summary, None))
            }
        }
    }

    /// Every phase is done: the success, counting the last operation's instances; for a
    /// delete, the stack set deleted first once no instance is left.
    async fn finish_set(
        &self,
        plan: &SetPlan,
        s: &mut SetState,
    ) -> Result<SetOutcome, DeployError> {
        let counted = match &s.last_operation {
            Some(id) => counts(&self.set_operation_results(plan, id).await?),
            None => None,
        };
        let done = match (&counted, &s.last_operation) {
            (Some(counted), _) => format!("Stack set `{}`: {counted}", plan.name),
            (None, Some(id)) => format!(
                "Stack set `{}`: operation `{id}` SUCCEEDED with no instances to deploy",
                plan.name
            ),
            (None, None) => format!("Stack set `{}`: nothing had to change", plan.name),
        };
        let summary = match plan.action {
            SetAction::Delete => {
                let left = self.set_instances(plan).await?.len();
                if left > 0 {
                    format!("{done}; {left} instance(s) outside the targets remain, so the stack set is kept")
                } else if self.delete_set(plan).await? {
                    info!(stack_set = %plan.name, "stack set deleted");
                    format!("{done}; the stack set is deleted")
                } else {
                    return self.await_set_operation(plan, s).await;
                }
            }
            SetAction::Deploy | SetAction::Instances => done,
        };
        Ok(SetOutcome::Succeeded {
            stack_set_id: s.stack_set_id.clone(),
            operation_id: s.last_operation.clone(),
            summary,
        })
    }
}

/// The state of a job that has not read its stack set yet: an empty id makes the next step
/// start over.
fn unbegun(plan: &SetPlan) -> SetState {
    SetState {
        stack_set_id: String::new(),
        phase: match plan.action {
            SetAction::Deploy => Phase::Update,
            SetAction::Instances => Phase::Add,
            SetAction::Delete => Phase::Remove,
        },
        operation_id: None,
        blocked_by: None,
        next: Vec::new(),
        last_operation: None,
    }
}

/// Moves `s` to its next phase, not started; `false` when none is left.
fn next_phase(s: &mut SetState) -> bool {
    if s.next.is_empty() {
        return false;
    }
    s.phase = s.next.remove(0);
    s.operation_id = None;
    true
}

fn blocked(plan: &SetPlan, s: &SetState, other: &str) -> SetOutcome {
    let summary = format!(
        "waiting for operation `{other}` already running on stack set `{}` to end",
        plan.name
    );
    in_progress(s, summary, None)
}

fn configuration(message: String) -> SetOutcome {
    SetOutcome::Failed(Failure {
        stack_id: None,
        kind: FailureKind::Configuration,
        message,
        remedies: Vec::new(),
    })
}
