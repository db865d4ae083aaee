//! The error every API-facing operation returns: an HTTP status, a stable snake_case code
//! and a message that says what was wrong and what to do (protocol.md, section 2).

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }
    /// 400: the request itself is malformed.
    pub fn bad_request(code: &str, message: impl Into<String>) -> ApiError {
        Self::new(400, code, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        Self::new(401, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        Self::new(403, "forbidden", message)
    }
    pub fn not_found(code: &str, message: impl Into<String>) -> ApiError {
        Self::new(404, code, message)
    }
    /// 409: the request conflicts with the current state.
    pub fn conflict(code: &str, message: impl Into<String>) -> ApiError {
        Self::new(409, code, message)
    }
    /// 422: a business rule refuses the request.
    pub fn rule(code: &str, message: impl Into<String>) -> ApiError {
        Self::new(422, code, message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        Self::new(500, "internal", message)
    }
    pub fn unavailable(code: &str, message: impl Into<String>) -> ApiError {
        Self::new(503, code, message)
    }
}

impl From<crate::reports::ReportError> for ApiError {
    fn from(e: crate::reports::ReportError) -> ApiError {
        match e {
            crate::reports::ReportError::BadQuery(m) => ApiError::bad_request("bad_query", m),
            other => {
                tracing::error!(error = %other, "a report failed");
                ApiError::internal(other.to_string())
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "store failure");
        ApiError::unavailable("store_unavailable", e.to_string())
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> ApiError {
        ApiError::from(StoreError::from(e))
    }
}
