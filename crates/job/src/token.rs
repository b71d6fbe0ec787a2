//! The continuation token: a versioned record of the operation under way, handed to CodePipeline
//! and back to the next invocation.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use cfn_deployer_engine::InFlight;

/// The token format this build writes and reads.
pub const VERSION: u64 = 1;

/// CodePipeline takes continuation tokens of at most 2,048 characters.
pub const MAX_TOKEN: usize = 2048;

#[derive(Serialize, Deserialize)]
struct Token {
    v: u64,
    #[serde(flatten)]
    flight: InFlight,
}

/// A continuation token that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token this deployer wrote.
    #[error("the continuation token is not one cfn-deployer wrote ({0}): retry the pipeline stage to start the deploy afresh")]
    Undecodable(String),
    /// Written by another version.
    #[error("the continuation token has format version {0}, but this cfn-deployer reads version {VERSION}: retry the pipeline stage to start the deploy afresh")]
    Version(String),
    /// Written for another stack.
    #[error("the continuation token follows stack `{token}`, but the action configuration names stack `{params}`: retry the pipeline stage to start the deploy afresh")]
    OtherStack {
        /// The stack in the token.
        token: String,
        /// The stack in the parameters.
        params: String,
    },
    /// Too long for CodePipeline.
    #[error(
        "the continuation token would be {0} characters, over CodePipeline's limit of {MAX_TOKEN}"
    )]
    TooLong(usize),
}

/// Encodes an operation under way as a token.
pub fn encode(flight: &InFlight) -> Result<String, TokenError> {
    let text = serde_json::to_string(&Token {
        v: VERSION,
        flight: flight.clone(),
    })
    .map_err(|e| TokenError::Undecodable(e.to_string()))?;
    let len = text.chars().count();
    if len > MAX_TOKEN {
        return Err(TokenError::TooLong(len));
    }
    Ok(text)
}

/// Decodes a token, checking it follows `stack`.
pub fn decode(text: &str, stack: &str) -> Result<InFlight, TokenError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| TokenError::Undecodable(e.to_string()))?;
    match value.get("v") {
        Some(Value::Number(n)) if n.as_u64() == Some(VERSION) => {}
        Some(other) => return Err(TokenError::Version(other.to_string())),
        None => return Err(TokenError::Undecodable("it has no version".into())),
    }
    let token: Token = serde_path_to_error::deserialize(value)
        .map_err(|e| TokenError::Undecodable(format!("field `{}`: {}", e.path(), e.inner())))?;
    if token.flight.stack_name != stack {
        return Err(TokenError::OtherStack {
            token: token.flight.stack_name,
            params: stack.to_owned(),
        });
    }
    Ok(token.flight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfn_deployer_engine::Operation;

    fn flight() -> InFlight {
        InFlight {
            stack_name: "orders-api".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/orders-api/0b1c".into(),
            operation: Operation::Update,
            client_request_token: "cfn-deployer-11111111-abcd".into(),
            started: 1_700_000_000,
            change_set: None,
            resources: None,
            stalls: 0,
            monitor_until: None,
        }
    }

    #[test]
    fn round_trips() {
        let text = encode(&flight()).expect("encodes");
        assert!(text.len() < MAX_TOKEN);
        assert_eq!(decode(&text, "orders-api"), Ok(flight()));
    }

    #[test]
    fn longest_names_fit() {
        let mut f = flight();
        f.stack_name = "a".repeat(128);
        f.stack_id = format!(
            "arn:aws-us-gov:cloudformation:us-gov-west-1:123456789012:stack/{}/{}",
            f.stack_name,
            "f".repeat(36)
        );
        f.client_request_token = "c".repeat(128);
        assert!(encode(&f).is_ok());
    }

    #[test]
    fn refuses_what_it_did_not_write() {
        let cases = [
            ("{\"previous_job_id\": \"abc\"}", "no version"),
            ("not json", "not one cfn-deployer wrote"),
            ("{\"v\": 2, \"stack_name\": \"x\"}", "format version 2"),
            ("{\"v\": 1, \"stack_name\": \"orders-api\"}", "field"),
        ];
        for (text, needle) in cases {
            let err = decode(text, "orders-api").expect_err(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn refuses_another_stacks_token() {
        let text = encode(&flight()).expect("encodes");
        let err = decode(&text, "billing").expect_err("other stack");
        assert!(matches!(err, TokenError::OtherStack { .. }));
    }
}
