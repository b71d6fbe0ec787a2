//! The local pipeline: plays CodePipeline and the Lambda service on localhost, so the real
//! binaries run the whole job loop against moto (or real S3 and CloudFormation).
//!
//! It is a tool and a test harness, never a dependency of a product crate: it drives the
//! function and the worker from outside, as AWS would, through their public interfaces.

pub mod archive;
mod child;
pub mod codepipeline;
pub mod drift;
pub mod error;
mod function;
pub mod host;
mod job;
pub mod lambda;
pub mod notice;
pub mod options;
pub mod outcome;
pub mod proxy;
mod query;
pub mod run;
pub mod s3;
pub mod server;
pub mod sfn;
pub mod stackset;
pub mod stage;
pub mod target;
pub mod view;
pub mod worker;
