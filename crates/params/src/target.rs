//! Where a deploy goes: the account, by the role assumed in it (`AssumeRoleArn`), and the
//! Region (`Region`), read and checked. Whether the role may be assumed is the deployment's
//! call, made where the role is assumed.

use crate::document::Shared;
use crate::values::bad;
use crate::{Front, ParamsError};

/// The account and Region a stack is deployed into; both `None`: the deployer's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The role every CloudFormation call for the stack is made with (`AssumeRoleArn`).
    pub assume_role_arn: Option<String>,
    /// The Region the calls go to (`Region`).
    pub region: Option<String>,
}

impl Target {
    /// Whether the deploy stays in the deployer's own account and Region.
    pub fn is_home(&self) -> bool {
        self.assume_role_arn.is_none() && self.region.is_none()
    }

    /// The account of the role assumed, from its ARN.
    pub fn account(&self) -> Option<&str> {
        self.assume_role_arn.as_deref()?.split(':').nth(4)
    }

    /// This target, each part not set taken from `default`.
    pub fn or(&self, default: &Target) -> Target {
        Target {
            assume_role_arn: self
                .assume_role_arn
                .clone()
                .or_else(|| default.assume_role_arn.clone()),
            region: self.region.clone().or_else(|| default.region.clone()),
        }
    }
}

/// Whether `arn` is an IAM role's ARN: `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
pub(crate) fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let name = resource.strip_prefix("role/").unwrap_or("");
    scheme == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
}

/// Whether `region` is shaped as a Region's name: `eu-west-1`, `us-gov-west-1`,
/// `ap-southeast-5`.
pub(crate) fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// `AssumeRoleArn` and `Region`, as `front` names them.
pub(crate) fn target(front: Front, doc: &Shared) -> Result<Target, ParamsError> {
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let assume_role_arn = text(&doc.assume_role_arn);
    if let Some(arn) = &assume_role_arn {
        if !is_role_arn(arn) {
            return Err(bad(
                front,
                "AssumeRoleArn",
                format!("`{arn}` is not an IAM role ARN: write arn:aws:iam::ACCOUNT:role/NAME, the role in the target account that the deployer assumes"),
            ));
        }
    }
    let region = text(&doc.region);
    if let Some(name) = &region {
        if !is_region(name) {
            return Err(bad(
                front,
                "Region",
                format!("`{name}` is not a Region name such as eu-west-1"),
            ));
        }
    }
    Ok(Target {
        assume_role_arn,
        region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_and_regions_are_checked_by_their_shape() {
        for good in [
            "arn:aws:iam::222222222222:role/cfn-deployer-target",
            "arn:aws-us-gov:iam::222222222222:role/path/to/deploy",
            "arn:aws-cn:iam::222222222222:role/a+b=c,d.e@f_g-h",
        ] {
            assert!(is_role_arn(good), "{good}");
        }
        for bad in [
            "arn:aws:iam::22222222222:role/short-account",
            "arn:aws:iam::222222222222:user/not-a-role",
            "arn:aws:iam:us-east-1:222222222222:role/regional",
            "arn:aws:sts::222222222222:role/wrong-service",
            "arn:aws:iam::222222222222:role/",
            "arn:aws:iam::222222222222:role/spaces here",
            "role/cfn",
        ] {
            assert!(!is_role_arn(bad), "{bad}");
        }
        for good in [
            "eu-west-1",
            "us-gov-west-1",
            "ap-southeast-5",
            "il-central-1",
        ] {
            assert!(is_region(good), "{good}");
        }
        for bad in [
            "eu-west",
            "EU-WEST-1",
            "euwest1",
            "eu--1",
            "europe-west-1",
            "eu-west-x",
            "",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn a_target_takes_what_it_does_not_set_from_its_default() {
        let group = Target {
            assume_role_arn: Some("arn:aws:iam::222222222222:role/a".into()),
            region: Some("eu-west-1".into()),
        };
        let stack = Target {
            region: Some("us-west-2".into()),
            ..Target::default()
        };
        let merged = stack.or(&group);
        assert_eq!(merged.account(), Some("222222222222"));
        assert_eq!(merged.region.as_deref(), Some("us-west-2"));
        assert!(Target::default().is_home());
        assert!(!merged.is_home());
    }
}
