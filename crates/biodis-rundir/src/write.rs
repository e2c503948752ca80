//! The one write path: every file of a run or study directory (run files, summary, figures,
//! report, data files) is written here, atomically.
//!
//! A write goes to a temporary file in the destination's own folder (same filesystem, so the
//! rename is atomic), is fsynced, and is renamed over the destination. `rename` replaces a
//! symlink at the destination with the new file; it never writes through the link to its
//! target. On any error the temporary file is removed. Temporary names are
//! `.<name>.tmp<pid>-<n><.ext>`: the pid lets [`clean_stale_temps`] remove those a killed
//! process left behind, and the extension is kept so that writers that choose a format by
//! extension (PNG, SVG, GIF) work on the temporary path.

use crate::RunDirError;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temporary path beside `path` for this process (see the module docs for the name).
pub fn temp_path_for(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{name}.tmp{}-{n}{ext}", std::process::id()))
}

/// Writes `bytes` to `path` atomically. The error names the file.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), RunDirError> {
    atomic_write_with(path, |tmp| {
        let mut f = std::fs::File::create(tmp)?;
        f.write_all(bytes)?;
        Ok(())
    })
}

/// Writes `path` atomically with a writer that needs a path of its own (an image encoder, a
/// zip writer): `write` is given a temporary path beside `path` (same extension) and must
/// create and fill it; the file is then fsynced and renamed over `path`. On error the
/// temporary file is removed and `path` is left as it was.
pub fn atomic_write_with(
    path: &Path,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), RunDirError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::create_dir_all(dir).map_err(|e| RunDirError::io(path, e))?;
    let tmp = temp_path_for(path);
    let res = (|| {
        write(&tmp)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // the rename itself is durable once the folder is synced
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        RunDirError::io(path, e)
    })
}

/// Removes the temporary files (`.<name>.tmp<pid>-…`, and the older `.<name>.tmp<pid>`) that
/// processes no longer alive left in `dir` (not recursive). Returns how many were removed.
pub fn clean_stale_temps(dir: &Path) -> usize {
    clean_matching(dir, None)
}

/// Removes only the stale temporary files of one destination `path` (for folders that are not
/// biodis's own, such as the target of `biodis data`). Returns how many were removed.
pub fn clean_stale_temps_of(path: &Path) -> usize {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| format!(".{}.tmp", n.to_string_lossy()))
        .unwrap_or_default();
    clean_matching(dir, Some(&name))
}

fn clean_matching(dir: &Path, prefix: Option<&str>) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with('.') || prefix.is_some_and(|p| !name.starts_with(p)) {
            continue;
        }
        let Some(pos) = name.rfind(".tmp") else {
            continue;
        };
        let digits: String = name[pos + 4..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        let Ok(pid) = digits.parse::<u32>() else {
            continue;
        };
        if pid != std::process::id()
            && !crate::pid_alive(pid)
            && e.path().is_file()
            && std::fs::remove_file(e.path()).is_ok()
        {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_errors_name_the_file() {
        let d = tempfile::tempdir().unwrap();
        let blocker = d.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        // a folder that cannot exist: its parent is a file
        let p = blocker.join("sub").join("result.json");
        let e = atomic_write(&p, b"{}").unwrap_err().to_string();
        assert!(e.contains("sub/result.json"), "{e}");
    }

    /// A symlink at the destination is replaced by the new file; its target is untouched.
    #[test]
    fn a_symlink_is_replaced_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("precious.html");
        std::fs::write(&target, b"keep me").unwrap();
        let link = d.path().join("report.html");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        atomic_write(&link, b"new report").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
        assert!(!std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&link).unwrap(), b"new report");
    }

    /// A writer that fails leaves the old file and no temporary file.
    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fig.png");
        std::fs::write(&p, b"old").unwrap();
        let e = atomic_write_with(&p, |tmp| {
            assert_eq!(tmp.extension().unwrap(), "png");
            std::fs::write(tmp, b"half")?;
            Err(std::io::Error::other("encoder failed"))
        })
        .unwrap_err();
        assert!(e.to_string().contains("fig.png"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }

    #[test]
    fn stale_temps_of_dead_processes_are_cleaned() {
        let d = tempfile::tempdir().unwrap();
        // pid 4194304 is above Linux's pid_max: never alive
        let stale = d.path().join(".report.html.tmp4194304-0.html");
        let old_style = d.path().join(".summary.csv.tmp4194304");
        let mine = temp_path_for(&d.path().join("x.csv"));
        for p in [&stale, &old_style, &mine] {
            std::fs::write(p, b"x").unwrap();
        }
        std::fs::write(d.path().join(".hidden"), b"x").unwrap();
        assert_eq!(clean_stale_temps(d.path()), 2);
        assert!(!stale.exists() && !old_style.exists() && mine.exists());
        assert!(d.path().join(".hidden").exists());
    }
}
