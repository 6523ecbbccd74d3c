"""The See-Also graph of :func:`sklatent.datasets.load_graph_embeddings` and two
graph neural networks in plain torch.

The nodes are the items of the docstring corpus of :mod:`sklatent._text` (the
documented functions, classes and methods of the installed numpy, scipy,
scikit-learn and torch); an edge joins two items when the numpydoc "See Also"
section of one names the other. A node's label is its subpackage (such as
``scipy.stats`` or ``torch.nn``). Two networks of different kinds embed the
nodes: a graph convolutional network (Kipf and Welling, 2017) and a
GraphSAGE-style network with a mean aggregator (Hamilton et al., 2017), both
with sparse adjacency matrices and trained for node classification.

This module touches no file: the cache lives in ``sklatent._cache`` and the
public loader in ``sklatent.datasets``.
"""

import importlib
import inspect
import re
import warnings
from collections import Counter

import numpy as np
import torch
from torch import nn

from . import _text
from ._zoo import _FACTORY, _one_torch_thread

# Bump whenever the graph, the networks or their training change, so that stale
# caches are not read.
_RECIPE_VERSION = "1"

#: The "See Also" section of a (cleaned) numpydoc docstring, up to the next
#: section header or the end.
_SEE_ALSO = re.compile(
    r"^See [Aa]lso\n-{3,}\n(.*?)(?=^\S[^\n]*\n-{3,}\n|\Z)", re.S | re.M
)
#: A Sphinx role around a name, such as :func:`~numpy.linalg.norm`.
_ROLE = re.compile(r":\w+:`~?([^`]+)`")


def _docstrings():
    """``{id: docstring}`` of every callable the corpus walks, in its order."""
    docstrings = {}
    seen = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated names met on the walk
        for package, modules in _text._MODULES.items():
            for module_name in modules:
                module = importlib.import_module(module_name)
                docstrings.update(_text._docstrings(module, package, seen))
    return docstrings


def see_also_names(docstring):
    """The names a docstring's "See Also" section refers to, in order."""
    match = _SEE_ALSO.search(inspect.cleandoc(docstring))
    if match is None:
        return []
    names = []
    for line in match.group(1).splitlines():
        if not line.strip() or line[0].isspace():  # a description line
            continue
        entry = _ROLE.sub(r"\1", line).split(":")[0]
        for name in entry.split(","):
            name = name.strip().strip("`~ ")
            if re.fullmatch(r"[\w.]+", name):
                names.append(name)
    return names


def _resolver(ids):
    """A function ``(name, package, module) -> node or None`` over the ``ids``.

    A name is looked up as given, then in the referring item's module, then in
    its package, and last by its final component if exactly one item of the
    package ends with it (numpydoc names are often relative).
    """
    index = {item: node for node, item in enumerate(ids)}
    by_last = {}
    for node, item in enumerate(ids):
        key = (item.split(".")[0], item.rsplit(".", 1)[-1])
        by_last.setdefault(key, []).append(node)

    def resolve(name, package, module):
        for candidate in (name, f"{module}.{name}", f"{package}.{name}"):
            if candidate in index:
                return index[candidate]
        nodes = by_last.get((package, name.rsplit(".", 1)[-1]), [])
        return nodes[0] if len(nodes) == 1 else None

    return resolve


#: A subpackage with fewer nodes than this is labelled by its package alone.
_MIN_LABEL = 20


def see_also_graph(items):
    """The See-Also graph of corpus ``items`` (as from :func:`sklatent._text.corpus`).

    An item is a node if its "See Also" section names another item or
    another item's names it; torch's docstrings have no such section, so its
    items are left out.

    Returns
    -------
    nodes : ndarray of shape (n_nodes,), dtype int64
        The rows of ``items`` that are nodes, in order.
    edges : ndarray of shape (n_edges, 2), dtype int64
        Each undirected edge once, as node indices ``(i, j)`` with ``i < j``,
        sorted; no self-loops.
    labels : list of str
        Each node's subpackage, its module's first two dotted components
        (``scipy.sparse.linalg`` is ``scipy.sparse``), or its package when
        fewer than ``_MIN_LABEL`` nodes share that subpackage.
    """
    docstrings = _docstrings()
    resolve = _resolver([item[0] for item in items])
    pairs = set()
    for row, (item, package, module, _, _) in enumerate(items):
        for name in see_also_names(docstrings[item]):
            other = resolve(name, package, module)
            if other is not None and other != row:
                pairs.add((min(row, other), max(row, other)))
    pairs = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    nodes = np.unique(pairs)
    edges = np.searchsorted(nodes, pairs)
    subpackages = [".".join(items[row][2].split(".")[:2]) for row in nodes]
    counts = Counter(subpackages)
    labels = [
        name if counts[name] >= _MIN_LABEL else name.split(".")[0]
        for name in subpackages
    ]
    return nodes, edges, labels


# --- The networks -----------------------------------------------------------------


def _sparse(rows, columns, values, n_nodes):
    return torch.sparse_coo_tensor(
        torch.from_numpy(np.stack([rows, columns])),
        torch.from_numpy(values.astype(np.float32)),
        (n_nodes, n_nodes),
        check_invariants=True,
    ).coalesce()


def adjacencies(edges, n_nodes):
    """The two propagation matrices, sparse float32 tensors of (n_nodes, n_nodes).

    Returns
    -------
    gcn : torch.Tensor
        :math:`D^{-1/2} (A + I) D^{-1/2}`, the renormalised adjacency of a
        GCN, with :math:`D` the degrees of :math:`A + I`.
    mean : torch.Tensor
        :math:`D^{-1} A`: the mean over a node's neighbours (a zero row for
        a node without any).
    """
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    columns = np.concatenate([edges[:, 1], edges[:, 0]])
    degree = np.bincount(rows, minlength=n_nodes).astype(np.float64)
    loops = np.arange(n_nodes)
    scale = 1.0 / np.sqrt(degree + 1.0)
    gcn = _sparse(
        np.concatenate([rows, loops]),
        np.concatenate([columns, loops]),
        np.concatenate([scale[rows] * scale[columns], scale**2]),
        n_nodes,
    )
    mean = _sparse(rows, columns, 1.0 / degree[rows], n_nodes)
    return gcn, mean


class GCN(nn.Module):
    """Two graph convolutions: ``Â relu(Â X W1) W2``, with dropout on inputs."""

    def __init__(self, n_features, hidden, dim, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.first = nn.Linear(n_features, hidden, **_FACTORY)
        self.second = nn.Linear(hidden, dim, **_FACTORY)

    def forward(self, x, gcn, mean):
        h = torch.relu(torch.sparse.mm(gcn, self.first(self.dropout(x))))
        return torch.sparse.mm(gcn, self.second(self.dropout(h)))


class SAGE(nn.Module):
    """Two GraphSAGE layers with a mean aggregator: ``W_s h + W_n mean(h)``."""

    def __init__(self, n_features, hidden, dim, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.self1 = nn.Linear(n_features, hidden, **_FACTORY)
        self.neighbours1 = nn.Linear(n_features, hidden, bias=False, **_FACTORY)
        self.self2 = nn.Linear(hidden, dim, **_FACTORY)
        self.neighbours2 = nn.Linear(hidden, dim, bias=False, **_FACTORY)

    def forward(self, x, gcn, mean):
        x = self.dropout(x)
        h = torch.relu(self.self1(x) + self.neighbours1(torch.sparse.mm(mean, x)))
        h = self.dropout(h)
        return self.self2(h) + self.neighbours2(torch.sparse.mm(mean, h))


#: name -> (own seed, embedding dimension, class, description)
NETWORKS = {
    "gcn": (0, 64, GCN, "GCN, two graph convolutions 384-128-64, ReLU"),
    "sage": (
        1,
        48,
        SAGE,
        "GraphSAGE, two layers with a mean aggregator 384-128-48, ReLU",
    ),
}
_HIDDEN = 128
_DROPOUT = 0.5
_EPOCHS = 200
_LEARNING_RATE = 1e-2
_WEIGHT_DECAY = 5e-4


def build_network(name, n_features, n_classes):
    """An untrained network ``name`` and its linear head, two torch modules."""
    _, dim, cls, _ = NETWORKS[name]
    head = nn.Linear(dim, n_classes, **_FACTORY)
    return cls(n_features, _HIDDEN, dim, _DROPOUT), head


def train_network(
    name, features, edges, target, train, *, seed, epochs=_EPOCHS, snapshots=()
):
    """Train network ``name`` for node classification on the nodes ``train``.

    Full-batch Adam on the cross-entropy of the ``train`` nodes (transductive:
    every node's features and edges are seen), seeded by ``seed``; torch runs
    on one thread and the caller's random state is left alone.

    Returns
    -------
    encoder, head : torch.nn.Module
        The trained network and its linear head, in eval mode.
    embeddings : dict of int to ndarray of shape (n_nodes, dim)
        The float32 embedding of every node after each epoch in ``snapshots``
        and after the last one (key ``epochs``).
    """
    n_classes = int(target.max()) + 1
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    gcn, mean = adjacencies(edges, len(x))
    y = torch.from_numpy(target[train].astype(np.int64))
    train = torch.from_numpy(np.asarray(train))
    embeddings = {}
    with _one_torch_thread(), torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        encoder, head = build_network(name, x.shape[1], n_classes)
        parameters = [*encoder.parameters(), *head.parameters()]
        optimizer = torch.optim.Adam(
            parameters, lr=_LEARNING_RATE, weight_decay=_WEIGHT_DECAY
        )
        for epoch in range(1, epochs + 1):
            encoder.train()
            with torch.enable_grad():
                optimizer.zero_grad()
                logits = head(encoder(x, gcn, mean)[train])
                nn.functional.cross_entropy(logits, y).backward()
                optimizer.step()
            if epoch in snapshots or epoch == epochs:
                encoder.eval()
                with torch.no_grad():
                    embeddings[epoch] = encoder(x, gcn, mean).numpy()
    return encoder.eval(), head.eval(), embeddings
