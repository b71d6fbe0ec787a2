//! The processes a run starts (the function, the workers, the state machine's interpreter):
//! started with their output piped, their log lines handed to the view, their memory read.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::view::View;

/// What becomes of a child's standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stdout {
    /// Forwarded to the view as log lines, as its standard error always is.
    Forward,
    /// Left on the child for the caller to read.
    Keep,
}

/// Starts `command` with no input, killed when dropped; its standard error, and its standard
/// output unless kept, go to `view` line by line after `name` (`λ` for the function, `w1` for
/// a worker, `sf` for the interpreter).
pub(crate) fn spawn(
    command: &mut Command,
    name: &str,
    view: &View,
    stdout: Stdout,
) -> std::io::Result<Child> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    if stdout == Stdout::Forward {
        forward(child.stdout.take(), name, view);
    }
    forward(child.stderr.take(), name, view);
    Ok(child)
}

/// Hands a stream's lines to the view, after `name`, until it ends.
fn forward<R: AsyncRead + Unpin + Send + 'static>(stream: Option<R>, name: &str, view: &View) {
    if let Some(stream) = stream {
        let (name, view) = (name.to_owned(), view.clone());
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                view.log(&name, &line);
            }
        });
    }
}

/// A process's peak resident set (`VmHWM`), in KiB, from `/proc`; `None` off Linux.
pub(crate) fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
