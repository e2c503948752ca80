//! Grid worlds with objects and optimal actions (Whittington et al. 2023, §4 and App. A.9.1).
//!
//! A world is a `size × size` lattice (paper: 16 × 16, `n_l = 256` locations). Location
//! `x = row · size + col`; row 0 is the north edge, column 0 the west edge. Actions are, in this
//! order, **N** (row − 1), **S** (row + 1), **E** (col + 1), **W** (col − 1).
//!
//! Each world holds `0..=max_objects` objects (the count drawn uniformly; paper: 0–8) at random
//! locations, none closer than `min_distance` (paper: "8 units"; the metric is not stated — ours
//! is a recipe key, default the lattice (Manhattan) metric, the path length of the 4 actions).
//! Objects are placed one at a time with up to `place_attempts` random tries each; an object that
//! finds no valid place is dropped ("in practice it is not always possible to place every
//! object"), so worlds hold fewer objects than drawn when the lattice is crowded.
//!
//! Per location the data are the one-hot location (implicit: the index), `o(x) ∈ {0, 1}` (object
//! present) and the multi-hot optimal action `a(x) ∈ {0, 1}⁴`: the actions that reduce the
//! lattice distance to a closest object (several when tied, or when two closest objects lie in
//! different directions). At an object, and in a world without objects, no action is optimal
//! (all zeros). With `periodic = true` the lattice is a torus for distances and moves;
//! otherwise a move off the edge is not possible (and never optimal).

use rand::Rng;
use serde::{Deserialize, Serialize};

/// The metric of the minimum object spacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// `|Δrow| + |Δcol|` (the lattice path length).
    #[default]
    Manhattan,
    /// `√(Δrow² + Δcol²)`.
    Euclidean,
    /// `max(|Δrow|, |Δcol|)`.
    Chebyshev,
}

/// How worlds are generated (the `[world]` table of a grid-world recipe).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldSpec {
    /// Side length of the square lattice (paper: 16).
    #[serde(default = "default_size")]
    pub size: usize,
    /// Objects per world are drawn uniformly from `0..=max_objects` (paper: 8).
    #[serde(default = "default_max_objects")]
    pub max_objects: usize,
    /// No two objects closer than this (paper: 8), in `spacing_metric`.
    #[serde(default = "default_min_distance")]
    pub min_distance: f64,
    #[serde(default)]
    pub spacing_metric: Metric,
    /// Random tries per object before it is dropped.
    #[serde(default = "default_attempts")]
    pub place_attempts: usize,
    /// Torus instead of a walled box.
    #[serde(default)]
    pub periodic: bool,
}

fn default_size() -> usize {
    16
}
fn default_max_objects() -> usize {
    8
}
fn default_min_distance() -> f64 {
    8.0
}
fn default_attempts() -> usize {
    100
}

impl Default for WorldSpec {
    fn default() -> Self {
        WorldSpec {
            size: default_size(),
            max_objects: default_max_objects(),
            min_distance: default_min_distance(),
            spacing_metric: Metric::default(),
            place_attempts: default_attempts(),
            periodic: false,
        }
    }
}

/// A `[world]` value out of its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("world.{key} = {value}: expected {expected}")]
pub struct WorldSpecError {
    /// The key under `[world]`.
    pub key: &'static str,
    /// The value given.
    pub value: String,
    /// What is accepted.
    pub expected: &'static str,
}

/// The four actions' displacements `(Δrow, Δcol)`: N, S, E, W.
pub const ACTIONS: [(i64, i64); 4] = [(-1, 0), (1, 0), (0, 1), (0, -1)];
/// Action names in [`ACTIONS`] order.
pub const ACTION_NAMES: [&str; 4] = ["N", "S", "E", "W"];

impl WorldSpec {
    /// Checks the values; a [`WorldSpecError`] names the key, the value and what is expected.
    pub fn validate(&self) -> Result<(), WorldSpecError> {
        let bad = |key, value: &dyn ToString, expected| WorldSpecError {
            key,
            value: value.to_string(),
            expected,
        };
        if self.size < 3 {
            return Err(bad("size", &self.size, "at least 3 (the paper uses 16)"));
        }
        if !(self.min_distance.is_finite() && self.min_distance >= 0.0) {
            return Err(bad(
                "min_distance",
                &self.min_distance,
                "a finite value ≥ 0",
            ));
        }
        if self.place_attempts == 0 {
            return Err(bad("place_attempts", &0, "at least 1"));
        }
        Ok(())
    }

    /// Number of locations `n_l = size²`.
    pub fn n_locations(&self) -> usize {
        self.size * self.size
    }

    /// The neighbour of location `x` after action `a`, or `None` off a walled edge.
    pub fn neighbour(&self, x: usize, a: usize) -> Option<usize> {
        let n = self.size as i64;
        let (r, c) = ((x / self.size) as i64, (x % self.size) as i64);
        let (mut r2, mut c2) = (r + ACTIONS[a].0, c + ACTIONS[a].1);
        if self.periodic {
            r2 = r2.rem_euclid(n);
            c2 = c2.rem_euclid(n);
        } else if r2 < 0 || r2 >= n || c2 < 0 || c2 >= n {
            return None;
        }
        Some((r2 * n + c2) as usize)
    }

    fn deltas(&self, x: usize, y: usize) -> (f64, f64) {
        let n = self.size as i64;
        let mut dr = ((x / self.size) as i64 - (y / self.size) as i64).abs();
        let mut dc = ((x % self.size) as i64 - (y % self.size) as i64).abs();
        if self.periodic {
            dr = dr.min(n - dr);
            dc = dc.min(n - dc);
        }
        (dr as f64, dc as f64)
    }

    /// Lattice (Manhattan) distance between locations, on the torus when periodic.
    pub fn lattice_distance(&self, x: usize, y: usize) -> f64 {
        let (dr, dc) = self.deltas(x, y);
        dr + dc
    }

    /// Euclidean distance between locations in bins, on the torus when periodic.
    pub fn euclidean_distance(&self, x: usize, y: usize) -> f64 {
        let (dr, dc) = self.deltas(x, y);
        (dr * dr + dc * dc).sqrt()
    }

    /// Distance in `spacing_metric`.
    pub fn spacing_distance(&self, x: usize, y: usize) -> f64 {
        let (dr, dc) = self.deltas(x, y);
        match self.spacing_metric {
            Metric::Manhattan => dr + dc,
            Metric::Euclidean => (dr * dr + dc * dc).sqrt(),
            Metric::Chebyshev => dr.max(dc),
        }
    }

    /// Samples one world.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> World {
        let want = rng.gen_range(0..=self.max_objects);
        let nl = self.n_locations();
        let mut objects: Vec<usize> = Vec::with_capacity(want);
        for _ in 0..want {
            for _ in 0..self.place_attempts {
                let x = rng.gen_range(0..nl);
                if objects
                    .iter()
                    .all(|&o| self.spacing_distance(o, x) >= self.min_distance)
                {
                    objects.push(x);
                    break;
                }
            }
        }
        self.world_with(objects)
    }

    /// The world with objects at the given locations (which must be `< n_l`).
    pub fn world_with(&self, objects: Vec<usize>) -> World {
        let nl = self.n_locations();
        let mut object = vec![0u8; nl];
        for &o in &objects {
            object[o] = 1;
        }
        let mut action = vec![[0u8; 4]; nl];
        if !objects.is_empty() {
            for (x, act) in action.iter_mut().enumerate() {
                let d: Vec<f64> = objects
                    .iter()
                    .map(|&o| self.lattice_distance(x, o))
                    .collect();
                let dmin = d.iter().cloned().fold(f64::INFINITY, f64::min);
                if dmin == 0.0 {
                    continue;
                }
                for (a, slot) in act.iter_mut().enumerate() {
                    if let Some(y) = self.neighbour(x, a) {
                        let better = objects
                            .iter()
                            .zip(&d)
                            .any(|(&o, &dd)| dd == dmin && self.lattice_distance(y, o) < dd);
                        if better {
                            *slot = 1;
                        }
                    }
                }
            }
        }
        World {
            objects,
            object,
            action,
        }
    }
}

/// One world: its objects and the per-location targets.
#[derive(Debug, Clone, PartialEq)]
pub struct World {
    /// Object locations.
    pub objects: Vec<usize>,
    /// `o(x)`: 1 where an object is.
    pub object: Vec<u8>,
    /// `a(x)`: the optimal actions (N, S, E, W).
    pub action: Vec<[u8; 4]>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn actions_point_to_the_closest_object() {
        let s = WorldSpec::default();
        // one object at row 5, col 5
        let w = s.world_with(vec![5 * 16 + 5]);
        assert_eq!(w.action[5 * 16 + 5], [0, 0, 0, 0]);
        // due north of it (row 2): go S only
        assert_eq!(w.action[2 * 16 + 5], [0, 1, 0, 0]);
        // north-west (row 2, col 1): S and E
        assert_eq!(w.action[2 * 16 + 1], [0, 1, 1, 0]);
        // south-east: N and W
        assert_eq!(w.action[9 * 16 + 12], [1, 0, 0, 1]);
        // two objects tied around x: both directions are optimal
        let w = s.world_with(vec![5 * 16 + 2, 5 * 16 + 8]);
        assert_eq!(w.action[5 * 16 + 5], [0, 0, 1, 1]);
        // no objects: nothing optimal
        let w = s.world_with(vec![]);
        assert!(w.action.iter().all(|a| *a == [0, 0, 0, 0]));
    }

    #[test]
    fn spacing_and_counts() {
        let s = WorldSpec::default();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut counts = [0usize; 9];
        for _ in 0..2000 {
            let w = s.sample(&mut rng);
            assert!(w.objects.len() <= 8);
            counts[w.objects.len()] += 1;
            for (i, &a) in w.objects.iter().enumerate() {
                for &b in &w.objects[i + 1..] {
                    assert!(s.lattice_distance(a, b) >= 8.0);
                }
            }
            assert_eq!(
                w.object.iter().map(|&o| o as usize).sum::<usize>(),
                w.objects.len()
            );
        }
        // zero objects is drawn ~1/9 of the time; the crowded counts are capped by spacing
        assert!(counts[0] > 150 && counts[0] < 300, "{counts:?}");
        assert!(counts[1] > 150, "{counts:?}");
    }

    #[test]
    fn walls_and_torus() {
        let s = WorldSpec::default();
        assert_eq!(s.neighbour(0, 0), None);
        assert_eq!(s.neighbour(0, 3), None);
        assert_eq!(s.neighbour(0, 1), Some(16));
        let t = WorldSpec {
            periodic: true,
            ..WorldSpec::default()
        };
        assert_eq!(t.neighbour(0, 0), Some(15 * 16));
        assert_eq!(t.neighbour(0, 3), Some(15));
        assert_eq!(t.lattice_distance(0, 15), 1.0);
        // on the torus, the object at col 15 is reached by going W from col 0
        let w = t.world_with(vec![15]);
        assert_eq!(w.action[0], [0, 0, 0, 1]);
    }
}
