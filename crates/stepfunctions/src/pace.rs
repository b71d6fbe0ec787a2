//! How long the state machine waits before its next poll: the input's interval at first,
//! growing with the operation's age up to a minute, so that one execution's history (25,000
//! events) lasts at least a day of operation however short the interval.

/// The longest wait the schedule grows to, in seconds.
pub const MAX_WAIT: u64 = 60;

/// The wait before the next poll of an operation `age` seconds old, with the input's
/// `interval`: a twentieth of the age, between the interval and a minute (never below the
/// interval, which may be longer than a minute).
pub fn wait_seconds(interval: u64, age: u64) -> u64 {
    (age / 20)
        .clamp(interval.min(MAX_WAIT), MAX_WAIT)
        .max(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events one poll adds to an execution's history: the Deploy task's five (entered,
    /// scheduled, started, succeeded, exited), the Choice's two, the Pass's two, the Wait's two.
    const EVENTS_PER_POLL: u64 = 11;

    #[test]
    fn the_wait_grows_from_the_interval_to_a_minute() {
        for (interval, age, wait) in [
            (5, 0, 5),
            (5, 99, 5),
            (5, 200, 10),
            (5, 1_200, 60),
            (5, 86_400, 60),
            (30, 0, 30),
            (30, 1_000, 50),
            (300, 0, 300),
            (300, 86_400, 300),
        ] {
            assert_eq!(wait_seconds(interval, age), wait, "{interval} {age}");
        }
    }

    #[test]
    fn a_day_of_polls_fits_one_execution_history() {
        // The shortest interval the input takes, polled for 24 hours.
        let (mut age, mut polls) = (0, 0);
        while age < 86_400 {
            age += wait_seconds(5, age);
            polls += 1;
        }
        // Start, Prepare, Prepared, the last poll's Deployed and Succeeded: well under 20.
        let events = polls * EVENTS_PER_POLL + 20;
        assert!(events < 25_000, "{polls} polls, {events} events");
    }
}
