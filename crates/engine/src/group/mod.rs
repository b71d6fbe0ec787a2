//! Stack groups, as far as they are pure: the dependency graph ([`Graph`]), where a run
//! stands ([`GroupState`]), what it does next ([`next`]), and how its progress and end read.
//! The operations themselves are the engine's one-stack steps; the step layer runs them.

mod graph;
mod record;
mod schedule;
mod state;

pub use graph::{Graph, GraphError};
pub use record::Recorded;
pub use schedule::{next, Next};
pub use state::{Change, GroupState, Leg, Member, OnStackFailure, Phase, StackResult};

use sha2::{Digest as _, Sha256};

use crate::flight::InFlight;
use crate::plan::{request_token, Plan};
use crate::text::fit_lines;

/// The most stacks a group holds.
pub const MAX_STACKS: usize = 50;
/// The most stacks under way at once.
pub const MAX_CONCURRENCY: usize = 10;
/// Stacks under way at once when the manifest says nothing.
pub const DEFAULT_CONCURRENCY: usize = 4;

impl Leg {
    /// The leg of an operation under way.
    pub fn of(flight: &InFlight) -> Self {
        Self {
            operation: flight.operation,
            stack_id: flight.stack_id.clone(),
            started: flight.started,
            stalls: flight.stalls,
            resources: flight.resources,
            drift: flight.drift.clone(),
        }
    }

    /// The operation as the engine follows it, on the stack `stack_id`, for `plan`.
    pub fn flight(&self, plan: &Plan, stack_id: String) -> InFlight {
        let mut flight = InFlight::new(plan, stack_id, self.operation);
        flight.started = self.started;
        flight.stalls = self.stalls;
        flight.resources = self.resources;
        flight.drift = self.drift.clone();
        flight
    }
}

/// The idempotency token of one stack's operation in a group run started by `request` (a job,
/// an execution): the same for every delivery, distinct for each stack and for its undo
/// (`suffix`). When the plain form passes CloudFormation's 128 characters, the request's part
/// becomes a digest of it, so that two requests never share a token.
pub fn member_token(request: &str, id: &str, suffix: &str) -> String {
    let plain = request_token(&format!("{request}-{id}{suffix}"));
    if plain.len() < 128 {
        return plain;
    }
    let digest: String = Sha256::digest(request.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    request_token(&format!("{digest}-{id}{suffix}"))
}

/// One line on a running group, within `max` characters: how many stacks are done, then each
/// stack under way with its latest status (`status[i]`), then each one waiting and for what.
pub fn progress(
    graph: &Graph,
    state: &GroupState,
    status: &[Option<String>],
    max: usize,
) -> String {
    let n = graph.len();
    let (done, verb) = match state.phase {
        Phase::Deploy => (
            state
                .members
                .iter()
                .filter(|m| matches!(m, Member::Deployed(_)))
                .count(),
            "done",
        ),
        Phase::Delete => (
            state
                .members
                .iter()
                .filter(|m| matches!(m, Member::Deleted))
                .count(),
            "deleted",
        ),
        Phase::Undo => (
            state
                .members
                .iter()
                .filter(|m| matches!(m, Member::RolledBack | Member::Deleted | Member::Left))
                .count(),
            "put back",
        ),
    };
    let head = match state.phase {
        Phase::Undo => {
            let failed: Vec<&str> = (0..n)
                .filter(|&i| matches!(state.members[i], Member::Failed(_)))
                .map(|i| graph.id(i))
                .collect();
            format!(
                "{} failed: undoing the group; {done} put back",
                failed.join(", ")
            )
        }
        _ => format!("{done} of {n} stacks {verb}"),
    };
    let mut lines = Vec::new();
    for i in 0..n {
        let id = graph.id(i);
        let now = status.get(i).cloned().flatten();
        match &state.members[i] {
            Member::Running(..) | Member::Undoing(..) => {
                lines.push(format!("{id} {}", now.unwrap_or_else(|| "starting".into())))
            }
            Member::Failed(_) if state.phase != Phase::Undo => lines.push(format!("{id} FAILED")),
            Member::Waiting if state.phase == Phase::Deploy => {
                let on: Vec<&str> = graph
                    .deps(i)
                    .iter()
                    .filter(|&&d| !matches!(state.members[d], Member::Deployed(_)))
                    .map(|&d| graph.id(d))
                    .collect();
                lines.push(if on.is_empty() {
                    format!("{id} waiting for a free slot")
                } else {
                    format!("{id} waiting for {}", on.join(", "))
                });
            }
            _ => {}
        }
    }
    fit_lines(
        head + "; ",
        &lines,
        max,
        "; ",
        |k| format!("and {k} more"),
        true,
    )
    .trim_end_matches("; ")
    .to_owned()
}

/// The summary of a group run that is over: each stack with its result, and where it lies
/// when `places` names a place for it (another account or Region), within `max` characters.
pub fn verdict(graph: &Graph, state: &GroupState, places: &[Option<String>], max: usize) -> String {
    let n = graph.len();
    let count = |r: StackResult| state.members.iter().filter(|m| m.result() == r).count();
    let head = if state.phase == Phase::Delete {
        format!("{} of {n} stacks deleted", count(StackResult::Deleted))
    } else {
        let changed = count(StackResult::Created) + count(StackResult::Updated);
        format!(
            "{n} stacks: {changed} changed, {} unchanged",
            count(StackResult::Unchanged)
        )
    };
    let lines: Vec<String> = (0..n)
        .map(|i| {
            let result = state.members[i].result().as_str();
            match places.get(i).and_then(Option::as_deref) {
                Some(place) => format!("{} {result} in {place}", graph.id(i)),
                None => format!("{} {result}", graph.id(i)),
            }
        })
        .chain(state.notes.iter().cloned())
        .collect();
    fit_lines(
        head + ": ",
        &lines,
        max,
        ", ",
        |k| format!("and {k} more"),
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flight::Operation;

    fn graph() -> Graph {
        crate::group::graph::of(&[
            ("network", &[]),
            ("data", &["network"]),
            ("api", &["data"]),
            ("web", &["api"]),
            ("ops", &[]),
        ])
        .expect("a graph")
    }

    #[test]
    fn progress_says_what_is_done_running_and_waiting() {
        let leg = Leg {
            operation: Operation::Update,
            stack_id: "x".into(),
            started: 0,
            stalls: 0,
            resources: None,
            drift: None,
        };
        let state = GroupState {
            members: vec![
                Member::Deployed(Change::Updated),
                Member::Deployed(Change::None),
                Member::Running(Change::Updated, leg.clone()),
                Member::Waiting,
                Member::Deployed(Change::Created),
            ],
            ..GroupState::new("job", "h", Phase::Deploy, 5, 0)
        };
        let status = vec![
            None,
            None,
            Some("UPDATE_IN_PROGRESS".to_owned()),
            None,
            None,
        ];
        assert_eq!(
            progress(&graph(), &state, &status, 2048),
            "3 of 5 stacks done; api UPDATE_IN_PROGRESS; web waiting for api"
        );
        let short = progress(&graph(), &state, &status, 40);
        assert!(short.chars().count() <= 40, "{short}");
    }

    #[test]
    fn member_tokens_are_distinct_and_fit() {
        let job = "11111111-abcd-1111-abcd-111111abcdef";
        assert_eq!(
            member_token(job, "api", ""),
            format!("cfn-deployer-{job}-api")
        );
        assert_ne!(
            member_token(job, "api", ""),
            member_token(job, "api", "-undo")
        );
        let long = "e".repeat(80);
        let a = member_token(&long, &"i".repeat(64), "-undo");
        let b = member_token(&format!("{}f", "e".repeat(79)), &"i".repeat(64), "-undo");
        assert!(a.len() <= 128 && b.len() <= 128, "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn a_verdict_names_every_result() {
        let state = GroupState {
            members: vec![
                Member::RolledBack,
                Member::Deleted,
                Member::Failed(Change::None),
                Member::Skipped,
                Member::Left,
            ],
            ..GroupState::new("job", "h", Phase::Undo, 5, 0)
        };
        let text = verdict(&graph(), &state, &[], 2048);
        assert_eq!(
            text,
            "5 stacks: 0 changed, 0 unchanged: network ROLLED_BACK, data DELETED, api FAILED, web SKIPPED, ops LEFT"
        );
        // A stack in another account or Region is said to be there.
        let places = [Some("222222222222 / eu-west-1".to_owned()), None];
        let text = verdict(&graph(), &state, &places, 2048);
        assert!(
            text.contains("network ROLLED_BACK in 222222222222 / eu-west-1, data DELETED,"),
            "{text}"
        );
    }
}
