//! The stack-set operations the local proxy plays: moto's finish at once and never fail nor
//! collide, so the proxy gives them time (running at the first look), failures for the
//! instances `--stack-set-fail` names, another operation in the way with `--stack-set-busy`,
//! and the operation ids and idempotency moto ignores. This module owns the settings and the
//! records the view reads; [`emulator`] answers the calls, from the ledger in `state`.

pub(crate) mod emulator;
mod inner;
pub(crate) mod lines;
mod moto;
mod pending;
mod request;
mod state;
mod xml;

use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

/// One `--stack-set-fail` entry: every operation touching this instance fails there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFailure {
    /// The 12-digit account.
    pub account: String,
    /// The Region.
    pub region: String,
    /// The `StatusReason` the instance's result gives.
    pub reason: String,
}

/// A `--stack-set-fail` value that is not `ACCOUNT/REGION=REASON`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}`: a stack-set failure is ACCOUNT/REGION=REASON (e.g. 222222222222/eu-west-1=Role not found): a 12-digit account, a Region such as us-east-1, and the reason that instance fails with")]
pub struct InstanceFailureError(String);

/// Whether `s` reads as a Region: `us-east-1`, `us-gov-west-1`, `ap-southeast-4`.
fn region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let lower = |p: &&str| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase());
    parts.len() >= 3
        && parts[..parts.len() - 1].iter().all(lower)
        && parts[0].len() == 2
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

impl FromStr for InstanceFailure {
    type Err = InstanceFailureError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || InstanceFailureError(s.to_owned());
        // The reason may hold `/` and `=`; the account and Region hold neither.
        let (place, reason) = s.split_once('=').ok_or_else(usage)?;
        let (account, region_name) = place.split_once('/').ok_or_else(usage)?;
        let account_ok = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
        if !account_ok || !region(region_name) || reason.trim().is_empty() {
            return Err(usage());
        }
        Ok(Self {
            account: account.to_owned(),
            region: region_name.to_owned(),
            reason: reason.to_owned(),
        })
    }
}

/// `--stack-set-busy LOOKS`: how many `DescribeStackSetOperation` calls find the other
/// operation running; at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusyLooks(NonZeroU32);

/// A `--stack-set-busy` value that is not a whole number of at least 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}`: --stack-set-busy takes LOOKS, a whole number of at least 1: how many times DescribeStackSetOperation finds the other operation RUNNING before it is SUCCEEDED")]
pub struct BusyLooksError(String);

impl BusyLooks {
    /// The looks.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl FromStr for BusyLooks {
    type Err = BusyLooksError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<NonZeroU32>()
            .map(Self)
            .map_err(|_| BusyLooksError(s.to_owned()))
    }
}

/// What the proxy plays on stack sets beyond moto: failed instances, and a collision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackSetPlay {
    /// The instances that fail (`--stack-set-fail`); the others succeed.
    pub failures: Vec<InstanceFailure>,
    /// Another operation is running on each set at its first mutating call, for this many
    /// looks (`--stack-set-busy`); `None`: no collision.
    pub busy: Option<BusyLooks>,
}

impl StackSetPlay {
    /// Why the instance in `account` / `region` fails, when it does (the first entry naming it).
    pub(crate) fn failure(&self, account: &str, region: &str) -> Option<&str> {
        self.failures
            .iter()
            .find(|f| f.account == account && f.region == region)
            .map(|f| f.reason.as_str())
    }
}

/// How an operation ended in one account and Region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceEnd {
    /// The account.
    pub account: String,
    /// The Region.
    pub region: String,
    /// `SUCCEEDED` or `FAILED`.
    pub status: String,
    /// Why it failed.
    pub reason: Option<String>,
}

/// A stack-set operation the proxy played, once it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOperationEnd {
    /// The stack set's name.
    pub stack_set: String,
    /// The caller's operation id.
    pub operation_id: String,
    /// `CREATE`, `UPDATE` or `DELETE`.
    pub action: String,
    /// Each instance, in the order the call named them.
    pub instances: Vec<InstanceEnd>,
}

impl SetOperationEnd {
    /// The live view's lines, one per account with its Regions in order:
    /// `stack set baseline update: 111111111111 eu-west-1 SUCCEEDED, us-east-1 FAILED (reason)`;
    /// `stack set baseline update: no instances` for an operation that reached none.
    pub fn lines(&self) -> Vec<String> {
        let head = format!(
            "stack set {} {}:",
            self.stack_set,
            self.action.to_ascii_lowercase()
        );
        let mut accounts: Vec<(&str, Vec<String>)> = Vec::new();
        for i in &self.instances {
            let mut each = format!("{} {}", i.region, i.status);
            if let Some(reason) = &i.reason {
                each.push_str(&format!(" ({reason})"));
            }
            match accounts.iter_mut().find(|(a, _)| *a == i.account) {
                Some((_, regions)) => regions.push(each),
                None => accounts.push((&i.account, vec![each])),
            }
        }
        if accounts.is_empty() {
            return vec![format!("{head} no instances")];
        }
        accounts
            .into_iter()
            .map(|(account, regions)| format!("{head} {account} {}", regions.join(", ")))
            .collect()
    }
}

/// The operations that ended, for the view, and a wake-up for it at each.
#[derive(Debug, Default)]
pub struct SetEnds {
    ended: Mutex<Vec<SetOperationEnd>>,
    notify: tokio::sync::Notify,
}

impl SetEnds {
    /// The operations that ended, in the order they did.
    pub fn all(&self) -> Vec<SetOperationEnd> {
        self.ended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until an operation ends; at once when one ended since the last wait.
    pub async fn wait(&self) {
        self.notify.notified().await;
    }

    pub(crate) fn record(&self, end: SetOperationEnd) {
        self.ended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(end);
        // One waiter (the view): a permit is kept when it is not waiting yet.
        self.notify.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_parse_with_reasons_holding_any_character() {
        assert_eq!(
            "222222222222/eu-west-1=Role 'x' not found: a/b=c".parse(),
            Ok(InstanceFailure {
                account: "222222222222".into(),
                region: "eu-west-1".into(),
                reason: "Role 'x' not found: a/b=c".into(),
            })
        );
        assert!("111111111111/us-gov-west-1=no"
            .parse::<InstanceFailure>()
            .is_ok());
        for bad in [
            "",
            "222222222222/eu-west-1",
            "222222222222/eu-west-1=",
            "222222222222/eu-west-1= ",
            "22222222222/eu-west-1=x",
            "2222222222222/eu-west-1=x",
            "22222222222a/eu-west-1=x",
            "222222222222=x",
            "222222222222/eu-west=x",
            "222222222222/EU-west-1=x",
            "222222222222/euw-west-1=x",
            "222222222222/eu--1=x",
            "eu-west-1/222222222222=x",
        ] {
            let err = bad.parse::<InstanceFailure>().expect_err(bad).to_string();
            assert!(
                err.starts_with(&format!(
                    "`{bad}`: a stack-set failure is ACCOUNT/REGION=REASON"
                )),
                "{err}"
            );
        }
    }

    #[test]
    fn busy_takes_one_look_or_more() {
        assert_eq!("3".parse::<BusyLooks>().map(BusyLooks::get), Ok(3));
        for bad in ["0", "-1", "x", ""] {
            let err = bad.parse::<BusyLooks>().expect_err(bad).to_string();
            assert!(err.contains("a whole number of at least 1"), "{err}");
        }
    }

    #[test]
    fn the_first_entry_naming_an_instance_says_why_it_fails() {
        let play = StackSetPlay {
            failures: [
                "2".repeat(12) + "/eu-west-1=first",
                "2".repeat(12) + "/eu-west-1=second",
            ]
            .iter()
            .map(|s| s.parse().expect("spec"))
            .collect(),
            busy: None,
        };
        assert_eq!(play.failure(&"2".repeat(12), "eu-west-1"), Some("first"));
        assert_eq!(play.failure(&"2".repeat(12), "us-east-1"), None);
    }

    #[test]
    fn lines_group_the_regions_by_account() {
        let end = |account: &str, region: &str, reason: Option<&str>| InstanceEnd {
            account: account.into(),
            region: region.into(),
            status: if reason.is_some() {
                "FAILED"
            } else {
                "SUCCEEDED"
            }
            .into(),
            reason: reason.map(str::to_owned),
        };
        let op = SetOperationEnd {
            stack_set: "baseline".into(),
            operation_id: "t-update".into(),
            action: "UPDATE".into(),
            instances: vec![
                end("111111111111", "eu-west-1", None),
                end("222222222222", "eu-west-1", None),
                end("111111111111", "us-east-1", Some("Role not found")),
            ],
        };
        assert_eq!(
            op.lines(),
            vec![
                "stack set baseline update: 111111111111 eu-west-1 SUCCEEDED, us-east-1 FAILED (Role not found)",
                "stack set baseline update: 222222222222 eu-west-1 SUCCEEDED",
            ]
        );
        let none = SetOperationEnd {
            instances: Vec::new(),
            action: "DELETE".into(),
            ..op
        };
        assert_eq!(
            none.lines(),
            vec!["stack set baseline delete: no instances"]
        );
    }
}
