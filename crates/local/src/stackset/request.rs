//! What a stack-set call says: its form's fields (the set, the operation id, the accounts and
//! Regions it names), and who signed it.

pub(crate) use crate::query::Caller;

/// One call's form, decoded as `application/x-www-form-urlencoded`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub(crate) fn parse(form: &[u8]) -> Self {
        Self(form_urlencoded::parse(form).into_owned().collect())
    }

    /// The first value of the field `name`, when not empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// A list's members, `{prefix}.member.N`, in the order of N (a form may list them in any).
    pub(crate) fn members(&self, prefix: &str) -> Vec<String> {
        let head = format!("{prefix}.member.");
        let mut numbered: Vec<(u32, &str)> = self
            .0
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&head)?.parse().ok()?, v.as_str())))
            .collect();
        numbered.sort_by_key(|(n, _)| *n);
        let mut out: Vec<String> = Vec::with_capacity(numbered.len());
        for (_, v) in numbered {
            if !out.iter().any(|o| o == v) {
                out.push(v.to_owned());
            }
        }
        out
    }

    /// The accounts the call names: `Accounts` (self-managed), else `DeploymentTargets.Accounts`.
    pub(crate) fn accounts(&self) -> Vec<String> {
        let plain = self.members("Accounts");
        match plain.is_empty() {
            true => self.members("DeploymentTargets.Accounts"),
            false => plain,
        }
    }

    /// The Regions the call names.
    pub(crate) fn regions(&self) -> Vec<String> {
        self.members("Regions")
    }

    /// The stack set the call is about: the name, also when it gives the set's id
    /// (`name:uuid`), as CloudFormation takes either.
    pub(crate) fn stack_set(&self) -> Option<&str> {
        let name = self.get("StackSetName")?;
        Some(name.split(':').next().unwrap_or(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_read_in_member_order_and_ids_name_their_set() {
        let form = Form::parse(b"Action=CreateStackInstances&StackSetName=base%3Aabc-1&Regions.member.2=eu-west-1&Regions.member.1=us-east-1&Regions.member.3=us-east-1&DeploymentTargets.Accounts.member.1=222222222222&OperationId=");
        assert_eq!(form.stack_set(), Some("base"));
        assert_eq!(form.regions(), vec!["us-east-1", "eu-west-1"]);
        assert_eq!(form.accounts(), vec!["222222222222"]);
        assert_eq!(form.get("OperationId"), None, "empty is absent");
        let plain =
            Form::parse(b"Accounts.member.1=111111111111&DeploymentTargets.Accounts.member.1=2");
        assert_eq!(plain.accounts(), vec!["111111111111"]);
        assert_eq!(Form::parse(b"Action=X").stack_set(), None);
    }
}
