//! USSD OTPs: a phone-bound verification. The merchant creates one for a phone number; the
//! customer dials its `dialCode` from that phone before it expires, and it is `verified`.
//! `pending` → `verified` | `expired` (default 5 minutes).

use crate::ids::UssdOtpId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

pub const DEFAULT_DURATION: Duration = Duration::minutes(5);
/// The longest `duration` accepted: a day (a verification is a short, interactive thing).
pub const MAX_DURATION: Duration = Duration::days(1);
pub const MAX_VERIFICATION_MESSAGE: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UssdOtpStatus {
    Pending,
    Verified,
    Expired,
}

impl UssdOtpStatus {
    pub const ALL: [UssdOtpStatus; 3] = [UssdOtpStatus::Pending, UssdOtpStatus::Verified, UssdOtpStatus::Expired];

    pub fn as_str(self) -> &'static str {
        match self {
            UssdOtpStatus::Pending => "pending",
            UssdOtpStatus::Verified => "verified",
            UssdOtpStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UssdOtp {
    pub id: UssdOtpId,
    pub status: UssdOtpStatus,
    pub dial_code: String,
    pub authorized_phone: String,
    pub verification_message: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expire_at: OffsetDateTime,
}

/// Why a dial does not verify an OTP; nothing is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyRefusal {
    NotPending(UssdOtpStatus),
    Expired,
    PhoneNotAuthorized,
}

impl VerifyRefusal {
    pub fn reason(self) -> &'static str {
        match self {
            VerifyRefusal::NotPending(_) => "ussd_otp_not_pending",
            VerifyRefusal::Expired => "ussd_otp_expired",
            VerifyRefusal::PhoneNotAuthorized => "phone_number_not_authorized",
        }
    }

    pub fn message(self) -> String {
        match self {
            VerifyRefusal::NotPending(s) => format!("the USSD OTP is {} already", s.as_str()),
            VerifyRefusal::Expired => "the USSD OTP's `expireTime` has passed".into(),
            VerifyRefusal::PhoneNotAuthorized => "the USSD OTP is for another phone number".into(),
        }
    }
}

impl UssdOtp {
    /// Whether a dial from `phone` at `now` verifies this OTP.
    pub fn admit(&self, phone: &str, now: OffsetDateTime) -> Result<(), VerifyRefusal> {
        if self.status != UssdOtpStatus::Pending {
            return Err(VerifyRefusal::NotPending(self.status));
        }
        if now >= self.expire_at {
            return Err(VerifyRefusal::Expired);
        }
        if phone != self.authorized_phone {
            return Err(VerifyRefusal::PhoneNotAuthorized);
        }
        Ok(())
    }
}

/// A fresh dial code: `*715*` and six digits (payment codes have a third part, so the two
/// never collide).
pub fn new_dial_code() -> String {
    use rand::Rng;
    format!("*715*{:06}#", rand::thread_rng().gen_range(0..1_000_000u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_authorized_phone_verifies_a_pending_unexpired_otp() {
        let now = crate::time_fmt::now();
        let mut otp = UssdOtp {
            id: UssdOtpId::generate(),
            status: UssdOtpStatus::Pending,
            dial_code: new_dial_code(),
            authorized_phone: "+23276000001".into(),
            verification_message: None,
            metadata: None,
            created_at: now,
            expire_at: now + DEFAULT_DURATION,
        };
        assert_eq!(otp.admit("+23276000001", now), Ok(()));
        assert_eq!(otp.admit("+23276000002", now), Err(VerifyRefusal::PhoneNotAuthorized));
        assert_eq!(otp.admit("+23276000001", otp.expire_at), Err(VerifyRefusal::Expired));
        otp.status = UssdOtpStatus::Verified;
        assert_eq!(otp.admit("+23276000001", now), Err(VerifyRefusal::NotPending(UssdOtpStatus::Verified)));
        assert_eq!(otp.dial_code.len(), 12);
    }
}
