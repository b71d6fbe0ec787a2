//! The CodePipeline job layer: a job in, however it arrived (a Lambda Invoke action's event, or
//! `PollForJobs` for a custom action), one step of the deploy engine, and exactly one PutJob*
//! report out. It turns a job into the engine's plan and the engine's outcome into one
//! [`Report`], with the engine's remedies worded in the built-in CloudFormation action's names.
//!
//! It knows CodePipeline jobs and their artifacts; it must never know how the job was delivered
//! (Lambda, a polling worker) or keep any state between steps but the continuation token.

mod error;
mod io;
pub mod job;
pub mod logging;
pub mod report;
mod run;
pub mod token;
mod wording;

pub use error::JobError;
pub use job::{Configuration, Job};
pub use report::{deliver, Delivery, FailureKind, Report, ReportError};
pub use run::{
    pace_from_env, roles_from_env, sdk_config, staging_bucket_from_env, work_budget, Runner,
};
