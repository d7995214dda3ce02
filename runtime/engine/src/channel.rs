//! Channels: the typed mailboxes of the Pregel model, each with LangGraph's update rules.
//!
//! A channel's `update` receives all writes of one step at once; `true` from `update`, `consume`
//! or `finish` means "bump my version" (see `engine-semantics` §1.2).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::messages;

/// A binary reducer: folds one write into the accumulated value.
pub type ReducerFn = Arc<dyn Fn(Value, Value) -> Result<Value> + Send + Sync>;

/// How a state key combines writes.
#[derive(Clone)]
pub enum Reducer {
    /// One value per step; a second concurrent write is an error.
    LastValue,
    /// `operator.add`: list concatenation, number addition, string concatenation.
    Add,
    /// LangGraph's `add_messages`: id-based append / replace / remove.
    AddMessages,
    /// A user reducer with its initial value.
    Custom {
        /// Name, for debugging.
        name: String,
        /// The accumulator's initial value (LangGraph's `typ()`).
        initial: Value,
        /// The fold.
        op: ReducerFn,
    },
    /// Holds a value for the step right after it was written, then clears.
    Ephemeral,
    /// Like `LastValue` but never persisted in checkpoints.
    Untracked,
}

impl fmt::Debug for Reducer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reducer::LastValue => write!(f, "LastValue"),
            Reducer::Add => write!(f, "Add"),
            Reducer::AddMessages => write!(f, "AddMessages"),
            Reducer::Custom { name, .. } => write!(f, "Custom({name})"),
            Reducer::Ephemeral => write!(f, "Ephemeral"),
            Reducer::Untracked => write!(f, "Untracked"),
        }
    }
}

impl Reducer {
    /// A custom reducer.
    pub fn custom(
        name: impl Into<String>,
        initial: Value,
        op: impl Fn(Value, Value) -> Result<Value> + Send + Sync + 'static,
    ) -> Self {
        Reducer::Custom { name: name.into(), initial, op: Arc::new(op) }
    }
}

/// The kind of a lowered channel.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    LastValue,
    Aggregate(Reducer),
    Ephemeral { guard: bool },
    Topic,
    Barrier { names: BTreeSet<String> },
    LastValueAfterFinish,
    BarrierAfterFinish { names: BTreeSet<String> },
    Untracked,
}

impl Kind {
    pub(crate) fn from_reducer(r: &Reducer) -> Kind {
        match r {
            Reducer::LastValue => Kind::LastValue,
            Reducer::Ephemeral => Kind::Ephemeral { guard: true },
            Reducer::Untracked => Kind::Untracked,
            other => Kind::Aggregate(other.clone()),
        }
    }
}

/// A channel's live state.
#[derive(Debug, Clone)]
pub(crate) struct Channel {
    pub(crate) kind: Arc<Kind>,
    pub(crate) value: Option<Value>,
    seen: BTreeSet<String>,
    finished: bool,
}

fn overwrite_value(v: &Value) -> Option<&Value> {
    let obj = v.as_object()?;
    if obj.len() == 1
        && let Some(x) = obj.get("__overwrite__")
    {
        return Some(x);
    }
    if obj.len() == 2 && obj.get("type").and_then(Value::as_str) == Some("__overwrite__") {
        return obj.get("value");
    }
    None
}

/// Python's `a + b` on JSON values.
pub(crate) fn py_add(a: Value, b: Value) -> Result<Value> {
    match (a, b) {
        (Value::Array(mut x), Value::Array(y)) => {
            x.extend(y);
            Ok(Value::Array(x))
        }
        (Value::String(x), Value::String(y)) => Ok(Value::String(x + &y)),
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64())
                && let Some(s) = i.checked_add(j)
            {
                return Ok(Value::from(s));
            }
            let s = x.as_f64().unwrap_or(0.0) + y.as_f64().unwrap_or(0.0);
            Ok(serde_json::Number::from_f64(s).map(Value::Number).unwrap_or(Value::Null))
        }
        (Value::Null, y) => Ok(y),
        (x, y) => Err(Error::invalid_update(format!(
            "unsupported operand type(s) for +: '{}' and '{}'",
            py_type(&x),
            py_type(&y)
        ))),
    }
}

pub(crate) fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

impl Channel {
    pub(crate) fn new(kind: Arc<Kind>) -> Channel {
        let value = match &*kind {
            Kind::Aggregate(r) => Some(initial(r)),
            _ => None,
        };
        Channel { kind, value, seen: BTreeSet::new(), finished: false }
    }

    /// Restores a channel from its stored form (`None` = no stored value).
    pub(crate) fn from_checkpoint(kind: Arc<Kind>, stored: Option<&Value>) -> Channel {
        let mut ch = Channel::new(kind);
        let Some(stored) = stored else { return ch };
        match &*ch.kind {
            Kind::Barrier { .. } => {
                ch.seen = names_of(stored);
            }
            Kind::BarrierAfterFinish { .. } => {
                if let Some([seen, fin]) = stored.as_array().map(Vec::as_slice) {
                    ch.seen = names_of(seen);
                    ch.finished = fin.as_bool().unwrap_or(false);
                }
            }
            Kind::LastValueAfterFinish => {
                if let Some([v, fin]) = stored.as_array().map(Vec::as_slice) {
                    ch.value = Some(v.clone());
                    ch.finished = fin.as_bool().unwrap_or(false);
                }
            }
            _ => ch.value = Some(stored.clone()),
        }
        ch
    }

    pub(crate) fn is_available(&self) -> bool {
        match &*self.kind {
            Kind::Barrier { names } | Kind::BarrierAfterFinish { names } => {
                let complete = &self.seen == names;
                match &*self.kind {
                    Kind::BarrierAfterFinish { .. } => complete && self.finished,
                    _ => complete,
                }
            }
            Kind::LastValueAfterFinish => self.value.is_some() && self.finished,
            Kind::Topic => {
                self.value.as_ref().and_then(Value::as_array).is_some_and(|a| !a.is_empty())
            }
            _ => self.value.is_some(),
        }
    }

    /// The readable value, if available.
    pub(crate) fn get(&self) -> Option<&Value> {
        if self.is_available() { self.value.as_ref() } else { None }
    }

    /// The stored form, or `None` when there is nothing to store.
    pub(crate) fn checkpoint(&self) -> Option<Value> {
        match &*self.kind {
            Kind::Untracked => None,
            Kind::Barrier { .. } => {
                Some(Value::from(self.seen.iter().cloned().collect::<Vec<_>>()))
            }
            Kind::BarrierAfterFinish { .. } => Some(Value::from(vec![
                Value::from(self.seen.iter().cloned().collect::<Vec<_>>()),
                Value::Bool(self.finished),
            ])),
            Kind::LastValueAfterFinish => self
                .value
                .as_ref()
                .map(|v| Value::from(vec![v.clone(), Value::Bool(self.finished)])),
            _ => self.value.clone(),
        }
    }

    /// Applies one step's writes. `Ok(true)` means the channel changed.
    pub(crate) fn update(&mut self, key: &str, values: Vec<Value>) -> Result<bool> {
        let kind = Arc::clone(&self.kind);
        match &*kind {
            Kind::LastValue | Kind::Untracked => match values.len() {
                0 => Ok(false),
                1 => {
                    self.value = values.into_iter().next();
                    Ok(true)
                }
                _ => Err(Error::concurrent_update(key)),
            },
            Kind::Aggregate(r) => {
                if values.is_empty() {
                    return Ok(false);
                }
                let mut acc = self.value.take().unwrap_or_else(|| initial(r));
                let mut seen_overwrite = false;
                for v in values {
                    if let Some(x) = overwrite_value(&v) {
                        if seen_overwrite {
                            self.value = Some(acc);
                            return Err(Error::invalid_update(
                                "Can receive only one Overwrite value per super-step.",
                            ));
                        }
                        seen_overwrite = true;
                        acc = x.clone();
                    } else {
                        acc = reduce(r, acc, v)?;
                    }
                }
                self.value = Some(acc);
                Ok(true)
            }
            Kind::Ephemeral { guard } => {
                if values.is_empty() {
                    let had = self.value.is_some();
                    self.value = None;
                    return Ok(had);
                }
                if *guard && values.len() > 1 {
                    return Err(Error::concurrent_update(key));
                }
                self.value = values.into_iter().last();
                Ok(true)
            }
            Kind::Topic => {
                let had =
                    self.value.as_ref().and_then(Value::as_array).is_some_and(|a| !a.is_empty());
                let mut out = Vec::new();
                for v in values {
                    match v {
                        Value::Array(items) => out.extend(items),
                        other => out.push(other),
                    }
                }
                let changed = had || !out.is_empty();
                self.value = Some(Value::Array(out));
                Ok(changed)
            }
            Kind::Barrier { names } | Kind::BarrierAfterFinish { names } => {
                let mut changed = false;
                for v in values {
                    let Some(name) = v.as_str() else {
                        return Err(Error::invalid_update(format!(
                            "At key '{key}': Value {v} not in {names:?}"
                        )));
                    };
                    if !names.contains(name) {
                        return Err(Error::invalid_update(format!(
                            "At key '{key}': Value {name} not in {names:?}"
                        )));
                    }
                    if self.seen.insert(name.to_string()) {
                        changed = true;
                    }
                }
                Ok(changed)
            }
            Kind::LastValueAfterFinish => {
                if values.is_empty() {
                    return Ok(false);
                }
                self.value = values.into_iter().last();
                self.finished = false;
                Ok(true)
            }
        }
    }

    /// A subscriber ran.
    pub(crate) fn consume(&mut self) -> bool {
        match &*self.kind {
            Kind::Barrier { names } if &self.seen == names => {
                self.seen.clear();
                true
            }
            Kind::BarrierAfterFinish { names } if self.finished && &self.seen == names => {
                self.seen.clear();
                self.finished = false;
                true
            }
            Kind::LastValueAfterFinish if self.finished && self.value.is_some() => {
                self.value = None;
                self.finished = false;
                true
            }
            _ => false,
        }
    }

    /// The run is about to end: deferred channels become available.
    pub(crate) fn finish(&mut self) -> bool {
        match &*self.kind {
            Kind::LastValueAfterFinish if !self.finished && self.value.is_some() => {
                self.finished = true;
                true
            }
            Kind::BarrierAfterFinish { names } if !self.finished && &self.seen == names => {
                self.finished = true;
                true
            }
            _ => false,
        }
    }
}

fn names_of(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

pub(crate) fn initial(r: &Reducer) -> Value {
    match r {
        Reducer::Add | Reducer::AddMessages => Value::Array(Vec::new()),
        Reducer::Custom { initial, .. } => initial.clone(),
        _ => Value::Null,
    }
}

pub(crate) fn reduce(r: &Reducer, acc: Value, v: Value) -> Result<Value> {
    match r {
        Reducer::Add => py_add(acc, v),
        Reducer::AddMessages => messages::add_messages(acc, v),
        Reducer::Custom { op, .. } => op(acc, v),
        _ => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ch(kind: Kind) -> Channel {
        Channel::new(Arc::new(kind))
    }

    #[test]
    fn last_value_rejects_two_writes_in_one_step() {
        let mut c = ch(Kind::LastValue);
        assert!(!c.update("x", vec![]).unwrap());
        assert!(c.update("x", vec![json!(1)]).unwrap());
        let err = c.update("x", vec![json!(1), json!(2)]).unwrap_err();
        assert!(err.to_string().contains("At key 'x': Can receive only one value per step"));
    }

    #[test]
    fn aggregate_is_available_before_writes_and_honours_overwrite() {
        let mut c = ch(Kind::Aggregate(Reducer::Add));
        assert_eq!(c.get(), Some(&json!([])));
        c.update("log", vec![json!(["a"]), json!(["b"])]).unwrap();
        assert_eq!(c.get(), Some(&json!(["a", "b"])));
        c.update("log", vec![json!({"__overwrite__": ["z"]})]).unwrap();
        assert_eq!(c.get(), Some(&json!(["z"])));
    }

    #[test]
    fn ephemeral_clears_on_empty_step_and_reports_the_change() {
        let mut c = ch(Kind::Ephemeral { guard: false });
        assert!(c.update("e", vec![json!(1)]).unwrap());
        assert!(c.update("e", vec![]).unwrap());
        assert!(!c.is_available());
        assert!(!c.update("e", vec![]).unwrap());
    }

    #[test]
    fn barrier_waits_for_every_name_and_resets_on_consume() {
        let names: BTreeSet<String> = ["b2".to_string(), "c".to_string()].into();
        let mut c = ch(Kind::Barrier { names });
        c.update("j", vec![json!("c")]).unwrap();
        assert!(!c.is_available());
        assert_eq!(c.checkpoint(), Some(json!(["c"])));
        c.update("j", vec![json!("b2")]).unwrap();
        assert!(c.is_available());
        assert!(c.consume());
        assert_eq!(c.checkpoint(), Some(json!([])));
        assert!(c.update("j", vec![json!("zz")]).is_err());
    }

    #[test]
    fn after_finish_channel_becomes_available_only_after_finish() {
        let mut c = ch(Kind::LastValueAfterFinish);
        c.update("d", vec![Value::Null]).unwrap();
        assert_eq!(c.checkpoint(), Some(json!([null, false])));
        assert!(!c.is_available());
        assert!(c.finish());
        assert!(c.is_available());
        assert_eq!(c.checkpoint(), Some(json!([null, true])));
        assert!(c.consume());
        assert_eq!(c.checkpoint(), None);
    }

    #[test]
    fn topic_flattens_lists_and_clears() {
        let mut c = ch(Kind::Topic);
        assert!(c.update("t", vec![json!([1, 2]), json!(3)]).unwrap());
        assert_eq!(c.get(), Some(&json!([1, 2, 3])));
        assert!(c.update("t", vec![]).unwrap());
        assert_eq!(c.checkpoint(), Some(json!([])));
        assert!(!c.update("t", vec![]).unwrap());
    }
}
