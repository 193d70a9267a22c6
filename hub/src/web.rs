//! The teacher's pages: sign-in, classes, the dashboard, the policy form.
//! Every state-changing form carries the session's CSRF token (the login
//! form a per-visit one, kept in its own cookie), checked before anything
//! else is done.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::Form;
use ed25519_dalek::SigningKey;
use pencil_core::classroom::{
    sign, Assignment, HandState, HintKind, HintSize, Policy, SignedPolicy, MAX_HAND_MESSAGE, POLICY_FORMAT,
};
use serde::Deserialize;
use std::sync::OnceLock;

use crate::html::{ago, csrf_field, esc, page};
use crate::security::{
    ct_eq, hash_password, new_join_code, new_token, token_hash, verify_password,
};
use crate::server::{now, SharedState};
use crate::dashboard::{class_view, ClassView, RECOVERY_RUNS};
use crate::store::{Class, HandRow, Session};

const SESSION_COOKIE: &str = "pencil_hub_session";
const LOGIN_COOKIE: &str = "pencil_hub_login";
const SESSION_SECS: i64 = 12 * 3600;
/// Join codes expire; the teacher can draw a new one at any time.
pub const JOIN_CODE_SECS: i64 = 14 * 86_400;
/// Failed sign-ins per account, and per address, within the window.
const FAILURES_PER_ACCOUNT: u32 = 5;
const FAILURES_PER_IP: u32 = 20;
const FAILURE_WINDOW_SECS: i64 = 15 * 60;
const MAX_CLASS_NAME: usize = 80;

fn internal(e: anyhow::Error) -> Response {
    tracing::error!("web: {e:#}");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
}

fn forbidden_csrf() -> Response {
    (
        StatusCode::FORBIDDEN,
        "the form's security token is missing or stale; reload the page and try again\n",
    )
        .into_response()
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A Set-Cookie header; `Secure` when the hub serves TLS, so the browser
/// never sends the cookie over plain HTTP.
fn set_cookie(
    state: &SharedState,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
) -> (header::HeaderName, String) {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    (
        header::SET_COOKIE,
        format!(
            "{name}={value}; HttpOnly; SameSite=Strict; Path={path}; Max-Age={max_age}{secure}"
        ),
    )
}

/// The signed-in teacher, or the answer to send instead (a redirect to the
/// sign-in page).
async fn session(state: &SharedState, headers: &HeaderMap) -> Result<(Session, String), Response> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Err(Redirect::to("/login").into_response());
    };
    let hash = token_hash(token);
    let key = hash.clone();
    let t = now();
    match state.store.call(move |db| db.session(&key, t)).await {
        Ok(Some(s)) => Ok((s, hash)),
        Ok(None) => Err(Redirect::to("/login").into_response()),
        Err(e) => Err(internal(e)),
    }
}

/// The class, if this teacher owns it. Another teacher's class answers 404,
/// the same as a missing one, so ids reveal nothing.
async fn owned_class(state: &SharedState, s: &Session, id: i64) -> Result<Class, Response> {
    match state.store.call(move |db| db.class(id)).await {
        Ok(Some(c)) if c.teacher_id == s.teacher_id => Ok(c),
        Ok(_) => Err((StatusCode::NOT_FOUND, "no such class\n").into_response()),
        Err(e) => Err(internal(e)),
    }
}

/// The signed-in teacher and their class `id`, for a form that changes the
/// class: no session redirects to sign-in, a wrong CSRF token is 403 (checked
/// before anything else), another teacher's class 404.
async fn class_form(state: &SharedState, headers: &HeaderMap, csrf: &str, id: i64) -> Result<(Session, Class), Response> {
    let (s, _) = session(state, headers).await?;
    if !ct_eq(&s.csrf, csrf) {
        return Err(forbidden_csrf());
    }
    let class = owned_class(state, &s, id).await?;
    Ok((s, class))
}

fn header_bar(s: &Session) -> String {
    format!(
        "<header><p><a href=\"/classes\">Classes</a></p><form class=\"inline\" method=\"post\" action=\"/logout\">{}\
         <span class=\"muted\">{}</span> <button>Sign out</button></form></header>",
        csrf_field(&s.csrf),
        esc(&s.teacher_name)
    )
}

pub(crate) async fn index(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    match session(&state, &headers).await {
        Ok(_) => Redirect::to("/classes").into_response(),
        Err(response) => response,
    }
}

fn login_form(state: &SharedState, message: Option<&str>) -> Response {
    let Ok(token) = new_token() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no randomness\n").into_response();
    };
    let message = message
        .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(m)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Pencil hub</h1>{message}<form method=\"post\" action=\"/login\">{}\
         <label>Name <input type=\"text\" name=\"name\" autocomplete=\"username\" required autofocus></label>\
         <label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\
         <button>Sign in</button></form>",
        csrf_field(&token)
    );
    let mut response = page("Sign in", "", &body);
    let (name, value) = set_cookie(state, LOGIN_COOKIE, &token, "/login", 3600);
    if let Ok(value) = value.parse() {
        response.headers_mut().append(name, value);
    }
    response
}

pub(crate) async fn login_page(State(state): State<SharedState>) -> Response {
    login_form(&state, None)
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// An Argon2id hash of a password nobody has, verified for unknown names so
/// that a wrong name takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password("no teacher has this password").unwrap_or_default())
}

pub(crate) async fn login(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !ct_eq(expected, &form.csrf) {
        return forbidden_csrf();
    }
    let account_key = format!("login:account:{}", form.name.trim());
    let ip_key = format!("login:ip:{}", state.client_ip(peer, &headers));
    let t = now();
    let keys = vec![(account_key.clone(), FAILURES_PER_ACCOUNT), (ip_key.clone(), FAILURES_PER_IP)];
    let name = form.name.trim().to_string();
    // The attempt is counted before the password is checked (and forgiven if
    // it was right), so parallel guesses cannot slip past the limit.
    let looked_up = state
        .store
        .call(move |db| {
            if !db.reserve_attempt(&keys, t - FAILURE_WINDOW_SECS, t)? {
                return Ok(None);
            }
            Ok(Some(db.teacher_by_name(&name)?))
        })
        .await;
    let teacher = match looked_up {
        Ok(Some(teacher)) => teacher,
        Ok(None) => {
            let mut response = login_form(&state, Some(
                "Too many failed sign-ins. Sign-in is paused for 15 minutes for this account or this computer.",
            ));
            *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            return response;
        }
        Err(e) => return internal(e),
    };
    let hash = teacher
        .as_ref()
        .map(|t| t.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let password = form.password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let teacher = match (ok, teacher) {
        (true, Some(teacher)) => teacher,
        _ => {
            let mut response = login_form(&state, Some("Wrong name or password."));
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            return response;
        }
    };
    let (Ok(token), Ok(csrf)) = (new_token(), new_token()) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no randomness\n").into_response();
    };
    let hash = token_hash(&token);
    let created = state
        .store
        .call(move |db| {
            db.clear_failures(&account_key)?;
            db.release_attempt(&ip_key, t)?;
            db.create_session(&hash, teacher.id, &csrf, t + SESSION_SECS)
        })
        .await;
    if let Err(e) = created {
        return internal(e);
    }
    // AppendHeaders: two Set-Cookie headers, not one replacing the other.
    (
        AppendHeaders([
            set_cookie(&state, SESSION_COOKIE, &token, "/", SESSION_SECS),
            set_cookie(&state, LOGIN_COOKIE, "", "/login", 0),
        ]),
        Redirect::to("/classes"),
    )
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn logout(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let (s, hash) = match session(&state, &headers).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    if !ct_eq(&s.csrf, &form.csrf) {
        return forbidden_csrf();
    }
    if let Err(e) = state.store.call(move |db| db.delete_session(&hash)).await {
        return internal(e);
    }
    (
        [set_cookie(&state, SESSION_COOKIE, "", "/", 0)],
        Redirect::to("/login"),
    )
        .into_response()
}

pub(crate) async fn classes(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    let (s, _) = match session(&state, &headers).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let teacher = s.teacher_id;
    let list = match state.store.call(move |db| db.classes_of(teacher)).await {
        Ok(l) => l,
        Err(e) => return internal(e),
    };
    let items: String = list
        .iter()
        .map(|c| {
            format!(
                "<li><a href=\"/classes/{}\">{}</a></li>",
                c.id,
                esc(&c.name)
            )
        })
        .collect();
    let body = format!(
        "{}<h1>Your classes</h1><ul>{}</ul><h2>New class</h2><form method=\"post\" action=\"/classes\">{}\
         <label>Name <input type=\"text\" name=\"name\" maxlength=\"{MAX_CLASS_NAME}\" required></label>\
         <button>Create class</button></form>",
        header_bar(&s),
        if items.is_empty() { "<li class=\"muted\">none yet</li>".into() } else { items },
        csrf_field(&s.csrf)
    );
    page("Classes", "", &body)
}

#[derive(Deserialize)]
pub(crate) struct ClassForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// Draws join codes until one is free (collisions are rare but possible).
async fn with_fresh_code<F>(state: &SharedState, mut attempt: F) -> anyhow::Result<i64>
where
    F: FnMut(
        String,
    )
        -> Box<dyn FnOnce(&mut dyn crate::store::Db) -> anyhow::Result<Option<i64>> + Send>,
{
    for _ in 0..8 {
        let job = attempt(new_join_code()?);
        if let Some(id) = state.store.call(job).await? {
            return Ok(id);
        }
    }
    anyhow::bail!("could not find a free join code")
}

pub(crate) async fn create_class(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(form): Form<ClassForm>,
) -> Response {
    let (s, _) = match session(&state, &headers).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    if !ct_eq(&s.csrf, &form.csrf) {
        return forbidden_csrf();
    }
    let name = form.name.trim().to_string();
    if name.is_empty()
        || name.chars().count() > MAX_CLASS_NAME
        || name.chars().any(char::is_control)
    {
        return (
            StatusCode::BAD_REQUEST,
            format!("a class name is 1 to {MAX_CLASS_NAME} characters\n"),
        )
            .into_response();
    }
    let teacher = s.teacher_id;
    let t = now();
    let created = with_fresh_code(&state, |code| {
        let name = name.clone();
        Box::new(move |db| {
            let Some(id) = db.create_class(teacher, &name, &code, t + JOIN_CODE_SECS, t)? else {
                return Ok(None);
            };
            let seed = db.teacher_signing_seed(teacher)?;
            let signed = sign(Policy::default_for(id), &SigningKey::from_bytes(&seed));
            db.put_policy(id, signed.policy.serial, &serde_json::to_string(&signed)?)?;
            Ok(Some(id))
        })
    })
    .await;
    match created {
        Ok(id) => Redirect::to(&format!("/classes/{id}")).into_response(),
        Err(e) => internal(e),
    }
}

pub(crate) async fn new_code(
    State(state): State<SharedState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if let Err(response) = class_form(&state, &headers, &form.csrf, id).await {
        return response;
    }
    let t = now();
    let changed = with_fresh_code(&state, |code| {
        Box::new(move |db| {
            Ok(db
                .set_join_code(id, &code, t + JOIN_CODE_SECS)?
                .then_some(id))
        })
    })
    .await;
    match changed {
        Ok(_) => Redirect::to(&format!("/classes/{id}")).into_response(),
        Err(e) => internal(e),
    }
}

/// How far back the dashboard reads events: about a school day.
const DASHBOARD_WINDOW_SECS: i64 = 12 * 3600;

pub(crate) async fn dashboard(
    State(state): State<SharedState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    let (s, _) = match session(&state, &headers).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let class = match owned_class(&state, &s, id).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let t = now();
    let read = state
        .store
        .call(move |db| {
            Ok((
                db.class_summary(id)?,
                db.class_events(id, t - DASHBOARD_WINDOW_SECS)?,
                db.class_hands(id, false)?,
            ))
        })
        .await;
    let (summary, events, hands) = match read {
        Ok(v) => v,
        Err(e) => return internal(e),
    };
    let view = class_view(summary, &events, &hands, t, state.idle_after_secs);
    let code = match &class.join_code {
        Some(code) if class.code_expires > t => format!(
            "Join code <span class=\"code\">{}</span> <span class=\"muted\">(valid {})</span>",
            esc(code),
            until(class.code_expires - t)
        ),
        _ => "No valid join code".into(),
    };
    let body = format!(
        "{}<h1>{}</h1><p>{code} <form class=\"inline\" method=\"post\" action=\"/classes/{id}/code\">{}\
         <button>New code</button></form> · <a href=\"/classes/{id}/policy\">Hint policy</a></p>\
         {}{}<h2>Students ({})</h2><ul class=\"tiles\">{}</ul>\
         <div class=\"panels\">{}{}{}</div>",
        header_bar(&s),
        esc(&class.name),
        csrf_field(&s.csrf),
        hands_html(&s, id, &hands, t),
        help_next_html(&view),
        view.tiles.len(),
        tiles_html(&view, t),
        titles_html(&view),
        errors_html(&view),
        hint_help_html(&view),
    );
    // Reload while nobody is typing a reply (a refresh would lose it).
    let refresh = if hands.is_empty() { "<meta http-equiv=\"refresh\" content=\"10\">" } else { "" };
    page(&class.name, refresh, &body)
}

fn tiles_html(view: &ClassView, t: i64) -> String {
    if view.tiles.is_empty() {
        return "<li class=\"muted\">Nobody has joined yet.</li>".into();
    }
    view.tiles
        .iter()
        .map(|tile| {
            let class_attr = tile.alerts.first().map(|a| format!(" {}", a.css())).unwrap_or_default();
            let alerts: String = tile
                .alerts
                .iter()
                .map(|a| format!("<span class=\"alert {}\">{}</span>", a.css(), a.label()))
                .collect();
            format!(
                "<li class=\"tile{class_attr}\"><h3>{}</h3><p>{alerts}</p><p>{}</p>\
                 <p class=\"muted\">{} runs · last success {}</p></li>",
                esc(&tile.name),
                tile.title
                    .as_deref()
                    .map(|t| format!("Working on <b>{}</b>", esc(t)))
                    .unwrap_or_else(|| "No runs yet".into()),
                tile.runs,
                tile.last_success_at.map(|at| ago(t - at)).unwrap_or_else(|| "never".into()),
            )
        })
        .collect()
}

fn help_next_html(view: &ClassView) -> String {
    if view.help_next.is_empty() {
        return String::new();
    }
    let items: String = view
        .help_next
        .iter()
        .map(|h| format!("<li><b>{}</b>: {}</li>", esc(&h.name), esc(&h.reason)))
        .collect();
    format!("<h2>Help next</h2><ol class=\"help-next\">{items}</ol>")
}

fn hands_html(s: &Session, class_id: i64, hands: &[HandRow], t: i64) -> String {
    if hands.is_empty() {
        return String::new();
    }
    let items: String = hands
        .iter()
        .rev() // oldest first: whoever asked first is answered first
        .map(|h| {
            let message = h
                .message
                .as_deref()
                .map(|m| format!("<blockquote>{}</blockquote>", esc(m)))
                .unwrap_or_default();
            let trace = h
                .trace_json
                .as_deref()
                .and_then(|j| serde_json::from_str::<Vec<HandState>>(j).ok())
                .map(|states| {
                    let steps: String = states
                        .iter()
                        .map(|st| format!("<li><span class=\"muted\">{}</span><pre>{}</pre></li>", esc(&st.time), esc(&st.program)))
                        .collect();
                    format!("<details><summary>Earlier versions ({})</summary><ol>{steps}</ol></details>", states.len())
                })
                .unwrap_or_default();
            let reply = h
                .reply
                .as_deref()
                .map(|r| format!("<p class=\"muted\">Your reply: {}</p>", esc(r)))
                .unwrap_or_default();
            format!(
                "<li class=\"hand-request\"><h3>{} <span class=\"muted\">asks about <b>{}</b>, {}</span></h3>{message}\
                 <pre class=\"program\">{}</pre>{trace}{reply}\
                 <form method=\"post\" action=\"/classes/{class_id}/hands/{}\">{}\
                 <textarea name=\"reply\" rows=\"2\" maxlength=\"{MAX_HAND_MESSAGE}\" placeholder=\"Reply (appears in the student's editor)\"></textarea>\
                 <button name=\"action\" value=\"reply\">Send reply</button> \
                 <button name=\"action\" value=\"resolve\">Mark done</button></form></li>",
                esc(&h.display_name),
                esc(&h.title),
                ago(t - h.received_at),
                esc(&h.program),
                h.seq,
                csrf_field(&s.csrf),
            )
        })
        .collect();
    format!("<h2>Raised hands ({})</h2><ul class=\"hands\">{items}</ul>", hands.len())
}

fn titles_html(view: &ClassView) -> String {
    if view.titles.is_empty() {
        return String::new();
    }
    let rows: String = view
        .titles
        .iter()
        .map(|p| {
            let pct = (p.succeeded * 100).checked_div(p.started).unwrap_or(0);
            format!(
                "<tr><td>{}</td><td>{} / {}</td><td><meter min=\"0\" max=\"100\" value=\"{pct}\"></meter></td><td>{}</td></tr>",
                esc(&p.title),
                p.succeeded,
                p.started,
                p.runs
            )
        })
        .collect();
    format!(
        "<section><h2>Progress per program</h2><table><tr><th>Program</th><th>Succeeded / started</th><th></th><th>Runs</th></tr>{rows}</table></section>"
    )
}

fn errors_html(view: &ClassView) -> String {
    if view.errors.is_empty() {
        return String::new();
    }
    let rows: String = view
        .errors
        .iter()
        .map(|e| format!("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(&e.error_class), e.runs, e.students))
        .collect();
    format!("<section><h2>Error types</h2><table><tr><th>Error</th><th>Runs</th><th>Students</th></tr>{rows}</table></section>")
}

fn hint_help_html(view: &ClassView) -> String {
    if view.hint_help.is_empty() {
        return String::new();
    }
    let rows: String = view
        .hint_help
        .iter()
        .map(|h| {
            let rate = h.rate().map(|r| format!("{:.0}%", r * 100.0)).unwrap_or_else(|| "-".into());
            format!(
                "<tr><td>{}</td><td>{rate} ({} of {})</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(hint_kind_label(&h.kind)),
                h.recovered,
                h.decided,
                h.accepted,
                h.dismissed,
                h.pending
            )
        })
        .collect();
    format!(
        "<section><h2>Did the hint help?</h2><p class=\"muted\">Recovered: a successful run of the same program within {RECOVERY_RUNS} runs of the hint.</p>\
         <table><tr><th>Hint</th><th>Recovered</th><th>Accepted</th><th>Dismissed</th><th>Too recent</th></tr>{rows}</table></section>"
    )
}

fn hint_kind_label(kind: &str) -> &str {
    match HintKind::parse(kind) {
        Some(HintKind::RuleFix) => "Quick fix",
        Some(HintKind::StyleFix) => "Fix in my style",
        Some(HintKind::RiskFlag) => "Backtracking warning",
        None => kind,
    }
}

#[derive(Deserialize)]
pub(crate) struct HandAnswer {
    csrf: String,
    #[serde(default)]
    reply: String,
    action: String,
}

/// The teacher's reply to a raised hand, or "done".
pub(crate) async fn answer_hand(
    State(state): State<SharedState>,
    Path((id, seq)): Path<(i64, i64)>,
    headers: HeaderMap,
    Form(form): Form<HandAnswer>,
) -> Response {
    if let Err(response) = class_form(&state, &headers, &form.csrf, id).await {
        return response;
    }
    let reply = form.reply.trim().to_string();
    if reply.chars().count() > MAX_HAND_MESSAGE {
        return (StatusCode::BAD_REQUEST, format!("a reply is at most {MAX_HAND_MESSAGE} characters\n")).into_response();
    }
    let (reply, resolve) = match form.action.as_str() {
        "reply" if reply.is_empty() => {
            return (StatusCode::BAD_REQUEST, "the reply is empty\n").into_response();
        }
        "reply" => (Some(reply), false),
        "resolve" => ((!reply.is_empty()).then_some(reply), true),
        _ => return (StatusCode::BAD_REQUEST, "unknown action\n").into_response(),
    };
    let t = now();
    match state.store.call(move |db| db.answer_hand(id, seq, reply.as_deref(), resolve, t)).await {
        Ok(true) => Redirect::to(&format!("/classes/{id}")).into_response(),
        Ok(false) => (StatusCode::NOT_FOUND, "no such hand in this class\n").into_response(),
        Err(e) => internal(e),
    }
}

fn until(seconds: i64) -> String {
    if seconds >= 86_400 {
        format!("{} more days", seconds / 86_400)
    } else {
        format!("{} more hours", seconds / 3600)
    }
}

async fn current_policy(state: &SharedState, id: i64) -> Result<Policy, Response> {
    match state.store.call(move |db| db.policy(id)).await {
        Ok(Some(json)) => serde_json::from_str::<SignedPolicy>(&json)
            .map(|s| s.policy)
            .map_err(|e| internal(anyhow::anyhow!("stored policy of class {id}: {e}"))),
        Ok(None) => Ok(Policy::default_for(id)),
        Err(e) => Err(internal(e)),
    }
}

fn policy_form(s: &Session, class: &Class, p: &Policy, message: Option<&str>) -> Response {
    let checked = |b: bool| if b { " checked" } else { "" };
    let limit = |v: Option<u32>| v.map(|n| n.to_string()).unwrap_or_default();
    let sizes: String = [HintSize::Small, HintSize::Medium, HintSize::Large]
        .iter()
        .map(|size| {
            let selected = if *size == p.max_hint_size {
                " selected"
            } else {
                ""
            };
            format!("<option{selected}>{}</option>", size.as_str())
        })
        .collect();
    let assignments: String = p
        .assignments
        .iter()
        .map(|a| {
            format!(
                "{} | {} | {}\n",
                a.title,
                a.opens.as_deref().unwrap_or(""),
                a.closes.as_deref().unwrap_or("")
            )
        })
        .collect();
    let message = message
        .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(m)))
        .unwrap_or_default();
    let body = format!(
        "{}<h1>Hint policy · {}</h1>{message}<p class=\"muted\">Version {} of this policy, signed with your key; \
         students' coaches check the signature and apply it offline.</p>\
         <form method=\"post\" action=\"/classes/{}/policy\">{}\
         <label><input type=\"checkbox\" name=\"hints_enabled\"{}> Hints on</label>\
         <label>Hints per assignment <input type=\"number\" min=\"0\" name=\"hints_per_title\" value=\"{}\"> (empty: no limit)</label>\
         <label>Hints per hour <input type=\"number\" min=\"0\" name=\"hints_per_hour\" value=\"{}\"> (empty: no limit)</label>\
         <label>Largest hint <select name=\"max_hint_size\">{sizes}</select></label>\
         <label><input type=\"checkbox\" name=\"reflect_first\"{}> Reflect first (the student says what is wrong before a fix is shown)</label>\
         <label><input type=\"checkbox\" name=\"quiz_mode\"{}> Quiz mode (no fixes, no hints; runs still checked)</label>\
         <label>Assignments, one per line: <code>title | opens | closes</code> (times like 2026-12-07T09:00:00Z, may be empty)\
         <br><textarea name=\"assignments\" rows=\"6\" cols=\"70\">{}</textarea></label>\
         <button>Sign and publish</button></form>",
        header_bar(s),
        esc(&class.name),
        p.serial,
        class.id,
        csrf_field(&s.csrf),
        checked(p.hints_enabled),
        limit(p.hints_per_title),
        limit(p.hints_per_hour),
        checked(p.reflect_first),
        checked(p.quiz_mode),
        esc(&assignments),
    );
    page("Hint policy", "", &body)
}

pub(crate) async fn policy_page(
    State(state): State<SharedState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    let (s, _) = match session(&state, &headers).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let class = match owned_class(&state, &s, id).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    match current_policy(&state, id).await {
        Ok(p) => policy_form(&s, &class, &p, None),
        Err(response) => response,
    }
}

/// Reads the policy form into a policy (serial and class left to the caller).
fn parse_policy_form(form: &HashMap<String, String>, class_id: i64) -> Result<Policy, String> {
    let flag = |name: &str| form.get(name).is_some_and(|v| !v.is_empty());
    let limit = |name: &str| -> Result<Option<u32>, String> {
        match form.get(name).map(|v| v.trim()).unwrap_or("") {
            "" => Ok(None),
            v => v
                .parse()
                .map(Some)
                .map_err(|_| format!("{name}: '{v}' is not a whole number")),
        }
    };
    let max_hint_size = HintSize::parse(
        form.get("max_hint_size")
            .map(String::as_str)
            .unwrap_or("medium"),
    )
    .ok_or("largest hint must be small, medium or large")?;
    let mut assignments = Vec::new();
    for line in form
        .get("assignments")
        .map(String::as_str)
        .unwrap_or("")
        .lines()
    {
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.split('|').map(str::trim);
        let title = parts.next().unwrap_or("").to_string();
        let time = |t: Option<&str>| -> Result<Option<String>, String> {
            match t.unwrap_or("") {
                "" => Ok(None),
                t => time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                    .map(|_| Some(t.to_string()))
                    .map_err(|_| format!("'{t}' is not a time like 2026-12-07T09:00:00Z")),
            }
        };
        let (opens, closes) = (time(parts.next())?, time(parts.next())?);
        if title.is_empty() || title.chars().count() > pencil_core::classroom::MAX_EVENT_TITLE {
            return Err(format!(
                "assignment title must be 1 to {} characters",
                pencil_core::classroom::MAX_EVENT_TITLE
            ));
        }
        assignments.push(Assignment {
            title,
            opens,
            closes,
        });
    }
    Ok(Policy {
        version: POLICY_FORMAT,
        serial: 0,
        class_id,
        hints_enabled: flag("hints_enabled"),
        hints_per_title: limit("hints_per_title")?,
        hints_per_hour: limit("hints_per_hour")?,
        max_hint_size,
        reflect_first: flag("reflect_first"),
        quiz_mode: flag("quiz_mode"),
        assignments,
    })
}

pub(crate) async fn save_policy(
    State(state): State<SharedState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let csrf = form.get("csrf").map(String::as_str).unwrap_or("");
    let (s, class) = match class_form(&state, &headers, csrf, id).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let mut policy = match parse_policy_form(&form, id) {
        Ok(p) => p,
        Err(message) => {
            let current = current_policy(&state, id)
                .await
                .unwrap_or_else(|_| Policy::default_for(id));
            let mut response = policy_form(&s, &class, &current, Some(&message));
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return response;
        }
    };
    let teacher = s.teacher_id;
    let saved = state
        .store
        .call(move |db| {
            // Read and write in one job: the serial only ever grows.
            let current = match db.policy(id)? {
                Some(json) => serde_json::from_str::<SignedPolicy>(&json)?.policy.serial,
                None => 0,
            };
            policy.serial = current + 1;
            let seed = db.teacher_signing_seed(teacher)?;
            let signed = sign(policy, &SigningKey::from_bytes(&seed));
            db.put_policy(id, signed.policy.serial, &serde_json::to_string(&signed)?)
        })
        .await;
    match saved {
        Ok(()) => Redirect::to(&format!("/classes/{id}/policy")).into_response(),
        Err(e) => internal(e),
    }
}
