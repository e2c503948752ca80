//! The errors of the grid-world model: a recipe value out of its range, or a world the
//! entangled task cannot use. Messages name the recipe key, the value and what is accepted.

/// Why a grid-world model cannot be set up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CellsError {
    /// A `[cells]` or `[train]` value out of its range.
    #[error("{section}.{key} = {value}: expected {expected}")]
    Invalid {
        /// The recipe table (`cells`, `train`).
        section: &'static str,
        /// The key in it.
        key: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// 10 000 worlds of the world stream without one with at least two objects (the entangled
    /// task needs one).
    #[error(
        "world: no world with at least 2 objects in 10 000 draws (max_objects = {max_objects}, \
         min_distance = {min_distance} on a {size}×{size} lattice)"
    )]
    NoEntangledWorld {
        /// `world.max_objects`.
        max_objects: usize,
        /// `world.min_distance`.
        min_distance: f64,
        /// `world.size`.
        size: usize,
    },
}

impl CellsError {
    /// A [`CellsError::Invalid`] for `section.key = value`.
    pub(crate) fn invalid(
        section: &'static str,
        key: &'static str,
        value: impl ToString,
        expected: impl Into<String>,
    ) -> CellsError {
        CellsError::Invalid {
            section,
            key,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::train::{CellsTrain, Task};
    use crate::{CellsError, CellsSpec, LocationTarget};

    #[test]
    fn messages_name_the_key_value_and_range() {
        let spec = CellsSpec {
            n_cells: 0,
            ..CellsSpec::default()
        };
        assert_eq!(
            spec.validate().unwrap_err().to_string(),
            "cells.n_cells = 0: expected at least 1"
        );
        let spec = CellsSpec {
            location_target: LocationTarget::Dog,
            location_surround: 0.5,
            ..CellsSpec::default()
        };
        assert!(matches!(
            spec.validate(),
            Err(CellsError::Invalid {
                section: "cells",
                key: "location_surround",
                ..
            })
        ));
        let train = CellsTrain {
            task: Task::Factorised,
            steps: 10,
            batch: 8,
            lr: 1e-3,
            schedule: Default::default(),
            eval_every: 5,
            eval_worlds: 1,
            null_shuffles: 0,
            object_k: 4,
            patch_k: 2,
        };
        assert_eq!(
            train.validate().unwrap_err().to_string(),
            "train.eval_worlds = 1: expected at least 2 (stability compares worlds)"
        );
        // an entangled task on a world that cannot hold two objects
        let ws = biodis_data::gridworld::WorldSpec {
            max_objects: 1,
            ..Default::default()
        };
        let mut rng = rand::SeedableRng::seed_from_u64(0);
        let e = crate::train::entangled_world(&ws, &mut rng).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "world: no world with at least 2 objects in 10 000 draws (max_objects = 1"
            ),
            "{e}"
        );
    }
}
