//! Light and dark themes: the system's choice (`prefers-color-scheme`) until the user picks one
//! with the toggle; the pick is remembered in local storage. The theme is a class on `<html>`:
//! `dark`, or `light` when the user chose light on a dark system (style.css keys off both).

const KEY: &str = "orrery.theme";

/// Whether to start dark: the stored pick, else the system's preference.
pub fn initial_dark() -> bool {
    let window = leptos::prelude::window();
    if let Ok(Some(storage)) = window.local_storage()
        && let Ok(Some(pick)) = storage.get_item(KEY)
    {
        return pick == "dark";
    }
    matches!(window.match_media("(prefers-color-scheme: dark)"), Ok(Some(q)) if q.matches())
}

/// Sets the class on `<html>`.
pub fn apply(dark: bool) {
    if let Some(root) = leptos::prelude::document().document_element() {
        let classes = root.class_list();
        let _ = classes.toggle_with_force("dark", dark);
        let _ = classes.toggle_with_force("light", !dark);
    }
}

/// Applies and remembers the user's pick.
pub fn choose(dark: bool) {
    apply(dark);
    if let Ok(Some(storage)) = leptos::prelude::window().local_storage() {
        let _ = storage.set_item(KEY, if dark { "dark" } else { "light" });
    }
}
