//! The one rule for minting a token, behind both the API's `CreateAccessToken` and rotation and
//! the operator's `admin token create` and `rotate`: how each field is read, what it defaults to,
//! and what is refused. The surfaces differ only in how they spell a field (`expireTime` or
//! `--expires-at`) and in who the issuer is (a token, or the operator).

use crate::entities::{AccessToken, NewAccessToken, TokenStatus};
use crate::ids::{MonimeerId, SpaceId};
use crate::permission::PermissionSet;
use crate::version::ApiVersion;
use crate::{duration, time_fmt, token, Environment};
use ipnet::IpNet;
use time::{Duration, OffsetDateTime};

/// Longest token name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Most entries in a token's IP allowlist.
pub const MAX_ALLOWED_IPS: usize = 50;
/// Longest rotation grace window.
pub const MAX_GRACE: Duration = Duration::days(30);

/// A field of a token request, spelt by each surface its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenField {
    Name,
    Permissions,
    Environment,
    SpaceId,
    AllowedIps,
    ExpireTime,
    NeverExpires,
    Lifetime,
    ApiVersion,
    Grace,
    AmountLimits,
}

impl TokenField {
    /// The API body's field name.
    pub fn api_name(self) -> &'static str {
        match self {
            TokenField::Name => "name",
            TokenField::Permissions => "permissions",
            TokenField::Environment => "environment",
            TokenField::SpaceId => "spaceId",
            TokenField::AllowedIps => "allowedIps",
            TokenField::ExpireTime => "expireTime",
            TokenField::NeverExpires => "neverExpires",
            TokenField::Lifetime => "lifetime",
            TokenField::ApiVersion => "apiVersion",
            TokenField::Grace => "gracePeriodSeconds",
            TokenField::AmountLimits => "amountLimits",
        }
    }

    /// The admin CLI's flag.
    pub fn flag(self) -> &'static str {
        match self {
            TokenField::Name => "--name",
            TokenField::Permissions => "--permissions",
            TokenField::Environment => "--env",
            TokenField::SpaceId => "--space",
            TokenField::AllowedIps => "--allow-ip",
            TokenField::ExpireTime => "--expires-at",
            TokenField::NeverExpires => "--no-expiry",
            TokenField::Lifetime => "--expires-in",
            TokenField::ApiVersion => "--api-version",
            TokenField::Grace => "--grace",
            TokenField::AmountLimits => "--amount-limit",
        }
    }
}

/// Why a token request is refused: the field, a stable reason, and a sentence in which `{}`
/// stands for the field as the surface spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueError {
    pub field: TokenField,
    pub reason: &'static str,
    template: String,
}

impl IssueError {
    fn new(field: TokenField, reason: &'static str, template: impl Into<String>) -> Self {
        IssueError { field, reason, template: template.into() }
    }

    /// The sentence, with each field named by `spell` (the API: `` `name` ``; the CLI: `--name`).
    pub fn message(&self, spell: impl Fn(TokenField) -> String) -> String {
        self.template.replace("{}", &spell(self.field))
    }
}

/// How long a requested token lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry<'a> {
    /// [`token::DEFAULT_LIFETIME_DAYS`], and never past the issuing token's own expiry.
    Default,
    Never,
    /// An RFC 3339 time.
    At(&'a str),
    /// A span from now, in the syntax of [`parse_span`].
    In(&'a str),
}

impl<'a> Expiry<'a> {
    /// The API's two fields: `expireTime`, or `neverExpires`, or neither; not both.
    pub fn from_fields(never_expires: bool, expire_time: Option<&'a str>) -> Result<Self, IssueError> {
        match (never_expires, expire_time) {
            (true, Some(_)) => Err(IssueError::new(
                TokenField::NeverExpires,
                "conflict",
                "give `expireTime` or `neverExpires`, not both",
            )),
            (true, None) => Ok(Expiry::Never),
            (false, Some(at)) => Ok(Expiry::At(at)),
            (false, None) => Ok(Expiry::Default),
        }
    }
}

/// What a caller asks for, as the API body or the CLI flags give it, unparsed.
#[derive(Debug, Clone)]
pub struct TokenRequest<'a> {
    pub name: &'a str,
    /// Permission words; `*` and `resource:*` expand.
    pub permissions: &'a [String],
    /// `None`: the issuing token's environment (the operator must name one).
    pub environment: Option<&'a str>,
    /// `None`: the issuing token's binding, if any.
    pub space_id: Option<&'a str>,
    /// Addresses or CIDRs; empty: the issuing token's allowlist.
    pub allowed_ips: &'a [String],
    pub expiry: Expiry<'a>,
    /// `None`: the issuing token's release, or the latest.
    pub api_version: Option<&'a str>,
    /// `None`: the issuing token's limits (none for the operator).
    pub amount_limits: Option<&'a [crate::amount_limit::AmountLimit]>,
}

/// Who mints: a token (whose settings are the defaults, and whose id is recorded as the creator),
/// the operator on behalf of a Monimeer, or a Monimeer themselves in the console. The last two
/// mint root tokens: what such a token may do is still capped, on every request, by its owner's
/// role in the Space it acts in.
#[derive(Debug, Clone, Copy)]
pub enum Issuer<'a> {
    Token(&'a AccessToken),
    Operator { monimeer: &'a MonimeerId },
    Console { monimeer: &'a MonimeerId },
}

impl Issuer<'_> {
    fn parent(&self) -> Option<&AccessToken> {
        match self {
            Issuer::Token(t) => Some(t),
            Issuer::Operator { .. } | Issuer::Console { .. } => None,
        }
    }
}

/// Token lifetimes, rotation grace periods and expiry windows: a positive whole number and one of
/// `s`, `m`, `h`, `d`, `w`, `y` (365 days), in the API and the CLI alike.
pub fn parse_span(raw: &str) -> Option<Duration> {
    use duration::Unit::*;
    duration::parse_time(raw, &[Seconds, Minutes, Hours, Days, Weeks, Years], None)
}

/// Reads a request into the token to store. Whether the issuer may grant it (no broader than
/// itself) is [`crate::escalation::check`]'s question, asked next.
pub fn validate(
    request: &TokenRequest<'_>,
    issuer: Issuer<'_>,
    now: OffsetDateTime,
) -> Result<NewAccessToken, IssueError> {
    let parent = issuer.parent();
    let name = request.name;
    if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(IssueError::new(TokenField::Name, "invalid_value", "{} must be 1 to 100 characters"));
    }
    if request.permissions.is_empty() {
        return Err(IssueError::new(TokenField::Permissions, "empty", "{} must name at least one permission"));
    }
    let permissions = PermissionSet::expand(request.permissions).map_err(|w| {
        IssueError::new(TokenField::Permissions, "unknown_permission", format!("`{w}` is not a permission"))
    })?;
    let environment = match (request.environment, parent) {
        (None, Some(p)) => p.environment,
        (None, None) => {
            return Err(IssueError::new(TokenField::Environment, "required", "{} must be `test` or `live`"));
        }
        (Some(e), _) => Environment::parse(e)
            .ok_or_else(|| IssueError::new(TokenField::Environment, "invalid_value", "{} must be `test` or `live`"))?,
    };
    let space_id = match request.space_id {
        None => parent.and_then(|p| p.space_id.clone()),
        Some(s) => Some(
            SpaceId::parse(s)
                .ok_or_else(|| IssueError::new(TokenField::SpaceId, "invalid_id", "{} must be a Space id (`spc-…`)"))?,
        ),
    };
    let allowed_ips = if request.allowed_ips.is_empty() {
        parent.map(|p| p.allowed_ips.clone()).unwrap_or_default()
    } else {
        request
            .allowed_ips
            .iter()
            .map(|raw| raw.parse::<IpNet>().or_else(|_| raw.parse::<std::net::IpAddr>().map(IpNet::from)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                IssueError::new(TokenField::AllowedIps, "invalid_cidr", "every {} entry must be an IP address or CIDR")
            })?
    };
    if allowed_ips.len() > MAX_ALLOWED_IPS {
        return Err(IssueError::new(TokenField::AllowedIps, "too_many_entries", "{} may hold at most 50 entries"));
    }
    let expires_at = expiry(request.expiry, parent, now)?;
    let api_version = match request.api_version {
        None => parent.map_or(ApiVersion::LATEST, |p| p.api_version),
        Some(v) => ApiVersion::parse(v).ok_or_else(|| {
            IssueError::new(
                TokenField::ApiVersion,
                "invalid_value",
                format!("{{}} must be one of {}", ApiVersion::supported_ids().join(", ")),
            )
        })?,
    };
    let amount_limits = match request.amount_limits {
        None => parent.map(|p| p.amount_limits.clone()).unwrap_or_default(),
        Some(limits) => {
            crate::amount_limit::validate(limits)
                .map_err(|why| IssueError::new(TokenField::AmountLimits, "invalid_value", format!("{{}}: {why}")))?;
            limits.to_vec()
        }
    };
    let monimeer_id = match issuer {
        Issuer::Token(t) => t.monimeer_id.clone(),
        Issuer::Operator { monimeer } | Issuer::Console { monimeer } => monimeer.clone(),
    };
    Ok(NewAccessToken {
        monimeer_id,
        name: name.to_owned(),
        environment,
        permissions,
        space_id,
        allowed_ips,
        expires_at,
        api_version,
        created_by: parent.map(|p| p.id.clone()),
        amount_limits,
    })
}

fn expiry(
    expiry: Expiry<'_>,
    parent: Option<&AccessToken>,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, IssueError> {
    let at = match expiry {
        Expiry::Never => return Ok(None),
        Expiry::Default => {
            let default = now + Duration::days(token::DEFAULT_LIFETIME_DAYS);
            return Ok(Some(parent.and_then(|p| p.expires_at).map_or(default, |p| p.min(default))));
        }
        Expiry::At(raw) => time_fmt::parse_rfc3339(raw)
            .ok_or_else(|| IssueError::new(TokenField::ExpireTime, "invalid_value", "{} must be an RFC 3339 time"))?,
        Expiry::In(raw) => parse_span(raw).and_then(|span| now.checked_add(span)).ok_or_else(|| {
            IssueError::new(TokenField::Lifetime, "invalid_value", "{} must be a lifetime like 60d, 12h, 2w or 1y")
        })?,
    };
    if at <= now {
        return Err(IssueError::new(TokenField::ExpireTime, "in_the_past", "{} must be in the future"));
    }
    Ok(Some(at))
}

/// A rotation: the successor to store, and when the old token stops working.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub successor: NewAccessToken,
    pub old_stops_at: OffsetDateTime,
}

/// How long a rotated token keeps working: from zero to [`MAX_GRACE`].
pub fn grace(grace: Duration) -> Result<Duration, IssueError> {
    if (Duration::ZERO..=MAX_GRACE).contains(&grace) {
        return Ok(grace);
    }
    let max = MAX_GRACE.whole_seconds();
    Err(IssueError::new(TokenField::Grace, "out_of_range", format!("{{}} must be from 0 to {max}")))
}

/// Expired, revoked, or already rotated (in its grace): rotating it again would leave two live
/// successors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotActive;

/// Plans the rotation of `old` with the old token working `grace` (see [`grace`]) longer, never
/// past its own expiry. `created_by` is the token whose request rotates, `None` for the operator.
pub fn rotation(
    old: &AccessToken,
    grace: Duration,
    created_by: Option<&AccessToken>,
    now: OffsetDateTime,
) -> Result<Rotation, NotActive> {
    if old.status(now) != TokenStatus::Active || old.revoked_at.is_some() {
        return Err(NotActive);
    }
    let successor = NewAccessToken { created_by: created_by.map(|t| t.id.clone()), ..old.replacement() };
    Ok(Rotation { successor, old_stops_at: old.rotation_stop(now + grace) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(permissions: &'a [String]) -> TokenRequest<'a> {
        TokenRequest {
            name: "ci",
            permissions,
            environment: Some("test"),
            space_id: None,
            allowed_ips: &[],
            expiry: Expiry::Default,
            api_version: None,
            amount_limits: None,
        }
    }

    #[test]
    fn spans_are_one_syntax() {
        assert_eq!(parse_span("3600s"), Some(Duration::hours(1)));
        assert_eq!(parse_span("1y"), Some(Duration::days(365)));
        assert_eq!(parse_span("2w"), Some(Duration::days(14)));
        assert_eq!(parse_span("7"), None, "a unit is required");
        assert_eq!(parse_span("0d"), None);
        assert_eq!(parse_span("500ms"), None, "tokens do not live for milliseconds");
    }

    #[test]
    fn the_operator_defaults_to_sixty_days_and_must_name_an_environment() {
        let monimeer = MonimeerId::generate();
        let now = time_fmt::now();
        let words = vec!["*".to_owned()];
        let issuer = Issuer::Operator { monimeer: &monimeer };
        let t = validate(&request(&words), issuer, now).unwrap();
        assert_eq!(t.expires_at, Some(now + Duration::days(token::DEFAULT_LIFETIME_DAYS)));
        assert_eq!(t.permissions, PermissionSet::all());
        assert_eq!(t.api_version, ApiVersion::LATEST);
        assert_eq!(t.created_by, None);
        let no_env = TokenRequest { environment: None, ..request(&words) };
        assert_eq!(validate(&no_env, issuer, now).unwrap_err().field, TokenField::Environment);
    }

    #[test]
    fn each_surface_spells_the_field() {
        let monimeer = MonimeerId::generate();
        let words = vec!["nope:read".to_owned()];
        let issuer = Issuer::Operator { monimeer: &monimeer };
        let blank = TokenRequest { name: " ", ..request(&words) };
        let e = validate(&blank, issuer, time_fmt::now()).unwrap_err();
        assert_eq!(e.message(|f| format!("`{}`", f.api_name())), "`name` must be 1 to 100 characters");
        assert_eq!(e.message(|f| f.flag().to_owned()), "--name must be 1 to 100 characters");
        let e = validate(&request(&words), issuer, time_fmt::now()).unwrap_err();
        assert_eq!((e.field, e.reason), (TokenField::Permissions, "unknown_permission"));
        let both = Expiry::from_fields(true, Some("2030-01-01T00:00:00Z")).unwrap_err();
        assert_eq!(both.message(|f| format!("`{}`", f.api_name())), "give `expireTime` or `neverExpires`, not both");
    }
}
