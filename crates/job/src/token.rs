//! The continuation token: a versioned record of the operation under way, handed to CodePipeline
//! and back to the next invocation.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use cfn_deployer_engine::group::GroupState;
use cfn_deployer_engine::stackset::SetState;
use cfn_deployer_engine::InFlight;
use cfn_deployer_params::Request;
use cfn_deployer_step::Resume;

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

#[derive(Serialize, Deserialize)]
struct GroupToken {
    v: u64,
    group: GroupState,
}

#[derive(Serialize, Deserialize)]
struct SetToken {
    v: u64,
    set: SetState,
}

/// What a resume follows, for a message.
fn follows(resume: &Resume) -> String {
    match resume {
        Resume::Stack(flight) => format!("stack `{}`", flight.stack_name),
        Resume::Group(_) => "a stack group".into(),
        Resume::StackSet(_) => "a stack set".into(),
    }
}

/// Whether `state` can follow the stack set `name`: CloudFormation's stack set ids are
/// `NAME:UUID`, and a job that found no stack set has none yet.
pub(crate) fn follows_set(state: &SetState, name: &str) -> bool {
    // A set read without an id is named by its name.
    state.stack_set_id.is_empty()
        || state.stack_set_id == name
        || state
            .stack_set_id
            .split_once(':')
            .is_some_and(|(n, _)| n == name)
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
    /// A group's token for one stack's configuration, or the other way round.
    #[error("the continuation token follows {token}, but the action configuration names {params}: retry the pipeline stage to start the deploy afresh")]
    OtherRequest {
        /// What the token follows.
        token: String,
        /// What the configuration names.
        params: String,
    },
    /// Too long for CodePipeline.
    #[error(
        "the continuation token would be {0} characters, over CodePipeline's limit of {MAX_TOKEN}"
    )]
    TooLong(usize),
}

fn fitting(text: String) -> Result<String, TokenError> {
    let len = text.chars().count();
    if len > MAX_TOKEN {
        return Err(TokenError::TooLong(len));
    }
    Ok(text)
}

/// Encodes an operation under way as a token.
pub fn encode(flight: &InFlight) -> Result<String, TokenError> {
    let text = serde_json::to_string(&Token {
        v: VERSION,
        flight: flight.clone(),
    })
    .map_err(|e| TokenError::Undecodable(e.to_string()))?;
    fitting(text)
}

/// Encodes where a step left the deploy: a group's failure messages are shortened to fit.
pub fn encode_resume(resume: &Resume) -> Result<String, TokenError> {
    match resume {
        Resume::Stack(flight) => encode(flight),
        Resume::Group(state) => {
            let mut state = state.clone();
            // `{"v":1,"group":` and `}` around the state.
            state.fit(MAX_TOKEN - 16);
            let text = serde_json::to_string(&GroupToken {
                v: VERSION,
                group: state,
            })
            .map_err(|e| TokenError::Undecodable(e.to_string()))?;
            fitting(text)
        }
        Resume::StackSet(state) => {
            let text = serde_json::to_string(&SetToken {
                v: VERSION,
                set: state.clone(),
            })
            .map_err(|e| TokenError::Undecodable(e.to_string()))?;
            fitting(text)
        }
    }
}

/// Decodes a token, checking it follows `stack`.
pub fn decode(text: &str, stack: &str) -> Result<InFlight, TokenError> {
    match decode_resume(text)? {
        Resume::Stack(flight) if flight.stack_name == stack => Ok(flight),
        Resume::Stack(flight) => Err(TokenError::OtherStack {
            token: flight.stack_name,
            params: stack.to_owned(),
        }),
        other => Err(TokenError::OtherRequest {
            token: follows(&other),
            params: format!("stack `{stack}`"),
        }),
    }
}

/// Decodes a token, checking it follows what `request` asks: a stack's operation follows its
/// stack; a group's run follows a group (its manifest is checked when it is read).
pub fn decode_for(text: &str, request: &Request) -> Result<Resume, TokenError> {
    match request {
        Request::Stack(params) => decode(text, &params.stack).map(Resume::Stack),
        Request::Group(_) => match decode_resume(text)? {
            Resume::Group(state) => Ok(Resume::Group(state)),
            other => Err(TokenError::OtherRequest {
                token: follows(&other),
                params: "a stack group".into(),
            }),
        },
        Request::StackSet(set) => match decode_resume(text)? {
            Resume::StackSet(state) if follows_set(&state, &set.plan.name) => {
                Ok(Resume::StackSet(state))
            }
            Resume::StackSet(state) => Err(TokenError::OtherRequest {
                token: format!("stack set `{}`", state.stack_set_id),
                params: format!("stack set `{}`", set.plan.name),
            }),
            other => Err(TokenError::OtherRequest {
                token: follows(&other),
                params: "a stack set".into(),
            }),
        },
    }
}

fn decode_resume(text: &str) -> Result<Resume, TokenError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| TokenError::Undecodable(e.to_string()))?;
    match value.get("v") {
        Some(Value::Number(n)) if n.as_u64() == Some(VERSION) => {}
        Some(other) => return Err(TokenError::Version(other.to_string())),
        None => return Err(TokenError::Undecodable("it has no version".into())),
    }
    let undecodable = |e: serde_path_to_error::Error<serde_json::Error>| {
        TokenError::Undecodable(format!("field `{}`: {}", e.path(), e.inner()))
    };
    if value.get("set").is_some() {
        let token: SetToken = serde_path_to_error::deserialize(value).map_err(undecodable)?;
        return Ok(Resume::StackSet(token.set));
    }
    if value.get("group").is_some() {
        let token: GroupToken = serde_path_to_error::deserialize(value).map_err(undecodable)?;
        return Ok(Resume::Group(token.group));
    }
    let token: Token = serde_path_to_error::deserialize(value).map_err(undecodable)?;
    Ok(Resume::Stack(token.flight))
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
            drift: None,
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
        // A drift check under way, with the longest reason a verdict keeps.
        f.drift = Some(cfn_deployer_engine::drift::Drift {
            detection: Some("b78ac9b0-dec1-11e7-a451-503a3example".into()),
            verdict: Some(cfn_deployer_engine::drift::DriftVerdict {
                status: cfn_deployer_engine::drift::DriftStatus::Unknown,
                drifted: 0,
                reason: Some("r".repeat(300)),
            }),
        });
        let text = encode(&f).expect("a drift check fits");
        assert_eq!(decode(&text, &f.stack_name), Ok(f));
    }

    #[test]
    fn a_stack_set_job_travels_whole_and_follows_its_own_set_only() {
        use cfn_deployer_engine::stackset::Phase;
        let state = SetState {
            stack_set_id: format!("{}:{}", "s".repeat(128), "f".repeat(36)),
            phase: Phase::Add,
            operation_id: Some("o".repeat(128)),
            blocked_by: Some("b".repeat(128)),
            next: vec![Phase::Override],
            last_operation: Some("l".repeat(128)),
        };
        let text = encode_resume(&Resume::StackSet(state.clone())).expect("fits");
        assert!(text.chars().count() <= MAX_TOKEN);
        let set = |name: &str| {
            Request::from_user_parameters(Some(&format!(
                r#"{{"StackSetName": "{name}", "DeploymentTargets": "111111111111", "Regions": "eu-west-1"}}"#
            )))
            .expect("a stack set")
        };
        assert_eq!(
            decode_for(&text, &set(&"s".repeat(128))),
            Ok(Resume::StackSet(state.clone()))
        );
        let other = decode_for(&text, &set("other")).expect_err("another set");
        assert!(other.to_string().contains("stack set `other`"), "{other}");
        let stack = decode(&text, "orders-api").expect_err("a stack's configuration");
        assert!(stack.to_string().contains("follows a stack set"), "{stack}");
        // A set CloudFormation gave no id is named by its name, and followed by it.
        let named = SetState {
            stack_set_id: "other".into(),
            ..state.clone()
        };
        let text = encode_resume(&Resume::StackSet(named.clone())).expect("fits");
        assert_eq!(
            decode_for(&text, &set("other")),
            Ok(Resume::StackSet(named))
        );
        assert!(decode_for(&text, &set("another")).is_err());
        let flight = encode(&flight()).expect("fits");
        let wrong = decode_for(&flight, &set("other")).expect_err("a stack's token");
        assert!(wrong.to_string().contains("names a stack set"), "{wrong}");
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
    fn a_fifty_stack_group_with_ten_under_way_fits_with_its_failures_shortened() {
        use cfn_deployer_engine::group::{Change, Leg, Member, Phase};
        let mut state = GroupState::new(
            "22222222-abcd-2222-abcd-222222abcdef",
            "0123456789abcdef",
            Phase::Deploy,
            50,
            1_700_000_000,
        );
        for (i, member) in state.members.iter_mut().enumerate().take(10) {
            *member = Member::Running(
                Change::Updated,
                Leg {
                    operation: Operation::Update,
                    stack_id: format!(
                        "arn:aws-us-gov:cloudformation:us-gov-west-1:123456789012:stack/{}{i:02}/{}",
                        "s".repeat(62),
                        "f".repeat(36)
                    ),
                    started: 1_700_000_000,
                    stalls: 2,
                    resources: Some(500),
                    drift: None,
                },
            );
        }
        state.failures.push((11, "x".repeat(3000)));
        state.compact();
        let text = encode_resume(&Resume::Group(state.clone())).expect("fits");
        assert!(text.chars().count() <= MAX_TOKEN, "{}", text.len());
        let Resume::Group(back) = decode_resume(&text).expect("decodes") else {
            panic!("a group")
        };
        assert_eq!(back.members, state.members);
        assert!(back.failures[0].1.ends_with("..."));
        let Member::Running(_, leg) = &back.members[3] else {
            panic!("running")
        };
        let name = format!("{}03", "s".repeat(62));
        assert_eq!(
            back.stack_id(leg, &name),
            format!(
                "arn:aws-us-gov:cloudformation:us-gov-west-1:123456789012:stack/{name}/{}",
                "f".repeat(36)
            )
        );
    }

    #[test]
    fn refuses_another_stacks_token() {
        let text = encode(&flight()).expect("encodes");
        let err = decode(&text, "billing").expect_err("other stack");
        assert!(matches!(err, TokenError::OtherStack { .. }));
    }
}
