//! Where one move of a group run left a stack, and what the run has done to it: the small
//! facts a move hands back to the run.

use cfn_deployer_engine::group::{Change, Member};

/// Where a move left one stack.
#[derive(Debug)]
pub(crate) struct Moved {
    pub(crate) member: Member,
    pub(crate) status: Option<String>,
    pub(crate) failure: Option<String>,
    pub(crate) note: Option<String>,
}

impl Moved {
    pub(crate) fn to(member: Member) -> Self {
        Self {
            member,
            status: None,
            failure: None,
            note: None,
        }
    }

    pub(crate) fn failed(member: Member, why: impl Into<String>) -> Self {
        Self {
            failure: Some(why.into()),
            ..Self::to(member)
        }
    }
}

/// What this run did to a stack, once the engine says which operation it follows.
pub(crate) fn merged(change: Change, operation: cfn_deployer_engine::Operation) -> Change {
    use cfn_deployer_engine::Operation as O;
    match (change, operation) {
        (Change::None, O::Create) => Change::Created,
        (Change::None, O::Update) => Change::Updated,
        (kept, _) => kept,
    }
}
