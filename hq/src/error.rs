//! The error every API-facing operation returns: an HTTP status, a stable snake_case code
//! and a message that says what was wrong and what to do. It is sent as
//! `{"error":{"code":"...","message":"..."}}`.

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
    /// 401: no token, or one HQ does not know.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        Self::new(401, "unauthorized", message)
    }
    /// 403: a known token that may not do this.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        Self::new(403, "forbidden", message)
    }
    pub fn not_found(code: &str, message: impl Into<String>) -> ApiError {
        Self::new(404, code, message)
    }
    pub fn method_not_allowed(message: impl Into<String>) -> ApiError {
        Self::new(405, "method_not_allowed", message)
    }
    /// 413: the batch is over `--max-batch-bytes`, compressed or not.
    pub fn too_large(message: impl Into<String>) -> ApiError {
        Self::new(413, "batch_too_large", message)
    }
    /// 415: a content type or encoding HQ does not take.
    pub fn unsupported(code: &str, message: impl Into<String>) -> ApiError {
        Self::new(415, code, message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        Self::new(500, "internal", message)
    }
    pub fn unavailable(code: &str, message: impl Into<String>) -> ApiError {
        Self::new(503, code, message)
    }
}

impl From<crate::report::ReportError> for ApiError {
    fn from(e: crate::report::ReportError) -> ApiError {
        match e {
            crate::report::ReportError::BadQuery(m) => ApiError::bad_request("bad_query", m),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "database failure");
        ApiError::unavailable(
            "database_unavailable",
            format!("{e}; nothing of this request was saved, try again later"),
        )
    }
}
