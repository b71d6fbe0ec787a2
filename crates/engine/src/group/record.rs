//! What a group run records of a stack before it updates it, so that an undo can put the
//! stack back: its template as deployed (`GetTemplate`, `TemplateStage=Original`), its
//! parameter values, capabilities and tags.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::{Stack, TemplateStage};
use serde::{Deserialize, Serialize};

use crate::error::DeployError;
use crate::plan::{Prepared, Template};
use crate::Deployer;

/// A stack as it was before the run changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// The stack's name.
    pub stack_name: String,
    /// Its template, as it was deployed (before any transform ran).
    pub template: String,
    /// Its parameter values, but for those CloudFormation will not read back.
    pub parameters: BTreeMap<String, String>,
    /// The parameters whose values CloudFormation masks (`NoEcho`): an undo keeps their values.
    pub secret: Vec<String>,
    /// The capabilities it was deployed with.
    pub capabilities: Vec<String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// Whether a parameter value is CloudFormation's mask for a `NoEcho` parameter: DescribeStacks
/// returns `****` in place of such a value, and has no other sign of it.
fn is_masked(value: &str) -> bool {
    value == "****"
}

impl Recorded {
    /// What an update needs to put the stack back; a template too large to pass inline goes
    /// by `staged`, its URL once staged.
    pub fn prepared(&self, staged: Option<String>) -> Prepared {
        Prepared {
            template: match staged {
                Some(url) => Template::Url(url),
                None => Template::Body(self.template.clone()),
            },
            parameters: self.parameters.clone(),
            tags: self.tags.clone(),
            stack_policy: None,
            resources: crate::template::resource_count(&self.template)
                .ok()
                .flatten(),
        }
    }
}

impl Deployer {
    /// Records `stack` as it is now.
    pub async fn record(&self, stack: &Stack) -> Result<Recorded, DeployError> {
        let name = stack.stack_name().unwrap_or_default();
        let id = stack.stack_id().unwrap_or(name);
        let out = self
            .cfn
            .get_template()
            .stack_name(id)
            .template_stage(TemplateStage::Original)
            .send()
            .await
            .map_err(|e| DeployError::new("GetTemplate", name, e))?;
        let mut parameters = BTreeMap::new();
        let mut secret = Vec::new();
        for p in stack.parameters() {
            let (Some(key), value) = (p.parameter_key(), p.parameter_value().unwrap_or_default())
            else {
                continue;
            };
            if is_masked(value) {
                secret.push(key.to_owned());
            } else {
                parameters.insert(key.to_owned(), value.to_owned());
            }
        }
        Ok(Recorded {
            stack_name: name.to_owned(),
            template: out.template_body.unwrap_or_default(),
            parameters,
            secret,
            capabilities: stack
                .capabilities()
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            tags: stack
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::operation::get_template::GetTemplateOutput;
    use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus, Tag};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    #[tokio::test]
    async fn a_record_keeps_the_template_as_deployed_and_leaves_masked_values_out() {
        let get = mock!(aws_sdk_cloudformation::Client::get_template)
            .match_requests(|r| r.template_stage() == Some(&TemplateStage::Original))
            .then_output(|| {
                GetTemplateOutput::builder()
                    .template_body("Resources: {}")
                    .build()
            });
        let deployer = Deployer::new(mock_client!(
            aws_sdk_cloudformation,
            RuleMode::Sequential,
            &[&get]
        ));
        let param = |k: &str, v: &str| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        };
        let stack = Stack::builder()
            .stack_name("app-data")
            .stack_id("arn:aws:cloudformation:us-east-1:111111111111:stack/app-data/1")
            .stack_status(StackStatus::UpdateComplete)
            .creation_time(aws_smithy_types::DateTime::from_secs(0))
            .parameters(param("Release", "v1"))
            .parameters(param("Token", "****"))
            .capabilities(Capability::CapabilityIam)
            .tags(Tag::builder().key("team").value("payments").build())
            .build();
        let recorded = deployer.record(&stack).await.expect("recorded");
        assert_eq!(recorded.template, "Resources: {}");
        assert_eq!(
            recorded.parameters.get("Release").map(String::as_str),
            Some("v1")
        );
        assert!(
            !recorded.parameters.contains_key("Token"),
            "a masked value is not a value"
        );
        assert_eq!(recorded.secret, ["Token"]);
        assert_eq!(recorded.capabilities, ["CAPABILITY_IAM"]);
        assert_eq!(
            recorded.tags.get("team").map(String::as_str),
            Some("payments")
        );
        // Put back without the masked parameter: CloudFormation keeps its current value.
        let prepared = recorded.prepared(None);
        assert_eq!(prepared.template, Template::Body("Resources: {}".into()));
        assert!(!prepared.parameters.contains_key("Token"));
        assert_eq!(
            recorded.prepared(Some("https://s3/x".into())).template,
            Template::Url("https://s3/x".into())
        );
    }
}
