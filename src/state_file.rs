//! `--state-file PATH`: the app's state and version on disk, so a restart
//! resumes where the last acknowledged click left it.
//!
//! Every change is written to `PATH.tmp`, fsynced, renamed over `PATH` and
//! the directory fsynced, all before the click is acknowledged: a crash at
//! any moment leaves either the old file or the new one. A file that is not
//! exactly what this app wrote (truncated, corrupted, another app's) stops
//! start-up with an error saying so, and is never overwritten.
//!
//! Format (little-endian):
//!
//! | bytes | field |
//! | --- | --- |
//! | 8 | magic `X64WASM\0` |
//! | 4 | format version (3) |
//! | 4 + n | the app's id, [`App::id`](crate::App::id) (length, UTF-8) |
//! | 4 | state size |
//! | 8 | version |
//! | size | the state bytes |
//! | 4 + m | the clicks answered (length, then the table of `server/clicks.rs`) |
//! | 32 | SHA-256 of everything before |
//!
//! Format 2, the same without the clicks, is read as having none.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"X64WASM\0";
/// Format 1 named the app by its state type's `std::any::type_name`, which
/// Rust does not keep stable across compiler versions; format 2 had no
/// clicks table.
const FORMAT: u32 = 3;
/// The oldest format this build reads.
const FORMAT_READ: u32 = 2;

/// What a state file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    /// The version.
    pub version: u64,
    /// The state's bytes.
    pub state: Vec<u8>,
    /// The clicks answered (empty for none).
    pub clicks: Vec<u8>,
}

/// A state file of one app.
#[derive(Clone, Debug)]
pub struct StateFile {
    path: PathBuf,
    app: String,
    size: usize,
}

impl StateFile {
    /// The state file at `path` of the app `app`, whose states are `size` bytes.
    pub fn new(path: &Path, app: &str, size: usize) -> StateFile {
        // A save past a file-size limit (`ulimit -f`, systemd's
        // LimitFSIZE) would raise SIGXFSZ, which kills the process; ignored,
        // the write fails with EFBIG and the click is undone and refused.
        // SAFETY: setting a signal's disposition to "ignore" has no handler
        // to race with.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        }
        StateFile {
            path: path.to_path_buf(),
            app: app.to_string(),
            size,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved version and state bytes; `Ok(None)` when there is no file
    /// yet. `Err` explains what is wrong with a file that exists.
    pub fn load(&self) -> Result<Option<Saved>, String> {
        let data = match std::fs::read(&self.path) {
            Ok(data) => data,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "cannot read state file {}: {e}",
                    self.path.display()
                ))
            }
        };
        self.decode(&data).map(Some).map_err(|why| {
            format!(
                "state file {} {why}; it was left untouched: restore it, or move it away to start \
                 from the initial state",
                self.path.display()
            )
        })
    }

    fn decode(&self, data: &[u8]) -> Result<Saved, String> {
        if !data.starts_with(MAGIC) {
            return Err(if MAGIC.starts_with(data) {
                format!("is truncated ({} bytes)", data.len())
            } else {
                "is not an x64wasm state file".into()
            });
        }
        // An intact file ends with the checksum of the rest; a file that does
        // not is truncated (shorter than its fields say) or corrupt.
        let intact = data.len() >= MAGIC.len() + 32 && {
            let (body, sum) = data.split_at(data.len() - 32);
            Sha256::digest(body).as_slice() == sum
        };
        let mut r = Reader {
            data,
            at: MAGIC.len(),
        };
        let parsed = (|| {
            let format = r.u32()?;
            let name_len = r.u32()? as usize;
            let name = String::from_utf8_lossy(r.take(name_len)?).into_owned();
            let size = r.u32()? as usize;
            let version = r.u64()?;
            let state = r.take(size)?.to_vec();
            let clicks = match format {
                3.. => {
                    let length = r.u32()? as usize;
                    r.take(length)?.to_vec()
                }
                _ => Vec::new(),
            };
            r.take(32)?;
            Ok::<_, String>((format, name, size, version, state, clicks))
        })();
        if !intact {
            return Err(match parsed {
                Err(truncated) => truncated,
                Ok(_) if r.at < data.len() => {
                    format!("has {} unexpected bytes at the end", data.len() - r.at)
                }
                Ok(_) => "is corrupt (its checksum does not match)".into(),
            });
        }
        let (format, name, size, version, state, clicks) = parsed?;
        if !(FORMAT_READ..=FORMAT).contains(&format) {
            return Err(format!(
                "has format {format}, this build reads formats {FORMAT_READ} to {FORMAT}"
            ));
        }
        if name != self.app {
            return Err(format!(
                "holds the state of app `{name}` ({size} bytes), not of this app `{}` ({} bytes)",
                self.app, self.size
            ));
        }
        if size != self.size {
            return Err(format!(
                "holds a state of {size} bytes, but this build of `{name}` has a state of {} \
                 bytes (its layout changed: give App::id a new id when it does)",
                self.size
            ));
        }
        if r.at != data.len() {
            return Err(format!(
                "has {} unexpected bytes at the end",
                data.len() - r.at
            ));
        }
        Ok(Saved {
            version,
            state,
            clicks,
        })
    }

    /// Writes version, state and the clicks answered durably, all at once:
    /// temporary file, fsync, rename, fsync of the directory.
    pub fn save(&self, version: u64, state: &[u8], clicks: &[u8]) -> std::io::Result<()> {
        let mut data = Vec::with_capacity(state.len() + clicks.len() + 100);
        data.extend_from_slice(MAGIC);
        data.extend_from_slice(&FORMAT.to_le_bytes());
        data.extend_from_slice(&(self.app.len() as u32).to_le_bytes());
        data.extend_from_slice(self.app.as_bytes());
        data.extend_from_slice(&(state.len() as u32).to_le_bytes());
        data.extend_from_slice(&version.to_le_bytes());
        data.extend_from_slice(state);
        data.extend_from_slice(&(clicks.len() as u32).to_le_bytes());
        data.extend_from_slice(clicks);
        let sum = Sha256::digest(&data);
        data.extend_from_slice(&sum);

        let mut tmp_name = self.path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(&data)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &self.path)?;
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    }
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| format!("is truncated ({} bytes)", self.data.len()))?;
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("x64wasm-state-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("state.bin")
    }

    #[test]
    fn saves_loads_and_refuses_anything_else_without_touching_it() {
        let path = temp("roundtrip");
        let file = StateFile::new(&path, "demo", 4);
        assert_eq!(file.load(), Ok(None), "no file yet");
        file.save(7, &[1, 2, 3, 4], b"clicks").unwrap();
        let saved = Saved {
            version: 7,
            state: vec![1, 2, 3, 4],
            clicks: b"clicks".to_vec(),
        };
        assert_eq!(file.load(), Ok(Some(saved)));
        let good = std::fs::read(&path).unwrap();

        let mut flipped = good.clone();
        flipped[good.len() - 34] ^= 1; // (in the clicks)
        let cases: &[(Vec<u8>, &str)] = &[
            (good[..good.len() - 1].to_vec(), "is truncated"),
            (good[..10].to_vec(), "is truncated"),
            (Vec::new(), "is truncated"),
            (flipped, "is corrupt (its checksum does not match)"),
            (
                [&good[..], b"x"].concat(),
                "has 1 unexpected bytes at the end",
            ),
            (b"{\"json\": true}".to_vec(), "is not an x64wasm state file"),
        ];
        for (bytes, why) in cases {
            std::fs::write(&path, bytes).unwrap();
            let err = file.load().unwrap_err();
            assert!(err.contains(why), "{err}");
            assert!(err.contains("left untouched"), "{err}");
            assert_eq!(
                &std::fs::read(&path).unwrap(),
                bytes,
                "never rewritten by load"
            );
        }
        std::fs::write(&path, &good).unwrap();
        let other = StateFile::new(&path, "other", 4).load().unwrap_err();
        assert!(
            other.contains(
                "holds the state of app `demo` (4 bytes), not of this app `other` (4 bytes)"
            ),
            "{other}"
        );
        // A format-2 file (no clicks), intact: read as having none.
        let without_clicks = good.len() - 32 - 4 - b"clicks".len();
        let mut two = good[..without_clicks].to_vec();
        two[8..12].copy_from_slice(&2u32.to_le_bytes());
        let sum = Sha256::digest(&two);
        two.extend_from_slice(&sum);
        std::fs::write(&path, &two).unwrap();
        let read = file.load().unwrap().unwrap();
        assert_eq!((read.version, read.clicks.len()), (7, 0));
        // A format-1 file (the app named by its type), intact.
        two[8..12].copy_from_slice(&1u32.to_le_bytes());
        let mut one = two[..two.len() - 32].to_vec();
        let sum = Sha256::digest(&one);
        one.extend_from_slice(&sum);
        std::fs::write(&path, &one).unwrap();
        let err = file.load().unwrap_err();
        assert!(
            err.contains("has format 1, this build reads formats 2 to 3"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
