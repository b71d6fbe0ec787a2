//! What the proxy saw: the calls by service and operation, the S3 calls and whose credentials
//! signed them, the faults that struck, and the ends of the drift checks and stack-set
//! operations it played, for the report and the live view to read.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::drift::DriftCheck;
use crate::stackset::SetEnds;

/// An S3 call, and whose credentials signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCall {
    /// The signing access key id.
    pub access_key_id: String,
    /// `GET`, `PUT`, …
    pub method: String,
    /// The path: `/bucket/key`, as path-style addressing names an object.
    pub path: String,
}

/// The calls seen, by service and operation.
#[derive(Debug, Default)]
pub struct Stats {
    /// Held shared by each CloudFormation call that builds a stack's resources, exclusively by
    /// the watcher's reads (see [`Stats::stack_reads`]).
    pub(super) stack_writes: tokio::sync::RwLock<()>,
    pub(super) calls: Mutex<BTreeMap<String, u64>>,
    pub(super) s3_signed: Mutex<Vec<SignedCall>>,
    pub(super) injected: Mutex<Vec<String>>,
    pub(super) s3_bytes: AtomicU64,
    pub(super) drift_checks: Mutex<Vec<DriftCheck>>,
    pub(super) drift_ended: tokio::sync::Notify,
    pub(super) stack_sets: SetEnds,
}

impl Stats {
    /// Waits until no CloudFormation call that builds resources is in flight, and holds them
    /// off while the guard lives. moto builds a stack's resources lazily and without a lock: a
    /// DescribeStacks or ListStackResources that reaches it during a CreateStack builds them a
    /// second time (`ParameterAlreadyExists`). Real CloudFormation needs no such care.
    pub async fn stack_reads(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.stack_writes.write().await
    }

    /// Calls per `Service:Operation`.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The faults injected, one line each.
    pub fn injected(&self) -> Vec<String> {
        self.injected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every S3 call, with the access key that signed it.
    pub fn s3_calls(&self) -> Vec<SignedCall> {
        self.s3_signed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Response body bytes S3 sent the function.
    pub fn s3_bytes(&self) -> u64 {
        self.s3_bytes.load(Ordering::Relaxed)
    }

    /// The drift detections the proxy played that ended, in the order they did.
    pub fn drift_checks(&self) -> Vec<DriftCheck> {
        self.drift_checks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until a drift detection ends; at once when one ended since the last wait.
    pub async fn drift_check_ended(&self) {
        self.drift_ended.notified().await;
    }

    /// The stack-set operations the proxy played that ended.
    pub fn stack_set_ends(&self) -> &SetEnds {
        &self.stack_sets
    }

    pub(crate) fn record_drift_check(&self, check: DriftCheck) {
        self.drift_checks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(check);
        // One waiter (the view): a permit is kept when it is not waiting yet.
        self.drift_ended.notify_one();
    }
}
