//! The one error of the local pipeline: a local file or process failed, or one of the
//! pipeline's own AWS calls did.

/// The local run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// A local file or process failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// An AWS call of the pipeline's own failed.
    #[error("{0}")]
    Aws(String),
}

/// Names an I/O failure by what was being done, for `map_err`.
pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LocalError {
    let what = what.into();
    move |source| LocalError::Io { what, source }
}
