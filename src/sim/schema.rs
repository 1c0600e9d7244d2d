//! Values that satisfy a JSON Schema: the simulated models fill tool-call arguments and JSON
//! replies with them, so a client's schema check passes as it would on a real model's answer.

use serde_json::{Map, Value, json};

/// A value of a JSON Schema: objects get each `required` property, filled by its type.
pub(crate) fn sample(schema: &Value) -> Value {
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::Array(kinds)) => kinds.iter().find_map(Value::as_str).unwrap_or("object"),
        Some(Value::String(kind)) => kind.as_str(),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match kind {
        "object" => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let mut out = Map::new();
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let property = properties.and_then(|p| p.get(name)).cloned().unwrap_or(json!({}));
                out.insert(name.into(), sample(&property));
            }
            Value::Object(out)
        }
        "array" => json!([]),
        "integer" => json!(1),
        "number" => json!(1.5),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => json!("sample"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_fill_required_properties_by_type() {
        let schema = json!({"type":"object","required":["s","n","i","b","a","o","e"],"properties":{
            "s":{"type":"string"},"n":{"type":"number"},"i":{"type":"integer"},"b":{"type":"boolean"},
            "a":{"type":"array"},"o":{"type":"object","required":["x"],"properties":{"x":{"type":"integer"}}},
            "e":{"enum":["red","green"]},"optional":{"type":"string"}}});
        assert_eq!(
            sample(&schema),
            json!({"s":"sample","n":1.5,"i":1,"b":true,"a":[],"o":{"x":1},"e":"red"})
        );
    }
}
