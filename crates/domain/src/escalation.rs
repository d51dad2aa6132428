//! The no-escalation rule for tokens made by tokens: a token may only create or rotate into a
//! token that is no broader than itself on any axis.

use crate::entities::{AccessToken, NewAccessToken};
use ipnet::IpNet;

/// The first axis on which a requested token would be broader than its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Escalation {
    /// Permissions the parent does not hold (their words).
    Permissions(Vec<String>),
    /// A different environment (test cannot mint live, nor the reverse).
    Environment,
    /// The parent is bound to a Space and the child is not bound to the same one.
    Space,
    /// The parent has an IP allowlist and the child's is missing or reaches outside it.
    IpAllowlist,
    /// The child would outlive the parent.
    Expiry,
    /// The parent limits money it moves and the child's limits are missing or higher.
    AmountLimit,
}

impl Escalation {
    /// The stable `reason` word the API reports.
    pub fn reason(&self) -> &'static str {
        match self {
            Escalation::Permissions(_) => "escalation_permissions",
            Escalation::Environment => "escalation_environment",
            Escalation::Space => "escalation_space",
            Escalation::IpAllowlist => "escalation_ip_allowlist",
            Escalation::Expiry => "escalation_expiry",
            Escalation::AmountLimit => "escalation_amount_limit",
        }
    }
}

fn within(child: &IpNet, parents: &[IpNet]) -> bool {
    parents.iter().any(|p| p.contains(child))
}

/// Checks every axis; `Ok` when the child is no broader than the parent.
pub fn check(parent: &AccessToken, child: &NewAccessToken) -> Result<(), Escalation> {
    let extra: Vec<String> =
        child.permissions.iter().filter(|p| !parent.permissions.contains(*p)).map(|p| p.word().to_owned()).collect();
    if !extra.is_empty() {
        return Err(Escalation::Permissions(extra));
    }
    if child.environment != parent.environment {
        return Err(Escalation::Environment);
    }
    if parent.space_id.is_some() && child.space_id != parent.space_id {
        return Err(Escalation::Space);
    }
    if !parent.allowed_ips.is_empty()
        && (child.allowed_ips.is_empty() || !child.allowed_ips.iter().all(|c| within(c, &parent.allowed_ips)))
    {
        return Err(Escalation::IpAllowlist);
    }
    if let Some(parent_expiry) = parent.expires_at {
        if child.expires_at.is_none_or(|c| c > parent_expiry) {
            return Err(Escalation::Expiry);
        }
    }
    if !crate::amount_limit::within(&child.amount_limits, &parent.amount_limits) {
        return Err(Escalation::AmountLimit);
    }
    Ok(())
}

/// Whether `parent` may see and manage `other`: only a token it could have created itself (same
/// environment, within its Space binding, its allowlist, its expiry and its permissions). A test
/// token therefore never lists or revokes live tokens, nor a bound token the tokens of other Spaces.
pub fn manages(parent: &AccessToken, other: &AccessToken) -> bool {
    check(parent, &other.replacement()).is_ok()
}

/// A token in its rotation grace is on its way out: it mints nothing (no children, no second
/// successor), so a leaked token that was rotated away cannot keep a door open.
pub fn may_mint(parent: &AccessToken) -> bool {
    parent.revoked_at.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::TokenUsage;
    use crate::ids::*;
    use crate::permission::{Permission, PermissionSet};
    use crate::version::ApiVersion;
    use crate::{time_fmt, Environment};

    fn parent() -> AccessToken {
        AccessToken {
            id: TokenId::generate(),
            monimeer_id: MonimeerId::generate(),
            name: "p".into(),
            environment: Environment::Test,
            permissions: [Permission::FinancialAccountsRead, Permission::AccessTokensWrite].into_iter().collect(),
            space_id: Some(SpaceId::generate()),
            allowed_ips: vec!["10.0.0.0/8".parse().unwrap()],
            expires_at: Some(time_fmt::now() + time::Duration::days(10)),
            api_version: ApiVersion::LATEST,
            created_by: None,
            amount_limits: Vec::new(),
            hint: String::new(),
            created_at: time_fmt::now(),
            revoked_at: None,
            usage: TokenUsage::default(),
            exposure: None,
        }
    }

    fn child_of(p: &AccessToken) -> NewAccessToken {
        NewAccessToken {
            monimeer_id: p.monimeer_id.clone(),
            name: "c".into(),
            environment: p.environment,
            permissions: [Permission::FinancialAccountsRead].into_iter().collect(),
            space_id: p.space_id.clone(),
            allowed_ips: vec!["10.1.0.0/16".parse().unwrap()],
            expires_at: p.expires_at,
            api_version: p.api_version,
            created_by: Some(p.id.clone()),
            amount_limits: Vec::new(),
        }
    }

    #[test]
    fn each_axis_is_checked() {
        let p = parent();
        assert_eq!(check(&p, &child_of(&p)), Ok(()));
        let mut c = child_of(&p);
        c.permissions = PermissionSet::all();
        assert!(matches!(check(&p, &c), Err(Escalation::Permissions(w)) if w.contains(&"payouts:write".to_string())));
        let mut c = child_of(&p);
        c.environment = Environment::Live;
        assert_eq!(check(&p, &c), Err(Escalation::Environment));
        let mut c = child_of(&p);
        c.space_id = None;
        assert_eq!(check(&p, &c), Err(Escalation::Space));
        let mut c = child_of(&p);
        c.allowed_ips = vec![];
        assert_eq!(check(&p, &c), Err(Escalation::IpAllowlist));
        let mut c = child_of(&p);
        c.allowed_ips = vec!["0.0.0.0/0".parse().unwrap()];
        assert_eq!(check(&p, &c), Err(Escalation::IpAllowlist));
        let mut c = child_of(&p);
        c.expires_at = None;
        assert_eq!(check(&p, &c), Err(Escalation::Expiry));
    }

    #[test]
    fn a_token_manages_only_what_it_could_have_created() {
        let p = parent();
        assert!(manages(&p, &p));
        let mut live = p.clone();
        live.environment = Environment::Live;
        assert!(!manages(&p, &live));
        let mut elsewhere = p.clone();
        elsewhere.space_id = Some(SpaceId::generate());
        assert!(!manages(&p, &elsewhere));
        let mut retiring = p.clone();
        retiring.revoked_at = Some(time_fmt::now() + time::Duration::hours(1));
        assert!(!may_mint(&retiring) && may_mint(&p));
    }
}
