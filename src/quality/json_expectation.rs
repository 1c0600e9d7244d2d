//! What a request asked its answer to be: free text, any JSON, or JSON matching a schema
//! (`response_format` `json_object` or `json_schema`), with compiled schemas kept for reuse.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// Compiled schemas kept at most; past it the cache starts over (agents reuse a handful).
const CACHED_SCHEMAS: usize = 256;

/// What the answer of a request must be for `json_valid` to hold.
#[derive(Clone, Default)]
pub enum JsonExpectation {
    /// Free text: `json_valid` is not measured.
    #[default]
    Text,
    /// Any JSON value (`json_object`, or a schema that does not compile).
    Json,
    /// JSON matching the request's schema.
    Schema(Arc<jsonschema::Validator>),
}

impl std::fmt::Debug for JsonExpectation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JsonExpectation::Text => "Text",
            JsonExpectation::Json => "Json",
            JsonExpectation::Schema(_) => "Schema",
        })
    }
}

impl JsonExpectation {
    /// The expectation of a request whose `response_format` is `format` (if any).
    pub fn of_response_format(format: Option<&Value>, schemas: &SchemaCache) -> JsonExpectation {
        let Some(format) = format else {
            return JsonExpectation::Text;
        };
        match format.get("type").and_then(Value::as_str) {
            Some("json_object") => JsonExpectation::Json,
            Some("json_schema") => match format.get("json_schema").and_then(|s| s.get("schema")) {
                Some(schema) => schemas
                    .compiled(schema)
                    .map_or(JsonExpectation::Json, JsonExpectation::Schema),
                None => JsonExpectation::Json,
            },
            _ => JsonExpectation::Text,
        }
    }

    /// Whether `json_valid` is measured for this request.
    pub fn wants_json(&self) -> bool {
        !matches!(self, JsonExpectation::Text)
    }

    /// Whether `text` meets the expectation (`None` for free text).
    pub fn judge(&self, text: &str) -> Option<bool> {
        match self {
            JsonExpectation::Text => None,
            JsonExpectation::Json => Some(serde_json::from_str::<serde::de::IgnoredAny>(text.trim()).is_ok()),
            JsonExpectation::Schema(validator) => {
                Some(serde_json::from_str::<Value>(text.trim()).is_ok_and(|instance| validator.is_valid(&instance)))
            }
        }
    }
}

/// Compiled JSON schemas by the hash of their text, shared by every request of a router.
#[derive(Default)]
pub struct SchemaCache {
    compiled: Mutex<HashMap<u64, Arc<jsonschema::Validator>>>,
}

impl SchemaCache {
    /// The compiled form of `schema`, compiling it on first sight; `None` when it does not compile
    /// (the answer is then only checked to be JSON).
    pub fn compiled(&self, schema: &Value) -> Option<Arc<jsonschema::Validator>> {
        let mut hasher = DefaultHasher::new();
        schema.to_string().hash(&mut hasher);
        let key = hasher.finish();
        if let Some(found) = self.lock().get(&key) {
            return Some(found.clone());
        }
        let validator = Arc::new(jsonschema::validator_for(schema).ok()?);
        let mut compiled = self.lock();
        if compiled.len() >= CACHED_SCHEMAS {
            compiled.clear();
        }
        compiled.insert(key, validator.clone());
        Some(validator)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<jsonschema::Validator>>> {
        self.compiled.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expectation(format: Value) -> JsonExpectation {
        JsonExpectation::of_response_format(Some(&format), &SchemaCache::default())
    }

    #[test]
    fn free_text_is_not_judged() {
        let text = JsonExpectation::of_response_format(None, &SchemaCache::default());
        assert_eq!(text.judge("{not json"), None);
        assert_eq!(expectation(json!({"type": "text"})).judge("anything"), None);
    }

    #[test]
    fn json_object_needs_json() {
        let object = expectation(json!({"type": "json_object"}));
        assert_eq!(object.judge(" {\"a\": 1}\n"), Some(true));
        assert_eq!(object.judge("{\"a\": 1"), Some(false));
        assert_eq!(object.judge("Sure! {\"a\": 1}"), Some(false));
    }

    #[test]
    fn json_schema_needs_a_match() {
        let schema = expectation(json!({
            "type": "json_schema",
            "json_schema": {"name": "label", "strict": true, "schema": {
                "type": "object",
                "properties": {"label": {"type": "string", "enum": ["spam", "ham"]}},
                "required": ["label"],
                "additionalProperties": false
            }}
        }));
        assert!(matches!(schema, JsonExpectation::Schema(_)));
        assert_eq!(schema.judge("{\"label\": \"spam\"}"), Some(true));
        assert_eq!(schema.judge("{\"label\": \"eggs\"}"), Some(false));
        assert_eq!(schema.judge("{\"label\": \"ham\", \"why\": 1}"), Some(false));
        assert_eq!(schema.judge("not json"), Some(false));
    }

    #[test]
    fn a_schema_that_does_not_compile_still_needs_json() {
        let broken = expectation(json!({"type": "json_schema", "json_schema": {"schema": {"type": 12}}}));
        assert!(matches!(broken, JsonExpectation::Json));
        assert_eq!(broken.judge("[1]"), Some(true));
    }

    #[test]
    fn compiled_schemas_are_reused() {
        let cache = SchemaCache::default();
        let schema = json!({"type": "array"});
        let first = cache.compiled(&schema).expect("compiles");
        let second = cache.compiled(&schema).expect("compiles");
        assert!(Arc::ptr_eq(&first, &second));
    }
}
