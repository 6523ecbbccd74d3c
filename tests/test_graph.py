"""The See-Also graph, the two graph neural networks and load_graph_embeddings."""

import numpy as np
import pytest
import torch

from sklatent import _graph, _text, datasets

DOCSTRING = """Sum of array elements.

Longer description.

See Also
--------
numpy.linalg.norm : The norm.
:func:`~scipy.special.logsumexp`, amax
allclose: Returns True if two arrays are element-wise equal within a
    tolerance; a description line : not a name.
ndarray.sum : Equivalent method.

Notes
-----
notes : not a reference
"""


def test_see_also_names_are_read_from_the_section_only():
    assert _graph.see_also_names(DOCSTRING) == [
        "numpy.linalg.norm",
        "scipy.special.logsumexp",
        "amax",
        "allclose",
        "ndarray.sum",
    ]
    assert _graph.see_also_names("Summary.\n\nNo section here.") == []


def test_names_resolve_absolute_relative_and_by_last_component():
    ids = ["numpy.amax", "numpy.linalg.norm", "numpy.ma.sum", "scipy.linalg.norm"]
    resolve = _graph._resolver(ids)
    assert resolve("numpy.linalg.norm", "scipy", "scipy.linalg") == 1
    assert resolve("norm", "scipy", "scipy.linalg") == 3  # in the module
    assert resolve("amax", "numpy", "numpy.ma") == 0  # in the package
    assert resolve("ma.sum", "numpy", "numpy") == 2  # its module, relative
    assert resolve("sum", "scipy", "scipy.linalg") is None  # another package
    assert resolve("norm", "numpy", "numpy.fft") == 1  # one numpy item ends so


def _fake_corpus(n_per_group=25):
    """Two packages whose items refer to the next two items of their package."""
    items, docstrings = [], {}
    for package in ("numpy", "scipy"):
        for i in range(n_per_group):
            item = f"{package}.f{i:02d}"
            items.append((item, package, package, f"query {item}", f"doc {item}"))
            refs = ", ".join(
                f"f{j:02d}" for j in (i + 1, i + 2) if j < n_per_group and i < 20
            )
            docstrings[item] = f"Summary.\n\nSee Also\n--------\n{refs}\n"
    items.append(("numpy.lonely", "numpy", "numpy", "q", "d"))
    docstrings["numpy.lonely"] = "Summary without references."
    return items, docstrings


def test_see_also_graph_keeps_linked_items_with_their_labels(monkeypatch):
    items, docstrings = _fake_corpus()
    monkeypatch.setattr(_graph, "_docstrings", lambda: docstrings)
    nodes, edges, labels = _graph.see_also_graph(items)
    # Items 0..21 of each package are linked; the lonely item is no node.
    assert len(nodes) == 44 and items.index(items[-1]) not in nodes
    assert edges.dtype == np.int64 and (edges[:, 0] < edges[:, 1]).all()
    assert len(np.unique(edges, axis=0)) == len(edges) == 2 * 2 * 20
    assert labels == ["numpy"] * 22 + ["scipy"] * 22
    assert all(labels[i] == labels[j] for i, j in edges)


def test_the_corpus_graph_is_real():
    nodes, edges, labels = _graph.see_also_graph(_text.corpus())
    assert len(nodes) > 1000 and len(edges) > 1500
    assert np.array_equal(np.unique(edges), np.arange(len(nodes)))
    counts = np.unique(labels, return_counts=True)[1]
    assert counts.min() >= _graph._MIN_LABEL and len(counts) >= 10
    same = np.mean([labels[i] == labels[j] for i, j in edges])
    assert same > 0.7  # See Also mostly stays within a subpackage


def test_adjacencies_match_dense_float64():
    edges = np.array([[0, 1], [1, 2], [1, 3]])
    gcn, mean = _graph.adjacencies(edges, 5)  # node 4 has no edge
    A = np.zeros((5, 5))
    A[edges[:, 0], edges[:, 1]] = A[edges[:, 1], edges[:, 0]] = 1
    loops = A + np.eye(5)
    d = loops.sum(1)
    np.testing.assert_allclose(gcn.to_dense(), loops / np.sqrt(np.outer(d, d)), 1e-6)
    degree = np.maximum(A.sum(1, keepdims=True), 1)
    np.testing.assert_allclose(mean.to_dense(), A / degree, rtol=1e-6)
    assert gcn.dtype == mean.dtype == torch.float32


def _two_communities(n=40, seed=0):
    """Two dense communities whose features barely tell them apart."""
    rng = np.random.RandomState(seed)
    target = np.repeat([0, 1], n // 2)
    features = rng.normal(size=(n, 16)) + 0.3 * target[:, None]
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    edges = np.array(
        [p for p in pairs if target[p[0]] == target[p[1]] and rng.rand() < 0.3]
    )
    return features.astype(np.float32), edges, target


@pytest.mark.parametrize("name", list(_graph.NETWORKS))
def test_networks_learn_communities_deterministically(name):
    features, edges, target = _two_communities()
    train = np.arange(0, 40, 4)
    state = torch.get_rng_state()
    encoder, head, snapshots = _graph.train_network(
        name, features, edges, target, train, seed=3, epochs=30, snapshots=(5, 10)
    )
    assert torch.equal(torch.get_rng_state(), state)
    assert sorted(snapshots) == [5, 10, 30]
    width = _graph.NETWORKS[name][1]
    assert snapshots[30].shape == (40, width) and snapshots[30].dtype == np.float32
    with torch.no_grad():
        predicted = head(torch.from_numpy(snapshots[30])).argmax(1).numpy()
    assert np.mean(predicted == target) > 0.9
    _, _, again = _graph.train_network(
        name, features, edges, target, train, seed=3, epochs=30
    )
    np.testing.assert_array_equal(again[30], snapshots[30])


@pytest.fixture
def fake_graph(monkeypatch):
    """A small corpus and random MiniLM features instead of the real ones."""
    items, docstrings = _fake_corpus()
    monkeypatch.setattr(_text, "corpus", lambda: items)
    monkeypatch.setattr(_graph, "_docstrings", lambda: docstrings)
    calls = []

    def encode(name, texts, **kwargs):
        calls.append((name, len(texts)))
        rng = np.random.RandomState(len(texts))
        return rng.normal(size=(len(texts), 384)).astype(np.float32)

    monkeypatch.setattr(_text, "encode", encode)
    return calls


def test_bunch_and_cache(fake_graph, tmp_path, monkeypatch):
    data = datasets.load_graph_embeddings(data_home=tmp_path)
    assert {k: v.shape for k, v in data.embeddings.items()} == {
        "gcn": (44, 64),
        "sage": (44, 48),
    }
    assert data.features.shape == (44, 384) and data.edges.shape == (80, 2)
    assert data.target_names == ["numpy", "scipy"]
    assert data.ids[0] == "numpy.f00" and data.ids[-1] == "scipy.f21"
    assert len(data.train_indices) + len(data.test_indices) == 44
    assert "44 documented callables, 80 undirected edges" in data.DESCR
    assert fake_graph == [("minilm", 44)]  # the nodes' docstrings, once
    assert len(list(tmp_path.glob("graph_v*_gcn_*.npz"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("trained although cached")

    monkeypatch.setattr(_graph, "train_network", no_training)
    again = datasets.load_graph_embeddings(encoders="sage", data_home=tmp_path)
    np.testing.assert_array_equal(again.embeddings["sage"], data.embeddings["sage"])
    np.testing.assert_array_equal(again.features, data.features)
    assert len(fake_graph) == 1  # the features were read back too


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"encoders": "gat"}, r"Unknown encoder name\(s\) \['gat'\]"),
        ({"test_size": 1.5}, r"test_size=1.5 must be a float strictly between"),
        ({"random_state": 2**32}, r"random_state must be an int between 0"),
    ],
)
def test_invalid_arguments(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        datasets.load_graph_embeddings(data_home=tmp_path, **kwargs)
