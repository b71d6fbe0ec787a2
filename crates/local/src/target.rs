//! Reading a stack that lies in another account or Region: the local pipeline assumes the
//! stack's role itself, as the deployer does, so that its live view and its report find the
//! stack where it was deployed.

use aws_config::{Region, SdkConfig};
use aws_sdk_cloudformation::config::{Credentials, SharedCredentialsProvider};
use cfn_deployer_params::Target;

/// Where `target` lies, as the view names it (`222222222222 / eu-west-1`); `None` for the
/// local pipeline's own account and Region, `home_region`.
pub fn place(target: &Target, home_region: &str) -> Option<String> {
    if target.is_home() {
        return None;
    }
    let region = target.region.as_deref().unwrap_or(home_region);
    Some(match target.account() {
        Some(account) => format!("{account} / {region}"),
        None => region.to_owned(),
    })
}

/// The SDK settings to read `target`'s stacks with: `sdk` in the target's Region, with the
/// credentials of its role. When the role cannot be assumed (the deployment may not allow it
/// either), `sdk` in the target's Region: the function says why the deploy failed.
pub async fn sdk_for(sdk: &SdkConfig, target: &Target) -> SdkConfig {
    let mut builder = sdk.to_builder();
    if let Some(region) = &target.region {
        builder = builder.region(Region::new(region.clone()));
    }
    if let Some(role) = &target.assume_role_arn {
        let assumed = aws_sdk_sts::Client::new(sdk)
            .assume_role()
            .role_arn(role)
            .role_session_name("cfn-deployer-local")
            .send()
            .await;
        if let Ok(Some(given)) = assumed.map(|out| out.credentials) {
            builder =
                builder.credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                    given.access_key_id,
                    given.secret_access_key,
                    Some(given.session_token),
                    None,
                    "cfn-deployer-local",
                )));
        }
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_named_by_account_and_region() {
        let home = Target::default();
        assert_eq!(place(&home, "us-east-1"), None);
        let role = Target {
            assume_role_arn: Some("arn:aws:iam::222222222222:role/t".into()),
            region: None,
        };
        assert_eq!(
            place(&role, "us-east-1").as_deref(),
            Some("222222222222 / us-east-1")
        );
        let region = Target {
            assume_role_arn: None,
            region: Some("eu-west-1".into()),
        };
        assert_eq!(place(&region, "us-east-1").as_deref(), Some("eu-west-1"));
    }
}
