//! How a job and a run end: the result a job reported to CodePipeline, the action's end, and
//! what the run did, whichever front took the jobs.

use std::collections::BTreeMap;
use std::time::Duration;

use cfn_deployer_artifact::Location;
use serde_json::Value;

/// What the function reported for a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobResult {
    /// `PutJobSuccessResult`.
    Succeeded {
        /// Set when the job continues.
        continuation_token: Option<String>,
        /// `executionDetails.summary`.
        summary: Option<String>,
        /// `executionDetails.externalExecutionId`.
        external_id: Option<String>,
        /// `outputVariables`.
        output_variables: Option<Value>,
        /// `executionDetails.percentComplete`.
        percent_complete: Option<i64>,
    },
    /// `PutJobFailureResult`.
    Failed {
        /// `failureDetails.type`.
        kind: String,
        /// `failureDetails.message`.
        message: String,
        /// `failureDetails.externalExecutionId`.
        external_id: Option<String>,
    },
}

/// How the action ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The function reported a final result.
    Reported(JobResult),
    /// The job never got a final result; CodePipeline would time the action out.
    NotReported(String),
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// How it ended.
    pub end: End,
    /// Jobs delivered (the first and each continuation).
    pub jobs: usize,
    /// Invocations of the function, retries included; or jobs claimed by workers.
    pub invocations: usize,
    /// State transitions of a Step Functions execution.
    pub state_transitions: Option<usize>,
    /// The function's or workers' AWS calls per `Service:Operation` (when proxied).
    pub calls: BTreeMap<String, u64>,
    /// Calls to the local CodePipeline, by operation.
    pub calls_to_codepipeline: BTreeMap<String, u64>,
    /// The most jobs claimed and not yet reported at one time (workers only).
    pub most_in_flight: usize,
    /// Bytes S3 sent the function (when proxied).
    pub s3_bytes: u64,
    /// The faults injected, one line each.
    pub injected: Vec<String>,
    /// From starting the function process to its first Runtime API request (its cold start).
    pub cold_start: Option<Duration>,
    /// The function process's peak resident memory, in KiB (Linux), across its restarts.
    pub peak_rss_kib: Option<u64>,
    /// Where the job's output artifact goes.
    pub output_artifact: Location,
    /// Its name.
    pub output_artifact_name: String,
    /// S3 calls signed with the artifact credentials.
    pub artifact_calls: usize,
    /// Those that were neither a read of the input artifact nor a write of the output
    /// artifact, one line each.
    pub artifact_misuse: Vec<String>,
}
