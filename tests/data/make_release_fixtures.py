"""Write the persistence fixtures of tests/test_persistence.py (run on a release).

Run with the release whose files must keep loading, from outside the source tree:

    python tests/data/make_release_fixtures.py tests/data

It saves, pickled and with skops, a fitted RelativeTransformer, a
LatentTranslator fitted with ``partial_fit`` for each method (its stored
statistics must keep streaming), the data they were fitted on, and the outputs
of that release on it, also after ``partial_fit`` continues on the other
pairs.
"""

import pickle
import sys
from pathlib import Path

import numpy as np
import skops.io as sio

from sklatent import LatentTranslator, RelativeTransformer


def data():
    """float32, far from the origin, anisotropic, with a dead dimension."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 6)) * np.linspace(0.1, 4.0, 6) + 300.0
    X[:, 2] = 300.0
    Y = (X - 300.0) @ rng.normal(size=(6, 5)) + 7.0
    return X.astype(np.float32), Y.astype(np.float32)


def models(X, Y):
    yield (
        "relative",
        RelativeTransformer(
            n_anchors=8,
            similarity=["cosine", "euclidean"],
            aggregation="mean",
            center=True,
            normalize="standard",
            random_state=0,
        ).fit(X),
    )
    for method in ("orthogonal", "affine"):
        translator = LatentTranslator(method=method).partial_fit(X[:20], Y[:20])
        yield f"translator_{method}", translator


def main(folder):
    folder = Path(folder)
    X, Y = data()
    outputs = {"X": X, "Y": Y}
    for name, model in models(X, Y):
        (folder / f"{name}.pkl").write_bytes(pickle.dumps(model))
        sio.dump(model, folder / f"{name}.skops")
        outputs[name] = model.transform(X)
        if name.startswith("translator"):
            continued = pickle.loads(pickle.dumps(model)).partial_fit(X[20:], Y[20:])
            outputs[f"{name}_continued"] = continued.transform(X)
    np.savez(folder / "release_outputs.npz", **outputs)


if __name__ == "__main__":
    main(sys.argv[1])
