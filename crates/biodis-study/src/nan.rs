//! JSON has no NaN: undefined values (e.g. MIR with no active neuron) are written as `null`
//! and read back as NaN.

pub use biodis_nn::mlp::nan_as_null as scalar;

pub mod vec {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let o: Vec<Option<f64>> = v
            .iter()
            .map(|x| if x.is_finite() { Some(*x) } else { None })
            .collect();
        o.serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|x| x.unwrap_or(f64::NAN))
            .collect())
    }
}
