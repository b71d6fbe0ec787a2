//! One step of a deploy, for every front: the deployment's [`Settings`] read once, the step
//! itself ([`Stepper::run`]) with its one panic guard, template preparation behind a small
//! port ([`FileReader`]), and the logging every front's process shares.
//!
//! It knows the engine, the settings and where files lie in S3. It must never know Lambda,
//! CodePipeline or Step Functions: each front supplies its arrivals, answers and words
//! through [`Front`].

mod budget;
mod ended;
mod error;
mod group;
pub mod logging;
mod prepare;
mod settings;
mod stackset;
mod step;
mod targets;
mod words;

pub use budget::{reserve, work_budget};
pub use ended::{drift_status, Ended, GroupReport, GroupStack, Resume, POLICY_OFF};
pub use error::{Failing, StepError};
pub use prepare::{FileReader, Preparer, Role, Stager};
pub use settings::{sdk_config, Env, Settings, SettingsError};
pub use step::{guarded, Front, Stepper};
pub use targets::{allows, session_name};
pub use words::{Words, ISSUES_URL};
