//! The console's Space pages: members and their roles, custom roles (an edit shows whom and
//! which tokens it reaches before it is saved), the token policies, and the audit log.
//!
//! Each change calls the store method its API twin calls, with the values checked by the same
//! functions (`handlers::space_roles`, `handlers::space_policies`); the store decides grants
//! inside the write, against the person's role.

use super::{back, page, shown_time, Answer, Console, Frame, Posted, Refusal};
use crate::handlers::{space_policies, space_roles};
use crate::views::space::UpdateSpacePolicies;
use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use openmonime_domain::entities::TokenStatus;
use openmonime_domain::ids::MonimeerId;
use openmonime_domain::permission::{Permission, PermissionSet};
use openmonime_domain::role::RoleName;
use openmonime_domain::time_fmt;
use openmonime_store::audit::AuditFilter;
use openmonime_store::identity::AuthChange;
use openmonime_store::PageRequest;
use serde::Deserialize;

pub struct MemberRow {
    pub monimeer: String,
    pub name: String,
    pub email: String,
    pub role: String,
}

#[derive(Template)]
#[template(path = "console/members.html")]
struct MembersPage {
    frame: Frame,
    base: String,
    members: Vec<MemberRow>,
    roles: Vec<String>,
    may_write: bool,
}

async fn role_names(console: &Console) -> Result<Vec<String>, Refusal> {
    let here = console.in_space()?;
    Ok(console.state.store.list_roles(&here.tenant.space_id).await?.into_iter().map(|r| r.name).collect())
}

/// `GET …/members`.
pub async fn members(console: Console) -> Answer {
    let here = console.in_space()?;
    let members = console.state.store.list_members(&here.tenant.space_id).await?;
    let mut rows = Vec::with_capacity(members.len());
    for m in members {
        let person = console.state.store.get_monimeer(&m.monimeer_id).await?;
        rows.push(MemberRow {
            monimeer: m.monimeer_id.to_string(),
            name: person.name,
            email: person.email.unwrap_or_default(),
            role: m.role.as_str().to_owned(),
        });
    }
    let page_ = MembersPage {
        frame: Frame::new(&console, "members"),
        base: console.base(),
        members: rows,
        roles: role_names(&console).await?,
        may_write: console.may(Permission::SpaceMembersWrite),
    };
    Ok(page(&page_.frame, &page_))
}

fn monimeer(raw: &str) -> Result<MonimeerId, Refusal> {
    MonimeerId::parse(raw)
        .ok_or_else(|| Refusal::new(StatusCode::BAD_REQUEST, "invalid_id", "a Monimeer id looks like `mmr-…`"))
}

fn role(raw: Option<&str>) -> Result<RoleName, Refusal> {
    raw.and_then(RoleName::parse)
        .ok_or_else(|| Refusal::from(openmonime_store::StoreError::Conflict(openmonime_store::Conflict::RoleUnknown)))
}

/// After a membership change: the member's next request, on every node, sees it.
fn changed(console: &Console, who: &MonimeerId) -> Answer {
    let here = console.in_space()?;
    console.state.auth.invalidate(&AuthChange::Membership(here.tenant.space_id.clone(), who.clone()));
    Ok(back(format!("{}/members", console.base())))
}

/// `POST …/members`: adds a Monimeer with a role.
pub async fn add_member(Posted { console, fields }: Posted) -> Answer {
    let here = console.in_space()?;
    let who = monimeer(fields.get("monimeerId").unwrap_or(""))?;
    let role = role(fields.get("role"))?;
    console.state.store.add_member(&here.tenant.space_id, &who, &role, &console.actor()).await.map_err(
        |e| match e {
            openmonime_store::StoreError::NotFound => {
                Refusal::new(StatusCode::BAD_REQUEST, "monimeer_not_found", "no Monimeer has that id")
            }
            other => other.into(),
        },
    )?;
    changed(&console, &who)
}

/// `POST …/members/{monimeer}/role`.
pub async fn set_role(Posted { console, fields }: Posted) -> Answer {
    let here = console.in_space()?;
    let who = monimeer(console.param("monimeer"))?;
    let role = role(fields.get("role"))?;
    console.state.store.set_member_role(&here.tenant.space_id, &who, &role, &console.actor()).await?;
    changed(&console, &who)
}

/// `POST …/members/{monimeer}/remove`.
pub async fn remove_member(Posted { console, .. }: Posted) -> Answer {
    let here = console.in_space()?;
    let who = monimeer(console.param("monimeer"))?;
    console.state.store.remove_member(&here.tenant.space_id, &who, &console.actor()).await?;
    changed(&console, &who)
}

pub struct RoleRow {
    pub name: String,
    pub builtin: bool,
    pub permissions: String,
    pub members: i64,
}

/// What saving a role edit would reach, shown before it is saved.
pub struct Preview {
    pub name: String,
    pub permissions: Vec<String>,
    /// Who holds the role (empty unless the viewer may read the members).
    pub members: Vec<String>,
    /// Their active tokens usable here (empty unless the viewer may review tokens).
    pub tokens: Vec<String>,
    /// How many members and tokens the edit reaches, shown to everyone who may make it.
    pub impact: openmonime_store::management::RoleImpact,
}

#[derive(Template)]
#[template(path = "console/roles.html")]
struct RolesPage {
    frame: Frame,
    base: String,
    roles: Vec<RoleRow>,
    may_write: bool,
    words: Vec<&'static str>,
    preview: Option<Preview>,
}

async fn roles_page(console: &Console, preview: Option<Preview>) -> Answer {
    let here = console.in_space()?;
    let roles = console.state.store.list_roles(&here.tenant.space_id).await?;
    let page_ = RolesPage {
        frame: Frame::new(console, "roles"),
        base: console.base(),
        roles: roles
            .into_iter()
            .map(|r| RoleRow {
                name: r.name,
                builtin: r.builtin,
                permissions: if r.permissions == PermissionSet::all() {
                    "all permissions".into()
                } else {
                    r.permissions.words().join(", ")
                },
                members: r.members,
            })
            .collect(),
        may_write: console.may(Permission::SpaceRolesWrite),
        words: Permission::ALL.iter().map(|p| p.word()).collect(),
        preview,
    };
    Ok(page(&page_.frame, &page_))
}

/// `GET …/roles`.
pub async fn roles(console: Console) -> Answer {
    roles_page(&console, None).await
}

/// `POST …/roles`: creates a custom role, or edits one. An edit of a role that members hold is
/// first shown — who holds it and which of their tokens act here — and saved only when confirmed.
pub async fn save_role(Posted { console, fields }: Posted) -> Answer {
    let here = console.in_space()?;
    let name = fields.get("name").unwrap_or("").to_owned();
    space_roles::valid_name(&name)?;
    let words: Vec<String> = fields.all("permission").map(str::to_owned).collect();
    let set = space_roles::permissions(&words)?;
    let space = here.tenant.space_id.clone();
    let store = &console.state.store;
    let existing = store.list_roles(&space).await?.into_iter().find(|r| r.name == name);
    let Some(existing) = existing else {
        store.create_role(&space, &RoleName::stored(&name), set, &console.actor()).await?;
        return Ok(back(format!("{}/roles", console.base())));
    };
    if existing.builtin {
        return Err(openmonime_store::StoreError::Conflict(openmonime_store::Conflict::RoleBuiltin).into());
    }
    if !fields.checked("confirm") {
        // The grant is checked before anything is shown: an edit the store would refuse shows
        // nothing of who holds the role.
        if let Some(by) = console.actor().authority() {
            by.change_role(Some(existing.permissions), set).map_err(|refusal| {
                Refusal::from(crate::error::ApiError::from(openmonime_store::StoreError::Refused(refusal)))
            })?;
        }
        let impact = store.role_impact(&space, &name).await?;
        // Who holds it is shown to those who may read the members; their tokens, to those who
        // may review them (as on the review page). Others see the counts.
        let holders: Vec<String> = if console.may(Permission::SpaceMembersRead) {
            store
                .list_members(&space)
                .await?
                .into_iter()
                .filter(|m| m.role.as_str() == name)
                .map(|m| m.monimeer_id.to_string())
                .collect()
        } else {
            Vec::new()
        };
        let tokens = if console.may(Permission::SpaceMembersWrite) {
            let now = time_fmt::now();
            store
                .list_space_tokens(&space)
                .await?
                .into_iter()
                .filter(|t| t.status(now) == TokenStatus::Active && holders.contains(&t.monimeer_id.to_string()))
                .map(|t| format!("{} ({}, {})", t.name, t.hint, t.monimeer_id))
                .collect()
        } else {
            Vec::new()
        };
        let preview = Preview { name, permissions: words, members: holders, tokens, impact };
        return roles_page(&console, Some(preview)).await;
    }
    store.update_role(&space, &RoleName::stored(&name), set, &console.actor()).await?;
    console.state.auth.invalidate(&AuthChange::SpaceRoles(space));
    Ok(back(format!("{}/roles", console.base())))
}

#[derive(Template)]
#[template(path = "console/policies.html")]
struct PoliciesPage {
    frame: Frame,
    base: String,
    max_lifetime: String,
    allow_unbound: bool,
    revoke_exposed: bool,
    idle_expiry: String,
    may_write: bool,
}

/// `GET …/policies`.
pub async fn policies(console: Console) -> Answer {
    let here = console.in_space()?;
    let policy = console.state.store.get_policy(&here.tenant.space_id).await?;
    let seconds = |s: Option<i64>| s.map(|s| s.to_string()).unwrap_or_default();
    let page_ = PoliciesPage {
        frame: Frame::new(&console, "policies"),
        base: console.base(),
        max_lifetime: seconds(policy.max_token_lifetime_seconds),
        allow_unbound: policy.allow_unbound_tokens,
        revoke_exposed: policy.revoke_exposed_tokens,
        idle_expiry: seconds(policy.idle_token_expiry_seconds),
        may_write: console.may(Permission::SpacePoliciesWrite),
    };
    Ok(page(&page_.frame, &page_))
}

/// `POST …/policies`: every field of the form (an empty number means no limit).
pub async fn save_policies(Posted { console, fields }: Posted) -> Answer {
    let here = console.in_space()?;
    let number = |name: &str| -> Result<Option<i64>, Refusal> {
        fields
            .get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    Refusal::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_value",
                        format!("`{name}` must be a whole number of seconds"),
                    )
                })
            })
            .transpose()
    };
    let body = UpdateSpacePolicies {
        max_token_lifetime_seconds: Some(number("maxTokenLifetimeSeconds")?),
        allow_unbound_tokens: Some(fields.checked("allowUnboundTokens")),
        revoke_exposed_tokens: Some(fields.checked("revokeExposedTokens")),
        idle_token_expiry_seconds: Some(number("idleTokenExpirySeconds")?),
    };
    let patch = space_policies::patch_of(&body)?;
    let space = here.tenant.space_id.clone();
    console.state.store.update_policy(&space, patch, &console.actor()).await?;
    console.state.auth.invalidate(&AuthChange::SpaceRoles(space));
    Ok(back(format!("{}/policies", console.base())))
}

pub struct AuditRow {
    pub time: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub ip: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    frame: Frame,
    base: String,
    action: String,
    actor: String,
    rows: Vec<AuditRow>,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    action: Option<String>,
    actor: Option<String>,
    after: Option<i64>,
}

/// Rows per audit page.
const AUDIT_PAGE: u32 = 50;

/// `GET …/audit?action=&actor=&after=`: the newest first, 50 a page.
pub async fn audit(console: Console, Query(q): Query<AuditQuery>) -> Answer {
    let here = console.in_space()?;
    let clean = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let filter = AuditFilter { action: clean(&q.action), actor: clean(&q.actor) };
    let request = PageRequest { after: q.after, limit: AUDIT_PAGE };
    let found =
        console.state.store.list_audit(&here.tenant.space_id, here.tenant.environment, &filter, request).await?;
    let rows = found
        .items
        .into_iter()
        .map(|e| AuditRow {
            time: shown_time(Some(e.created_at), ""),
            actor: e.actor,
            action: e.action,
            subject: e.subject,
            ip: e.ip.unwrap_or_default(),
            detail: e.detail.map(|d| d.to_string()).unwrap_or_default(),
        })
        .collect();
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let (action, actor) = (filter.action.unwrap_or_default(), filter.actor.unwrap_or_default());
    let next = found.next_after.map(|after| {
        format!("{}/audit?action={}&actor={}&after={after}", console.base(), encode(&action), encode(&actor))
    });
    let page_ = AuditPage { frame: Frame::new(&console, "audit"), base: console.base(), action, actor, rows, next };
    Ok(page(&page_.frame, &page_))
}
