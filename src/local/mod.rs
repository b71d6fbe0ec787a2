//! The local pipeline: plays CodePipeline and the Lambda service on localhost, so the real
//! function binary runs the whole job loop against moto (or real S3 and CloudFormation).

pub mod archive;
pub mod proxy;
pub mod run;
pub mod server;
