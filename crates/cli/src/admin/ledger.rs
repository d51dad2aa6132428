//! `admin ledger …`: the only way money enters the ledger, and the ledger's invariant check.

use super::{env_of, parse, store_err, Outcome};
use clap::Subcommand;
use openmonime_domain::entities::Tenant;
use openmonime_domain::ids::{FinancialAccountId, SpaceId};
use openmonime_store::journal::Actor;
use openmonime_store::Store;
use serde_json::json;

#[derive(Subcommand)]
pub(super) enum LedgerCommand {
    /// Credit an account (minor units): the only way money enters the ledger. Audited.
    Credit {
        #[arg(long)]
        space: String,
        #[arg(long)]
        env: String,
        #[arg(long)]
        account: String,
        #[arg(long)]
        amount: i64,
        #[arg(long)]
        reference: Option<String>,
    },
    /// Check every ledger invariant; exits non-zero if one is broken.
    Verify,
}

pub(super) async fn run(store: &Store, cmd: LedgerCommand) -> Result<Outcome, String> {
    Ok(match cmd {
        LedgerCommand::Credit { space, env, account, amount, reference } => {
            let tenant = Tenant { space_id: parse("Space id", &space, SpaceId::parse)?, environment: env_of(&env)? };
            let account = parse("financial account id", &account, FinancialAccountId::parse)?;
            if amount <= 0 {
                return Err("--amount must be a positive integer in minor units".into());
            }
            if reference.as_ref().is_some_and(|r| r.is_empty() || r.len() > 64) {
                return Err("--reference must be 1 to 64 characters".into());
            }
            let entry = store
                .credit_account(&tenant, &account, amount, reference.as_deref(), &Actor::Operator)
                .await
                .map_err(store_err)?;
            json!({
                "id": entry.id,
                "type": entry.kind.as_str(),
                "amount": {"currency": entry.amount.currency.code(), "value": entry.amount.value},
                "reference": entry.reference,
                "financialAccountId": entry.account_id,
                "balanceAfter": entry.balance_after,
                "ownershipGraph": {"owner": {"id": entry.owner.id, "type": entry.owner.kind.as_str()}},
            })
            .into()
        }
        LedgerCommand::Verify => {
            let report = store.verify_ledger().await.map_err(store_err)?;
            let ok = report.is_consistent();
            let mut value = serde_json::to_value(&report).map_err(|e| e.to_string())?;
            value["consistent"] = json!(ok);
            Outcome { value, ok }
        }
    })
}
