"""Writes the seed corpus of biodis's reader fuzz harnesses (fuzz/corpus/<reader>/).

The files are committed; this script documents how they were made (numpy writes .npy/.npz
exactly as users' code does). Run: python fuzz/make_corpus.py  (needs numpy).
The harnesses (`cargo test -p biodis-data --test fuzz_corpus`, `cargo test -p biodis-study
--test fuzz_corpus`) read every file here and thousands of seeded mutations of each.
"""
import io
import os
import zipfile

import numpy as np

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
rng = np.random.default_rng(0)
x = rng.random((6, 3))


def out(kind, name, data):
    with open(os.path.join(here, kind, name), "wb") as f:
        f.write(data)


def npy_bytes(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


# .npy: every dtype the README promises, C and Fortran order, 1-D / 2-D / 3-D, version 2 header
for name, a in [
    ("f8.npy", x),
    ("f4.npy", x.astype(np.float32)),
    ("f2.npy", x.astype(np.float16)),
    ("f8_fortran.npy", np.asfortranarray(x)),
    ("f8_bigendian.npy", x.astype(">f8")),
    ("i1.npy", (x * 100).astype(np.int8)),
    ("i2.npy", (x * 100).astype(np.int16)),
    ("i4.npy", (x * 100).astype(np.int32)),
    ("i8.npy", (x * 100).astype(np.int64)),
    ("u1.npy", (x * 100).astype(np.uint8)),
    ("u2.npy", (x * 100).astype(np.uint16)),
    ("u4.npy", (x * 100).astype(np.uint32)),
    ("u8.npy", (x * 100).astype(np.uint64)),
    ("bool.npy", x > 0.5),
    ("vector.npy", x[:, 0].copy()),
    ("maps3d.npy", rng.random((2, 4, 4))),
    ("empty.npy", np.zeros((0, 3))),
    ("nan.npy", np.array([[np.nan, 1.0], [np.inf, 2.0]])),
]:
    out("npy", name, npy_bytes(a))
b = io.BytesIO()
np.lib.format.write_array(b, x, version=(2, 0))
out("npy", "f8_v2header.npy", b.getvalue())
out("npy", "truncated.npy", npy_bytes(x)[:-20])

# .npz: plain and compressed, several members, uint8 / bool members
b = io.BytesIO()
np.savez(b, latents=x, factors=(x * 10).astype(np.int64))
out("npz", "two_members.npz", b.getvalue())
b = io.BytesIO()
np.savez_compressed(b, latents=x.astype(np.float32), mask=x > 0.5, codes=(x * 9).astype(np.uint8))
out("npz", "compressed.npz", b.getvalue())
b = io.BytesIO()
with zipfile.ZipFile(b, "w") as z:
    z.writestr("notes.txt", "not an array")
out("npz", "no_arrays.npz", b.getvalue())

# .csv: delimiters, headers, blank lines, exponents, NaN, ragged rows, text cells
for name, text in [
    ("comma.csv", "0.1,0.2,0.3\n0.4,0.5,0.6\n"),
    ("semicolon.csv", "0.1;0.2\n0.3;0.4\n"),
    ("tab.csv", "0.1\t0.2\n0.3\t0.4\n"),
    ("header.csv", "z0,z1\n1e-3,2E+2\n\n-0.5, 7 \n"),
    ("one_column.csv", "1\n2\n3\n"),
    ("nan.csv", "nan,1\ninf,2\n"),
    ("ragged.csv", "1,2\n3\n"),
    ("text_cell.csv", "1,2\n3,x\n"),
    ("mixed_delims.csv", "1,2;3\n"),
    ("crlf.csv", "1,2\r\n3,4\r\n"),
]:
    out("csv", name, text.encode())

# recipes: a dense study, a sweep, a grid-world study, a VAE study (the shapes the parser knows)
recipes = {
    "dense.toml": """[study]
name = "dense"
seeds = 2

[data]
task = "unsupervised_linear"
n_factors = 3
n_samples = 256
out_dim = 8

[model]
hidden = [8]
nonneg = "relu"

[constraints]
beta_activity = 1e-3
beta_weight = 1e-4

[train]
steps = 50
lr = 1e-3

[[variant]]
name = "linear"
model.nonneg = "none"
""",
    "sweep.toml": """[study]
name = "sweep"
seeds = 1

[data]
task = "supervised_linear"
n_factors = 2
n_samples = 64

[model]
hidden = [4]

[train]
steps = 10

[sweep.grid]
"constraints.beta_activity" = [1e-4, 1e-3]
""",
    "cells.toml": """[study]
name = "cells"
kind = "cells"
seeds = 1

[cells]
width = 5
n_cells = 16

[train]
steps = 5
""",
    "vae.toml": """[study]
name = "vae"
kind = "vae"
seeds = 1

[data]
dataset = "dsprites_like"

[train]
steps = 2
batch_size = 8
""",
}
for name, text in recipes.items():
    out("recipe", name, text.encode())
