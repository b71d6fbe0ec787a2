//! Zipping a local folder the way CodePipeline stores an artifact.

use std::fs::File;
use std::io::{self, Seek, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// Zips every file under `dir` into `out`, with paths relative to `dir` and `/` separators.
pub fn zip_dir<W: Write + Seek>(dir: &Path, out: W) -> io::Result<W> {
    let mut zip = ZipWriter::new(out);
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut stack = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    // A stable order gives the same archive for the same folder.
    files.sort();
    for path in files {
        let name = path
            .strip_prefix(dir)
            .map_err(io::Error::other)?
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        zip.start_file(name, options).map_err(io::Error::other)?;
        io::copy(&mut File::open(&path)?, &mut zip)?;
    }
    zip.finish().map_err(io::Error::other)
}
