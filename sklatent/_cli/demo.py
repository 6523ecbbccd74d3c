"""The demo behind ``python -m sklatent demo``: its experiment, then its report.

The experiment (:func:`run_experiment`) trains (or loads from the cache) small
torch encoders of the digits dataset, fits a classifier on each encoder's
embeddings, and measures how well that classifier works on every other
encoder's embeddings, zero-shot: reused naively, through relative
representations, and through latent translation. It then does the same for
generation: each encoder's decoder reconstructs the images from every other
encoder's embeddings, and a relative autoencoder's decoder from another seed's
encoder. It returns a results object and writes nothing.

The report (:func:`write_report`) turns the results into printed tables, CSV
files and figures. :func:`run_demo` checks the options, runs one then the
other; :mod:`sklatent.__main__` is the command line that calls it.
"""

import csv
import errno
import functools
import math
import numbers
import os
import sys
import time
import warnings
from collections import namedtuple
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils import Bunch

from .._backend import resolve_device
from .._progress import StageLog
from .._relative import RelativeTransformer
from .._translation import LatentTranslator
from ..anchors import random_anchors
from ..datasets import (
    _IMAGE_DATASETS,
    _MAX_SEED,
    ENCODER_NAMES,
    GRAPH_ENCODER_NAMES,
    IMAGE_ENCODER_NAMES,
    SPEECH_ENCODER_NAMES,
    _digits,
    _speech_split,
    load_digits_decoders,
    load_digits_embeddings,
    load_digits_relative_autoencoders,
    load_graph_embeddings,
    load_image_embeddings,
    load_speech_embeddings,
)
from ..matching import match_spaces
from ..stitching import stitch_relative, stitch_translated

#: Columns of the demo's table: key -> (header, description).
METHODS = {
    "own": ("own", "a head fitted on the 'apply to' encoder itself (upper bound)"),
    "absolute": (
        "absolute",
        "the 'fit on' head applied to the raw 'apply to' embeddings (naive reuse)",
    ),
    "relative": (
        "rel. cosine",
        "relative stitching: cosine to the parallel anchors",
    ),
    "relative_centred": (
        "rel. centred",
        "relative stitching: cosine after subtracting the anchors' mean",
    ),
    "orthogonal": (
        "transl. ortho",
        "translation 'apply to' -> 'fit on' space, orthogonal (Procrustes)",
    ),
    "affine": (
        "transl. affine",
        "translation 'apply to' -> 'fit on' space, affine least squares",
    ),
    "matched": (
        "seeds+match",
        "orthogonal translation fitted on the pairs sklatent.matching finds "
        "between the shuffled training pools from one seed pair per class",
    ),
}

#: Columns of the generation table: key -> (header, description).
GENERATION = {
    "own": ("own MSE", "decoder B on its own encoder B (reference)"),
    "naive": (
        "naive",
        "decoder B on encoder A's raw embeddings, zero-padded or truncated",
    ),
    "translated": (
        "translated",
        "A's embeddings mapped into B's space, affine translator on the anchors",
    ),
    "inverse": (
        "inverse proj.",
        "A's centred cosines to the anchors, inverse-projected into B's space",
    ),
}
# Ridge penalty of the inverse relative projection across encoders (see
# RelativeTransformer.inverse_transform): 0.1 raised top-1 retrieval from
# 0.02-0.28 to 0.27-0.58 on the digits pairs.
_INVERSE_ALPHA = 0.1
# Widest embeddings matched as they are (see _leading_components).
_MATCH_WIDTH = 64
# The split of every digits loader: fraction of the images held out.
_TEST_SIZE = 0.3

QUICK_ENCODERS = ("mlp_small", "mlp_wide")

#: Fashion-MNIST images of ``--modality vision --quick``: few enough to encode
#: in about a minute on one CPU thread, enough for the default 256 anchors.
QUICK_IMAGES = 500

#: The datasets the demo stitches across (``--modality``): name -> (its
#: encoders, what a row is). Generation and the figure are the digits'.
MODALITIES = {
    "digits": (ENCODER_NAMES, "images"),
    "audio": (SPEECH_ENCODER_NAMES, "recordings"),
    "graph": (GRAPH_ENCODER_NAMES, "nodes"),
    "vision": (IMAGE_ENCODER_NAMES, "images"),
}


def _loader(modality, n_samples):
    """The loader of a modality's embeddings (looked up when called)."""
    if modality == "vision":
        n_samples = "default" if n_samples is None else n_samples
        return functools.partial(
            load_image_embeddings, "fashion_mnist", n_samples=n_samples
        )
    return {
        "digits": load_digits_embeddings,
        "audio": load_speech_embeddings,
        "graph": load_graph_embeddings,
    }[modality]


_FIGURE_NAME = "sklatent_demo.png"
_TABLE_NAME = "sklatent_demo.csv"
_GENERATION_FIGURE_NAME = "sklatent_generation.png"
_GENERATION_TABLE_NAME = "sklatent_generation.csv"

#: Labels and the train/test rows of the split, shared by every encoder.
_Split = namedtuple("_Split", ["y", "train", "test"])


def _head():
    # A strongly regularised logistic regression: it relies on broad directions
    # shared by the encoders rather than on idiosyncratic ones, so it stitches
    # better (C=0.1 vs 1: +1 to +4 points here) at no cost to its own accuracy.
    # Few, loose iterations keep the demo fast.
    return LogisticRegression(C=0.1, max_iter=200, tol=1e-3)


def _pad_to(X, width):
    """Zero-pad or truncate the columns of ``X`` to ``width``."""
    if X.shape[1] >= width:
        return X[:, :width]
    return np.pad(X, ((0, 0), (0, width - X.shape[1])))


def run_demo(
    *,
    n_anchors=256,
    seed=0,
    output_dir="sklatent_demo_output",
    device="cpu",
    quick=False,
    encoders=None,
    data_home=None,
    refresh=False,
    figure=True,
    verbose=True,
    out=None,
    generation=True,
    modality="digits",
    n_samples=None,
):
    """Run the zero-shot stitching demo, print its tables and save its files.

    For every ordered pair of encoders (A, B), a head fitted on A's training
    embeddings is applied to B's test embeddings: naively, through relative
    representations (:func:`~sklatent.stitching.stitch_relative`) and through
    latent translation (:func:`~sklatent.stitching.stitch_translated`), all
    with the same ``n_anchors`` parallel anchors drawn from the training rows.
    Every option is checked before anything is trained or written, and
    ``output_dir`` is created only once the experiment has succeeded.

    Parameters
    ----------
    n_anchors : int, default=256
        Number of parallel anchors, drawn at random from the training rows.
    seed : int, default=0
        Seeds the encoders' training, the train/test split and the anchors;
        between 0 and 2**32 - 1.
    output_dir : str or path-like, default="sklatent_demo_output"
        Where the tables (CSV) and the figures (PNG) are written; created if
        needed. The empty string is refused (it would write into the working
        directory): pass ``"."`` for that.
    device : str, default="cpu"
        Device of the relative transformers and translators.
    quick : bool, default=False
        Use two encoders only (``mlp_small`` and ``mlp_wide``).
    encoders : list of str, default=None
        Encoders to compare, each named once; overrides ``quick``. None uses
        all of them. A single encoder gives only its own rows (each method
        against the encoder itself, no stitching across encoders), and the
        printed table says so.
    data_home : str or path-like, default=None
        Cache folder of :func:`~sklatent.datasets.load_digits_embeddings`.
    refresh : bool, default=False
        Retrain every network and overwrite the cache.
    figure : bool, default=True
        Save the figures (needs matplotlib).
    verbose : bool, default=True
        Print progress lines to stderr.
    out : file-like, default=None
        Where the tables are printed; None means ``sys.stdout``.
    generation : bool, default=True
        Also measure stitched generation (see :func:`run_experiment`), print
        its table, and save it (CSV) and a figure of digits (PNG).
    modality : {"digits", "audio", "graph", "vision"}, default="digits"
        The encoders: of the digits, of spoken words
        (:func:`~sklatent.datasets.load_speech_embeddings`, test rows of
        voices no encoder heard), of the See-Also graph
        (:func:`~sklatent.datasets.load_graph_embeddings`) or the pretrained
        EfficientNet-Lite0 and Lite2 on Fashion-MNIST
        (:func:`~sklatent.datasets.load_image_embeddings`, the
        ``sklatent[vision]`` extra). Generation and the figure are the
        digits' only; ``quick`` keeps a modality's first two encoders, and
        :data:`QUICK_IMAGES` images for ``"vision"``.
    n_samples : int, default=None
        With ``modality="vision"``: the number of Fashion-MNIST images, 30%
        of them held out; None means 3,000 (:data:`QUICK_IMAGES` with
        ``quick``). Other modalities refuse it.

    Returns
    -------
    results : :class:`~sklearn.utils.Bunch`
        What :func:`run_experiment` returns, plus the paths of the files
        :func:`write_report` saved: ``table``, ``figure`` (None when no
        figure was saved) and, with ``generation``, ``generation_table`` and
        ``generation_figure``.

    Raises
    ------
    ValueError
        If an encoder is named twice, ``n_anchors``, ``n_samples`` or
        ``seed`` is out of range, ``output_dir`` is empty or ``device`` is
        unavailable.
    OSError
        If ``output_dir`` cannot be created or written.
    """
    output_dir = check_output_dir(output_dir)
    progress = StageLog(verbose)
    if encoders is None and quick:
        encoders = (
            QUICK_ENCODERS if modality == "digits" else MODALITIES[modality][0][:2]
        )
    if quick and modality == "vision" and n_samples is None:
        n_samples = QUICK_IMAGES
    results = run_experiment(
        encoders=encoders,
        modality=modality,
        n_anchors=n_anchors,
        seed=seed,
        device=device,
        data_home=data_home,
        refresh=refresh,
        generation=generation,
        progress=progress if verbose else None,
        n_samples=n_samples,
    )
    write_report(
        results, output_dir=output_dir, figure=figure, out=out, progress=progress
    )
    progress(f"done in {time.perf_counter() - progress.start:.1f} s")
    return results


def _check_options(*, encoders, n_anchors, seed, device, modality, n_samples):
    """The list of encoders; raise ValueError on any option out of range.

    The number of anchors is checked here against the training rows where
    they are known before loading (digits, audio, vision), else after loading.
    """
    resolve_device(device)  # fail early on an unavailable device
    check_seed(seed)
    if modality not in MODALITIES:
        raise ValueError(
            f"modality={modality!r} is not one of {', '.join(MODALITIES)}."
        )
    names = MODALITIES[modality][0]
    encoders = list(names if encoders is None else encoders)
    foreign = [name for name in encoders if name not in names]
    if foreign:
        raise ValueError(
            f"encoder(s) {', '.join(foreign)} are not {modality} encoders: "
            f"choose among {', '.join(names)}."
        )
    repeated = sorted({name for name in encoders if encoders.count(name) > 1})
    if repeated:
        raise ValueError(
            f"encoder(s) {', '.join(repeated)} given more than once: each pair "
            "would be computed twice with identical results. Name each encoder "
            "once."
        )
    if modality == "digits":
        _check_anchors(n_anchors, len(_digits(_TEST_SIZE, seed)[2]), "images")
    elif modality == "audio":
        _check_anchors(n_anchors, len(_speech_split(_TEST_SIZE, seed)[1]), "recordings")
    if n_samples is not None and modality != "vision":
        raise ValueError(
            f"n_samples={n_samples!r} counts the images of the vision modality: "
            f"drop it for {modality!r}, or use modality='vision'."
        )
    if modality == "vision":
        n_images = (
            _IMAGE_DATASETS["fashion_mnist"][0] if n_samples is None else n_samples
        )
        if not isinstance(n_images, numbers.Integral) or n_images < 2:
            raise ValueError(
                f"n_samples={n_samples!r} must be an int of at least 2: the "
                "number of Fashion-MNIST images."
            )
        # train_test_split holds out ceil(test_size * n) rows.
        n_train = n_images - math.ceil(_TEST_SIZE * n_images)
        _check_anchors(n_anchors, n_train, "images")
    return encoders


def _check_anchors(n_anchors, n_train, noun):
    if not isinstance(n_anchors, numbers.Integral) or not 1 <= n_anchors <= n_train:
        raise ValueError(
            f"n_anchors={n_anchors} must be between 1 and the {n_train} "
            f"training {noun} the anchors are drawn from."
        )


def check_seed(seed):
    """Raise a ValueError unless ``seed`` is an int scikit-learn and numpy accept."""
    if not isinstance(seed, numbers.Integral) or not 0 <= seed <= _MAX_SEED:
        raise ValueError(
            f"seed={seed!r} must be an int between 0 and {_MAX_SEED} (a 32-bit seed)."
        )


def check_output_dir(output_dir):
    """``output_dir`` as a Path, if it is, or can become, a writable folder.

    Nothing is created: the report creates the folder once there is something
    to write, so a failed run leaves no empty folder behind.
    """
    if not os.fspath(output_dir).strip():
        raise ValueError(
            f"output_dir={os.fspath(output_dir)!r} names no folder, so the files "
            "would land in the working directory: pass a folder "
            "(--output-dir sklatent_demo_output), or '.' for the working "
            "directory."
        )
    path = Path(output_dir)
    existing = next(folder for folder in (path, *path.parents) if folder.exists())
    if not existing.is_dir():
        reason = "Not a folder" if existing == path else f"{existing} is a file"
        raise NotADirectoryError(errno.ENOTDIR, reason, str(path))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
    return path


def run_experiment(
    *,
    encoders=None,
    n_anchors=256,
    seed=0,
    device="cpu",
    data_home=None,
    refresh=False,
    generation=True,
    progress=None,
    modality="digits",
    n_samples=None,
):
    """Measure zero-shot stitching (and generation) across encoders.

    Writes nothing: :func:`write_report` turns the results into tables and
    figures. The options are checked before any network is trained.

    Parameters
    ----------
    encoders : list of str, default=None
        Encoders to compare, each named once; None compares all of them.
    n_anchors : int, default=256
        Number of parallel anchors, drawn at random from the training rows.
    seed : int, default=0
        Seeds the networks, the split, the anchors and the matching; between
        0 and 2**32 - 1.
    device : str, default="cpu"
        Device of the relative transformers and translators.
    data_home : str or path-like, default=None
        Cache folder of the networks.
    refresh : bool, default=False
        Retrain every network and overwrite the cache.
    generation : bool, default=True
        Also measure stitched generation: each encoder's decoder
        (:func:`~sklatent.datasets.load_digits_decoders`) reconstructs the
        test images from every encoder's embeddings, naively, translated and
        inverse-projected (:data:`GENERATION`), and a relative autoencoder's
        decoder from another seed's encoder
        (:func:`~sklatent.datasets.load_digits_relative_autoencoders`).
    progress : callable, default=None
        Called with one progress message at each stage; the loaders then
        print one line per network to stderr. None is silent.
    modality : {"digits", "audio", "graph", "vision"}, default="digits"
        Whose encoders (:data:`MODALITIES`); ``generation`` applies to the
        digits only.
    n_samples : int, default=None
        With ``modality="vision"``: the number of Fashion-MNIST images
        (None: 3,000), 30% of them held out.

    Returns
    -------
    results : :class:`~sklearn.utils.Bunch`
        ``accuracy[(fit_on, apply_to)][method]``: test accuracy of each
        method of :data:`METHODS` for each ordered pair of encoders;
        ``encoders``; ``n_anchors``; ``data`` (the embeddings' Bunch) and
        ``anchors`` (positions among the training rows), which the figure
        draws; ``modality``; ``seconds``: how long the experiment took. With
        ``generation``: ``mse[(encoder, decoder)][key]``, the test
        reconstruction MSE of each key of :data:`GENERATION`;
        ``relative_mse``, a dict with the relative autoencoders' ``"own"``
        MSE (seed 1) and ``"stitched"`` MSE (seed 0's encoder, seed 1's
        decoder); ``decoded``, the images behind each of these MSEs.

    Raises
    ------
    ValueError
        If an encoder is named twice, ``n_anchors``, ``n_samples`` or
        ``seed`` is out of range, or ``device`` is unavailable.
    """
    encoders = _check_options(
        encoders=encoders,
        n_anchors=n_anchors,
        seed=seed,
        device=device,
        modality=modality,
        n_samples=n_samples,
    )
    noun = MODALITIES[modality][1]
    load = {"data_home": data_home, "refresh": refresh, "verbose": progress is not None}
    progress = progress or (lambda message: None)
    start = time.perf_counter()
    progress(f"loading encoders {', '.join(encoders)} (computed on first use)")
    data = _loader(modality, n_samples)(
        encoders=encoders, test_size=_TEST_SIZE, random_state=seed, **load
    )
    split = _Split(data.target, data.train_indices, data.test_indices)
    _check_anchors(n_anchors, len(split.train), noun)
    emb = data.embeddings
    # Positions of the anchors among the training rows: the same items for every
    # encoder, since the embeddings are row-aligned.
    anchors = random_anchors(
        emb[encoders[0]][split.train], n_anchors, random_state=seed
    )
    progress(
        f"{len(split.train)} training and {len(split.test)} test {noun}; "
        f"{n_anchors} parallel anchors drawn from the training {noun}"
    )
    results = Bunch(
        accuracy=_measure_stitching(
            emb,
            encoders,
            split=split,
            anchors=anchors,
            seed=seed,
            device=device,
            progress=progress,
        ),
        encoders=list(encoders),
        n_anchors=n_anchors,
        data=data,
        anchors=anchors,
        modality=modality,
    )
    if generation and modality == "digits":
        results.update(
            _measure_generation(
                encoders,
                anchors=anchors,
                seed=seed,
                device=device,
                load=load,
                progress=progress,
            )
        )
    results.seconds = time.perf_counter() - start
    return results


def _measure_stitching(emb, encoders, *, split, anchors, seed, device, progress):
    """``accuracy[(a, b)][method]`` for every ordered pair of encoders."""
    heads = {}
    for name in encoders:
        progress(f"fitting heads on {name} ({emb[name].shape[1]} dimensions)")
        heads[name] = _fit_heads(
            emb[name][split.train], split.y[split.train], anchors, device
        )
    accuracy = {}
    for a in encoders:
        progress(f"stitching heads fitted on {a} to every encoder")
        X_a_train = emb[a][split.train]
        for b in encoders:
            accuracy[(a, b)] = _stitch_pair(
                heads[a],
                heads[b]["absolute"],
                X_a_train,
                emb[b],
                split=split,
                anchors=anchors,
                device=device,
            )
            accuracy[(a, b)]["matched"] = _stitch_matched(
                heads[a]["absolute"], X_a_train, emb[b], split=split, seed=seed
            )
    return accuracy


def _measure_generation(encoders, *, anchors, seed, device, load, progress):
    """Reconstruction MSE of each decoder from every encoder, and the images."""
    progress("loading decoders and relative autoencoders (trained on first use)")
    data = load_digits_decoders(
        encoders=encoders,
        test_size=_TEST_SIZE,
        random_state=seed,
        **load,
    )
    auto = load_digits_relative_autoencoders(
        test_size=_TEST_SIZE, random_state=seed, **load
    )
    train, test = data.train_indices, data.test_indices
    images = data.images[test]
    progress("stitching decoders across encoders")
    decoded = {}
    for a in encoders:
        A = data.embeddings[a]
        rel_a = RelativeTransformer(anchors=anchors, center=True, device=device)
        R_a = rel_a.fit(A[train]).transform(A[test])
        for b in encoders:
            B, decoder = data.embeddings[b], data.decoders[b]
            translator = LatentTranslator(method="affine", device=device)
            rel_b = RelativeTransformer(anchors=anchors, center=True, device=device)
            bridged = {
                "own": B[test],
                "naive": _pad_to(A[test], B.shape[1]),
                "translated": translator.fit(
                    A[train][anchors], B[train][anchors]
                ).transform(A[test]),
                "inverse": rel_b.fit(B[train]).inverse_transform(
                    R_a, alpha=_INVERSE_ALPHA
                ),
            }
            decoded[(a, b)] = {key: _decode(decoder, Z) for key, Z in bridged.items()}
    decoded["relative"] = {
        "own": _decode(auto.decoders[1], auto.relative[1][test]),
        "stitched": _decode(auto.decoders[1], auto.relative[0][test]),
    }
    mse = {
        pair: {
            key: float(((pixels - images) ** 2).mean()) for key, pixels in row.items()
        }
        for pair, row in decoded.items()
    }
    return {
        "mse": {pair: row for pair, row in mse.items() if pair != "relative"},
        "relative_mse": mse["relative"],
        "decoded": {"original": images, **decoded},
    }


def _decode(decoder, Z):
    """Images (n, 64) decoded from embeddings ``Z`` by a torch ``decoder``."""
    import torch

    with torch.no_grad():
        return decoder(torch.as_tensor(np.asarray(Z, dtype=np.float32))).numpy()


def _fit_heads(X_train, y_train, anchors, device):
    """Fit the absolute head and the two relative pipelines on one encoder."""
    heads = {"absolute": _head()}
    for key, center in (("relative", False), ("relative_centred", True)):
        # normalize="standard" standardises each relative feature on the
        # encoder's own fitting rows (refitted on B when stitching), like the
        # normalisation layers that open the decoders of Moschella et al. (2023).
        relative = RelativeTransformer(
            anchors=anchors, center=center, normalize="standard", device=device
        )
        heads[key] = make_pipeline(relative, _head())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for head in heads.values():
            head.fit(X_train, y_train)
    return heads


def _stitch_pair(heads_a, head_b, X_a_train, X_b, *, split, anchors, device):
    """Test accuracies of encoder A's heads applied to encoder B."""
    X_b_train, X_b_test, y_test = X_b[split.train], X_b[split.test], split.y[split.test]
    absolute = heads_a["absolute"]
    scores = {"own": head_b.score(X_b_test, y_test)}
    scores["absolute"] = absolute.score(
        _pad_to(X_b_test, absolute.n_features_in_), y_test
    )
    for key in ("relative", "relative_centred"):
        stitched = stitch_relative(heads_a[key], X_b_train)
        scores[key] = stitched.score(X_b_test, y_test)
    for method in ("orthogonal", "affine"):
        stitched = stitch_translated(
            absolute,
            X_b_train[anchors],
            X_a_train[anchors],
            method=method,
            device=device,
        )
        scores[method] = stitched.score(X_b_test, y_test)
    return {key: float(value) for key, value in scores.items()}


def _stitch_matched(absolute, X_a_train, X_b, *, split, seed):
    """Accuracy of A's head on B through a translator fitted on matched pairs.

    B's training pool is shuffled, so its rows are not parallel to A's; the
    only known pairs are one training image per class. ``match_spaces``
    refines them into a correspondence between the pools, and an orthogonal
    B -> A translator is fitted on the matched pairs.
    """
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(split.train))
    X_b_pool = X_b[split.train][order]
    y_train = split.y[split.train]
    known = [int(np.flatnonzero(y_train == c)[0]) for c in np.unique(y_train)]
    position = np.argsort(order)  # where each training row went in B's pool
    seeds = np.column_stack([position[known], known])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        matching = match_spaces(
            _leading_components(X_b_pool),
            _leading_components(X_a_train),
            seeds=seeds,
            random_state=seed,
        )
    stitched = stitch_translated(
        absolute,
        X_b_pool[matching.x_indices],
        X_a_train[matching.y_indices],
        method="orthogonal",
    )
    return float(stitched.score(X_b[split.test], split.y[split.test]))


def _leading_components(X):
    """``X`` itself, or its first :data:`_MATCH_WIDTH` principal components.

    Matching fits a Procrustes map, an SVD of a width x width matrix, at each
    of its steps: on the 1280-d image encoders that takes minutes. It matches
    their leading principal components instead, each fitted on its own pool
    (no pairs needed); the translator is then fitted on the whole embeddings
    of the matched pairs. Every other modality's encoders are narrower.
    """
    if X.shape[1] <= _MATCH_WIDTH:
        return X
    n_components = min(_MATCH_WIDTH, len(X))
    return PCA(n_components=n_components, random_state=0).fit_transform(X)


def write_report(results, *, output_dir, figure=True, out=None, progress=None):
    """Print the tables of :func:`run_experiment`'s results and save their files.

    Parameters
    ----------
    results : :class:`~sklearn.utils.Bunch`
        What :func:`run_experiment` returned; the paths of the saved files
        are added to it (``table``, ``figure``, ``generation_table``,
        ``generation_figure``; a figure is None when none was saved).
    output_dir : path-like
        Folder of the CSV tables and PNG figures, created if needed.
    figure : bool, default=True
        Save the figures (needs matplotlib).
    out : file-like, default=None
        Where the tables are printed; None means ``sys.stdout``.
    progress : callable, default=None
        Called with one progress message before each figure.
    """
    out = sys.stdout if out is None else out
    progress = progress or (lambda message: None)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    results.table = output_dir / _TABLE_NAME
    _write_csv(results.table, results.accuracy, results.encoders)
    _print_table(results, out)
    results.figure = None
    if figure and results.modality == "digits":
        progress("drawing the figure")
        results.figure = _save_figure(output_dir / _FIGURE_NAME, results, out)
    print(f"Table saved to {results.table}", file=out)
    if results.figure is not None:
        print(f"Figure saved to {results.figure}", file=out)
    if "mse" in results:
        _report_generation(
            results, output_dir, figure=figure, out=out, progress=progress
        )
    return results


def _report_generation(results, output_dir, *, figure, out, progress):
    """Print and save the generation table, and save its figure of digits."""
    results.generation_table = output_dir / _GENERATION_TABLE_NAME
    _write_generation_csv(results.generation_table, results)
    _print_generation(results, out)
    print(f"Generation table saved to {results.generation_table}", file=out)
    results.generation_figure = None
    if not figure:
        return
    progress("drawing the generation figure")
    a, b = results.encoders[-1], results.encoders[0]
    decoded = results.decoded
    panels = [
        ("original", decoded["original"]),
        (f"{b} decoder, own", decoded[(b, b)]["own"]),
    ]
    panels += [
        (f"{a}, {GENERATION[key][0]}", decoded[(a, b)][key])
        for key in ("naive", "translated", "inverse")
    ]
    panels += [
        ("rel. AE, own", decoded["relative"]["own"]),
        ("rel. AE, stitched", decoded["relative"]["stitched"]),
    ]
    results.generation_figure = _save_generation_figure(
        output_dir / _GENERATION_FIGURE_NAME, panels, a, b, out
    )
    if results.generation_figure is not None:
        print(f"Generation figure saved to {results.generation_figure}", file=out)


def _write_csv(path, accuracy, encoders):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["fit_on", "apply_to", *METHODS])
        for a in encoders:
            for b in encoders:
                scores = accuracy[(a, b)]
                writer.writerow([a, b, *(f"{scores[key]:.4f}" for key in METHODS)])


def _write_generation_csv(path, results):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["encoder", "decoder", "bridge", "mse"])
        for (a, b), row in results.mse.items():
            writer.writerows([a, b, key, f"{row[key]:.5f}"] for key in GENERATION)
        for encoder, key in (
            ("relative_ae_seed1", "own"),
            ("relative_ae_seed0", "stitched"),
        ):
            value = f"{results.relative_mse[key]:.5f}"
            writer.writerow([encoder, "relative_ae_seed1", "relative", value])


def table_layout(headers, names, *, score_width=6):
    """``(widths, line)`` of a stitching table: two name columns, then scores.

    ``line(cells)`` joins one row's cells, names left-aligned and scores
    right-aligned in their columns, each at least ``score_width`` wide.
    """
    name_width = max(len(headers[1]), *(len(name) for name in names))
    widths = [name_width, name_width]
    widths += [max(score_width, len(h)) for h in headers[2:]]

    def line(cells):
        return "  ".join(
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return widths, line


def _print_table(results, out):
    """Print the accuracy table with its legend."""
    accuracy, encoders, data = results.accuracy, results.encoders, results.data
    dims = {name: data.embeddings[name].shape[1] for name in encoders}
    n_test, n_anchors = len(data.test_indices), results.n_anchors
    headers = ["fit on", "apply to"] + [header for header, _ in METHODS.values()]
    widths, line = table_layout(headers, [*encoders, "mean over"])
    padded = False
    noun = MODALITIES[results.modality][1]
    n_classes = len(np.unique(data.target))
    print(
        f"\nZero-shot stitching on the {results.modality} test set ({n_test} "
        f"{noun}, {n_classes} classes): accuracy of a\nlogistic regression fitted "
        "on one encoder ('fit on') and applied to another ('apply to');\n"
        f"{n_anchors} parallel anchors.\n",
        file=out,
    )
    print(line(headers), file=out)
    print(line(["-" * width for width in widths]), file=out)
    for a in encoders:
        for b in encoders:
            scores = accuracy[(a, b)]
            cells = [a, b]
            for key in METHODS:
                cell = f"{scores[key]:.3f}"
                if key == "absolute" and dims[a] != dims[b]:
                    cell += "*"
                    padded = True
                cells.append(cell)
            print(line(cells), file=out)
    pairs = [(a, b) for a in encoders for b in encoders if a != b]
    if pairs:
        print(line(["-" * width for width in widths]), file=out)
        means = [f"{np.mean([accuracy[p][key] for p in pairs]):.3f}" for key in METHODS]
        print(line(["mean over", "a != b", *means]), file=out)
    else:
        print(
            f"\nOnly one encoder ({encoders[0]}): each head is applied to the "
            "encoder it was fitted on,\nso no row stitches across encoders. "
            "Compare two or more (--encoders A B).",
            file=out,
        )
    print("", file=out)
    for header, description in METHODS.values():
        print(f"  {header:<{widths[2] + 8}} {description}", file=out)
    if padded:
        print(
            "  * the encoders' dimensions differ, so naive reuse is only possible "
            "after\n    zero-padding (or truncating) the embeddings to the head's "
            "width.",
            file=out,
        )
    print(
        "  Relative vectors are standardised per anchor on each encoder's own "
        f"training {noun}\n  (normalize='standard'); translators standardise both "
        "spaces on the anchors.",
        file=out,
    )
    print(f"\nComputed in {results.seconds:.1f} s.", file=out)


def _print_generation(results, out):
    """Print the reconstruction table with its legend."""
    mse, relative_mse, encoders = results.mse, results.relative_mse, results.encoders
    n_test, n_anchors = len(results.data.test_indices), results.n_anchors
    headers = ["encoder", "decoder"] + [h for h, _ in GENERATION.values()]
    widths, line = table_layout(headers, encoders, score_width=8)
    print(
        f"\nStitched generation on the digits test set ({n_test} images): "
        "reconstruction MSE of\neach encoder's decoder ('decoder') from "
        "another encoder's embeddings ('encoder'),\nas a multiple of the "
        f"decoder's own MSE; {n_anchors} parallel anchors.\n",
        file=out,
    )
    print(line(headers), file=out)
    print(line(["-" * width for width in widths]), file=out)
    for (a, b), row in mse.items():
        cells = [a, b, f"{row['own']:.4f}"]
        cells += [f"{row[key] / row['own']:.2f}x" for key in list(GENERATION)[1:]]
        print(line(cells), file=out)
    print("", file=out)
    legend = max(len(header) for header, _ in GENERATION.values())
    for header, description in GENERATION.values():
        print(f"  {header:<{legend}}  {description}", file=out)
    own, stitched = relative_mse["own"], relative_mse["stitched"]
    print(
        f"\nRelative autoencoders (decoder of seed 1): own MSE {own:.4f}; from "
        f"the encoder of seed 0,\nzero-shot, {stitched:.4f} "
        f"({stitched / own:.2f}x own).",
        file=out,
    )


def _agg_figure(out):
    """``(Figure, FigureCanvasAgg)`` classes, or None (said on ``out``)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        print(
            "matplotlib is not installed: skipping the figure "
            "(pip install matplotlib, or pip install 'sklatent[plot]').",
            file=out,
        )
        return None
    return Figure, FigureCanvasAgg


def _save_generation_figure(path, panels, a, b, out):
    """Save a grid of test digits: one row per panel ``(title, images)``."""
    classes = _agg_figure(out)
    if classes is None:
        return None
    Figure, FigureCanvasAgg = classes
    n_shown = 10
    fig = Figure(
        figsize=(n_shown * 0.9 + 1.5, len(panels) * 0.95), layout="constrained"
    )
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), n_shown)
    for row, (title, pictures) in zip(axes, panels, strict=True):
        for i, ax in enumerate(row):
            ax.imshow(pictures[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(title, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(f"The decoder of {b} generating from {a}'s embeddings (test images)")
    fig.savefig(path, dpi=110)
    return path


def _save_figure(path, results, out):
    """Save the accuracy matrices and a 2-D view of absolute vs relative spaces.

    Uses matplotlib's object API with the Agg canvas, so no global pyplot
    state or interactive backend is touched. Returns the path, or None when
    matplotlib is missing.
    """
    classes = _agg_figure(out)
    if classes is None:
        return None
    Figure, FigureCanvasAgg = classes

    fig = Figure(figsize=(16, 8), layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.05])
    accuracy, encoders, anchors = results.accuracy, results.encoders, results.anchors
    emb, y = results.data.embeddings, results.data.target
    train, test = results.data.train_indices, results.data.test_indices
    methods = [key for key in METHODS if key != "own"]
    axes = top.subplots(1, len(methods))
    n = len(encoders)
    for ax, key in zip(axes, methods, strict=True):
        matrix = np.array([[accuracy[(a, b)][key] for b in encoders] for a in encoders])
        image = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
        for i in range(n):
            for j in range(n):
                ax.text(
                    j,
                    i,
                    f"{matrix[i, j]:.2f}",
                    ha="center",
                    va="center",
                    color="black" if matrix[i, j] > 0.6 else "white",
                    fontsize=9,
                )
        ax.set_xticks(range(n), encoders, rotation=30, ha="right")
        ax.set_yticks(range(n), encoders if ax is axes[0] else [])
        ax.set_title(METHODS[key][0])
        ax.set_xlabel("apply to")
    axes[0].set_ylabel("fit on")
    top.colorbar(image, ax=list(axes), shrink=0.8, label="test accuracy")
    top.suptitle("Zero-shot stitching: accuracy of a head fitted on one encoder")

    a, b = encoders[0], encoders[-1]
    relative = {
        name: RelativeTransformer(anchors=anchors, center=True)
        .fit(emb[name][train])
        .transform(emb[name][test])
        for name in (a, b)
    }
    shared = PCA(n_components=2, random_state=0).fit(relative[a])
    views = [
        (f"absolute: {a}", PCA(2, random_state=0).fit_transform(emb[a][test])),
        (f"absolute: {b}", PCA(2, random_state=0).fit_transform(emb[b][test])),
        (f"relative: {a}", shared.transform(relative[a])),
        (f"relative: {b}", shared.transform(relative[b])),
    ]
    axes = bottom.subplots(1, 4)
    for ax, (title, points) in zip(axes, views, strict=True):
        scatter = ax.scatter(
            points[:, 0],
            points[:, 1],
            c=y[test],
            cmap="tab10",
            s=6,
            vmin=-0.5,
            vmax=9.5,
        )
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    bottom.colorbar(scatter, ax=list(axes), ticks=range(10), label="digit")
    bottom.suptitle(
        "Test images in 2-D (PCA): each absolute space in its own PCA basis; "
        f"both relative spaces (centred cosine to {len(anchors)} parallel anchors) "
        f"in the PCA basis of {a}'s"
    )
    fig.savefig(path, dpi=110)
    return path
