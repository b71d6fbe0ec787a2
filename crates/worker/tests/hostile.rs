//! The real worker binary against a CodePipeline that misbehaves: reports that hang, a stop
//! signal sent twice, polls refused for good, and answers with more jobs, or other action
//! types' jobs, than were asked for. Each test plays CodePipeline's JSON API on localhost.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

/// What the fake CodePipeline answers, and what it was asked.
#[derive(Default)]
struct Book {
    /// The jobs each PollForJobs hands out, whatever its maxBatchSize.
    jobs: Vec<Value>,
    /// Handed out once only.
    handed: bool,
    /// An error code PollForJobs answers with instead.
    poll_error: Option<&'static str>,
    /// Whether that error waits until the jobs were handed out once.
    error_after_jobs: bool,
    /// How long PutJob* takes to answer.
    report_delay: Duration,
    /// The jobs whose report was answered.
    reported: Vec<String>,
    /// How long PollForJobs takes to answer.
    poll_delay: Duration,
    /// Whether PutJob* never answers.
    hang_reports: bool,
    /// Calls by operation.
    calls: BTreeMap<String, usize>,
    /// The jobs acknowledged.
    acknowledged: Vec<String>,
}

type Shared = Arc<Mutex<Book>>;

async fn api(
    axum::extract::State(book): axum::extract::State<Shared>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let (delay, hang) = {
        let mut b = book.lock().expect("book");
        *b.calls.entry(operation.clone()).or_default() += 1;
        (b.poll_delay, b.hang_reports)
    };
    let reply = |v: Value| {
        (
            StatusCode::OK,
            [("content-type", "application/x-amz-json-1.1")],
            v.to_string(),
        )
            .into_response()
    };
    match operation.as_str() {
        "PollForJobs" => {
            tokio::time::sleep(delay).await;
            let mut b = book.lock().expect("book");
            let refuse = b.poll_error.filter(|_| b.handed || !b.error_after_jobs);
            if let Some(code) = refuse {
                return (
                    StatusCode::BAD_REQUEST,
                    [("content-type", "application/x-amz-json-1.1")],
                    json!({"__type": code, "message": "refused by the test"}).to_string(),
                )
                    .into_response();
            }
            let jobs = if b.handed { Vec::new() } else { b.jobs.clone() };
            b.handed = true;
            reply(json!({ "jobs": jobs }))
        }
        "AcknowledgeJob" => {
            let id = request["jobId"].as_str().unwrap_or_default().to_owned();
            book.lock().expect("book").acknowledged.push(id);
            reply(json!({"status": "InProgress"}))
        }
        "PutJobSuccessResult" | "PutJobFailureResult" => {
            if hang {
                std::future::pending::<()>().await;
            }
            let delay = book.lock().expect("book").report_delay;
            tokio::time::sleep(delay).await;
            let id = request["jobId"].as_str().unwrap_or_default().to_owned();
            book.lock().expect("book").reported.push(id);
            reply(json!({}))
        }
        _ => (StatusCode::BAD_REQUEST, "unknown operation").into_response(),
    }
}

/// A fake CodePipeline on a free port, serving `book`.
fn serve(book: Shared) -> (tokio::runtime::Runtime, u16) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let app = Router::new().route("/", post(api)).with_state(book);
    rt.spawn(async move { axum::serve(listener, app).await });
    (rt, port)
}

fn job(id: &str, provider: &str) -> Value {
    json!({
        "id": id,
        "nonce": "1",
        "accountId": "111111111111",
        "data": {
            "actionTypeId": {"category": "Deploy", "owner": "Custom", "provider": provider, "version": "1"},
            // No TemplatePath: the step fails at once as a ConfigurationError, calling no
            // other AWS service, and reports it.
            "actionConfiguration": {"configuration": {"StackName": "app"}},
            "inputArtifacts": [],
            "outputArtifacts": []
        }
    })
}

/// The worker binary against the fake CodePipeline on `port`, its output collected.
fn worker(port: u16, args: &[&str]) -> (Child, Arc<Mutex<String>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cfn-deployer-worker"))
        .args(args)
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("worker binary");
    let output = Arc::new(Mutex::new(String::new()));
    for pipe in [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let output = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut o = output.lock().expect("output");
                o.push_str(&line);
                o.push('\n');
            }
        });
    }
    (child, output)
}

/// Waits until `done` holds, for at most `limit`.
fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Waits for the process to exit, at most `limit`: its exit code and how long it took.
fn exit_within(child: &mut Child, limit: Duration) -> (Option<i32>, Duration) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return (status.code(), start.elapsed());
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the worker was still running {limit:?} after the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn acknowledged(book: &Shared) -> Vec<String> {
    book.lock().expect("book").acknowledged.clone()
}

fn text(output: &Arc<Mutex<String>>) -> String {
    output.lock().expect("output").clone()
}

#[test]
fn a_stopping_worker_exits_by_its_deadline_with_reports_hanging() {
    let book = Shared::default();
    {
        let mut b = book.lock().expect("book");
        b.jobs = vec![job("11111111-1111-1111-1111-111111111111", "CfnDeployer")];
        b.hang_reports = true;
    }
    let (_rt, port) = serve(book.clone());
    let (mut child, output) = worker(
        port,
        &[
            "--step-seconds",
            "1",
            "--stop-seconds",
            "3",
            "--idle-poll-seconds",
            "1",
        ],
    );
    assert!(
        wait_for(Duration::from_secs(20), || {
            book.lock()
                .expect("book")
                .calls
                .contains_key("PutJobFailureResult")
        }),
        "no report was sent: {}",
        text(&output)
    );
    signal(&child, "TERM");
    let (code, took) = exit_within(&mut child, Duration::from_secs(15));
    assert_eq!(code, Some(0), "{}", text(&output));
    // The bound: --stop-seconds, and 2 s for the process to end.
    assert!(
        took <= Duration::from_secs(5),
        "exited {took:?} after SIGTERM"
    );
    let out = text(&output);
    assert!(
        out.lines().any(|l| l.contains("job left InProgress")
            && l.contains("11111111-1111-1111-1111-111111111111")),
        "{out}"
    );
}

#[test]
fn a_second_signal_exits_at_once_naming_the_jobs_left() {
    let book = Shared::default();
    {
        let mut b = book.lock().expect("book");
        b.jobs = vec![job("22222222-2222-2222-2222-222222222222", "CfnDeployer")];
        b.hang_reports = true;
    }
    let (_rt, port) = serve(book.clone());
    let (mut child, output) = worker(port, &["--stop-seconds", "60", "--step-seconds", "1"]);
    assert!(wait_for(Duration::from_secs(20), || {
        book.lock()
            .expect("book")
            .calls
            .contains_key("PutJobFailureResult")
    }));
    signal(&child, "INT");
    assert!(wait_for(Duration::from_secs(5), || text(&output)
        .contains("stop requested")));
    signal(&child, "INT");
    let (code, took) = exit_within(&mut child, Duration::from_secs(5));
    assert_eq!(code, Some(130), "{}", text(&output));
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(
        text(&output).contains("22222222-2222-2222-2222-222222222222"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_poll_refused_for_good_ends_the_worker_with_code_2_naming_what_to_fix() {
    for (code, says) in [
        (
            "ActionTypeNotFoundException",
            "check --category, --provider and --version",
        ),
        ("ValidationException", "check --query"),
        ("AccessDeniedException", "allow codepipeline:PollForJobs"),
    ] {
        let book = Shared::default();
        book.lock().expect("book").poll_error = Some(code);
        let (_rt, port) = serve(book.clone());
        let (mut child, output) = worker(port, &["--provider", "CfnDeployr"]);
        let (exit, _) = exit_within(&mut child, Duration::from_secs(20));
        let out = text(&output);
        assert_eq!(exit, Some(2), "{code}: {out}");
        let line = out
            .lines()
            .find(|l| l.contains("the worker stopped"))
            .unwrap_or_else(|| panic!("{code}: {out}"));
        assert!(line.contains("Deploy/Custom/CfnDeployr/1"), "{line}");
        assert!(line.contains(says), "{line}");
        assert_eq!(book.lock().expect("book").calls["PollForJobs"], 1, "{code}");
    }
}

#[test]
fn a_poll_refused_for_good_still_lets_the_claimed_jobs_report() {
    let book = Shared::default();
    {
        let mut b = book.lock().expect("book");
        b.jobs = vec![job("33333333-3333-3333-3333-333333333333", "CfnDeployer")];
        b.poll_error = Some("AccessDeniedException");
        b.error_after_jobs = true;
        b.report_delay = Duration::from_millis(1500);
    }
    let (_rt, port) = serve(book.clone());
    let (mut child, output) = worker(port, &[]);
    let (code, _) = exit_within(&mut child, Duration::from_secs(30));
    assert_eq!(code, Some(2), "{}", text(&output));
    assert_eq!(
        book.lock().expect("book").reported,
        ["33333333-3333-3333-3333-333333333333"],
        "{}",
        text(&output)
    );
}

#[test]
fn only_served_jobs_within_the_free_slots_are_claimed() {
    let book = Shared::default();
    book.lock().expect("book").jobs = vec![
        job("other-type", "SomeoneElse"),
        job("first", "CfnDeployer"),
        job("one-too-many", "CfnDeployer"),
    ];
    let (_rt, port) = serve(book.clone());
    let (mut child, output) = worker(port, &["--concurrency", "1", "--idle-poll-seconds", "1"]);
    assert!(wait_for(Duration::from_secs(20), || {
        book.lock()
            .expect("book")
            .calls
            .contains_key("PutJobFailureResult")
    }));
    signal(&child, "TERM");
    let (code, _) = exit_within(&mut child, Duration::from_secs(30));
    assert_eq!(code, Some(0));
    assert_eq!(acknowledged(&book), ["first"], "{}", text(&output));
    let out = text(&output);
    assert!(out.contains("does not serve"), "{out}");
    assert!(out.contains("more jobs than were asked for"), "{out}");
}

#[test]
fn no_job_is_claimed_after_a_stop_signal() {
    let book = Shared::default();
    {
        let mut b = book.lock().expect("book");
        b.jobs = vec![job("late", "CfnDeployer")];
        b.poll_delay = Duration::from_millis(1500);
    }
    let (_rt, port) = serve(book.clone());
    let (mut child, output) = worker(port, &[]);
    // The signal arrives while the poll is in flight; its answer holds a job.
    assert!(wait_for(Duration::from_secs(20), || {
        book.lock().expect("book").calls.contains_key("PollForJobs")
    }));
    signal(&child, "TERM");
    let (code, _) = exit_within(&mut child, Duration::from_secs(30));
    assert_eq!(code, Some(0), "{}", text(&output));
    assert!(acknowledged(&book).is_empty(), "{}", text(&output));
}

#[test]
fn polling_faster_than_once_a_second_is_a_usage_error() {
    let (mut child, output) = worker(9, &["--idle-poll-seconds", "0.0001"]);
    let (code, _) = exit_within(&mut child, Duration::from_secs(10));
    assert_eq!(code, Some(2));
    assert!(
        text(&output).contains("at least 1 second"),
        "{}",
        text(&output)
    );
}
