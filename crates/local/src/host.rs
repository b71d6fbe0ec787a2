//! Playing the Lambda service for callers of its Invoke API: each call becomes an invocation of
//! the function process through the Runtime API, and the function's answer the call's response;
//! a call that outlives the function's timeout gets Lambda's timeout error. The Step Functions
//! interpreters call it, and `--serve-function` offers it to a pipeline in another terminal.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::error::{io, LocalError};
use crate::function::{runtime_env, Function};
use crate::notice::Notice;
use crate::server::{Invocation, InvokeReply, InvokeRequest, Services};
use crate::view::View;

/// The function, answering Invoke calls.
pub(crate) struct Host {
    pub(crate) function: Function,
    timeout: Duration,
    waiting: HashMap<String, (oneshot::Sender<InvokeReply>, Instant)>,
    /// Invoke calls taken so far.
    pub(crate) invocations: usize,
}

impl Host {
    /// A host for `function`, whose invocations may each run `timeout`.
    pub(crate) fn new(function: Function, timeout: Duration) -> Self {
        Self {
            function,
            timeout,
            waiting: HashMap::new(),
            invocations: 0,
        }
    }

    /// Hands an Invoke call to the function, starting it when it is not running.
    pub(crate) fn call(
        &mut self,
        services: &Services,
        request: InvokeRequest,
    ) -> Result<(), LocalError> {
        self.function.ensure_running()?;
        self.invocations += 1;
        let request_id = uuid::Uuid::new_v4().to_string();
        self.waiting
            .insert(request_id.clone(), (request.reply, Instant::now()));
        services.invoke(Invocation {
            request_id,
            event: request.payload,
            timeout: self.timeout,
        });
        Ok(())
    }

    /// Takes the notices about the calls it holds; hands back the others.
    pub(crate) fn notice(&mut self, notice: Notice) -> Option<Notice> {
        match notice {
            Notice::InvocationDone {
                request_id,
                error,
                response,
            } if self.waiting.contains_key(&request_id) => {
                if let Some((reply, _)) = self.waiting.remove(&request_id) {
                    // The caller may have hung up; the answer then goes nowhere.
                    let _ = reply.send(match error {
                        Some(e) => InvokeReply::FunctionError(e),
                        None => InvokeReply::Response(response.unwrap_or_else(|| "null".into())),
                    });
                }
                None
            }
            Notice::Ready => {
                self.function.ready(Instant::now());
                None
            }
            other => Some(other),
        }
    }

    /// When the oldest call runs out of time, if any call is waiting.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.waiting
            .values()
            .map(|(_, at)| *at + self.timeout)
            .min()
    }

    /// Ends the calls that ran past their timeout with Lambda's error, and stops the function,
    /// as Lambda does.
    pub(crate) async fn expire(&mut self) {
        let now = Instant::now();
        let late: Vec<String> = self
            .waiting
            .iter()
            .filter(|(_, (_, at))| *at + self.timeout <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in late {
            if let Some((reply, _)) = self.waiting.remove(&id) {
                let _ = reply.send(InvokeReply::FunctionError(
                    json!({
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": format!("Task timed out after {} seconds", self.timeout.as_secs()),
                    })
                    .to_string(),
                ));
            }
        }
        self.function.stop().await;
    }

    /// Waits for the function process to exit, if it runs; then fails the calls it held, as
    /// Lambda does, and forgets it, so that the next call starts a fresh one.
    pub(crate) async fn exited(&mut self) -> String {
        let Some(child) = self.function.child.as_mut() else {
            return std::future::pending().await;
        };
        let status = child
            .wait()
            .await
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        self.function.child = None;
        for (_, (reply, _)) in self.waiting.drain() {
            let _ = reply.send(InvokeReply::FunctionError(
                json!({
                    "errorType": "Runtime.ExitError",
                    "errorMessage": format!("Runtime exited: {status}"),
                })
                .to_string(),
            ));
        }
        status
    }
}

/// Serves the Invoke API on `port` until interrupted, as `cargo lambda watch` does: the
/// function inherits this process's environment, and gets that runtime's constant deadline.
pub async fn serve(
    binary: std::path::PathBuf,
    port: u16,
    timeout: Duration,
    view: View,
) -> Result<(), LocalError> {
    let (services, mut notices) = Services::start_on(port)
        .await
        .map_err(io(format!("listening on 127.0.0.1:{port}")))?;
    services.deadline_as_cargo_lambda();
    let mut invokes = services.take_invocations();
    let env = runtime_env(&services, false);
    let mut host = Host::new(Function::new(binary, env, view.clone()), timeout);
    view.note(format!(
        "Lambda Invoke API at http://{}/2015-03-31/functions/cfn-deployer/invocations; Ctrl-C to stop",
        services.addr()
    ));
    loop {
        let next_timeout = host.next_timeout();
        tokio::select! {
            request = invokes.recv() => match request {
                Some(request) => host.call(&services, request)?,
                None => break,
            },
            notice = notices.recv() => match notice.map(|n| host.notice(n)) {
                Some(Some(Notice::InitError(e))) => view.note(format!("the function failed to start: {e}")),
                Some(_) => {}
                None => break,
            },
            status = host.exited() => view.note(format!("the function exited ({status}); the next call starts it again")),
            () = tokio::time::sleep_until(next_timeout.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))), if next_timeout.is_some() => {
                host.expire().await;
            }
            () = stop_requested() => break,
        }
    }
    host.function.stop().await;
    view.note(format!("{} invocation(s) served", host.invocations));
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
