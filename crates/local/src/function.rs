//! The function process, run as Lambda runs it: started on demand, restarted when it dies or
//! times out, its logs forwarded, its start time and peak memory measured.

use std::path::PathBuf;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::child::{peak_rss_kib, spawn, Stdout};
use crate::error::{io, LocalError};
use crate::server::Services;
use crate::view::View;

/// The function process, restarted when it dies or times out, as Lambda would.
pub(crate) struct Function {
    pub(crate) binary: PathBuf,
    pub(crate) view: View,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) child: Option<Child>,
    pub(crate) spawned: Option<Instant>,
    pub(crate) cold_start: Option<Duration>,
    pub(crate) peak_rss_kib: Option<u64>,
}

impl Function {
    /// The function `binary`, not started yet, to run with `env` added to this process's own.
    pub(crate) fn new(binary: PathBuf, env: Vec<(String, String)>, view: View) -> Self {
        Self {
            binary,
            view,
            env,
            child: None,
            spawned: None,
            cold_start: None,
            peak_rss_kib: None,
        }
    }

    pub(crate) fn ensure_running(&mut self) -> Result<&mut Child, LocalError> {
        if self.child.is_none() {
            let child = spawn(
                Command::new(&self.binary).envs(self.env.iter().cloned()),
                "λ",
                &self.view,
                Stdout::Forward,
            )
            .map_err(io(format!(
                "starting the function {}",
                self.binary.display()
            )))?;
            self.child = Some(child);
            self.spawned = Some(Instant::now());
        }
        self.child
            .as_mut()
            .ok_or_else(|| LocalError::Aws("the function process is gone".into()))
    }

    /// Notes the first Runtime API request after the first start.
    pub(crate) fn ready(&mut self, at: Instant) {
        if self.cold_start.is_none() {
            self.cold_start = self.spawned.map(|s| at.saturating_duration_since(s));
        }
    }

    pub(crate) async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let peak = child.id().and_then(peak_rss_kib);
            self.peak_rss_kib = self.peak_rss_kib.max(peak);
            // It may have exited already; either way it is gone afterwards.
            let _ = child.kill().await;
        }
    }
}

/// The environment Lambda gives the function: the Runtime API, its name and size.
pub(crate) fn runtime_env(services: &Services, duplicate: bool) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "AWS_LAMBDA_RUNTIME_API".to_owned(),
            services.addr().to_string(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_NAME".to_owned(),
            "cfn-deployer".to_owned(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_VERSION".to_owned(),
            "$LATEST".to_owned(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(),
            "128".to_owned(),
        ),
    ];
    if duplicate {
        env.push(("AWS_LAMBDA_MAX_CONCURRENCY".to_owned(), "2".to_owned()));
    }
    env
}
