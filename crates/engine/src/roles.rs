//! Which service role CloudFormation acts with. Without a role, CloudFormation acts with the
//! deployer's own credentials; with a policy set, every operation hands it a role the
//! deployer's owner allowed, and a stack that was given any other role is left alone.

use aws_sdk_cloudformation::types::Stack;

use crate::outcome::{Failure, FailureKind};
use crate::plan::Plan;

/// The service roles the deployer may hand to CloudFormation, as its owner configured them.
/// The default (no roles) keeps CloudFormation's own behaviour: a deploy's `RoleArn` if it
/// names one, else the deployer's credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolePolicy {
    /// The role every create, update and change set passes unless the deploy names another
    /// allowed one.
    pub service_role: Option<String>,
    /// Further roles a deploy may name.
    pub allowed: Vec<String>,
}

impl RolePolicy {
    fn active(&self) -> bool {
        self.service_role.is_some() || !self.allowed.is_empty()
    }

    fn permits(&self, role: &str) -> bool {
        self.service_role.as_deref() == Some(role) || self.allowed.iter().any(|a| a == role)
    }

    /// Why `role` may not be handed to CloudFormation, worded as `{what} `role`, which …`;
    /// `None` when it may (or no policy is set). Stack sets' administration roles are refused
    /// in the same words as a stack's service role.
    pub(crate) fn refusal(&self, what: &str, role: &str) -> Option<String> {
        (self.active() && !self.permits(role)).then(|| {
            format!(
                "{what} `{role}`, which this deployer may not hand to CloudFormation; the roles it may are {}",
                self.permitted()
            )
        })
    }

    fn permitted(&self) -> String {
        let all: Vec<String> = self
            .service_role
            .iter()
            .chain(self.allowed.iter())
            .map(|r| format!("`{r}`"))
            .collect();
        all.join(", ")
    }

    /// `plan` with the role its operations pass on `stack`, or why none may be passed.
    pub(crate) fn apply(&self, plan: &Plan, stack: Option<&Stack>) -> Result<Plan, Failure> {
        if !self.active() {
            return Ok(plan.clone());
        }
        let refuse = |message: String| Failure {
            stack_id: stack.and_then(|s| s.stack_id().map(str::to_owned)),
            kind: FailureKind::Permission,
            message,
            remedies: Vec::new(),
        };
        if let Some(refused) = plan
            .role_arn
            .as_deref()
            .and_then(|asked| self.refusal("The deploy names the service role", asked))
        {
            return Err(refuse(refused));
        }
        if let Some(stored) = stack.and_then(Stack::role_arn).filter(|r| !self.permits(r)) {
            return Err(refuse(format!(
                "Stack `{}` acts with the service role `{stored}`, which this deployer may not use: CloudFormation would keep acting with it, whatever the template. The roles it may use are {}; give the stack one of them (or delete it), or have the role allowed",
                plan.stack_name,
                self.permitted()
            )));
        }
        Ok(Plan {
            role_arn: plan.role_arn.clone().or_else(|| self.service_role.clone()),
            ..plan.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: &str = "arn:aws:iam::1:role/cfn-service";
    const OTHER: &str = "arn:aws:iam::1:role/cfn-other";
    const ADMIN: &str = "arn:aws:iam::1:role/admin";

    fn stack(role: Option<&str>) -> Stack {
        Stack::builder()
            .stack_name("app")
            .stack_id("arn:aws:cloudformation:us-east-1:1:stack/app/1")
            .set_role_arn(role.map(str::to_owned))
            .build()
    }

    #[test]
    fn roles_follow_the_policy() {
        let policy = RolePolicy {
            service_role: Some(SERVICE.into()),
            allowed: vec![OTHER.into()],
        };
        let plan = |role: Option<&str>| Plan {
            stack_name: "app".into(),
            role_arn: role.map(str::to_owned),
            ..Plan::default()
        };
        let role = |p: Result<Plan, Failure>| p.map(|p| p.role_arn);
        // No role asked: the service role.
        assert_eq!(
            role(policy.apply(&plan(None), None)),
            Ok(Some(SERVICE.into()))
        );
        // An allowed role asked: that one.
        assert_eq!(
            role(policy.apply(&plan(Some(OTHER)), Some(&stack(Some(SERVICE))))),
            Ok(Some(OTHER.into()))
        );
        // A role outside the policy: refused.
        let refused = policy.apply(&plan(Some(ADMIN)), None).expect_err("admin");
        assert_eq!(refused.kind, FailureKind::Permission);
        assert!(refused.message.contains(ADMIN) && refused.message.contains(SERVICE));
        // A stack given another role earlier: refused, saying why.
        let stored = policy
            .apply(&plan(None), Some(&stack(Some(ADMIN))))
            .expect_err("stored admin");
        assert_eq!(stored.kind, FailureKind::Permission);
        assert!(
            stored.message.contains("would keep acting with it"),
            "{}",
            stored.message
        );
        // No policy: as CloudFormation does it.
        let none = RolePolicy::default();
        assert_eq!(
            role(none.apply(&plan(Some(ADMIN)), Some(&stack(Some(ADMIN))))),
            Ok(Some(ADMIN.into()))
        );
        assert_eq!(role(none.apply(&plan(None), None)), Ok(None));
    }
}
