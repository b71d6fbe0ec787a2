//! A `Read + Seek` view of a remote object of which only some byte ranges are held in memory.
//! A read outside them fails and records the range it wanted, so the caller can fetch it and
//! try again; the zip parser then never triggers a network call of its own.

use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug, Default)]
struct Held {
    /// Fetched ranges, sorted by start, never overlapping.
    segments: Vec<(u64, Vec<u8>)>,
    /// The first range a read wanted and did not find, since the last `take_missed`.
    missed: Option<Range<u64>>,
}

/// A cursor over the object; clones share the held ranges.
#[derive(Debug, Clone)]
pub struct Sparse {
    len: u64,
    pos: u64,
    held: Arc<Mutex<Held>>,
}

impl Sparse {
    /// A view of an object of `len` bytes with nothing held yet.
    pub fn new(len: u64) -> Self {
        Self {
            len,
            pos: 0,
            held: Arc::default(),
        }
    }

    /// The object's size.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the object is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        // The data stays consistent even if a holder panicked: insertions are single pushes.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds `data`, fetched from `start`; the parts already held are dropped from it.
    pub fn insert(&self, start: u64, data: Vec<u8>) {
        let mut held = self.lock();
        let end = start + data.len() as u64;
        // Keep only what is new: cut the new data around the existing segments.
        let mut pieces: Vec<(u64, Vec<u8>)> = vec![(start, data)];
        for (s, d) in &held.segments {
            let (s, e) = (*s, *s + d.len() as u64);
            if e <= start || s >= end {
                continue;
            }
            let mut next = Vec::new();
            for (ps, pd) in pieces {
                let pe = ps + pd.len() as u64;
                if pe <= s || ps >= e {
                    next.push((ps, pd));
                    continue;
                }
                if ps < s {
                    next.push((ps, pd[..(s - ps) as usize].to_vec()));
                }
                if pe > e {
                    next.push((e, pd[(e - ps) as usize..].to_vec()));
                }
            }
            pieces = next;
        }
        held.segments
            .extend(pieces.into_iter().filter(|(_, d)| !d.is_empty()));
        held.segments.sort_by_key(|(s, _)| *s);
    }

    /// Whether every byte of `range` is held.
    pub fn covers(&self, range: Range<u64>) -> bool {
        let held = self.lock();
        let mut at = range.start;
        for (s, d) in &held.segments {
            let e = *s + d.len() as u64;
            if *s <= at && at < e {
                at = e;
            }
            if at >= range.end {
                return true;
            }
        }
        at >= range.end
    }

    /// Where the first held range after `pos` starts, if any.
    pub fn next_held(&self, pos: u64) -> Option<u64> {
        self.lock()
            .segments
            .iter()
            .map(|(s, _)| *s)
            .find(|s| *s > pos)
    }

    /// The range the last failed read wanted, if any; clears it.
    pub fn take_missed(&self) -> Option<Range<u64>> {
        self.lock().missed.take()
    }

    /// The bytes held, in total.
    pub fn held_bytes(&self) -> u64 {
        self.lock()
            .segments
            .iter()
            .map(|(_, d)| d.len() as u64)
            .sum()
    }
}

impl Read for Sparse {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let mut held = self.lock();
        for (s, d) in &held.segments {
            let e = *s + d.len() as u64;
            if *s <= self.pos && self.pos < e {
                let from = (self.pos - s) as usize;
                let n = buf.len().min(d.len() - from);
                buf[..n].copy_from_slice(&d[from..from + n]);
                drop(held);
                self.pos += n as u64;
                return Ok(n);
            }
        }
        let want = self.pos..self.len.min(self.pos + buf.len() as u64);
        held.missed.get_or_insert(want);
        Err(io::Error::other(NotFetched))
    }
}

impl Seek for Sparse {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the object",
            )),
        }
    }
}

/// The error a read outside the held ranges returns.
#[derive(Debug, thiserror::Error)]
#[error("byte range not fetched yet")]
pub struct NotFetched;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_held_ranges_and_records_misses() {
        let mut s = Sparse::new(100);
        s.insert(90, vec![9; 10]);
        s.seek(SeekFrom::End(-5)).expect("seek");
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).expect("held");
        assert_eq!(buf, [9; 5]);
        s.seek(SeekFrom::Start(10)).expect("seek");
        assert!(s.read(&mut buf).is_err());
        assert_eq!(s.take_missed(), Some(10..15));
        assert_eq!(s.take_missed(), None);
    }

    #[test]
    fn overlapping_inserts_keep_one_copy() {
        let s = Sparse::new(100);
        s.insert(10, vec![1; 20]);
        s.insert(0, vec![2; 40]);
        assert_eq!(s.held_bytes(), 40);
        assert!(s.covers(0..40));
        assert!(!s.covers(0..41));
        let mut r = s.clone();
        let mut all = Vec::new();
        r.seek(SeekFrom::Start(0)).expect("seek");
        (&mut r).take(40).read_to_end(&mut all).expect("read");
        assert_eq!(&all[..10], &[2; 10]);
        assert_eq!(&all[10..30], &[1; 20]);
        assert_eq!(&all[30..], &[2; 10]);
    }
}
