//! The deployment's own settings, read once at start from the environment: the SDK's (region,
//! credentials, endpoints, timeouts), the pace of polls, the role policy, the staging bucket
//! and the buckets an S3 front may read templates from. A wrong value is one start-up error.

use std::time::Duration;

use aws_config::SdkConfig;
use cfn_deployer_engine::drift::DriftCheck;
use cfn_deployer_engine::{Pace, RolePolicy};
use tracing::{info, warn};

/// A setting of the deployment's environment that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}=`{value}` {problem}")]
pub struct SettingsError {
    /// The environment variable.
    pub name: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong and what to write instead.
    pub problem: &'static str,
}

/// The deployment's settings: what every front's steps share.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The shared SDK settings.
    pub sdk: SdkConfig,
    /// How a step paces its polls.
    pub pace: Pace,
    /// The service roles CloudFormation may be handed.
    pub roles: RolePolicy,
    /// Where templates too large to pass inline are staged, with the deployer's own role.
    pub staging_bucket: Option<String>,
    /// The buckets an S3 front may read templates from; `None`: any but the staging bucket.
    pub template_buckets: Option<Vec<String>>,
    /// Whether a deploy may switch a stack's termination protection off.
    pub allow_unprotect: bool,
    /// The drift check of the deploys whose settings name none (`CFN_DEPLOYER_DRIFT_CHECK`).
    pub drift_check: DriftCheck,
    /// The roles a deploy's `AssumeRoleArn` may name (`CFN_DEPLOYER_ALLOWED_ASSUME_ROLE_ARNS`);
    /// `*` may stand for the account id. Empty: none.
    pub assume_roles: Vec<String>,
}

/// A read of the environment: a variable's value, `None` when unset.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Settings {
    /// Reads the settings from the process environment and the standard SDK settings, and logs
    /// what it found (never a secret).
    pub async fn from_env() -> Result<Self, SettingsError> {
        let settings = Self::from_vars(sdk_config().await, &|name| std::env::var(name).ok())?;
        settings.log();
        Ok(settings)
    }

    /// Reads the settings with `sdk` from `env`: the deployment's variables
    /// `CFN_DEPLOYER_POLL_WITHIN_SECONDS`, `CFN_DEPLOYER_POLL_INTERVAL_SECONDS`,
    /// `CFN_DEPLOYER_SERVICE_ROLE_ARN`, `CFN_DEPLOYER_ALLOWED_ROLE_ARNS`,
    /// `CFN_DEPLOYER_STAGING_BUCKET`, `CFN_DEPLOYER_TEMPLATE_BUCKETS`,
    /// `CFN_DEPLOYER_ALLOW_UNPROTECT`, `CFN_DEPLOYER_DRIFT_CHECK` and
    /// `CFN_DEPLOYER_ALLOWED_ASSUME_ROLE_ARNS`.
    pub fn from_vars(sdk: SdkConfig, env: Env<'_>) -> Result<Self, SettingsError> {
        let text = |name: &str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let default = Pace::default();
        let pace = Pace {
            poll_within: seconds(env, "CFN_DEPLOYER_POLL_WITHIN_SECONDS", true)?
                .unwrap_or(default.poll_within),
            poll_interval: seconds(env, "CFN_DEPLOYER_POLL_INTERVAL_SECONDS", false)?
                .unwrap_or(default.poll_interval),
        };
        let roles = RolePolicy {
            service_role: text("CFN_DEPLOYER_SERVICE_ROLE_ARN"),
            allowed: list(text("CFN_DEPLOYER_ALLOWED_ROLE_ARNS")),
        };
        let template_buckets = text("CFN_DEPLOYER_TEMPLATE_BUCKETS").map(|v| list(Some(v)));
        let allow_unprotect = match text("CFN_DEPLOYER_ALLOW_UNPROTECT").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(SettingsError {
                    name: "CFN_DEPLOYER_ALLOW_UNPROTECT",
                    value: other.to_owned(),
                    problem: "must be true or false",
                })
            }
        };
        let drift_check = match text("CFN_DEPLOYER_DRIFT_CHECK").as_deref() {
            None | Some("OFF") => DriftCheck::Off,
            Some("WARN") => DriftCheck::Warn,
            Some("FAIL") => DriftCheck::Fail,
            Some(other) => {
                return Err(SettingsError {
                    name: "CFN_DEPLOYER_DRIFT_CHECK",
                    value: other.to_owned(),
                    problem: "must be OFF, WARN or FAIL",
                })
            }
        };
        Ok(Self {
            sdk,
            pace,
            roles,
            staging_bucket: text("CFN_DEPLOYER_STAGING_BUCKET"),
            template_buckets,
            allow_unprotect,
            drift_check,
            assume_roles: list(text("CFN_DEPLOYER_ALLOWED_ASSUME_ROLE_ARNS")),
        })
    }

    /// Settings with `sdk` and every deployment setting at its default: what tests start from.
    pub fn with_sdk(sdk: SdkConfig) -> Self {
        Self {
            sdk,
            pace: Pace::default(),
            roles: RolePolicy::default(),
            staging_bucket: None,
            template_buckets: None,
            allow_unprotect: false,
            drift_check: DriftCheck::Off,
            assume_roles: Vec::new(),
        }
    }

    /// Whether a role policy is set: without one, CloudFormation acts as the deploy asks.
    pub fn role_policy_on(&self) -> bool {
        self.roles.service_role.is_some() || !self.roles.allowed.is_empty()
    }

    fn log(&self) {
        info!(
            region = cfn_deployer_aws::region(&self.sdk),
            poll_within_ms = self.pace.poll_within.as_millis() as u64,
            poll_interval_ms = self.pace.poll_interval.as_millis() as u64,
            service_role = self.roles.service_role.as_deref().unwrap_or(""),
            allowed_roles = self.roles.allowed.len(),
            staging_bucket = self.staging_bucket.as_deref().unwrap_or(""),
            allow_unprotect = self.allow_unprotect,
            drift_check = self.drift_check.as_str(),
            assume_roles = self.assume_roles.join(","),
            template_buckets = self
                .template_buckets
                .as_ref()
                .map(|b| b.join(","))
                .unwrap_or_default(),
            "settings read"
        );
        if !self.role_policy_on() {
            warn!("role policy off: a deploy may hand CloudFormation any service role it names; set CFN_DEPLOYER_SERVICE_ROLE_ARN or CFN_DEPLOYER_ALLOWED_ROLE_ARNS to the roles it may use");
        }
    }
}

/// Separated by commas, spaces or new lines.
fn list(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A number of seconds; `zero_ok` says whether 0 is a setting.
fn seconds(
    env: Env<'_>,
    name: &'static str,
    zero_ok: bool,
) -> Result<Option<Duration>, SettingsError> {
    let Some(value) = env(name).filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let bad = |problem| SettingsError {
        name,
        value: value.clone(),
        problem,
    };
    let secs: f64 = value
        .trim()
        .parse()
        .map_err(|_| bad("is not a number of seconds: write one such as 3 or 0.5"))?;
    let duration = Duration::try_from_secs_f64(secs)
        .map_err(|_| bad("is out of range: write a number of seconds from 0 to a day"))?;
    if duration > Duration::from_secs(86_400) {
        return Err(bad(
            "is out of range: write a number of seconds from 0 to a day",
        ));
    }
    if duration.is_zero() && !zero_ok {
        return Err(bad("must be more than 0 seconds"));
    }
    Ok(Some(duration))
}

/// The shared SDK settings of a front: the standard environment (region, credentials,
/// endpoints), and timeouts on every call, so that a hung connection never outlives a step.
pub async fn sdk_config() -> SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(20))
        .operation_timeout(Duration::from_secs(60))
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_vars(SdkConfig::builder().build(), &|name| {
            vars.get(name).cloned()
        })
    }

    #[test]
    fn every_setting_is_read_once() {
        let s = read(&[
            ("CFN_DEPLOYER_POLL_WITHIN_SECONDS", "0.5"),
            ("CFN_DEPLOYER_POLL_INTERVAL_SECONDS", " 2 "),
            ("CFN_DEPLOYER_SERVICE_ROLE_ARN", "arn:aws:iam::1:role/cfn"),
            ("CFN_DEPLOYER_ALLOWED_ROLE_ARNS", "arn:a, arn:b\narn:c"),
            ("CFN_DEPLOYER_STAGING_BUCKET", " staging "),
            ("CFN_DEPLOYER_TEMPLATE_BUCKETS", "t1,t2"),
            ("CFN_DEPLOYER_ALLOW_UNPROTECT", "true"),
            ("CFN_DEPLOYER_DRIFT_CHECK", "FAIL"),
            (
                "CFN_DEPLOYER_ALLOWED_ASSUME_ROLE_ARNS",
                "arn:aws:iam::*:role/a, arn:aws:iam::222222222222:role/b",
            ),
        ])
        .expect("valid");
        assert_eq!(s.drift_check, DriftCheck::Fail);
        assert_eq!(
            s.assume_roles,
            ["arn:aws:iam::*:role/a", "arn:aws:iam::222222222222:role/b"]
        );
        assert_eq!(s.pace.poll_within, Duration::from_millis(500));
        assert_eq!(s.pace.poll_interval, Duration::from_secs(2));
        assert_eq!(
            s.roles.service_role.as_deref(),
            Some("arn:aws:iam::1:role/cfn")
        );
        assert_eq!(s.roles.allowed, ["arn:a", "arn:b", "arn:c"]);
        assert_eq!(s.staging_bucket.as_deref(), Some("staging"));
        assert_eq!(
            s.template_buckets,
            Some(vec!["t1".to_owned(), "t2".to_owned()])
        );
        assert!(s.role_policy_on());
        assert!(s.allow_unprotect);
    }

    #[test]
    fn unset_settings_keep_the_defaults() {
        let s = read(&[("CFN_DEPLOYER_STAGING_BUCKET", "  ")]).expect("valid");
        assert_eq!(s.pace, Pace::default());
        assert_eq!(s.staging_bucket, None);
        assert_eq!(s.template_buckets, None);
        assert_eq!(s.drift_check, DriftCheck::Off);
        assert!(!s.role_policy_on());
    }

    #[test]
    fn a_wrong_value_is_one_error_naming_the_variable() {
        for (name, value, says) in [
            ("CFN_DEPLOYER_POLL_INTERVAL_SECONDS", "soon", "not a number"),
            ("CFN_DEPLOYER_POLL_INTERVAL_SECONDS", "0", "more than 0"),
            ("CFN_DEPLOYER_POLL_WITHIN_SECONDS", "-1", "out of range"),
            ("CFN_DEPLOYER_POLL_WITHIN_SECONDS", "1e9", "out of range"),
            ("CFN_DEPLOYER_ALLOW_UNPROTECT", "yes", "true or false"),
            ("CFN_DEPLOYER_DRIFT_CHECK", "STRICT", "OFF, WARN or FAIL"),
        ] {
            let err = read(&[(name, value)]).expect_err(value);
            let text = err.to_string();
            assert!(text.starts_with(&format!("{name}=`{value}`")), "{text}");
            assert!(text.contains(says), "{text}");
        }
        // Zero is a setting for the poll window: hand back after the first poll.
        let s = read(&[("CFN_DEPLOYER_POLL_WITHIN_SECONDS", "0")]).expect("valid");
        assert_eq!(s.pace.poll_within, Duration::ZERO);
    }
}
