//! Who may drive the coach over `pencil-lsp --listen`, decided in one place.
//!
//! Browsers do not apply the same-origin policy to WebSockets: any page the student
//! visits may open `ws://127.0.0.1:PORT` from its scripts, and a DNS-rebinding page
//! may even reach it under its own name. So every request to the listener passes,
//! before any LSP byte is read ([`ListenPolicy::admit`]):
//!
//! 1. **Host**: `127.0.0.1`, `localhost` or `[::1]` with the listener's port (under
//!    `--allow-remote` also the bound address, or any IP literal when bound to all
//!    interfaces: rebinding needs a DNS name, an IP literal cannot be rebound).
//!    Anything else is 403.
//! 2. **Origin** (sent by every browser on a WebSocket handshake): absent (an editor,
//!    not a browser), the origin of the page this listener serves (`http://` plus an
//!    allowed Host), or one the user listed with `--allow-origin`. Anything else,
//!    `null` included, is 403.
//! 3. **Token**: a secret made per launch ([`Token`]). A WebSocket presents it as the
//!    subprotocol `pencil-lsp.token.<token>` (echoed back by the server); the page
//!    `GET /?token=<token>` carries it. Missing: 401; wrong: 403. Compared in
//!    constant time.
//!
//! Once connected, a WebSocket client may call only [`WEBSOCKET_METHODS`], and
//! settings that name files ([`PATH_SETTINGS`]) are ignored with a message: a client
//! over the wire never picks which files the server reads or writes. Stdio is the
//! editor that started the process and is trusted like the user.
//!
//! # The student's confirmation
//!
//! Joining a class, consenting to or withdrawing from a study, sending research data
//! and reading the stored trace ([`NEEDS_STUDENT_CONFIRMATION`]) must never happen
//! because a script asked. Whoever holds the socket is not necessarily the student:
//! a page at an `--allow-origin` origin holds one, and any script that page runs
//! (its own, an ad's, an injected one) can send any request. So over WebSocket these
//! requests never act. Their handler (`api/requests/guarded.rs`) checks the request,
//! files a pending confirmation (`confirm`: 256 random bits of id, a second secret
//! of 256 bits, the form nonce, one use, 2 minutes, at most 3 waiting per session,
//! dropped when the session closes) and answers the JSON-RPC error `-32010` whose
//! data is the address `http://<Host>/confirm/<id>`. The outcome comes later as
//! `pencil/confirmation` `{id, outcome, message, result}`.
//!
//! The page opens that address as a window of its own. `GET /confirm/<id>` passes the
//! Host check like every request, needs no token (the id is the capability, known
//! only to the session that asked), and is refused when a browser says it is for a
//! frame (`Sec-Fetch-Dest` other than `document`) or sends a foreign Origin (a
//! script's cross-origin read). It answers a server-rendered page (`confirm_page`)
//! with no script at all (`default-src 'none'`), `frame-ancestors 'none'` and
//! `X-Frame-Options: DENY`, cached nowhere, that says in plain words who asks and
//! what will happen: the hub, class code and display name; the study, who consents,
//! what is collected and for how long, the consent text; the exact bytes of an
//! upload with their SHA-256; which title's saved versions. Its form carries the
//! nonce, a box "I have read this" that must be ticked, Confirm and Cancel; the
//! buttons appear only after 0.8 s (CSS) and every load starts unticked, so neither
//! a window that pops up under a double click nor one the opener navigates to
//! another confirmation under the cursor is confirmed by a click meant for something else.
//!
//! Only `POST /confirm/<id>` does the action, once, and only when: its `Origin` is
//! the listener's own, exactly as its Host names it (missing, `null`, a listed
//! origin or any other: 403); `Sec-Fetch-Site`, when sent, is `same-origin`;
//! `Sec-Fetch-Dest`, when sent, is `document`; it is a small urlencoded form; the
//! nonce is the one its page showed (compared in constant time; a wrong one leaves
//! the entry waiting); the entry has not expired or been answered. Why this holds:
//! the requester knows the id but cannot read the nonce (the page is on the
//! listener's origin and sends no CORS headers; the coach's own page may not even
//! connect there, its `connect-src` is the WebSocket alone, and opens the window
//! `noopener`), and a browser never lets a page of another origin forge the Origin
//! of a POST. The page answers with `Referrer-Policy: same-origin`, because under
//! `no-referrer` browsers post forms with `Origin: null`. The action is done by the
//! same plain functions the `pencil-lsp class` and `pencil-lsp research` commands
//! call (`actions`), and the session is told the outcome.
//!
//! Choices: the research preview is not a separate read, because scrubbed programs
//! are still the student's programs: the bytes are shown only in the confirmation
//! window of `pencil/research/send`, where Confirm sends exactly those bytes (their
//! SHA-256 is fixed when the window is made and compared again before sending, as
//! `upload --expect-sha256` does). The trace, once confirmed, goes to the session
//! that asked (`result` of `pencil/confirmation`): the student agreed to let that
//! page read it, and the page's point in asking is to show it. Reads that change
//! nothing and hold no program (the class joined, the studies offered, receipts
//! without pseudonyms) need no confirmation. Out of reach of this design, and of
//! the token's: a process of the same user (it can run `pencil-lsp class join`
//! itself), and anyone who can read `--allow-remote`'s plain HTTP.

use crate::protocol::{RUN_METHOD, TRACE_METHOD};
use crate::session::ClientOptions;
use std::net::{IpAddr, SocketAddr};

/// The subprotocol prefix a WebSocket client presents its token with.
pub const TOKEN_PROTOCOL_PREFIX: &str = "pencil-lsp.token.";

/// Environment variable that sets the token (for an editor that starts the server).
pub const TOKEN_ENV: &str = "PENCIL_LSP_TOKEN";

/// Fewest characters a token from [`TOKEN_ENV`] may have (32 hex digits: 128 bits).
pub const MIN_TOKEN_CHARS: usize = 32;

/// Who is on the other end of a server session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The editor that started this process, over stdio: trusted like the user.
    Stdio,
    /// A client that passed the WebSocket handshake checks: a page or an editor that
    /// knows the token, but still never names files or calls methods off the list.
    WebSocket,
}

/// The LSP methods a WebSocket client may call; every other request gets a JSON-RPC
/// error and is not executed, every other notification is dropped. Responses to the
/// server's own requests always pass.
///
/// Keep this list to what the editor page needs. Methods that change consent or class
/// membership, or read stored traces, must not be added here: they go in
/// [`NEEDS_STUDENT_CONFIRMATION`].
pub const WEBSOCKET_METHODS: &[&str] = &[
    "initialize",
    "initialized",
    "shutdown",
    "exit",
    "$/cancelRequest",
    "$/setTrace",
    "window/workDoneProgress/cancel",
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didSave",
    "textDocument/didClose",
    "textDocument/codeAction",
    // `pencil.acceptFix` / `pencil.dismissHint` (bookkeeping), `pencil.reflect` (the
    // student's words, kept locally) and `pencil.askTeacher`: a page may send the
    // program it shows; with `shareTrace` the stored trace goes only after the student
    // confirms in the coach's window, as for the methods below.
    "workspace/executeCommand",
    // File-naming settings in it are ignored (see `PATH_SETTINGS`).
    "workspace/didChangeConfiguration",
    RUN_METHOD,
    // Reads that change nothing and carry no program: the class joined (name, hub, the
    // display name the student chose, the policy), the studies offered and one study's
    // document, the consent receipts (without the study pseudonym).
    CLASS_SHOW_METHOD,
    STUDIES_METHOD,
    STUDY_METHOD,
    RECEIPTS_METHOD,
];

/// `pencil/class/show`: the class joined and its policy (a read).
pub const CLASS_SHOW_METHOD: &str = "pencil/class/show";
/// `pencil/class/join` `{hub, code, name}`: join a class (guarded).
pub const CLASS_JOIN_METHOD: &str = "pencil/class/join";
/// `pencil/research/studies`: the studies the class offers and those kept here (a read).
pub const STUDIES_METHOD: &str = "pencil/research/studies";
/// `pencil/research/study` `{study}`: one study's document and the consent given to it (a read).
pub const STUDY_METHOD: &str = "pencil/research/study";
/// `pencil/research/receipts`: the consent receipts (a read).
pub const RECEIPTS_METHOD: &str = "pencil/research/receipts";
/// `pencil/research/consent` `{study, by, age?}`: consent to a study (guarded).
pub const CONSENT_METHOD: &str = "pencil/research/consent";
/// `pencil/research/send` `{study, sha256?}`: show the exact bytes of the next upload, then send them (guarded).
pub const SEND_METHOD: &str = "pencil/research/send";
/// `pencil/research/withdraw` `{study}`: withdraw consent (guarded).
pub const WITHDRAW_METHOD: &str = "pencil/research/withdraw";
/// `pencil/confirmation` (server to client): what became of a confirmation.
pub const CONFIRMATION_NOTIFICATION: &str = "pencil/confirmation";

/// Methods that change consent or class membership, send research data or read
/// stored traces. Over WebSocket they reach the server, but their handler never
/// acts: it files a pending confirmation and answers the address of its page,
/// where the student confirms or cancels (see the module doc). Over stdio they act at once.
pub const NEEDS_STUDENT_CONFIRMATION: &[&str] =
    &[TRACE_METHOD, CLASS_JOIN_METHOD, CONSENT_METHOD, SEND_METHOD, WITHDRAW_METHOD];

/// What a peer may do with one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodAccess {
    /// Executed.
    Allowed,
    /// Not executed: a request gets an error, a notification is dropped.
    Refused,
    /// Reaches the server, whose handler files a confirmation instead of acting.
    NeedsConfirmation,
}

/// Whether `peer` may call `method`.
pub fn method_access(peer: Peer, method: &str) -> MethodAccess {
    match peer {
        Peer::Stdio => MethodAccess::Allowed,
        Peer::WebSocket if WEBSOCKET_METHODS.contains(&method) => MethodAccess::Allowed,
        Peer::WebSocket if NEEDS_STUDENT_CONFIRMATION.contains(&method) => MethodAccess::NeedsConfirmation,
        Peer::WebSocket => MethodAccess::Refused,
    }
}

/// Client settings that name files or directories; a WebSocket client may not set them.
pub const PATH_SETTINGS: &[&str] = &["dataDir", "modelDir"];

/// Removes the settings that name files from options a WebSocket client sent, and
/// says which were ignored and why (None when there were none, or over stdio).
pub fn drop_path_settings(peer: Peer, options: &mut ClientOptions) -> Option<String> {
    if peer == Peer::Stdio {
        return None;
    }
    let mut ignored = Vec::new();
    if options.data_dir.take().is_some() {
        ignored.push("dataDir");
    }
    if options.model_dir.take().is_some() {
        ignored.push("modelDir");
    }
    debug_assert!(ignored.iter().all(|s| PATH_SETTINGS.contains(s)));
    (!ignored.is_empty()).then(|| {
        format!(
            "Pencil coach: the {} setting{} ignored over WebSocket (a web page must not choose which files the coach \
             reads or writes); start pencil-lsp with --data-dir or --model instead.",
            ignored.join(" and "),
            if ignored.len() == 1 { " is" } else { "s are" },
        )
    })
}

/// The per-launch secret. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    /// 256 random bits from the operating system, as 64 hex digits.
    pub fn generate() -> Result<Token, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// A token given by the user ([`TOKEN_ENV`]): at least [`MIN_TOKEN_CHARS`]
    /// characters of `A-Z a-z 0-9 - _` (hex or base64url), so it is a valid
    /// subprotocol name and a URL query value without escaping.
    pub fn parse(text: &str) -> Result<Token, String> {
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if text.len() < MIN_TOKEN_CHARS || text.len() > 512 || !text.chars().all(ok) {
            return Err(format!(
                "{TOKEN_ENV} must be {MIN_TOKEN_CHARS} to 512 characters of A-Z, a-z, 0-9, '-' and '_' (for example 64 random hex digits)"
            ));
        }
        Ok(Token(text.to_string()))
    }

    /// The token itself (to print the URL or write the token file).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this token, in time that does not depend on where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), presented.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false; // the length is no secret: every generated token has 64 digits
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Checks and normalises an `--allow-origin` value: `http(s)://host[:port]`, no path,
/// lower case, default port dropped (as browsers send it). `*` and `null` are refused.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let lower = text.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, authority) = lower
        .split_once("://")
        .filter(|(s, _)| *s == "http" || *s == "https")
        .ok_or_else(|| format!("{text:?} is not an origin like https://pencil.example.org (http or https, no path)"))?;
    let bad = authority.is_empty()
        || authority.contains(['/', '?', '#', '@', '*', ' '])
        || authority.chars().any(|c| c.is_control());
    if bad {
        return Err(format!("{text:?} is not an origin like https://pencil.example.org (http or https, no path)"));
    }
    let default_port = if scheme == "http" { ":80" } else { ":443" };
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Ok(format!("{scheme}://{authority}"))
}

/// Splits `host[:port]` (IPv6 in brackets) into the host, lower case, and the port
/// (80 when absent, as for an `http://` URL).
fn split_host(value: &str) -> Option<(String, u16)> {
    let value = value.trim();
    let (host, port) = match value.strip_prefix('[') {
        Some(rest) => {
            let (inner, after) = rest.split_once(']')?;
            (format!("[{inner}]"), after)
        }
        None => match value.find(':') {
            Some(i) => (value[..i].to_string(), &value[i..]),
            None => (value.to_string(), ""),
        },
    };
    let port = if port.is_empty() {
        80
    } else {
        let digits = port.strip_prefix(':')?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()?
    };
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), port))
}

/// Where the confirmation pages live: `/confirm/<id>`.
pub const CONFIRM_PATH: &str = "/confirm/";

/// Largest confirmation form body (a nonce and two words).
pub const MAX_FORM_BYTES: usize = 1024;

/// Whether `id` has the shape of a confirmation id (64 lowercase hex digits).
pub fn is_confirmation_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What one request to the listener gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Upgrade to a WebSocket, echoing this subprotocol.
    WebSocket {
        /// The `pencil-lsp.token.…` subprotocol the client offered.
        protocol: String,
    },
    /// The page at `/`, carrying the token.
    Page,
    /// `GET /confirm/<id>`: the confirmation page of a pending action (see [`crate::server`]'s `confirm`).
    ConfirmPage {
        /// The pending confirmation's id, as the path named it.
        id: String,
    },
    /// `POST /confirm/<id>` from the confirmation page itself: its form, still to be read and checked.
    ConfirmPost {
        /// The pending confirmation's id, as the path named it.
        id: String,
    },
    /// Refused with an HTTP status before any LSP byte is read.
    Refused(Refusal),
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Not an HTTP request this listener understands (or a header given twice).
    Malformed,
    /// A Host other than the loopback names with this port (DNS rebinding).
    Host,
    /// A browser page of another origin.
    Origin,
    /// No token.
    NoToken,
    /// A token that is not this launch's.
    WrongToken,
    /// A path other than `/`.
    NotFound,
    /// A method other than GET (POST only to a confirmation).
    Method,
    /// A confirmation page asked for inside a frame, or posted from one (clickjacking).
    Framed,
    /// A confirmation posted without an `Origin`, or from another origin than the
    /// listener's own (cross-site request forgery).
    ConfirmOrigin,
    /// A confirmation form that is not a small urlencoded form.
    Form,
}

impl Refusal {
    /// The HTTP status it gets.
    pub fn status(self) -> u16 {
        match self {
            Refusal::Malformed => 400,
            Refusal::NoToken => 401,
            Refusal::Host | Refusal::Origin | Refusal::WrongToken | Refusal::Framed | Refusal::ConfirmOrigin => 403,
            Refusal::Form => 400,
            Refusal::NotFound => 404,
            Refusal::Method => 405,
        }
    }

    /// One sentence for the response body and the log (never the request's contents).
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Malformed => "not a request pencil-lsp understands",
            Refusal::Host => "the Host header is not this machine's loopback address (DNS rebinding?)",
            Refusal::Origin => "pages of this origin may not use the coach (pencil-lsp --allow-origin lists more)",
            Refusal::NoToken => "no token: open the address pencil-lsp printed, with its ?token=",
            Refusal::WrongToken => "wrong token: open the address this launch of pencil-lsp printed",
            Refusal::NotFound => "pencil-lsp serves only / and its confirmation pages",
            Refusal::Method => "pencil-lsp answers only GET (and POST from a confirmation page)",
            Refusal::Framed => "a confirmation is shown in its own window, never inside another page",
            Refusal::ConfirmOrigin => "a confirmation is given only in the coach's own confirmation page",
            Refusal::Form => "not a confirmation form",
        }
    }
}

/// The parts of an HTTP request head the checks read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestHead {
    /// `GET`, …
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The query string, without `?`.
    pub query: Option<String>,
    /// The Host header.
    pub host: Option<String>,
    /// The Origin header.
    pub origin: Option<String>,
    /// Whether the request asks for a WebSocket (`Upgrade: websocket`).
    pub upgrade: bool,
    /// The offered subprotocols (every `Sec-WebSocket-Protocol` value, split at commas).
    pub protocols: Vec<String>,
    /// A header that may appear once appeared more often (Host, Origin, Content-Length, …).
    pub repeated_header: bool,
    /// `Sec-Fetch-Site`, when the browser sent it (`same-origin`, `cross-site`, `none`, …).
    pub fetch_site: Option<String>,
    /// `Sec-Fetch-Dest`, when the browser sent it (`document`, `iframe`, …).
    pub fetch_dest: Option<String>,
    /// The Content-Type header.
    pub content_type: Option<String>,
    /// The Content-Length header, when it is a number.
    pub content_length: Option<usize>,
}

/// The listener's rules: which hosts and origins, and the token.
#[derive(Debug, Clone)]
pub struct ListenPolicy {
    bound: SocketAddr,
    allow_remote: bool,
    origins: Vec<String>,
    token: Token,
}

impl ListenPolicy {
    /// Rules for a listener bound to `bound`; `origins` as [`parse_origin`] returns them.
    pub fn new(bound: SocketAddr, allow_remote: bool, origins: Vec<String>, token: Token) -> ListenPolicy {
        ListenPolicy { bound, allow_remote, origins, token }
    }

    /// The listener's address.
    pub fn bound(&self) -> SocketAddr {
        self.bound
    }

    /// The token.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The host part of URLs for the student: the bound address, or loopback when
    /// bound to every interface.
    fn url_host(&self) -> String {
        match self.bound.ip() {
            ip if ip.is_unspecified() && ip.is_ipv6() => format!("[::1]:{}", self.bound.port()),
            ip if ip.is_unspecified() => format!("127.0.0.1:{}", self.bound.port()),
            _ => self.bound.to_string(),
        }
    }

    /// The page's address with the token, to print for the student.
    pub fn page_url(&self) -> String {
        format!("http://{}/?token={}", self.url_host(), self.token.expose())
    }

    /// The WebSocket address (the token goes in the subprotocol, not here).
    pub fn websocket_url(&self) -> String {
        format!("ws://{}/", self.url_host())
    }

    /// Whether a Host header names this listener without a DNS name that could be rebound.
    pub fn host_allowed(&self, value: &str) -> bool {
        let Some((host, port)) = split_host(value) else { return false };
        if port != self.bound.port() {
            return false;
        }
        if matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]") {
            return true;
        }
        if !self.allow_remote {
            return false;
        }
        match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            Ok(ip) => self.bound.ip().is_unspecified() || ip == self.bound.ip(),
            Err(_) => false,
        }
    }

    /// Whether a browser page of `origin` may connect: this listener's own page or a listed origin.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim().to_ascii_lowercase();
        if self.origins.contains(&origin) {
            return true;
        }
        origin.strip_prefix("http://").is_some_and(|host| self.host_allowed(host))
    }

    /// Decides a request for `/confirm/<id>`. Needs no token: the id is the capability
    /// (256 random bits, one use, minutes long), handed only to the WebSocket client
    /// that asked; what the page shows is readable only by this listener's own origin.
    fn admit_confirmation(&self, head: &RequestHead, id: &str) -> Admission {
        use Refusal::*;
        let refuse = Admission::Refused;
        if head.upgrade || !is_confirmation_id(id) {
            return refuse(NotFound);
        }
        // A frame, an <object> or a script's fetch: the page is for a top-level window only.
        if head.fetch_dest.as_deref().is_some_and(|d| !d.eq_ignore_ascii_case("document")) {
            return refuse(Framed);
        }
        // The listener's own origin, exactly as the Host names it (not `--allow-origin`'s list).
        let own = |o: &str| head.host.as_deref().is_some_and(|h| o.trim().eq_ignore_ascii_case(&format!("http://{h}")));
        match head.method.as_str() {
            "GET" => {
                // Navigations carry no Origin; one that does is a cross-origin script's request.
                if head.origin.as_deref().is_some_and(|o| !own(o)) {
                    return refuse(Origin);
                }
                Admission::ConfirmPage { id: id.to_string() }
            }
            "POST" => {
                if !head.origin.as_deref().is_some_and(own) {
                    return refuse(ConfirmOrigin);
                }
                if head.fetch_site.as_deref().is_some_and(|s| !s.eq_ignore_ascii_case("same-origin")) {
                    return refuse(ConfirmOrigin);
                }
                let urlencoded = head
                    .content_type
                    .as_deref()
                    .is_some_and(|t| t.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")));
                if !urlencoded || head.content_length.is_none_or(|n| n > MAX_FORM_BYTES) {
                    return refuse(Form);
                }
                Admission::ConfirmPost { id: id.to_string() }
            }
            _ => refuse(Method),
        }
    }

    /// Decides a request from its head alone.
    pub fn admit(&self, head: &RequestHead) -> Admission {
        use Refusal::*;
        let refuse = Admission::Refused;
        if head.repeated_header {
            return refuse(Malformed);
        }
        if !head.host.as_deref().is_some_and(|h| self.host_allowed(h)) {
            return refuse(Host);
        }
        if let Some(id) = head.path.strip_prefix(CONFIRM_PATH) {
            return self.admit_confirmation(head, id);
        }
        if head.method != "GET" {
            return refuse(Method);
        }
        if head.path != "/" {
            return refuse(NotFound);
        }
        if head.origin.as_deref().is_some_and(|o| !self.origin_allowed(o)) {
            return refuse(Origin);
        }
        if head.upgrade {
            let offered: Vec<&String> = head.protocols.iter().filter(|p| p.starts_with(TOKEN_PROTOCOL_PREFIX)).collect();
            if offered.is_empty() {
                return refuse(NoToken);
            }
            return match offered.into_iter().find(|p| self.token.matches(&p[TOKEN_PROTOCOL_PREFIX.len()..])) {
                Some(p) => Admission::WebSocket { protocol: p.clone() },
                None => refuse(WrongToken),
            };
        }
        let presented = head
            .query
            .as_deref()
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("token="));
        match presented {
            None => refuse(NoToken),
            Some(t) if self.token.matches(t) => Admission::Page,
            Some(_) => refuse(WrongToken),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn policy(bound: &str, allow_remote: bool) -> ListenPolicy {
        let origins = vec![parse_origin("https://Pencil.Example.org:443/").expect("origin")];
        ListenPolicy::new(bound.parse().expect("addr"), allow_remote, origins, Token::parse(TOKEN).expect("token"))
    }

    fn ws(host: &str, origin: Option<&str>, protocol: Option<&str>) -> RequestHead {
        RequestHead {
            method: "GET".into(),
            path: "/".into(),
            host: Some(host.into()),
            origin: origin.map(Into::into),
            upgrade: true,
            protocols: protocol.map(|p| vec!["lsp".to_string(), p.to_string()]).unwrap_or_default(),
            ..Default::default()
        }
    }

    #[test]
    fn only_loopback_hosts_with_the_port() {
        let p = policy("127.0.0.1:7391", false);
        for ok in ["127.0.0.1:7391", "localhost:7391", "LOCALHOST:7391", "[::1]:7391"] {
            assert!(p.host_allowed(ok), "{ok}");
        }
        for bad in ["evil.example:7391", "127.0.0.1:80", "127.0.0.1", "localhost.:7391", "127.0.0.2:7391", "", "[::1]", "x:7391:1", "127.0.0.1:"] {
            assert!(!p.host_allowed(bad), "{bad}");
        }
        let remote = policy("0.0.0.0:7391", true);
        assert!(remote.host_allowed("192.168.1.20:7391") && remote.host_allowed("[fe80::1]:7391"));
        assert!(!remote.host_allowed("school.example:7391"), "a DNS name can be rebound");
        let bound = policy("192.168.1.20:7391", true);
        assert!(bound.host_allowed("192.168.1.20:7391") && !bound.host_allowed("192.168.1.21:7391"));
    }

    #[test]
    fn origins_are_the_pages_own_or_listed() {
        let p = policy("127.0.0.1:7391", false);
        assert!(p.origin_allowed("http://127.0.0.1:7391") && p.origin_allowed("http://localhost:7391"));
        assert!(p.origin_allowed("https://pencil.example.org"));
        for bad in ["http://evil.example", "null", "https://127.0.0.1:7391", "http://127.0.0.1:7392", "file://", ""] {
            assert!(!p.origin_allowed(bad), "{bad}");
        }
        assert_eq!(parse_origin("HTTP://Example.org:80/"), Ok("http://example.org".into()));
        for bad in ["*", "null", "example.org", "https://a.org/path", "ftp://a.org", "https://user@a.org"] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_refusal_matrix() {
        let p = policy("127.0.0.1:7391", false);
        let right = format!("{TOKEN_PROTOCOL_PREFIX}{TOKEN}");
        let wrong = format!("{TOKEN_PROTOCOL_PREFIX}{}", "f".repeat(32));
        let status = |h: &RequestHead| match p.admit(h) {
            Admission::Refused(r) => r.status(),
            _ => 101,
        };
        assert_eq!(p.admit(&ws("127.0.0.1:7391", None, Some(&right))), Admission::WebSocket { protocol: right.clone() });
        assert_eq!(status(&ws("localhost:7391", Some("http://localhost:7391"), Some(&right))), 101);
        assert_eq!(status(&ws("127.0.0.1:7391", Some("https://pencil.example.org"), Some(&right))), 101);
        assert_eq!(status(&ws("127.0.0.1:7391", Some("http://evil.example"), Some(&right))), 403);
        assert_eq!(status(&ws("127.0.0.1:7391", Some("null"), Some(&right))), 403);
        assert_eq!(status(&ws("127.0.0.1:7391", None, None)), 401);
        assert_eq!(status(&ws("127.0.0.1:7391", None, Some(&wrong))), 403);
        assert_eq!(status(&ws("127.0.0.1:7391", None, Some(TOKEN_PROTOCOL_PREFIX))), 403);
        assert_eq!(status(&ws("evil.example:7391", Some("http://evil.example:7391"), Some(&right))), 403);
        let mut twice = ws("127.0.0.1:7391", None, Some(&right));
        twice.repeated_header = true;
        assert_eq!(status(&twice), 400);
        let page = |query: Option<&str>, host: &str| RequestHead {
            method: "GET".into(),
            path: "/".into(),
            query: query.map(Into::into),
            host: Some(host.into()),
            ..Default::default()
        };
        assert_eq!(p.admit(&page(Some(&format!("token={TOKEN}")), "127.0.0.1:7391")), Admission::Page);
        assert_eq!(p.admit(&page(Some(&format!("a=1&token={TOKEN}")), "localhost:7391")), Admission::Page);
        assert_eq!(status(&page(None, "127.0.0.1:7391")), 401);
        assert_eq!(status(&page(Some("token=nope"), "127.0.0.1:7391")), 403);
        assert_eq!(status(&page(Some(&format!("token={TOKEN}")), "evil.example:7391")), 403);
        assert_eq!(status(&RequestHead { path: "/etc/passwd".into(), ..page(None, "127.0.0.1:7391") }), 404);
        assert_eq!(status(&RequestHead { method: "POST".into(), ..page(None, "127.0.0.1:7391") }), 405);
    }

    #[test]
    fn confirmation_pages_are_for_top_level_windows_and_answers_for_their_own_origin() {
        let p = policy("127.0.0.1:7391", false);
        let id = "ab".repeat(32);
        let confirm = |method: &str, origin: Option<&str>| RequestHead {
            method: method.into(),
            path: format!("{CONFIRM_PATH}{id}"),
            host: Some("127.0.0.1:7391".into()),
            origin: origin.map(Into::into),
            content_type: Some("application/x-www-form-urlencoded".into()),
            content_length: Some(80),
            ..Default::default()
        };
        let status = |h: &RequestHead| match p.admit(h) {
            Admission::Refused(r) => r.status(),
            _ => 200,
        };
        // The page: no token needed (the id is the capability); a navigation carries no Origin.
        assert_eq!(p.admit(&confirm("GET", None)), Admission::ConfirmPage { id: id.clone() });
        let navigated = RequestHead { fetch_site: Some("cross-site".into()), fetch_dest: Some("document".into()), ..confirm("GET", None) };
        assert_eq!(status(&navigated), 200, "opened by a listed page as a window");
        let framed = RequestHead { fetch_dest: Some("iframe".into()), ..confirm("GET", None) };
        assert_eq!(p.admit(&framed), Admission::Refused(Refusal::Framed));
        assert_eq!(status(&confirm("GET", Some("https://pencil.example.org"))), 403, "a script's cross-origin read");
        assert_eq!(status(&RequestHead { path: format!("{CONFIRM_PATH}nope"), ..confirm("GET", None) }), 404);
        assert_eq!(status(&RequestHead { host: Some("evil.example:7391".into()), ..confirm("GET", None) }), 403);
        assert_eq!(status(&RequestHead { upgrade: true, ..confirm("GET", None) }), 404);
        // The answer: only from the listener's own origin, as the Host names it.
        assert_eq!(p.admit(&confirm("POST", Some("http://127.0.0.1:7391"))), Admission::ConfirmPost { id: id.clone() });
        assert_eq!(p.admit(&confirm("POST", None)), Admission::Refused(Refusal::ConfirmOrigin), "no Origin");
        for foreign in ["https://pencil.example.org", "http://localhost:7391", "null", "http://evil.example"] {
            assert_eq!(p.admit(&confirm("POST", Some(foreign))), Admission::Refused(Refusal::ConfirmOrigin), "{foreign}");
        }
        let own = Some("http://127.0.0.1:7391");
        let cross = RequestHead { fetch_site: Some("same-site".into()), ..confirm("POST", own) };
        assert_eq!(p.admit(&cross), Admission::Refused(Refusal::ConfirmOrigin));
        let same = RequestHead { fetch_site: Some("same-origin".into()), fetch_dest: Some("document".into()), ..confirm("POST", own) };
        assert_eq!(status(&same), 200);
        let from_frame = RequestHead { fetch_dest: Some("iframe".into()), ..confirm("POST", own) };
        assert_eq!(p.admit(&from_frame), Admission::Refused(Refusal::Framed));
        assert_eq!(p.admit(&RequestHead { content_type: Some("text/plain".into()), ..confirm("POST", own) }), Admission::Refused(Refusal::Form));
        assert_eq!(p.admit(&RequestHead { content_length: Some(MAX_FORM_BYTES + 1), ..confirm("POST", own) }), Admission::Refused(Refusal::Form));
        assert_eq!(p.admit(&RequestHead { content_length: None, ..confirm("POST", own) }), Admission::Refused(Refusal::Form));
        assert_eq!(status(&confirm("PUT", own)), 405);
        assert_eq!(status(&RequestHead { path: "/".into(), ..confirm("POST", own) }), 405, "only confirmations take a POST");
        assert!(is_confirmation_id(&id) && !is_confirmation_id(&id.to_uppercase()) && !is_confirmation_id("ab"));
    }

    #[test]
    fn tokens() {
        let t = Token::generate().expect("random");
        assert_eq!(t.expose().len(), 64);
        assert_ne!(t, Token::generate().expect("random"));
        assert!(t.matches(t.expose()) && !t.matches(&t.expose()[1..]) && !t.matches(""));
        assert_eq!(format!("{t:?}"), "Token(..)");
        assert!(Token::parse("short").is_err() && Token::parse(&"é".repeat(40)).is_err());
        assert!(Token::parse(&"a_B-".repeat(8)).is_ok());
    }

    #[test]
    fn websocket_clients_get_the_listed_methods_and_no_file_settings() {
        assert_eq!(method_access(Peer::WebSocket, RUN_METHOD), MethodAccess::Allowed);
        assert_eq!(method_access(Peer::WebSocket, "workspace/executeCommand"), MethodAccess::Allowed);
        assert_eq!(method_access(Peer::WebSocket, "workspace/symbol"), MethodAccess::Refused);
        assert_eq!(method_access(Peer::Stdio, "workspace/symbol"), MethodAccess::Allowed);
        for guarded in NEEDS_STUDENT_CONFIRMATION {
            assert_eq!(method_access(Peer::WebSocket, guarded), MethodAccess::NeedsConfirmation, "{guarded}");
            assert_eq!(method_access(Peer::Stdio, guarded), MethodAccess::Allowed, "{guarded}");
            assert!(!WEBSOCKET_METHODS.contains(guarded), "{guarded}");
        }
        let mut options = ClientOptions { model_dir: Some("/x".into()), data_dir: Some("/y".into()), ..Default::default() };
        assert!(drop_path_settings(Peer::Stdio, &mut options).is_none());
        assert!(options.model_dir.is_some());
        let message = drop_path_settings(Peer::WebSocket, &mut options).expect("message");
        assert!(message.contains("dataDir and modelDir settings are ignored"), "{message}");
        assert!(options.model_dir.is_none() && options.data_dir.is_none());
        assert!(drop_path_settings(Peer::WebSocket, &mut options).is_none());
    }
}
