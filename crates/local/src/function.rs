//! The function process, run as Lambda runs it: started on demand, restarted when it dies or
//! times out, its logs forwarded, its start time and peak memory measured.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::run::{io, LocalError};
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

/// A process's peak resident set (`VmHWM`), in KiB, from `/proc`; `None` off Linux.
pub(crate) fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
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
            let mut child = Command::new(&self.binary)
                .envs(self.env.iter().cloned())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(io(format!(
                    "starting the function {}",
                    self.binary.display()
                )))?;
            forward(child.stdout.take(), "λ".into(), self.view.clone());
            forward(child.stderr.take(), "λ".into(), self.view.clone());
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

/// Hands a process's log lines to the view, after `name` (`λ` for the function, `w1` for a
/// worker, `sf` for the interpreter).
pub(crate) fn forward<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    stream: Option<R>,
    name: String,
    view: crate::view::View,
) {
    if let Some(stream) = stream {
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                view.log(&name, &line);
            }
        });
    }
}
