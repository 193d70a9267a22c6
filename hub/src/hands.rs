//! Raised hands, the students' side of the API: `POST /api/v1/hands` (the
//! student pressed "Ask my teacher") and `GET /api/v1/hands` (the device's
//! hands with the teacher's replies). A hand is the only way program text
//! reaches the hub, and only the sending device and its class's teacher
//! can read it.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pencil_core::classroom::{HandAck, HandList, HandRequest, HandStatus};

use crate::api::{device, device_and_body, error, internal};
use crate::server::{now, SharedState};
use crate::store::HandRow;

/// RFC 3339 (UTC) of a hub timestamp.
pub(crate) fn rfc3339(unix: i64) -> String {
    format!("{}Z", pencil_core::trace::format_timestamp(unix).replacen(' ', "T", 1))
}

fn status(h: HandRow) -> HandStatus {
    HandStatus {
        id: h.hand_id,
        title: h.title,
        received_at: rfc3339(h.received_at),
        reply: h.reply,
        replied_at: h.replied_at.map(rfc3339),
        resolved: h.resolved,
    }
}

pub(crate) async fn raise(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (device, hand): (_, HandRequest) = match device_and_body(&state, &headers, body).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    if let Err(message) = hand.validate() {
        return error(StatusCode::BAD_REQUEST, message);
    }
    let t = now();
    let id = hand.id.clone();
    match state.store.call(move |db| db.insert_hand(&device, &hand, t)).await {
        Ok(new) => Json(HandAck { id, new }).into_response(),
        Err(e) => internal(e),
    }
}

pub(crate) async fn list(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    let device = match device(&state, &headers).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    match state.store.call(move |db| db.device_hands(device.id)).await {
        Ok(rows) => Json(HandList { hands: rows.into_iter().map(status).collect() }).into_response(),
        Err(e) => internal(e),
    }
}
