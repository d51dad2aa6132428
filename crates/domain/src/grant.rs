//! The rule for requests that hand out power (a role to a member, permissions to a custom role, a
//! Space policy): a grant never exceeds what the request itself holds, on any axis.
//!
//! What a request holds is its token's permissions ∩ the caller's role, in the token's
//! environment, for as long as the token is not retiring. Membership and roles span both
//! environments (a member's live token uses the same role as their test token), so a change to who
//! governs a Space is a live act: it needs a live token. A token in its rotation grace is on its
//! way out and governs nothing.

use crate::entities::AccessToken;
use crate::permission::{Permission, PermissionSet};
use crate::Environment;

/// What a request may hand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authority {
    /// token ∩ role.
    pub permissions: PermissionSet,
    pub environment: Environment,
    /// The token has been rotated and works only until its grace ends.
    pub retiring: bool,
}

/// Why a grant was refused; each has its own stable `reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRefusal {
    /// Space governance changes reach both environments: a test token cannot make them.
    LiveTokenRequired,
    /// A token in its rotation grace cannot grant or mint anything.
    TokenRetiring,
    /// Making, demoting or removing an owner needs `space-ownership:write` in token ∩ role.
    OwnershipRequired,
    /// The grant holds permissions the request does not (their words).
    AboveOwn(Vec<&'static str>),
    /// The member or role being changed already holds more than the request does.
    TargetAboveOwn(Vec<&'static str>),
}

impl GrantRefusal {
    pub fn reason(&self) -> &'static str {
        match self {
            GrantRefusal::LiveTokenRequired => "live_token_required",
            GrantRefusal::TokenRetiring => "token_retiring",
            GrantRefusal::OwnershipRequired => "ownership_change_requires_owner",
            GrantRefusal::AboveOwn(_) => "role_above_own",
            GrantRefusal::TargetAboveOwn(_) => "target_above_own",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            GrantRefusal::LiveTokenRequired => {
                "members, roles and policies apply to both environments: change them with a live token"
            }
            GrantRefusal::TokenRetiring => {
                "this token has been rotated and is in its grace period: it cannot grant or mint anything"
            }
            GrantRefusal::OwnershipRequired => {
                "making, demoting or removing an owner needs `space-ownership:write` in both your token and your role"
            }
            GrantRefusal::AboveOwn(_) => "you cannot grant permissions that your token and role do not both hold",
            GrantRefusal::TargetAboveOwn(_) => {
                "the member or role you are changing holds permissions that your token and role do not both hold"
            }
        }
    }

    /// The permission words a refusal names, if any.
    pub fn permissions(&self) -> &[&'static str] {
        match self {
            GrantRefusal::AboveOwn(w) | GrantRefusal::TargetAboveOwn(w) => w,
            _ => &[],
        }
    }
}

/// A role as a grant sees it: what it allows, and whether it confers ownership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grantable {
    pub permissions: PermissionSet,
    pub owner: bool,
}

impl Grantable {
    pub fn new(permissions: PermissionSet, owner: bool) -> Self {
        // A custom role carrying `space-ownership:write` is ownership by another name.
        Grantable { permissions, owner: owner || permissions.contains(Permission::SpaceOwnershipWrite) }
    }
}

fn extra(set: PermissionSet, own: PermissionSet) -> Vec<&'static str> {
    set.iter().filter(|p| !own.contains(*p)).map(Permission::word).collect()
}

impl Authority {
    /// The authority of a request made with `token` by a member whose role grants `role`.
    pub fn of(token: &AccessToken, role: PermissionSet) -> Authority {
        Authority {
            permissions: token.permissions.intersect(role),
            environment: token.environment,
            retiring: token.revoked_at.is_some(),
        }
    }

    /// May this request change who governs the Space at all?
    pub fn governs(&self) -> Result<(), GrantRefusal> {
        if self.retiring {
            return Err(GrantRefusal::TokenRetiring);
        }
        if self.environment != Environment::Live {
            return Err(GrantRefusal::LiveTokenRequired);
        }
        Ok(())
    }

    fn covers(&self, g: Grantable, refusal: fn(Vec<&'static str>) -> GrantRefusal) -> Result<(), GrantRefusal> {
        if g.owner && !self.permissions.contains(Permission::SpaceOwnershipWrite) {
            return Err(GrantRefusal::OwnershipRequired);
        }
        let extra = extra(g.permissions, self.permissions);
        if extra.is_empty() {
            Ok(())
        } else {
            Err(refusal(extra))
        }
    }

    /// Changing a member from `current` (none: adding them) to `new` (none: removing them).
    /// Leaving a Space oneself needs no authority over one's own role.
    pub fn change_member(
        &self,
        current: Option<Grantable>,
        new: Option<Grantable>,
        oneself: bool,
    ) -> Result<(), GrantRefusal> {
        self.governs()?;
        if let Some(current) = current.filter(|_| !(oneself && new.is_none())) {
            self.covers(current, GrantRefusal::TargetAboveOwn)?;
        }
        if let Some(new) = new {
            self.covers(new, GrantRefusal::AboveOwn)?;
        }
        Ok(())
    }

    /// Defining, editing (`old` is the role before) or deleting (`new` is empty) a custom role.
    pub fn change_role(&self, old: Option<PermissionSet>, new: PermissionSet) -> Result<(), GrantRefusal> {
        self.governs()?;
        // Permission by permission: `space-ownership:write` in a role is covered like any other
        // word (a request that lacks it is told which words it lacks).
        let plain = |permissions| Grantable { permissions, owner: false };
        if let Some(old) = old {
            self.covers(plain(old), GrantRefusal::TargetAboveOwn)?;
        }
        self.covers(plain(new), GrantRefusal::AboveOwn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::BuiltinRole;
    use proptest::prelude::*;

    fn set(bits: u64) -> PermissionSet {
        Permission::ALL.iter().copied().filter(|p| bits & (1 << *p as u8) != 0).collect()
    }

    #[test]
    fn a_one_permission_token_cannot_make_an_owner() {
        let token_perms: PermissionSet = [Permission::SpaceMembersWrite].into_iter().collect();
        let a = Authority {
            permissions: token_perms.intersect(BuiltinRole::Owner.permissions()),
            environment: Environment::Live,
            retiring: false,
        };
        let owner = Grantable::new(BuiltinRole::Owner.permissions(), true);
        assert_eq!(a.change_member(None, Some(owner), false), Err(GrantRefusal::OwnershipRequired));
        let test = Authority { environment: Environment::Test, ..a };
        assert_eq!(test.change_member(None, None, true), Err(GrantRefusal::LiveTokenRequired));
        let retiring = Authority { retiring: true, ..a };
        assert_eq!(retiring.governs(), Err(GrantRefusal::TokenRetiring));
    }

    proptest! {
        /// Whatever is accepted lies within token ∩ role, in live, by a token not retiring.
        #[test]
        fn an_accepted_grant_never_exceeds_the_request(
            token in any::<u64>(), role in any::<u64>(), current in any::<u64>(), new in any::<u64>(),
            live in any::<bool>(), retiring in any::<bool>(), owner_now in any::<bool>(), owner_next in any::<bool>(),
        ) {
            let token_set = set(token);
            let a = Authority::of(
                &crate::entities::AccessToken {
                    environment: if live { Environment::Live } else { Environment::Test },
                    permissions: token_set,
                    revoked_at: retiring.then(crate::time_fmt::now),
                    ..sample_token()
                },
                set(role),
            );
            let (c, n) = (Grantable::new(set(current), owner_now), Grantable::new(set(new), owner_next));
            if a.change_member(Some(c), Some(n), false).is_ok() {
                prop_assert!(live && !retiring);
                prop_assert!(n.permissions.is_subset_of(token_set) && n.permissions.is_subset_of(set(role)));
                prop_assert!(c.permissions.is_subset_of(token_set.intersect(set(role))));
                if n.owner || c.owner {
                    prop_assert!(token_set.contains(Permission::SpaceOwnershipWrite));
                    prop_assert!(set(role).contains(Permission::SpaceOwnershipWrite));
                }
            }
            if a.change_role(Some(set(current)), set(new)).is_ok() {
                prop_assert!(set(new).union(set(current)).is_subset_of(token_set.intersect(set(role))));
            }
        }
    }

    use crate::entities::sample_token;
}
