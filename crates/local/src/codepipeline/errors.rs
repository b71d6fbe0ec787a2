//! The local CodePipeline's errors, as the real one answers them over awsJson1.1: its
//! validation of job ids and string lengths, its codes, and the faults injected in their place.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::proxy::FaultKind;

/// An awsJson1.1 error: a status, `__type` and `message`.
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"__type": self.code, "message": self.message}).to_string();
        (
            self.status,
            [
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amzn-errortype", self.code),
                ("x-amzn-requestid", "00000000-0000-0000-0000-000000000000"),
            ],
            body,
        )
            .into_response()
    }
}

impl ApiError {
    pub(crate) fn code(&self) -> &'static str {
        self.code
    }

    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

/// A body that is not JSON.
pub(crate) fn serialization(e: &serde_json::Error) -> ApiError {
    error("SerializationException", e.to_string())
}

pub(super) fn error(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        code,
        message: message.into(),
    }
}

pub(super) fn invalid(message: impl Into<String>) -> ApiError {
    error("ValidationException", message)
}

pub(super) fn injected(kind: &FaultKind) -> Option<ApiError> {
    match kind {
        FaultKind::Throttle => Some(error("ThrottlingException", "Rate exceeded")),
        FaultKind::Status(code) => Some(ApiError {
            status: StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: "InternalFailure",
            message: "injected by the local pipeline".into(),
        }),
        FaultKind::Drop => Some(ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "ServiceUnavailable",
            message: "injected by the local pipeline".into(),
        }),
        FaultKind::Delay(_) | FaultKind::NoRange | FaultKind::InvalidNonce => None,
    }
}

/// Checks an optional string field's length against the service's limits.
pub(super) fn check_len(
    body: &Value,
    pointer: &str,
    min: usize,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match body.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n < min || n > max {
                Err(invalid(format!(
                    "1 validation error detected: Value at '{pointer}' failed to satisfy constraint: Member must have length between {min} and {max} (it has {n})"
                )))
            } else {
                Ok(Some(s.clone()))
            }
        }
        Some(_) => Err(invalid(format!("Value at '{pointer}' must be a string"))),
    }
}

pub(super) fn job_id(body: &Value) -> Result<String, ApiError> {
    let id = check_len(body, "/jobId", 1, 36)?.ok_or_else(|| invalid("jobId is required"))?;
    if uuid::Uuid::try_parse(&id).is_err() || id.len() != 36 {
        return Err(invalid(format!("Value '{id}' at 'jobId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}")));
    }
    Ok(id)
}

pub(super) fn not_found(id: &str) -> ApiError {
    error("JobNotFoundException", format!("Job {id} not found"))
}
