//! What each front supplies in words: its vocabulary for the engine's remedies, how its user
//! runs the deploy again, and where its logs are. The step words every failure with them.

use cfn_deployer_engine::{Failure, Remedy};

/// A front's words.
#[derive(Debug, Clone, Copy)]
pub struct Words {
    /// What to do, for each of the engine's remedies, as the front's user would do it.
    pub remedy: fn(Remedy) -> &'static str,
    /// How the front's user deploys again, as a sentence starts: "Run the pipeline again".
    pub again: &'static str,
    /// Where the front's logs are: "the function's logs".
    pub logs: &'static str,
    /// What names one deploy in those logs: "the job id".
    pub id: &'static str,
}

impl Words {
    /// The failure's message with its remedies in these words.
    pub fn message(&self, failure: &Failure) -> String {
        failure.worded(self.remedy)
    }

    /// The message of a step that panicked: a bug, what it said, and how to report it.
    pub fn internal_error(&self, what: &str) -> String {
        format!(
            "cfn-deployer hit an internal error (a bug, not a problem with the stack or the pipeline): {what}. {}; if it happens again, report it at {ISSUES_URL} with this message and {} from {}",
            self.again, self.id, self.logs
        )
    }
}

/// Where to report a bug, named in the message of a step that panicked.
pub const ISSUES_URL: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/issues");
