//! Where a group run stands ([`GroupState`]), small enough for a continuation token, and the
//! pure decision of what it does next ([`next`]): which stacks start, when the group turns to
//! undoing what it did, and when it is over.

use serde::{Deserialize, Serialize};

use crate::flight::Operation;

/// What the run is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Deploying the stacks in dependency order.
    #[serde(rename = "d")]
    Deploy,
    /// A stack failed: putting back what the run changed, in reverse dependency order.
    #[serde(rename = "u")]
    Undo,
    /// Deleting the stacks in reverse dependency order (`DELETE_ONLY`).
    #[serde(rename = "x")]
    Delete,
}

/// What a group does when one of its stacks fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnStackFailure {
    /// Put every stack the run changed back as it was.
    #[default]
    RollbackGroup,
    /// Leave every stack as it is.
    Stop,
}

/// What this run did to a stack, so that an undo knows what to put back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// Nothing (yet): no operation, or an update with no changes.
    #[serde(rename = "n")]
    None,
    /// The run created it.
    #[serde(rename = "c")]
    Created,
    /// The run updated it.
    #[serde(rename = "u")]
    Updated,
}

/// An operation on one stack, under way: the parts of an [`InFlight`](crate::InFlight) that the
/// group's plan does not already say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leg {
    /// What is followed.
    #[serde(rename = "o")]
    pub operation: Operation,
    /// The stack's id, or its name before it has one.
    #[serde(rename = "i")]
    pub stack_id: String,
    /// When the operation started, in seconds since the Unix epoch.
    #[serde(rename = "t")]
    pub started: i64,
    /// Steps in a row that ran out of time.
    #[serde(rename = "s", default, skip_serializing_if = "is_zero")]
    pub stalls: u8,
    /// The template's resource count, for progress.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<u32>,
    /// Where the stack's drift check stands: under way, or what it found.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<crate::drift::Drift>,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

/// Where one stack of the group stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Member {
    /// Not started: waiting for the stacks it depends on, or for a free slot.
    #[serde(rename = "w")]
    Waiting,
    /// Being deployed (or deleted, under `DELETE_ONLY`).
    #[serde(rename = "r")]
    Running(Change, Leg),
    /// Deployed: created, updated, or unchanged.
    #[serde(rename = "d")]
    Deployed(Change),
    /// Its deploy (or delete) failed, after the run did this to it.
    #[serde(rename = "f")]
    Failed(Change),
    /// Never started, because another stack failed.
    #[serde(rename = "s")]
    Skipped,
    /// Being put back: updated to its recorded template, or deleted if the run created it.
    #[serde(rename = "b")]
    Undoing(Change, Leg),
    /// Updated back to its recorded template and parameters.
    #[serde(rename = "rb")]
    RolledBack,
    /// Deleted.
    #[serde(rename = "x")]
    Deleted,
    /// Created by the run but protected from deletion: left in place.
    #[serde(rename = "l")]
    Left,
    /// Its undo failed.
    #[serde(rename = "e")]
    UndoFailed,
}

/// A stack's result, as the output file and the summary name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StackResult {
    /// Created by the run.
    Created,
    /// Updated by the run.
    Updated,
    /// Needed no change.
    Unchanged,
    /// Failed (its deploy, delete or undo).
    Failed,
    /// Updated back as it was.
    RolledBack,
    /// Deleted.
    Deleted,
    /// Never started.
    Skipped,
    /// Left in place: protected from deletion.
    Left,
    /// Still under way or waiting (only while the run goes on).
    InProgress,
}

impl StackResult {
    /// As the output file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Updated => "UPDATED",
            Self::Unchanged => "UNCHANGED",
            Self::Failed => "FAILED",
            Self::RolledBack => "ROLLED_BACK",
            Self::Deleted => "DELETED",
            Self::Skipped => "SKIPPED",
            Self::Left => "LEFT",
            Self::InProgress => "IN_PROGRESS",
        }
    }
}

impl Member {
    /// The stack's result as things stand.
    pub fn result(&self) -> StackResult {
        match self {
            Self::Deployed(Change::Created) => StackResult::Created,
            Self::Deployed(Change::Updated) => StackResult::Updated,
            Self::Deployed(Change::None) => StackResult::Unchanged,
            Self::Failed(_) | Self::UndoFailed => StackResult::Failed,
            Self::RolledBack => StackResult::RolledBack,
            Self::Deleted => StackResult::Deleted,
            Self::Skipped => StackResult::Skipped,
            Self::Left => StackResult::Left,
            Self::Waiting | Self::Running(..) | Self::Undoing(..) => StackResult::InProgress,
        }
    }

    /// Whether an operation on it is under way.
    pub fn is_running(&self) -> bool {
        matches!(self, Self::Running(..) | Self::Undoing(..))
    }
}

/// A group run, as it travels from step to step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupState {
    /// What names the run: the job or execution that started it. Every stack's request token
    /// derives from it, so that the continuations of one run (new jobs, each of them) start
    /// nothing twice.
    #[serde(rename = "j")]
    pub run: String,
    /// A digest of the group's manifest: a state is only ever resumed with the group it ran.
    #[serde(rename = "h")]
    pub digest: String,
    /// What the run is doing.
    #[serde(rename = "p")]
    pub phase: Phase,
    /// When the run started, in seconds since the Unix epoch.
    #[serde(rename = "t")]
    pub started: i64,
    /// Every stack, in the manifest's order.
    #[serde(rename = "m")]
    pub members: Vec<Member>,
    /// Why stacks failed, by index: the failing stack's own reasons first.
    #[serde(rename = "f", default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<(usize, String)>,
    /// What the summary must also say (a `NoEcho` value an undo could not put back).
    #[serde(rename = "n", default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Steps in a row that ran out of time before their calls returned.
    #[serde(rename = "s", default, skip_serializing_if = "is_zero")]
    pub stalls: u8,
    /// What every stack id of the run starts with (`arn:…:stack/`), said once: a leg then
    /// keeps only its stack's unique part (`~` and the id's last part), so that the state
    /// stays small however long the stack names.
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

impl GroupState {
    /// A run named `run` of `count` stacks, none started, in `phase`.
    pub fn new(
        run: impl Into<String>,
        digest: impl Into<String>,
        phase: Phase,
        count: usize,
        started: i64,
    ) -> Self {
        Self {
            run: run.into(),
            digest: digest.into(),
            phase,
            started,
            members: vec![Member::Waiting; count],
            failures: Vec::new(),
            notes: Vec::new(),
            stalls: 0,
            arn: None,
        }
    }

    /// Shortens every leg's stack id to its unique part where it shares the run's prefix.
    pub fn compact(&mut self) {
        for member in &mut self.members {
            let (Member::Running(_, leg) | Member::Undoing(_, leg)) = member else {
                continue;
            };
            let Some((head, tail)) = leg.stack_id.split_once(":stack/") else {
                continue;
            };
            let Some((_, unique)) = tail.rsplit_once('/') else {
                continue;
            };
            let prefix = format!("{head}:stack/");
            let shared = self.arn.get_or_insert_with(|| prefix.clone());
            if *shared == prefix {
                leg.stack_id = format!("~{unique}");
            }
        }
    }

    /// A leg's full stack id, for the stack named `stack_name`.
    pub fn stack_id(&self, leg: &Leg, stack_name: &str) -> String {
        match (leg.stack_id.strip_prefix('~'), &self.arn) {
            (Some(unique), Some(prefix)) => format!("{prefix}{stack_name}/{unique}"),
            _ => leg.stack_id.clone(),
        }
    }

    /// Shortens the failure messages and notes, longest first, until the state's JSON is at most `max`
    /// characters; `false` when even empty messages leave it longer.
    pub fn fit(&mut self, max: usize) -> bool {
        loop {
            let len = serde_json::to_string(self)
                .map(|s| s.chars().count())
                .unwrap_or(usize::MAX);
            if len <= max {
                return true;
            }
            let longest = self
                .failures
                .iter_mut()
                .map(|(_, m)| m)
                .chain(self.notes.iter_mut())
                .max_by_key(|m| m.len());
            let Some(longest) = longest else {
                return false;
            };
            let chars = longest.chars().count();
            if chars <= 3 {
                return false;
            }
            let keep = chars.saturating_sub(len - max + 3);
            *longest = format!("{}...", longest.chars().take(keep).collect::<String>());
        }
    }
}
