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

import functools
import numbers
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

from . import _graph, _speech, _text, _vision
from ._cache import (
    _expect,
    _load_or_train,
    _read_cached,
    _report,
    _save_atomic,
    fingerprint,
    get_data_home,
)
from ._encoder import EncoderTransformer
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
    _seed,
    _train_autoencoder,
    _train_decoder,
    _train_encoder,
)

__all__ = [
    "ENCODER_NAMES",
    "get_data_home",
    "GRAPH_ENCODER_NAMES",
    "IMAGE_ENCODER_NAMES",
    "load_digits_decoders",
    "load_digits_embeddings",
    "load_digits_relative_autoencoders",
    "load_encoder",
    "load_graph_embeddings",
    "load_image_embeddings",
    "load_speech_embeddings",
    "load_text_embeddings",
    "SPEECH_ENCODER_NAMES",
    "TEXT_ENCODER_NAMES",
]

#: Names of the encoders that :func:`load_digits_embeddings` can train.
ENCODER_NAMES = tuple(_ENCODERS)

#: Names of the sentence encoders that :func:`load_text_embeddings` can use.
TEXT_ENCODER_NAMES = tuple(_text._ENCODERS)

#: Names of the pretrained image encoders of :func:`load_encoder`.
IMAGE_ENCODER_NAMES = tuple(_vision._ENCODERS)

#: The image datasets of :func:`load_image_embeddings`, with their default
#: ``n_samples`` (None: all) and ``test_size``.
_IMAGE_DATASETS = {"fashion_mnist": (3000, 1000), "emoji": (None, 300)}

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


def load_text_embeddings(
    *,
    encoders=None,
    n_samples=None,
    random_state=0,
    data_home=None,
    refresh=False,
    verbose=False,
):
    """Load parallel embeddings of real text by two real sentence encoders.

    The texts are the docstrings of the installed numpy, scipy, scikit-learn
    and torch, so nothing is downloaded. Each item is one public function,
    class or method: its summary line is the *query*, the rest of its
    docstring (up to 1,000 characters) the *document* the query should
    retrieve, and the package it comes from its label. Both encoders embed
    every query and every document, so row ``i`` of every array is the same
    item: the embeddings are *parallel*, and each encoder's own retrieval of
    documents by queries is a ground truth to measure a bridge against.

    Embeddings are cached in :func:`get_data_home` and computed only once.
    Needs the ``sklatent[text]`` extra, which installs both encoders with
    their weights.

    Parameters
    ----------
    encoders : str or list of str, default=None
        Names of the encoders, from :data:`TEXT_ENCODER_NAMES`: ``"minilm"``
        (all-MiniLM-L6-v2, a 6-layer BERT-style transformer, 384 dimensions)
        and ``"static"`` (a static token-embedding model, 64 dimensions). A
        single name may be given as a string. None loads both.
    n_samples : int, default=None
        Number of items, drawn without replacement by ``random_state`` from
        the corpus (about 3,600 items) and kept in the corpus's sorted order.
        None keeps every item.
    random_state : int, default=0
        Seeds the draw of ``n_samples`` items; ignored when ``n_samples`` is
        None.
    data_home : str or path-like, default=None
        Cache folder; see :func:`get_data_home` for the default.
    refresh : bool, default=False
        Encode again and overwrite the cache even if cached embeddings exist.
    verbose : bool, default=False
        Print one progress line per encoder to stderr (with a progress bar
        for ``"minilm"``); when False the lines go to the ``logging`` logger
        ``"sklatent.datasets"`` at INFO level instead.

    Returns
    -------
    :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        query_embeddings : dict of str to ndarray of shape (n_samples, n_dims)
            Each encoder's embeddings of the queries, float32, each row of
            unit norm.
        document_embeddings : dict of str to ndarray of shape (n_samples, n_dims)
            Each encoder's embeddings of the documents, float32, each row of
            unit norm; row ``i`` is the document of query ``i``.
        queries : ndarray of shape (n_samples,), dtype object
            The summary lines, as str.
        documents : ndarray of shape (n_samples,), dtype object
            The rest of each docstring, as str.
        ids : ndarray of shape (n_samples,), dtype object
            The dotted path of each item, such as ``"numpy.linalg.norm"``;
            sorted, unique.
        modules : ndarray of shape (n_samples,), dtype object
            The module each item was found in, such as ``"scipy.stats"``
            (a finer label than the package).
        target : ndarray of shape (n_samples,), dtype int
            The package of each item, as an index into ``target_names``.
        target_names : list of str
            ``["numpy", "scipy", "sklearn", "torch"]``.
        encoder_names : list of str
            Names of the loaded encoders, in the order asked for.
        versions : dict of str to str
            The version of each package the texts were read from.
        DESCR : str
            Description of the dataset.

    Raises
    ------
    ImportError
        If an encoder must encode and the ``sklatent[text]`` extra is not
        installed; the message says ``pip install "sklatent[text]"``.
    ValueError
        If an encoder name is unknown, ``n_samples`` is not None or an int
        between 1 and the size of the corpus, or ``random_state`` is not an
        int between 0 and 2**32 - 1.

    See Also
    --------
    load_digits_embeddings : Parallel embeddings of small digit encoders.
    sklatent.metrics.top_k_accuracy : Recall@k of the retrieval ground truth.

    Notes
    -----
    The corpus is read from the installed packages, so it changes when they
    change: another numpy or torch gives other texts and, for the same
    ``n_samples`` and ``random_state``, another selection. Embeddings are
    therefore cached under a fingerprint of the exact texts encoded (with the
    recipe version and the encoder name): a new package version is encoded
    afresh, never read from a stale file. ``versions`` records what the texts
    came from. Items whose query or document occurs twice in the corpus are
    left out, so each query has exactly one right document. Encoding is
    deterministic on a given machine; the sizes, retrieval recall@10 of each
    encoder and encoding times are in :doc:`/text_encoders`.

    Examples
    --------
    >>> from sklatent.datasets import load_text_embeddings
    >>> data = load_text_embeddings(encoders="static", n_samples=300)
    >>> data.query_embeddings["static"].shape
    (300, 64)
    >>> data.target_names
    ['numpy', 'scipy', 'sklearn', 'torch']
    """
    names = _encoder_names(encoders, TEXT_ENCODER_NAMES)
    items = _text.corpus()
    if n_samples is not None and (
        isinstance(n_samples, bool)
        or not isinstance(n_samples, numbers.Integral)
        or not 1 <= n_samples <= len(items)
    ):
        raise ValueError(
            f"n_samples={n_samples!r} must be None or an int between 1 and the "
            f"{len(items)} items of the corpus."
        )
    _check_seed(random_state)
    items = _text.select(items, n_samples, random_state)
    ids, packages, modules, queries, documents = (
        np.array(column, dtype=object) for column in zip(*items, strict=True)
    )
    home = get_data_home(data_home)
    query_embeddings, document_embeddings = {}, {}
    for name in names:
        width = _text._ENCODERS[name][0]
        fingerprint = _text.fingerprint(name, [*queries, *documents])
        path = home / (
            f"text_v{_text._RECIPE_VERSION}_{name}_n{len(items)}_{fingerprint}.npz"
        )
        shape = ((len(items), width), np.float32)
        cached = _read_cached(
            path, _expect({"queries": shape, "documents": shape}), refresh=refresh
        )
        if cached is None:
            start = time.perf_counter()
            cached = {
                "queries": _text.encode(name, list(queries), verbose=verbose),
                "documents": _text.encode(name, list(documents), verbose=verbose),
            }
            _save_atomic(path, **cached)
            _report(
                f"encoding {len(items)} queries and documents with {name} ... "
                f"done in {time.perf_counter() - start:.1f} s",
                verbose,
            )
        else:
            _report(f"loaded {name} from {path}", verbose)
        query_embeddings[name] = cached["queries"]
        document_embeddings[name] = cached["documents"]
    target_names = list(_text.PACKAGES)
    versions = _text.versions()
    return Bunch(
        query_embeddings=query_embeddings,
        document_embeddings=document_embeddings,
        queries=queries,
        documents=documents,
        ids=ids,
        modules=modules,
        target=np.array([target_names.index(p) for p in packages], dtype=np.int64),
        target_names=target_names,
        encoder_names=names,
        versions=versions,
        DESCR=_describe_text(names, len(items), versions),
    )


def _describe_text(names, n_items, versions):
    lines = [
        f"Docstrings of the installed scientific packages, {n_items} items "
        "(public functions, classes and methods): the summary line is the "
        "query, the rest of the docstring (up to 1,000 characters) the "
        "document, the package the label.",
        "Read from " + ", ".join(f"{p} {v}" for p, v in versions.items()) + ".",
        f"Recipe version {_text._RECIPE_VERSION}. Encoders:",
    ]
    lines += [
        f"- {name}: {_text._ENCODERS[name][0]} dimensions, {_text._ENCODERS[name][2]}"
        for name in names
    ]
    return "\n".join(lines)


def _encoder_names(encoders, valid=ENCODER_NAMES):
    """The list of encoder names asked for, checked, without duplicates."""
    names = [encoders] if isinstance(encoders, str) else encoders
    names = list(valid if names is None else dict.fromkeys(names))
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise ValueError(
            f"Unknown encoder name(s) {unknown}; valid names are {list(valid)}."
        )
    return names


def _digits(test_size, random_state):
    """``(images, target, train_indices, test_indices)`` of every loader."""
    _check_seed(random_state)
    digits = load_digits()
    train_indices, test_indices = train_test_split(
        np.arange(len(digits.target)),
        test_size=test_size,
        stratify=digits.target,
        random_state=random_state,
    )
    return digits.data / 16.0, digits.target, train_indices, test_indices


def _check_seed(random_state):
    """Refuse a ``random_state`` that cannot name a cached file: only 32-bit ints."""
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


def _image_encoder(name):
    return EncoderTransformer(
        _vision.image_encoder(name), batch_size=32, validate=False
    )


def _text_encoder(name):
    _text.load(name)
    return EncoderTransformer(
        functools.partial(_text.encode, name), batch_size=64, validate=False
    )


def _speech_encoder(name):
    """The trained speech encoder ``name`` on raw waveforms, fitted on 1 s inputs."""
    encoder, _ = _speech_models([name], 0.3, 0, None, False, False)[name]
    transformer = EncoderTransformer(_speech.waveform_encoder(encoder), batch_size=64)
    return transformer.fit(np.zeros((1, _speech.N_SAMPLES), np.float32))


#: The pretrained encoders of :func:`load_encoder`: each name and a function of
#: no argument that returns the encoder as an :class:`EncoderTransformer` with
#: its default batch size, raising an ImportError naming the extra to install
#: when its packages are missing. One entry per encoder.
_PRETRAINED = {
    "efficientnet-lite0": functools.partial(_image_encoder, "efficientnet-lite0"),
    "efficientnet-lite2": functools.partial(_image_encoder, "efficientnet-lite2"),
    "minilm": functools.partial(_text_encoder, "minilm"),
    "static": functools.partial(_text_encoder, "static"),
    "speech-cnn": functools.partial(_speech_encoder, "speech-cnn"),
    "speech-stats": functools.partial(_speech_encoder, "speech-stats"),
    "speech-frames": functools.partial(_speech_encoder, "speech-frames"),
}


def load_encoder(name, *, batch_size=None, device="cpu", verbose=False):
    """Load a pretrained encoder as a scikit-learn step that takes raw inputs.

    The encoder's weights install with it from the package registry, so
    nothing is downloaded. The returned
    :class:`~sklatent.stitching.EncoderTransformer` needs no fitting: its
    ``transform`` takes raw inputs (images or texts) and returns float32
    embeddings, one row per input, so a pipeline can start from raw inputs.

    Parameters
    ----------
    name : str
        The encoder:

        - ``"efficientnet-lite0"``, ``"efficientnet-lite2"``: EfficientNet-Lite0
          and Lite2 trained on ImageNet (the ``sklatent[vision]`` extra), 1280
          dimensions, the average over positions of the last feature map.
          Inputs are RGB images: a uint8 array of shape (n, height, width, 3),
          or a list of uint8 arrays of shape (height, width, 3) of any sizes.
          Each image is resized to the network's resolution (224 and 260
          pixels a side; bilinear, antialiased, the whole image without
          cropping) and its pixels mapped to ``(pixel - 127) / 128``.
        - ``"minilm"``: all-MiniLM-L6-v2, 384 dimensions, and ``"static"``, a
          static token-embedding model, 64 dimensions (the ``sklatent[text]``
          extra; the encoders of :func:`load_text_embeddings`). Inputs are a
          list (or a 1-D array) of strings; embeddings have unit norm.
        - ``"speech-cnn"``, ``"speech-stats"``, ``"speech-frames"``: the
          audio encoders of :func:`load_speech_embeddings` (64, 48 and 32
          dimensions), trained by sklatent on first use (a few minutes; needs
          espeak-ng) and cached. Inputs are 16 kHz mono waveforms of one
          second, a float32 array of shape (n, 16000) with samples in
          [-1, 1]: pad shorter recordings with zeros at the end.
    batch_size : int, default=None
        Inputs encoded at once; None uses the encoder's default (32 images,
        64 texts or waveforms).
    device : str, default="cpu"
        Where the image and speech encoders run (``"cpu"``, ``"cuda"``,
        ``"auto"``, ...); the text encoders run on the CPU.
    verbose : bool, default=False
        Show the progress of ``transform`` on stderr.

    Returns
    -------
    encoder : :class:`~sklatent.stitching.EncoderTransformer`
        The encoder, ready to ``transform``; ``set_params`` changes its batch
        size, device and verbosity.

    Raises
    ------
    ValueError
        If ``name`` is unknown.
    ImportError
        If the extra that installs the encoder is missing; the message names
        the ``pip install`` command.

    See Also
    --------
    sklatent.stitching.EncoderTransformer : The step returned.
    load_text_embeddings : Cached parallel embeddings of real text.

    Notes
    -----
    The image encoders are torch modules: the transformer holds a copy of the
    weights (about 20 MB), pickles with it and loads where
    ``efficientnet-lite-pytorch`` is installed. The text encoders are loaded
    once per process and pickle by name. Encoding times on one CPU thread are
    in :doc:`/modalities`.

    References
    ----------
    .. [1] M. Tan and Q. V. Le. "EfficientNet: Rethinking model scaling for
       convolutional neural networks." ICML 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklatent.datasets import load_encoder
    >>> encoder = load_encoder("efficientnet-lite0")
    >>> images = np.zeros((2, 96, 128, 3), dtype=np.uint8)
    >>> encoder.transform(images).shape
    (2, 1280)
    """
    builder = _PRETRAINED.get(name) if isinstance(name, str) else None
    if builder is None:
        raise ValueError(
            f"Unknown encoder {name!r}; valid names are {list(_PRETRAINED)}."
        )
    encoder = builder()
    if batch_size is not None:
        encoder.set_params(batch_size=batch_size)
    return encoder.set_params(device=device, verbose=verbose)


def load_image_embeddings(
    dataset,
    *,
    encoders=None,
    n_samples="default",
    test_size="default",
    rendering="plain",
    random_state=0,
    data_home=None,
    refresh=False,
    verbose=False,
):
    """Load parallel embeddings of real images (and their captions) by real encoders.

    Two image datasets that install as Debian packages, so nothing is
    downloaded:

    - ``"fashion_mnist"``: Fashion-MNIST (Xiao et al., 2017), 70,000 28 x 28
      grayscale photographs of clothes in 10 classes; a subset of
      ``n_samples`` images by default, so that a cold cache builds in
      minutes on a CPU;
    - ``"emoji"``: the 1,372 single-character emoji of the Noto color emoji
      font, rendered with Pillow, each with its Unicode name as caption
      (such as ``"grinning face"``) and its Unicode emoji group as category
      (8 groups, such as ``"Food & Drink"``): image-caption pairs for
      communication between images and text.

    The image encoders (``"efficientnet-lite0"``, ``"efficientnet-lite2"``)
    embed the images; the text encoders (``"minilm"``, ``"static"``) embed
    the captions. Row ``i`` of every embedding is the same item: the
    embeddings are *parallel*, across encoders and across modalities.
    Embeddings are cached in :func:`get_data_home` and computed only once.

    Parameters
    ----------
    dataset : {"fashion_mnist", "emoji"}
        The images.
    encoders : str or list of str, default=None
        Names of the encoders of :func:`load_encoder`: the image encoders
        embed ``images``, the text encoders ``captions``. None loads both
        image encoders.
    n_samples : int or None, default="default"
        Number of items, drawn without replacement by ``random_state`` and
        kept in the dataset's order; None keeps every item. By default 3,000
        for ``"fashion_mnist"`` and every item (1,372) for ``"emoji"``.
    test_size : float or int, default="default"
        Fraction (float) or number (int) of the items held out at random, as
        in :func:`sklearn.model_selection.train_test_split`. By
        default 1,000 for ``"fashion_mnist"`` and 300 for ``"emoji"``.
    rendering : {"plain", "altered"}, default="plain"
        How the emoji are drawn: ``"plain"`` centred at the font's size on
        white; ``"altered"`` smaller (scaled by 0.5 to 0.8), at a random
        position, with their hue rotated, on a background of a random colour
        (drawn by ``random_state``): the same items, row for row, drawn
        otherwise, as queries unlike the anchors. ``"fashion_mnist"`` takes
        ``"plain"`` only.
    random_state : int, default=0
        Seeds the subset, the split and the altered rendering. Embeddings are
        cached per value.
    data_home : str or path-like, default=None
        Cache folder; see :func:`get_data_home` for the default.
    refresh : bool, default=False
        Encode again and overwrite the cache even if cached embeddings exist.
    verbose : bool, default=False
        Show the encoders' progress and print one line per encoder to
        stderr; when False the lines go to the ``logging`` logger
        ``"sklatent.datasets"`` at INFO level instead.

    Returns
    -------
    :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        embeddings : dict of str to ndarray of shape (n_samples, n_dims)
            Each encoder's embeddings (of the images or of the captions),
            float32, row-aligned across encoders.
        images : ndarray of shape (n_samples, height, width, 3), dtype uint8
            The RGB images (Fashion-MNIST's gray levels repeated in the three
            channels, 28 x 28; emoji 136 x 136).
        captions : ndarray of shape (n_samples,), dtype object
            The caption of each image: the emoji's name, or the Fashion-MNIST
            class name in lower case (such as ``"ankle boot"``).
        target : ndarray of shape (n_samples,), dtype int
            The class (Fashion-MNIST) or emoji group of each image, as an
            index into ``target_names``.
        target_names : list of str
            The classes or groups.
        ids : ndarray of shape (n_samples,), dtype object
            Each item's identity: the emoji character, or the image's row
            among the 70,000 of Fashion-MNIST (training images first).
        train_indices, test_indices : ndarray of int
            Rows to fit on (anchors, heads) and rows held out.
        encoder_names : list of str
            Names of the loaded encoders, in the order asked for.
        DESCR : str
            Description of the dataset.

    Raises
    ------
    ValueError
        If ``dataset``, an encoder name or ``rendering`` is unknown,
        ``n_samples`` is not None or an int between 1 and the size of the
        dataset, or ``random_state`` is not an int between 0 and 2**32 - 1.
    ImportError
        If an encoder must encode and its extra (``sklatent[vision]``,
        ``sklatent[text]``) is not installed.
    FileNotFoundError
        If the images' Debian package is not installed; the message says
        ``apt-get install`` and the package.

    See Also
    --------
    load_encoder : The encoders, for new images and texts.
    load_text_embeddings : Parallel embeddings of real text.

    Notes
    -----
    Embeddings are cached under a fingerprint of the exact pixels (or
    captions) encoded, the recipe version and the encoder, so another
    subset, rendering or font version is encoded afresh, never read from a
    stale file. The images themselves are read (and the emoji rendered, about
    a second) at each call. Encoding times, the cold and warm times of the
    default datasets and what the embeddings support are in
    :doc:`/modalities`.

    References
    ----------
    .. [1] H. Xiao, K. Rasul and R. Vollgraf. "Fashion-MNIST: a novel image
       dataset for benchmarking machine learning algorithms." arXiv:1708.07747,
       2017.

    Examples
    --------
    >>> from sklatent.datasets import load_image_embeddings
    >>> data = load_image_embeddings(
    ...     "emoji", encoders=["efficientnet-lite0", "static"], n_samples=20,
    ...     test_size=5)
    >>> data.embeddings["efficientnet-lite0"].shape, data.embeddings["static"].shape
    ((20, 1280), (20, 64))
    >>> data.images.shape
    (20, 136, 136, 3)
    """
    if dataset not in _IMAGE_DATASETS:
        raise ValueError(
            f"Unknown dataset {dataset!r}; valid datasets are {list(_IMAGE_DATASETS)}."
        )
    if rendering not in ("plain", "altered") or (
        dataset != "emoji" and rendering != "plain"
    ):
        raise ValueError(
            f"rendering={rendering!r} is not available for {dataset!r}: use "
            "'plain'" + (" or 'altered'." if dataset == "emoji" else ".")
        )
    names = _encoder_names(
        list(IMAGE_ENCODER_NAMES) if encoders is None else encoders,
        IMAGE_ENCODER_NAMES + TEXT_ENCODER_NAMES,
    )
    _check_seed(random_state)
    default_samples, default_test = _IMAGE_DATASETS[dataset]
    n_samples = default_samples if n_samples == "default" else n_samples
    test_size = default_test if test_size == "default" else test_size
    images, captions, target, target_names, ids, describe = _image_items(
        dataset, n_samples, rendering, random_state
    )
    train_indices, test_indices = train_test_split(
        np.arange(len(target)), test_size=test_size, random_state=random_state
    )
    home = get_data_home(data_home)
    embeddings = {}
    for name in names:
        is_image = name in _vision._ENCODERS
        inputs = images if is_image else list(captions)
        parts = (
            [image.tobytes() for image in images]
            if is_image
            else [caption.encode() for caption in captions]
        )
        key = fingerprint(f"v{_vision._RECIPE_VERSION}\0{name}", parts)
        path = home / (
            f"images_v{_vision._RECIPE_VERSION}_{dataset}_{name}_n{len(target)}"
            f"_{key}.npz"
        )
        width = _vision.WIDTH if is_image else _text._ENCODERS[name][0]
        expected = {"embedding": ((len(target), width), np.float32)}
        cached = _read_cached(path, _expect(expected), refresh=refresh)
        if cached is not None:
            embeddings[name] = cached["embedding"]
            _report(f"loaded {name} from {path}", verbose)
            continue
        start = time.perf_counter()
        encoder = load_encoder(name, verbose=verbose)
        embeddings[name] = np.ascontiguousarray(
            encoder.transform(inputs), dtype=np.float32
        )
        _save_atomic(path, embedding=embeddings[name])
        _report(
            f"encoding {len(target)} {'images' if is_image else 'captions'} "
            f"with {name} ... done in {time.perf_counter() - start:.1f} s",
            verbose,
        )
    return Bunch(
        embeddings=embeddings,
        images=images,
        captions=captions,
        target=target,
        target_names=target_names,
        ids=ids,
        train_indices=train_indices,
        test_indices=test_indices,
        encoder_names=names,
        DESCR=describe
        + f" Recipe version {_vision._RECIPE_VERSION}. Encoders: "
        + ", ".join(names)
        + ".",
    )


def _image_items(dataset, n_samples, rendering, random_state):
    """``(images, captions, target, target_names, ids, description)`` of a subset."""
    if dataset == "fashion_mnist":
        gray, labels = _vision.fashion_mnist()
        n_total = len(labels)
    else:
        items = _vision.emoji()
        n_total = len(items)
    if n_samples is not None and (
        isinstance(n_samples, bool)
        or not isinstance(n_samples, numbers.Integral)
        or not 1 <= n_samples <= n_total
    ):
        raise ValueError(
            f"n_samples={n_samples!r} must be None or an int between 1 and the "
            f"{n_total} items of {dataset!r}."
        )
    rows = (
        np.arange(n_total)
        if n_samples is None
        else np.sort(
            np.random.RandomState(random_state).choice(n_total, n_samples, False)
        )
    )
    if dataset == "fashion_mnist":
        target_names = list(_vision.FASHION_CLASSES)
        target = labels[rows]
        images = np.repeat(gray[rows][..., None], 3, axis=-1)
        captions = np.array([target_names[t].lower() for t in target], dtype=object)
        describe = (
            f"Fashion-MNIST, {len(rows)} of its 70,000 28 x 28 grayscale images "
            "(as RGB), 10 classes of clothes; captions are the class names."
        )
        return images, captions, target, target_names, rows.astype(object), describe
    chosen = [items[i] for i in rows]
    characters = [item[0] for item in chosen]
    target_names = list(dict.fromkeys(group for _, group, _ in items))
    target = np.array([target_names.index(g) for _, g, _ in chosen], dtype=np.int64)
    images = _vision.render_emoji(
        characters, rendering=rendering, random_state=random_state
    )
    captions = np.array([item[2] for item in chosen], dtype=object)
    describe = (
        f"Noto color emoji, {len(rows)} single-character emoji rendered "
        f"{rendering} at {_vision.EMOJI_SIDE} x {_vision.EMOJI_SIDE} pixels; "
        f"captions are their Unicode names, categories their {len(target_names)} "
        "Unicode emoji groups."
    )
    return (
        images,
        captions,
        target,
        target_names,
        np.array(characters, object),
        describe,
    )


#: Names of the audio encoders that :func:`load_speech_embeddings` trains.
SPEECH_ENCODER_NAMES = tuple(_speech.ENCODERS)


def load_speech_embeddings(
    *,
    encoders=None,
    test_size=0.3,
    random_state=0,
    data_home=None,
    refresh=False,
    verbose=False,
):
    """Load parallel embeddings of spoken words by several small audio encoders.

    Forty words (the ten digits and thirty common words) are each spoken by
    160 voices, synthesised offline by espeak-ng: a voice is one of 8 English
    accents combined with one of 20 voice variants, and each recording has
    its own speed and pitch, drawn at random. Every recording is a 16 kHz
    waveform of one second, described by its log-mel spectrogram (40 mel
    bands, 32 ms windows every 20 ms). The voices are split into training and
    held-out voices; each encoder (a small torch network of its own
    architecture and seed) is trained with a linear classification head on
    the recordings of the training voices only, then embeds all recordings.
    Row ``i`` of every embedding is the same recording, so the embeddings are
    *parallel*, and the test rows are voices no encoder heard.

    Embeddings and encoders are cached in :func:`get_data_home`; the trained
    encoders are also available on raw waveforms through
    :func:`load_encoder`. Needs the espeak-ng program the first time (a
    system package: ``apt-get install espeak-ng``).

    Parameters
    ----------
    encoders : str or list of str, default=None
        Names of the encoders to load, from :data:`SPEECH_ENCODER_NAMES`:
        ``"speech-cnn"`` (a 1-D convolutional network over time, 64
        dimensions), ``"speech-stats"`` (an MLP on per-band statistics pooled
        over time, 48 dimensions) and ``"speech-frames"`` (a frame encoder
        pooled by mean and max, 32 dimensions). A single name may be given
        as a string. None loads all of them.
    test_size : float, default=0.3
        Fraction of the voices held out from training, stratified by accent.
    random_state : int, default=0
        Seeds the speeds and pitches, the split of the voices and, with each
        encoder's own seed, the encoders' initialisation and batch order.
        Embeddings are cached per value.
    data_home : str or path-like, default=None
        Cache folder; see :func:`get_data_home` for the default.
    refresh : bool, default=False
        Synthesise, featurise and train again, overwriting the cache.
    verbose : bool, default=False
        Print one progress line per step to stderr, such as ``training
        speech-cnn ... done in 31.0 s, accuracy on held-out voices 0.99``
        (the accuracy of the network's own head); when False the lines go
        to the ``logging`` logger ``"sklatent.datasets"`` at INFO level.

    Returns
    -------
    :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        embeddings : dict of str to ndarray of shape (6400, n_dims), dtype float32
            Embeddings of all recordings by each encoder, row-aligned across
            encoders.
        target : ndarray of shape (6400,), dtype int
            The word of each recording, as an index into ``words``.
        words : list of str
            The 40 words, digits first (``target`` ``i < 10`` is the digit
            ``i``).
        voices : ndarray of shape (6400,), dtype object
            The voice of each recording, such as ``"en-us+f2"``.
        speeds : ndarray of shape (6400,), dtype int
            espeak-ng's speed of each recording, in words per minute.
        pitches : ndarray of shape (6400,), dtype int
            espeak-ng's pitch of each recording (0 to 99; 50 is the voice's
            own).
        train_indices : ndarray of shape (n_train,), dtype int
            Rows of the training voices, the rows the encoders were trained
            on.
        test_indices : ndarray of shape (n_test,), dtype int
            Rows of the held-out voices.
        encoder_names : list of str
            Names of the loaded encoders, in the order asked for.
        DESCR : str
            Description of the dataset.

    Raises
    ------
    ImportError
        If recordings must be synthesised and espeak-ng is not installed;
        the message gives the install command.
    ValueError
        If an encoder name is unknown, ``test_size`` is not a float strictly
        between 0 and 1, or ``random_state`` is not an int between 0 and
        2**32 - 1.

    See Also
    --------
    load_encoder : The trained encoders on raw waveforms.
    load_digits_embeddings : The same kind of dataset for images.

    Notes
    -----
    A cold build (synthesis of the 6,400 recordings by as many espeak-ng
    processes, features, training) takes a few minutes on two cores, a warm
    load well under a second; the measurements, each encoder's accuracy and
    the stitching results are in :doc:`/modalities`. Training is
    deterministic on a given machine, on one torch thread, leaving the
    caller's random state alone. Each encoder is cached in its own ``.npz``
    file (its embedding and its weights) named by a recipe version, the
    encoder, ``random_state`` and ``test_size``; a damaged file is named in a
    :class:`RuntimeWarning` and rebuilt.

    Examples
    --------
    >>> from sklatent.datasets import load_speech_embeddings
    >>> data = load_speech_embeddings(encoders=["speech-cnn", "speech-stats"])
    >>> {name: emb.shape for name, emb in data.embeddings.items()}
    {'speech-cnn': (6400, 64), 'speech-stats': (6400, 48)}
    >>> data.words[:3], data.voices[0]
    (['zero', 'one', 'two'], 'en-us+m1')
    >>> heard = set(data.voices[data.train_indices])
    >>> sorted(heard & set(data.voices[data.test_indices]))  # held-out voices
    []
    """
    names = _encoder_names(encoders, SPEECH_ENCODER_NAMES)
    models = _speech_models(names, test_size, random_state, data_home, refresh, verbose)
    rows, train, test = models.pop("_split")
    voices = np.array(_speech.VOICES, dtype=object)[rows["voice"]]
    return Bunch(
        embeddings={name: embedding for name, (_, embedding) in models.items()},
        target=rows["word"].astype(np.int64),
        words=list(_speech.WORDS),
        voices=voices,
        speeds=rows["speed"],
        pitches=rows["pitch"],
        train_indices=train,
        test_indices=test,
        encoder_names=names,
        DESCR=_describe_speech(names, len(voices), train, test, voices),
    )


def _speech_split(test_size, random_state):
    """``(rows, train_indices, test_indices)``: held-out voices by accent."""
    _check_seed(random_state)
    _check_fraction(test_size, "voices")
    rows = _speech.renditions(_speech.VOICES, 1, random_state)
    accents = [voice.split("+")[0] for voice in _speech.VOICES]
    _, test_voices = train_test_split(
        np.arange(len(_speech.VOICES)),
        test_size=test_size,
        stratify=accents,
        random_state=random_state,
    )
    held_out = np.isin(rows["voice"], test_voices)
    return rows, np.flatnonzero(~held_out), np.flatnonzero(held_out)


def _speech_models(names, test_size, random_state, data_home, refresh, verbose):
    """name -> ``(encoder, embedding)`` from the cache or trained, plus ``"_split"``.

    The recordings are synthesised and featurised at most once, and only when
    an encoder is not cached.
    """
    rows, train, test = _speech_split(test_size, random_state)
    home = get_data_home(data_home)
    features = None
    models = {"_split": (rows, train, test)}
    for name in names:
        path = home / (
            f"speech_v{_speech._RECIPE_VERSION}_{name}_rs{random_state}"
            f"_test{test_size}.npz"
        )
        with torch.random.fork_rng(devices=[]):
            encoder = _speech.build_encoder(name)
        expected = {
            f"weight.{key}": (tuple(value.shape), value.numpy().dtype)
            for key, value in encoder.state_dict().items()
        }
        width = _speech.ENCODERS[name][1]
        expected["embedding"] = ((len(rows["word"]), width), np.float32)
        cached = _read_cached(path, _expect(expected), refresh=refresh)
        if cached is not None:
            encoder.load_state_dict(
                {
                    key.removeprefix("weight."): torch.from_numpy(value)
                    for key, value in cached.items()
                    if key.startswith("weight.")
                }
            )
            models[name] = (encoder.eval(), cached["embedding"])
            _report(f"loaded {name} from {path}", verbose)
            continue
        if features is None:
            start = time.perf_counter()
            features = _speech.log_mels(rows, _speech.VOICES)
            _report(
                f"synthesising and featurising {len(rows['word'])} recordings ... "
                f"done in {time.perf_counter() - start:.1f} s",
                verbose,
            )
        start = time.perf_counter()
        encoder, embedding, accuracy = _speech.train_encoder(
            name, features, rows["word"], train, test, random_state
        )
        weights = {
            f"weight.{key}": value.detach().numpy()
            for key, value in encoder.state_dict().items()
        }
        _save_atomic(path, embedding=embedding, **weights)
        models[name] = (encoder, embedding)
        _report(
            f"training {name} ... done in {time.perf_counter() - start:.1f} s, "
            f"accuracy on held-out voices {accuracy:.2f}",
            verbose,
        )
    return models


def _describe_speech(names, n_rows, train, test, voices):
    lines = [
        f"Spoken words synthesised by espeak-ng: {len(_speech.WORDS)} words (the "
        f"ten digits first) by {len(_speech.VOICES)} voices ({len(_speech.ACCENTS)} "
        f"English accents x {len(_speech.VARIANTS)} variants), speeds "
        f"{_speech.SPEEDS[0]}-{_speech.SPEEDS[1]} words per minute and pitches "
        f"{_speech.PITCHES[0]}-{_speech.PITCHES[1]} drawn per recording; {n_rows} "
        "16 kHz recordings of one second, 40-band log-mel features.",
        f"Each encoder was trained as a word classifier on {len(train)} recordings "
        f"of {len(set(voices[train]))} voices; {len(test)} recordings of "
        f"{len(set(voices[test]))} other voices are held out. Recipe version "
        f"{_speech._RECIPE_VERSION}. Encoders:",
    ]
    lines += [f"- {name}: {_speech.ENCODERS[name][4]}" for name in names]
    return "\n".join(lines)


#: Names of the graph neural networks that :func:`load_graph_embeddings` trains.
GRAPH_ENCODER_NAMES = tuple(_graph.NETWORKS)


def load_graph_embeddings(
    *,
    encoders=None,
    test_size=0.3,
    random_state=0,
    data_home=None,
    refresh=False,
    verbose=False,
):
    """Load parallel node embeddings of a real graph by two graph neural networks.

    The graph is read from the installed scientific packages, so nothing is
    downloaded: its nodes are the documented functions, classes and methods
    of numpy, scipy and scikit-learn (the corpus of
    :func:`load_text_embeddings`), and an edge joins two of them when the
    numpydoc "See Also" section of one names the other. Each node's features
    are the MiniLM embedding of its docstring, its label is its subpackage
    (such as ``scipy.stats``). Two networks of different kinds, a graph
    convolutional network and a GraphSAGE network with a mean aggregator
    (plain torch, sparse adjacency), are each trained for node
    classification on the training nodes, then embed every node. Row ``i``
    of every embedding is the same node: the embeddings are *parallel*.

    Embeddings are cached in :func:`get_data_home`. Needs the
    ``sklatent[text]`` extra to embed the docstrings the first time.

    Parameters
    ----------
    encoders : str or list of str, default=None
        Names of the networks, from :data:`GRAPH_ENCODER_NAMES`: ``"gcn"``
        (two graph convolutions, 64 dimensions) and ``"sage"`` (two
        GraphSAGE layers, 48 dimensions). A single name may be given as a
        string. None loads both.
    test_size : float, default=0.3
        Fraction of the nodes whose labels are held out from training,
        stratified by label.
    random_state : int, default=0
        Seeds the split and, with each network's own seed, the networks'
        initialisation and dropout. Embeddings are cached per value.
    data_home : str or path-like, default=None
        Cache folder; see :func:`get_data_home` for the default.
    refresh : bool, default=False
        Train again (and embed the docstrings again) even if cached.
    verbose : bool, default=False
        Print one progress line per network to stderr; when False the lines
        go to the ``logging`` logger ``"sklatent.datasets"`` at INFO level.

    Returns
    -------
    :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        embeddings : dict of str to ndarray of shape (n_nodes, n_dims)
            Each network's float32 node embeddings (its last layer, before
            the linear head), row-aligned across networks.
        features : ndarray of shape (n_nodes, 384), dtype float32
            The MiniLM embedding of each node's docstring (the networks'
            input).
        edges : ndarray of shape (n_edges, 2), dtype int64
            Each undirected edge once, as ``(i, j)`` with ``i < j``.
        target : ndarray of shape (n_nodes,), dtype int
            Each node's label, as an index into ``target_names``.
        target_names : list of str
            The subpackages, sorted; a package name (``"sklearn"``) stands
            for its subpackages of fewer than 20 nodes.
        ids : ndarray of shape (n_nodes,), dtype object
            The dotted path of each node, such as ``"numpy.linalg.norm"``.
        train_indices : ndarray of shape (n_train,), dtype int
            Nodes whose labels the networks were trained on.
        test_indices : ndarray of shape (n_test,), dtype int
            Nodes whose labels were held out (their features and edges were
            seen: the training is transductive).
        encoder_names : list of str
            Names of the loaded networks, in the order asked for.
        DESCR : str
            Description of the dataset.

    Raises
    ------
    ImportError
        If the docstrings must be embedded and the ``sklatent[text]`` extra
        is not installed.
    ValueError
        If a network name is unknown, ``test_size`` is not a float strictly
        between 0 and 1, or ``random_state`` is not an int between 0 and
        2**32 - 1.

    See Also
    --------
    load_text_embeddings : The docstrings the graph is made of.
    load_speech_embeddings : Parallel embeddings of spoken words.

    Notes
    -----
    The graph depends on the installed packages (with numpy 2.4, scipy 1.17
    and scikit-learn 1.9, 1,596 nodes and 2,518 edges, in many small
    components); files are cached under a fingerprint of the nodes, the
    edges and the features, so another version is never read from a stale
    file. torch's docstrings have no numpydoc "See Also" section, so its
    items are not nodes. Training is full-batch Adam (learning rate 0.01,
    weight decay 5e-4, dropout 0.5, 200 epochs) on one torch thread,
    deterministic on a given machine; the accuracies and the stitching
    results are in :doc:`/modalities`.

    References
    ----------
    .. [1] T. N. Kipf and M. Welling. "Semi-supervised classification with
       graph convolutional networks." ICLR 2017.
    .. [2] W. Hamilton, Z. Ying and J. Leskovec. "Inductive representation
       learning on large graphs." NeurIPS 2017.

    Examples
    --------
    >>> from sklatent.datasets import load_graph_embeddings
    >>> data = load_graph_embeddings()
    >>> data.embeddings["gcn"].shape[1], data.embeddings["sage"].shape[1]
    (64, 48)
    >>> data.edges.shape[1], bool((data.edges[:, 0] < data.edges[:, 1]).all())
    (2, True)
    """
    names = _encoder_names(encoders, GRAPH_ENCODER_NAMES)
    _check_fraction(test_size, "nodes")
    _check_seed(random_state)
    items = _text.corpus()
    nodes, edges, labels = _graph.see_also_graph(items)
    ids = np.array([items[row][0] for row in nodes], dtype=object)
    home = get_data_home(data_home)
    features = _graph_features(home, [items[row][4] for row in nodes], refresh, verbose)
    target_names = sorted(set(labels))
    target = np.array([target_names.index(label) for label in labels], np.int64)
    train, test = train_test_split(
        np.arange(len(nodes)),
        test_size=test_size,
        stratify=target,
        random_state=random_state,
    )
    graph = fingerprint(
        f"v{_graph._RECIPE_VERSION}", [np.array(ids, dtype=str), edges, features]
    )
    embeddings = {}
    for name in names:
        path = home / (
            f"graph_v{_graph._RECIPE_VERSION}_{name}_rs{random_state}"
            f"_test{test_size}_{graph}.npz"
        )
        width = _graph.NETWORKS[name][1]
        expected = {"embedding": ((len(nodes), width), np.float32)}
        cached = _read_cached(path, _expect(expected), refresh=refresh)
        if cached is not None:
            embeddings[name] = cached["embedding"]
            _report(f"loaded {name} from {path}", verbose)
            continue
        start = time.perf_counter()
        encoder, head, snapshots = _graph.train_network(
            name,
            features,
            edges,
            target,
            train,
            seed=_seed(random_state, _graph.NETWORKS[name][0]),
        )
        (embeddings[name],) = snapshots.values()
        _save_atomic(path, embedding=embeddings[name])
        with torch.no_grad():
            predicted = head(torch.from_numpy(embeddings[name][test])).argmax(1)
        accuracy = np.mean(predicted.numpy() == target[test])
        _report(
            f"training {name} ... done in {time.perf_counter() - start:.1f} s, "
            f"accuracy on held-out nodes {accuracy:.2f}",
            verbose,
        )
    return Bunch(
        embeddings=embeddings,
        features=features,
        edges=edges,
        target=target,
        target_names=target_names,
        ids=ids,
        train_indices=train,
        test_indices=test,
        encoder_names=names,
        DESCR=(
            f"The See-Also graph of the installed numpy, scipy and scikit-learn: "
            f"{len(nodes)} documented callables, {len(edges)} undirected edges "
            f"(one docstring's numpydoc 'See Also' names the other), MiniLM "
            f"embeddings of the docstrings as features, {len(target_names)} "
            f"subpackages as labels; {len(train)} training and {len(test)} "
            f"held-out nodes. Recipe version {_graph._RECIPE_VERSION}. Networks:\n"
            + "\n".join(f"- {name}: {_graph.NETWORKS[name][3]}" for name in names)
        ),
    )


def _graph_features(home, documents, refresh, verbose):
    """The MiniLM embeddings of the nodes' docstrings, cached under their text."""
    path = home / f"graph_features_{_text.fingerprint('minilm', documents)}.npz"
    expected = {
        "features": ((len(documents), _text._ENCODERS["minilm"][0]), np.float32)
    }
    cached = _read_cached(path, _expect(expected), refresh=refresh)
    if cached is not None:
        _report(f"loaded the node features from {path}", verbose)
        return cached["features"]
    start = time.perf_counter()
    features = _text.encode("minilm", documents, verbose=verbose)
    _save_atomic(path, features=features)
    _report(
        f"embedding {len(documents)} docstrings with minilm ... done in "
        f"{time.perf_counter() - start:.1f} s",
        verbose,
    )
    return features


def _check_fraction(test_size, what):
    """Refuse a ``test_size`` that is not a fraction strictly between 0 and 1."""
    if isinstance(test_size, bool) or not (
        isinstance(test_size, numbers.Real) and 0 < test_size < 1
    ):
        raise ValueError(
            f"test_size={test_size!r} must be a float strictly between 0 and 1: "
            f"the fraction of the {what} held out."
        )
