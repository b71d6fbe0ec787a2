//! `cfn-deployer-local`: runs a CodePipeline deploy action on this machine, with the real
//! function binary, against moto (the default) or real S3 and CloudFormation. Wiring only.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use cfn_deployer_artifact::Location;
use cfn_deployer_engine::stackset::SetAction;
use cfn_deployer_engine::Action;
use cfn_deployer_local::drift::DriftTable;
use cfn_deployer_local::lambda::SavedEvent;
use cfn_deployer_local::options::{Front, Interpreter, Options, Source, OUTPUT_ARTIFACT};
use cfn_deployer_local::run;
use cfn_deployer_local::stackset::StackSetPlay;
use cfn_deployer_local::view::group::GroupStack;
use cfn_deployer_local::view::{report, GroupHeader, Header, Style, View};
use cfn_deployer_params::{FileRef, GroupRequest, Manifest, Params, Request};
use clap::Parser;

use crate::cli::Cli;

/// The local CodePipeline's port with `--invoke-url`: fixed, so that the runtime started in
/// another terminal keeps working from run to run.
const INVOKE_URL_PORT: u16 = 9100;

/// The Invoke API's port with `--serve-function`, `cargo lambda watch`'s.
const SERVE_PORT: u16 = 9000;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match real_main(cli).await {
        Ok(code) => code,
        Err(e) => {
            let message = format!("{e:#}");
            if json {
                // A script asked for one document; it gets one, even when nothing ran.
                println!("{}", report::not_started_json(&message));
            }
            eprintln!("cfn-deployer-local: {message}");
            ExitCode::from(2)
        }
    }
}

/// The action mode as the built-in action names it.
fn mode_name(action: &Action) -> String {
    match action {
        Action::Deploy {
            mode: cfn_deployer_engine::Mode::CreateUpdate,
        } => "CREATE_UPDATE".into(),
        Action::Deploy {
            mode: cfn_deployer_engine::Mode::ReplaceOnFailure,
        } => "REPLACE_ON_FAILURE".into(),
        Action::Delete => "DELETE_ONLY".into(),
        Action::ChangeSetReplace { change_set } => format!("CHANGE_SET_REPLACE {change_set}"),
        Action::ChangeSetExecute { change_set, .. } => format!("CHANGE_SET_EXECUTE {change_set}"),
    }
}

/// The function binary: `--function`, or `cfn-deployer` beside this program.
fn function(cli: &Cli) -> anyhow::Result<PathBuf> {
    Ok(match &cli.function {
        Some(f) => f.clone(),
        None => std::env::current_exe()?.with_file_name("cfn-deployer"),
    })
}

/// The template's resource count, when the folder being zipped holds it.
fn template_resources(cli: &Cli, params: Option<&Params>) -> Option<u32> {
    let dir = cli
        .dir
        .as_ref()
        .filter(|_| cli.zip.is_none() && cli.object.is_none())?;
    let file = match params {
        Some(p) if !p.action.needs_template() => return None,
        Some(p) => p
            .template_path()
            .map_or(cli.file.as_str(), |t| t.file.as_str()),
        None => cli.file.as_str(),
    };
    let text = std::fs::read_to_string(dir.join(file)).ok()?;
    cfn_deployer_engine::template::resource_count(&text)
        .ok()
        .flatten()
}

async fn sdk_config(cli: &Cli, function_env: &mut Vec<(String, String)>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(cli.region.clone()));
    if !cli.aws {
        loader = loader.endpoint_url(&cli.endpoint_url);
        // moto takes any credentials; give both sides some when none are set.
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "testing", "testing", None, None, "local",
            )));
            function_env.push(("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()));
            function_env.push(("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()));
        }
    }
    loader.load().await
}

fn source(cli: &Cli) -> anyhow::Result<Source> {
    Ok(match (&cli.zip, &cli.object, &cli.dir) {
        (Some(zip), _, _) => Source::Zip(zip.clone()),
        (_, Some(object), _) => {
            let rest = object
                .strip_prefix("s3://")
                .context("--object takes s3://bucket/key")?;
            let (bucket, key) = rest
                .split_once('/')
                .context("--object takes s3://bucket/key")?;
            Source::Object(Location {
                bucket: bucket.into(),
                key: key.into(),
            })
        }
        (_, _, Some(dir)) => Source::Dir(dir.clone()),
        _ => bail!("give a folder to zip, --zip FILE or --object s3://bucket/key"),
    })
}

async fn real_main(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.serve_function {
        let view = View::new(Style::detect(false), true, Header::default());
        cfn_deployer_local::host::serve(
            function(&cli)?,
            cli.port.unwrap_or(SERVE_PORT),
            Duration::from_secs(cli.timeout),
            view,
        )
        .await?;
        return Ok(ExitCode::SUCCESS);
    }
    let source = source(&cli)?;
    let front = cli::front(&cli)?;
    let saved = match &cli.event {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading --event {}", path.display()))?;
            let event: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("--event {} is not JSON", path.display()))?;
            let read = SavedEvent::read(&event)
                .map_err(|e| anyhow::anyhow!("--event {}: {e}", path.display()))?;
            Some((event, read))
        }
        None => None,
    };
    let user_parameters = match (&saved, &cli.user_parameters, &cli.stack) {
        (Some((_, read)), _, _) => read.user_parameters.clone().unwrap_or_default(),
        (None, Some(raw), _) => raw.clone(),
        (None, None, Some(stack)) => {
            serde_json::json!({"stack": stack, "artifact": cli.artifact, "file": cli.file})
                .to_string()
        }
        (None, None, None) if !matches!(front, Front::Function) => String::new(),
        (None, None, None) => {
            bail!("give --stack NAME (or --user-parameters JSON, or --event FILE)")
        }
    };
    // The settings, when they are valid enough to name a stack; the function says what is
    // wrong with them otherwise.
    let request = match &front {
        Front::Worker(w) => {
            Request::from_configuration(&w.configuration.clone().into_iter().collect(), None).ok()
        }
        // Read as the execution will get it, the uploaded artifact standing in for a template
        // the input does not name, so that the header shows the action mode.
        Front::StepFunctions(s) => Request::from_execution_input(s.input_with(&format!(
            "s3://{}/artifact.zip::{}",
            cli.bucket, s.template_file
        )))
        .ok(),
        Front::Function => Request::from_user_parameters(Some(&user_parameters)).ok(),
    };
    let group = match (&request, &source) {
        (Some(Request::Group(g)), Source::Dir(dir)) => group_header(dir, g, &cli.region),
        _ => None,
    };
    let stack_set = match &request {
        Some(Request::StackSet(set)) => Some(format!(
            "{} · {}",
            set.plan.name,
            match set.plan.action {
                SetAction::Deploy => "CREATE_UPDATE, with a template",
                SetAction::Instances => "CREATE_UPDATE, its instances",
                SetAction::Delete => "DELETE_ONLY",
            }
        )),
        _ => None,
    };
    let params = request.and_then(|r| r.into_stack().ok());
    let stack = match (&params, &front) {
        (Some(p), _) => Some(p.stack.clone()),
        (None, Front::StepFunctions(s)) => s
            .input
            .get("StackName")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        (None, _) => None,
    }
    // Parallel actions each deploy a stack of their own.
    .filter(|_| cli.parallel <= 1);
    let front_name = match (&front, &cli.invoke_url) {
        (Front::Worker(_), _) => "custom action, run by cfn-deployer-worker".to_owned(),
        (Front::StepFunctions(s), _) => format!(
            "Step Functions, on {}",
            match s.interpreter {
                Interpreter::Local => "aws-local-stepfunctions",
                Interpreter::Moto => "moto's interpreter",
            }
        ),
        (Front::Function, Some(url)) => format!("Lambda Invoke action, through {url}"),
        (Front::Function, None) => "Lambda Invoke action".to_owned(),
    };
    let target = params
        .as_ref()
        .map(|p| p.target.clone())
        .unwrap_or_default();
    let header = Header {
        front: front_name,
        mode: params.as_ref().map(|p| mode_name(&p.action)),
        stack: stack.clone(),
        place: cfn_deployer_local::target::place(&target, &cli.region),
        group: group.as_ref().map(|(header, _)| header.clone()),
        stack_set,
    };
    let view = View::new(Style::detect(cli.json), cli.verbose, header);

    let mut function_env = Vec::new();
    let sdk = sdk_config(&cli, &mut function_env).await;
    if cli.aws && !cli.faults.is_empty() {
        bail!("--fault needs an endpoint such as moto; it cannot be used with --aws");
    }
    if cli.aws && !cli.drift.is_empty() {
        bail!("--drift needs an endpoint such as moto; it cannot be used with --aws, where CloudFormation detects the real drift");
    }
    if cli.aws && (!cli.stack_set_fail.is_empty() || cli.stack_set_busy.is_some()) {
        bail!("--stack-set-fail and --stack-set-busy need an endpoint such as moto; they cannot be used with --aws, where CloudFormation runs the real operations");
    }
    let port = cli
        .port
        .or(cli.invoke_url.as_ref().map(|_| INVOKE_URL_PORT));
    if let (Some(_), Some(port)) = (&cli.invoke_url, port) {
        print_function_env(&cli, port, &function_env);
    }
    let artifact_name = saved.as_ref().map_or(cli.artifact.clone(), |(_, read)| {
        read.input_artifact.clone()
    });
    let output_artifact_name = saved
        .as_ref()
        .and_then(|(_, read)| read.output_artifact.clone())
        .unwrap_or_else(|| OUTPUT_ARTIFACT.to_owned());
    let opts = Options {
        function: function(&cli)?,
        source,
        artifact_name,
        user_parameters,
        bucket: cli.bucket.clone(),
        poll_interval: Duration::from_secs_f64(cli.poll_interval.max(0.0)),
        invocation_timeout: Duration::from_secs(cli.timeout),
        max_continuations: cli.max_continuations,
        function_env,
        staging_bucket: Some(cli.staging_bucket.clone()).filter(|b| !b.is_empty()),
        endpoint: (!cli.aws).then(|| cli.endpoint_url.clone()),
        faults: cli.faults.clone(),
        drift: DriftTable::new(cli.drift.clone()),
        stack_sets: StackSetPlay {
            failures: cli.stack_set_fail.clone(),
            busy: cli.stack_set_busy,
        },
        duplicate: cli.duplicate,
        encryption_key_id: cli.encryption_key_id.clone(),
        template_resources: template_resources(&cli, params.as_ref()),
        front,
        view: view.clone(),
        output_artifact_name,
        event: saved.map(|(event, _)| event),
        invoke_url: cli.invoke_url.clone(),
        port,
        // The stack is read where it lies, with its role assumed as the deployer assumes it.
        stack_sdk: match target.is_home() {
            true => None,
            false => Some(cfn_deployer_local::target::sdk_for(&sdk, &target).await),
        },
        group_sdks: match &group {
            Some((_, targets)) => {
                let mut sdks = Vec::with_capacity(targets.len());
                for t in targets {
                    sdks.push(match t.is_home() {
                        true => None,
                        false => Some(cfn_deployer_local::target::sdk_for(&sdk, t).await),
                    });
                }
                sdks
            }
            None => Vec::new(),
        },
    };
    let summary = run::run(&sdk, &opts).await?;
    let callers = if matches!(opts.front, Front::Worker(_)) {
        "workers"
    } else {
        "function"
    };
    let report = report::gather(
        &sdk,
        opts.stack_sdk.as_ref().unwrap_or(&sdk),
        summary,
        callers,
        stack.as_deref(),
    )
    .await;
    view.end(&report);
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What the runtime behind `--invoke-url` must be started with: the local CodePipeline the
/// function reports to, the proxy its AWS calls go through, and the rest of its environment.
fn print_function_env(cli: &Cli, port: u16, function_env: &[(String, String)]) {
    let mut env = vec![(
        "AWS_ENDPOINT_URL_CODEPIPELINE".to_owned(),
        format!("http://127.0.0.1:{port}"),
    )];
    if !cli.aws {
        env.push((
            "AWS_ENDPOINT_URL".to_owned(),
            format!("http://127.0.0.1:{}", port.saturating_add(1)),
        ));
    }
    env.push(("AWS_REGION".to_owned(), cli.region.clone()));
    if !cli.staging_bucket.is_empty() {
        env.push((
            "CFN_DEPLOYER_STAGING_BUCKET".to_owned(),
            cli.staging_bucket.clone(),
        ));
    }
    env.extend(function_env.iter().cloned());
    let exports: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    // On stderr, so that `--json` output stays one JSON document.
    eprintln!(
        "The runtime at {} needs this environment:",
        cli.invoke_url.as_deref().unwrap_or_default()
    );
    eprintln!("  export {}", exports.join(" "));
}

/// The header's stack group, when its manifest lies in the folder `dir`: each stack with its
/// wave and, when it lies elsewhere than `home_region` of this account, where; in the order
/// they deploy, with each stack's target. None when the manifest cannot be read (the function
/// says why).
fn group_header(
    dir: &std::path::Path,
    group: &GroupRequest,
    home_region: &str,
) -> Option<(GroupHeader, Vec<cfn_deployer_params::Target>)> {
    let file = match &group.manifest {
        FileRef::Artifact(path) => path.file.clone(),
        FileRef::S3(s3) => s3.inner.clone().unwrap_or_default(),
    };
    let text = std::fs::read_to_string(dir.join(&file)).ok()?;
    let manifest = Manifest::parse(&text, &group.manifest, group.front).ok()?;
    let graph = &manifest.graph;
    let mut order: Vec<usize> = (0..graph.len()).collect();
    order.sort_by_key(|&i| (graph.wave(i), i));
    let targets = order
        .iter()
        .map(|&i| manifest.stacks[i].params.target.or(&group.target))
        .collect();
    let stacks = order
        .into_iter()
        .map(|i| GroupStack {
            place: cfn_deployer_local::target::place(
                &manifest.stacks[i].params.target.or(&group.target),
                home_region,
            ),
            wave: graph.wave(i),
            id: manifest.stacks[i].id.clone(),
            name: manifest.stacks[i].params.stack.clone(),
            after: graph
                .deps(i)
                .iter()
                .map(|&d| graph.id(d).to_owned())
                .collect(),
        })
        .collect();
    Some((
        GroupHeader {
            file,
            max_concurrency: manifest.max_concurrency,
            stacks,
        },
        targets,
    ))
}
