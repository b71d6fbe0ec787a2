//! The CodePipeline job layer: a job in, however it arrived (a Lambda Invoke action's event, or
//! `PollForJobs` for a custom action), one step of the deploy, and exactly one PutJob* report
//! out. It is the step's CodePipeline front: it turns a job into the step's arrival and the
//! step's end into one [`Report`], with the engine's remedies worded in the built-in
//! CloudFormation action's names.
//!
//! It knows CodePipeline jobs and their artifacts; it must never know how the job was delivered
//! (Lambda, a polling worker) or keep any state between steps but the continuation token: the
//! front that delivered it supplies its own words.

mod error;
mod io;
pub mod job;
pub mod report;
mod run;
pub mod token;
pub mod wording;

pub use error::JobError;
pub use job::{Configuration, Job};
pub use report::{deliver, Delivery, FailureKind, Report, ReportError, Rounds};
pub use run::Runner;
