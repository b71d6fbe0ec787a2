//! The stack-set calls the proxy plays around moto: a mutating call refused for an id taken or
//! an operation in the way, else forwarded and moto's id swapped for the caller's; the
//! operations it started described and their results listed by the proxy, from the ledger; and
//! `CreateStackSet` made idempotent. moto is read as the caller (its access key and Region).

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::inner::Inner;
use super::moto::{instances, set_info, Moto};
use super::pending::{Pending, Waiting};
use super::request::{Caller, Form};
use super::state::{Ledger, SetKey, Start};
use super::{xml, StackSetPlay};
use crate::proxy::stats::Stats;
use crate::query::{lock, now};

/// The calls that start an operation, and take an `OperationId`.
const MUTATING: [&str; 4] = [
    "CreateStackInstances",
    "UpdateStackInstances",
    "DeleteStackInstances",
    "UpdateStackSet",
];

/// The calls the proxy looks at (the others go to moto untouched).
pub(crate) const OPERATIONS: [&str; 9] = [
    "CreateStackInstances",
    "UpdateStackInstances",
    "DeleteStackInstances",
    "UpdateStackSet",
    "CreateStackSet",
    "DeleteStackSet",
    "DescribeStackSetOperation",
    "ListStackSetOperationResults",
    "ListStackSetOperations",
];

/// What to do with a call, before moto.
pub(crate) enum Before {
    /// The proxy answers it.
    Answer(Response),
    /// moto answers it; the proxy finishes the answer when there is a [`Pending`].
    Forward(Option<Pending>),
}

/// The stack-set operations, played over moto.
pub(crate) struct Emulator(Arc<Inner>);

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn xml_response(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "text/xml")], body).into_response()
}

fn answer(action: &str, result: &str) -> Before {
    let body = xml::response(action, result, &request_id());
    Before::Answer(xml_response(StatusCode::OK, body))
}

/// A `Sender` error with its HTTP status: 409 for the conflicts, as the API Reference gives.
fn refuse(status: StatusCode, code: &str, message: &str) -> Before {
    let body = xml::sender_error(code, message, &request_id());
    Before::Answer(xml_response(status, body))
}

/// The action a mutating call's operation has.
fn action(operation: &str) -> &'static str {
    match operation {
        "CreateStackInstances" => "CREATE",
        "DeleteStackInstances" => "DELETE",
        _ => "UPDATE",
    }
}

impl Emulator {
    /// The stack-set operations of moto at `upstream`, played as `play` says.
    pub(crate) fn new(upstream: &str, play: StackSetPlay) -> Self {
        Self(Arc::new(Inner {
            moto: Moto::new(upstream),
            ledger: Mutex::new(Ledger::new(play)),
            creating: Arc::default(),
        }))
    }

    /// What to do with `operation`, one of [`OPERATIONS`], called with `form` by whoever
    /// signed `headers`; an operation that ends here goes to `stats`.
    pub(crate) async fn before(
        &self,
        operation: &str,
        form: &[u8],
        headers: &HeaderMap,
        stats: &Stats,
    ) -> Before {
        let form = Form::parse(form);
        let caller = Caller::of(headers);
        // Without a set, moto says what is missing.
        let Some(name) = form.stack_set().map(str::to_owned) else {
            return Before::Forward(None);
        };
        let key: SetKey = (caller.region.clone(), name.clone());
        let inner = &self.0;
        match operation {
            "DescribeStackSetOperation" => {
                let id = form.get("OperationId").unwrap_or_default();
                let Some((described, end)) = lock(&inner.ledger).look(&key, id, &now()) else {
                    return Before::Forward(None);
                };
                if let Some(end) = end {
                    stats.stack_set_ends().record(end);
                }
                answer(operation, &described.xml())
            }
            "ListStackSetOperationResults" => {
                let id = form.get("OperationId").unwrap_or_default();
                match lock(&inner.ledger).results(&key, id) {
                    Some(rows) => results(&form, rows),
                    None => Before::Forward(None),
                }
            }
            "ListStackSetOperations" => match lock(&inner.ledger).running_other(&key) {
                Some((id, created)) => {
                    answer(operation, &xml::running_result(&id, "UPDATE", &created))
                }
                None => Before::Forward(None),
            },
            "CreateStackSet" => self.create_set(&form, caller, key).await,
            "DeleteStackSet" => match self.blocked(&form, &caller, &key, None).await {
                Some(refusal) => refusal,
                None => Before::Forward(Some(Pending::new(inner, caller, key, Waiting::DeleteSet))),
            },
            op if MUTATING.contains(&op) => self.mutate(op, &form, caller, key).await,
            _ => Before::Forward(None),
        }
    }

    /// The refusal of a mutating call on `key`: its id taken, or an operation in the way.
    async fn blocked(
        &self,
        form: &Form,
        caller: &Caller,
        key: &SetKey,
        id: Option<&str>,
    ) -> Option<Before> {
        let may_collide = lock(&self.0.ledger).may_collide(key);
        // Only a set that exists has operations: read it before the ledger decides.
        let set = match may_collide {
            true => set_info(&self.0.moto.client(caller), &key.1, form).await,
            false => None,
        };
        let mut ledger = lock(&self.0.ledger);
        if let Some(id) = id.filter(|id| ledger.taken(key, id)) {
            let message = format!("The operation id {id} already exists on StackSet {}", key.1);
            return Some(refuse(
                StatusCode::CONFLICT,
                "OperationIdAlreadyExistsException",
                &message,
            ));
        }
        ledger.blocker(key, set, &now())?;
        let message = format!("Another Operation on StackSet {} is in progress", key.1);
        Some(refuse(
            StatusCode::CONFLICT,
            "OperationInProgressException",
            &message,
        ))
    }

    async fn mutate(&self, operation: &str, form: &Form, caller: Caller, key: SetKey) -> Before {
        let id = form.get("OperationId").map(str::to_owned);
        let accounts = form.accounts();
        let regions = form.regions();
        let mut start = Start {
            action: action(operation),
            places: accounts
                .iter()
                .flat_map(|a| regions.iter().map(move |r| (a.clone(), r.clone())))
                .collect(),
            accounts,
            retain_stacks: form.get("RetainStacks").map(|v| v == "true"),
        };
        // A call naming no account reaches every instance (in its Regions); a delete's are
        // read before moto deletes them.
        let list_after = start.accounts.is_empty() && operation != "DeleteStackInstances";
        if start.accounts.is_empty() && !list_after {
            start.places = instances(&self.0.moto.client(&caller), &key.1, form).await;
        }
        if let Some(refusal) = self.blocked(form, &caller, &key, id.as_deref()).await {
            return refusal;
        }
        if let Some(id) = &id {
            // Taken meanwhile by a call just as early: refused like one that came later.
            if !lock(&self.0.ledger).reserve(&key, id, start.clone(), &now()) {
                let message = format!("The operation id {id} already exists on StackSet {}", key.1);
                return refuse(
                    StatusCode::CONFLICT,
                    "OperationIdAlreadyExistsException",
                    &message,
                );
            }
        }
        let waiting = Waiting::Operation {
            id,
            start,
            form: form.clone(),
            list_after,
        };
        Before::Forward(Some(Pending::new(&self.0, caller, key, waiting)))
    }

    async fn create_set(&self, form: &Form, caller: Caller, key: SetKey) -> Before {
        let token = form.get("ClientRequestToken").map(str::to_owned);
        let gate = self.0.creating.clone().lock_owned().await;
        if let Some(body) = lock(&self.0.ledger).created(&key, token.as_deref()) {
            return Before::Answer(xml_response(StatusCode::OK, body.to_owned()));
        }
        // moto would create a second set of the name; CloudFormation refuses it.
        if set_info(&self.0.moto.client(&caller), &key.1, form)
            .await
            .is_some()
        {
            let message = format!("StackSet {} already exists", key.1);
            return refuse(StatusCode::CONFLICT, "NameAlreadyExistsException", &message);
        }
        let waiting = Waiting::Create { token, _gate: gate };
        Before::Forward(Some(Pending::new(&self.0, caller, key, waiting)))
    }
}

/// `ListStackSetOperationResults` from `rows`: its filters and pages applied.
fn results(form: &Form, rows: Vec<super::InstanceEnd>) -> Before {
    let wanted: Vec<String> = (1..=10)
        .filter_map(|n| form.get(&format!("Filters.member.{n}.Values")))
        .map(str::to_owned)
        .collect();
    let chosen: Vec<super::InstanceEnd> = rows
        .into_iter()
        .filter(|r| wanted.is_empty() || wanted.contains(&r.status))
        .collect();
    let page = form
        .get("MaxResults")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 100);
    let Ok(from) = form.get("NextToken").map_or(Ok(0), str::parse::<usize>) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            "Invalid NextToken",
        );
    };
    let shown: Vec<super::InstanceEnd> = chosen.iter().skip(from).take(page).cloned().collect();
    let next = (from + page < chosen.len()).then(|| (from + page).to_string());
    answer(
        "ListStackSetOperationResults",
        &xml::results_result(&shown, next.as_deref()),
    )
}
