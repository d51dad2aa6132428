//! What a token review looks for: the flags the token list filters on, the operator's report
//! shows and the console will show, decided in one place so the three cannot disagree.

use crate::entities::{AccessToken, TokenStatus};
use crate::permission::PermissionSet;
use time::{Duration, OffsetDateTime};

/// How long without a request makes an active token idle, and how near an expiry is "soon",
/// unless the reviewer says otherwise.
pub const IDLE_AFTER: Duration = Duration::days(90);
pub const EXPIRES_SOON: Duration = Duration::days(7);

/// Something a reviewer should look at on an active token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flag {
    /// It has never made a request.
    NeverUsed,
    /// No request for the idle span (never used counts from its creation).
    Idle,
    /// It never expires.
    NoExpiry,
    /// It carries every permission.
    AllPermissions,
    /// It expires within the "soon" span.
    ExpiresSoon,
    /// It was seen in a browser's request.
    Exposed,
}

impl Flag {
    pub const ALL: [Flag; 6] =
        [Flag::NeverUsed, Flag::Idle, Flag::NoExpiry, Flag::AllPermissions, Flag::ExpiresSoon, Flag::Exposed];

    /// As the API and the report spell it.
    pub fn word(self) -> &'static str {
        match self {
            Flag::NeverUsed => "never_used",
            Flag::Idle => "idle",
            Flag::NoExpiry => "no_expiry",
            Flag::AllPermissions => "all_permissions",
            Flag::ExpiresSoon => "expires_soon",
            Flag::Exposed => "exposed",
        }
    }
}

/// The spans a review measures against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spans {
    pub idle_after: Duration,
    pub expires_soon: Duration,
}

impl Default for Spans {
    fn default() -> Self {
        Spans { idle_after: IDLE_AFTER, expires_soon: EXPIRES_SOON }
    }
}

/// The token has made no request for `span`: since its last use, or since its creation when it
/// never made one (a token minted a minute ago is not idle).
pub fn unused_for(token: &AccessToken, now: OffsetDateTime, span: Duration) -> bool {
    let since = token.usage.last_used_at.unwrap_or(token.created_at);
    now - since >= span
}

/// An active token whose expiry falls within `span` of `now`.
pub fn expires_within(token: &AccessToken, now: OffsetDateTime, span: Duration) -> bool {
    token.status(now) == TokenStatus::Active && token.expires_at.is_some_and(|e| e - now <= span)
}

/// The flags of `token` at `now`; none for a token that no longer works (there is nothing left
/// to review on it).
pub fn flags(token: &AccessToken, now: OffsetDateTime, spans: Spans) -> Vec<Flag> {
    if token.status(now) != TokenStatus::Active {
        return Vec::new();
    }
    let holds = |flag: Flag| match flag {
        Flag::NeverUsed => token.usage.last_used_at.is_none(),
        Flag::Idle => unused_for(token, now, spans.idle_after),
        Flag::NoExpiry => token.expires_at.is_none(),
        Flag::AllPermissions => token.permissions == PermissionSet::all(),
        Flag::ExpiresSoon => expires_within(token, now, spans.expires_soon),
        Flag::Exposed => token.exposure.is_some(),
    };
    Flag::ALL.into_iter().filter(|&f| holds(f)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::sample_token;
    use crate::entities::{TokenExposure, TokenUsage};
    use proptest::prelude::*;

    fn at(days: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(1000 + days)
    }

    #[test]
    fn a_fresh_unused_token_is_never_used_but_not_idle() {
        let token = AccessToken { created_at: at(0), expires_at: None, usage: TokenUsage::default(), ..sample_token() };
        let fresh = flags(&token, at(1), Spans::default());
        assert!(fresh.contains(&Flag::NeverUsed) && fresh.contains(&Flag::NoExpiry), "{fresh:?}");
        assert!(!fresh.contains(&Flag::Idle), "{fresh:?}");
        assert!(flags(&token, at(90), Spans::default()).contains(&Flag::Idle));
    }

    #[test]
    fn a_stopped_token_has_nothing_to_review() {
        let token = AccessToken { created_at: at(0), revoked_at: Some(at(1)), expires_at: None, ..sample_token() };
        assert!(flags(&token, at(2), Spans::default()).is_empty());
        let token = AccessToken { created_at: at(0), expires_at: Some(at(1)), ..sample_token() };
        assert!(flags(&token, at(2), Spans::default()).is_empty());
    }

    #[test]
    fn exposure_and_all_permissions_are_flagged() {
        let token = AccessToken {
            created_at: at(0),
            permissions: PermissionSet::all(),
            exposure: Some(TokenExposure { detected_at: at(1), origin: None }),
            ..sample_token()
        };
        let found = flags(&token, at(2), Spans::default());
        assert!(found.contains(&Flag::AllPermissions) && found.contains(&Flag::Exposed), "{found:?}");
    }

    proptest! {
        /// Idle is exactly "the last sign of life is at least the span ago", and expiring-soon
        /// exactly "active and the expiry is at most the span ahead".
        #[test]
        fn idle_and_expiring_follow_their_definitions(
            created in 0i64..100, used in proptest::option::of(0i64..100), expires in proptest::option::of(0i64..300),
            now in 100i64..200, idle in 1i64..120, soon in 1i64..30,
        ) {
            let token = AccessToken {
                created_at: at(created),
                expires_at: expires.map(at),
                revoked_at: None,
                usage: TokenUsage { last_used_at: used.map(at), ..TokenUsage::default() },
                ..sample_token()
            };
            let spans = Spans { idle_after: Duration::days(idle), expires_soon: Duration::days(soon) };
            let found = flags(&token, at(now), spans);
            let active = expires.is_none_or(|e| e > now);
            let last = used.unwrap_or(created);
            prop_assert_eq!(found.contains(&Flag::Idle), active && now - last >= idle);
            prop_assert_eq!(found.contains(&Flag::ExpiresSoon), active && expires.is_some_and(|e| e - now <= soon));
            prop_assert_eq!(found.contains(&Flag::NeverUsed), active && used.is_none());
        }
    }
}
