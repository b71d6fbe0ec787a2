//! The local pipeline as a custom action: each job is queued in the local CodePipeline for the
//! real worker binaries to poll, claim and report, as CodePipeline queues a custom action's
//! jobs; continuation jobs are queued again until a job ends the action.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::child::{peak_rss_kib, spawn, Stdout};
use crate::error::{io, LocalError};
use crate::job::{continued, short};
use crate::notice::Notice;
use crate::options::{Options, WorkerOptions};
use crate::outcome::{End, JobResult, Summary};
use crate::stage::Stage;

/// How long a stopping worker may take, as the worker promises: its jobs' steps, then exit.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// One worker process.
struct Worker {
    name: String,
    child: Child,
    peak_rss_kib: Option<u64>,
}

impl Worker {
    fn start(
        n: usize,
        opts: &WorkerOptions,
        env: &[(String, String)],
        view: &crate::view::View,
    ) -> Result<Self, LocalError> {
        let name = format!("worker {n}");
        let t = &opts.action_type;
        let mut command = Command::new(&opts.binary);
        command
            .args([
                "--category",
                &t.category,
                "--provider",
                &t.provider,
                "--version",
                &t.version,
            ])
            .args(["--concurrency", &opts.concurrency.to_string()])
            .args(["--idle-poll-seconds", "1"])
            .args(["--step-seconds", &opts.step_seconds.to_string()]);
        let served = opts
            .worker_query_value
            .as_ref()
            .or(opts.query_value.as_ref());
        if let (Some(key), Some(value)) = (&t.queryable, served) {
            command.args(["--query", &format!("{key}={value}")]);
        }
        let child = spawn(
            command.envs(env.iter().cloned()),
            &format!("w{n}"),
            view,
            Stdout::Forward,
        )
        .map_err(io(format!("starting the worker {}", opts.binary.display())))?;
        Ok(Self {
            name,
            child,
            peak_rss_kib: None,
        })
    }

    /// SIGTERM, then the wait for its exit; how it exited and after how long.
    async fn stop(&mut self) -> String {
        self.peak_rss_kib = self
            .peak_rss_kib
            .max(self.child.id().and_then(peak_rss_kib));
        let Some(pid) = self.child.id() else {
            return "had already exited".into();
        };
        let asked = Instant::now();
        // The process's own `kill` sends the signal: no bindings to the C library needed.
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
        if !sent.is_ok_and(|s| s.success()) {
            let _ = self.child.kill().await;
            return "could not be sent SIGTERM, and was killed".into();
        }
        match tokio::time::timeout(STOP_GRACE, self.child.wait()).await {
            Ok(Ok(status)) => format!(
                "exited {:.1} s after SIGTERM, {}",
                asked.elapsed().as_secs_f64(),
                status
                    .code()
                    .map_or("ended by a signal".to_owned(), |c| format!("exit code {c}")),
            ),
            Ok(Err(e)) => format!("could not be waited for: {e}"),
            Err(_) => {
                let _ = self.child.kill().await;
                format!(
                    "was still running {} s after SIGTERM, and was killed",
                    STOP_GRACE.as_secs()
                )
            }
        }
    }
}

/// The job's data for a custom action: the common data, the action type and the pipeline.
fn job_data(
    stage: &Stage,
    opts: &Options,
    w: &WorkerOptions,
    action: usize,
    token: Option<&str>,
) -> Value {
    let mut configuration = w.configuration.clone();
    if w.parallel > 1 {
        if let Some(stack) = configuration.get_mut("StackName") {
            stack.push_str(&format!("-{action}"));
        }
    }
    if let (Some(key), Some(value)) = (&w.action_type.queryable, &w.query_value) {
        configuration.insert(key.clone(), value.clone());
    }
    let mut data = stage.job_data(opts, json!(configuration), token);
    data["actionTypeId"] = w.action_type.id();
    data["pipelineContext"] = json!({
        "pipelineName": crate::view::PIPELINE,
        "stage": {"name": "Deploy"},
        "action": {"name": "Deploy", "actionExecutionId": uuid::Uuid::new_v4().to_string()},
        "pipelineArn": "arn:aws:codepipeline:us-east-1:123456789012:local-pipeline",
        "pipelineExecutionId": uuid::Uuid::new_v4().to_string(),
    });
    data
}

/// One action of the run: its jobs so far, its token, how it ended.
struct Action {
    jobs: usize,
    current: String,
    queued: Instant,
    /// When a worker took the current job.
    dispatched: Option<Instant>,
    end: Option<End>,
}

impl Action {
    /// When the current job is overdue: a queued job must be picked up within the pickup
    /// timeout, a taken one reported within its step's budget and `--timeout` to spare (the
    /// worker may have died with it, and CodePipeline would time the action out).
    fn due(&self, w: &WorkerOptions, opts: &Options) -> Option<Instant> {
        match (&self.end, self.dispatched) {
            (Some(_), _) => None,
            (None, Some(taken)) => Some(
                taken + Duration::from_secs_f64(w.step_seconds.max(0.0)) + opts.invocation_timeout,
            ),
            (None, None) => Some(self.queued + w.pickup_timeout),
        }
    }

    /// Why the current job is overdue.
    fn overdue(&self, w: &WorkerOptions, opts: &Options) -> String {
        match self.dispatched {
            Some(_) => format!(
                "the worker that took the job reported nothing within {:.0} s: check the worker's log; CodePipeline would time the action out",
                (Duration::from_secs_f64(w.step_seconds.max(0.0)) + opts.invocation_timeout).as_secs_f64()
            ),
            None => format!(
                "no worker picked the job up within {} s: check that a worker polls for this action type{}",
                w.pickup_timeout.as_secs(),
                w.action_type.queryable.as_ref().map(|k| format!(" and serves its {k}")).unwrap_or_default()
            ),
        }
    }
}

/// Queues each action's jobs for the workers until every action has ended.
pub(crate) async fn run(
    mut stage: Stage,
    opts: &Options,
    w: &WorkerOptions,
) -> Result<Summary, LocalError> {
    let mut workers = Vec::new();
    for n in 1..=w.workers.max(1) {
        workers.push(Worker::start(n, w, &stage.env, &opts.view)?);
    }
    let mut started = workers.len();
    let mut stop_at: Option<Instant> = None;
    let mut stopped_one = false;
    let (mut jobs, mut claims) = (0, 0);
    let queue = |stage: &Stage, action: usize, token: Option<&str>, n: usize| {
        let job_id = uuid::Uuid::new_v4().to_string();
        stage.services.queue_job(
            &job_id,
            &w.action_type,
            job_data(stage, opts, w, action, token),
        );
        let which = if w.parallel > 1 {
            format!(" (action {action})")
        } else {
            String::new()
        };
        opts.view.progress(format!(
            "job {n}{which} ({}): queued for a worker{}",
            short(&job_id),
            if token.is_some() { ", continuing" } else { "" }
        ));
        job_id
    };
    let mut actions: Vec<Action> = Vec::new();
    for action in 1..=w.parallel.max(1) {
        jobs += 1;
        let current = queue(&stage, action, None, jobs);
        actions.push(Action {
            jobs: 1,
            current,
            queued: Instant::now(),
            dispatched: None,
            end: None,
        });
    }
    let mut in_flight = 0usize;
    let mut most_in_flight = 0usize;
    while actions.iter().any(|a| a.end.is_none()) {
        let next_stop = stop_at.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        let due = actions.iter().filter_map(|a| a.due(w, opts)).min();
        let of = |actions: &[Action], job: &str| actions.iter().position(|a| a.current == job);
        tokio::select! {
            notice = stage.notices.recv() => match notice {
                Some(Notice::Dispatched { job_id }) => {
                    if let Some(i) = of(&actions, &job_id) {
                        actions[i].dispatched = Some(Instant::now());
                    }
                }
                Some(Notice::Acknowledged { job_id }) if of(&actions, &job_id).is_some() => {
                    claims += 1;
                    in_flight += 1;
                    most_in_flight = most_in_flight.max(in_flight);
                    if let (Some(after), false, None) = (w.stop_after, stopped_one, stop_at) {
                        stop_at = Some(Instant::now() + after);
                    }
                }
                Some(Notice::Reported { job_id, result }) => {
                    let Some(i) = of(&actions, &job_id) else {
                        opts.view.note(format!("  note: a result arrived for an earlier job {job_id}"));
                        continue;
                    };
                    in_flight = in_flight.saturating_sub(1);
                    match result {
                        JobResult::Succeeded { continuation_token: Some(next), summary, percent_complete, .. } => {
                            if let Some(given_up) = continued(opts, actions[i].jobs, summary, percent_complete) {
                                actions[i].end = Some(given_up);
                                continue;
                            }
                            tokio::time::sleep(opts.poll_interval).await;
                            jobs += 1;
                            let a = &mut actions[i];
                            a.jobs += 1;
                            a.current = queue(&stage, i + 1, Some(&next), jobs);
                            a.queued = Instant::now();
                            a.dispatched = None;
                        }
                        other => actions[i].end = Some(End::Reported(other)),
                    }
                }
                Some(Notice::Refused { job_id, operation, code, message }) => {
                    opts.view.note(format!("  CodePipeline refused {operation} for job {}: {code}: {message}", job_id.unwrap_or_default()));
                }
                Some(_) => {}
                None => return Err(LocalError::Aws("the local services stopped".into())),
            },
            () = tokio::time::sleep_until(next_stop), if stop_at.is_some() => {
                stop_at = None;
                stopped_one = true;
                let how = workers[0].stop().await;
                opts.view.note(format!("  {} stopped: it {how}", workers[0].name));
                started += 1;
                let fresh = Worker::start(started, w, &stage.env, &opts.view)?;
                opts.view.note(format!("  {} started in its place", fresh.name));
                let old = std::mem::replace(&mut workers[0], fresh);
                stage_peak(&mut workers, old.peak_rss_kib);
            }
            () = tokio::time::sleep_until(due.unwrap_or(next_stop)), if due.is_some() => {
                let now = Instant::now();
                for a in actions.iter_mut().filter(|a| a.due(w, opts).is_some_and(|d| d <= now)) {
                    a.end = Some(End::NotReported(a.overdue(w, opts)));
                }
            }
        }
    }
    let mut peak = None;
    for worker in &mut workers {
        let how = worker.stop().await;
        opts.view
            .progress(format!("{} stopped: it {how}", worker.name));
        peak = peak.max(worker.peak_rss_kib);
    }
    // What the stopping workers still said to CodePipeline: a report sent again, say.
    while let Ok(notice) = stage.notices.try_recv() {
        if let Notice::Refused {
            job_id,
            operation,
            code,
            message,
        } = notice
        {
            opts.view.note(format!(
                "  CodePipeline refused {operation} for job {}: {code}: {message}",
                job_id.unwrap_or_default()
            ));
        }
    }
    if w.parallel > 1 {
        opts.view
            .note(format!("at most {most_in_flight} job(s) in flight at once"));
    }
    let end = combine(actions.into_iter().filter_map(|a| a.end).collect());
    let mut summary = stage.summary(end, jobs, claims);
    summary.peak_rss_kib = peak;
    summary.most_in_flight = most_in_flight;
    Ok(summary)
}

/// How several actions ended, as one: the first that did not succeed, else the last success.
fn combine(ends: Vec<End>) -> End {
    let count = ends.len();
    let failed = ends
        .iter()
        .find(|e| !matches!(e, End::Reported(JobResult::Succeeded { .. })))
        .cloned();
    match (failed, ends.into_iter().last()) {
        (Some(f), _) => f,
        (
            None,
            Some(End::Reported(JobResult::Succeeded {
                summary,
                output_variables,
                external_id,
                ..
            })),
        ) if count > 1 => End::Reported(JobResult::Succeeded {
            continuation_token: None,
            summary: Some(format!(
                "{count} actions succeeded; the last: {}",
                summary.unwrap_or_default()
            )),
            external_id,
            output_variables,
            percent_complete: None,
        }),
        (None, Some(last)) => last,
        (None, None) => End::NotReported("no action ran".into()),
    }
}

/// Keeps the peak memory of a worker that was replaced, on the one that replaced it.
fn stage_peak(workers: &mut [Worker], peak: Option<u64>) {
    if let Some(first) = workers.first_mut() {
        first.peak_rss_kib = first.peak_rss_kib.max(peak);
    }
}
