//! Built-in Space roles and what each grants.

use crate::permission::{Permission, PermissionSet};
use serde::{Deserialize, Serialize};

/// The roles every Space has. Custom roles (a named permission set) come from the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinRole {
    /// Everything, including making and removing owners.
    Owner,
    /// Everything except ownership changes.
    Admin,
    /// Read and write on every payment-API resource; reads Space settings; manages no members or roles.
    Developer,
    /// Read only.
    Viewer,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 4] =
        [BuiltinRole::Owner, BuiltinRole::Admin, BuiltinRole::Developer, BuiltinRole::Viewer];

    pub fn name(self) -> &'static str {
        match self {
            BuiltinRole::Owner => "owner",
            BuiltinRole::Admin => "admin",
            BuiltinRole::Developer => "developer",
            BuiltinRole::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == s)
    }

    pub fn permissions(self) -> PermissionSet {
        let all = Permission::ALL.iter().copied();
        match self {
            BuiltinRole::Owner => all.collect(),
            BuiltinRole::Admin => all.filter(|p| *p != Permission::SpaceOwnershipWrite).collect(),
            BuiltinRole::Developer => all
                .filter(|p| {
                    p.is_api_resource()
                        || matches!(
                            p,
                            Permission::AccessTokensRead
                                | Permission::AccessTokensWrite
                                | Permission::SpaceMembersRead
                                | Permission::SpaceRolesRead
                                | Permission::SpacePoliciesRead
                        )
                })
                .collect(),
            BuiltinRole::Viewer => all.filter(|p| p.is_read()).collect(),
        }
    }
}

/// A custom role's name: 1 to 40 lowercase letters, digits, `-` or `_`, starting with a letter.
pub fn is_valid_custom_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 40
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_nest() {
        let [o, a, d, v] = BuiltinRole::ALL.map(BuiltinRole::permissions);
        assert_eq!(o, PermissionSet::all());
        assert!(a.is_subset_of(o) && !a.contains(Permission::SpaceOwnershipWrite));
        assert!(d.is_subset_of(a) && !d.contains(Permission::SpaceMembersWrite));
        assert!(d.contains(Permission::InternalTransfersWrite));
        assert!(v.iter().all(Permission::is_read));
        assert!(!v.contains(Permission::FinancialAccountsWrite));
    }
}
