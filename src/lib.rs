//! cfn-deployer: deploys AWS CloudFormation stacks from an AWS CodePipeline Invoke action.
//!
//! - [`deploy`]: the deploy engine (CloudFormation only).
//! - [`artifact`]: reading one file from a zipped artifact in S3.
//! - [`pipeline`]: CodePipeline jobs in, PutJob* reports out.
//! - [`local`]: a local CodePipeline and Lambda service, to run the whole loop offline.

pub mod artifact;
pub mod aws;
pub mod deploy;
pub mod local;
pub mod logging;
pub mod pipeline;
