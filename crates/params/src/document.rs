//! The shape of each front's settings, owned by serde: one document type per front, each
//! refusing keys it does not know with serde's own error, which lists the keys it does. The
//! keys every front shares are declared once, in [`document!`].

use serde::Deserialize;
use serde_json::Value;

/// Declares a front's document: its own keys, then the keys every front shares. Also
/// declares `into_shared`, which hands the shared keys on to validation.
macro_rules! document {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct $name {
            $($(#[$fmeta])* pub(crate) $field: $ty,)*
            #[serde(rename = "StackName")]
            pub(crate) stack_name: Option<String>,
            #[serde(rename = "ActionMode")]
            pub(crate) action_mode: Option<String>,
            #[serde(rename = "ChangeSetName")]
            pub(crate) change_set_name: Option<String>,
            #[serde(rename = "ChangeSetId")]
            pub(crate) change_set_id: Option<String>,
            #[serde(rename = "Capabilities")]
            pub(crate) capabilities: Option<Value>,
            #[serde(rename = "ParameterOverrides")]
            pub(crate) parameter_overrides: Option<Value>,
            #[serde(rename = "RoleArn")]
            pub(crate) role_arn: Option<String>,
            #[serde(rename = "Tags")]
            pub(crate) tags: Option<Value>,
            #[serde(rename = "TemplateConfiguration")]
            pub(crate) template_configuration: Option<String>,
            #[serde(rename = "RollbackTriggers")]
            pub(crate) rollback_triggers: Option<Value>,
            #[serde(rename = "MonitoringTimeInMinutes")]
            pub(crate) monitoring_time_in_minutes: Option<Value>,
            #[serde(rename = "TerminationProtection")]
            pub(crate) termination_protection: Option<Value>,
            #[serde(rename = "OnFailure")]
            pub(crate) on_failure: Option<String>,
            #[serde(rename = "DisableRollback")]
            pub(crate) disable_rollback: Option<Value>,
            #[serde(rename = "TimeoutInMinutes")]
            pub(crate) timeout_in_minutes: Option<Value>,
            #[serde(rename = "NotificationARNs")]
            pub(crate) notification_arns: Option<Value>,
            #[serde(rename = "DriftCheck")]
            pub(crate) drift_check: Option<String>,
            #[serde(rename = "DeploymentMode")]
            pub(crate) deployment_mode: Option<String>,
            #[serde(rename = "AssumeRoleArn")]
            pub(crate) assume_role_arn: Option<String>,
            #[serde(rename = "Region")]
            pub(crate) region: Option<String>,
        }

        impl $name {
            /// The keys every front shares, for validation.
            pub(crate) fn shared(&mut self) -> Shared {
                Shared {
                    stack_name: self.stack_name.take(),
                    action_mode: self.action_mode.take(),
                    change_set_name: self.change_set_name.take(),
                    change_set_id: self.change_set_id.take(),
                    capabilities: self.capabilities.take(),
                    parameter_overrides: self.parameter_overrides.take(),
                    role_arn: self.role_arn.take(),
                    tags: self.tags.take(),
                    template_configuration: self.template_configuration.take(),
                    rollback_triggers: self.rollback_triggers.take(),
                    monitoring_time_in_minutes: self.monitoring_time_in_minutes.take(),
                    termination_protection: self.termination_protection.take(),
                    on_failure: self.on_failure.take(),
                    disable_rollback: self.disable_rollback.take(),
                    timeout_in_minutes: self.timeout_in_minutes.take(),
                    notification_arns: self.notification_arns.take(),
                    drift_check: self.drift_check.take(),
                    deployment_mode: self.deployment_mode.take(),
                    assume_role_arn: self.assume_role_arn.take(),
                    region: self.region.take(),
                }
            }
        }
    };
}

/// The keys every front shares, as written.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) stack_name: Option<String>,
    pub(crate) action_mode: Option<String>,
    pub(crate) change_set_name: Option<String>,
    pub(crate) change_set_id: Option<String>,
    pub(crate) capabilities: Option<Value>,
    pub(crate) parameter_overrides: Option<Value>,
    pub(crate) role_arn: Option<String>,
    pub(crate) tags: Option<Value>,
    pub(crate) template_configuration: Option<String>,
    pub(crate) rollback_triggers: Option<Value>,
    pub(crate) monitoring_time_in_minutes: Option<Value>,
    pub(crate) termination_protection: Option<Value>,
    pub(crate) on_failure: Option<String>,
    pub(crate) disable_rollback: Option<Value>,
    pub(crate) timeout_in_minutes: Option<Value>,
    pub(crate) notification_arns: Option<Value>,
    pub(crate) drift_check: Option<String>,
    pub(crate) deployment_mode: Option<String>,
    pub(crate) assume_role_arn: Option<String>,
    pub(crate) region: Option<String>,
}

impl Shared {
    /// The keys that are set, by name: each is a one-stack setting that a stack group sets
    /// per stack in its manifest instead. `ActionMode` is the group's own; `DriftCheck`,
    /// `AssumeRoleArn` and `Region` are the defaults of its stacks.
    pub(crate) fn one_stack_keys(&self) -> Vec<&'static str> {
        let set = [
            ("StackName", self.stack_name.is_some()),
            ("ChangeSetName", self.change_set_name.is_some()),
            ("ChangeSetId", self.change_set_id.is_some()),
            ("Capabilities", self.capabilities.is_some()),
            ("ParameterOverrides", self.parameter_overrides.is_some()),
            ("RoleArn", self.role_arn.is_some()),
            ("Tags", self.tags.is_some()),
            (
                "TemplateConfiguration",
                self.template_configuration.is_some(),
            ),
            ("RollbackTriggers", self.rollback_triggers.is_some()),
            (
                "MonitoringTimeInMinutes",
                self.monitoring_time_in_minutes.is_some(),
            ),
            (
                "TerminationProtection",
                self.termination_protection.is_some(),
            ),
            ("OnFailure", self.on_failure.is_some()),
            ("DisableRollback", self.disable_rollback.is_some()),
            ("TimeoutInMinutes", self.timeout_in_minutes.is_some()),
            ("NotificationARNs", self.notification_arns.is_some()),
            ("DeploymentMode", self.deployment_mode.is_some()),
        ];
        set.into_iter()
            .filter(|(_, on)| *on)
            .map(|(k, _)| k)
            .collect()
    }
}

document! {
    /// A Lambda Invoke action's `UserParameters`: the AWS sample's `stack`, `artifact` and
    /// `file`, and the built-in CloudFormation action's names.
    UserParameters {
        stack: Option<String>,
        artifact: Option<String>,
        file: Option<String>,
        #[serde(rename = "TemplatePath")]
        template_path: Option<String>,
        #[serde(rename = "OutputFileName")]
        output_file_name: Option<String>,
        #[serde(rename = "StackGroup")]
        stack_group: Option<String>,
    }
}

document! {
    /// A custom action's configuration properties: the built-in action's names, every value a
    /// string.
    Configuration {
        #[serde(rename = "TemplatePath")]
        template_path: Option<String>,
        #[serde(rename = "OutputFileName")]
        output_file_name: Option<String>,
        #[serde(rename = "StackGroup")]
        stack_group: Option<String>,
    }
}

document! {
    /// A Step Functions execution's input: the built-in action's names as JSON types, with
    /// the template by S3 URL and an optional build first.
    ExecutionInput {
        #[serde(rename = "TemplateURL")]
        template_url: Option<String>,
        #[serde(rename = "Build")]
        build: Option<Value>,
        #[serde(rename = "PollIntervalSeconds")]
        poll_interval_seconds: Option<Value>,
        #[serde(rename = "StackGroupURL")]
        stack_group_url: Option<String>,
    }
}
