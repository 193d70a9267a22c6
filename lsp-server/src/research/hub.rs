//! The hub's research API over blocking HTTP (`ureq`), the same way
//! `classroom::hub` talks to it: list offered studies, register consent,
//! send an upload's exact bytes, send a deletion request.

use crate::classroom::hub::{agent, parse, unreachable, HubError};
use pencil_core::research::{ConsentAnswer, ConsentRequest, OfferedStudy, RevokeAnswer, UploadAck};

/// `GET /api/v1/research/studies`.
pub fn studies(hub: &str, token: &str) -> Result<Vec<OfferedStudy>, HubError> {
    let r = agent()
        .get(format!("{hub}/api/v1/research/studies"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .map_err(|e| unreachable(hub, e))?;
    parse(r, hub)
}

fn post<T: serde::de::DeserializeOwned>(hub: &str, token: &str, path: &str, body: &[u8]) -> Result<T, HubError> {
    let r = agent()
        .post(format!("{hub}/api/v1/research/{path}"))
        .header("Content-Type", "application/json")
        .header("Authorization", &format!("Bearer {token}"))
        .send(body)
        .map_err(|e| unreachable(hub, e))?;
    parse(r, hub)
}

/// `POST /api/v1/research/consent`.
pub fn consent(hub: &str, token: &str, request: &ConsentRequest) -> Result<ConsentAnswer, HubError> {
    let body = serde_json::to_vec(request).map_err(|e| HubError::Malformed(e.to_string()))?;
    post(hub, token, "consent", &body)
}

/// `POST /api/v1/research/upload` with exactly `body`.
pub fn upload(hub: &str, token: &str, body: &[u8]) -> Result<UploadAck, HubError> {
    post(hub, token, "upload", body)
}

/// `POST /api/v1/research/revoke` with exactly `body` (a queued `RevokeRequest`).
pub fn revoke(hub: &str, token: &str, body: &[u8]) -> Result<RevokeAnswer, HubError> {
    post(hub, token, "revoke", body)
}
