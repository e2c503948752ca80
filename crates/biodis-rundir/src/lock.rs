//! Locks on study and run directories, so that two processes never train the same runs.
//!
//! A lock is a file created with `O_CREAT | O_EXCL` holding the owner's pid, host, start time
//! and command line; it is removed when the [`Lock`] is dropped. A lock left by a process that
//! no longer exists on this host (killed with `kill -9`, a crashed node's job restarted here) is
//! taken over; a lock held by a live process, or by a process on another host (which this host
//! cannot check), is an error naming the holder.

use crate::RunDirError;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub pid: u32,
    pub host: String,
    /// Seconds since the Unix epoch when the lock was taken.
    pub since: u64,
    /// The holder's command line.
    #[serde(default)]
    pub command: String,
}

/// A held lock; released (its file removed) on drop.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

/// This machine's host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`, else `localhost`).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// True if a process with this id exists on this machine (Linux `/proc`).
pub fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

impl Lock {
    /// Takes the lock at `path` (`what` names the locked thing in the error: "the study",
    /// "the run"). Fails with [`RunDirError::Locked`] when another live process holds it.
    pub fn acquire(path: &Path, what: &'static str) -> Result<Lock, RunDirError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| RunDirError::io(dir, e))?;
        }
        let me = LockHolder {
            pid: std::process::id(),
            host: hostname(),
            since: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            command: std::env::args().collect::<Vec<_>>().join(" "),
        };
        let body = serde_json::to_vec_pretty(&me).map_err(|e| RunDirError::damaged(path, e))?;
        for _ in 0..3 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut f) => {
                    f.write_all(&body)
                        .and_then(|_| f.sync_all())
                        .map_err(|e| RunDirError::io(path, e))?;
                    return Ok(Lock {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(path)
                        .ok()
                        .and_then(|t| serde_json::from_str::<LockHolder>(&t).ok());
                    match holder {
                        // ours (a nested acquire in this process) or a dead process here: stale
                        Some(h) if h.host == me.host && (h.pid == me.pid || !pid_alive(h.pid)) => {
                            let _ = std::fs::remove_file(path);
                        }
                        Some(h) => {
                            return Err(RunDirError::Locked {
                                path: path.to_path_buf(),
                                what,
                                holder: h,
                            })
                        }
                        // being written this instant, or damaged: a damaged lock older than
                        // a few seconds is stale
                        None => {
                            let old = std::fs::metadata(path)
                                .and_then(|m| m.modified())
                                .ok()
                                .and_then(|t| t.elapsed().ok())
                                .is_some_and(|d| d.as_secs() >= 5);
                            if old {
                                let _ = std::fs::remove_file(path);
                            } else {
                                std::thread::sleep(std::time::Duration::from_millis(100));
                            }
                        }
                    }
                }
                Err(e) => return Err(RunDirError::io(path, e)),
            }
        }
        Err(RunDirError::io(
            path,
            std::io::Error::other("could not take the lock (it keeps reappearing)"),
        ))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_holder_is_named_and_a_dead_one_taken_over() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(".biodis.lock");
        // pid 1 is alive on every Linux machine
        let other = LockHolder {
            pid: 1,
            host: hostname(),
            since: 0,
            command: "biodis run fig2".into(),
        };
        std::fs::write(&p, serde_json::to_vec(&other).unwrap()).unwrap();
        let e = Lock::acquire(&p, "the study").unwrap_err().to_string();
        assert!(
            e.contains("pid 1 on host") && e.contains("biodis run fig2"),
            "{e}"
        );
        // another host cannot be checked: held
        let remote = LockHolder {
            pid: 4194304,
            host: "node17".into(),
            ..other.clone()
        };
        std::fs::write(&p, serde_json::to_vec(&remote).unwrap()).unwrap();
        assert!(Lock::acquire(&p, "the study").is_err());
        // a dead process on this host: stale, taken over, released on drop
        let dead = LockHolder {
            pid: 4194304,
            ..other
        };
        std::fs::write(&p, serde_json::to_vec(&dead).unwrap()).unwrap();
        {
            let l = Lock::acquire(&p, "the study").unwrap();
            assert_eq!(l.path(), p);
            assert!(p.exists());
        }
        assert!(!p.exists());
    }
}
