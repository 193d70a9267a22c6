//! The students' JSON API (`/api/v1`), see `pencil_core::classroom`.
//! Devices authenticate with `Authorization: Bearer <device_token>`; a token
//! only ever reaches its own device's class.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ed25519_dalek::SigningKey;
use pencil_core::classroom::{
    encode_key, normalize_display_name, ApiError, EventAck, EventBatch, JoinRequest, JoinResponse,
    MAX_EVENTS_PER_BATCH,
};
use serde::de::DeserializeOwned;

use crate::security::{new_token, normalize_join_code, token_hash};
use crate::server::{now, SharedState};
use crate::store::{Device, DeviceBatch};

/// Wrong join codes allowed per address per window before joining is refused.
const JOIN_FAILURES_PER_IP: u32 = 20;
const FAILURE_WINDOW_SECS: i64 = 15 * 60;

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ApiError {
            error: message.into(),
        }),
    )
        .into_response()
}

pub(crate) fn internal(e: anyhow::Error) -> Response {
    tracing::error!("api: {e:#}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

/// Reads a JSON body; every failure becomes a status and a message a client can show.
pub(crate) fn parse_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, (StatusCode, String)> {
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            (status, "request body is too large".to_string())
        } else {
            (
                status,
                format!("could not read the request body: {rejection}"),
            )
        }
    })?;
    serde_json::from_slice(&body)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("malformed JSON: {e}")))
}

pub(crate) async fn device(state: &SharedState, headers: &HeaderMap) -> Result<Device, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            error(
                StatusCode::UNAUTHORIZED,
                "missing Authorization: Bearer <device token>",
            )
        })?;
    let hash = token_hash(token);
    state
        .store
        .call(move |db| db.device_by_token(&hash))
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            error(
                StatusCode::UNAUTHORIZED,
                "unknown device token; join the class again",
            )
        })
}

/// The authenticated device and its request's JSON body, or the answer refusing either.
pub(crate) async fn device_and_body<T: DeserializeOwned>(
    state: &SharedState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Device, T), Response> {
    let device = device(state, headers).await?;
    let request = parse_body(body).map_err(|(status, message)| error(status, message))?;
    Ok((device, request))
}

pub(crate) async fn join(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let ip_key = format!("join:ip:{}", state.client_ip(peer, &headers));
    let t = now();
    // Counted before the code is checked (and forgiven if it was right), so
    // parallel guesses cannot slip past the limit.
    let keys = vec![(ip_key.clone(), JOIN_FAILURES_PER_IP)];
    match state
        .store
        .call(move |db| db.reserve_attempt(&keys, t - FAILURE_WINDOW_SECS, t))
        .await
    {
        Ok(false) => {
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many wrong join codes from this address; wait 15 minutes",
            )
        }
        Ok(true) => {}
        Err(e) => return internal(e),
    }
    let request: JoinRequest = match parse_body(body) {
        Ok(r) => r,
        Err((status, message)) => return error(status, message),
    };
    let display_name = match normalize_display_name(&request.display_name) {
        Ok(n) => n,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let code = normalize_join_code(&request.code);
    let token = match new_token() {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    let hash = token_hash(&token);
    let joined = state
        .store
        .call(move |db| {
            let Some(class) = db.class_by_code(&code, t)? else {
                return Ok(None);
            };
            db.release_attempt(&ip_key, t)?;
            db.create_device(class.id, &hash, &display_name, t)?;
            let seed = db.teacher_signing_seed(class.teacher_id)?;
            Ok(Some((class, seed)))
        })
        .await;
    match joined {
        Ok(Some((class, seed))) => Json(JoinResponse {
            device_token: token,
            class_id: class.id,
            class_name: class.name,
            teacher_key: encode_key(&SigningKey::from_bytes(&seed).verifying_key()),
        })
        .into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "unknown or expired join code; ask your teacher for the current one",
        ),
        Err(e) => internal(e),
    }
}

pub(crate) async fn policy(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    let device = match device(&state, &headers).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    match state.store.call(move |db| db.policy(device.class_id)).await {
        Ok(Some(signed_json)) => {
            ([(header::CONTENT_TYPE, "application/json")], signed_json).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "this class has no policy"),
        Err(e) => internal(e),
    }
}

pub(crate) async fn events(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (device, batch): (_, EventBatch) = match device_and_body(&state, &headers, body).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    if batch.events.len() > MAX_EVENTS_PER_BATCH {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} events in one batch; send at most {MAX_EVENTS_PER_BATCH}",
                batch.events.len()
            ),
        );
    }
    for (i, event) in batch.events.iter().enumerate() {
        if let Err(message) = event.validate() {
            return error(StatusCode::BAD_REQUEST, format!("event {i}: {message}"));
        }
    }
    let acknowledged: Vec<String> = batch.events.iter().map(|e| e.id.clone()).collect();
    let batch = DeviceBatch {
        device_id: device.id,
        class_id: device.class_id,
        events: batch.events,
        received_at: now(),
    };
    match state.store.ingest(batch).await {
        Ok(new) => Json(EventAck { acknowledged, new }).into_response(),
        Err(e) => internal(e),
    }
}
