//! A form generated from a JSON Schema's fields ([`orrery_api::forms`]): the run input form,
//! the run's config fields and the assistant editor's configurable fields. The form edits
//! texts; [`orrery_api::forms::object_of`] turns them into the JSON the server gets.

use std::collections::BTreeMap;

use leptos::prelude::*;
use orrery_api::forms::{Field, FieldKind, text_of};
use serde_json::{Map, Value};

/// The texts of a form, by field name.
pub type Texts = RwSignal<BTreeMap<String, String>>;

/// Texts for `fields` from an object's values (a field it lacks shows its default).
pub fn texts_from(
    fields: &[Field],
    values: Option<&Map<String, Value>>,
) -> BTreeMap<String, String> {
    fields
        .iter()
        .map(|f| {
            let v = values.and_then(|o| o.get(&f.name)).or(f.default.as_ref());
            (f.name.clone(), text_of(&f.kind, v))
        })
        .collect()
}

/// One control per field; `prefix` makes the controls' ids (`{prefix}-{name}`).
#[component]
pub fn SchemaForm(fields: Vec<Field>, texts: Texts, prefix: &'static str) -> impl IntoView {
    if fields.is_empty() {
        return view! { <p class="muted">"The schema has no fields."</p> }.into_any();
    }
    let rows = fields
        .into_iter()
        .map(|f| {
            let id = format!("{prefix}-{}", f.name);
            let name = f.name.clone();
            let value = {
                let name = name.clone();
                move || texts.with(|t| t.get(&name).cloned().unwrap_or_default())
            };
            let set = {
                let name = name.clone();
                move |v: String| {
                    texts.update(|t| {
                        t.insert(name.clone(), v);
                    });
                }
            };
            let control = match &f.kind {
                FieldKind::Text { long: true } | FieldKind::Json | FieldKind::Messages => {
                    let rows = if matches!(f.kind, FieldKind::Messages) { "2" } else { "4" };
                    let mono = matches!(f.kind, FieldKind::Json);
                    let placeholder = match f.kind {
                        FieldKind::Json => "JSON",
                        FieldKind::Messages => "A user message",
                        _ => "",
                    };
                    view! {
                        <textarea
                            id=id.clone()
                            data-field=name.clone()
                            rows=rows
                            class:mono=mono
                            spellcheck=if mono { "false" } else { "true" }
                            placeholder=placeholder
                            prop:value=value
                            on:input=move |e| set(event_target_value(&e))
                        ></textarea>
                    }
                    .into_any()
                }
                FieldKind::Text { long: false } | FieldKind::Integer | FieldKind::Number => {
                    let kind = match f.kind {
                        FieldKind::Integer | FieldKind::Number => "number",
                        _ => "text",
                    };
                    let step = matches!(f.kind, FieldKind::Number).then_some("any");
                    view! {
                        <input
                            id=id.clone()
                            data-field=name.clone()
                            type=kind
                            step=step
                            prop:value=value
                            on:input=move |e| set(event_target_value(&e))
                        />
                    }
                    .into_any()
                }
                FieldKind::Boolean => view! {
                    <input
                        id=id.clone()
                        data-field=name.clone()
                        type="checkbox"
                        prop:checked=move || value() == "true"
                        on:change=move |e| set(event_target_checked(&e).to_string())
                    />
                }
                .into_any(),
                FieldKind::Choice(options) => {
                    let options = options.clone();
                    view! {
                        <select
                            id=id.clone()
                            data-field=name.clone()
                            prop:value=value
                            on:change=move |e| set(event_target_value(&e))
                        >
                            <option value="">"—"</option>
                            {options
                                .into_iter()
                                .map(|o| view! { <option value=o.clone()>{o.clone()}</option> })
                                .collect_view()}
                        </select>
                    }
                    .into_any()
                }
            };
            let label = format!("{}{}", f.label, if f.required { " *" } else { "" });
            view! {
                <div class="schema-field" class:check=matches!(f.kind, FieldKind::Boolean)>
                    <label for=id>{label}<span class="mono muted field-key">{f.name.clone()}</span></label>
                    {control}
                    {f.description.clone().map(|d| view! { <p class="field-help muted">{d}</p> })}
                </div>
            }
        })
        .collect_view();
    view! { <div class="schema-form">{rows}</div> }.into_any()
}
