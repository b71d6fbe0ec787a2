//! What the local services saw, told to the run in the order they saw it: results reported,
//! calls refused, jobs handed out and claimed, invocations done.

use tokio::sync::mpsc;

use crate::outcome::JobResult;

/// Something the services saw, in the order they saw it.
#[derive(Debug, Clone)]
pub enum Notice {
    /// A job got its result.
    Reported {
        /// The job.
        job_id: String,
        /// Its result.
        result: JobResult,
    },
    /// A CodePipeline call was refused.
    Refused {
        /// The job, when the call named one.
        job_id: Option<String>,
        /// The operation.
        operation: String,
        /// The error code returned.
        code: &'static str,
        /// The message returned.
        message: String,
    },
    /// A custom-action job was handed to a worker by `PollForJobs`.
    Dispatched {
        /// The job.
        job_id: String,
    },
    /// A worker claimed a job with its nonce.
    Acknowledged {
        /// The job.
        job_id: String,
    },
    /// The function finished an invocation.
    InvocationDone {
        /// The request id.
        request_id: String,
        /// The error the function returned, if any.
        error: Option<String>,
        /// What the function answered, when it did.
        response: Option<String>,
    },
    /// The function asked for its next invocation: it is up and idle.
    Ready,
    /// The function failed to start.
    InitError(String),
}

/// Where the notices go: one sender, cloned by whoever sees something first.
#[derive(Debug, Clone)]
pub(crate) struct Notifier(mpsc::UnboundedSender<Notice>);

impl Notifier {
    /// A notifier and the receiver its notices arrive on.
    pub(crate) fn channel() -> (Self, mpsc::UnboundedReceiver<Notice>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self(tx), rx)
    }

    /// Tells the run.
    pub(crate) fn notify(&self, notice: Notice) {
        // The receiver lives as long as the run; after it, nobody is listening.
        let _ = self.0.send(notice);
    }
}
