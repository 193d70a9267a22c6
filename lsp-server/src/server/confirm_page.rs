//! The confirmation page: `GET /confirm/<id>` shows, in plain words, what a pending
//! action will do, with Confirm and Cancel; only `POST /confirm/<id>` from that page
//! (its Origin, its form nonce) does it, once, and the session that asked is told the
//! outcome (`pencil/confirmation`). The page has no script, may not be framed, and is
//! cached nowhere. `trust` has already checked Host, Origin and framing.

use super::actions::{self, Action, Context, Words};
use super::confirm::{Confirmations, SessionLink, TakeError, CONFIRM_TTL};
use super::http;
use super::trust::{CONFIRMATION_NOTIFICATION, MAX_FORM_BYTES};
use pencil_core::html::escape;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tower_lsp_server::Client;

/// One action waiting for the student, and where its outcome goes.
pub struct Pending {
    /// What to do (already checked by `actions::prepare`).
    pub action: Action,
    /// What the page says.
    pub words: Words,
    /// Where it reads and writes.
    pub ctx: Context,
    /// The session that asked.
    pub client: Client,
}

/// The listener's waiting confirmations.
pub type Registry = Confirmations<Pending>;

/// A WebSocket session's link to them.
pub type Link = SessionLink<Pending>;

/// The page's policy: no script at all, inline style only, never framed, posts only to itself.
pub const CONFIRM_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// Params of `pencil/confirmation`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfirmationParams {
    /// The confirmation's id (as the request's error data named it).
    pub id: String,
    /// `done`, `failed`, `cancelled` or `expired`.
    pub outcome: String,
    /// Words for the student.
    pub message: String,
    /// What the action answered (the class, the trace); null when nothing.
    pub result: Value,
}

/// `pencil/confirmation` as a typed notification.
#[derive(Debug)]
pub enum ConfirmationNotification {}

impl tower_lsp_server::gen_lsp_types::Notification for ConfirmationNotification {
    type Params = ConfirmationParams;
    const METHOD: tower_lsp_server::gen_lsp_types::LspNotificationMethod<'static> =
        tower_lsp_server::gen_lsp_types::LspNotificationMethod::Custom(CONFIRMATION_NOTIFICATION);
    const MESSAGE_DIRECTION: tower_lsp_server::gen_lsp_types::MessageDirection =
        tower_lsp_server::gen_lsp_types::MessageDirection::ServerToClient;
}

/// Tells the session that asked what became of its confirmation.
pub async fn notify(client: &Client, id: &str, outcome: &'static str, message: String, result: Value) {
    client.send_notification::<ConfirmationNotification>(ConfirmationParams { id: id.to_string(), outcome: outcome.into(), message, result }).await;
}

/// Files `pending` for the session; tells it when the confirmation expires unanswered.
/// Returns the id.
pub fn file(link: &Link, pending: Pending) -> Result<String, super::confirm::FileError> {
    let client = pending.client.clone();
    let id = link.confirmations.file(link.session, pending, Instant::now())?;
    let (registry, expiring) = (std::sync::Arc::clone(&link.confirmations), id.clone());
    tokio::spawn(async move {
        tokio::time::sleep(CONFIRM_TTL + std::time::Duration::from_millis(500)).await;
        if registry.expire(&expiring, Instant::now()).is_some() {
            let message = "The confirmation window expired; nothing was done.".to_string();
            notify(&client, &expiring, "expired", message, Value::Null).await;
        }
    });
    Ok(id)
}

const STYLE: &str = "body{font:18px/1.5 system-ui,sans-serif;margin:0;background:#f6f7fb;color:#1d2433}\
main{max-width:44em;margin:2em auto;padding:1.5em 2em;background:#fff;border-radius:12px;box-shadow:0 2px 12px #0002}\
h1{font-size:1.5em;margin-top:0}p{overflow-wrap:anywhere}pre{white-space:pre-wrap;word-break:break-all;background:#f1f3f8;padding:.8em;\
border-radius:8px;max-height:22em;overflow:auto;font-size:14px}label.ok{display:block;margin:1em 0}\
.buttons{display:flex;gap:1em;animation:wait .8s step-end}@keyframes wait{from{visibility:hidden}}\
button{font:inherit;padding:.5em 1.2em;border-radius:8px;border:1px solid #99a;cursor:pointer}\
button.yes{background:#1f6feb;color:#fff;border-color:#1f6feb}.small{color:#555;font-size:.85em}\
.done{border-left:6px solid #2da44e;padding-left:1em}.failed{border-left:6px solid #cf222e;padding-left:1em}";

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>\n",
        escape(title)
    )
}

/// The confirmation page of entry `id` with form nonce `nonce`.
pub fn render_confirm(words: &Words, id: &str, nonce: &str) -> String {
    let mut body = format!("<h1>{}</h1>", escape(&words.heading));
    for line in &words.lines {
        body.push_str(&format!("<p>{}</p>", escape(line)));
    }
    if let Some((label, text)) = &words.exact {
        body.push_str(&format!("<h2>{}</h2><pre id=\"exact\">{}</pre>", escape(label), escape(text)));
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"{}{}\"><input type=\"hidden\" name=\"nonce\" value=\"{}\">\
         <label class=\"ok\"><input type=\"checkbox\" name=\"understood\" value=\"yes\" required> I have read this, and I want it done.</label>\
         <div class=\"buttons\"><button class=\"yes\" type=\"submit\" name=\"choice\" value=\"confirm\">{}</button>\
         <button type=\"submit\" name=\"choice\" value=\"cancel\" formnovalidate>Cancel</button></div></form>\
         <p class=\"small\">This window comes from the Pencil coach on this computer. Nothing happens unless you press \"{}\". \
         It expires in {} minutes.</p>",
        super::trust::CONFIRM_PATH,
        escape(id),
        escape(nonce),
        escape(&words.confirm),
        escape(&words.confirm),
        CONFIRM_TTL.as_secs() / 60
    ));
    document(&words.heading, &body)
}

/// A page that only says something (the outcome, or why not).
pub fn render_message(heading: &str, text: &str, tone: &str) -> String {
    let body = format!(
        "<div class=\"{}\"><h1>{}</h1><p id=\"message\">{}</p></div><p class=\"small\">You can close this window.</p>",
        escape(tone),
        escape(heading),
        escape(text)
    );
    document(heading, &body)
}

/// The answer a confirmation form carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Form {
    /// The nonce its page showed.
    pub nonce: String,
    /// Confirm (true) or cancel.
    pub confirm: bool,
    /// The "I have read this" box was ticked.
    pub understood: bool,
}

/// Reads `nonce=…&choice=confirm|cancel[&understood=yes]`. Every value it compares is
/// `[a-z0-9]`, so no percent-decoding is needed: an encoded value simply does not match.
pub fn parse_form(body: &[u8]) -> Option<Form> {
    let text = std::str::from_utf8(body).ok()?;
    let mut form = Form::default();
    let mut choice = None;
    for pair in text.trim().split('&') {
        match pair.split_once('=') {
            Some(("nonce", v)) => form.nonce = v.to_string(),
            Some(("choice", "confirm")) => choice = Some(true),
            Some(("choice", "cancel")) => choice = Some(false),
            Some(("understood", "yes")) => form.understood = true,
            _ => {}
        }
    }
    form.confirm = choice?;
    (!form.nonce.is_empty()).then_some(form)
}

/// What a posted form leads to, decided without doing anything.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer<T> {
    /// Do it.
    Confirmed(T),
    /// The student cancelled.
    Cancelled(T),
    /// Refused with this status and these words.
    Refused(u16, &'static str),
}

/// Checks a posted form against entry `id` and takes the entry when it may go ahead.
/// A wrong nonce or an unticked box leaves the entry waiting.
pub fn answer<T>(registry: &Confirmations<T>, id: &str, body: &[u8], now: Instant) -> Answer<T> {
    let Some(form) = parse_form(body) else { return Answer::Refused(400, "That was not a confirmation form.") };
    if form.confirm && !form.understood {
        return Answer::Refused(400, "Tick the box first to show you have read what will happen.");
    }
    match registry.take(id, &form.nonce, now) {
        Ok(p) if form.confirm => Answer::Confirmed(p),
        Ok(p) => Answer::Cancelled(p),
        Err(TakeError::Gone) => Answer::Refused(410, "This confirmation has expired or was already answered. Nothing was done."),
        Err(TakeError::WrongNonce) => Answer::Refused(403, "This confirmation did not come from its own page. Nothing was done."),
    }
}

/// `GET /confirm/<id>`.
pub async fn serve_page<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, registry: &Registry, id: &str) {
    let page = registry.show(id, Instant::now(), |p, nonce| render_confirm(&p.words, id, nonce));
    let (status, page) = match page {
        Some(page) => (200, page),
        None => (410, render_message("Nothing to confirm", "This confirmation has expired or was already answered. Nothing was done.", "failed")),
    };
    respond_html(stream, status, &page).await;
}

async fn respond_html<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, status: u16, page: &str) {
    // `same-origin`, not `no-referrer`: under `no-referrer` browsers post the form with
    // `Origin: null`, which the answer's Origin check must refuse.
    let headers = [("Content-Security-Policy", CONFIRM_CSP.to_string()), ("Referrer-Policy", "same-origin".to_string())];
    http::respond(stream, status, "text/html; charset=utf-8", &headers, page).await;
}

/// `POST /confirm/<id>` (its Origin, framing and form type already checked): reads the
/// form, takes the entry, does the action or not, tells the session, answers a page.
/// `read` holds the bytes read so far (the head, maybe part of the body).
pub async fn serve_post<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, registry: &Registry, id: &str, read: Vec<u8>, length: usize) {
    let Some(body) = read_body(stream, read, length).await else {
        http::refuse(stream, 400, "the confirmation form did not arrive whole").await;
        return;
    };
    let (pending, confirmed) = match answer(registry, id, &body, Instant::now()) {
        Answer::Refused(status, why) => {
            tracing::warn!("refused a confirmation answer: {why}");
            respond_html(stream, status, &render_message("Not confirmed", why, "failed")).await;
            return;
        }
        Answer::Cancelled(p) => (p, false),
        Answer::Confirmed(p) => (p, true),
    };
    if !confirmed {
        notify(&pending.client, id, "cancelled", "You cancelled; nothing was done.".into(), Value::Null).await;
        respond_html(stream, 200, &render_message("Cancelled", "Nothing was done.", "failed")).await;
        return;
    }
    let Pending { action, ctx, client, .. } = pending;
    let done = tokio::task::spawn_blocking(move || actions::execute(action, &ctx))
        .await
        .unwrap_or_else(|e| Err(format!("the coach stopped while doing it ({e})")));
    match done {
        Ok(done) => {
            respond_html(stream, 200, &render_message("Done", &done.message, "done")).await;
            notify(&client, id, "done", done.message, done.result).await;
        }
        Err(why) => {
            respond_html(stream, 200, &render_message("It did not work", &why, "failed")).await;
            notify(&client, id, "failed", why, Value::Null).await;
        }
    }
}

/// The body after the head in `read`, completed from `stream` up to `length` bytes (at most
/// [`MAX_FORM_BYTES`], within [`http::HEAD_TIMEOUT`]).
async fn read_body<S: AsyncRead + Unpin>(stream: &mut S, read: Vec<u8>, length: usize) -> Option<Vec<u8>> {
    if length > MAX_FORM_BYTES {
        return None;
    }
    let start = read.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let mut body = read[start..].to_vec();
    let more = async {
        let mut chunk = [0u8; 512];
        while body.len() < length {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        Some(())
    };
    tokio::time::timeout(http::HEAD_TIMEOUT, more).await.ok()??;
    body.truncate(length);
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words() -> Words {
        Words {
            heading: "Join a class?".into(),
            lines: vec!["The page at <b>evil</b> asks".into()],
            exact: Some(("Bytes:".into(), "{\"a\":\"</pre><script>\"}".into())),
            confirm: "Join the class".into(),
        }
    }

    #[test]
    fn the_page_escapes_everything_and_carries_the_nonce_only_in_its_form() {
        let page = render_confirm(&words(), &"a".repeat(64), "n0nce");
        assert!(page.contains("The page at &lt;b&gt;evil&lt;/b&gt; asks"));
        assert!(page.contains("&lt;/pre&gt;&lt;script&gt;") && !page.contains("<script"));
        assert!(page.contains("name=\"nonce\" value=\"n0nce\"") && page.matches("n0nce").count() == 1);
        assert!(page.contains(&format!("action=\"/confirm/{}\"", "a".repeat(64))));
        assert!(page.contains("required") && page.contains("formnovalidate"));
        assert!(CONFIRM_CSP.contains("frame-ancestors 'none'") && CONFIRM_CSP.contains("default-src 'none'"));
        assert!(!CONFIRM_CSP.contains("script-src"));
    }

    #[test]
    fn forms() {
        assert_eq!(parse_form(b"nonce=ab&choice=confirm&understood=yes"), Some(Form { nonce: "ab".into(), confirm: true, understood: true }));
        assert_eq!(parse_form(b"choice=cancel&nonce=ab"), Some(Form { nonce: "ab".into(), confirm: false, understood: false }));
        assert_eq!(parse_form(b"nonce=ab"), None);
        assert_eq!(parse_form(b"choice=confirm"), None);
        assert_eq!(parse_form(b"\xff"), None);
    }

    #[test]
    fn answers_need_the_nonce_the_box_and_a_live_entry() {
        let registry = Confirmations::<&str>::default();
        let now = Instant::now();
        let id = registry.file(registry.new_session(), "join", now).expect("filed");
        let nonce = registry.show(&id, now, |_, n| n.to_string()).expect("shown");
        let form = |nonce: &str, rest: &str| format!("nonce={nonce}&{rest}").into_bytes();
        assert_eq!(answer(&registry, &id, b"garbage", now), Answer::Refused(400, "That was not a confirmation form."));
        assert!(matches!(answer(&registry, &id, &form(&nonce, "choice=confirm"), now), Answer::Refused(400, _)), "box not ticked");
        assert!(matches!(answer(&registry, &id, &form(&"0".repeat(64), "choice=confirm&understood=yes"), now), Answer::Refused(403, _)));
        assert!(matches!(answer(&registry, &id, &form(&nonce, "choice=confirm&understood=yes"), now + CONFIRM_TTL), Answer::Refused(410, _)), "expired");
        assert_eq!(answer(&registry, &id, &form(&nonce, "choice=confirm&understood=yes"), now), Answer::Confirmed("join"));
        assert!(matches!(answer(&registry, &id, &form(&nonce, "choice=confirm&understood=yes"), now), Answer::Refused(410, _)), "reused");
        let other = registry.file(registry.new_session(), "consent", now).expect("filed");
        let nonce = registry.show(&other, now, |_, n| n.to_string()).expect("shown");
        assert_eq!(answer(&registry, &other, &form(&nonce, "choice=cancel"), now), Answer::Cancelled("consent"));
    }
}
