//! One step of a group run: the stacks under way followed, the next ones started as the
//! schedule says, polled within the front's pace and budget, and the run's end reported.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use cfn_deployer_engine::group::{self, next, progress, verdict, GroupState, Member, Next, Phase};
use cfn_deployer_engine::{now_epoch, Deployer, FailureKind, Pace};
use cfn_deployer_params::{GroupRequest, Manifest};
use futures_util::future::join_all;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::ended::{Ended, GroupReport, GroupStack};
use crate::group::moved::Moved;
use crate::step::{Front, Stepper};

/// The most steps in a row that may run out of time before the run gives up.
const MAX_STALLS: u8 = 3;

/// A group run within one step.
pub(crate) struct Run<'a, F: Front + 'a> {
    pub(crate) stepper: &'a Stepper,
    pub(crate) front: &'a F,
    pub(crate) arrival: &'a F::Arrival,
    pub(crate) files: F::Files<'a>,
    pub(crate) request: &'a GroupRequest,
    pub(crate) manifest: Manifest,
    pub(crate) state: GroupState,
    /// Each stack's latest status, for the progress line.
    pub(crate) status: Vec<Option<String>>,
    /// Outputs read this step, by stack index.
    pub(crate) outputs: Mutex<HashMap<usize, BTreeMap<String, String>>>,
    /// Each stack's deployer, in its own account and Region.
    pub(crate) deployers: Vec<Deployer>,
}

impl<'a, F: Front + 'a> Run<'a, F> {
    /// A run of `manifest` as `state` left it.
    pub(crate) fn new(
        stepper: &'a Stepper,
        front: &'a F,
        arrival: &'a F::Arrival,
        request: &'a GroupRequest,
        manifest: Manifest,
        state: GroupState,
        deployers: Vec<Deployer>,
    ) -> Self {
        let n = manifest.stacks.len();
        Self {
            stepper,
            front,
            arrival,
            files: front.files(arrival),
            request,
            manifest,
            state,
            status: vec![None; n],
            outputs: Mutex::default(),
            deployers,
        }
    }

    fn apply(&mut self, i: usize, moved: Moved) {
        if let Some(status) = moved.status {
            self.status[i] = Some(status);
        }
        if let Some(failure) = moved.failure {
            warn!(stack = %self.manifest.stacks[i].params.stack, id = %self.manifest.stacks[i].id, %failure, "stack of the group failed");
            self.state.failures.push((i, failure));
        }
        if let Some(note) = moved.note {
            self.state.notes.push(note);
        }
        if self.state.members[i] != moved.member {
            info!(id = %self.manifest.stacks[i].id, stack = %self.manifest.stacks[i].params.stack, result = moved.member.result().as_str(), "group stack moved on");
        }
        self.state.members[i] = moved.member;
    }

    /// Follows every stack under way once, then starts what the schedule allows, until
    /// nothing more can start: `Some(succeeded)` once the run is over.
    async fn round(&mut self) -> Option<bool> {
        let running: Vec<usize> = (0..self.state.members.len())
            .filter(|&i| self.state.members[i].is_running())
            .collect();
        let this = &*self;
        let moved = join_all(running.iter().map(|&i| this.follow(i))).await;
        for (i, m) in running.into_iter().zip(moved) {
            self.apply(i, m);
        }
        loop {
            let max = self.manifest.max_concurrency;
            match next(
                &self.manifest.graph,
                &self.state,
                self.manifest.on_failure,
                max,
            ) {
                Next::Start(list) => {
                    let this = &*self;
                    let moved = join_all(list.iter().map(|&i| this.start(i))).await;
                    for (i, m) in list.into_iter().zip(moved) {
                        self.apply(i, m);
                    }
                }
                Next::Poll => return None,
                Next::Undo => {
                    info!("a stack of the group failed: undoing what the run changed");
                    self.state.phase = Phase::Undo;
                }
                Next::Over { succeeded } => return Some(succeeded),
            }
        }
    }

    /// Rounds, polled at `pace`, within `budget`.
    pub(crate) async fn advance(mut self, pace: Pace, budget: Option<Duration>) -> Ended {
        let until = budget.map(|b| Instant::now() + b);
        let stop_polling = Instant::now() + pace.poll_within;
        let before = self.state.clone();
        let work = async {
            loop {
                if let Some(succeeded) = self.round().await {
                    return Some(succeeded);
                }
                let next = Instant::now() + pace.poll_interval;
                let too_late =
                    next > stop_polling || until.is_some_and(|u| next + pace.poll_interval > u);
                if too_late {
                    return None;
                }
                tokio::time::sleep_until(next).await;
            }
        };
        let over = match budget {
            None => work.await,
            Some(b) => match tokio::time::timeout(b, work).await {
                Ok(over) => over,
                Err(_) => return self.paused(before),
            },
        };
        self.state.stalls = 0;
        match over {
            Some(succeeded) => self.finish(succeeded).await,
            None => self.in_progress(),
        }
    }

    /// A step that ran out of time: resume where it started, or give up.
    fn paused(self, mut before: GroupState) -> Ended {
        before.stalls = before.stalls.saturating_add(1);
        if before.stalls >= MAX_STALLS {
            return Ended::Failed {
                kind: FailureKind::Deploy,
                message: format!("The stack group made no progress in {MAX_STALLS} steps in a row: each ran out of time before its calls to CloudFormation returned; {}", (self.front.words().remedy)(cfn_deployer_engine::Remedy::MoreTime)),
                stack_id: None,
                name: None,
            };
        }
        warn!(
            stalls = before.stalls,
            "time limit near: handing back the group's state"
        );
        Ended::GroupInProgress {
            summary: "paused before the time limit; continuing".into(),
            percent: None,
            stack_id: None,
            state: before,
        }
    }

    fn in_progress(mut self) -> Ended {
        let n = self.manifest.stacks.len().max(1);
        let done = self
            .state
            .members
            .iter()
            .filter(|m| !m.is_running() && !matches!(m, Member::Waiting))
            .count();
        let stack_id = self.state.members.iter().find_map(|m| match m {
            Member::Running(_, leg) | Member::Undoing(_, leg)
                if leg.stack_id.starts_with("arn:") =>
            {
                Some(leg.stack_id.clone())
            }
            _ => None,
        });
        self.state.compact();
        Ended::GroupInProgress {
            summary: progress(&self.manifest.graph, &self.state, &self.status, 2048),
            percent: u8::try_from(done * 100 / n).ok(),
            stack_id,
            state: self.state,
        }
    }

    /// The run is over: every stack read once more, the report written, the end worded.
    async fn finish(mut self, succeeded: bool) -> Ended {
        for member in &mut self.state.members {
            if *member == Member::Waiting {
                *member = Member::Skipped;
            }
        }
        let reads = self
            .manifest
            .stacks
            .iter()
            .zip(&self.state.members)
            .zip(&self.deployers)
            .map(|((entry, member), deployer)| async move {
                let gone = matches!(member, Member::Deleted | Member::Skipped);
                let stack = if gone {
                    None
                } else {
                    deployer.describe(&entry.params.stack).await.ok().flatten()
                };
                let kept = matches!(member, Member::Deployed(_));
                GroupStack {
                    id: entry.id.clone(),
                    stack_name: entry.params.stack.clone(),
                    stack_id: stack.as_ref().and_then(|s| s.stack_id().map(str::to_owned)),
                    stack_status: stack
                        .as_ref()
                        .and_then(|s| s.stack_status().map(|st| st.as_str().to_owned())),
                    result: member.result(),
                    outputs: match (&stack, kept) {
                        (Some(s), true) => cfn_deployer_engine::outputs(s),
                        _ => BTreeMap::new(),
                    },
                }
            });
        let report = GroupReport {
            stacks: join_all(reads).await,
        };
        if let Err(e) = self
            .front
            .after_group(self.arrival, self.request, &report)
            .await
        {
            if succeeded {
                return Ended::from_error(&e);
            }
            warn!(error = %e, "the group's output file could not be written");
        }
        let graph = &self.manifest.graph;
        let places = join_all(
            self.manifest
                .stacks
                .iter()
                .map(|entry| self.stepper.place(&entry.params.target)),
        )
        .await;
        let summary = verdict(graph, &self.state, &places, 1500);
        if succeeded {
            info!(%summary, "stack group deployed");
            return Ended::GroupSucceeded { summary, report };
        }
        let failures: Vec<String> = self
            .state
            .failures
            .iter()
            .map(|(i, why)| {
                let place = match places.get(*i).and_then(Option::as_deref) {
                    Some(place) => format!(" in {place}"),
                    None => String::new(),
                };
                format!(
                    "Stack `{}` ({}){place} failed: {why}",
                    graph.id(*i),
                    self.manifest.stacks[*i].params.stack
                )
            })
            .collect();
        let undone = match (self.state.phase, self.manifest.on_failure) {
            (Phase::Undo, _) => " The group was undone: what resources did meanwhile (data written, messages sent) is not undone.",
            (Phase::Delete, _) => "",
            (_, group::OnStackFailure::Stop) => " OnStackFailure is STOP: nothing was undone.",
            (_, group::OnStackFailure::RollbackGroup) => " Nothing else had changed, so nothing was undone.",
        };
        let message = format!("{} Stack group: {summary}.{undone}", failures.join(" "));
        info!(%message, "stack group failed");
        Ended::Failed {
            kind: FailureKind::Deploy,
            message,
            stack_id: None,
            name: None,
        }
    }
}

/// A run named `run` (the job or execution that starts it) starting now.
pub(crate) fn fresh(run: &str, manifest: &Manifest, delete: bool) -> GroupState {
    let phase = if delete { Phase::Delete } else { Phase::Deploy };
    GroupState::new(
        run,
        manifest.digest.clone(),
        phase,
        manifest.stacks.len(),
        now_epoch(),
    )
}
