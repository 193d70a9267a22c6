//! The server's request errors, with one conversion into JSON-RPC errors so handlers
//! just use `?`.

use crate::edit::{DocumentError, PositionError};
use tower_lsp_server::jsonrpc;

/// Why a request could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The document is not open.
    #[error("{0} is not open")]
    NotOpen(String),
    /// The client's text for the document was refused.
    #[error("{uri} is not available: {reason}. Reopen the file or send its whole text")]
    Refused {
        /// The document.
        uri: String,
        /// Why.
        reason: DocumentError,
    },
    /// A position in the request does not name a place in the document.
    #[error("invalid position: {0}")]
    Position(#[from] PositionError),
    /// The params are well-formed JSON but make no sense.
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// The sandbox could not give a verdict.
    #[error("the program could not be checked: {0}")]
    Unchecked(String),
    /// The student asked for something that cannot be done now; the words say why.
    #[error("{0}")]
    Declined(String),
}

impl From<ServerError> for jsonrpc::Error {
    fn from(e: ServerError) -> jsonrpc::Error {
        let message = e.to_string();
        match e {
            ServerError::NotOpen(_) | ServerError::Refused { .. } | ServerError::Position(_) | ServerError::InvalidParams(_) => {
                jsonrpc::Error::invalid_params(message)
            }
            ServerError::Unchecked(_) | ServerError::Declined(_) => jsonrpc::Error {
                code: jsonrpc::ErrorCode::ServerError(-32803),
                message: message.into(),
                data: None,
            },
        }
    }
}
