//! What the deploy engine's mock tests share: a stack, its events, the requests, and the engine
//! driven step by step as a front drives it.

// Each test binary includes this module and uses a part of it.
#![allow(dead_code)]

use aws_sdk_cloudformation::error::ErrorMetadata;
use aws_sdk_cloudformation::operation::create_stack::CreateStackError;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::{
    DescribeStacksError, DescribeStacksOutput,
};
use aws_sdk_cloudformation::types::{ResourceStatus, Stack, StackEvent, StackStatus};
use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use cfn_deployer_engine::{
    Action, DeployError, Deployer, InFlight, Inputs, Mode, Operation, Outcome, Plan, Prepared,
    StepError, Template,
};

pub const NAME: &str = "orders-api";
pub const ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/orders-api/6c1f";
pub const TOKEN: &str = "cfn-deployer-11111111-abcd-1111-abcd-111111abcdef";

/// A deploy as the tests write it: the plan's settings and the prepared inputs together.
#[derive(Debug, Clone, Default)]
pub struct DeployRequest {
    pub stack_name: String,
    pub template: Template,
    pub client_request_token: String,
    pub parameters: std::collections::BTreeMap<String, String>,
    pub capabilities: Vec<String>,
    pub role_arn: Option<String>,
    pub tags: std::collections::BTreeMap<String, String>,
    pub stack_policy: Option<String>,
    pub mode: Mode,
}

impl DeployRequest {
    pub fn plan(&self, action: Action) -> Plan {
        Plan {
            stack_name: self.stack_name.clone(),
            action,
            client_request_token: self.client_request_token.clone(),
            capabilities: self.capabilities.clone(),
            role_arn: self.role_arn.clone(),
            ..Plan::default()
        }
    }

    pub fn inputs(&self) -> Given {
        Given(Prepared {
            template: self.template.clone(),
            parameters: self.parameters.clone(),
            tags: self.tags.clone(),
            stack_policy: self.stack_policy.clone(),
            resources: None,
        })
    }
}

pub fn request() -> DeployRequest {
    DeployRequest {
        stack_name: NAME.into(),
        template: Template::Body("Resources: {}".into()),
        client_request_token: TOKEN.into(),
        ..DeployRequest::default()
    }
}

/// Inputs already in hand, as a front would prepare them.
pub struct Given(pub Prepared);

impl Inputs for Given {
    type Error = std::convert::Infallible;

    async fn prepare(&self, _plan: &Plan) -> Result<Prepared, Self::Error> {
        Ok(self.0.clone())
    }
}

/// The engine, driven step by step as a front drives it.
pub struct Engine(pub Deployer);

pub fn deploy_error(err: StepError<std::convert::Infallible>) -> DeployError {
    match err {
        StepError::Deploy(e) => e,
        StepError::Inputs(never) => match never {},
    }
}

impl Engine {
    /// Starts `action` for `req`.
    pub async fn begin(&self, req: &DeployRequest, action: Action) -> Result<Outcome, DeployError> {
        self.0
            .step(&req.plan(action), &req.inputs(), None)
            .await
            .map_err(deploy_error)
    }

    /// Follows `flight` one step, for `action`.
    pub async fn follow(
        &self,
        req: &DeployRequest,
        action: Action,
        flight: &InFlight,
    ) -> Result<Outcome, DeployError> {
        self.0
            .step(&req.plan(action), &req.inputs(), Some(flight))
            .await
            .map_err(deploy_error)
    }

    pub async fn start(&self, req: &DeployRequest) -> Result<Outcome, DeployError> {
        self.begin(req, Action::Deploy { mode: req.mode }).await
    }

    pub async fn poll(&self, flight: &InFlight) -> Result<Outcome, DeployError> {
        let plan = request().plan(Action::Deploy {
            mode: Mode::CreateUpdate,
        });
        self.0.poll(&plan, flight).await
    }

    pub async fn wait(&self, flight: &InFlight) -> Result<Option<Outcome>, DeployError> {
        self.0.wait(flight).await
    }

    /// A delete's next step: `None` once the stack is gone.
    pub async fn poll_delete(&self, flight: &InFlight) -> Result<Option<Outcome>, DeployError> {
        let out = self.follow(&request(), Action::Delete, flight).await?;
        Ok((!matches!(out, Outcome::Succeeded { .. })).then_some(out))
    }

    pub async fn delete(&self) -> Result<Outcome, DeployError> {
        self.begin(&request(), Action::Delete).await
    }

    pub async fn create_change_set(
        &self,
        req: &DeployRequest,
        name: &str,
    ) -> Result<Outcome, DeployError> {
        let action = Action::ChangeSetReplace {
            change_set: name.into(),
        };
        self.begin(req, action).await
    }

    pub async fn poll_change_set(&self, flight: &InFlight) -> Result<Outcome, DeployError> {
        let action = Action::ChangeSetReplace {
            change_set: flight.change_set.clone().unwrap_or_default(),
        };
        self.follow(&request(), action, flight).await
    }

    pub async fn execute_change_set(&self, name: &str) -> Result<Outcome, DeployError> {
        self.execute_reviewed(name, None).await
    }

    pub async fn execute_reviewed(
        &self,
        name: &str,
        id: Option<&str>,
    ) -> Result<Outcome, DeployError> {
        let action = Action::ChangeSetExecute {
            change_set: name.into(),
            id: id.map(str::to_owned),
        };
        self.begin(&request(), action).await
    }
}

pub fn flight(operation: Operation) -> InFlight {
    InFlight {
        stack_name: NAME.into(),
        stack_id: ID.into(),
        operation,
        client_request_token: TOKEN.into(),
        started: 0,
        change_set: None,
        resources: None,
        stalls: 0,
        monitor_until: None,
        drift: None,
    }
}

pub fn stack(status: StackStatus) -> Rule {
    described(status, None)
}

/// DescribeStacks answering the stack in `status`, with `protection` when given.
fn described(status: StackStatus, protection: Option<bool>) -> Rule {
    mock!(Client::describe_stacks).then_output(move || {
        DescribeStacksOutput::builder()
            .stacks(
                Stack::builder()
                    .stack_name(NAME)
                    .stack_id(ID)
                    .stack_status(status.clone())
                    .set_enable_termination_protection(protection)
                    .creation_time(aws_smithy_types::DateTime::from_secs(0))
                    .build(),
            )
            .build()
    })
}

pub fn no_stack() -> Rule {
    mock!(Client::describe_stacks).then_error(|| {
        DescribeStacksError::generic(
            ErrorMetadata::builder()
                .code("ValidationError")
                .message("Stack with id orders-api does not exist")
                .build(),
        )
    })
}

pub fn event(logical: &str, kind: &str, status: &str, reason: &str, token: &str) -> StackEvent {
    StackEvent::builder()
        .stack_id(ID)
        .stack_name(NAME)
        .event_id(format!("{logical}-{status}"))
        .logical_resource_id(logical)
        .resource_type(kind)
        .resource_status(ResourceStatus::from(status))
        .resource_status_reason(reason)
        .client_request_token(token)
        .timestamp(aws_smithy_types::DateTime::from_secs(
            cfn_deployer_engine::now_epoch(),
        ))
        .build()
}

pub fn events(list: Vec<StackEvent>, next: Option<&'static str>) -> Rule {
    mock!(Client::describe_stack_events).then_output(move || {
        DescribeStackEventsOutput::builder()
            .set_stack_events(Some(list.clone()))
            .set_next_token(next.map(str::to_owned))
            .build()
    })
}

/// CreateStack refused because the stack exists, built as the SDK's deserializer builds it:
/// with the error's metadata.
pub fn create_lost_to_another() -> Rule {
    mock!(Client::create_stack).then_error(|| {
        CreateStackError::AlreadyExistsException(
            aws_sdk_cloudformation::types::error::AlreadyExistsException::builder()
                .message("Stack [orders-api] already exists")
                .meta(
                    ErrorMetadata::builder()
                        .code("AlreadyExistsException")
                        .message("Stack [orders-api] already exists")
                        .build(),
                )
                .build(),
        )
    })
}

pub fn deployer(rules: &[&Rule]) -> Engine {
    Engine(Deployer::new(mock_client!(
        aws_sdk_cloudformation,
        RuleMode::Sequential,
        rules
    )))
}

/// DescribeStacks answering the stack in `status`, its termination protection on.
pub fn protected_stack(status: StackStatus) -> Rule {
    described(status, Some(true))
}
