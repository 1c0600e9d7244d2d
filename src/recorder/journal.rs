//! The spill file: decisions the store could not take yet, one JSON object per line.
//!
//! One router owns a journal at a time (an exclusive lock on `<journal>.lock`); the file and the
//! lock are mode 0600 in a directory created 0700. Appends never glue onto a torn last line (a
//! crash mid-write): they start with a newline when the file does not end in one, and replay
//! skips the torn line. The file never grows past its cap; replay reads it in batches from where
//! the last batch ended, never the whole file at once.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::domain::DecisionRecord;

/// Why a journal cannot be used; one line that names the file.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file, its directory or its lock file cannot be created or written.
    #[error(
        "decision journal {}: cannot write {}: {cause} (set router.journal_path to a file this user can write)",
        path.display(),
        at.display()
    )]
    Unwritable {
        /// The journal.
        path: PathBuf,
        /// What could not be created or written: the journal, its directory or its lock file.
        at: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// Another router holds the journal's lock.
    #[error(
        "decision journal {}: in use by another router (its lock {} is held); give each router its own router.journal_path",
        path.display(),
        lock.display()
    )]
    InUse {
        /// The journal.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
}

/// An append-only NDJSON file of decisions waiting for the store, owned by this router.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    /// Held open, and so locked, for as long as the journal is.
    _lock: File,
    max_bytes: u64,
    /// The file's size, as this journal wrote it.
    size: u64,
    /// The file does not end in a newline: the next append must not glue onto its last line.
    torn: bool,
    /// Bytes from the start already replayed into the store.
    replayed: u64,
}

/// The next decisions to replay, and where in the file they end.
#[derive(Debug)]
pub struct ReplayBatch {
    /// Decisions read, in file order (unreadable lines are skipped).
    pub decisions: Vec<DecisionRecord>,
    /// The offset just past the last line read: pass it to [`Journal::replayed_to`] once stored.
    pub end: u64,
}

impl Journal {
    /// Opens the journal at `path` (creating its directory), takes its lock, and checks that it
    /// can be written; the file itself is created on the first append. At most `max_bytes` long.
    pub fn open(path: impl Into<PathBuf>, max_bytes: u64) -> Result<Journal, JournalError> {
        let path: PathBuf = path.into();
        let unwritable = |at: &Path| {
            let (path, at) = (path.clone(), at.to_path_buf());
            move |cause| JournalError::Unwritable { path, at, cause }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(unwritable(dir))?;
        }
        let lock_path = lock_path(&path);
        let lock = owner_only()
            .read(true)
            .write(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(unwritable(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(JournalError::InUse {
                    path: path.clone(),
                    lock: lock_path,
                });
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(unwritable(&lock_path)(source)),
        }
        let (size, torn) = match OpenOptions::new().read(true).append(true).open(&path) {
            Ok(mut file) => {
                file.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .map_err(unwritable(&path))?;
                tail(&mut file).map_err(unwritable(&path))?
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => (0, false),
            Err(err) => return Err(unwritable(&path)(err)),
        };
        Ok(Journal {
            path,
            _lock: lock,
            max_bytes,
            size,
            torn,
            replayed: 0,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether decisions remain that were not replayed yet.
    pub fn has_unreplayed(&self) -> bool {
        self.replayed < self.size
    }

    /// Appends as many of `decisions` as fit under the cap, oldest first, and syncs them to disk;
    /// returns how many were written. Blocking: call from a blocking context.
    pub fn append(&mut self, decisions: &[DecisionRecord]) -> std::io::Result<usize> {
        let room = self.max_bytes.saturating_sub(self.size);
        let mut out = Vec::with_capacity(decisions.len().min(4096) * 512);
        if self.torn {
            out.push(b'\n');
        }
        let mut written = 0;
        for decision in decisions {
            let start = out.len();
            serde_json::to_writer(&mut out, decision).map_err(std::io::Error::other)?;
            out.push(b'\n');
            if out.len() as u64 > room {
                out.truncate(start);
                break;
            }
            written += 1;
        }
        if written == 0 {
            return Ok(0);
        }
        let mut file = owner_only().append(true).open(&self.path)?;
        let result = file.write_all(&out).and_then(|()| file.sync_data());
        if let Err(err) = result {
            // Part of the buffer may be on disk: learn where the file really ends.
            let mut file = OpenOptions::new().read(true).open(&self.path)?;
            (self.size, self.torn) = tail(&mut file)?;
            return Err(err);
        }
        self.size += out.len() as u64;
        self.torn = false;
        Ok(written)
    }

    /// Reads up to `max` decisions after the part already replayed, line by line. A line that
    /// cannot be read (a torn line from a crash) is skipped with a warning. Blocking.
    pub fn read_batch(&self, max: usize) -> std::io::Result<ReplayBatch> {
        let mut batch = ReplayBatch {
            decisions: Vec::new(),
            end: self.replayed,
        };
        if !self.has_unreplayed() {
            return Ok(batch);
        }
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(self.replayed))?;
        let mut reader = BufReader::new(file.take(self.size - self.replayed));
        let mut line = Vec::new();
        while batch.decisions.len() < max {
            line.clear();
            let read = reader.read_until(b'\n', &mut line)?;
            if read == 0 {
                break;
            }
            batch.end += read as u64;
            let text = line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            match serde_json::from_slice(text) {
                Ok(decision) => batch.decisions.push(decision),
                Err(err) => tracing::warn!(
                    journal = %self.path.display(), offset = batch.end - read as u64, %err,
                    "skipping an unreadable journal line"
                ),
            }
        }
        Ok(batch)
    }

    /// Marks the journal as replayed up to `end`; once all of it is, the file is removed.
    pub fn replayed_to(&mut self, end: u64) -> std::io::Result<()> {
        self.replayed = end.min(self.size);
        if self.has_unreplayed() {
            return Ok(());
        }
        match std::fs::remove_file(&self.path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
            _ => {}
        }
        (self.size, self.torn, self.replayed) = (0, false, 0);
        Ok(())
    }
}

/// The lock file of the journal at `path`: `<path>.lock`.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Options that create a file readable and writable by its owner only.
fn owner_only() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true).mode(0o600);
    options
}

/// The file's size, and whether it ends in the middle of a line.
fn tail(file: &mut File) -> std::io::Result<(u64, bool)> {
    let size = file.seek(SeekFrom::End(0))?;
    if size == 0 {
        return Ok((0, false));
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok((size, last[0] != b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::tests::decision;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn replay_all(journal: &mut Journal, batch: usize) -> Vec<DecisionRecord> {
        let mut all = Vec::new();
        while journal.has_unreplayed() {
            let next = journal.read_batch(batch).unwrap();
            assert!(next.decisions.len() <= batch);
            all.extend(next.decisions);
            journal.replayed_to(next.end).unwrap();
        }
        all
    }

    #[test]
    fn files_are_for_their_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/farmhand/journal.ndjson");
        let mut journal = Journal::open(&path, 1 << 20).unwrap();
        journal.append(&[decision(1)]).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&lock_path(&path)), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        drop(journal);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _reopened = Journal::open(&path, 1 << 20).unwrap();
        assert_eq!(mode(&path), 0o600, "an existing journal is narrowed to its owner");
    }

    #[test]
    fn an_append_after_a_torn_line_starts_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.ndjson");
        let mut journal = Journal::open(&path, 1 << 20).unwrap();
        journal.append(&[decision(1)]).unwrap();
        drop(journal);
        // A crash mid-write leaves half a line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"{\"request_id\":\"torn"))
            .unwrap();
        let mut journal = Journal::open(&path, 1 << 20).unwrap();
        journal.append(&[decision(2), decision(3)]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"torn\n{\"request_id\":\"req-000002\""), "{text}");
        let ids: Vec<String> = replay_all(&mut journal, 10).into_iter().map(|d| d.request_id).collect();
        assert_eq!(
            ids,
            ["req-000001", "req-000002", "req-000003"],
            "the torn line is skipped"
        );
        assert!(!path.exists(), "a fully replayed journal is removed");
    }

    #[test]
    fn the_file_never_grows_past_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.ndjson");
        let cap = 4096;
        let mut journal = Journal::open(&path, cap).unwrap();
        let batch: Vec<DecisionRecord> = (0..100).map(decision).collect();
        let taken = journal.append(&batch).unwrap();
        assert!(taken > 0 && taken < 100, "{taken}");
        assert_eq!(journal.append(&batch).unwrap(), 0, "full");
        let size = std::fs::metadata(&path).unwrap().len();
        assert_eq!(size, journal.size());
        assert!(size <= cap, "{size}");
        let replayed = replay_all(&mut journal, 7);
        assert_eq!(replayed, batch[..taken], "whole decisions, oldest first");
        assert_eq!(journal.append(&batch).unwrap(), taken, "room again once replayed");
    }

    #[test]
    fn replay_resumes_where_the_last_batch_ended_and_sees_later_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.ndjson");
        let mut journal = Journal::open(&path, 1 << 20).unwrap();
        journal.append(&(0..25).map(decision).collect::<Vec<_>>()).unwrap();
        let first = journal.read_batch(10).unwrap();
        assert_eq!(first.decisions.len(), 10);
        let again = journal.read_batch(10).unwrap();
        assert_eq!(again.decisions, first.decisions, "not marked replayed: read again");
        journal.replayed_to(first.end).unwrap();
        journal.append(&(25..30).map(decision).collect::<Vec<_>>()).unwrap();
        let rest: Vec<String> = replay_all(&mut journal, 10).into_iter().map(|d| d.request_id).collect();
        assert_eq!(rest.len(), 20);
        assert_eq!(rest.first().map(String::as_str), Some("req-000010"));
        assert_eq!(rest.last().map(String::as_str), Some("req-000029"));
    }

    #[test]
    fn old_lines_without_attempts_still_replay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.ndjson");
        let mut old = serde_json::to_value(decision(7)).unwrap();
        old.as_object_mut().unwrap().remove("attempts");
        std::fs::write(&path, format!("{old}\n")).unwrap();
        let mut journal = Journal::open(&path, 1 << 20).unwrap();
        let replayed = replay_all(&mut journal, 10);
        assert_eq!(replayed.len(), 1);
        assert_eq!(replayed[0].request_id, "req-000007");
        assert!(replayed[0].attempts.is_empty());
    }
}
