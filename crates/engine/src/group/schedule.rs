//! What a group run does next, decided from where its stacks stand alone: a pure function,
//! tested by tables.

use crate::group::graph::Graph;
use crate::group::state::{Change, GroupState, Member, OnStackFailure, Phase};

/// The run's next move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Start these stacks (their deploy, delete or undo, as the phase says).
    Start(Vec<usize>),
    /// Stacks are under way and none can start yet: poll them.
    Poll,
    /// A stack failed and the run changed others: undo them now.
    Undo,
    /// The run is over.
    Over {
        /// Whether every stack got what was asked.
        succeeded: bool,
    },
}

fn all_deployed(graph: &Graph, state: &GroupState, i: usize) -> bool {
    graph
        .deps(i)
        .iter()
        .all(|&d| matches!(state.members[d], Member::Deployed(_)))
}

fn dependents_gone(graph: &Graph, state: &GroupState, i: usize) -> bool {
    graph
        .dependents(i)
        .all(|j| matches!(state.members[j], Member::Deleted))
}

/// Whether `i` may be undone: none of the stacks that depend on it is still to be undone.
fn dependents_undone(graph: &Graph, state: &GroupState, i: usize) -> bool {
    graph.dependents(i).all(|j| {
        !matches!(
            state.members[j],
            Member::Deployed(Change::Created | Change::Updated)
                | Member::Failed(Change::Created)
                | Member::Undoing(..)
        )
    })
}

/// What to do next with at most `max` stacks under way at once.
pub fn next(graph: &Graph, state: &GroupState, policy: OnStackFailure, max: usize) -> Next {
    let members = &state.members;
    let running = members.iter().filter(|m| m.is_running()).count();
    let failed = members
        .iter()
        .any(|m| matches!(m, Member::Failed(_) | Member::UndoFailed));
    let free = max.saturating_sub(running);
    let ready: Vec<usize> = (0..members.len())
        .filter(|&i| match (state.phase, &members[i]) {
            // A failure starts nothing new; what is under way finishes.
            (Phase::Deploy, Member::Waiting) => !failed && all_deployed(graph, state, i),
            (Phase::Delete, Member::Waiting) => !failed && dependents_gone(graph, state, i),
            // Dependents first: a stack is put back once nothing that reads it is still new.
            (Phase::Undo, m) => m.to_undo() && dependents_undone(graph, state, i),
            _ => false,
        })
        .take(free)
        .collect();
    if !ready.is_empty() {
        return Next::Start(ready);
    }
    if running > 0 {
        return Next::Poll;
    }
    match state.phase {
        Phase::Deploy if failed => {
            let undo =
                policy == OnStackFailure::RollbackGroup && members.iter().any(Member::to_undo);
            if undo {
                Next::Undo
            } else {
                Next::Over { succeeded: false }
            }
        }
        Phase::Deploy | Phase::Delete => Next::Over { succeeded: !failed },
        // Whatever could be undone is: the run failed all the same.
        Phase::Undo => Next::Over { succeeded: false },
    }
}

impl Member {
    pub(crate) fn to_undo(&self) -> bool {
        matches!(
            self,
            Self::Deployed(Change::Created | Change::Updated) | Self::Failed(Change::Created)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flight::Operation;
    use crate::group::state::Leg;

    /// network ← data ← api, and network ← api.
    fn graph() -> Graph {
        crate::group::graph::of(&[
            ("network", &[]),
            ("data", &["network"]),
            ("api", &["data", "network"]),
        ])
        .expect("a graph")
    }

    fn leg() -> Leg {
        Leg {
            operation: Operation::Update,
            stack_id: "x".into(),
            started: 0,
            stalls: 0,
            resources: None,
            drift: None,
        }
    }

    fn state(phase: Phase, members: [Member; 3]) -> GroupState {
        GroupState {
            members: members.to_vec(),
            ..GroupState::new("job", "h", phase, 3, 0)
        }
    }

    /// A case: its name, the phase, the three stacks, the policy, the concurrency, the move.
    type Case = (
        &'static str,
        Phase,
        [Member; 3],
        OnStackFailure,
        usize,
        Next,
    );

    #[test]
    fn the_next_move_follows_the_table() {
        use Change::{Created as C, None as N, Updated as U};
        use Member::*;
        use OnStackFailure::{RollbackGroup as RG, Stop};
        let r = || Running(N, leg());
        let cases: Vec<Case> = vec![
            // Deploy: dependencies first, within the concurrency.
            (
                "first wave",
                Phase::Deploy,
                [Waiting, Waiting, Waiting],
                RG,
                4,
                Next::Start(vec![0]),
            ),
            (
                "second wave",
                Phase::Deploy,
                [Deployed(U), Waiting, Waiting],
                RG,
                4,
                Next::Start(vec![1]),
            ),
            (
                "waits for a running dependency",
                Phase::Deploy,
                [Deployed(U), r(), Waiting],
                RG,
                4,
                Next::Poll,
            ),
            (
                "no free slot",
                Phase::Deploy,
                [r(), Waiting, Waiting],
                RG,
                1,
                Next::Poll,
            ),
            (
                "unchanged counts as deployed",
                Phase::Deploy,
                [Deployed(N), Deployed(N), Waiting],
                RG,
                4,
                Next::Start(vec![2]),
            ),
            (
                "all done",
                Phase::Deploy,
                [Deployed(C), Deployed(N), Deployed(U)],
                RG,
                4,
                Next::Over { succeeded: true },
            ),
            // A failure: nothing new starts; what runs finishes; then undo or stop.
            (
                "failure lets the running finish",
                Phase::Deploy,
                [Deployed(U), r(), Failed(N)],
                RG,
                4,
                Next::Poll,
            ),
            (
                "failure then undo",
                Phase::Deploy,
                [Deployed(U), Failed(N), Waiting],
                RG,
                4,
                Next::Undo,
            ),
            (
                "a failed create is undone too",
                Phase::Deploy,
                [Deployed(N), Failed(C), Waiting],
                RG,
                4,
                Next::Undo,
            ),
            (
                "nothing to undo",
                Phase::Deploy,
                [Deployed(N), Failed(N), Waiting],
                RG,
                4,
                Next::Over { succeeded: false },
            ),
            (
                "stop undoes nothing",
                Phase::Deploy,
                [Deployed(U), Failed(N), Waiting],
                Stop,
                4,
                Next::Over { succeeded: false },
            ),
            // Undo: dependents first.
            (
                "undo the dependent first",
                Phase::Undo,
                [Deployed(U), Deployed(C), Failed(N)],
                RG,
                4,
                Next::Start(vec![1]),
            ),
            (
                "then what it read",
                Phase::Undo,
                [Deployed(U), RolledBack, Failed(N)],
                RG,
                4,
                Next::Start(vec![0]),
            ),
            (
                "undo waits for undoing dependents",
                Phase::Undo,
                [Deployed(U), Undoing(C, leg()), Failed(N)],
                RG,
                4,
                Next::Poll,
            ),
            (
                "undo over",
                Phase::Undo,
                [RolledBack, Deleted, Failed(N)],
                RG,
                4,
                Next::Over { succeeded: false },
            ),
            (
                "a failed undo still ends",
                Phase::Undo,
                [RolledBack, UndoFailed, Failed(N)],
                RG,
                4,
                Next::Over { succeeded: false },
            ),
            // Delete: dependents first; a failure starts nothing more.
            (
                "delete the dependents first",
                Phase::Delete,
                [Waiting, Waiting, Waiting],
                RG,
                4,
                Next::Start(vec![2]),
            ),
            (
                "then what they read",
                Phase::Delete,
                [Waiting, Waiting, Deleted],
                RG,
                4,
                Next::Start(vec![1]),
            ),
            (
                "all deleted",
                Phase::Delete,
                [Deleted, Deleted, Deleted],
                RG,
                4,
                Next::Over { succeeded: true },
            ),
            (
                "a refused delete stops the rest",
                Phase::Delete,
                [Waiting, Failed(N), Deleted],
                RG,
                4,
                Next::Over { succeeded: false },
            ),
        ];
        let g = graph();
        for (name, phase, members, policy, max, want) in cases {
            assert_eq!(
                next(&g, &state(phase, members), policy, max),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn independent_stacks_start_together_up_to_the_limit() {
        let ids: Vec<(String, Vec<String>)> = (0..6).map(|i| (format!("s{i}"), vec![])).collect();
        let g = Graph::new(&ids).expect("graph");
        let st = GroupState::new("job", "h", Phase::Deploy, 6, 0);
        assert_eq!(
            next(&g, &st, OnStackFailure::Stop, 4),
            Next::Start(vec![0, 1, 2, 3])
        );
    }
}
