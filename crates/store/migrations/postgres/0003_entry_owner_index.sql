-- Ledger entries by the object that caused them (ledger verification, ownership look-ups).
CREATE INDEX financial_transactions_by_owner ON financial_transactions (owner_id);
