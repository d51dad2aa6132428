//! The published retry schedule for webhook deliveries. An attempt that is not answered 2xx
//! within [`ATTEMPT_TIMEOUT`] is retried after the next delay of [`SCHEDULE`], each stretched or
//! shrunk by up to ±10 % of jitter so that a receiver coming back up is not hit by every retry at
//! once. After the last attempt the delivery has failed; a webhook whose deliveries have failed
//! for [`DISABLE_AFTER`] (or that answers 410 Gone) is disabled.

use time::Duration;

/// How long one attempt may take, connection to the last byte of the answer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::seconds(15);

/// The delay before each attempt, counted from the previous one: the first is immediate. Eight
/// attempts over about 27.6 hours.
pub const SCHEDULE: [Duration; 8] = [
    Duration::ZERO,
    Duration::seconds(5),
    Duration::minutes(5),
    Duration::minutes(30),
    Duration::hours(2),
    Duration::hours(5),
    Duration::hours(10),
    Duration::hours(10),
];

/// How long a webhook may fail every delivery before it is disabled.
pub const DISABLE_AFTER: Duration = Duration::days(5);

/// The jitter bound, in per mille of the delay.
const JITTER_PER_MILLE: i64 = 100;

/// The delay before attempt `attempt` (1 is the first), jittered by `unit` (any value in
/// `[-1, 1]`, drawn at random by the caller); `None` once the schedule is exhausted.
pub fn delay_before(attempt: u32, unit: f64) -> Option<Duration> {
    let base = *SCHEDULE.get(usize::try_from(attempt).ok()?.checked_sub(1)?)?;
    let unit = if unit.is_finite() { unit.clamp(-1.0, 1.0) } else { 0.0 };
    let spread = base.whole_milliseconds() as f64 * (JITTER_PER_MILLE as f64 / 1000.0) * unit;
    Some(base + Duration::milliseconds(spread as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_schedule_is_the_published_one() {
        assert_eq!(delay_before(1, 0.7), Some(Duration::ZERO), "the first attempt is immediate");
        assert_eq!(delay_before(2, 0.0), Some(Duration::seconds(5)));
        assert_eq!(delay_before(8, 0.0), Some(Duration::hours(10)));
        assert_eq!(delay_before(9, 0.0), None);
        assert_eq!(delay_before(0, 0.0), None);
        let total: Duration = SCHEDULE.iter().copied().sum();
        assert!(total < DISABLE_AFTER, "one event's attempts end well before a webhook is disabled");
    }

    proptest! {
        #[test]
        fn jitter_stays_within_ten_percent(attempt in 1u32..=8, unit in -5.0f64..5.0) {
            let base = SCHEDULE[attempt as usize - 1];
            let delay = delay_before(attempt, unit).unwrap();
            let bound = base * 0.1 + Duration::milliseconds(1);
            prop_assert!((delay - base).abs() <= bound, "{delay} vs {base}");
        }
    }
}
