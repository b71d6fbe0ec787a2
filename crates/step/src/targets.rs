//! Deploys into other accounts and Regions: a role is assumed only when the deployment allows
//! it (`CFN_DEPLOYER_ALLOWED_ASSUME_ROLE_ARNS`, deny by default), its credentials are kept
//! until five minutes before they expire, and each target gets a CloudFormation client of its
//! own. Credentials stay in memory: never logged, never in a continuation token.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_cloudformation::config::{Credentials, Region, SharedCredentialsProvider};
use aws_sdk_sts::error::ProvideErrorMetadata as _;
use cfn_deployer_aws::AwsFault;
use cfn_deployer_engine::RolePolicy;
use cfn_deployer_params::Target;
use tracing::info;

use crate::error::StepError;

/// How long before they expire assumed credentials are replaced.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// STS's longest role session name.
const MAX_SESSION_NAME: usize = 64;

/// Whether `pattern` (an entry of the allowed list, where `*` may stand for the account id)
/// allows the role `arn`.
pub fn allows(pattern: &str, arn: &str) -> bool {
    let want: Vec<&str> = pattern.split(':').collect();
    let have: Vec<&str> = arn.split(':').collect();
    want.len() == 6
        && have.len() == 6
        && want.iter().zip(&have).enumerate().all(|(i, (w, h))| {
            w == h
                || (i == 4 && *w == "*" && h.len() == 12 && h.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// The role policy in `target`'s account: the deployment's, except that a service role of
/// another account, which CloudFormation there cannot act with, is no longer handed to every
/// operation. It stays allowed by name, so the policy stays on: a `RoleArn` must still be one
/// the deployment allows (in full, account included), and a deploy naming none acts with the
/// assumed role.
pub fn policy_in(roles: &RolePolicy, target: &Target) -> RolePolicy {
    match (&roles.service_role, target.account()) {
        (Some(role), Some(account)) if role.split(':').nth(4) != Some(account) => RolePolicy {
            service_role: None,
            allowed: roles.allowed.iter().chain([role]).cloned().collect(),
        },
        _ => roles.clone(),
    }
}

/// The role session name for the deploy `request`: `cfn-deployer-<request>`, in the characters
/// STS takes, cut to 64.
pub fn session_name(request: &str) -> String {
    let clean: String = request
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(*c))
        .collect();
    let mut name = format!("cfn-deployer-{clean}");
    name.truncate(MAX_SESSION_NAME);
    name
}

struct Kept {
    credentials: Credentials,
    expires: Option<SystemTime>,
}

/// The roles assumed so far, and the deployment's list of roles it may assume.
#[derive(Default)]
pub(crate) struct Targets {
    /// `CFN_DEPLOYER_ALLOWED_ASSUME_ROLE_ARNS`.
    pub(crate) allowed: Vec<String>,
    kept: Mutex<HashMap<String, Kept>>,
    /// The deployer's own account, asked of STS once: `None` when STS could not say.
    own: tokio::sync::OnceCell<Option<String>>,
}

impl std::fmt::Debug for Targets {
    // The credentials kept are never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Targets")
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

impl Targets {
    pub(crate) fn new(allowed: Vec<String>) -> Self {
        Self {
            allowed,
            kept: Mutex::default(),
            own: tokio::sync::OnceCell::new(),
        }
    }

    /// The deployer's own account (`GetCallerIdentity`, which needs no permission), asked
    /// once per process; `None` when STS cannot say, and then a target's account is named.
    pub(crate) async fn own_account(&self, sdk: &SdkConfig) -> Option<String> {
        self.own
            .get_or_init(|| async {
                let asked = aws_sdk_sts::Client::new(sdk)
                    .get_caller_identity()
                    .send()
                    .await;
                asked.ok().and_then(|out| out.account().map(str::to_owned))
            })
            .await
            .clone()
    }

    /// The SDK settings for `target`: the deployer's own for its own account and Region,
    /// else with the target's Region and the assumed role's credentials.
    pub(crate) async fn sdk_for(
        &self,
        sdk: &SdkConfig,
        target: &Target,
        request: &str,
    ) -> Result<SdkConfig, StepError> {
        let mut builder = sdk.to_builder();
        if let Some(region) = &target.region {
            builder = builder.region(Region::new(region.clone()));
        }
        if let Some(role) = &target.assume_role_arn {
            let credentials = self.credentials(sdk, role, request).await?;
            builder = builder.credentials_provider(SharedCredentialsProvider::new(credentials));
        }
        Ok(builder.build())
    }

    /// Refuses `target`'s role unless the allowed list names it.
    pub(crate) fn check(&self, target: &Target) -> Result<(), Box<StepError>> {
        match &target.assume_role_arn {
            Some(role) if !self.allowed.iter().any(|p| allows(p, role)) => {
                Err(Box::new(StepError::AssumeRoleRefused {
                    role: role.clone(),
                    unset: self.allowed.is_empty(),
                }))
            }
            _ => Ok(()),
        }
    }

    async fn credentials(
        &self,
        sdk: &SdkConfig,
        role: &str,
        request: &str,
    ) -> Result<Credentials, StepError> {
        self.check(&Target {
            assume_role_arn: Some(role.to_owned()),
            region: None,
        })
        .map_err(|e| *e)?;
        let fresh = |k: &Kept| {
            k.expires
                .is_none_or(|at| at > SystemTime::now() + RENEW_BEFORE)
        };
        if let Some(kept) = self.lock().get(role).filter(|k| fresh(k)) {
            return Ok(kept.credentials.clone());
        }
        let session = session_name(request);
        let sent = aws_sdk_sts::Client::new(sdk)
            .assume_role()
            .role_arn(role)
            .role_session_name(&session)
            .send()
            .await;
        let out = match sent {
            Ok(out) => out,
            Err(e) => {
                let fault = AwsFault::of(&e);
                return Err(StepError::AssumeRole {
                    role: role.to_owned(),
                    denied: fault.is_access_denied() || e.code() == Some("AccessDenied"),
                    message: fault.to_text(),
                });
            }
        };
        let Some(given) = out.credentials else {
            return Err(StepError::AssumeRole {
                role: role.to_owned(),
                denied: false,
                message: "STS answered without credentials".into(),
            });
        };
        let expires = SystemTime::try_from(given.expiration).ok();
        let credentials = Credentials::new(
            given.access_key_id,
            given.secret_access_key,
            Some(given.session_token),
            expires,
            "cfn-deployer-assume-role",
        );
        info!(role, session = %session, "role assumed");
        self.lock().insert(
            role.to_owned(),
            Kept {
                credentials: credentials.clone(),
                expires,
            },
        );
        Ok(credentials)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Kept>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowed_list_may_leave_the_account_open_and_nothing_else() {
        let any = "arn:aws:iam::*:role/cfn-deployer-target";
        assert!(allows(
            any,
            "arn:aws:iam::222222222222:role/cfn-deployer-target"
        ));
        assert!(!allows(
            any,
            "arn:aws:iam::222222222222:role/cfn-deployer-target-2"
        ));
        assert!(!allows(any, "arn:aws:iam::22222:role/cfn-deployer-target"));
        assert!(!allows(
            any,
            "arn:aws-cn:iam::222222222222:role/cfn-deployer-target"
        ));
        let one = "arn:aws:iam::222222222222:role/deploy";
        assert!(allows(one, one));
        assert!(!allows(one, "arn:aws:iam::333333333333:role/deploy"));
        assert!(!allows("*", one), "a bare star allows nothing");
        assert!(
            !allows("arn:aws:iam::222222222222:role/*", one),
            "a star stands only for the account"
        );
    }

    #[test]
    fn a_home_service_role_is_not_handed_to_another_account() {
        let home = "arn:aws:iam::111111111111:role/cfn-service";
        let there = "arn:aws:iam::222222222222:role/cfn-service";
        let roles = RolePolicy {
            service_role: Some(home.into()),
            allowed: vec![there.into()],
        };
        let target = |role: &str| Target {
            assume_role_arn: Some(role.into()),
            region: None,
        };
        let away = policy_in(&roles, &target("arn:aws:iam::222222222222:role/deploy"));
        assert_eq!(away.service_role, None);
        assert_eq!(away.allowed, [there, home], "still on, still by full ARN");
        let same = policy_in(&roles, &target("arn:aws:iam::111111111111:role/deploy"));
        assert_eq!(
            same, roles,
            "the deployer's own account keeps its service role"
        );
        let region_only = Target {
            assume_role_arn: None,
            region: Some("eu-west-1".into()),
        };
        assert_eq!(policy_in(&roles, &region_only), roles);
    }

    #[test]
    fn a_refused_or_denied_role_is_a_permission_error_saying_what_to_allow() {
        use crate::error::Failing as _;
        use cfn_deployer_engine::FailureKind;
        let role = "arn:aws:iam::222222222222:role/deploy";
        let denied = StepError::AssumeRole {
            role: role.into(),
            denied: true,
            message: "AccessDenied: not authorized to perform sts:AssumeRole".into(),
        };
        assert_eq!(denied.kind(), FailureKind::Permission);
        let text = denied.to_string();
        assert!(text.contains(&format!("AssumeRoleArn `{role}`")), "{text}");
        assert!(
            text.contains("trust policy must name the deployer's own role"),
            "{text}"
        );
        let unset = StepError::AssumeRoleRefused {
            role: role.into(),
            unset: true,
        };
        assert_eq!(unset.kind(), FailureKind::Permission);
        assert!(unset
            .to_string()
            .contains("CFN_DEPLOYER_ALLOWED_ASSUME_ROLE_ARNS is unset"));
        let failed = StepError::AssumeRole {
            role: role.into(),
            denied: false,
            message: "timed out".into(),
        };
        assert_eq!(failed.kind(), FailureKind::Deploy);
    }

    #[test]
    fn session_names_fit_sts() {
        assert_eq!(session_name("3f2c-11"), "cfn-deployer-3f2c-11");
        let long = session_name(&format!("{}/{}", "x".repeat(80), "y"));
        assert_eq!(long.len(), MAX_SESSION_NAME);
        assert!(long
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c)));
    }
}
