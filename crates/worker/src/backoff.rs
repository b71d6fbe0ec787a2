//! Exponential backoff with full jitter, for calls to CodePipeline that keep failing: the
//! wait doubles from `base` up to `cap`, and each wait is drawn uniformly below it, so that a
//! fleet of workers does not retry in step.

use std::time::Duration;

/// The waits between failed attempts.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    /// Waits from `base`, doubling, to at most `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            failures: 0,
        }
    }

    /// The wait after one more failure.
    pub fn wait(&mut self) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(self.failures.min(16)))
            .min(self.cap);
        self.failures = self.failures.saturating_add(1);
        // Full jitter, but never less than a tenth of the base: no busy loop.
        let least = self.base / 10;
        least + ceiling.saturating_sub(least).mul_f64(fastrand::f64())
    }

    /// After a success: the next failure waits little again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_cap_with_jitter_and_reset() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        let waits: Vec<Duration> = (0..10).map(|_| b.wait()).collect();
        for (i, w) in waits.iter().enumerate() {
            let ceiling = Duration::from_secs(1 << i.min(3));
            assert!(
                *w >= Duration::from_millis(100) && *w <= ceiling,
                "{i}: {w:?}"
            );
        }
        // Jitter: ten waits under the same 8 s ceiling are not all equal.
        let mut c = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        let tail: Vec<Duration> = (0..20).map(|_| c.wait()).skip(5).collect();
        assert!(tail.windows(2).any(|w| w[0] != w[1]));
        b.reset();
        assert!(b.wait() <= Duration::from_secs(1));
    }
}
