//! Server-rendered pages: escaping and the shared layout. Every value that
//! did not come from this file goes through [`esc`].

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// Escapes text for HTML element content and quoted attributes.
pub use pencil_core::html::escape as esc;

/// A whole page. `head_extra` is trusted markup written in this crate.
pub fn page(title: &str, head_extra: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{head_extra}\
         <title>{} · Pencil hub</title><link rel=\"stylesheet\" href=\"/static/hub.css\"></head>\
         <body>{body}</body></html>\n",
        esc(title)
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// A hidden CSRF field for a state-changing form.
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

/// "just now", "5 min ago", "2 h ago".
pub fn ago(seconds: i64) -> String {
    match seconds {
        s if s < 60 => "just now".into(),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

pub const CSS: &str = "\
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 1.5rem;color:#222}
header{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #ddd;margin-bottom:1rem}
form.inline{display:inline}
label{display:block;margin:.4rem 0}
input[type=text],input[type=password],input[type=number],select,textarea{font:inherit;padding:.3rem}
.error{background:#fde8e8;border:1px solid #e99;padding:.5rem 1rem}
.code{font-family:ui-monospace,monospace;font-size:1.6rem;letter-spacing:.2rem}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:.75rem;padding:0;list-style:none}
.tile{border:1px solid #ccc;border-radius:.5rem;padding:.6rem .8rem}
.tile h3{margin:0 0 .3rem;font-size:1.1rem;overflow-wrap:anywhere}
.tile.stuck{border-color:#c33;background:#fff4f4}
.tile.idle{border-color:#b90;background:#fffbea}
.alert{display:inline-block;font-size:.8rem;font-weight:bold;border-radius:.3rem;padding:0 .4rem;margin-right:.3rem}
.alert.stuck{background:#c33;color:#fff}
.alert.idle{background:#b90;color:#fff}
.muted{color:#666;font-size:.9rem}
.tile.hand{border-color:#36c;background:#f1f5ff}
.tile.risk{border-color:#c60;background:#fff6ee}
.tile.dismissed{border-color:#868;background:#f8f4f8}
.alert.hand{background:#36c;color:#fff}
.alert.risk{background:#c60;color:#fff}
.alert.dismissed{background:#868;color:#fff}
.hands{list-style:none;padding:0}
.hand-request{border:2px solid #36c;border-radius:.5rem;padding:.6rem .8rem;margin-bottom:.75rem}
.hand-request h3{margin:0 0 .3rem;font-size:1.1rem}
.hand-request textarea{width:100%;box-sizing:border-box}
pre{background:#f6f6f6;padding:.4rem .6rem;overflow-x:auto;max-height:20rem}
blockquote{margin:.3rem 0;padding-left:.6rem;border-left:3px solid #ccc}
.help-next li{margin:.2rem 0}
.panels{display:grid;grid-template-columns:repeat(auto-fit,minmax(20rem,1fr));gap:1rem}
table{border-collapse:collapse}
th,td{text-align:left;padding:.2rem .6rem;border-bottom:1px solid #eee}
";
