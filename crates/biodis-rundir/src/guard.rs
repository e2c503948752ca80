//! The `--out` guard: a study is only ever written into a folder that is new, empty, or already
//! a biodis study, so that a typo in `--out` cannot overwrite a user's files.

use crate::{RunDirError, StudyDir};
use std::path::Path;

/// What `--out` points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutDir {
    /// Does not exist yet, or is empty.
    Fresh,
    /// Already a biodis study (extended or resumed in place).
    Study,
    /// Neither, but `force` was given.
    Forced,
}

/// Checks that `dir` may receive a study: it does not exist, is empty, or is a biodis study
/// (`study.json`, or the `runs.json`/`kind` of older studies); otherwise
/// [`RunDirError::NotAStudy`] listing a few of its entries, unless `force`.
pub fn check_out_dir(dir: &Path, force: bool) -> Result<OutDir, RunDirError> {
    if !dir.exists() {
        return Ok(OutDir::Fresh);
    }
    if !dir.is_dir() {
        return Err(RunDirError::io(
            dir,
            std::io::Error::other("exists and is not a folder"),
        ));
    }
    if StudyDir::new(dir).info()?.is_some() {
        return Ok(OutDir::Study);
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| RunDirError::io(dir, e))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    if names.is_empty() {
        return Ok(OutDir::Fresh);
    }
    if force {
        return Ok(OutDir::Forced);
    }
    names.sort();
    let n = names.len();
    let mut listing = names.into_iter().take(4).collect::<Vec<_>>().join(", ");
    if n > 4 {
        listing.push_str(&format!(" and {} more", n - 4));
    }
    Err(RunDirError::NotAStudy {
        dir: dir.to_path_buf(),
        listing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_new_empty_or_study_folders_are_accepted() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(
            check_out_dir(&d.path().join("new"), false).unwrap(),
            OutDir::Fresh
        );
        assert_eq!(check_out_dir(d.path(), false).unwrap(), OutDir::Fresh);
        std::fs::write(d.path().join("thesis.tex"), "x").unwrap();
        let e = check_out_dir(d.path(), false).unwrap_err().to_string();
        assert!(e.contains("thesis.tex") && e.contains("--force"), "{e}");
        assert_eq!(check_out_dir(d.path(), true).unwrap(), OutDir::Forced);
        std::fs::write(d.path().join("runs.json"), "[]").unwrap();
        assert_eq!(check_out_dir(d.path(), false).unwrap(), OutDir::Study);
    }
}
