//! Tenant scoping composed once: a query on a tenant's rows writes `$TENANT` where its Space and
//! environment predicate goes, and [`scoped`] writes that predicate and binds both values (after
//! the query's own parameters), so a tenant query cannot be written without them.

use openmonime_domain::entities::Tenant;
use sqlx::any::{AnyArguments, AnyQueryResult, AnyRow};
use sqlx::error::BoxDynError;
use sqlx::{Any, Arguments, Encode, Executor, Type};

/// Where a tenant query's Space-and-environment predicate goes.
const MARK: &str = "$TENANT";

/// A statement scoped to one tenant, collecting its own parameters until it runs.
pub(crate) struct Scoped<'q> {
    sql: String,
    args: AnyArguments<'q>,
    tenant: &'q Tenant,
    /// The first parameter that could not be encoded: reported when the statement runs, as
    /// `sqlx::query` does.
    error: Option<BoxDynError>,
}

/// `sql` with its `$TENANT` mark replaced by `space_id = $n AND environment = $n+1`, numbered
/// after the statement's own highest parameter.
pub(crate) fn scoped<'q>(sql: &str, tenant: &'q Tenant) -> Scoped<'q> {
    let marked = sql.split_once(MARK).filter(|(_, after)| !after.contains(MARK));
    let (before, after) = marked.unwrap_or_else(|| panic!("a tenant query marks its scope once: {sql}"));
    let own = highest_parameter(before).max(highest_parameter(after));
    let sql = format!("{before}space_id = ${} AND environment = ${}{after}", own + 1, own + 2);
    Scoped { sql, args: AnyArguments::default(), tenant, error: None }
}

fn highest_parameter(sql: &str) -> usize {
    sql.split('$')
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

impl<'q> Scoped<'q> {
    /// Binds the next of the statement's own parameters (`$1`, `$2`, … in order).
    pub(crate) fn bind<T: 'q + Encode<'q, Any> + Type<Any>>(mut self, value: T) -> Self {
        if let Err(e) = self.args.add(value) {
            self.error.get_or_insert(e);
        }
        self
    }

    /// The parameters with the tenant's two appended.
    fn arguments(mut self) -> Result<(String, AnyArguments<'q>), sqlx::Error> {
        if let Some(e) = self.error {
            return Err(sqlx::Error::Encode(e));
        }
        for value in [self.tenant.space_id.as_str(), self.tenant.environment.as_str()] {
            self.args.add(value).map_err(sqlx::Error::Encode)?;
        }
        Ok((self.sql, self.args))
    }

    pub(crate) async fn execute<'c, E: Executor<'c, Database = Any>>(
        self,
        on: E,
    ) -> Result<AnyQueryResult, sqlx::Error> {
        let (sql, args) = self.arguments()?;
        sqlx::query_with(&sql, args).execute(on).await
    }

    pub(crate) async fn fetch_optional<'c, E: Executor<'c, Database = Any>>(
        self,
        on: E,
    ) -> Result<Option<AnyRow>, sqlx::Error> {
        let (sql, args) = self.arguments()?;
        sqlx::query_with(&sql, args).fetch_optional(on).await
    }

    pub(crate) async fn fetch_one<'c, E: Executor<'c, Database = Any>>(self, on: E) -> Result<AnyRow, sqlx::Error> {
        let (sql, args) = self.arguments()?;
        sqlx::query_with(&sql, args).fetch_one(on).await
    }

    pub(crate) async fn fetch_all<'c, E: Executor<'c, Database = Any>>(
        self,
        on: E,
    ) -> Result<Vec<AnyRow>, sqlx::Error> {
        let (sql, args) = self.arguments()?;
        sqlx::query_with(&sql, args).fetch_all(on).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openmonime_domain::ids::SpaceId;
    use openmonime_domain::Environment;

    #[test]
    fn the_predicate_is_numbered_after_the_statements_own_parameters() {
        let tenant = Tenant { space_id: SpaceId::generate(), environment: Environment::Test };
        let q = scoped("SELECT 1 FROM t WHERE id = $1 AND $TENANT AND (x <= $3 - $2)", &tenant);
        assert_eq!(q.sql, "SELECT 1 FROM t WHERE id = $1 AND space_id = $4 AND environment = $5 AND (x <= $3 - $2)");
        let q = scoped("SELECT 1 FROM t WHERE $TENANT", &tenant);
        assert_eq!(q.sql, "SELECT 1 FROM t WHERE space_id = $1 AND environment = $2");
    }

    #[test]
    #[should_panic(expected = "marks its scope once")]
    fn a_tenant_query_without_its_mark_cannot_be_built() {
        let tenant = Tenant { space_id: SpaceId::generate(), environment: Environment::Live };
        let _ = scoped("SELECT 1 FROM t WHERE id = $1", &tenant);
    }

    #[test]
    #[should_panic(expected = "marks its scope once")]
    fn a_tenant_query_cannot_mark_its_scope_twice() {
        let tenant = Tenant { space_id: SpaceId::generate(), environment: Environment::Live };
        let _ = scoped("SELECT 1 FROM t WHERE $TENANT OR $TENANT", &tenant);
    }
}
