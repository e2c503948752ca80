//! Corpus-driven fuzzing of the file readers (`.npy`, `.npz`, `.csv`, HDF5, the dSprites npz):
//! see `fuzz_common` and `fuzz/README.md`.

mod fuzz_common;
use fuzz_common::{corpus, fuzz};
use std::path::Path;

#[test]
fn npy_reader_survives_its_corpus() {
    fuzz("npy", corpus("npy"), |p| {
        biodis_data::npy::read_npy(p)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
}

#[test]
fn npz_reader_survives_its_corpus() {
    // the .npy seeds go in as single-member archives too
    fuzz("npz", corpus("npz"), |p| {
        let names = biodis_data::npy::npz_names(p).map_err(|e| e.to_string())?;
        for n in names {
            biodis_data::npy::read_npz_member(p, &n).map_err(|e| e.to_string())?;
        }
        Ok(())
    });
}

#[test]
fn csv_reader_survives_its_corpus() {
    fuzz("csv", corpus("csv"), |p| {
        biodis_data::csv::read(p)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
}

#[test]
fn hdf5_reader_survives_mutations_of_the_shapes3d_fixture() {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shapes3d_tiny.h5");
    fuzz("h5", vec![seed], |p| {
        biodis_data::images::shapes3d::Shapes3dH5::open(p, None)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
}

#[test]
fn dsprites_npz_reader_survives_mutations_of_a_small_set() {
    // the seed: a 2 × 1 × 2 × 1 × 2 × 2 dSprites set in the official npz layout
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("dsprites_small.npz");
    let d = biodis_data::images::dsprites::DSprites::default();
    biodis_data::images::npz::write_dsprites_npz(&seed, &d, [1, 2, 1, 2, 2, 2], |_| {}).unwrap();
    fuzz("dsprites-npz", vec![seed], |p| {
        biodis_data::images::npz::DSpritesNpz::open(p, None)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
}
