//! Built-in tools a `tools` node can run: offline, deterministic stand-ins for a helpdesk's
//! systems (a ticket desk and a user directory), plus `get_time` and `echo`.

use serde_json::{Value, json};

/// A built-in tool: its name, what it does and its arguments' JSON Schema.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinTool {
    /// The name a tool call uses.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    run: fn(&Value, &str) -> Result<Value, String>,
}

impl BuiltinTool {
    /// Runs the tool with `args`; `call_id` is the tool call's id.
    ///
    /// # Errors
    /// Missing or malformed arguments, said as the model would need to hear it.
    pub fn run(&self, args: &Value, call_id: &str) -> Result<Value, String> {
        (self.run)(args, call_id)
    }

    /// The JSON Schema of the arguments.
    pub fn parameters(&self) -> Value {
        match self.name {
            "create_ticket" => json!({"type": "object", "required": ["title"], "properties": {
                "title": {"type": "string"}, "description": {"type": "string"},
                "priority": {"enum": ["low", "normal", "high", "urgent"]},
                "requester": {"type": "string"}}}),
            "lookup_user" => json!({"type": "object", "required": ["email"],
                "properties": {"email": {"type": "string"}}}),
            "echo" => json!({"type": "object"}),
            _ => json!({"type": "object", "properties": {}}),
        }
    }
}

/// Every built-in tool, by name.
pub const BUILTIN_TOOLS: [BuiltinTool; 4] = [
    BuiltinTool {
        name: "create_ticket",
        description: "Open a helpdesk ticket (title, description, priority, requester); returns its id",
        run: create_ticket,
    },
    BuiltinTool {
        name: "echo",
        description: "Return the arguments it was called with",
        run: |args, _| Ok(args.clone()),
    },
    BuiltinTool { name: "get_time", description: "The current time in UTC", run: get_time },
    BuiltinTool {
        name: "lookup_user",
        description: "Find a person in the company directory by email",
        run: lookup_user,
    },
];

/// A built-in tool by name.
pub fn builtin(name: &str) -> Option<&'static BuiltinTool> {
    BUILTIN_TOOLS.iter().find(|t| t.name == name)
}

/// The names of the built-in tools, for error messages.
pub fn builtin_names() -> String {
    BUILTIN_TOOLS.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
}

fn str_arg<'a>(args: &'a Value, key: &str) -> Option<&'a str> {
    args.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn create_ticket(args: &Value, call_id: &str) -> Result<Value, String> {
    let title = str_arg(args, "title").ok_or("create_ticket needs a non-empty `title`")?;
    let priority = str_arg(args, "priority").unwrap_or("normal");
    if !["low", "normal", "high", "urgent"].contains(&priority) {
        return Err(format!(
            "create_ticket: priority `{priority}` is not one of low, normal, high, urgent"
        ));
    }
    // The same call gives the same ticket (a resumed run re-executes the node).
    let hash = xxhash_rust::xxh3::xxh3_64(format!("{call_id}\n{title}").as_bytes());
    let mut out = json!({
        "ticket_id": format!("HD-{}", 1000 + hash % 9000),
        "status": "open",
        "title": title,
        "priority": priority,
    });
    for k in ["description", "requester"] {
        if let Some(v) = str_arg(args, k) {
            out[k] = json!(v);
        }
    }
    Ok(out)
}

/// The directory the `lookup_user` tool answers from.
const DIRECTORY: [(&str, &str, &str, u32, &str); 3] = [
    ("priya@acme.com", "Priya Raman", "Finance", 3, "anuj@acme.com"),
    ("anuj@acme.com", "Anuj Mehta", "Finance", 3, "maria@acme.com"),
    ("maria@acme.com", "María García", "Operations", 5, ""),
];

fn lookup_user(args: &Value, _: &str) -> Result<Value, String> {
    let email = str_arg(args, "email").ok_or("lookup_user needs an `email`")?.to_lowercase();
    Ok(match DIRECTORY.iter().find(|(e, ..)| *e == email) {
        Some((e, name, dept, floor, manager)) => json!({
            "found": true, "email": e, "name": name, "department": dept, "floor": floor,
            "manager": if manager.is_empty() { Value::Null } else { json!(manager) },
        }),
        None => json!({"found": false, "email": email}),
    })
}

fn get_time(_: &Value, _: &str) -> Result<Value, String> {
    Ok(json!({"utc": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tickets_are_deterministic_per_call() {
        let t = builtin("create_ticket").unwrap();
        let a = t.run(&json!({"title": "Printer jammed", "priority": "high"}), "call_1").unwrap();
        let b = t.run(&json!({"title": "Printer jammed", "priority": "high"}), "call_1").unwrap();
        assert_eq!(a, b);
        assert!(a["ticket_id"].as_str().unwrap().starts_with("HD-"));
        assert!(t.run(&json!({}), "x").unwrap_err().contains("title"));
        assert!(t.run(&json!({"title": "a", "priority": "meh"}), "x").is_err());
    }

    #[test]
    fn directory_lookups() {
        let t = builtin("lookup_user").unwrap();
        assert_eq!(t.run(&json!({"email": "Priya@Acme.com"}), "").unwrap()["name"], "Priya Raman");
        assert_eq!(t.run(&json!({"email": "x@y.z"}), "").unwrap()["found"], false);
    }
}
