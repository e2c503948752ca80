//! The error type of recipes and overrides.

/// Errors in recipes and overrides. Every message names the source (file or recipe) and the key.
#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("unknown recipe '{name}'. Available recipes: {available}. (Or give a path to a .toml file.)")]
    Unknown { name: String, available: String },
    #[error("{source_name}: cannot read: {err}")]
    Read {
        source_name: String,
        err: std::io::Error,
    },
    #[error("{source_name}: {msg}")]
    Parse { source_name: String, msg: String },
    #[error("{source_name}: key `{key}`: {msg}")]
    Key {
        source_name: String,
        key: String,
        msg: String,
    },
    /// A run configuration whose values are refused (the cause names the key).
    #[error("{source_name}: {source}")]
    Invalid {
        source_name: String,
        #[source]
        source: crate::ConfigError,
    },
    #[error("--set {arg}: {msg}")]
    Override { arg: String, msg: String },
}
