//! Forms generated from an assistant's JSON Schemas (`GET /assistants/{id}/schemas`): the run
//! input form (from `input_schema`) and the config fields (from `config_schema`, whose
//! properties are `configurable` keys). Kept here (serde only) so it is unit-tested natively and
//! run by the UI in wasm.
//!
//! A field's kind comes from its schema: `string` (with `enum`: a choice), `integer`, `number`,
//! `boolean`, a list of chat messages, or anything else as JSON. Pydantic's optional fields
//! (`anyOf: [T, {type: null}]`) are their `T`; `$ref`s into `$defs` are followed one level.

use serde_json::{Map, Value};

/// What kind of input a field takes.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    /// Text; `long` ones get a multi-line box (prompts, long defaults).
    Text {
        /// Shown as a multi-line box.
        long: bool,
    },
    /// One of these strings.
    Choice(Vec<String>),
    /// A whole number.
    Integer,
    /// A number.
    Number,
    /// True or false.
    Boolean,
    /// A list of chat messages: the form takes one user message.
    Messages,
    /// Anything else, typed as JSON.
    Json,
}

/// One field of a generated form.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The property name (the key it writes).
    pub name: String,
    /// Its label: the schema's `title`, else the name.
    pub label: String,
    /// The schema's `description`.
    pub description: Option<String>,
    /// What it takes.
    pub kind: FieldKind,
    /// The schema's `default`.
    pub default: Option<Value>,
    /// Listed in the schema's `required`.
    pub required: bool,
}

/// The fields of an object schema, in the schema's order; none for anything else.
pub fn fields(schema: &Value) -> Vec<Field> {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let defs = schema.get("$defs").or_else(|| schema.get("definitions"));
    props
        .iter()
        .map(|(name, prop)| {
            let resolved = resolve(prop, defs);
            let prop = &resolved;
            let label = prop.get("title").and_then(Value::as_str).unwrap_or(name).to_string();
            Field {
                name: name.clone(),
                label,
                description: prop.get("description").and_then(Value::as_str).map(str::to_string),
                kind: kind_of(name, prop),
                default: prop.get("default").filter(|d| !d.is_null()).cloned(),
                required: required.contains(&name.as_str()),
            }
        })
        .collect()
}

/// The configurable fields of an assistant's schemas (`GET /assistants/{id}/schemas`): from
/// `config_schema`, else `context_schema` (graphs with a runtime context declare that one).
pub fn config_fields(schemas: &Value) -> Vec<Field> {
    let from = |k: &str| schemas.get(k).map(fields).unwrap_or_default();
    let f = from("config_schema");
    if f.is_empty() { from("context_schema") } else { f }
}

/// Follows a local `$ref` (also `allOf: [{$ref}]`) and unwraps `anyOf: [T, null]`, keeping
/// the field's own `title`, `description` and `default` over the target's.
fn resolve(prop: &Value, defs: Option<&Value>) -> Value {
    let mut target = follow(prop, defs);
    if let Some([only]) = target.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
        target = follow(only, defs);
    }
    let options = target.get("anyOf").or_else(|| target.get("oneOf")).and_then(Value::as_array);
    if let Some(options) = options {
        let not_null: Vec<&Value> = options
            .iter()
            .filter(|o| o.get("type").and_then(Value::as_str) != Some("null"))
            .collect();
        if let [only] = not_null.as_slice() {
            target = follow(only, defs);
        }
    }
    let mut out = target.clone();
    if let (Some(o), Some(outer)) = (out.as_object_mut(), prop.as_object()) {
        for k in ["title", "description", "default"] {
            if let Some(v) = outer.get(k) {
                o.insert(k.to_string(), v.clone());
            }
        }
    }
    out
}

fn follow<'a>(prop: &'a Value, defs: Option<&'a Value>) -> &'a Value {
    let target = prop
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .and_then(|name| defs?.get(name));
    target.unwrap_or(prop)
}

fn kind_of(name: &str, prop: &Value) -> FieldKind {
    if let Some(choices) = prop.get("enum").and_then(Value::as_array) {
        let strings: Vec<String> =
            choices.iter().filter_map(Value::as_str).map(str::to_string).collect();
        if strings.len() == choices.len() && !strings.is_empty() {
            return FieldKind::Choice(strings);
        }
    }
    match prop.get("type").and_then(Value::as_str) {
        Some("string") => {
            let default_len =
                prop.get("default").and_then(Value::as_str).map_or(0, |d| d.chars().count());
            let lower = name.to_ascii_lowercase();
            let long =
                default_len > 60 || lower.contains("prompt") || lower.contains("instruction");
            FieldKind::Text { long }
        }
        Some("integer") => FieldKind::Integer,
        Some("number") => FieldKind::Number,
        Some("boolean") => FieldKind::Boolean,
        Some("array") if name == "messages" || is_message_list(prop) => FieldKind::Messages,
        _ => FieldKind::Json,
    }
}

/// An array whose items are LangChain messages (`$ref`s to `...Message` definitions).
fn is_message_list(prop: &Value) -> bool {
    let Some(items) = prop.get("items") else { return false };
    let refs: Vec<&str> = match items.get("oneOf").or_else(|| items.get("anyOf")) {
        Some(Value::Array(list)) => {
            list.iter().filter_map(|o| o.get("$ref").and_then(Value::as_str)).collect()
        }
        _ => items.get("$ref").and_then(Value::as_str).into_iter().collect(),
    };
    !refs.is_empty() && refs.iter().all(|r| r.contains("Message"))
}

/// The text a field shows for a value (empty for none).
pub fn text_of(kind: &FieldKind, value: Option<&Value>) -> String {
    match (kind, value) {
        (_, None | Some(Value::Null)) => String::new(),
        (FieldKind::Text { .. } | FieldKind::Choice(_), Some(Value::String(s))) => s.clone(),
        (FieldKind::Messages, Some(Value::Array(list))) => list
            .last()
            .and_then(|m| m.get("content"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        (FieldKind::Json, Some(v)) => serde_json::to_string_pretty(v).unwrap_or_default(),
        (_, Some(v)) => v.to_string(),
    }
}

/// The value a field's text stands for: `Ok(None)` when it is empty (the key is left out);
/// an error says what is wrong, in the field's words.
pub fn value_of(field: &Field, text: &str) -> Result<Option<Value>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let label = &field.label;
    let v = match &field.kind {
        FieldKind::Text { .. } => Value::String(text.to_string()),
        FieldKind::Choice(options) => {
            if !options.iter().any(|o| o == t) {
                return Err(format!("{label}: choose one of {}", options.join(", ")));
            }
            Value::String(t.to_string())
        }
        FieldKind::Integer => t
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("{label}: {t:?} is not a whole number"))?,
        FieldKind::Number => match t.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            Some(n) => Value::Number(n),
            None => return Err(format!("{label}: {t:?} is not a number")),
        },
        FieldKind::Boolean => Value::Bool(t == "true"),
        FieldKind::Messages => {
            serde_json::json!([{"role": "user", "content": t}])
        }
        FieldKind::Json => {
            serde_json::from_str(t).map_err(|e| format!("{label}: not valid JSON ({e})"))?
        }
    };
    Ok(Some(v))
}

/// The object a form's texts make (`(field, text)` pairs; empty texts leave their key out);
/// every wrong field is named in the error, one per line.
pub fn object_of(
    fields: &[Field],
    text: impl Fn(&str) -> String,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let mut problems = Vec::new();
    for f in fields {
        match value_of(f, &text(&f.name)) {
            Ok(Some(v)) => {
                out.insert(f.name.clone(), v);
            }
            Ok(None) if f.required => problems.push(format!("{} is required", f.label)),
            Ok(None) => {}
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() { Ok(out) } else { Err(problems.join("\n")) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_follow_types_optionals_refs_and_enums() {
        let schema = json!({
            "type": "object",
            "required": ["mode"],
            "$defs": {"Human": {"title": "HumanMessage", "type": "object"},
                      "Level": {"enum": ["low", "high"], "type": "string"}},
            "properties": {
                "system_prompt": {"title": "System Prompt", "type": "string",
                                  "description": "What the model is told first"},
                "user_email": {"type": "string", "default": "priya@acme.com"},
                "mode": {"enum": ["fast", "slow"]},
                "level": {"$ref": "#/$defs/Level"},
                "retries": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": null},
                "temperature": {"type": "number", "default": 0.2},
                "verbose": {"type": "boolean"},
                "messages": {"type": "array", "items": {"oneOf": [{"$ref": "#/$defs/Human"}]}},
                "log": {"type": "array", "items": {"type": "string"}}
            }
        });
        let f = fields(&schema);
        let kinds: Vec<(&str, &FieldKind)> = f.iter().map(|f| (f.name.as_str(), &f.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("system_prompt", &FieldKind::Text { long: true }),
                ("user_email", &FieldKind::Text { long: false }),
                ("mode", &FieldKind::Choice(vec!["fast".into(), "slow".into()])),
                ("level", &FieldKind::Choice(vec!["low".into(), "high".into()])),
                ("retries", &FieldKind::Integer),
                ("temperature", &FieldKind::Number),
                ("verbose", &FieldKind::Boolean),
                ("messages", &FieldKind::Messages),
                ("log", &FieldKind::Json),
            ]
        );
        assert_eq!(f[0].label, "System Prompt");
        assert_eq!(f[0].description.as_deref(), Some("What the model is told first"));
        assert_eq!(f[1].label, "user_email");
        assert_eq!(f[1].default, Some(json!("priya@acme.com")));
        assert_eq!(f[4].default, None, "a null default is no default");
        assert!(f[2].required && !f[0].required);
        assert!(fields(&json!({})).is_empty());
        // Pydantic's optional field with a default, and a `$ref` with its own title.
        let f = fields(&json!({"$defs": {"Mode": {"enum": ["a", "b"], "title": "Mode"}},
            "properties": {
            "model": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": "gpt-4o",
                      "title": "Model", "description": "Which model"},
            "mode": {"allOf": [{"$ref": "#/$defs/Mode"}], "default": "b", "title": "Run mode"}}}));
        assert_eq!(f[0].kind, FieldKind::Text { long: false });
        assert_eq!((f[0].label.as_str(), f[0].default.clone()), ("Model", Some(json!("gpt-4o"))));
        assert_eq!(f[0].description.as_deref(), Some("Which model"));
        assert_eq!(f[1].kind, FieldKind::Choice(vec!["a".into(), "b".into()]));
        assert_eq!((f[1].label.as_str(), f[1].default.clone()), ("Run mode", Some(json!("b"))));
        assert!(fields(&json!(null)).is_empty());
    }

    #[test]
    fn texts_become_values_and_wrong_ones_are_named() {
        let schema = json!({"required": ["n"], "properties": {
            "n": {"type": "integer"}, "x": {"type": "number"}, "b": {"type": "boolean"},
            "s": {"type": "string"}, "j": {"type": "object"}, "messages": {"type": "array"},
            "c": {"enum": ["a", "b"]}}});
        let f = fields(&schema);
        let texts = |n: &str| match n {
            "n" => "42".to_string(),
            "x" => "0.5".into(),
            "b" => "true".into(),
            "s" => " keep spaces ".into(),
            "j" => "{\"k\": [1]}".into(),
            "messages" => "Hello".into(),
            _ => String::new(),
        };
        let obj = object_of(&f, texts).expect("valid texts");
        assert_eq!(
            Value::Object(obj),
            json!({"n": 42, "x": 0.5, "b": true, "s": " keep spaces ", "j": {"k": [1]},
                   "messages": [{"role": "user", "content": "Hello"}]})
        );
        let bad = |n: &str| match n {
            "x" => "fast".to_string(),
            "j" => "{".into(),
            "c" => "z".into(),
            _ => String::new(),
        };
        let e = object_of(&f, bad).expect_err("wrong texts");
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 4, "{e}");
        assert!(lines[0].contains("n is required"), "{e}");
        assert!(lines[1].contains("\"fast\" is not a number"), "{e}");
        assert!(lines[2].starts_with("j: not valid JSON"), "{e}");
        assert!(e.contains("c: choose one of a, b"), "{e}");
    }

    #[test]
    fn config_fields_fall_back_to_the_context_schema() {
        let prompt = json!({"properties": {"system_prompt": {"type": "string"}}});
        let names = |v: &Value| config_fields(v).into_iter().map(|f| f.name).collect::<Vec<_>>();
        assert_eq!(
            names(&json!({"config_schema": prompt, "context_schema": null})),
            ["system_prompt"]
        );
        assert_eq!(
            names(&json!({"config_schema": {}, "context_schema": prompt})),
            ["system_prompt"]
        );
        assert!(names(&json!({"config_schema": {}, "context_schema": null})).is_empty());
    }

    #[test]
    fn values_show_as_texts() {
        let text = FieldKind::Text { long: false };
        assert_eq!(text_of(&text, Some(&json!("hi"))), "hi");
        assert_eq!(text_of(&FieldKind::Integer, Some(&json!(3))), "3");
        assert_eq!(text_of(&FieldKind::Boolean, Some(&json!(true))), "true");
        assert_eq!(text_of(&FieldKind::Json, Some(&json!({"a": 1}))), "{\n  \"a\": 1\n}");
        assert_eq!(
            text_of(&FieldKind::Messages, Some(&json!([{"role": "user", "content": "Yo"}]))),
            "Yo"
        );
        assert_eq!(text_of(&text, None), "");
        assert_eq!(text_of(&text, Some(&Value::Null)), "");
    }
}
