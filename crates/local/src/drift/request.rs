//! What a drift call says: its form's fields, and who signed it.

pub(crate) use crate::query::Caller;

/// The form's fields, decoded as `application/x-www-form-urlencoded`.
pub(crate) fn fields(form: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(form).into_owned().collect()
}

/// The first value of the field `name`.
pub(crate) fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_decoded() {
        let form = b"Action=DescribeStackResourceDrifts&StackName=arn%3Aaws%3Acloudformation%3Aus-east-1%3A1%3Astack%2Fa%2Fb&StackResourceDriftStatusFilters.member.1=MODIFIED&X=a+b%zz";
        let f = fields(form);
        assert_eq!(
            field(&f, "StackName"),
            Some("arn:aws:cloudformation:us-east-1:1:stack/a/b")
        );
        assert_eq!(
            field(&f, "StackResourceDriftStatusFilters.member.1"),
            Some("MODIFIED")
        );
        assert_eq!(field(&f, "X"), Some("a b%zz"));
    }
}
