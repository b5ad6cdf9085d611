//! Checks that a typed model reads and writes the JSON the real producers write.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// `v` without object entries whose value is null: a typed model leaves
/// out what a producer may write as null.
pub fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            Value::Object(o.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// `json` reads as a `T` and is written back as the same JSON (nulls aside).
pub fn assert_round_trips<T: DeserializeOwned + Serialize>(json: &Value) {
    let typed: T =
        serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{e}: the typed model refuses {json}"));
    let back = serde_json::to_value(&typed).expect("a typed value serializes");
    assert_eq!(without_nulls(&back), without_nulls(json), "the typed model changes {json}");
}
