"""Parallel embeddings from data that ships with scikit-learn (no download).

Several small torch encoders are trained on the same digit images; each embeds all
images, so row ``i`` of every embedding is the same image. Such row-aligned
("parallel") embeddings are what relative representations and latent space
translation need for anchors and for evaluation.
"""

import contextlib
import logging
import numbers
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch
from torch import nn

__all__ = ["ENCODER_NAMES", "get_data_home", "load_digits_embeddings"]

_logger = logging.getLogger(__name__)

# Bump whenever anything below changes the embeddings, so stale caches are not read.
_RECIPE_VERSION = "1"
_EPOCHS = 30
_BATCH_SIZE = 64
_LEARNING_RATE = 1e-3
_N_CLASSES = 10
# Build modules in float32 on the CPU whatever the caller's torch defaults are.
_FACTORY = {"dtype": torch.float32, "device": "cpu"}


def _mlp_small():
    return nn.Sequential(
        nn.Linear(64, 128, **_FACTORY),
        nn.ReLU(),
        nn.Linear(128, 32, **_FACTORY),
    )


def _mlp_wide():
    return nn.Sequential(
        nn.Linear(64, 256, **_FACTORY),
        nn.Tanh(),
        nn.Linear(256, 64, **_FACTORY),
        nn.Tanh(),
    )


def _cnn():
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 16, 3, padding=1, **_FACTORY),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1, **_FACTORY),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 48, **_FACTORY),
        nn.GELU(),
    )


# name -> (seed, embedding dimension, builder of the encoder module)
_ENCODERS = {
    "mlp_small": (0, 32, _mlp_small),
    "mlp_wide": (1, 64, _mlp_wide),
    "cnn": (2, 48, _cnn),
}

#: Names of the encoders that :func:`load_digits_embeddings` can train.
ENCODER_NAMES = tuple(_ENCODERS)


def get_data_home(data_home=None):
    """Return the folder where sklatent caches its datasets, creating it if needed.

    Datasets computed by sklatent (such as trained embeddings) are stored there, so
    they are computed once per machine rather than once per call.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. When None, the environment variable
        ``SKLATENT_DATA_HOME`` is used if set, else ``$XDG_CACHE_HOME/sklatent``,
        else ``~/.cache/sklatent``. A leading ``~`` is expanded.

    Returns
    -------
    pathlib.Path
        The cache folder; it exists on return.

    See Also
    --------
    load_digits_embeddings : Parallel embeddings cached in this folder.

    Examples
    --------
    >>> import tempfile
    >>> from sklatent.datasets import get_data_home
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     print(get_data_home(tmp + "/cache").name)
    cache
    """
    if data_home is None:
        data_home = os.environ.get("SKLATENT_DATA_HOME")
    if data_home is None:
        cache = os.environ.get("XDG_CACHE_HOME") or Path("~", ".cache")
        data_home = Path(cache, "sklatent")
    path = Path(data_home).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _train_encoder(name, X_train, y_train, random_state):
    """Train encoder ``name`` with a linear head; return (encoder, head).

    Initialisation and batch order are seeded by ``random_state`` and the encoder's
    own seed; the caller's global torch random state is left as it was.
    """
    own_seed, dim, build = _ENCODERS[name]
    seed = int(np.random.SeedSequence([random_state, own_seed]).generate_state(1)[0])
    X = torch.from_numpy(X_train.astype(np.float32))
    y = torch.from_numpy(y_train.astype(np.int64))
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        encoder = build()
        head = nn.Linear(dim, _N_CLASSES, **_FACTORY)
    shuffle = torch.Generator(device="cpu").manual_seed(seed)
    model = nn.Sequential(encoder, head)
    optimizer = torch.optim.Adam(model.parameters(), lr=_LEARNING_RATE)
    model.train()
    with torch.enable_grad():  # also when called under the caller's no_grad()
        for _ in range(_EPOCHS):
            order = torch.randperm(len(X), generator=shuffle, device="cpu")
            for batch in order.split(_BATCH_SIZE):
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(model(X[batch]), y[batch])
                loss.backward()
                optimizer.step()
    return encoder.eval(), head.eval()


@contextlib.contextmanager
def _one_torch_thread():
    """Run torch on one thread inside the block, then restore the caller's count.

    Results then do not depend on the number of cores, and these tiny networks gain
    nothing from more threads: on a busy two-core machine two threads trained ten
    times slower than one.
    """
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n_threads)


def _report(message, verbose):
    """Print ``message`` to stderr if ``verbose``, else log it at INFO level."""
    if verbose:
        print(message, file=sys.stderr)
    else:
        _logger.info(message)


def _save_atomic(path, **arrays):
    """Write ``arrays`` to ``path`` as .npz so readers never see a partial file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            np.savez(file, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_digits_embeddings(
    *,
    encoders=None,
    test_size=0.3,
    random_state=0,
    data_home=None,
    refresh=False,
    verbose=False,
):
    """Load parallel embeddings of the digits dataset from several small encoders.

    The 1797 8x8 images of :func:`sklearn.datasets.load_digits` are split into a
    stratified train and test set. Each encoder (a small torch network) is trained
    with a linear classification head on the training images only, then embeds all
    images; the embedding is the encoder's output, the layer before the head. Row
    ``i`` of every embedding is the same image, so the embeddings are *parallel*:
    any rows can serve as anchors shared across encoders.

    Embeddings are cached in :func:`get_data_home` and computed only once.

    Parameters
    ----------
    encoders : str or list of str, default=None
        Names of the encoders to load, from :data:`ENCODER_NAMES`:
        ``"mlp_small"`` (MLP 64-128-32, ReLU hidden layer, linear output),
        ``"mlp_wide"`` (MLP 64-256-64, tanh) and ``"cnn"`` (two 3x3 convolutions,
        max pooling, 48 GELU outputs). A single name may be given as a string.
        None loads all of them.
    test_size : float or int, default=0.3
        Fraction (float) or number (int) of images held out from training, as in
        :func:`sklearn.model_selection.train_test_split`.
    random_state : int, default=0
        Seeds the split and, together with each encoder's own seed, the
        encoders' initialisation and batch order. Embeddings are cached per value.
    data_home : str or path-like, default=None
        Cache folder; see :func:`get_data_home` for the default.
    refresh : bool, default=False
        Retrain the encoders and overwrite the cache even if cached embeddings
        exist.
    verbose : bool, default=False
        Print one progress line per encoder to stderr, such as ``training cnn ...
        done in 2.1 s, test accuracy 0.97`` (the accuracy of the network's own
        head on the held-out images). When False the same lines go to the
        ``logging`` logger ``"sklatent.datasets"`` at INFO level instead.

    Returns
    -------
    :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        embeddings : dict of str to ndarray of shape (1797, n_dims), dtype float32
            Embeddings of all images by each encoder, row-aligned across encoders.
        target : ndarray of shape (1797,), dtype int
            The digit of each image.
        images : ndarray of shape (1797, 64), dtype float64
            The images, flattened and scaled to [0, 1].
        train_indices : ndarray of shape (n_train,), dtype int
            Rows the encoders were trained on.
        test_indices : ndarray of shape (n_test,), dtype int
            Rows held out from training.
        encoder_names : list of str
            Names of the loaded encoders, in the order asked for, without
            duplicates.
        DESCR : str
            Description of the dataset.

    Raises
    ------
    ValueError
        If an encoder name is unknown, or ``random_state`` is not an int.

    See Also
    --------
    get_data_home : The cache folder.
    sklearn.datasets.load_digits : The images.

    Notes
    -----
    Training is deterministic on a given machine: each encoder seeds its own
    generators and the caller's global torch random state is left untouched. Torch
    runs on one thread during training, whatever the number of cores, and the
    caller's thread count is restored on return (torch code running meanwhile in
    other Python threads would see one thread). All three encoders train in a few
    seconds on one CPU core and reach about 0.95 test accuracy or more with a
    logistic regression on their embeddings.

    Each encoder is cached in its own ``.npz`` file whose name holds a recipe
    version, the encoder name, ``random_state`` and ``test_size``, so a changed
    recipe never reads stale embeddings. Files are written atomically.

    Examples
    --------
    >>> from sklatent.datasets import load_digits_embeddings
    >>> data = load_digits_embeddings(encoders=["mlp_small", "cnn"])
    >>> {name: emb.shape for name, emb in data.embeddings.items()}
    {'mlp_small': (1797, 32), 'cnn': (1797, 48)}
    >>> data.train_indices.shape, data.test_indices.shape
    ((1257,), (540,))
    """
    names = [encoders] if isinstance(encoders, str) else encoders
    names = list(ENCODER_NAMES if names is None else dict.fromkeys(names))
    unknown = [name for name in names if name not in _ENCODERS]
    if unknown:
        raise ValueError(
            f"Unknown encoder name(s) {unknown}; valid names are {list(ENCODER_NAMES)}."
        )
    if not isinstance(random_state, numbers.Integral):
        raise ValueError(
            "random_state must be an int, because embeddings are cached per seed; "
            f"got {random_state!r}."
        )

    digits = load_digits()
    images = digits.data / 16.0
    target = digits.target
    train_indices, test_indices = train_test_split(
        np.arange(len(target)),
        test_size=test_size,
        stratify=target,
        random_state=random_state,
    )
    home = get_data_home(data_home)
    embeddings = {}
    for name in names:
        path = home / (
            f"digits_v{_RECIPE_VERSION}_{name}_rs{random_state}_test{test_size}.npz"
        )
        if path.exists() and not refresh:
            with np.load(path) as cached:
                embeddings[name] = cached["embedding"]
            _report(f"loaded {name} from {path}", verbose)
            continue
        start = time.perf_counter()
        with _one_torch_thread():
            encoder, head = _train_encoder(
                name, images[train_indices], target[train_indices], random_state
            )
            with torch.no_grad():
                embedding = encoder(torch.from_numpy(images.astype(np.float32)))
                predicted = head(embedding[test_indices]).argmax(dim=1).numpy()
        embeddings[name] = embedding.numpy()
        _save_atomic(path, embedding=embeddings[name])
        accuracy = np.mean(predicted == target[test_indices])
        _report(
            f"training {name} ... done in {time.perf_counter() - start:.1f} s, "
            f"test accuracy {accuracy:.2f}",
            verbose,
        )
    return Bunch(
        embeddings=embeddings,
        target=target,
        images=images,
        train_indices=train_indices,
        test_indices=test_indices,
        encoder_names=names,
        DESCR=_describe(names, embeddings, len(train_indices), len(test_indices)),
    )


def _describe(names, embeddings, n_train, n_test):
    lines = [
        "Parallel embeddings of the scikit-learn digits (1797 8x8 images, 10 classes).",
        f"Each encoder was trained as a classifier on {n_train} training images "
        f"({n_test} held out); row i of every embedding is the same image.",
        f"Recipe version {_RECIPE_VERSION}: cross-entropy, Adam (learning rate "
        f"{_LEARNING_RATE}), {_EPOCHS} epochs of batches of {_BATCH_SIZE}.",
        "Encoders:",
    ]
    lines += [f"- {name}: {embeddings[name].shape[1]} dimensions" for name in names]
    return "\n".join(lines)
