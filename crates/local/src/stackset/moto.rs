//! Reading moto as the caller of a stack-set call: the set (does it exist, its id and roles)
//! and its instances, with a CloudFormation client per caller, straight to moto (uncounted).

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_cloudformation::types::CallAs;
use aws_sdk_cloudformation::Client;

use super::request::{Caller, Form};
use super::state::SetInfo;
use crate::query::lock;

/// The most pages of instances read for a call that names none.
const MAX_PAGES: usize = 50;

/// moto, as each caller reads it.
#[derive(Debug, Default)]
pub(super) struct Moto {
    upstream: String,
    clients: Mutex<HashMap<Caller, Client>>,
}

fn call_as(form: &Form) -> Option<CallAs> {
    form.get("CallAs").map(CallAs::from)
}

/// What moto says of the set `name`; `None` when it has none.
pub(super) async fn set_info(client: &Client, name: &str, form: &Form) -> Option<SetInfo> {
    let out = client
        .describe_stack_set()
        .stack_set_name(name)
        .set_call_as(call_as(form))
        .send()
        .await
        .ok()?;
    let set = out.stack_set()?;
    Some(SetInfo {
        id: set.stack_set_id().map(str::to_owned),
        administration_role_arn: set.administration_role_arn().map(str::to_owned),
        execution_role_name: set.execution_role_name().map(str::to_owned),
    })
}

/// The set's instances (account, Region), in the call's Regions when it names some.
pub(super) async fn instances(client: &Client, name: &str, form: &Form) -> Vec<(String, String)> {
    let regions = form.regions();
    let mut places = Vec::new();
    let mut next = None;
    for _ in 0..MAX_PAGES {
        let Ok(out) = client
            .list_stack_instances()
            .stack_set_name(name)
            .set_call_as(call_as(form))
            .set_next_token(next)
            .send()
            .await
        else {
            break;
        };
        places.extend(out.summaries().iter().filter_map(|s| {
            let (account, region) = (s.account()?, s.region()?);
            let wanted = regions.is_empty() || regions.iter().any(|r| r == region);
            wanted.then(|| (account.to_owned(), region.to_owned()))
        }));
        next = out.next_token;
        if next.is_none() {
            break;
        }
    }
    places
}

impl Moto {
    pub(super) fn new(upstream: &str) -> Self {
        Self {
            upstream: upstream.trim_end_matches('/').to_owned(),
            clients: Mutex::default(),
        }
    }

    pub(super) fn client(&self, caller: &Caller) -> Client {
        lock(&self.clients)
            .entry(caller.clone())
            .or_insert_with(|| caller.client(&self.upstream))
            .clone()
    }
}
