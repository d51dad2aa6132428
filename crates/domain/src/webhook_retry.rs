//! The published retry schedule for webhook deliveries. An attempt that is not answered 2xx
//! within [`ATTEMPT_TIMEOUT`] is retried after the next delay of [`SCHEDULE`], each stretched or
//! shrunk by up to ±10 % of jitter so that a receiver coming back up is not hit by every retry at
//! once. After the last attempt the delivery has failed; a webhook whose deliveries have failed
//! for [`DISABLE_AFTER`] (or that answers 410 Gone) is disabled.

use time::{Duration, OffsetDateTime};

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

/// A fresh jitter unit, uniform in `[-1, 1]`.
pub fn random_jitter() -> f64 {
    rand::random::<f64>() * 2.0 - 1.0
}

/// The delay before attempt `attempt` (1 is the first), jittered by `unit` (any value in
/// `[-1, 1]`, drawn at random by the caller); `None` once the schedule is exhausted.
pub fn delay_before(attempt: u32, unit: f64) -> Option<Duration> {
    let base = *SCHEDULE.get(usize::try_from(attempt).ok()?.checked_sub(1)?)?;
    let unit = if unit.is_finite() { unit.clamp(-1.0, 1.0) } else { 0.0 };
    let spread = base.whole_milliseconds() as f64 * (JITTER_PER_MILLE as f64 / 1000.0) * unit;
    Some(base + Duration::milliseconds(spread as i64))
}

/// How a receiver answered one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP status (the body is not read past its first bytes).
    Status(u16),
    /// No complete answer within [`ATTEMPT_TIMEOUT`].
    Timeout,
    /// No connection: refused, reset, a TLS failure, a name that does not resolve.
    Unreachable,
    /// The destination resolved to an address deliveries may not reach (`webhook_destination`).
    Refused,
}

impl Answer {
    /// The attempt's outcome as the delivery log words it.
    pub fn outcome(self) -> &'static str {
        match self {
            Answer::Status(code) if (200..300).contains(&code) => "delivered",
            Answer::Status(_) => "rejected",
            Answer::Timeout => "timeout",
            Answer::Unreachable => "unreachable",
            Answer::Refused => "destination_refused",
        }
    }

    pub fn delivered(self) -> bool {
        matches!(self, Answer::Status(code) if (200..300).contains(&code))
    }
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Delivered,
    /// Try again after this delay.
    RetryAfter(Duration),
    /// The schedule is exhausted: the delivery has failed.
    GaveUp,
}

/// What follows attempt `attempt` (1 is the first) answered `answer`; `unit` jitters the delay.
pub fn next_step(attempt: u32, answer: Answer, unit: f64) -> Next {
    if answer.delivered() {
        return Next::Delivered;
    }
    match attempt.checked_add(1).and_then(|n| delay_before(n, unit)) {
        Some(delay) => Next::RetryAfter(delay),
        None => Next::GaveUp,
    }
}

/// Why a webhook was disabled by its deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisableReason {
    /// The receiver answered 410 Gone: it says it will never take a delivery again.
    Gone,
    /// Every delivery has failed for [`DISABLE_AFTER`].
    FailingTooLong,
}

impl DisableReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisableReason::Gone => "gone",
            DisableReason::FailingTooLong => "failing_for_five_days",
        }
    }
}

/// Whether a webhook is to be disabled after an attempt answered `answer` at `now`, given since
/// when its deliveries have all failed (`None`: the last one succeeded).
pub fn disable_after(
    answer: Answer,
    failing_since: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Option<DisableReason> {
    if answer == Answer::Status(410) {
        return Some(DisableReason::Gone);
    }
    if answer.delivered() {
        return None;
    }
    let since = failing_since.unwrap_or(now);
    (now - since >= DISABLE_AFTER).then_some(DisableReason::FailingTooLong)
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

    #[test]
    fn an_answer_leads_to_the_next_step() {
        assert_eq!(next_step(1, Answer::Status(204), 0.0), Next::Delivered);
        assert_eq!(next_step(1, Answer::Status(500), 0.0), Next::RetryAfter(Duration::seconds(5)));
        assert_eq!(next_step(2, Answer::Timeout, 0.0), Next::RetryAfter(Duration::minutes(5)));
        assert_eq!(next_step(8, Answer::Unreachable, 0.0), Next::GaveUp);
        assert_eq!(
            next_step(1, Answer::Status(302), 0.0),
            Next::RetryAfter(Duration::seconds(5)),
            "redirects are not followed"
        );
    }

    #[test]
    fn gone_disables_at_once_and_failures_after_five_days() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(100);
        assert_eq!(disable_after(Answer::Status(410), None, now), Some(DisableReason::Gone));
        assert_eq!(disable_after(Answer::Status(500), None, now), None);
        assert_eq!(disable_after(Answer::Status(500), Some(now - Duration::days(4)), now), None);
        assert_eq!(disable_after(Answer::Timeout, Some(now - DISABLE_AFTER), now), Some(DisableReason::FailingTooLong));
        assert_eq!(disable_after(Answer::Status(200), Some(now - Duration::days(9)), now), None);
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
