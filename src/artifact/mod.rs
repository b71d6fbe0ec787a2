//! Reading one file out of a zipped artifact in S3, fetching only the bytes it needs: the
//! archive's tail (its central directory), then the entry itself, by ranged GETs.

pub mod sparse;

use std::io::Read;
use std::ops::Range;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::Client;
use tracing::debug;
use zip::read::{ArchiveOffset, Config};
use zip::result::ZipError;
use zip::ZipArchive;

use self::sparse::Sparse;

/// How much of the object's end the first GET asks for: the end-of-central-directory record
/// with the longest comment allowed fits, and so does the central directory of most artifacts.
pub const TAIL_BYTES: u64 = 64 * 1024;

/// How many GETs one read may make; beyond it the archive is considered hostile.
const MAX_GETS: usize = 12;

/// The largest central directory read (about 200,000 entries); a larger one is refused rather
/// than held in memory.
pub const MAX_CENTRAL_DIRECTORY: u64 = 16 * 1024 * 1024;

/// Where an artifact lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The bucket.
    pub bucket: String,
    /// The object's key.
    pub key: String,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

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
    #[error("access to {location} was denied ({message}): the artifact credentials CodePipeline passed cannot read it; check the artifact bucket's policy and KMS key")]
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
struct Fetcher<'a> {
    s3: &'a Client,
    location: &'a Location,
    stats: FetchStats,
}

impl Fetcher<'_> {
    fn error<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        err: SdkError<E, HttpResponse>,
    ) -> ArtifactError {
        let location = self.location.clone();
        let fault = crate::aws::AwsFault::of(&err);
        let code = fault.code.clone().unwrap_or_default();
        let message = fault.message.clone();
        // S3 answers HEAD-style errors without a body, so a 404 or 403 may carry no code.
        let code = match (code.as_str(), &err) {
            ("", SdkError::ServiceError(ctx)) if ctx.raw().status().as_u16() == 404 => {
                "NotFound".to_owned()
            }
            ("", SdkError::ServiceError(ctx)) if ctx.raw().status().as_u16() == 403 => {
                "Forbidden".to_owned()
            }
            _ => code,
        };
        match code.as_str() {
            "NoSuchKey" | "NoSuchBucket" | "NotFound" => ArtifactError::ObjectNotFound { location },
            "AccessDenied" | "Forbidden" | "KMS.AccessDeniedException" => {
                ArtifactError::AccessDenied { location, message }
            }
            // A zero-byte object has no range to satisfy.
            "InvalidRange" => ArtifactError::NotZip {
                location,
                reason: "the object is empty".into(),
            },
            _ => ArtifactError::S3 {
                location,
                message: fault.to_text(),
            },
        }
    }

    /// Fetches `range`, or with `None` for its start the last `range.end` bytes (a suffix
    /// range). Returns where the data starts, the data and the object's size. A server that
    /// ignores the range is read as a stream and only the wanted window is kept.
    async fn get(
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

/// Rejects paths that could name something outside the archive root.
fn check_path(path: &str) -> Result<&str, ArtifactError> {
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

/// What an [`Extraction`] needs next.
#[derive(Debug, PartialEq, Eq)]
pub enum Need {
    /// These bytes of the object; hold them in the view, then step again.
    Range(Range<u64>),
    /// Nothing more: here is the file.
    Done(Vec<u8>),
}

/// Extracting one file from a zip archive of which only some ranges are held: each step either
/// finishes or names the range it needs. No I/O, so any byte source can drive it.
pub struct Extraction<'a> {
    view: Sparse,
    location: &'a Location,
    path: &'a str,
    name: &'a str,
    limit: u64,
    archive: Option<ZipArchive<Sparse>>,
    data_asked: bool,
}

impl<'a> Extraction<'a> {
    /// Starts extracting `path` (at most `limit` bytes once decompressed) from `view`.
    pub fn new(
        view: Sparse,
        location: &'a Location,
        path: &'a str,
        limit: u64,
    ) -> Result<Self, ArtifactError> {
        let name = check_path(path)?;
        Ok(Self {
            view,
            location,
            path,
            name,
            limit,
            archive: None,
            data_asked: false,
        })
    }

    fn not_zip(&self, reason: String) -> ArtifactError {
        ArtifactError::NotZip {
            location: self.location.clone(),
            reason,
        }
    }

    /// One step: the file, the next range needed, or why the file cannot be had.
    pub fn step(&mut self) -> Result<Need, ArtifactError> {
        let total = self.view.len();
        if total == 0 {
            return Err(self.not_zip("the object is empty".into()));
        }
        let config = Config {
            archive_offset: ArchiveOffset::Known(0),
        };
        let archive = match self.archive.take() {
            Some(a) => a,
            None => match ZipArchive::with_config(config, self.view.clone()) {
                Ok(a) => a,
                Err(e) => {
                    let Some(missing) = self.view.take_missed() else {
                        return Err(self.not_zip(e.to_string()));
                    };
                    // The parser reads the central directory front to back, towards the tail
                    // already held: ask for the whole gap at once.
                    let gap_end = self
                        .view
                        .next_held(missing.start)
                        .unwrap_or(total)
                        .max(missing.end);
                    if gap_end - missing.start > MAX_CENTRAL_DIRECTORY {
                        return Err(self.not_zip(format!(
                            "its central directory is over {MAX_CENTRAL_DIRECTORY} bytes; split the artifact so the template travels in a smaller one"
                        )));
                    }
                    return Ok(Need::Range(missing.start..gap_end));
                }
            },
        };
        let archive = self.archive.insert(archive);
        let Some(index) = archive.index_for_name(self.name) else {
            return Err(entry_not_found(archive, self.path));
        };
        let path = self.path;
        let limit = self.limit;
        let (data, size) = {
            let entry = archive
                .by_index_data(index)
                .map_err(|e| bad_entry(path, &e.to_string()))?;
            if entry.is_dir() {
                return Err(bad_entry(path, "it is a directory"));
            }
            if entry.enclosed_name().is_none() {
                return Err(ArtifactError::UnsafePath {
                    path: path.to_owned(),
                });
            }
            if entry.encrypted() {
                return Err(bad_entry(
                    path,
                    "it is encrypted; CodePipeline artifacts must not use zip passwords",
                ));
            }
            if entry.size() > limit {
                return Err(ArtifactError::TooLarge {
                    path: path.to_owned(),
                    size: entry.size(),
                    limit,
                });
            }
            // Deflate never grows data by more than a few bytes per 16 KiB block.
            if entry.compressed_size() > limit + limit / 64 + 1024 {
                return Err(ArtifactError::TooLarge {
                    path: path.to_owned(),
                    size: entry.compressed_size(),
                    limit,
                });
            }
            // Local header (30 bytes), its name, a typical extra field, then the data.
            let start = entry.header_start();
            let end = start
                .saturating_add(30 + entry.name_raw().len() as u64 + 64)
                .saturating_add(entry.compressed_size());
            (start.min(total)..end.min(total), entry.size())
        };
        if !self.data_asked && !data.is_empty() && !self.view.covers(data.clone()) {
            self.data_asked = true;
            return Ok(Need::Range(data));
        }
        let attempt = (|| -> Result<Vec<u8>, ZipError> {
            let mut file = archive.by_index(index)?;
            let mut out = Vec::with_capacity(usize::try_from(size.min(limit)).unwrap_or(0));
            (&mut file).take(limit + 1).read_to_end(&mut out)?;
            Ok(out)
        })();
        match attempt {
            Ok(bytes) if bytes.len() as u64 > limit => Err(ArtifactError::TooLarge {
                path: path.to_owned(),
                size: bytes.len() as u64,
                limit,
            }),
            Ok(bytes) => Ok(Need::Done(bytes)),
            Err(e) => match self.view.take_missed() {
                // The local header was longer than guessed: read on from there.
                Some(missing) => Ok(Need::Range(
                    missing.start..(missing.start + TAIL_BYTES).min(total).max(missing.end),
                )),
                None => Err(bad_entry(path, &format!("the archive is corrupt: {e}"))),
            },
        }
    }
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

fn bad_entry(path: &str, reason: &str) -> ArtifactError {
    ArtifactError::BadEntry {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

fn entry_not_found<R: Read + std::io::Seek>(archive: &ZipArchive<R>, path: &str) -> ArtifactError {
    const SAMPLE: usize = 10;
    let names: Vec<String> = archive
        .file_names()
        .filter_map(Result::ok)
        .take(SAMPLE)
        .map(|n| format!("`{n}`"))
        .collect();
    let count = archive.len();
    let mut sample = names.join(", ");
    if count > SAMPLE {
        sample.push_str(", …");
    }
    if count == 0 {
        sample = "(none)".into();
    }
    ArtifactError::EntryNotFound {
        path: path.to_owned(),
        count,
        sample,
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
