//! Inline SVG icons (16 px, drawn with `currentColor`), so buttons carry no text of their own.

use leptos::prelude::*;

fn icon(path: &'static str) -> impl IntoView {
    view! {
        <svg
            class="icon"
            width="16"
            height="16"
            viewBox="0 0 16 16"
            fill="none"
            stroke="currentColor"
            stroke-width="1.5"
            stroke-linecap="round"
            stroke-linejoin="round"
            aria-hidden="true"
        >
            <path d=path></path>
        </svg>
    }
}

/// A plus sign.
pub fn plus() -> impl IntoView {
    icon("M8 3v10M3 8h10")
}

/// A minus sign.
pub fn minus() -> impl IntoView {
    icon("M3 8h10")
}

/// A cross.
pub fn close() -> impl IntoView {
    icon("M4 4l8 8M12 4l-8 8")
}

/// A pencil.
pub fn edit() -> impl IntoView {
    icon("M10.5 2.5l3 3L6 13H3v-3z")
}

/// A bin.
pub fn trash() -> impl IntoView {
    icon("M3 4.5h10M6.5 4.5V3h3v1.5M4.5 4.5l.7 8.5h5.6l.7-8.5")
}

/// Two arrows in a circle.
pub fn refresh() -> impl IntoView {
    icon("M13 8a5 5 0 1 1-1.5-3.5M13 2.5v2.5h-2.5")
}

/// A crescent moon.
pub fn moon() -> impl IntoView {
    icon("M13 9.5A5.5 5.5 0 0 1 6.5 3a5.5 5.5 0 1 0 6.5 6.5z")
}

/// A sun.
pub fn sun() -> impl IntoView {
    icon(
        "M8 5.5a2.5 2.5 0 1 0 0 5a2.5 2.5 0 1 0 0-5zM8 1.5v1.5M8 13v1.5M1.5 8H3M13 8h1.5\
         M3.4 3.4l1 1M11.6 11.6l1 1M3.4 12.6l1-1M11.6 4.4l1-1",
    )
}
