//! The Step Functions front: the tasks of cfn-deployer's state machine
//! (`statemachine/deploy.asl.json`). `prepare` validates the execution input once; each
//! `step` runs one step of the deploy engine and hands back where the deploy stands, for the
//! state machine to wait and call again; `build-failed` words a failed CodeBuild build.
//! Every expected failure comes back as data (`failed`), which the state machine turns into
//! the execution's `Error` and `Cause`, so that the cause is exactly the message a
//! CodePipeline job would get.
//!
//! It knows the state machine's task payloads and the execution input's words. It must never
//! know Lambda's or CodePipeline's: the function hands it the payload and sends back its answer.

mod answer;
mod build;
mod error;
mod files;
mod front;
mod pace;
mod task;
mod wording;

pub use answer::{Failed, TaskResult};
pub use error::TaskError;
pub use front::WORDS;
pub use task::{Task, Tasks};

/// The error names the execution fails with, by failure kind.
pub mod errors {
    /// The execution input or a file it names is unusable.
    pub const CONFIGURATION: &str = "CfnDeployer.ConfigurationError";
    /// AWS refused for lack of permission.
    pub const PERMISSION: &str = "CfnDeployer.PermissionError";
    /// The deploy failed.
    pub const DEPLOY: &str = "CfnDeployer.DeployFailed";
    /// The CodeBuild build before the deploy failed.
    pub const BUILD: &str = "CfnDeployer.BuildFailed";
    /// The task is not one the state machine sends: its payload is malformed, or its state
    /// follows another stack. The function fails the invocation with it.
    pub const BAD_TASK: &str = "CfnDeployer.BadTask";
    /// What the state machine ends with when a task fails outside the four above (a Lambda
    /// error, a timeout, a bad task), keeping the cause.
    pub const INTERNAL: &str = "CfnDeployer.InternalError";
}
