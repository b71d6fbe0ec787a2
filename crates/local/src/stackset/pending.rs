//! A stack-set call at moto whose answer the proxy finishes: moto's operation id swapped for
//! the caller's and the operation put in the ledger, or the created set remembered; the id it
//! took freed when moto refuses the call or is never reached.

use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::inner::Inner;
use super::moto::{instances, set_info};
use super::request::{Caller, Form};
use super::state::{SetKey, Start};
use super::xml;
use crate::query::{lock, now};

pub(super) enum Waiting {
    /// A mutating call: `id` is the caller's (`None`: it gave none, and moto's is kept).
    Operation {
        id: Option<String>,
        start: Start,
        form: Form,
        list_after: bool,
    },
    /// A `CreateStackSet`, holding the gate.
    Create {
        token: Option<String>,
        _gate: tokio::sync::OwnedMutexGuard<()>,
    },
    DeleteSet,
}

/// A call at moto whose answer the proxy finishes. Dropped unfinished (moto not reached), it
/// frees the operation id it took.
pub(crate) struct Pending {
    inner: Arc<Inner>,
    caller: Caller,
    key: SetKey,
    waiting: Option<Waiting>,
}

impl Pending {
    pub(super) fn new(inner: &Arc<Inner>, caller: Caller, key: SetKey, waiting: Waiting) -> Self {
        Self {
            inner: inner.clone(),
            caller,
            key,
            waiting: Some(waiting),
        }
    }

    /// moto's `response`, finished: the caller's operation id in it, the operation (or the
    /// created set) in the ledger.
    pub(crate) async fn finish(mut self, response: Response) -> Response {
        let Some(waiting) = self.waiting.take() else {
            return response;
        };
        if !response.status().is_success() {
            self.release(&waiting);
            return response;
        }
        let (mut parts, body) = response.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, 16 << 20).await else {
            self.release(&waiting);
            return (
                StatusCode::BAD_GATEWAY,
                "proxy: moto's answer could not be read",
            )
                .into_response();
        };
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        match waiting {
            Waiting::DeleteSet => lock(&self.inner.ledger).forget_set(&self.key),
            Waiting::Create { token, _gate } => {
                if xml::stack_set_id(&text).is_some() {
                    lock(&self.inner.ledger).record_create(
                        &self.key,
                        token.as_deref(),
                        text.clone(),
                    );
                }
            }
            Waiting::Operation {
                id,
                start,
                form,
                list_after,
            } => {
                let Some(moto_id) = xml::operation_id(&text) else {
                    if let Some(id) = &id {
                        lock(&self.inner.ledger).release(&self.key, id);
                    }
                    return Response::from_parts(parts, Body::from(bytes));
                };
                let client = self.inner.moto.client(&self.caller);
                let places = match list_after {
                    true => Some(instances(&client, &self.key.1, &form).await),
                    false => None,
                };
                let set = set_info(&client, &self.key.1, &form)
                    .await
                    .unwrap_or_default();
                let mut ledger = lock(&self.inner.ledger);
                let id = match id {
                    Some(id) => id,
                    None => {
                        ledger.reserve(&self.key, &moto_id, start, &now());
                        moto_id.clone()
                    }
                };
                ledger.commit(&self.key, &id, moto_id, places, set);
                text = xml::with_operation_id(&text, &id);
            }
        }
        // The body changed length.
        parts.headers.remove("content-length");
        Response::from_parts(parts, Body::from(text))
    }

    fn release(&self, waiting: &Waiting) {
        if let Waiting::Operation { id: Some(id), .. } = waiting {
            lock(&self.inner.ledger).release(&self.key, id);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(waiting) = self.waiting.take() {
            self.release(&waiting);
        }
    }
}
