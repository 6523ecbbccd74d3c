"""The demo behind ``python -m sklatent demo --text``: stitching on real text.

The same question as the digits demo (:mod:`sklatent._demo`), asked of two
real sentence encoders (:func:`sklatent.datasets.load_text_embeddings`): a
classifier of a docstring's package fitted on one encoder's embeddings, and
reused on the other's through parallel anchors. :func:`run_text_demo` runs
it and prints the table; :func:`pool_pairs` is shared with
``benchmarks/bench_stitching_text.py``.
"""

import csv
import numbers
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.utils import Bunch

from .._progress import StageLog
from .._relative import RelativeTransformer
from ..anchors import AnchorWarning
from ..datasets import load_text_embeddings
from ..matching import MatchingWarning, match_spaces
from ..stitching import stitch_relative, stitch_translated
from .demo import METHODS, check_output_dir, check_seed, table_layout

#: Columns of the text demo's table: key -> (header, description).
TEXT_METHODS = {
    "own": (
        "own",
        "a head fitted on the 'apply to' encoder itself (the reference;\n    "
        "a stitched head of a stronger encoder can beat it)",
    ),
    **{key: METHODS[key] for key in ("relative", "relative_centred", "orthogonal")},
    "affine": ("transl. affine", "the same, affine least squares"),
    "pools_orthogonal": (
        "pools+ortho",
        "orthogonal translation fitted on the anchors plus the pairs that "
        "sklatent.matching finds\n    between the unpaired training pools "
        "(one of them shuffled; the anchors are the seeds)",
    ),
    "pools_affine": ("pools+affine", "the same pairs, affine translation"),
}

_TEST_SIZE = 0.3
_TABLE_NAME = "sklatent_demo_text.csv"


def _head():
    return LogisticRegression(max_iter=2000)


def pool_pairs(X_x, X_y, seeds, *, random_state=0):
    """Pairs of two row-aligned pools found from ``seeds`` by ``match_spaces``.

    The first pool is shuffled, so that only the seed rows are known pairs;
    :func:`~sklatent.matching.match_spaces` refines them into pairs of the
    whole pools, and the pairs are returned in the pools' own rows.

    Parameters
    ----------
    X_x, X_y : ndarray of shape (n, d_x) and (n, d_y)
        The same ``n`` items embedded by two encoders, row by row.
    seeds : ndarray of shape (n_seeds,), dtype int
        The rows known to be parallel (the anchors).
    random_state : int, default=0
        Seeds the shuffle and the matching.

    Returns
    -------
    x_rows, y_rows : ndarray of shape (n_pairs,)
        Matched rows of ``X_x`` and ``X_y``, the seeds first.
    info : dict
        ``pairs`` (matched pairs that are not seeds), ``precision`` (the
        fraction of those that pair an item with itself), ``converged`` and
        ``seconds``.
    """
    order = np.random.RandomState(random_state).permutation(len(X_x))
    position = np.argsort(order)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", MatchingWarning)
        matching = match_spaces(
            X_x[order],
            X_y,
            seeds=np.column_stack([position[seeds], seeds]),
            method="refine",
            random_state=random_state,
        )
    x_rows = order[np.asarray(matching.x_indices)]
    y_rows = np.asarray(matching.y_indices)
    new = ~np.isin(x_rows, seeds)
    info = {
        "pairs": int(new.sum()),
        "precision": float(np.mean(x_rows[new] == y_rows[new])) if new.any() else 0.0,
        "converged": bool(matching.converged),
        "seconds": time.perf_counter() - start,
    }
    return x_rows, y_rows, info


def _stitch_direction(A_train, B_train, B_test, y_train, y_test, anchors, pairs):
    """Test accuracy on B of A's head, for each key of :data:`TEXT_METHODS`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", AnchorWarning)
        scores = {"own": _head().fit(B_train, y_train).score(B_test, y_test)}
        for key, center in (("relative", False), ("relative_centred", True)):
            relative = RelativeTransformer(anchors=anchors, center=center)
            model = make_pipeline(relative, _head()).fit(A_train, y_train)
            scores[key] = stitch_relative(model, B_train).score(B_test, y_test)
        head = _head().fit(A_train, y_train)
        b_rows, a_rows = pairs
        for prefix, X_b, X_a in (
            ("", B_train[anchors], A_train[anchors]),
            ("pools_", B_train[b_rows], A_train[a_rows]),
        ):
            for method in ("orthogonal", "affine"):
                stitched = stitch_translated(head, X_b, X_a, method=method)
                scores[prefix + method] = stitched.score(B_test, y_test)
    return {key: float(value) for key, value in scores.items()}


def run_text_demo(
    *,
    n_anchors=300,
    n_samples=None,
    seed=0,
    output_dir="sklatent_demo_output",
    data_home=None,
    refresh=False,
    verbose=True,
    out=None,
):
    """Stitch a package classifier across two real text encoders; print the table.

    Each item of :func:`~sklatent.datasets.load_text_embeddings` is a
    docstring, labelled by its package (4 classes); its *document* embedding
    by each encoder (MiniLM, 384-d, and a static model, 64-d) is the input.
    For each ordered pair of encoders (A, B), a logistic regression fitted on
    A's training embeddings is applied to B's test embeddings through
    ``n_anchors`` parallel anchors drawn from the training items, in each way
    of :data:`TEXT_METHODS`. The table is printed and saved as CSV.

    Parameters
    ----------
    n_anchors : int, default=300
        Number of parallel anchors, drawn at random from the training items.
    n_samples : int, default=None
        Number of items (see :func:`~sklatent.datasets.load_text_embeddings`);
        None uses the whole corpus (about 3,600 items).
    seed : int, default=0
        Seeds the items drawn, the train/test split, the anchors and the
        matching; between 0 and 2**32 - 1.
    output_dir : str or path-like, default="sklatent_demo_output"
        Where the table (CSV) is written; created if needed.
    data_home : str or path-like, default=None
        Cache folder of the embeddings.
    refresh : bool, default=False
        Encode the texts again and overwrite the cached embeddings.
    verbose : bool, default=True
        Print progress lines to stderr.
    out : file-like, default=None
        Where the table is printed; None means ``sys.stdout``.

    Returns
    -------
    results : :class:`~sklearn.utils.Bunch`
        ``accuracy[(fit_on, apply_to)][key]`` for each key of
        :data:`TEXT_METHODS`; ``encoders``; ``n_anchors``; ``n_train`` and
        ``n_test``; ``matching`` (the :func:`pool_pairs` info); ``seconds``;
        ``table`` (the CSV's path).

    Raises
    ------
    ImportError
        If the embeddings are not cached and ``sklatent[text]`` is not
        installed; the message says ``pip install "sklatent[text]"``.
    ValueError
        If ``n_anchors``, ``n_samples`` or ``seed`` is out of range, or
        ``output_dir`` is empty.
    OSError
        If ``output_dir`` cannot be created or written.
    """
    output_dir = check_output_dir(output_dir)
    check_seed(seed)
    out = sys.stdout if out is None else out
    progress = StageLog(verbose)
    start = time.perf_counter()
    progress("loading the text embeddings (encoded on first use)")
    data = load_text_embeddings(
        n_samples=n_samples,
        random_state=seed,
        data_home=data_home,
        refresh=refresh,
        verbose=verbose,
    )
    y = data.target
    train, test = train_test_split(
        np.arange(len(y)), test_size=_TEST_SIZE, stratify=y, random_state=seed
    )
    if not isinstance(n_anchors, numbers.Integral) or not 1 <= n_anchors <= len(train):
        raise ValueError(
            f"n_anchors={n_anchors} must be between 1 and the {len(train)} "
            "training items the anchors are drawn from."
        )
    anchors = np.sort(
        np.random.RandomState(seed).choice(len(train), n_anchors, replace=False)
    )
    first, second = names = data.encoder_names
    emb = {name: data.document_embeddings[name][train] for name in names}
    progress(f"matching the unpaired training pools from {n_anchors} seeds")
    x_rows, y_rows, info = pool_pairs(
        emb[first], emb[second], anchors, random_state=seed
    )
    accuracy = {}
    for a, b in ((first, second), (second, first)):
        progress(f"stitching a head fitted on {a} to {b}")
        pairs = (x_rows, y_rows) if b == first else (y_rows, x_rows)
        accuracy[(a, b)] = _stitch_direction(
            emb[a],
            emb[b],
            data.document_embeddings[b][test],
            y[train],
            y[test],
            anchors,
            pairs,
        )
    results = Bunch(
        accuracy=accuracy,
        encoders=list(names),
        dims={name: emb[name].shape[1] for name in names},
        n_anchors=n_anchors,
        n_train=len(train),
        n_test=len(test),
        matching=info,
        seconds=time.perf_counter() - start,
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    results.table = output_dir / _TABLE_NAME
    _write_csv(results.table, accuracy)
    _print_table(results, out)
    print(f"Table saved to {results.table}", file=out)
    progress(f"done in {time.perf_counter() - start:.1f} s")
    return results


def _write_csv(path, accuracy):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["fit_on", "apply_to", *TEXT_METHODS])
        for (a, b), scores in accuracy.items():
            writer.writerow([a, b, *(f"{scores[key]:.4f}" for key in TEXT_METHODS)])


def _print_table(results, out):
    """Print the accuracy table with its legend."""
    headers = ["fit on", "apply to"] + [header for header, _ in TEXT_METHODS.values()]
    widths, line = table_layout(headers, results.encoders)
    dims = ", ".join(f"{name} {width}-d" for name, width in results.dims.items())
    print(
        f"\nZero-shot stitching across real text encoders ({dims}): accuracy "
        f"on {results.n_test} test\ndocstrings of a logistic regression that "
        "predicts their package (4 classes),\nfitted on one encoder ('fit on') "
        f"and applied to the other ('apply to');\n{results.n_anchors} parallel "
        f"anchors among the {results.n_train} training items.\n",
        file=out,
    )
    print(line(headers), file=out)
    print(line(["-" * width for width in widths]), file=out)
    for (a, b), scores in results.accuracy.items():
        print(line([a, b, *(f"{scores[key]:.3f}" for key in TEXT_METHODS)]), file=out)
    print("", file=out)
    legend = max(len(header) for header, _ in TEXT_METHODS.values())
    for header, description in TEXT_METHODS.values():
        description = description.replace("\n    ", "\n" + " " * (legend + 4))
        print(f"  {header:<{legend}}  {description}", file=out)
    info = results.matching
    print(
        f"\nThe matching paired {info['pairs']} more training items, "
        f"{info['precision']:.0%} of them rightly, in {info['seconds']:.1f} s."
        f"\nComputed in {results.seconds:.1f} s.",
        file=out,
    )
