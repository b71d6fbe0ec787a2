//! How long the work of one step may take, given the deadline its front must answer by.

use std::time::{Duration, SystemTime};

/// The time kept back from a deadline for reporting: a tenth of what is left at the start,
/// between one and five seconds.
pub fn reserve(left: Duration) -> Duration {
    (left / 10).clamp(Duration::from_secs(1), Duration::from_secs(5))
}

/// How long the work of a step may take, or `None` when the deadline is unknown. A deadline
/// already past is taken as unknown: `cargo lambda watch` sends one in 1970. A step always
/// gets at least half the time left, however short, so that a short timeout still moves.
pub fn work_budget(deadline: Option<SystemTime>, now: SystemTime) -> Option<Duration> {
    let left = deadline?.duration_since(now).ok()?;
    Some(left.saturating_sub(reserve(left)).max(left / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_keep_time_to_report() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |secs: u64| Some(now + Duration::from_secs(secs));
        assert_eq!(work_budget(at(120), now), Some(Duration::from_secs(115)));
        assert_eq!(work_budget(at(30), now), Some(Duration::from_secs(27)));
        assert_eq!(work_budget(at(3), now), Some(Duration::from_secs(2)));
        // A second left: the reserve would take it all; the step still gets half.
        assert_eq!(work_budget(at(1), now), Some(Duration::from_millis(500)));
        // Past or absent deadlines are unknown, not "no time left".
        assert_eq!(work_budget(Some(SystemTime::UNIX_EPOCH), now), None);
        assert_eq!(work_budget(None, now), None);
    }
}
