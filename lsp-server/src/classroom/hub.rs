//! The hub's student API over blocking HTTP (`ureq`): join, fetch the policy,
//! send events, raise hands and read the replies. Callers in the server run these on blocking threads.

use pencil_core::classroom::{ApiError, EventAck, EventBatch, HandAck, HandList, JoinRequest, JoinResponse, SignedPolicy};
use std::time::Duration;

/// Why talking to the hub failed, in words a student can act on.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("{0}")]
    BadUrl(String),
    #[error("the hub at {url} could not be reached ({why}); check the address and that the hub is running")]
    Unreachable { url: String, why: String },
    #[error("the hub refused: {message} (HTTP {status})")]
    Refused { status: u16, message: String },
    #[error("the hub's answer was not understood ({0}); is this address a Pencil hub?")]
    Malformed(String),
}

/// Checks a hub address and returns it without a trailing slash: `https://`, or
/// `http://` only to this machine (a token over plain HTTP on a network could be read).
pub fn normalize_hub_url(url: &str) -> Result<String, HubError> {
    let url = url.trim().trim_end_matches('/');
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| HubError::BadUrl(format!("'{url}' is not a hub address; write it as https://host[:port]")))?;
    let host_port = rest.split('/').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
    };
    if host.is_empty() {
        return Err(HubError::BadUrl(format!("'{url}' names no host")));
    }
    match scheme.to_ascii_lowercase().as_str() {
        // TLS comes from the workspace's `ureq` features (rustls, the web PKI roots).
        "https" => Ok(url.to_string()),
        "http" if is_loopback(host) => Ok(url.to_string()),
        "http" => Err(HubError::BadUrl(format!(
            "'{url}' is plain http:// to another machine; your device token would travel unencrypted. \
             Use https://, or http:// only to 127.0.0.1/localhost"
        ))),
        other => Err(HubError::BadUrl(format!("'{other}://' is not supported; use https:// (or http:// to this machine)"))),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(15)))
        .build()
        .into()
}

pub(crate) fn unreachable(url: &str, e: ureq::Error) -> HubError {
    HubError::Unreachable { url: url.to_string(), why: e.to_string() }
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(mut r: ureq::http::Response<ureq::Body>, url: &str) -> Result<T, HubError> {
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().map_err(|e| unreachable(url, e))?;
    if !(200..300).contains(&status) {
        let message = serde_json::from_str::<ApiError>(&body).map(|e| e.error).unwrap_or_else(|_| {
            let short: String = body.chars().take(120).collect();
            format!("unexpected answer: {short}")
        });
        return Err(HubError::Refused { status, message });
    }
    serde_json::from_str(&body).map_err(|e| HubError::Malformed(e.to_string()))
}

/// `POST /api/v1/join`.
pub fn join(hub: &str, code: &str, display_name: &str) -> Result<JoinResponse, HubError> {
    let url = format!("{hub}/api/v1/join");
    let body = serde_json::to_string(&JoinRequest { code: code.to_string(), display_name: display_name.to_string() })
        .map_err(|e| HubError::Malformed(e.to_string()))?;
    let r = agent()
        .post(&url)
        .header("Content-Type", "application/json")
        .send(body.as_bytes())
        .map_err(|e| unreachable(hub, e))?;
    parse(r, hub)
}

/// `GET /api/v1/policy`.
pub fn policy(hub: &str, token: &str) -> Result<SignedPolicy, HubError> {
    let r = agent()
        .get(format!("{hub}/api/v1/policy"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .map_err(|e| unreachable(hub, e))?;
    parse(r, hub)
}

/// `POST /api/v1/events` with a batch already serialised.
pub fn send_events(hub: &str, token: &str, batch: &EventBatch) -> Result<EventAck, HubError> {
    let body = serde_json::to_vec(batch).map_err(|e| HubError::Malformed(e.to_string()))?;
    let r = agent()
        .post(format!("{hub}/api/v1/events"))
        .header("Content-Type", "application/json")
        .header("Authorization", &format!("Bearer {token}"))
        .send(&body[..])
        .map_err(|e| unreachable(hub, e))?;
    parse(r, hub)
}

/// `POST /api/v1/hands` with the request exactly as queued (resent with the same id
/// until acknowledged; the hub keeps each id once).
pub fn send_hand(hub: &str, token: &str, request_json: &str) -> Result<HandAck, HubError> {
    let r = agent()
        .post(format!("{hub}/api/v1/hands"))
        .header("Content-Type", "application/json")
        .header("Authorization", &format!("Bearer {token}"))
        .send(request_json.as_bytes())
        .map_err(|e| unreachable(hub, e))?;
    parse(r, hub)
}

/// `GET /api/v1/hands`: this device's hands with the teacher's replies.
pub fn hands(hub: &str, token: &str) -> Result<HandList, HubError> {
    let r = agent()
        .get(format!("{hub}/api/v1/hands"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .map_err(|e| unreachable(hub, e))?;
    parse(r, hub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_urls_need_https_or_loopback() {
        assert_eq!(normalize_hub_url("http://127.0.0.1:7070/").expect("test setup"), "http://127.0.0.1:7070");
        assert_eq!(normalize_hub_url("http://localhost:7070").expect("test setup"), "http://localhost:7070");
        assert_eq!(normalize_hub_url("http://[::1]:7070").expect("test setup"), "http://[::1]:7070");
        assert_eq!(normalize_hub_url("https://hub.school.example/").expect("test setup"), "https://hub.school.example");
        let remote = normalize_hub_url("http://hub.school.example:7070").expect_err("an error").to_string();
        assert!(remote.contains("unencrypted"), "{remote}");
        assert!(normalize_hub_url("http://127.0.0.1.evil.example").is_err());
        assert!(normalize_hub_url("ftp://127.0.0.1").is_err());
        assert!(normalize_hub_url("127.0.0.1:7070").is_err());
    }
}
