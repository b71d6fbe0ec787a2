//! Extracting one file from a zip archive of which only some byte ranges are held: a pure
//! state machine that either finishes or names the range it needs next.

use std::io::Read;
use std::ops::Range;

use zip::read::{ArchiveOffset, Config};
use zip::result::ZipError;
use zip::ZipArchive;

use crate::sparse::Sparse;
use crate::{check_path, ArtifactError, Location, MAX_CENTRAL_DIRECTORY, TAIL_BYTES};

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
            // A server that ignores ranges answers an empty object with no bytes, not a refusal.
            return Err(ArtifactError::Empty {
                location: self.location.clone(),
            });
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
