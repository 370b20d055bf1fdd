//! The duplicate screens of stored items (see `candidates`) in a file beside the database: one
//! fixed-size record per LSH item number, at an offset computed from the number.
//!
//! As a SQLite table the screens cost the writer 18 µs per item with a million items stored
//! (a statement's round trip to SQLite's thread and a row message per candidate, even with
//! every page cached), against none with ten thousand, whose candidates are all in memory; a
//! positioned read is one system call (docs/PERFORMANCE.md, session 24). The file is derived
//! state: it is written afresh from `feedback_signals` at every start, so a crash can leave it
//! behind the store but never wrong for long, and it needs no fsync. Every record names its item,
//! so a record that was never written (a hole, a file cut short) reads as no screen, and an item
//! without a screen is read from the store: a missing screen changes no decision either.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::Result;
use crate::signals::dedup::SIGNATURE_LEN;

/// The file's name in the data dir.
pub(super) const SCREENS_FILE: &str = "duplicate-screens.bin";

/// A record: the item number (u32), the text hash (i64) and one low byte per signature slot,
/// little-endian. Item 0 never exists, so a record of zeros names no item.
const RECORD_LEN: usize = 4 + 8 + SIGNATURE_LEN;

/// An item's screen: its text hash and the low byte of each slot of its signature.
pub(super) struct Screen {
    pub item: u32,
    pub text_hash: i64,
    pub low_bytes: Vec<u8>,
}

/// The screens file, open for reading and writing.
pub(super) struct ScreenFile {
    file: File,
    /// Records of one run of consecutive items, encoded for one write (kept for its memory).
    run: Vec<u8>,
}

fn offset(item: u32) -> u64 {
    u64::from(item) * RECORD_LEN as u64
}

impl ScreenFile {
    /// Opens the file at `path` emptied: the caller writes the screens of every stored item.
    pub fn create(path: &Path) -> Result<ScreenFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(ScreenFile {
            file,
            run: Vec::new(),
        })
    }

    /// Writes `screens`, each run of consecutive item numbers in one system call. A screen of a
    /// signature of another length is not written: its item is then read from the store.
    pub fn write(&mut self, screens: &[Screen]) -> Result<()> {
        let mut first: Option<u32> = None;
        let mut next = 0u32;
        for screen in screens {
            if screen.low_bytes.len() != SIGNATURE_LEN {
                continue;
            }
            if first.is_some() && screen.item != next {
                self.flush_run(first.take())?;
            }
            first.get_or_insert(screen.item);
            next = screen.item.wrapping_add(1);
            self.run.extend_from_slice(&screen.item.to_le_bytes());
            self.run.extend_from_slice(&screen.text_hash.to_le_bytes());
            self.run.extend_from_slice(&screen.low_bytes);
        }
        self.flush_run(first)
    }

    fn flush_run(&mut self, first: Option<u32>) -> Result<()> {
        if let Some(first) = first {
            self.file.write_all_at(&self.run, offset(first))?;
        }
        self.run.clear();
        Ok(())
    }

    /// The screen of `item`, or `None` if the file holds none for it.
    pub fn read(&self, item: u32) -> Result<Option<(i64, [u8; SIGNATURE_LEN])>> {
        let mut record = [0u8; RECORD_LEN];
        match self.file.read_exact_at(&mut record, offset(item)) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::UnexpectedEof => return Ok(None),
            Err(error) => return Err(error.into()),
        }
        let (named, rest) = record.split_at(4);
        let (text_hash, low_bytes) = rest.split_at(8);
        if u32::from_le_bytes(named.try_into().expect("4 bytes")) != item {
            return Ok(None);
        }
        Ok(Some((
            i64::from_le_bytes(text_hash.try_into().expect("8 bytes")),
            low_bytes.try_into().expect("SIGNATURE_LEN bytes"),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(item: u32) -> Screen {
        Screen {
            item,
            text_hash: -i64::from(item),
            low_bytes: vec![item as u8; SIGNATURE_LEN],
        }
    }

    #[test]
    fn screens_read_back_and_items_never_written_have_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SCREENS_FILE);
        let mut file = ScreenFile::create(&path).unwrap();
        // Two runs with a hole between them, and a screen of a signature of another length.
        let mut odd = screen(9);
        odd.low_bytes.truncate(64);
        file.write(&[screen(1), screen(2), screen(5), odd]).unwrap();
        for item in [1, 2, 5] {
            assert_eq!(
                file.read(item).unwrap(),
                Some((-i64::from(item), [item as u8; SIGNATURE_LEN]))
            );
        }
        for item in [3, 4, 9, 1000] {
            assert_eq!(file.read(item).unwrap(), None, "item {item}");
        }
        // A later batch fills the hole and overwrites nothing else.
        file.write(&[screen(3), screen(4)]).unwrap();
        assert_eq!(file.read(4).unwrap().unwrap().0, -4);
        assert_eq!(file.read(5).unwrap().unwrap().0, -5);
    }

    #[test]
    fn a_file_created_again_holds_nothing_from_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SCREENS_FILE);
        ScreenFile::create(&path)
            .unwrap()
            .write(&[screen(1), screen(2)])
            .unwrap();
        let file = ScreenFile::create(&path).unwrap();
        assert_eq!(file.read(1).unwrap(), None);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }
}
