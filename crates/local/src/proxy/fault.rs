//! The faults the proxy injects: what each does, which calls it hits, and how the command
//! line's `--fault` names one.

use std::str::FromStr;
use std::time::Duration;

/// What a fault does to a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this HTTP status and the service's error body for it.
    Status(u16),
    /// Answer with the service's throttling error.
    Throttle,
    /// Forward the call after this delay.
    Delay(Duration),
    /// Close the connection without an answer.
    Drop,
    /// Forward the call without its `Range` header, as a server that ignores ranges would.
    NoRange,
    /// For `AcknowledgeJob`: the job was dispatched again meanwhile, so the nonce is stale.
    InvalidNonce,
}

/// A fault for the first `times` calls of `operation` (`*` for any), on `stack` when one is
/// named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The API operation, e.g. `GetObject` or `CreateStack`, or `*`.
    pub operation: String,
    /// The stack whose calls it hits (the call's `StackName`), when it hits one stack only.
    pub stack: Option<String>,
    /// What to do.
    pub kind: FaultKind,
    /// How many matching calls it hits.
    pub times: usize,
}

/// The fault due for this call of `operation` on `stack` among `faults`, if any, counted down.
pub(crate) fn due(faults: &mut [Fault], operation: &str, stack: Option<&str>) -> Option<FaultKind> {
    let fault = faults.iter_mut().find(|f| {
        f.times > 0
            && (f.operation == operation || f.operation == "*")
            && (f.stack.is_none() || f.stack.as_deref() == stack)
    })?;
    fault.times -= 1;
    Some(fault.kind.clone())
}

impl FromStr for Fault {
    type Err = String;

    /// `OPERATION[@STACK]:KIND[:TIMES]`, KIND one of `500`, `503`, `400` (any status; 400 is
    /// a `ValidationError`), `throttle`, `drop`, `norange`, `delay=SECONDS`; TIMES defaults
    /// to 1.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split(':');
        let usage = || {
            format!("`{s}`: a fault is OPERATION[@STACK]:KIND[:TIMES], KIND one of 500, 503, 400, throttle, drop, norange, invalid-nonce, delay=SECONDS")
        };
        let target = parts.next().filter(|o| !o.is_empty()).ok_or_else(usage)?;
        let (operation, stack) = match target.split_once('@') {
            Some((op, stack)) if !op.is_empty() && !stack.is_empty() => {
                (op.to_owned(), Some(stack.to_owned()))
            }
            Some(_) => return Err(usage()),
            None => (target.to_owned(), None),
        };
        let kind = match parts.next().ok_or_else(usage)? {
            "throttle" => FaultKind::Throttle,
            "drop" => FaultKind::Drop,
            "norange" => FaultKind::NoRange,
            "invalid-nonce" => FaultKind::InvalidNonce,
            k if k.starts_with("delay=") => {
                let secs: f64 = k["delay=".len()..].parse().map_err(|_| usage())?;
                FaultKind::Delay(Duration::try_from_secs_f64(secs).map_err(|_| usage())?)
            }
            k => FaultKind::Status(
                k.parse()
                    .ok()
                    .filter(|c| (400..600).contains(c))
                    .ok_or_else(usage)?,
            ),
        };
        let times = match parts.next() {
            Some(t) => t.parse().map_err(|_| usage())?,
            None => 1,
        };
        if parts.next().is_some() {
            return Err(usage());
        }
        Ok(Self {
            operation,
            stack,
            kind,
            times,
        })
    }
}
