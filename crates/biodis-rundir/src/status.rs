//! `status.json`: the state of one run.

use serde::{Deserialize, Serialize};

/// State of a run in `status.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Prepared, not started.
    Queued,
    /// A process is training it (see [`Status::pid`]).
    Running,
    /// Finished: `result.json` holds its numbers.
    Done,
    /// Stopped with an error ([`Status::error`]).
    Failed,
}

/// Contents of `status.json` (written with a `schema_version` key by [`crate::RunDir::write_status`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
    /// Last step reached (for `failed`, the step that failed).
    #[serde(default)]
    pub step: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Loss terms at the failure, when a loss became non-finite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_terms: Option<crate::LossTerms>,
    /// Process id of the worker while `running` (filled in by [`crate::RunDir::write_status`]), so
    /// `biodis status` can tell a live run from an interrupted one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Host of that worker (a Slurm task runs on another node than `biodis status`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl Status {
    /// A status with only a state and step.
    pub fn new(state: State, step: u64) -> Self {
        Status {
            state,
            step,
            error: None,
            loss_terms: None,
            pid: None,
            host: None,
        }
    }

    /// A `failed` status with its error message.
    pub fn failed(step: u64, error: impl Into<String>) -> Self {
        Status {
            error: Some(error.into()),
            ..Status::new(State::Failed, step)
        }
    }

    /// The state to show a user: `interrupted` for a `running` run whose process (on this
    /// host) no longer exists, else the state's name.
    pub fn shown_state(&self) -> String {
        if self.state == State::Running {
            if let Some(pid) = self.pid {
                let here = self.host.as_deref().is_none_or(|h| h == crate::hostname());
                if here && !crate::pid_alive(pid) {
                    return "interrupted".into();
                }
            }
        }
        format!("{:?}", self.state).to_lowercase()
    }
}
