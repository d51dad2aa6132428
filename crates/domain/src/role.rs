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

/// A role's name: one of the built-in roles, or a Space's custom role (a name that can exist).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RoleName {
    Builtin(BuiltinRole),
    Custom(String),
}

impl RoleName {
    /// A built-in role's name, or a valid custom name; `None` for a name no role can have.
    pub fn parse(s: &str) -> Option<Self> {
        match BuiltinRole::parse(s) {
            Some(b) => Some(RoleName::Builtin(b)),
            None if is_valid_custom_name(s) => Some(RoleName::Custom(s.to_owned())),
            None => None,
        }
    }

    /// A name as the database holds it: what it wrote, so a custom name is taken as it is.
    pub fn stored(s: &str) -> Self {
        BuiltinRole::parse(s).map(RoleName::Builtin).unwrap_or_else(|| RoleName::Custom(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            RoleName::Builtin(b) => b.name(),
            RoleName::Custom(name) => name,
        }
    }

    pub fn builtin(&self) -> Option<BuiltinRole> {
        match self {
            RoleName::Builtin(b) => Some(*b),
            RoleName::Custom(_) => None,
        }
    }

    pub fn is_owner(&self) -> bool {
        self.builtin() == Some(BuiltinRole::Owner)
    }
}

impl std::fmt::Display for RoleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name is written as its word.
impl Serialize for RoleName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn role_names_are_builtin_custom_or_impossible() {
        use super::{BuiltinRole, RoleName};
        assert_eq!(RoleName::parse("owner"), Some(RoleName::Builtin(BuiltinRole::Owner)));
        assert_eq!(RoleName::parse("book-keeper"), Some(RoleName::Custom("book-keeper".into())));
        for impossible in ["", "Owner", "1st", "a b", &"x".repeat(41)] {
            assert_eq!(RoleName::parse(impossible), None, "{impossible:?}");
        }
        assert!(RoleName::parse("owner").unwrap().is_owner());
        assert_eq!(RoleName::stored("viewer").as_str(), "viewer");
    }

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
