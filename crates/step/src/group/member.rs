//! One stack of a group run, one move at a time: its deploy started (outputs read into its
//! parameters, the stack recorded first) or followed; its delete; its undo from the record.

use aws_sdk_cloudformation::types::Stack;
use cfn_deployer_artifact::{self as artifact, ArtifactError, Location};
use cfn_deployer_engine::group::{member_token, Change, Member, Phase, Recorded};
use cfn_deployer_engine::status::{on_start, StartStep};
use cfn_deployer_engine::{
    Action, Inputs, Outcome, Plan, Prepared, StepError as EngineError, MAX_TEMPLATE_BODY,
};
use cfn_deployer_params::{ParamValue, Params};
use tracing::info;

use crate::group::moved::{merged, Moved};
use crate::group::run::Run;
use crate::prepare::Preparer;
use crate::step::Front;

/// The status word an engine summary opens with: `UPDATE_IN_PROGRESS: …`.
fn status_of(summary: &str) -> String {
    summary
        .split(':')
        .next()
        .unwrap_or(summary)
        .trim()
        .to_owned()
}

/// The largest run record read back.
const MAX_RECORD: u64 = 2 * 1024 * 1024;

/// A stack's recorded template and parameters, put back by an update.
struct Putback {
    prepared: Prepared,
}

impl Inputs for Putback {
    type Error = std::convert::Infallible;

    async fn prepare(&self, _plan: &Plan) -> Result<Prepared, Self::Error> {
        Ok(self.prepared.clone())
    }
}

impl<'a, F: Front + 'a> Run<'a, F> {
    fn token(&self, i: usize, suffix: &str) -> String {
        member_token(&self.state.run, &self.manifest.stacks[i].id, suffix)
    }

    /// The stack's settings, with the outputs it reads filled in.
    async fn resolved(&self, i: usize) -> Result<Params, String> {
        let entry = &self.manifest.stacks[i];
        let mut params = entry.params.clone();
        for (name, reference) in &entry.outputs {
            let upstream = &self.manifest.stacks[reference.stack];
            let cached = self.lock_outputs().get(&reference.stack).cloned();
            let outputs = match cached {
                Some(outputs) => outputs,
                None => {
                    // In the upstream stack's own account and Region.
                    let stack = self.deployers[reference.stack]
                        .describe(&upstream.params.stack)
                        .await
                        .map_err(|e| e.to_string())?;
                    let outputs = stack
                        .as_ref()
                        .map(cfn_deployer_engine::outputs)
                        .unwrap_or_default();
                    self.lock_outputs().insert(reference.stack, outputs.clone());
                    outputs
                }
            };
            let Some(value) = outputs.get(&reference.key) else {
                let known: Vec<&str> = outputs.keys().map(String::as_str).collect();
                return Err(format!(
                    "parameter `{name}` reads {{Output: {}.{}}}, but stack `{}` has no output `{}` (its outputs: {}): add the output to its template, or correct the reference in the manifest",
                    upstream.id, reference.key, upstream.params.stack, reference.key,
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                ));
            };
            params
                .parameter_overrides
                .insert(name.clone(), ParamValue::Literal(value.clone()));
        }
        Ok(params)
    }

    fn lock_outputs(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        std::collections::HashMap<usize, std::collections::BTreeMap<String, String>>,
    > {
        self.outputs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Where stack `i`'s record lies: under the staging bucket's `cfn-deployer/groups/`.
    fn record_location(&self, i: usize) -> Option<Location> {
        let bucket = self.stepper.settings().staging_bucket.as_ref()?;
        Some(Location {
            bucket: bucket.clone(),
            key: format!("cfn-deployer/groups/{}.json", self.token(i, "")),
        })
    }

    /// Records a settled stack before the run may update it, once: a record already there was
    /// made before this run's update began, and must not be replaced by what it made.
    async fn record(&self, i: usize, stack: &Stack) -> Result<(), String> {
        let Some(location) = self.record_location(i) else {
            return Ok(());
        };
        if on_start(
            &stack
                .stack_status()
                .cloned()
                .unwrap_or_else(|| "UNKNOWN".into()),
        ) != StartStep::Update
        {
            return Ok(());
        }
        let s3 = self.stepper.s3();
        match artifact::read_object(s3, &location, MAX_RECORD).await {
            Ok(_) => return Ok(()),
            Err(ArtifactError::ObjectNotFound { .. }) => {}
            Err(e) => return Err(format!("the run record {location} could not be read: {e}")),
        }
        let recorded = self.deployers[i]
            .record(stack)
            .await
            .map_err(|e| e.to_string())?;
        let body = serde_json::to_vec(&recorded).unwrap_or_default();
        artifact::put_object(s3, &location, body, None)
            .await
            .map_err(|e| format!("the stack could not be recorded before its update, at {location} ({e}): check that the deployer may write to CFN_DEPLOYER_STAGING_BUCKET"))?;
        info!(stack = %recorded.stack_name, %location, "stack recorded before its update");
        Ok(())
    }

    /// Starts stack `i`'s move for the run's phase.
    pub(crate) async fn start(&self, i: usize) -> Moved {
        match self.state.phase {
            Phase::Deploy => self.deploy(i, None, Change::None).await,
            Phase::Delete => self.delete(i, None).await,
            Phase::Undo => self.undo(i, None).await,
        }
    }

    /// Follows stack `i`'s operation under way.
    pub(crate) async fn follow(&self, i: usize) -> Moved {
        match &self.state.members[i] {
            Member::Running(_, leg) if self.state.phase == Phase::Delete => {
                self.delete(i, Some(leg.clone())).await
            }
            Member::Running(change, leg) => self.deploy(i, Some(leg.clone()), *change).await,
            Member::Undoing(_, leg) => self.undo(i, Some(leg.clone())).await,
            other => Moved::to(other.clone()),
        }
    }

    async fn deploy(
        &self,
        i: usize,
        leg: Option<cfn_deployer_engine::group::Leg>,
        change: Change,
    ) -> Moved {
        let deployer = &self.deployers[i];
        // Something may start in this move: a first one, or what waited for the stack.
        let starts = leg
            .as_ref()
            .is_none_or(|l| l.operation == cfn_deployer_engine::Operation::Wait);
        let params = if starts {
            match self.resolved(i).await {
                Ok(params) => params,
                Err(why) => return Moved::failed(Member::Failed(change), why),
            }
        } else {
            self.manifest.stacks[i].params.clone()
        };
        let plan = params.plan(&self.token(i, ""));
        if starts {
            match deployer.describe(&plan.stack_name).await {
                Ok(Some(stack)) => {
                    if let Err(why) = self.record(i, &stack).await {
                        return Moved::failed(Member::Failed(change), why);
                    }
                }
                Ok(None) => {}
                Err(e) => return Moved::failed(Member::Failed(change), e.to_string()),
            }
        }
        let inputs = Preparer::new(&self.files, &params, &self.stepper.stager);
        let flight = leg.map(|l| l.flight(&plan, self.state.stack_id(&l, &plan.stack_name)));
        match deployer.step(&plan, &inputs, flight.as_ref()).await {
            Ok(Outcome::InProgress {
                flight, summary, ..
            }) => Moved {
                status: Some(status_of(&summary)),
                ..Moved::to(Member::Running(
                    merged(change, flight.operation),
                    cfn_deployer_engine::group::Leg::of(&flight),
                ))
            },
            Ok(Outcome::Succeeded { drift, .. }) => Moved {
                // A stack deployed over drift, or without knowing it, says so in the summary.
                note: drift
                    .as_ref()
                    .and_then(|v| v.note())
                    .map(|n| format!("`{}`: {n}", self.manifest.stacks[i].id)),
                ..Moved::to(Member::Deployed(change))
            },
            Ok(Outcome::Failed(f)) => {
                Moved::failed(Member::Failed(change), self.front.words().message(&f))
            }
            Err(EngineError::Deploy(e)) => Moved::failed(Member::Failed(change), e.to_string()),
            Err(EngineError::Inputs(e)) => Moved::failed(Member::Failed(change), e.to_string()),
        }
    }

    async fn delete(&self, i: usize, leg: Option<cfn_deployer_engine::group::Leg>) -> Moved {
        let mut plan = self.manifest.stacks[i].params.plan(&self.token(i, ""));
        plan.action = Action::Delete;
        let flight = leg.map(|l| l.flight(&plan, self.state.stack_id(&l, &plan.stack_name)));
        let outcome = self.deployers[i]
            .step(
                &plan,
                &Putback {
                    prepared: Prepared::default(),
                },
                flight.as_ref(),
            )
            .await;
        match outcome {
            Ok(Outcome::InProgress {
                flight, summary, ..
            }) => Moved {
                status: Some(status_of(&summary)),
                ..Moved::to(Member::Running(
                    Change::None,
                    cfn_deployer_engine::group::Leg::of(&flight),
                ))
            },
            Ok(Outcome::Succeeded { .. }) => Moved::to(Member::Deleted),
            Ok(Outcome::Failed(f)) => {
                Moved::failed(Member::Failed(Change::None), self.front.words().message(&f))
            }
            Err(EngineError::Deploy(e)) => {
                Moved::failed(Member::Failed(Change::None), e.to_string())
            }
            Err(EngineError::Inputs(never)) => match never {},
        }
    }

    /// Puts stack `i` back: updated to its record if the run updated it, deleted if the run
    /// created it (left in place, and named, if it is protected).
    async fn undo(&self, i: usize, leg: Option<cfn_deployer_engine::group::Leg>) -> Moved {
        let entry = &self.manifest.stacks[i];
        let change = match &self.state.members[i] {
            Member::Deployed(c) | Member::Failed(c) | Member::Undoing(c, _) => *c,
            _ => Change::None,
        };
        let failed_here = self.state.failures.iter().any(|(f, _)| *f == i);
        let deployer = &self.deployers[i];
        let mut plan = entry.params.plan(&self.token(i, "-undo"));
        // An undo puts back what the run changed: drift is not its business.
        plan.drift_check = cfn_deployer_engine::drift::DriftCheck::Off;
        plan.revert_drift = false;
        let mut putback = Putback {
            prepared: Prepared::default(),
        };
        let mut note = None;
        if change == Change::Created {
            plan.action = Action::Delete;
            plan.termination_protection = None;
            if leg.is_none() {
                match deployer.describe(&plan.stack_name).await {
                    Ok(Some(stack)) if stack.enable_termination_protection() == Some(true) => {
                        return Moved {
                            note: Some(format!("`{}` ({}) was created by this run but has termination protection, so it is left in place: delete it by hand if it is not wanted", entry.id, plan.stack_name)),
                            ..Moved::to(if failed_here { Member::Failed(Change::None) } else { Member::Left })
                        };
                    }
                    Ok(_) => {}
                    Err(e) => return Moved::failed(Member::UndoFailed, e.to_string()),
                }
            }
        } else if leg
            .as_ref()
            .is_none_or(|l| l.operation == cfn_deployer_engine::Operation::Wait)
        {
            // The record is read only where an update may start from it: following an update
            // under way needs none.
            let Some(location) = self.record_location(i) else {
                return Moved::failed(
                    Member::UndoFailed,
                    "no run record: CFN_DEPLOYER_STAGING_BUCKET is unset",
                );
            };
            let recorded: Recorded = match artifact::read_object(self.stepper.s3(), &location, MAX_RECORD).await {
                Ok((bytes, _)) => match serde_json::from_slice(&bytes) {
                    Ok(r) => r,
                    Err(e) => return Moved::failed(Member::UndoFailed, format!("its run record {location} is unreadable ({e}), so it could not be put back")),
                },
                Err(e) => return Moved::failed(Member::UndoFailed, format!("its run record {location} could not be read ({e}), so it could not be put back")),
            };
            let staged = if recorded.template.len() > MAX_TEMPLATE_BODY {
                match self
                    .stepper
                    .stager
                    .stage(&plan, recorded.template.clone(), &location.to_string())
                    .await
                {
                    Ok(url) => Some(url),
                    Err(e) => return Moved::failed(Member::UndoFailed, e.to_string()),
                }
            } else {
                None
            };
            putback.prepared = recorded.prepared(staged);
            plan.capabilities
                .extend(recorded.capabilities.iter().cloned());
            plan.capabilities.sort();
            plan.capabilities.dedup();
            let kept: Vec<&str> = recorded
                .secret
                .iter()
                .filter(|k| {
                    entry.params.parameter_overrides.contains_key(*k)
                        || entry.outputs.contains_key(*k)
                })
                .map(String::as_str)
                .collect();
            if leg.is_none() && !kept.is_empty() {
                note = Some(format!("`{}` keeps the new value of NoEcho parameter {}: CloudFormation does not read such values back, so the undo could not restore the old", entry.id, kept.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")));
            }
        }
        let flight = leg.map(|l| l.flight(&plan, self.state.stack_id(&l, &plan.stack_name)));
        let done = || match (change, failed_here) {
            (Change::Created, true) => Moved {
                note: Some(format!(
                    "`{}` ({}), created by this run, is deleted",
                    entry.id, plan.stack_name
                )),
                ..Moved::to(Member::Failed(Change::None))
            },
            (Change::Created, false) => Moved::to(Member::Deleted),
            _ => Moved::to(Member::RolledBack),
        };
        let moved = match deployer.step(&plan, &putback, flight.as_ref()).await {
            Ok(Outcome::InProgress {
                flight, summary, ..
            }) => Moved {
                status: Some(status_of(&summary)),
                ..Moved::to(Member::Undoing(
                    change,
                    cfn_deployer_engine::group::Leg::of(&flight),
                ))
            },
            Ok(Outcome::Succeeded { .. }) => done(),
            Ok(Outcome::Failed(f)) => Moved::failed(
                Member::UndoFailed,
                format!("its undo failed: {}", self.front.words().message(&f)),
            ),
            Err(EngineError::Deploy(e)) => {
                Moved::failed(Member::UndoFailed, format!("its undo failed: {e}"))
            }
            Err(EngineError::Inputs(never)) => match never {},
        };
        Moved {
            note: moved.note.or(note),
            ..moved
        }
    }
}
