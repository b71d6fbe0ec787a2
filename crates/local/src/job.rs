//! What the fronts that hand out CodePipeline jobs one after another (the function's and the
//! workers') share: a job's name on a line, and when a continuing action is given up.

use crate::options::Options;
use crate::outcome::End;

/// A job id's first eight characters, enough to tell jobs apart on a line.
pub(crate) fn short(job_id: &str) -> &str {
    job_id.get(..8).unwrap_or(job_id)
}

/// A continuation reported: shown, and the action given up (as CodePipeline would time it
/// out) once its `jobs` are past `--max-continuations`.
pub(crate) fn continued(
    opts: &Options,
    jobs: usize,
    summary: Option<String>,
    percent_complete: Option<i64>,
) -> Option<End> {
    let percent = percent_complete
        .map(|p| format!(" ({p}%)"))
        .unwrap_or_default();
    opts.view.progress(format!(
        "continue: {}{percent}",
        summary.unwrap_or_default()
    ));
    (jobs > opts.max_continuations).then(|| {
        End::NotReported(format!(
            "the job was still running after {} continuations; CodePipeline would time the action out",
            opts.max_continuations
        ))
    })
}
