//! Syntax highlighting of JSON for the thread view's raw state (syntect, on the Rust side, so
//! the WebAssembly UI does not carry a grammar engine). The answer is HTML whose text is
//! escaped by syntect and whose spans carry `sy-` classes that `ui/style.css` colours for both
//! themes.

use std::sync::OnceLock;

use syntect::html::{ClassStyle, ClassedHTMLGenerator};
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;

/// Longer texts are shown plain: highlighting is for reading, and a megabyte of spans would
/// only slow the window down.
pub const MAX_HIGHLIGHTED: usize = 512 * 1024;

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

/// `text` with the HTML special characters escaped.
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A value pretty-printed and highlighted as HTML.
pub fn json_html(value: &serde_json::Value) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    if text.len() > MAX_HIGHLIGHTED {
        return escaped(&text);
    }
    let set = syntaxes();
    let Some(syntax) = set.find_syntax_by_extension("json") else { return escaped(&text) };
    let mut html = ClassedHTMLGenerator::new_with_class_style(
        syntax,
        set,
        ClassStyle::SpacedPrefixed { prefix: "sy-" },
    );
    for line in LinesWithEndings::from(&text) {
        if html.parse_html_for_line_which_includes_newline(line).is_err() {
            return escaped(&text);
        }
    }
    html.finalize()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_strings_numbers_and_constants_get_classes_and_text_is_escaped() {
        let html = json_html(&json!({"name": "<script>alert(1)</script>", "n": 42, "ok": true}));
        assert!(html.contains("sy-key"), "{html}");
        assert!(html.contains("sy-string"), "{html}");
        assert!(html.contains("sy-numeric"), "{html}");
        assert!(html.contains("sy-language"), "{html}");
        assert!(!html.contains("<script>"), "the value's markup is escaped: {html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        // The text itself is unchanged once the tags are taken out.
        let text: String = strip_tags(&html).replace("&lt;", "<").replace("&gt;", ">");
        let pretty = serde_json::to_string_pretty(
            &json!({"name": "<script>alert(1)</script>", "n": 42, "ok": true}),
        )
        .unwrap_or_default();
        assert_eq!(text.trim_end(), pretty);
    }

    #[test]
    fn a_huge_value_is_escaped_plain_text() {
        let big = json!({"blob": "<".repeat(MAX_HIGHLIGHTED)});
        let html = json_html(&big);
        assert!(!html.contains("<span"));
        assert!(html.starts_with("{\n  &quot;blob&quot;: &quot;&lt;&lt;"));
    }

    fn strip_tags(html: &str) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out.replace("&quot;", "\"")
    }
}
