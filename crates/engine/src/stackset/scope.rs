//! Which instances each phase names: the targets × Regions the plan asks for, the instances the
//! stack set has, and the phases in the order that keeps every call valid. CloudFormation takes
//! accounts (or organizational units) × Regions as a cross product, so each operation names the
//! smallest product covering its instances. Pure: the calls are made elsewhere.

use std::collections::BTreeSet;

use super::{Phase, SetAction, SetPlan, Targets};

/// Where an instance is: its account (for `SERVICE_MANAGED`, the organizational unit it was
/// deployed through) and its Region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Place {
    /// The account id, or the OU (or root) id.
    pub(crate) target: String,
    /// The Region.
    pub(crate) region: String,
}

impl Place {
    pub(crate) fn new(target: &str, region: &str) -> Self {
        Self {
            target: target.to_owned(),
            region: region.to_owned(),
        }
    }
}

/// What an operation passes: these targets × these Regions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Scope {
    /// Accounts or OUs, in the plan's order.
    pub(crate) targets: Vec<String>,
    /// Regions, in the plan's order: the order CloudFormation deploys them in.
    pub(crate) regions: Vec<String>,
}

/// What a phase's operation names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Every instance of the set: no accounts, no Regions.
    Every,
    /// These targets × Regions.
    Only(Scope),
    /// No instance: the phase is skipped.
    Nothing,
}

/// The targets × Regions the plan asks for, targets first; `None` when it names no target (or
/// no Region, which names no instance either).
pub(crate) fn wanted(plan: &SetPlan) -> Option<Vec<Place>> {
    let (Targets::Accounts(ids) | Targets::OrganizationalUnits(ids)) = plan.targets.as_ref()?;
    let places: Vec<Place> = ids
        .iter()
        .flat_map(|t| plan.regions.iter().map(move |r| Place::new(t, r)))
        .collect();
    (!places.is_empty()).then_some(places)
}

/// `wanted` split into the places that have an instance and those that do not, each in the
/// plan's order.
fn split(wanted: &[Place], existing: &[Place]) -> (Vec<Place>, Vec<Place>) {
    let have: BTreeSet<&Place> = existing.iter().collect();
    wanted.iter().cloned().partition(|p| have.contains(p))
}

/// The smallest scope covering `places`: their targets in first-seen order, their Regions in
/// the order of `region_order`, then any others as seen.
pub(crate) fn covering(places: &[Place], region_order: &[String]) -> Scope {
    let mut scope = Scope::default();
    for place in places {
        if !scope.targets.contains(&place.target) {
            scope.targets.push(place.target.clone());
        }
        if !scope.regions.contains(&place.region) {
            scope.regions.push(place.region.clone());
        }
    }
    let rank = |r: &String| region_order.iter().position(|o| o == r);
    // Stable: the Regions the plan does not list keep their order, after those it does.
    scope.regions.sort_by_key(|r| rank(r).unwrap_or(usize::MAX));
    scope
}

/// Whether `places` are all of their covering product, so one call can name exactly them.
fn is_product(places: &[Place]) -> bool {
    let distinct: BTreeSet<&Place> = places.iter().collect();
    let scope = covering(places, &[]);
    scope.targets.len() * scope.regions.len() == distinct.len()
}

/// The phases a job runs on a stack set that exists with `existing` instances.
///
/// An update names only instances that exist: CloudFormation refuses an `UpdateStackSet` (or
/// `UpdateStackInstances`) whose accounts × Regions include one without an instance, while a
/// `CreateStackInstances` skips those that have one. So the update comes first when the
/// instances it updates form a product, and the new instances get the new version directly;
/// otherwise the missing ones are created first, and the update then names the whole product.
pub(crate) fn phases(plan: &SetPlan, existing: &[Place]) -> Vec<Phase> {
    let update = match plan.action {
        SetAction::Deploy => Phase::Update,
        SetAction::Instances => Phase::Override,
        SetAction::Delete => return vec![Phase::Remove],
    };
    let Some(wanted) = wanted(plan) else {
        return vec![update];
    };
    let (have, missing) = split(&wanted, existing);
    match (have.is_empty(), missing.is_empty()) {
        (_, true) => vec![update],
        // Nothing to override; the instances get the overrides as they are created.
        (true, false) if update == Phase::Override => vec![Phase::Add],
        // A set without instances: the update names none and the new ones get its version.
        (true, false) if existing.is_empty() => vec![Phase::Update, Phase::Add],
        // The set has instances elsewhere, and an update naming none of them would reach them
        // all: create the targets' instances first, then update exactly those.
        (true, false) => vec![Phase::Add, Phase::Update],
        (false, false) if is_product(&have) => vec![update, Phase::Add],
        (false, false) => vec![Phase::Add, update],
    }
}

/// What `phase`'s operation names, given the instances the set has now.
pub(crate) fn reach(plan: &SetPlan, phase: Phase, existing: &[Place]) -> Reach {
    let wanted = wanted(plan);
    let (have, missing) = match &wanted {
        Some(wanted) => split(wanted, existing),
        None => (dedup(existing), Vec::new()),
    };
    let some = |places: &[Place]| match places {
        [] => Reach::Nothing,
        _ => Reach::Only(covering(places, &plan.regions)),
    };
    match phase {
        Phase::Update => match &wanted {
            None => Reach::Every,
            // No instance anywhere: an unrestricted update updates the set alone.
            Some(_) if existing.is_empty() => Reach::Every,
            // Instances appeared elsewhere since the phases were chosen: naming the targets
            // makes CloudFormation refuse the update, which beats updating every instance.
            Some(wanted) if have.is_empty() => some(wanted),
            Some(_) => some(&have),
        },
        // The covering product may name instances that exist: CreateStackInstances skips them.
        Phase::Add => some(&missing),
        // Without targets, every instance: all accounts that have one × all Regions that have
        // one. Instances are nearly always a product (each job creates one); a delete of an
        // instance that is not there is a no-op, while an override of one is refused.
        Phase::Override | Phase::Remove => some(&have),
    }
}

/// `places` without repeats (a `SERVICE_MANAGED` OU has one instance per account), in order.
fn dedup(places: &[Place]) -> Vec<Place> {
    let mut seen = BTreeSet::new();
    places.iter().filter(|p| seen.insert(*p)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(action: SetAction, targets: &[&str], regions: &[&str]) -> SetPlan {
        SetPlan {
            action,
            targets: (!targets.is_empty())
                .then(|| Targets::Accounts(targets.iter().map(|t| (*t).to_owned()).collect())),
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
            ..super::super::fixture::plan()
        }
    }

    fn places(list: &[(&str, &str)]) -> Vec<Place> {
        list.iter().map(|(t, r)| Place::new(t, r)).collect()
    }

    fn only(targets: &[&str], regions: &[&str]) -> Reach {
        Reach::Only(Scope {
            targets: targets.iter().map(|t| (*t).to_owned()).collect(),
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        })
    }

    const A: &str = "111111111111";
    const B: &str = "222222222222";
    const C: &str = "333333333333";

    #[test]
    fn an_update_names_only_instances_that_exist() {
        let deploy = plan(SetAction::Deploy, &[A, B], &["us-east-1", "eu-west-1"]);
        // Everything there: one update of the targets.
        let all = places(&[
            (A, "us-east-1"),
            (A, "eu-west-1"),
            (B, "us-east-1"),
            (B, "eu-west-1"),
            (C, "us-east-1"),
        ]);
        assert_eq!(phases(&deploy, &all), [Phase::Update]);
        assert_eq!(
            reach(&deploy, Phase::Update, &all),
            only(&[A, B], &["us-east-1", "eu-west-1"])
        );
        assert_eq!(reach(&deploy, Phase::Add, &all), Reach::Nothing);
        // A new Region: update what exists (a product), then add the rest.
        let east = places(&[(B, "us-east-1"), (A, "us-east-1")]);
        assert_eq!(phases(&deploy, &east), [Phase::Update, Phase::Add]);
        assert_eq!(
            reach(&deploy, Phase::Update, &east),
            only(&[A, B], &["us-east-1"])
        );
        assert_eq!(
            reach(&deploy, Phase::Add, &east),
            only(&[A, B], &["eu-west-1"])
        );
        // Not a product: add first, then update all the targets.
        let ragged = places(&[(A, "us-east-1"), (A, "eu-west-1"), (B, "us-east-1")]);
        assert_eq!(phases(&deploy, &ragged), [Phase::Add, Phase::Update]);
        // A set without instances: the update names none.
        assert_eq!(phases(&deploy, &[]), [Phase::Update, Phase::Add]);
        assert_eq!(reach(&deploy, Phase::Update, &[]), Reach::Every);
        // Instances only elsewhere: add the targets' first.
        let elsewhere = places(&[(C, "us-east-1")]);
        assert_eq!(phases(&deploy, &elsewhere), [Phase::Add, Phase::Update]);
        // No targets: every instance.
        let every = plan(SetAction::Deploy, &[], &[]);
        assert_eq!(phases(&every, &all), [Phase::Update]);
        assert_eq!(reach(&every, Phase::Update, &all), Reach::Every);
    }

    #[test]
    fn instances_are_overridden_where_they_exist_and_created_where_not() {
        let instances = plan(SetAction::Instances, &[A, B], &["us-east-1"]);
        assert_eq!(phases(&instances, &[]), [Phase::Add]);
        let one = places(&[(A, "us-east-1")]);
        assert_eq!(phases(&instances, &one), [Phase::Override, Phase::Add]);
        assert_eq!(
            reach(&instances, Phase::Override, &one),
            only(&[A], &["us-east-1"])
        );
        assert_eq!(
            reach(&instances, Phase::Add, &one),
            only(&[B], &["us-east-1"])
        );
    }

    #[test]
    fn a_delete_covers_the_instances_there() {
        let some = plan(SetAction::Delete, &[A, C], &["eu-west-1", "us-east-1"]);
        let existing = places(&[
            (A, "us-east-1"),
            (B, "us-east-1"),
            (A, "eu-west-1"),
            (B, "ap-south-1"),
        ]);
        assert_eq!(phases(&some, &existing), [Phase::Remove]);
        assert_eq!(
            reach(&some, Phase::Remove, &existing),
            only(&[A], &["eu-west-1", "us-east-1"])
        );
        // Every instance: all accounts × all Regions, in the plan's Region order first.
        let all = plan(SetAction::Delete, &[], &["us-east-1"]);
        assert_eq!(
            reach(&all, Phase::Remove, &existing),
            only(&[A, B], &["us-east-1", "eu-west-1", "ap-south-1"])
        );
        assert_eq!(reach(&all, Phase::Remove, &[]), Reach::Nothing);
    }

    #[test]
    fn products_are_told_apart_from_ragged_sets() {
        assert!(is_product(&places(&[(A, "r1"), (B, "r1"), (A, "r1")])));
        assert!(!is_product(&places(&[(A, "r1"), (B, "r2")])));
        assert!(is_product(&[]));
    }
}
