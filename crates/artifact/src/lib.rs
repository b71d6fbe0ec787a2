//! Reading one file out of a zipped artifact in S3, fetching only the bytes it needs: the
//! archive's tail (its central directory), then the entry itself, by ranged GETs.
//!
//! It owns where an object lies ([`Location`]) and the archive format; it must never know who
//! asked for the file, with which credentials, or what the file is for.

mod extract;
mod location;
mod object;
pub mod sparse;

pub use extract::{Extraction, Need};
pub use location::{s3_url, Location, UrlError};
pub use object::{put_object, read_object};

use std::ops::Range;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::Client;
use cfn_deployer_aws::AwsFault;
use tracing::debug;

use self::sparse::Sparse;

/// How much of the object's end the first GET asks for: the end-of-central-directory record
/// with the longest comment allowed fits, and so does the central directory of most artifacts.
pub const TAIL_BYTES: u64 = 64 * 1024;

/// How many GETs one read may make; beyond it the archive is considered hostile.
const MAX_GETS: usize = 12;

/// The largest central directory read (about 200,000 entries); a larger one is refused rather
/// than held in memory.
pub const MAX_CENTRAL_DIRECTORY: u64 = 16 * 1024 * 1024;

/// What one read cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// GET requests made.
    pub gets: usize,
    /// Body bytes received.
    pub bytes: u64,
}

/// Why a file could not be read from an artifact.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The object does not exist.
    #[error("object {location} does not exist: check that the artifact was produced by an earlier stage")]
    ObjectNotFound {
        /// The object.
        location: Location,
    },
    /// S3 refused access.
    #[error("access to {location} was denied ({message}): check the bucket policy, and the KMS key policy if the object is encrypted with one")]
    AccessDenied {
        /// The object.
        location: Location,
        /// What S3 said.
        message: String,
    },
    /// Any other S3 failure.
    #[error("reading {location} from S3 failed: {message}")]
    S3 {
        /// The object.
        location: Location,
        /// What S3 (or the network) said.
        message: String,
    },
    /// The object is not a readable zip archive.
    #[error(
        "{location} is not a readable zip archive ({reason}): the artifact must be a zip file"
    )]
    NotZip {
        /// The object.
        location: Location,
        /// What is wrong with it.
        reason: String,
    },
    /// The object holds no bytes: S3 has no range of it to serve.
    #[error("the object is empty: {location} holds no bytes; check that the stage that produced it wrote the artifact, or upload it again")]
    Empty {
        /// The object.
        location: Location,
    },
    /// The path asked for could escape the archive root.
    #[error("file `{path}` is not a plain relative path inside the archive: remove `..` and leading `/`")]
    UnsafePath {
        /// The path asked for.
        path: String,
    },
    /// No entry has that name.
    #[error("file `{path}` is not in the artifact; it holds {count} entries, such as: {sample}")]
    EntryNotFound {
        /// The path asked for.
        path: String,
        /// How many entries the archive holds.
        count: usize,
        /// A few of their names.
        sample: String,
    },
    /// The entry cannot be used as a file.
    #[error("file `{path}` in the artifact cannot be read: {reason}")]
    BadEntry {
        /// The path asked for.
        path: String,
        /// Why not.
        reason: String,
    },
    /// The entry is larger than allowed.
    #[error("file `{path}` in the artifact is larger than the {limit}-byte limit ({size} bytes)")]
    TooLarge {
        /// The path asked for.
        path: String,
        /// Its size, as declared or as read so far.
        size: u64,
        /// The limit.
        limit: u64,
    },
}

impl ArtifactError {
    /// Whether the failure is a refused permission rather than a bad artifact.
    pub fn is_access_denied(&self) -> bool {
        matches!(self, Self::AccessDenied { .. })
    }
}

/// Reads objects from S3 by range, keeping count.
pub(crate) struct Fetcher<'a> {
    pub(crate) s3: &'a Client,
    pub(crate) location: &'a Location,
    pub(crate) stats: FetchStats,
}

impl Fetcher<'_> {
    fn error<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        err: SdkError<E, HttpResponse>,
    ) -> ArtifactError {
        let location = self.location.clone();
        let fault = AwsFault::of(&err);
        // A status is read only from an error the service answered; a response that could not
        // be read stays an S3 failure.
        let answered = matches!(err, SdkError::ServiceError(_));
        // S3 answers HEAD-style errors without a body, so a 404 or 403 may carry no code.
        let code = match (fault.code.as_deref().unwrap_or_default(), fault.status) {
            ("", Some(404)) if answered => "NotFound",
            ("", Some(403)) if answered => "Forbidden",
            (code, _) => code,
        };
        match code {
            "NoSuchKey" | "NoSuchBucket" | "NotFound" => ArtifactError::ObjectNotFound { location },
            c if cfn_deployer_aws::is_access_denied(Some(c), &fault.message) => {
                ArtifactError::AccessDenied {
                    location,
                    message: fault.message.clone(),
                }
            }
            // S3 refuses any range of a zero-byte object: it has no bytes to serve.
            "InvalidRange" => ArtifactError::Empty { location },
            _ => ArtifactError::S3 {
                location,
                message: fault.to_text(),
            },
        }
    }

    /// Fetches `range`, or with `None` for its start the last `range.end` bytes (a suffix
    /// range). Returns where the data starts, the data and the object's size. A server that
    /// ignores the range is read as a stream and only the wanted window is kept.
    pub(crate) async fn get(
        &mut self,
        start: Option<u64>,
        end_or_len: u64,
    ) -> Result<(u64, Vec<u8>, u64), ArtifactError> {
        let header = match start {
            Some(s) => format!("bytes={s}-{}", end_or_len.saturating_sub(1)),
            None => format!("bytes=-{end_or_len}"),
        };
        self.stats.gets += 1;
        let out = self
            .s3
            .get_object()
            .bucket(&self.location.bucket)
            .key(&self.location.key)
            .range(header)
            .send()
            .await
            .map_err(|e| self.error(e))?;
        let (window, total) = match out.content_range().and_then(parse_content_range) {
            Some((first, _last, total)) => (first..total, total),
            None => {
                // The whole object came back: keep only the window we asked for.
                let total = out
                    .content_length()
                    .and_then(|l| u64::try_from(l).ok())
                    .unwrap_or(0);
                let window = match start {
                    Some(s) => s..end_or_len.min(total),
                    None => total.saturating_sub(end_or_len)..total,
                };
                (window, total)
            }
        };
        let body_start = if out.content_range().is_some() {
            window.start
        } else {
            0
        };
        let mut body = out.body;
        let mut data = Vec::with_capacity(
            usize::try_from(window.end.saturating_sub(window.start).min(16 << 20)).unwrap_or(0),
        );
        let mut at = body_start;
        while let Some(chunk) = body.try_next().await.map_err(|e| ArtifactError::S3 {
            location: self.location.clone(),
            message: format!("the download broke off: {e}"),
        })? {
            self.stats.bytes += chunk.len() as u64;
            let chunk_range = at..at + chunk.len() as u64;
            at = chunk_range.end;
            let keep = overlap(&chunk_range, &(window.start..window.end.max(window.start)));
            if let Some(k) = keep {
                data.extend_from_slice(
                    &chunk[(k.start - chunk_range.start) as usize
                        ..(k.end - chunk_range.start) as usize],
                );
            }
            // A full-object answer need not be read past the window.
            if at >= window.end {
                break;
            }
        }
        debug!(
            gets = self.stats.gets,
            bytes = self.stats.bytes,
            "fetched artifact range"
        );
        Ok((window.start, data, total))
    }
}

fn overlap(a: &Range<u64>, b: &Range<u64>) -> Option<Range<u64>> {
    let start = a.start.max(b.start);
    let end = a.end.min(b.end);
    (start < end).then_some(start..end)
}

/// Parses `bytes FIRST-LAST/TOTAL`.
fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    Some((
        first.trim().parse().ok()?,
        last.trim().parse().ok()?,
        total.trim().parse().ok()?,
    ))
}

/// Rejects paths that could name something outside the archive root; returns the path without
/// a leading `./`.
pub fn check_path(path: &str) -> Result<&str, ArtifactError> {
    let trimmed = path.strip_prefix("./").unwrap_or(path);
    let unsafe_path = trimmed.is_empty()
        || trimmed.starts_with('/')
        || trimmed.starts_with('\\')
        || trimmed.split(['/', '\\']).any(|c| c == "..")
        || trimmed.contains('\0');
    if unsafe_path {
        return Err(ArtifactError::UnsafePath {
            path: path.to_owned(),
        });
    }
    Ok(trimmed)
}

/// Reads the file `path` from the zip archive at `location`, refusing anything over `limit`
/// bytes once decompressed. Returns its bytes and what the read cost.
pub async fn read_file(
    s3: &Client,
    location: &Location,
    path: &str,
    limit: u64,
) -> Result<(Vec<u8>, FetchStats), ArtifactError> {
    check_path(path)?;
    let mut fetch = Fetcher {
        s3,
        location,
        stats: FetchStats::default(),
    };
    let (start, tail, total) = fetch.get(None, TAIL_BYTES).await?;
    let view = Sparse::new(total);
    view.insert(start, tail);
    let mut extraction = Extraction::new(view.clone(), location, path, limit)?;
    loop {
        match extraction.step()? {
            Need::Done(bytes) => return Ok((bytes, fetch.stats)),
            Need::Range(_) if fetch.stats.gets >= MAX_GETS => {
                return Err(ArtifactError::NotZip {
                    location: location.clone(),
                    reason: format!(
                        "reading it took more than {MAX_GETS} requests; the archive is malformed"
                    ),
                })
            }
            Need::Range(range) => {
                let (s, d, _) = fetch.get(Some(range.start), range.end).await?;
                view.insert(s, d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parses() {
        assert_eq!(parse_content_range("bytes 10-19/100"), Some((10, 19, 100)));
        assert_eq!(parse_content_range("bytes */100"), None);
    }

    #[test]
    fn paths_that_escape_are_refused() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a\\..\\x", "a\0b"] {
            assert!(
                matches!(check_path(bad), Err(ArtifactError::UnsafePath { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(check_path("./infra/t.yaml").ok(), Some("infra/t.yaml"));
        assert_eq!(check_path("t.yaml").ok(), Some("t.yaml"));
    }
}
