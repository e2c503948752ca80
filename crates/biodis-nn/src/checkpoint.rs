//! Checkpoints as safetensors files: named `f32` tensors (weights, Adam moments) plus string
//! metadata (step, RNG state, anything the caller needs to resume exactly).

use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::path::Path;

/// Checkpoint errors; messages name the file (when there is one).
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file's contents are not the expected tensors or metadata (`msg` says what).
    #[error("checkpoint {path}: {msg}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// The file could not be read.
    #[error("checkpoint {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The safetensors reader refused the file.
    #[error("checkpoint {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The cause.
        source: safetensors::SafeTensorError,
    },
    /// The safetensors writer refused the tensors or metadata.
    #[error("checkpoint: cannot serialise ({0})")]
    Serialize(#[from] safetensors::SafeTensorError),
    /// The serialised header could not be rewritten with sorted keys.
    #[error("checkpoint: cannot rewrite the safetensors header ({0})")]
    Header(#[from] serde_json::Error),
    /// The serialised bytes are shorter than their own header says (a writer bug).
    #[error("checkpoint: {0}")]
    Truncated(&'static str),
}

/// Serialises named tensors and metadata to safetensors bytes.
pub fn to_bytes(
    tensors: &[(&str, &[f32])],
    meta: &HashMap<String, String>,
) -> Result<Vec<u8>, CheckpointError> {
    let mut views = Vec::with_capacity(tensors.len());
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, d)| d.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    for ((name, d), b) in tensors.iter().zip(bytes.iter()) {
        let v = TensorView::new(Dtype::F32, vec![d.len()], b)?;
        views.push((name.to_string(), v));
    }
    let bytes = safetensors::serialize(views, &Some(meta.clone()))?;
    canonical_header(bytes)
}

/// Rewrites a safetensors file's JSON header with its keys sorted (the metadata and tensor
/// tables are hash maps, whose order changes from run to run), so the same tensors and
/// metadata always give the same bytes. Offsets are relative to the data, so they stay valid.
fn canonical_header(bytes: Vec<u8>) -> Result<Vec<u8>, CheckpointError> {
    let n = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as usize)
        .ok_or(CheckpointError::Truncated(
            "safetensors output shorter than its header length",
        ))?;
    let header = bytes.get(8..8 + n).ok_or(CheckpointError::Truncated(
        "safetensors output shorter than its header",
    ))?;
    // serde_json's map is a BTreeMap here (no `preserve_order`): keys come out sorted
    let v: serde_json::Value = serde_json::from_slice(header)?;
    let mut h = serde_json::to_vec(&v)?;
    h.resize(h.len().div_ceil(8) * 8, b' ');
    let mut out = Vec::with_capacity(8 + h.len() + bytes.len() - 8 - n);
    out.extend((h.len() as u64).to_le_bytes());
    out.extend(h);
    out.extend(&bytes[8 + n..]);
    Ok(out)
}

/// A loaded checkpoint.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub tensors: HashMap<String, Vec<f32>>,
    pub meta: HashMap<String, String>,
}

impl Checkpoint {
    /// Reads a checkpoint file.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let p = path.display().to_string();
        let buf = std::fs::read(path).map_err(|source| CheckpointError::Io {
            path: p.clone(),
            source,
        })?;
        let fmt = |msg: String| CheckpointError::Format {
            path: p.clone(),
            msg,
        };
        let parse = |source| CheckpointError::Parse {
            path: p.clone(),
            source,
        };
        let (_, md) = safetensors::SafeTensors::read_metadata(&buf).map_err(parse)?;
        let meta = md.metadata().clone().unwrap_or_default();
        let st = safetensors::SafeTensors::deserialize(&buf).map_err(parse)?;
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(fmt(format!(
                    "tensor {name} has dtype {:?}, expected F32",
                    view.dtype()
                )));
            }
            let v: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            tensors.insert(name, v);
        }
        Ok(Checkpoint { tensors, meta })
    }

    /// A tensor by name, with its expected length checked.
    pub fn tensor(&self, name: &str, len: usize, path: &Path) -> Result<&[f32], CheckpointError> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| CheckpointError::Format {
                path: path.display().to_string(),
                msg: format!("missing tensor {name}"),
            })?;
        if t.len() != len {
            return Err(CheckpointError::Format {
                path: path.display().to_string(),
                msg: format!("tensor {name} has {} values, expected {len}", t.len()),
            });
        }
        Ok(t)
    }

    /// A metadata value parsed as `T`.
    pub fn meta<T: std::str::FromStr>(&self, key: &str, path: &Path) -> Result<T, CheckpointError> {
        self.meta
            .get(key)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| CheckpointError::Format {
                path: path.display().to_string(),
                msg: format!("metadata key {key} missing or malformed"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let dir = std::env::temp_dir().join(format!("biodis-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.safetensors");
        let mut meta = HashMap::new();
        meta.insert("step".to_string(), "42".to_string());
        let bytes = to_bytes(&[("a", &[1.0, 2.5]), ("b", &[-3.0])], &meta).unwrap();
        std::fs::write(&p, bytes).unwrap();
        let c = Checkpoint::load(&p).unwrap();
        assert_eq!(c.tensor("a", 2, &p).unwrap(), &[1.0, 2.5]);
        assert_eq!(c.meta::<u64>("step", &p).unwrap(), 42);
        assert!(c.tensor("a", 3, &p).is_err());
        // byte-deterministic: the same inputs give the same file whatever the map order
        let mut big = HashMap::new();
        for k in 0..32 {
            big.insert(format!("key{k}"), k.to_string());
        }
        let first = to_bytes(&[("x", &[1.0]), ("y", &[2.0]), ("z", &[3.0])], &big).unwrap();
        for _ in 0..8 {
            let again: HashMap<String, String> =
                big.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            assert_eq!(
                to_bytes(&[("x", &[1.0]), ("y", &[2.0]), ("z", &[3.0])], &again).unwrap(),
                first
            );
        }
        std::fs::write(&p, &first).unwrap();
        assert_eq!(
            Checkpoint::load(&p)
                .unwrap()
                .meta::<u64>("key7", &p)
                .unwrap(),
            7
        );
        std::fs::write(&p, b"garbage").unwrap();
        let e = Checkpoint::load(&p).unwrap_err();
        assert!(e.to_string().contains("c.safetensors"));
        // the reader's own error is kept as the cause
        assert!(matches!(e, CheckpointError::Parse { .. }), "{e}");
        assert!(std::error::Error::source(&e).is_some());
    }
}
