//! The ledger of the stack-set operations the proxy plays: each operation by the caller's id
//! (moto's own id beside it), its instances and looks; the made-up operation in the way of each
//! set's first mutating call; and the sets created, for `CreateStackSet`'s idempotency. Pure:
//! the emulator makes the calls and passes the clock in.

use std::collections::{HashMap, HashSet};

use super::{xml, InstanceEnd, SetOperationEnd, StackSetPlay};

/// A stack set as the ledger tells them apart: its Region and name.
pub(crate) type SetKey = (String, String);

/// What moto says of the set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SetInfo {
    pub(crate) id: Option<String>,
    pub(crate) administration_role_arn: Option<String>,
    pub(crate) execution_role_name: Option<String>,
}

/// What a mutating call starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Start {
    /// `CREATE`, `UPDATE` or `DELETE`.
    pub(crate) action: &'static str,
    /// The accounts the call named (none: every instance, or organizational units).
    pub(crate) accounts: Vec<String>,
    /// Its instances (account, Region), when the call names them all.
    pub(crate) places: Vec<(String, String)>,
    pub(crate) retain_stacks: Option<bool>,
}

#[derive(Debug, Clone)]
struct Operation {
    start: Start,
    /// moto's id for it; `None` while the call is at moto, when nothing counts a look.
    moto_id: Option<String>,
    set: SetInfo,
    created: String,
    ended: Option<String>,
    /// `DescribeStackSetOperation` calls answered: the first finds it running.
    looks: u32,
    recorded: bool,
}

/// The operation `--stack-set-busy` puts in the way.
#[derive(Debug, Clone)]
struct Other {
    id: String,
    set: SetInfo,
    created: String,
    ended: Option<String>,
    looks: u32,
}

/// An operation as `DescribeStackSetOperation` finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Described {
    pub(crate) id: String,
    pub(crate) set: SetInfo,
    pub(crate) action: &'static str,
    pub(crate) status: &'static str,
    pub(crate) retain_stacks: Option<bool>,
    pub(crate) created: String,
    pub(crate) ended: Option<String>,
    pub(crate) accounts: Vec<String>,
    pub(crate) reason: Option<String>,
    pub(crate) failed: Option<usize>,
}

impl Described {
    /// `DescribeStackSetOperation`'s result.
    pub(crate) fn xml(&self) -> String {
        xml::operation_result(&xml::Operation {
            id: &self.id,
            stack_set_id: self.set.id.as_deref(),
            action: self.action,
            status: self.status,
            retain_stacks: self.retain_stacks,
            administration_role_arn: self.set.administration_role_arn.as_deref(),
            execution_role_name: self.set.execution_role_name.as_deref(),
            created: &self.created,
            ended: self.ended.as_deref(),
            accounts: &self.accounts,
            reason: self.reason.as_deref(),
            failed: self.failed,
        })
    }
}

/// The prefix of the made-up operations' ids.
pub(crate) const OTHER_PREFIX: &str = "cfn-deployer-local-other-";

/// Everything played so far.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    play: StackSetPlay,
    ops: HashMap<(SetKey, String), Operation>,
    /// The sets whose first mutating call came (the collision is played once per set).
    seen: HashSet<SetKey>,
    others: HashMap<SetKey, Other>,
    made: u32,
    /// Each set created through the proxy: the `ClientRequestToken` and moto's answer.
    creates: HashMap<SetKey, (Option<String>, String)>,
}

impl Ledger {
    pub(crate) fn new(play: StackSetPlay) -> Self {
        Self {
            play,
            ..Self::default()
        }
    }

    /// Whether a mutating call on `key` may meet the collision: the emulator then reads
    /// whether the set exists (CloudFormation has no operation on a set that does not).
    pub(crate) fn may_collide(&self, key: &SetKey) -> bool {
        self.play.busy.is_some() && !self.seen.contains(key)
    }

    /// The operation in the way of a mutating call on `key`, when one is running; the first
    /// call on a set that `exists` starts it.
    pub(crate) fn blocker(
        &mut self,
        key: &SetKey,
        set: Option<SetInfo>,
        now: &str,
    ) -> Option<String> {
        let busy = self.play.busy?.get();
        if let Some(set) = set.filter(|_| !self.seen.contains(key)) {
            self.seen.insert(key.clone());
            self.made += 1;
            let other = Other {
                id: format!("{OTHER_PREFIX}{}", self.made),
                set,
                created: now.to_owned(),
                ended: None,
                looks: 0,
            };
            self.others.insert(key.clone(), other);
        }
        let other = self.others.get(key)?;
        (other.looks < busy).then(|| other.id.clone())
    }

    /// Whether an operation on `key` has the id `id` (being started, or started).
    pub(crate) fn taken(&self, key: &SetKey, id: &str) -> bool {
        self.ops.contains_key(&(key.clone(), id.to_owned()))
            || self.others.get(key).is_some_and(|o| o.id == id)
    }

    /// Takes `id` on `key` for an operation being started: `false` when it is taken already.
    pub(crate) fn reserve(&mut self, key: &SetKey, id: &str, start: Start, now: &str) -> bool {
        if self.taken(key, id) {
            return false;
        }
        let slot = (key.clone(), id.to_owned());
        let op = Operation {
            start,
            moto_id: None,
            set: SetInfo::default(),
            created: now.to_owned(),
            ended: None,
            looks: 0,
            recorded: false,
        };
        self.ops.insert(slot, op);
        true
    }

    /// moto started the operation `id` as `moto_id`; `places` when only now known.
    pub(crate) fn commit(
        &mut self,
        key: &SetKey,
        id: &str,
        moto_id: String,
        places: Option<Vec<(String, String)>>,
        set: SetInfo,
    ) {
        if let Some(op) = self.ops.get_mut(&(key.clone(), id.to_owned())) {
            op.moto_id = Some(moto_id);
            if let Some(places) = places {
                op.start.places = places;
            }
            op.set = set;
        }
    }

    /// moto refused the call: `id` is free again.
    pub(crate) fn release(&mut self, key: &SetKey, id: &str) {
        let slot = (key.clone(), id.to_owned());
        if self.ops.get(&slot).is_some_and(|op| op.moto_id.is_none()) {
            self.ops.remove(&slot);
        }
    }

    fn over(op: &Operation) -> bool {
        op.moto_id.is_some() && op.looks >= 2
    }

    /// Each instance of `op` as it stands.
    fn rows(&self, op: &Operation) -> Vec<InstanceEnd> {
        let over = Self::over(op);
        op.start
            .places
            .iter()
            .map(|(account, region)| {
                let reason = self.play.failure(account, region).filter(|_| over);
                InstanceEnd {
                    account: account.clone(),
                    region: region.clone(),
                    status: match (over, reason) {
                        (false, _) => "RUNNING",
                        (true, Some(_)) => "FAILED",
                        (true, None) => "SUCCEEDED",
                    }
                    .to_owned(),
                    reason: reason.map(str::to_owned),
                }
            })
            .collect()
    }

    /// A `DescribeStackSetOperation` of `id` on `key`: how it stands, and its end when this
    /// look ended it; `None` for an operation the proxy did not start (moto answers).
    pub(crate) fn look(
        &mut self,
        key: &SetKey,
        id: &str,
        now: &str,
    ) -> Option<(Described, Option<SetOperationEnd>)> {
        if let Some(other) = self.others.get_mut(key).filter(|o| o.id == id) {
            other.looks = other.looks.saturating_add(1);
            let busy = self.play.busy.map_or(0, |b| b.get());
            let done = other.looks >= busy;
            if done {
                other.ended.get_or_insert_with(|| now.to_owned());
            }
            let described = Described {
                id: other.id.clone(),
                set: other.set.clone(),
                action: "UPDATE",
                status: if done { "SUCCEEDED" } else { "RUNNING" },
                retain_stacks: None,
                created: other.created.clone(),
                ended: other.ended.clone(),
                accounts: Vec::new(),
                reason: None,
                failed: done.then_some(0),
            };
            return Some((described, None));
        }
        let slot = (key.clone(), id.to_owned());
        let op = self.ops.get_mut(&slot)?;
        if op.moto_id.is_some() {
            op.looks = op.looks.saturating_add(1);
        }
        let over = Self::over(op);
        if over {
            op.ended.get_or_insert_with(|| now.to_owned());
        }
        let first_end = over && !op.recorded;
        op.recorded |= over;
        let op = self.ops.get(&slot)?;
        let rows = self.rows(op);
        let failed: Vec<&InstanceEnd> = rows.iter().filter(|r| r.status == "FAILED").collect();
        let mut regions: Vec<&str> = Vec::new();
        for r in &failed {
            if !regions.contains(&r.region.as_str()) {
                regions.push(&r.region);
            }
        }
        let described = Described {
            id: id.to_owned(),
            set: op.set.clone(),
            action: op.start.action,
            status: match (over, failed.is_empty()) {
                (false, _) => "RUNNING",
                (true, true) => "SUCCEEDED",
                (true, false) => "FAILED",
            },
            retain_stacks: op.start.retain_stacks,
            created: op.created.clone(),
            ended: op.ended.clone(),
            accounts: op.start.accounts.clone(),
            reason: (!failed.is_empty()).then(|| {
                format!(
                    "Failure tolerance exceeded in {}: {} of {} stack instances FAILED",
                    regions.join(", "),
                    failed.len(),
                    rows.len()
                )
            }),
            failed: over.then_some(failed.len()),
        };
        let end = first_end.then(|| SetOperationEnd {
            stack_set: key.1.clone(),
            operation_id: id.to_owned(),
            action: op.start.action.to_owned(),
            instances: rows.clone(),
        });
        Some((described, end))
    }

    /// `ListStackSetOperationResults` of `id` on `key`; `None` for an operation the proxy did
    /// not start. The made-up one reached no instance the proxy knows.
    pub(crate) fn results(&self, key: &SetKey, id: &str) -> Option<Vec<InstanceEnd>> {
        if self.others.get(key).is_some_and(|o| o.id == id) {
            return Some(Vec::new());
        }
        let op = self.ops.get(&(key.clone(), id.to_owned()))?;
        Some(self.rows(op))
    }

    /// The made-up operation running on `key`, with when it started.
    pub(crate) fn running_other(&self, key: &SetKey) -> Option<(String, String)> {
        let busy = self.play.busy?.get();
        let other = self.others.get(key).filter(|o| o.looks < busy)?;
        Some((other.id.clone(), other.created.clone()))
    }

    /// moto's answer to the `CreateStackSet` that created `key` with `token`, for a call with
    /// the same token (CloudFormation answers it again rather than creating a second set).
    pub(crate) fn created(&self, key: &SetKey, token: Option<&str>) -> Option<&str> {
        let (was, body) = self.creates.get(key)?;
        (token.is_some() && was.as_deref() == token).then_some(body.as_str())
    }

    pub(crate) fn record_create(&mut self, key: &SetKey, token: Option<&str>, body: String) {
        self.creates
            .insert(key.clone(), (token.map(str::to_owned), body));
    }

    /// The set is deleted: its name may be created again, with any token.
    pub(crate) fn forget_set(&mut self, key: &SetKey) {
        self.creates.remove(key);
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
