//! Field-level validation errors, collected so one 400 can name every offending field.

use serde::Serialize;

/// One invalid field: the wire name of the field (`amount.value`, `metadata.orderId`), a stable
/// snake_case reason, and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub reason: &'static str,
    pub message: String,
}

/// An accumulator of field errors.
#[derive(Debug, Default)]
pub struct Validation(Vec<FieldError>);

impl Validation {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, field: impl Into<String>, reason: &'static str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), reason, message: message.into() });
    }

    /// Requires `value` to have at most `max` characters.
    pub fn max_chars(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(v) = value {
            if v.chars().count() > max {
                self.push(field, "too_long", format!("`{field}` must be at most {max} characters"));
            }
        }
    }

    /// Requires `value`, when present, to be non-blank.
    pub fn not_blank(&mut self, field: &str, value: Option<&str>) {
        if let Some(v) = value {
            if v.trim().is_empty() {
                self.push(field, "blank", format!("`{field}` must not be empty"));
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}
