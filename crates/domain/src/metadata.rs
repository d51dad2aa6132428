//! Metadata: a small map of string keys to string values attached to objects.

use crate::validation::Validation;
use serde_json::{Map, Value};

pub const MAX_ENTRIES: usize = 64;
pub const MAX_KEY_CHARS: usize = 64;
pub const MAX_VALUE_CHARS: usize = 100;

/// Checks the platform's limits: at most 64 entries, keys of at most 64 characters, values that
/// are strings of at most 100 characters.
pub fn validate(field: &str, metadata: Option<&Map<String, Value>>, v: &mut Validation) {
    let Some(map) = metadata else { return };
    if map.len() > MAX_ENTRIES {
        v.push(field, "too_many_entries", format!("`{field}` may hold at most {MAX_ENTRIES} entries"));
    }
    for (key, value) in map {
        let path = format!("{field}.{key}");
        if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
            v.push(path.clone(), "invalid_key", format!("metadata keys must be 1 to {MAX_KEY_CHARS} characters"));
        }
        match value {
            Value::String(s) if s.chars().count() <= MAX_VALUE_CHARS => {}
            Value::String(_) => {
                v.push(path, "too_long", format!("metadata values must be at most {MAX_VALUE_CHARS} characters"))
            }
            _ => v.push(path, "not_a_string", "metadata values must be strings"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value) -> Vec<&'static str> {
        let mut val = Validation::new();
        validate("metadata", v.as_object(), &mut val);
        val.finish().err().unwrap_or_default().into_iter().map(|e| e.reason).collect()
    }

    #[test]
    fn limits() {
        assert!(check(json!({"a": "b"})).is_empty());
        assert_eq!(check(json!({"a": 1})), vec!["not_a_string"]);
        assert_eq!(check(json!({"a": "x".repeat(101)})), vec!["too_long"]);
        assert_eq!(check(json!({"k".repeat(65): "v"})), vec!["invalid_key"]);
        let many: Map<String, Value> = (0..65).map(|i| (i.to_string(), json!("v"))).collect();
        assert_eq!(check(Value::Object(many)), vec!["too_many_entries"]);
    }
}
