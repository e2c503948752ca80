//! JSON has no NaN: undefined values (MIR with no active neuron, the loss terms of a diverged
//! run) are written as `null` and read back as NaN. Use with `#[serde(with = "...")]`.

/// One `f64`.
pub mod scalar {
    use serde::{Deserialize, Deserializer, Serializer};
    /// Non-finite as `null`.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }
    /// `null` as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// A `Vec<f64>`.
pub mod vec {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    /// Non-finite entries as `null`.
    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let o: Vec<Option<f64>> = v
            .iter()
            .map(|x| if x.is_finite() { Some(*x) } else { None })
            .collect();
        o.serialize(s)
    }
    /// `null` entries as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|x| x.unwrap_or(f64::NAN))
            .collect())
    }
}
