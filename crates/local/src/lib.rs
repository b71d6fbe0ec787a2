//! The local pipeline: plays CodePipeline and the Lambda service on localhost, so the real
//! binaries run the whole job loop against moto (or real S3 and CloudFormation).
//!
//! It is a tool and a test harness, never a dependency of a product crate: it drives the
//! function and the worker from outside, as AWS would, through their public interfaces.

pub mod archive;
pub mod codepipeline;
mod function;
pub mod host;
pub mod lambda;
pub mod proxy;
pub mod run;
pub mod server;
pub mod sfn;
pub mod view;
pub mod worker;
