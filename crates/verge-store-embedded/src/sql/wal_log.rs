//! A replicated Durable Object's log entries, made of its SQLite file's WAL frames: an entry is
//! the frames of one or more commits — each a page's number, the database's size after a
//! commit, and the page — prefixed by the page size. Pages are physical, so a copy rebuilt from
//! the entries is the very file the owner had, whatever its SQL did (`random()`, the time, DDL),
//! which replaying statements would not give.
//!
//! The owner reads the frames its commits appended to the WAL since the last entry
//! ([`frames_after`]); no checkpoint moves them meanwhile, since the connection's automatic
//! checkpoints are off and the owner checkpoints only once the log has every frame. Another
//! server writes an entry's pages straight into its copy of the file ([`apply`]), as a
//! checkpoint would. A snapshot ([`snapshot`]) is an entry of every page of the file, which
//! applies the same way.

use std::fs::File;
use std::io::{Read, Seek as _, SeekFrom};
use std::path::Path;
use verge_storage::StorageError;

/// The WAL file's header, then each frame's.
const WAL_HEADER: u64 = 32;
const FRAME_HEADER: usize = 24;

fn be32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

/// SQLite writes a page size of 65,536 as 1.
fn page_size(field: u32) -> u32 {
    if field == 1 {
        65_536
    } else {
        field
    }
}

fn corrupt(what: &str) -> StorageError {
    StorageError::Backend(format!(
        "a Durable Object's replication log entry is malformed: {what}"
    ))
}

/// The committed frames of the WAL at `wal` from byte `from` up to `committed` (where its last
/// commit ends), as one log entry, and the offset after the last of them; `None` when there are
/// none.
pub(super) fn frames_after(
    wal: &Path,
    from: u64,
    committed: u64,
) -> std::io::Result<Option<(Vec<u8>, u64)>> {
    let mut file = match File::open(wal) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut header = [0; WAL_HEADER as usize];
    if file.read_exact(&mut header).is_err() {
        return Ok(None);
    }
    let page = page_size(be32(&header, 8));
    let salts = &header[16..24];
    let start = from.max(WAL_HEADER);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.take(committed.saturating_sub(start))
        .read_to_end(&mut tail)?;
    let frame = FRAME_HEADER + page as usize;
    // Frames of this WAL's generation, up to the last commit frame: anything after it was
    // written by a transaction that rolled back.
    let mut committed = 0;
    for (index, chunk) in tail.chunks_exact(frame).enumerate() {
        if &chunk[8..16] != salts {
            break;
        }
        if be32(chunk, 4) != 0 {
            committed = (index + 1) * frame;
        }
    }
    if committed == 0 {
        return Ok(None);
    }
    let mut entry = Vec::with_capacity(4 + committed);
    entry.extend_from_slice(&page.to_be_bytes());
    entry.extend_from_slice(&tail[..committed]);
    Ok(Some((entry, start + committed as u64)))
}

/// Writes the pages of `entry` into the database file `file` (not open in SQLite), cutting it
/// to the size each commit gives. Frames after an entry's last commit are not applied.
pub(super) fn apply(file: &mut File, entry: &[u8]) -> Result<(), StorageError> {
    use std::io::Write as _;
    if entry.is_empty() {
        return Ok(());
    }
    if entry.len() < 4 {
        return Err(corrupt("it is shorter than its header"));
    }
    let page = page_size(be32(entry, 0));
    if !page.is_power_of_two() || !(512..=65_536).contains(&page) {
        return Err(corrupt(&format!("page size {page}")));
    }
    let frame = FRAME_HEADER + page as usize;
    let frames = &entry[4..];
    if !frames.len().is_multiple_of(frame) {
        return Err(corrupt("it does not hold whole frames"));
    }
    let failed = |e: std::io::Error| StorageError::Backend(format!("applying a log entry: {e}"));
    let mut pending = Vec::new();
    for chunk in frames.chunks_exact(frame) {
        pending.push(chunk);
        let size = be32(chunk, 4);
        if size == 0 {
            continue;
        }
        for frame in pending.drain(..) {
            let number = be32(frame, 0);
            if number == 0 {
                return Err(corrupt("page number 0"));
            }
            let offset = u64::from(number - 1) * u64::from(page);
            file.seek(SeekFrom::Start(offset)).map_err(failed)?;
            file.write_all(&frame[FRAME_HEADER..]).map_err(failed)?;
        }
        file.set_len(u64::from(size) * u64::from(page))
            .map_err(failed)?;
    }
    Ok(())
}

/// The database file at `path` (whose WAL is empty) as one entry: every page, the last one
/// committing the file's size.
pub(super) fn snapshot(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::read(path)?;
    let page = if file.len() >= 100 {
        page_size(u32::from(u16::from_be_bytes([file[16], file[17]])))
    } else {
        4096
    };
    let pages = file.len() / page as usize;
    let mut entry = Vec::with_capacity(4 + pages * (FRAME_HEADER + page as usize));
    entry.extend_from_slice(&page.to_be_bytes());
    for (index, content) in file.chunks_exact(page as usize).enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let commit = if index + 1 == pages {
            u32::try_from(pages).unwrap_or(u32::MAX)
        } else {
            0
        };
        entry.extend_from_slice(&number.to_be_bytes());
        entry.extend_from_slice(&commit.to_be_bytes());
        entry.extend_from_slice(&[0; FRAME_HEADER - 8]);
        entry.extend_from_slice(content);
    }
    Ok(entry)
}
