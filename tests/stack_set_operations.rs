//! Stack-set operations that take time, fail and collide, on moto: moto's finish at once and
//! never fail nor collide, so the local proxy plays them (`--stack-set-fail`,
//! `--stack-set-busy`). First the proxy alone, read by the real SDK (the API Reference's shapes,
//! the error codes, the ids); then the real binaries: an instance failing fails the job naming
//! it, another operation in the way is waited out, and a duplicate delivery starts each
//! operation once.

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{
    StackSetOperationResultStatus as ResultStatus, StackSetOperationStatus as Status,
};
use cfn_deployer_local::drift::DriftTable;
use cfn_deployer_local::proxy::Proxy;
use cfn_deployer_local::stackset::StackSetPlay;
use cfn_deployer_testkit as common;
use cfn_deployer_testkit::moto_or_skip;
use cfn_deployer_testkit::SET_TEMPLATE as TEMPLATE;

use common::{project, run_local, unique};

/// Why the instance in 222222222222 / eu-west-1 fails: quotes, `&` and `<>` travel escaped.
const REASON: &str = "Account 222222222222 should have 'AWSCloudFormationStackSetExecutionRole' role with trust relationship to Role 'AWSCloudFormationStackSetAdministrationRole' & <no> other";

const ONE: &str = "111111111111";
const TWO: &str = "222222222222";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// `UserParameters` deploying `name` at `release` to two accounts × two Regions.
fn deploy(name: &str, release: &str) -> String {
    format!(
        r#"{{"StackSetName": "{name}", "TemplatePath": "BuildOutput::template.yaml", "Parameters": "ParameterKey=Release,ParameterValue={release}", "DeploymentTargets": "{ONE},{TWO}", "Regions": "us-east-1,eu-west-1"}}"#
    )
}

/// What moto itself holds of the set `name`: how many live sets have the name, and its
/// operations as `(id, action)`.
async fn moto_record(endpoint: &str, name: &str) -> (usize, Vec<(String, String)>) {
    let cfn = common::cloudformation(endpoint).await;
    let sets = cfn.list_stack_sets().send().await.expect("listed");
    let live = sets
        .summaries()
        .iter()
        .filter(|s| s.stack_set_name() == Some(name))
        .filter(|s| s.status().map(|st| st.as_str()) == Some("ACTIVE"))
        .count();
    let Ok(ops) = cfn
        .list_stack_set_operations()
        .stack_set_name(name)
        .send()
        .await
    else {
        return (live, Vec::new());
    };
    let ops = ops
        .summaries()
        .iter()
        .map(|o| {
            let id = o.operation_id().unwrap_or_default().to_owned();
            let action = o
                .action()
                .map(|a| a.as_str().to_owned())
                .unwrap_or_default();
            (id, action)
        })
        .collect();
    (live, ops)
}

fn code<E: ProvideErrorMetadata>(result: Result<impl std::fmt::Debug, E>) -> Option<String> {
    result.err().and_then(|e| e.code().map(str::to_owned))
}

#[test]
fn the_proxy_plays_ids_time_failures_and_collisions_in_shapes_the_sdk_reads() {
    let moto = moto_or_skip!();
    let name = unique("played");
    runtime().block_on(async {
        let play = StackSetPlay {
            failures: vec![format!("{TWO}/eu-west-1={REASON}").parse().expect("spec")],
            busy: Some("2".parse().expect("looks")),
        };
        let proxy = Proxy::start_with(&moto.endpoint, Vec::new(), DriftTable::default(), play, 0)
            .await
            .expect("proxy");
        let cfn = common::cloudformation(&proxy.url()).await;
        let create = || {
            cfn.create_stack_set()
                .stack_set_name(&name)
                .template_body(TEMPLATE)
                .parameters(
                    aws_sdk_cloudformation::types::Parameter::builder()
                        .parameter_key("Release")
                        .parameter_value("v1")
                        .build(),
                )
        };
        // CreateStackSet: the same token answers the same set; another is refused.
        let id = create().client_request_token("tok").send().await.expect("created");
        let again = create().client_request_token("tok").send().await.expect("again");
        assert_eq!(id.stack_set_id(), again.stack_set_id());
        let other = create().client_request_token("else").send().await;
        assert_eq!(code(other).as_deref(), Some("NameAlreadyExistsException"));
        assert_eq!(moto_record(&moto.endpoint, &name).await.0, 1);

        let add = || {
            cfn.create_stack_instances()
                .stack_set_name(&name)
                .accounts(ONE)
                .accounts(TWO)
                .regions("us-east-1")
                .regions("eu-west-1")
                .operation_id("op-add")
        };
        // The first mutating call finds another operation running, until looked at twice.
        let blocked = add().send().await.expect_err("blocked");
        let service = blocked.as_service_error().expect("a service error");
        assert!(service.is_operation_in_progress_exception(), "{service:?}");
        let listed = cfn.list_stack_set_operations().stack_set_name(&name).send().await.expect("listed");
        let running = &listed.summaries()[0];
        let other_id = running.operation_id().expect("id").to_owned();
        assert_eq!(other_id, "cfn-deployer-local-other-1");
        assert_eq!(running.status(), Some(&Status::Running));
        let look = || cfn.describe_stack_set_operation().stack_set_name(&name);
        let first = look().operation_id(&other_id).send().await.expect("described");
        assert_eq!(first.stack_set_operation().and_then(|o| o.status()), Some(&Status::Running));
        assert!(add().send().await.is_err(), "still in the way");
        let second = look().operation_id(&other_id).send().await.expect("described");
        let second = second.stack_set_operation().expect("operation");
        assert_eq!(second.status(), Some(&Status::Succeeded));
        assert!(second.end_timestamp().is_some());

        // Now it starts, under the caller's id, and that id is taken.
        let started = add().send().await.expect("started");
        assert_eq!(started.operation_id(), Some("op-add"));
        let taken = add().send().await.expect_err("taken");
        let service = taken.as_service_error().expect("a service error");
        assert!(service.is_operation_id_already_exists_exception(), "{service:?}");

        let results = || {
            cfn.list_stack_set_operation_results()
                .stack_set_name(&name)
                .operation_id("op-add")
        };
        let running = look().operation_id("op-add").send().await.expect("described");
        let running = running.stack_set_operation().expect("operation");
        assert_eq!(running.status(), Some(&Status::Running));
        assert_eq!((running.end_timestamp(), running.stack_set_id()), (None, id.stack_set_id()));
        let rows = results().send().await.expect("results");
        assert_eq!(rows.summaries().len(), 4);
        assert!(rows.summaries().iter().all(|r| r.status() == Some(&ResultStatus::Running)));

        let over = look().operation_id("op-add").send().await.expect("described");
        let over = over.stack_set_operation().expect("operation");
        assert_eq!(over.status(), Some(&Status::Failed));
        assert!(over.end_timestamp().is_some());
        assert_eq!(over.status_details().and_then(|d| d.failed_stack_instances_count()), Some(1));
        assert!(over.status_reason().is_some_and(|r| r.contains("eu-west-1")));
        let page = results().max_results(3).send().await.expect("results");
        assert_eq!(page.summaries().len(), 3);
        let rest = results().next_token(page.next_token().expect("a next page")).send().await.expect("results");
        let all: Vec<(String, String, String, Option<String>)> = page
            .summaries()
            .iter()
            .chain(rest.summaries())
            .map(|r| {
                (
                    r.account().unwrap_or_default().to_owned(),
                    r.region().unwrap_or_default().to_owned(),
                    r.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    r.status_reason().map(str::to_owned),
                )
            })
            .collect();
        let row = |a: &str, r: &str, reason: Option<&str>| {
            let status = if reason.is_some() { "FAILED" } else { "SUCCEEDED" };
            (a.to_owned(), r.to_owned(), status.to_owned(), reason.map(str::to_owned))
        };
        assert_eq!(
            all,
            vec![
                row(ONE, "us-east-1", None),
                row(ONE, "eu-west-1", None),
                row(TWO, "us-east-1", None),
                row(TWO, "eu-west-1", Some(REASON)),
            ]
        );
        let ends = proxy.stats().stack_set_ends().all();
        assert_eq!(ends.len(), 1, "{ends:?}");
        assert_eq!(
            ends[0].lines(),
            vec![
                format!("stack set {name} create: {ONE} us-east-1 SUCCEEDED, eu-west-1 SUCCEEDED"),
                format!("stack set {name} create: {TWO} us-east-1 SUCCEEDED, eu-west-1 FAILED ({REASON})"),
            ]
        );

        // An update naming no account reaches every instance moto has; moto keeps its id.
        let update = cfn
            .update_stack_set()
            .stack_set_name(&name)
            .use_previous_template(true)
            .operation_id("op-update")
            .send()
            .await
            .expect("updated");
        assert_eq!(update.operation_id(), Some("op-update"));
        look().operation_id("op-update").send().await.expect("described");
        let done = look().operation_id("op-update").send().await.expect("described");
        assert_eq!(done.stack_set_operation().and_then(|o| o.status()), Some(&Status::Failed));
        let rows = cfn.list_stack_set_operation_results().stack_set_name(&name).operation_id("op-update").send().await.expect("results");
        assert_eq!(rows.summaries().len(), 4);

        // An operation the proxy did not start is moto's to answer.
        assert!(look().operation_id("unknown").send().await.is_err());
    });
}

#[test]
fn an_instance_that_fails_fails_the_job_naming_it() {
    let moto = moto_or_skip!();
    let name = unique("failing");
    let dir = project(TEMPLATE, &[]);
    let path = dir.path().to_str().expect("path");
    let fail = format!("{TWO}/eu-west-1={REASON}");
    let run = run_local(
        moto,
        &[
            path,
            "--user-parameters",
            &deploy(&name, "v1"),
            "--stack-set-fail",
            &fail,
        ],
    );
    run.assert_failed("JobFailed", &format!("{TWO} / eu-west-1 FAILED: {REASON}"));
    let verdict = run.verdict().unwrap_or_default();
    assert!(
        !verdict.contains(&format!("{ONE} / us-east-1 FAILED")),
        "{verdict}"
    );
    assert!(
        run.calls("CloudFormation:DescribeStackSetOperation") >= 2,
        "{}",
        run.output
    );
    // The live view groups the instances by account.
    assert!(
        run.output.contains(&format!(
            "stack set {name} create: {TWO} us-east-1 SUCCEEDED, eu-west-1 FAILED ({REASON})"
        )),
        "{}",
        run.output
    );
}

#[test]
fn another_operation_in_the_way_is_waited_out() {
    let moto = moto_or_skip!();
    let name = unique("busy");
    let dir = project(TEMPLATE, &[]);
    let path = dir.path().to_str().expect("path");
    let run = run_local(
        moto,
        &[
            path,
            "--user-parameters",
            &deploy(&name, "v1"),
            "--stack-set-busy",
            "2",
        ],
    );
    run.assert_succeeded();
    assert!(
        run.output.contains("cfn-deployer-local-other-1"),
        "{}",
        run.output
    );
    assert!(
        run.calls("CloudFormation:DescribeStackSetOperation") >= 3,
        "{}",
        run.output
    );
    assert!(
        run.calls("CloudFormation:ListStackSetOperations") >= 1,
        "{}",
        run.output
    );
    assert!(
        run.calls("CloudFormation:CreateStackInstances") >= 2,
        "{}",
        run.output
    );
    let operation = run.output_variable("OperationId").unwrap_or_default();
    assert!(
        !operation.is_empty() && !operation.starts_with("cfn-deployer-local-other"),
        "{}",
        run.output
    );
    assert!(
        run.output.contains(&format!(
            "stack set {name} create: {ONE} us-east-1 SUCCEEDED, eu-west-1 SUCCEEDED"
        )),
        "{}",
        run.output
    );
}

#[test]
fn a_duplicate_delivery_starts_each_operation_once() {
    let moto = moto_or_skip!();
    let name = unique("twice");
    let dir = project(TEMPLATE, &[]);
    let path = dir.path().to_str().expect("path");

    let created = run_local(
        moto,
        &[
            path,
            "--user-parameters",
            &deploy(&name, "v1"),
            "--duplicate",
        ],
    );
    created.assert_succeeded();
    let (live, ops) = runtime().block_on(moto_record(&moto.endpoint, &name));
    assert_eq!(live, 1, "one stack set of the name: {}", created.output);
    let creates = ops.iter().filter(|(_, action)| action == "CREATE").count();
    assert_eq!(creates, 1, "{ops:?}\n{}", created.output);

    let updated = run_local(
        moto,
        &[
            path,
            "--user-parameters",
            &deploy(&name, "v2"),
            "--duplicate",
        ],
    );
    updated.assert_succeeded();
    let id = updated
        .output_variable("OperationId")
        .expect("an operation id");
    let (live, ops) = runtime().block_on(moto_record(&moto.endpoint, &name));
    assert_eq!(live, 1);
    // moto keeps an update's id: the job's update ran once.
    assert_eq!(
        ops.iter().filter(|(op, _)| *op == id).count(),
        1,
        "{ops:?}\n{}",
        updated.output
    );
    assert_eq!(
        ops.iter().filter(|(_, action)| action == "CREATE").count(),
        1,
        "{ops:?}"
    );
}
