//! Conversions between domain values and the plain `TEXT`/`BIGINT` columns both backends share.

use crate::error::{StoreError, StoreResult};
use openmonime_domain::money::Currency;
use openmonime_domain::permission::PermissionSet;
use openmonime_domain::time_fmt;
use openmonime_domain::Environment;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::Row;
use time::OffsetDateTime;

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

/// A row's columns by name, from either driver: sqlx's (every query) or rusqlite's (SQLite's hot
/// reads, see `fast_read`), so a row is decoded by one function whichever read it.
pub(crate) trait Columns {
    fn get_text(&self, col: &str) -> StoreResult<Option<String>>;
    fn get_int(&self, col: &str) -> StoreResult<Option<i64>>;
}

impl Columns for AnyRow {
    fn get_text(&self, col: &str) -> StoreResult<Option<String>> {
        Ok(self.try_get::<Option<String>, _>(col)?)
    }

    fn get_int(&self, col: &str) -> StoreResult<Option<i64>> {
        Ok(self.try_get::<Option<i64>, _>(col)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn get_text(&self, col: &str) -> StoreResult<Option<String>> {
        crate::fast_read::column(self, col)
    }

    fn get_int(&self, col: &str) -> StoreResult<Option<i64>> {
        crate::fast_read::column(self, col)
    }
}

pub(crate) fn text<R: Columns + ?Sized>(row: &R, col: &str) -> StoreResult<String> {
    row.get_text(col)?.ok_or_else(|| corrupt(col))
}

pub(crate) fn opt_text<R: Columns + ?Sized>(row: &R, col: &str) -> StoreResult<Option<String>> {
    row.get_text(col)
}

pub(crate) fn int<R: Columns + ?Sized>(row: &R, col: &str) -> StoreResult<i64> {
    row.get_int(col)?.ok_or_else(|| corrupt(col))
}

pub(crate) fn time<R: Columns + ?Sized>(row: &R, col: &str) -> StoreResult<OffsetDateTime> {
    Ok(time_fmt::from_micros(int(row, col)?))
}

pub(crate) fn opt_time<R: Columns + ?Sized>(row: &R, col: &str) -> StoreResult<Option<OffsetDateTime>> {
    Ok(row.get_int(col)?.map(time_fmt::from_micros))
}

pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    time_fmt::to_micros(t)
}

pub(crate) fn environment<R: Columns + ?Sized>(row: &R, col: &str) -> StoreResult<Environment> {
    Environment::parse(&text(row, col)?).ok_or_else(|| corrupt(col))
}

pub(crate) fn currency<R: Columns + ?Sized>(row: &R, col: &str) -> StoreResult<Currency> {
    Currency::parse(&text(row, col)?).ok_or_else(|| corrupt(col))
}

pub(crate) fn id<T, R: Columns + ?Sized>(row: &R, col: &str, parse: fn(&str) -> Option<T>) -> StoreResult<T> {
    parse(&text(row, col)?).ok_or_else(|| corrupt(col))
}

/// An optional id column; a present value that does not parse is corruption.
pub(crate) fn opt_id<T, R: Columns + ?Sized>(
    row: &R,
    col: &str,
    parse: fn(&str) -> Option<T>,
) -> StoreResult<Option<T>> {
    opt_text(row, col)?.map(|s| parse(&s).ok_or_else(|| corrupt(col))).transpose()
}

pub(crate) fn json_map<R: Columns + ?Sized>(row: &R, col: &str) -> StoreResult<Option<Map<String, Value>>> {
    match opt_text(row, col)? {
        None => Ok(None),
        Some(s) => serde_json::from_str(&s).map(Some).map_err(|_| corrupt(col)),
    }
}

/// A non-null JSON column decoded as `T`; anything else is a corrupt row.
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> StoreResult<T> {
    serde_json::from_str(&text(row, col)?).map_err(|_| corrupt(col))
}

pub(crate) fn encode_json_map(map: &Option<Map<String, Value>>) -> Option<String> {
    map.as_ref().map(|m| Value::Object(m.clone()).to_string())
}

/// Permissions are stored as their explicit words, space-separated.
pub(crate) fn permissions<R: Columns + ?Sized>(row: &R, col: &str) -> StoreResult<PermissionSet> {
    let words = text(row, col)?;
    let words: Vec<&str> = words.split_whitespace().collect();
    PermissionSet::expand(&words).map_err(|_| corrupt(col))
}

pub(crate) fn encode_permissions(set: PermissionSet) -> String {
    set.words().join(" ")
}
