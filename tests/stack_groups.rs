//! Stack groups on moto, through the real binaries: a group deployed in dependency order with
//! outputs feeding parameters; a stack failed in the middle by the proxy's fault injection,
//! and the whole group put back; a group deleted; a broken manifest refused before any call.

use cfn_deployer_testkit as common;
use cfn_deployer_testkit::moto_or_skip;

use common::{project, run_local, run_sfn, run_worker, unique, write, Moto};

/// One template for every stack: a marker holding its release and what it read upstream.
const STACK: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Release:
    Type: String
  Upstream:
    Type: String
    Default: none
Resources:
  Marker:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "/${AWS::StackName}/marker"
      Type: String
      Value: !Sub "${Release}+${Upstream}"
Outputs:
  Release:
    Value: !Ref Release
  Marker:
    Value: !Sub "${Release}+${Upstream}"
"#;

/// A stack of the manifest: `id`, its name, its release, and what it reads.
fn entry(id: &str, name: &str, release: &str, upstream: Option<&str>, extra: &str) -> String {
    // Always given: moto's UpdateStack cannot keep a parameter that took its default.
    let reads = upstream
        .map(|u| format!("\n      Upstream: {{Output: {u}.Marker}}"))
        .unwrap_or_else(|| "\n      Upstream: none".into());
    format!("  {id}:\n    StackName: {name}\n    TemplatePath: stacks/stack.yaml\n    Parameters:\n      Release: {release}{reads}\n{extra}")
}

fn group(stacks: &[String]) -> String {
    format!("MaxConcurrency: 2\nStacks:\n{}", stacks.concat())
}

async fn parameter(moto: &Moto, stack: &str, key: &str) -> Option<String> {
    let cfn = common::cloudformation(&moto.endpoint).await;
    let out = cfn.describe_stacks().stack_name(stack).send().await.ok()?;
    let stack = out.stacks()[0].clone();
    if stack.stack_status().map(|s| s.as_str()) == Some("DELETE_COMPLETE") {
        return None;
    }
    stack
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some(key))
        .and_then(|p| p.parameter_value().map(str::to_owned))
}

/// Deploys the group `group.yaml` in the folder `dir` as a Lambda Invoke action, with `extra`
/// arguments for the local pipeline.
fn deploy(moto: &Moto, dir: &std::path::Path, extra: &[&str]) -> common::Run {
    let mut args = vec![
        dir.to_str().expect("a UTF-8 path"),
        "--user-parameters",
        r#"{"StackGroup": "BuildOutput::group.yaml"}"#,
    ];
    args.extend_from_slice(extra);
    run_local(moto, &args)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

#[test]
fn a_group_deploys_in_order_and_a_failure_in_the_middle_puts_it_all_back() {
    let moto = moto_or_skip!();
    let prefix = unique("grp");
    let name = |id: &str| format!("{prefix}-{id}");
    let v1 = group(&[
        entry("network", &name("network"), "v1", None, ""),
        entry("data", &name("data"), "v1", Some("network"), ""),
        entry("api", &name("api"), "v1", Some("data"), ""),
    ]);
    let dir = project(
        "",
        &[
            ("stacks/stack.yaml", STACK.as_bytes()),
            ("group.yaml", v1.as_bytes()),
        ],
    );
    let path = dir.path().to_str().expect("utf-8 path");
    let params = r#"{"StackGroup": "BuildOutput::group.yaml", "OutputFileName": "group.json"}"#;

    let first = run_local(moto, &[path, "--user-parameters", params]);
    first.assert_succeeded();
    for (key, value) in [
        ("network_Marker", "v1+none".to_owned()),
        ("data_Marker", "v1+v1+none".to_owned()),
        ("api_Marker", "v1+v1+v1+none".to_owned()),
    ] {
        assert!(
            first.has_output_variable(key, &value),
            "{key}: {}",
            first.output
        );
    }
    assert!(
        first
            .output
            .contains("api CREATED, data CREATED, network CREATED"),
        "{}",
        first.output
    );
    assert!(
        first.output.contains("\"Result\": \"CREATED\""),
        "the output file: {}",
        first.output
    );
    // Dependencies first: api waited for data, which waited for network.
    assert!(
        first.output.contains("api waiting for data"),
        "{}",
        first.output
    );

    // The release: network and data updated, cache created, and api's update refused.
    let v2 = group(&[
        entry("network", &name("network"), "v2", None, ""),
        entry("data", &name("data"), "v2", Some("network"), ""),
        entry("cache", &name("cache"), "v2", Some("network"), ""),
        entry(
            "api",
            &name("api"),
            "v2",
            Some("data"),
            "    DependsOn: [cache]\n",
        ),
    ]);
    write(dir.path(), "group.yaml", v2.as_bytes());
    let fault = format!("UpdateStack@{}:400", name("api"));
    let failed = run_local(
        moto,
        &[path, "--user-parameters", params, "--fault", &fault],
    );
    failed.assert_failed(
        "JobFailed",
        &format!("Stack `api` ({}) failed", name("api")),
    );
    for part in [
        "Injected fault",
        "api FAILED",
        "cache DELETED",
        "data ROLLED_BACK",
        "network ROLLED_BACK",
        "The group was undone",
    ] {
        assert!(failed.output.contains(part), "{part}: {}", failed.output);
    }
    let rt = runtime();
    for id in ["network", "data"] {
        assert_eq!(
            rt.block_on(parameter(moto, &name(id), "Release"))
                .as_deref(),
            Some("v1"),
            "{id} is back"
        );
    }
    assert_eq!(
        rt.block_on(parameter(moto, &name("cache"), "Release")),
        None,
        "cache is gone"
    );
    let template = rt.block_on(async {
        let cfn = common::cloudformation(&moto.endpoint).await;
        cfn.get_template()
            .stack_name(name("network"))
            .send()
            .await
            .expect("template")
            .template_body
    });
    assert_eq!(
        template.as_deref(),
        Some(STACK),
        "network's template is back"
    );

    // The group deleted, dependents first.
    let delete = r#"{"StackGroup": "BuildOutput::group.yaml", "ActionMode": "DELETE_ONLY"}"#;
    let deleted = run_local(moto, &[path, "--user-parameters", delete]);
    deleted.assert_succeeded();
    assert!(
        deleted.output.contains("4 of 4 stacks deleted"),
        "{}",
        deleted.output
    );
    for id in ["network", "data", "api", "cache"] {
        assert_eq!(
            rt.block_on(parameter(moto, &name(id), "Release")),
            None,
            "{id} deleted"
        );
    }
}

#[test]
fn a_broken_manifest_fails_before_any_cloudformation_call() {
    let moto = moto_or_skip!();
    let prefix = unique("bad");
    let cycle = format!(
        "Stacks:\n  api:\n    StackName: {prefix}-api\n    TemplatePath: stack.yaml\n    DependsOn: [data]\n  data:\n    StackName: {prefix}-data\n    TemplatePath: stack.yaml\n    Parameters: {{Upstream: {{Output: api.Marker}}}}\n"
    );
    let missing =
        format!("Stacks:\n  api:\n    StackName: {prefix}-api\n    TemplatePath: nowhere.yaml\n");
    for (manifest, want) in [
        (cycle, "api → data → api"),
        (missing, "stack `api` of the group"),
    ] {
        let dir = project(
            "",
            &[
                ("stack.yaml", STACK.as_bytes()),
                ("group.yaml", manifest.as_bytes()),
            ],
        );
        let run = deploy(moto, dir.path(), &[]);
        run.assert_failed("ConfigurationError", want);
        let calls = run
            .output
            .lines()
            .find(|l| l.starts_with("AWS calls by the function"))
            .unwrap_or_default();
        assert!(
            !calls.contains("CloudFormation"),
            "no CloudFormation call: {calls}"
        );
    }
    let dir = project("", &[("stack.yaml", STACK.as_bytes())]);
    let run = run_local(
        moto,
        &[
            dir.path().to_str().expect("path"),
            "--user-parameters",
            r#"{"StackGroup": "BuildOutput::nope.yaml"}"#,
        ],
    );
    run.assert_failed(
        "ConfigurationError",
        "the stack group manifest cannot be read",
    );
    assert!(run.output.contains("nope.yaml"), "{}", run.output);
}

#[test]
fn the_worker_and_the_state_machine_deploy_groups_too() {
    let moto = moto_or_skip!();
    let prefix = unique("fronts");
    let manifest = |front: &str| {
        group(&[
            entry("base", &format!("{prefix}-{front}-base"), "w1", None, ""),
            entry(
                "app",
                &format!("{prefix}-{front}-app"),
                "w1",
                Some("base"),
                "",
            ),
        ])
    };
    let dir = project(
        "",
        &[
            ("stacks/stack.yaml", STACK.as_bytes()),
            ("group.yaml", manifest("worker").as_bytes()),
        ],
    );
    let path = dir.path().to_str().expect("path");
    let worker = run_worker(
        moto,
        &[
            path,
            "--provider",
            "CfnDeployerGroup",
            "--configuration",
            "StackGroup=BuildOutput::group.yaml",
        ],
        &[],
    );
    worker.assert_succeeded();
    assert!(
        worker.has_output_variable("app_Marker", "w1+w1+none"),
        "{}",
        worker.output
    );

    write(dir.path(), "group.yaml", manifest("sfn").as_bytes());
    let sfn = run_sfn(
        moto,
        &[path, "--input", r#"{"StackGroupURL": "group.yaml"}"#],
    );
    sfn.assert_succeeded();
    assert!(
        sfn.output.contains("app CREATED, base CREATED"),
        "{}",
        sfn.output
    );
}

#[test]
fn stop_leaves_a_failed_group_as_it_is_and_an_undo_leaves_protected_stacks_in_place() {
    let moto = moto_or_skip!();
    let prefix = unique("stop");
    let name = |id: &str| format!("{prefix}-{id}");
    let manifest = |release: &str| {
        let stacks = [
            entry("network", &name("network"), release, None, ""),
            entry("api", &name("api"), release, Some("network"), ""),
        ];
        format!("OnStackFailure: STOP\n{}", group(&stacks))
    };
    let dir = project(
        "",
        &[
            ("stacks/stack.yaml", STACK.as_bytes()),
            ("group.yaml", manifest("v1").as_bytes()),
        ],
    );
    let path = dir.path().to_str().expect("path");
    let params = r#"{"StackGroup": "BuildOutput::group.yaml"}"#;
    run_local(moto, &[path, "--user-parameters", params]).assert_succeeded();

    write(dir.path(), "group.yaml", manifest("v2").as_bytes());
    let fault = format!("UpdateStack@{}:400", name("api"));
    let stopped = run_local(
        moto,
        &[path, "--user-parameters", params, "--fault", &fault],
    );
    stopped.assert_failed("JobFailed", "OnStackFailure is STOP: nothing was undone");
    assert!(
        stopped.output.contains("api FAILED, network UPDATED"),
        "{}",
        stopped.output
    );
    let rt = runtime();
    assert_eq!(
        rt.block_on(parameter(moto, &name("network"), "Release"))
            .as_deref(),
        Some("v2")
    );

    // A new, protected stack that api waits for: created by the run, it cannot be deleted.
    let with_guard = format!(
        "OnStackFailure: ROLLBACK_GROUP\n{}",
        group(&[
            entry("network", &name("network"), "v3", None, ""),
            entry(
                "guard",
                &name("guard"),
                "v3",
                Some("network"),
                "    TerminationProtection: true\n"
            ),
            entry(
                "api",
                &name("api"),
                "v3",
                Some("network"),
                "    DependsOn: [guard]\n"
            ),
        ])
    );
    write(dir.path(), "group.yaml", with_guard.as_bytes());
    let undone = run_local(
        moto,
        &[path, "--user-parameters", params, "--fault", &fault],
    );
    undone.assert_failed(
        "JobFailed",
        "has termination protection, so it is left in place",
    );
    for part in ["guard LEFT", "network ROLLED_BACK", "api FAILED"] {
        assert!(undone.output.contains(part), "{part}: {}", undone.output);
    }
    assert_eq!(
        rt.block_on(parameter(moto, &name("network"), "Release"))
            .as_deref(),
        Some("v2"),
        "back to what it was"
    );
    assert_eq!(
        rt.block_on(parameter(moto, &name("guard"), "Release"))
            .as_deref(),
        Some("v3"),
        "left in place"
    );
}

#[test]
fn a_missing_output_fails_its_stack_and_rollback_needs_a_staging_bucket() {
    let moto = moto_or_skip!();
    let prefix = unique("refs");
    let manifest = format!(
        "Stacks:\n{}  app:\n    StackName: {prefix}-app\n    TemplatePath: stack.yaml\n    Parameters:\n      Release: r1\n      Upstream: {{Output: base.NoSuchOutput}}\n",
        entry("base", &format!("{prefix}-base"), "r1", None, "").replace("stacks/stack.yaml", "stack.yaml")
    );
    let dir = project(
        "",
        &[
            ("stack.yaml", STACK.as_bytes()),
            ("group.yaml", manifest.as_bytes()),
        ],
    );
    let path = dir.path().to_str().expect("path");
    let params = r#"{"StackGroup": "BuildOutput::group.yaml"}"#;

    // Without a staging bucket there is nowhere to record the stacks: refused before any call.
    let refused = run_local(
        moto,
        &[path, "--user-parameters", params, "--staging-bucket", ""],
    );
    refused.assert_failed("ConfigurationError", "set CFN_DEPLOYER_STAGING_BUCKET");
    assert!(
        refused.output.contains("or set OnStackFailure: STOP"),
        "{}",
        refused.output
    );

    let run = run_local(moto, &[path, "--user-parameters", params]);
    run.assert_failed(
        "JobFailed",
        "parameter `Upstream` reads {Output: base.NoSuchOutput}",
    );
    let named = format!("stack `{prefix}-base` has no output `NoSuchOutput`");
    for part in [
        named.as_str(),
        "(its outputs: Marker, Release)",
        "base DELETED",
    ] {
        assert!(run.output.contains(part), "{part}: {}", run.output);
    }
}

#[test]
fn throttling_and_transient_faults_in_a_group_are_waited_out() {
    let moto = moto_or_skip!();
    let prefix = unique("flaky");
    let manifest = group(&[
        entry("base", &format!("{prefix}-base"), "t1", None, ""),
        entry("app", &format!("{prefix}-app"), "t1", Some("base"), ""),
    ]);
    let dir = project(
        "",
        &[
            ("stacks/stack.yaml", STACK.as_bytes()),
            ("group.yaml", manifest.as_bytes()),
        ],
    );
    let run = deploy(
        moto,
        dir.path(),
        &[
            "--fault",
            "CreateStack:throttle:2",
            "--fault",
            "DescribeStacks:503:2",
        ],
    );
    run.assert_succeeded();
    assert!(
        run.output.contains("app CREATED, base CREATED"),
        "{}",
        run.output
    );
    assert!(
        run.has_output_variable("app_Marker", "t1+t1+none"),
        "{}",
        run.output
    );
}
