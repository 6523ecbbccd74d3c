"""Parallel embeddings and decoders from data that ships with scikit-learn.

Several small torch encoders are trained on the same digit images; each embeds all
images, so row ``i`` of every embedding is the same image. Such row-aligned
("parallel") embeddings are what relative representations and latent space
translation need for anchors and for evaluation. Decoders from each embedding back
to the images, and autoencoders whose latent space is relative, serve to study
stitched generation. Nothing is downloaded; everything trained is cached.

This module holds the public loaders; the networks and their training live in
``sklatent._zoo``, the cache folder and its files in ``sklatent._cache``.
"""

import numbers
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

from ._cache import (
    _expect,
    _load_or_train,
    _read_cached,
    _report,
    _save_atomic,
    get_data_home,
)
from ._zoo import (
    _AUTOENCODER_DROPOUT,
    _AUTOENCODER_EPOCHS,
    _BATCH_SIZE,
    _DECODER_DROPOUT,
    _DECODER_EPOCHS,
    _DECODER_VERSION,
    _ENCODERS,
    _EPOCHS,
    _LEARNING_RATE,
    _RECIPE_VERSION,
    _build_decoder,
    _mse,
    _RelativeAutoencoder,
    _train_autoencoder,
    _train_decoder,
    _train_encoder,
)

__all__ = [
    "ENCODER_NAMES",
    "get_data_home",
    "load_digits_decoders",
    "load_digits_embeddings",
    "load_digits_relative_autoencoders",
]

#: Names of the encoders that :func:`load_digits_embeddings` can train.
ENCODER_NAMES = tuple(_ENCODERS)

#: The largest seed scikit-learn and numpy accept (seeds are 32-bit).
_MAX_SEED = 2**32 - 1


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
        If an encoder name is unknown, or ``random_state`` is not an int
        between 0 and 2**32 - 1.

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
    other Python threads would see one thread). Each encoder reaches at least
    0.9 test accuracy with a logistic regression on its embeddings; training
    times are in :doc:`/datasets`.

    Each encoder is cached in its own ``.npz`` file whose name holds a recipe
    version, the encoder name, ``random_state`` and ``test_size``, so a changed
    recipe never reads stale embeddings. Files are written atomically. A cached
    file that cannot be read, or does not hold a finite float32 array of the
    expected shape, is named in a :class:`RuntimeWarning` and rebuilt.

    Examples
    --------
    >>> from sklatent.datasets import load_digits_embeddings
    >>> data = load_digits_embeddings(encoders=["mlp_small", "cnn"])
    >>> {name: emb.shape for name, emb in data.embeddings.items()}
    {'mlp_small': (1797, 32), 'cnn': (1797, 48)}
    >>> data.train_indices.shape, data.test_indices.shape
    ((1257,), (540,))
    """
    names = _encoder_names(encoders)
    images, target, train_indices, test_indices = _digits(test_size, random_state)
    home = get_data_home(data_home)
    embeddings = {}
    for name in names:
        path = home / (
            f"digits_v{_RECIPE_VERSION}_{name}_rs{random_state}_test{test_size}.npz"
        )
        dim = _ENCODERS[name][1]
        expected = {"embedding": ((len(images), dim), np.float32)}
        cached = _read_cached(path, _expect(expected), refresh=refresh)
        if cached is not None:
            embeddings[name] = cached["embedding"]
            _report(f"loaded {name} from {path}", verbose)
            continue
        start = time.perf_counter()
        embeddings[name], accuracy = _train_encoder(
            name, images, target, train_indices, test_indices, random_state
        )
        _save_atomic(path, embedding=embeddings[name])
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


def load_digits_decoders(
    *,
    encoders=None,
    test_size=0.3,
    random_state=0,
    data_home=None,
    refresh=False,
    verbose=False,
):
    """Load the digits embeddings together with a decoder for each encoder.

    Each decoder is a small torch network from one encoder's embedding back to
    the 8x8 image, trained on the training images only (mean squared error on
    the pixels, scaled to [0, 1]) with the encoder frozen, as the generative
    half of an autoencoder. A decoder of encoder B applied to encoder A's
    embeddings, bridged into B's space (by a
    :class:`~sklatent.LatentTranslator` or by
    :meth:`~sklatent.RelativeTransformer.inverse_transform`), generates from
    A: stitched generation.

    Decoders are cached in :func:`get_data_home` next to the embeddings, and
    trained only once.

    Parameters
    ----------
    encoders : str or list of str, default=None
        Names of the encoders, from :data:`ENCODER_NAMES`, as in
        :func:`load_digits_embeddings`. None loads all of them.
    test_size : float or int, default=0.3
        Fraction (float) or number (int) of images held out from training.
    random_state : int, default=0
        Seeds the split, the encoders and the decoders.
    data_home : str or path-like, default=None
        Cache folder; see :func:`get_data_home` for the default.
    refresh : bool, default=False
        Retrain the encoders and the decoders even if they are cached.
    verbose : bool, default=False
        Print one progress line per network to stderr, such as ``training the
        decoder of cnn ... done in 1.2 s, test MSE 0.022``; when False the
        lines go to the ``"sklatent.datasets"`` logger at INFO level.

    Returns
    -------
    :class:`~sklearn.utils.Bunch`
        Everything :func:`load_digits_embeddings` returns, and:

        decoders : dict of str to torch.nn.Module
            For each encoder, a float32 module in eval mode mapping a tensor
            of embeddings of shape (n, n_dims) to images of shape (n, 64), in
            [0, 1], the layout of ``images``.

    Raises
    ------
    ValueError
        If an encoder name is unknown, or ``random_state`` is not an int
        between 0 and 2**32 - 1.

    See Also
    --------
    load_digits_embeddings : The embeddings alone.
    load_digits_relative_autoencoders : Autoencoders with a relative latent space.

    Notes
    -----
    A decoder is ``Dropout(0.2) -> Linear(n_dims, 256) -> ReLU -> Linear(256, 64)
    -> Sigmoid``, trained for 30 epochs with Adam (learning rate 1e-3, batches
    of 64), seeded like the encoders. The dropout on its input makes it lean on
    no single coordinate: it costs some reconstruction quality on its own
    encoder and makes it tolerate the errors of a bridge from another encoder
    (the measurements are in :doc:`/datasets`). A damaged cached file is named
    in a :class:`RuntimeWarning` and retrained.

    Examples
    --------
    >>> import torch
    >>> from sklatent.datasets import load_digits_decoders
    >>> data = load_digits_decoders(encoders="mlp_small")
    >>> with torch.no_grad():
    ...     images = data.decoders["mlp_small"](torch.from_numpy(
    ...         data.embeddings["mlp_small"][data.test_indices]))
    >>> tuple(images.shape)
    (540, 64)
    >>> float(((images.numpy() - data.images[data.test_indices]) ** 2).mean()) < 0.03
    True
    """
    data = load_digits_embeddings(
        encoders=encoders,
        test_size=test_size,
        random_state=random_state,
        data_home=data_home,
        refresh=refresh,
        verbose=verbose,
    )
    home = get_data_home(data_home)
    train, test = data.train_indices, data.test_indices
    data.decoders = {}
    for name in data.encoder_names:
        embedding = data.embeddings[name]

        def train_decoder(name=name, embedding=embedding):
            return _train_decoder(name, embedding, data.images, train, random_state)

        path = home / (
            f"digits_v{_RECIPE_VERSION}_decoder{_DECODER_VERSION}_{name}"
            f"_rs{random_state}_test{test_size}.npz"
        )
        start = time.perf_counter()
        decoder, trained = _load_or_train(
            path,
            lambda name=name: _build_decoder(name),
            train_decoder,
            refresh=refresh,
            verbose=verbose,
            label=f"the decoder of {name}",
        )
        data.decoders[name] = decoder
        if trained:
            with torch.no_grad():
                mse = _mse(
                    decoder(torch.from_numpy(embedding[test])), data.images[test]
                )
            _report(
                f"training the decoder of {name} ... done in "
                f"{time.perf_counter() - start:.1f} s, test MSE {mse:.3f}",
                verbose,
            )
    data.DESCR += (
        f"\nDecoders (version {_DECODER_VERSION}): each embedding -> the 64 pixels, "
        f"mean squared error on the training images, {_DECODER_EPOCHS} epochs, "
        f"input dropout {_DECODER_DROPOUT}."
    )
    return data


def load_digits_relative_autoencoders(
    *,
    seeds=(0, 1),
    n_anchors=200,
    test_size=0.3,
    random_state=0,
    data_home=None,
    refresh=False,
    verbose=False,
):
    """Load digits autoencoders whose latent space is relative, one per seed.

    Each autoencoder embeds an image with an MLP encoder, describes the
    embedding by its centred cosine similarities to ``n_anchors`` anchor
    images embedded by the same encoder in the same forward pass
    (:class:`sklatent.nn.RelativeProjection`, layer-normalised), and decodes
    that relative vector back to the image, as in Moschella et al. (2023).
    All autoencoders use the same anchor images (parallel anchors) and are
    trained end to end on the training images, differing only by their seed
    (initialisation, dropout and batch order). Their absolute latent spaces
    are unrelated, their relative spaces nearly equal, so the decoder of one
    seed reconstructs from the encoder of another, zero-shot.

    Trained networks are cached in :func:`get_data_home`.

    Parameters
    ----------
    seeds : sequence of int, default=(0, 1)
        One autoencoder per seed, each seed given once.
    n_anchors : int, default=200
        Number of anchor images, drawn at random from the training images.
    test_size : float or int, default=0.3
        Fraction (float) or number (int) of images held out from training.
    random_state : int, default=0
        Seeds the split and the anchors, and with each seed the autoencoders.
    data_home : str or path-like, default=None
        Cache folder; see :func:`get_data_home` for the default.
    refresh : bool, default=False
        Retrain the autoencoders even if they are cached.
    verbose : bool, default=False
        Print one progress line per autoencoder to stderr; when False the
        lines go to the ``"sklatent.datasets"`` logger at INFO level.

    Returns
    -------
    :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        encoders : dict of int to torch.nn.Module
            For each seed, the encoder (float32, eval mode): images of shape
            (n, 64) to absolute latent vectors of shape (n, 32).
        projection : sklatent.nn.RelativeProjection
            The relative layer shared by all autoencoders (it has no
            parameters): ``projection(z, encoder(anchor_images))``.
        decoders : dict of int to torch.nn.Module
            For each seed, the decoder (float32, eval mode): relative vectors
            of shape (n, n_anchors) to images of shape (n, 64), in [0, 1].
        embeddings : dict of int to ndarray of shape (1797, 32), dtype float32
            Absolute latent vectors of all images, by each seed's encoder.
        relative : dict of int to ndarray of shape (1797, n_anchors)
            Relative vectors of all images, by each seed's encoder and anchors:
            what the decoders take.
        anchor_indices : ndarray of shape (n_anchors,), dtype int
            Rows of ``images`` used as anchors, among the training rows.
        images, target, train_indices, test_indices
            As in :func:`load_digits_embeddings`.
        seeds : list of int
            The seeds, in the order given.
        DESCR : str
            Description of the dataset.

    Raises
    ------
    ValueError
        If a seed is repeated or not an int, ``n_anchors`` is not between 1
        and the number of training images, or ``random_state`` is not an int
        between 0 and 2**32 - 1.

    See Also
    --------
    sklatent.nn.RelativeProjection : The relative layer.
    load_digits_decoders : Decoders of the absolute embeddings.

    Notes
    -----
    Encoder ``Linear(64, 128) -> ReLU -> Linear(128, 32)``; relative layer
    ``RelativeProjection(center=True, normalize="layer")``; decoder
    ``Dropout(0.5) -> Linear(n_anchors, 128) -> ReLU -> Linear(128, 64) ->
    Sigmoid``; 40 epochs of Adam (learning rate 1e-3, batches of 64) on the
    mean squared error. The dropout on the relative input, as on the absolute
    decoders of :func:`load_digits_decoders`, makes a decoder tolerate the
    small differences between the relative spaces of two seeds (the
    measurements are in :doc:`/datasets`). A damaged cached file is named in a
    :class:`RuntimeWarning` and retrained.

    References
    ----------
    .. [1] L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello,
       E. Rodolà. "Relative representations enable zero-shot latent space
       communication." ICLR 2023.

    Examples
    --------
    >>> import torch
    >>> from sklatent.datasets import load_digits_relative_autoencoders
    >>> data = load_digits_relative_autoencoders()
    >>> data.relative[0].shape
    (1797, 200)
    >>> test = torch.from_numpy(data.relative[0][data.test_indices])
    >>> with torch.no_grad():
    ...     stitched = data.decoders[1](test)  # seed 0's encoder, seed 1's decoder
    >>> tuple(stitched.shape)
    (540, 64)
    """
    seeds = list(seeds)
    if not all(isinstance(seed, numbers.Integral) for seed in seeds) or len(
        set(seeds)
    ) < len(seeds):
        raise ValueError(
            f"seeds must be distinct ints, one per autoencoder; got {seeds!r}."
        )
    images, target, train, test = _digits(test_size, random_state)
    if not isinstance(n_anchors, numbers.Integral) or not 1 <= n_anchors <= len(train):
        raise ValueError(
            f"n_anchors={n_anchors!r} must be an int between 1 and the "
            f"{len(train)} training images the anchors are drawn from."
        )
    anchor_indices = np.sort(
        np.random.RandomState(random_state).choice(train, n_anchors, replace=False)
    )
    home = get_data_home(data_home)
    pixels = torch.from_numpy(images.astype(np.float32))
    anchor_images = pixels[anchor_indices]

    def build():
        return _RelativeAutoencoder(anchor_images)

    result = Bunch(
        encoders={},
        projection=build().projection,
        decoders={},
        embeddings={},
        relative={},
        anchor_indices=anchor_indices,
        images=images,
        target=target,
        train_indices=train,
        test_indices=test,
        seeds=seeds,
    )
    for seed in seeds:

        def train_autoencoder(seed=seed):
            return _train_autoencoder(seed, images, anchor_images, train, random_state)

        path = home / (
            f"digits_v{_RECIPE_VERSION}_relae{_DECODER_VERSION}_seed{seed}"
            f"_k{n_anchors}_rs{random_state}_test{test_size}.npz"
        )
        start = time.perf_counter()
        model, trained = _load_or_train(
            path,
            build,
            train_autoencoder,
            refresh=refresh,
            verbose=verbose,
            label=f"the relative autoencoder of seed {seed}",
        )
        with torch.no_grad():
            embedding = model.encoder(pixels)
            relative = model.projection(embedding, model.encoder(anchor_images))
            decoded = model.decoder(relative[test])
        result.encoders[seed], result.decoders[seed] = model.encoder, model.decoder
        result.embeddings[seed] = embedding.numpy()
        result.relative[seed] = relative.numpy()
        if trained:
            _report(
                f"training the relative autoencoder of seed {seed} ... done in "
                f"{time.perf_counter() - start:.1f} s, test MSE "
                f"{_mse(decoded, images[test]):.3f}",
                verbose,
            )
    result.DESCR = (
        "Relative autoencoders of the scikit-learn digits (1797 8x8 images): "
        f"encoder -> centred cosine to {n_anchors} anchor images embedded in the "
        "same pass (layer-normalised) -> decoder, trained on "
        f"{len(train)} images ({len(test)} held out), one per seed {seeds}; "
        f"{_AUTOENCODER_EPOCHS} epochs, decoder input dropout "
        f"{_AUTOENCODER_DROPOUT}."
    )
    return result


def _encoder_names(encoders):
    """The list of encoder names asked for, checked, without duplicates."""
    names = [encoders] if isinstance(encoders, str) else encoders
    names = list(ENCODER_NAMES if names is None else dict.fromkeys(names))
    unknown = [name for name in names if name not in _ENCODERS]
    if unknown:
        raise ValueError(
            f"Unknown encoder name(s) {unknown}; valid names are {list(ENCODER_NAMES)}."
        )
    return names


def _digits(test_size, random_state):
    """``(images, target, train_indices, test_indices)`` of every loader."""
    if not isinstance(random_state, numbers.Integral):
        raise ValueError(
            "random_state must be an int, because embeddings are cached per seed; "
            f"got {random_state!r}."
        )
    if not 0 <= random_state <= _MAX_SEED:
        raise ValueError(
            f"random_state must be an int between 0 and {_MAX_SEED} (a 32-bit "
            f"seed); got {random_state!r}."
        )
    digits = load_digits()
    train_indices, test_indices = train_test_split(
        np.arange(len(digits.target)),
        test_size=test_size,
        stratify=digits.target,
        random_state=random_state,
    )
    return digits.data / 16.0, digits.target, train_indices, test_indices


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
