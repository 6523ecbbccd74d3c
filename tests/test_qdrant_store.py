"""The Qdrant store (local mode, a folder): the shadow collection of ``migrate apply
--store``, status, and cutover and rollback by an alias, end to end."""

import json

import numpy as np
import pytest

from sklatent.__main__ import main
from sklatent.migration import (
    MigrationBridge,
    apply_to_store,
    bridge_stamp,
    cutover_store,
    parse_store_uri,
    rollback_store,
    save_bridge,
    shadow_missing,
    store_status,
)

from ._migration_data import qdrant_store, spaces

qdrant_client = pytest.importorskip("qdrant_client")
models = qdrant_client.models
pytest.importorskip("skops.io")

N = 40


@pytest.fixture(scope="module")
def bridge():
    old, new = spaces(600)
    return MigrationBridge(method="affine", target_name="new-model").fit(old, new)


def _client(path):
    return qdrant_client.QdrantClient(path=str(path))


@pytest.fixture
def store(tmp_path):
    """Collection ``docs_v1`` (vectors ``text``, old space, and ``img``; a title in
    the payload; ids out of order) served through the alias ``docs``."""
    old = spaces(N, seed=5)[0]
    ids = [int(i) for i in 1000 + np.random.default_rng(0).permutation(N)]
    return qdrant_store(tmp_path / "q", ids, old), dict(zip(ids, old, strict=True))


def _points(uri, name):
    """``{id: point}`` of collection (or alias) ``name``."""
    client = _client(parse_store_uri(uri).path)
    try:
        points, _ = client.scroll(name, limit=10 * N, with_vectors=True)
    finally:
        client.close()
    return {point.id: point for point in points}


def _check(uri, name, old, bridge):
    """``name``'s text vectors are bridge.transform of the old ones, each id once."""
    points = _points(uri, name)
    assert sorted(points) == sorted(old)
    ids = sorted(old)
    np.testing.assert_allclose(
        np.asarray([points[i].vector["text"] for i in ids], np.float32),
        bridge.transform(np.stack([old[i] for i in ids])),
        atol=1e-5,
    )
    return points


def test_parse_qdrant_uri():
    assert parse_store_uri("qdrant:///srv/q/docs?vector=text") == (
        "qdrant", "/srv/q", "docs", "text", "id",
    )  # fmt: skip
    assert parse_store_uri("qdrant://q/docs").column is None
    for uri, match in [
        ("qdrant://docs", "names no collection; expected qdrant://DIR/COLLECTION"),
        ("qdrant://q/docs?column=x", r"unknown option 'column' \(the options are v"),
        ("lancedbx://q/docs", "or qdrant://DIR/COLLECTION"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_store_uri(uri)


def test_open_errors(store, tmp_path, bridge):
    uri, _ = store
    base = uri.split("?")[0]
    with pytest.raises(ValueError, match="no Qdrant storage at"):
        shadow_missing(f"qdrant://{tmp_path / 'nowhere'}/docs")
    with pytest.raises(ValueError, match="has no collection or alias 'missing'"):
        shadow_missing(base.replace("/docs", "/missing"))
    with pytest.raises(ValueError, match=r"has no vector 'emb' \(vectors: 'text'"):
        shadow_missing(base + "?vector=emb")
    with pytest.raises(ValueError, match="has the vectors text, img: name one with"):
        shadow_missing(base)
    client = _client(tmp_path / "q")  # the folder is locked while a client holds it
    try:
        with pytest.raises(ValueError, match="already accessed by another instance"):
            shadow_missing(uri)
    finally:
        client.close()


def test_apply_writes_a_stamped_shadow_collection(store, bridge):
    uri, old = store
    before = _points(uri, "docs_v1")
    assert shadow_missing(uri) == N
    assert apply_to_store(bridge, uri, batch_size=16) == N
    shadow = _check(uri, "docs_v1__shadow", old, bridge)
    for i, point in shadow.items():  # the rest of each point is copied
        assert point.payload == {
            "title": f"item {i}",
            "text__stamp": bridge_stamp(bridge),
        }
        assert point.vector["img"] == before[i].vector["img"]
    after = _points(uri, "docs")  # the served collection is untouched
    assert {i: (p.vector, p.payload) for i, p in after.items()} == {
        i: (p.vector, p.payload) for i, p in before.items()
    }
    assert apply_to_store(bridge, uri) == 0  # nothing left
    status = store_status(uri)
    assert status["state"] == "shadow" and status["shadow_written"] == 1.0
    assert status["stamps"]["text__shadow"] == [
        {**json.loads(bridge_stamp(bridge)), "rows": N}
    ]


def test_an_unnamed_vector_is_served_as_vector(tmp_path, bridge):
    old = spaces(20, seed=9)[0]
    client = _client(tmp_path / "q")
    client.create_collection(
        "plain", vectors_config=models.VectorParams(size=32, distance="Euclid")
    )
    client.upsert(
        "plain",
        [models.PointStruct(id=i, vector=old[i].tolist()) for i in range(20)],
    )
    client.close()
    uri = f"qdrant://{tmp_path / 'q'}/plain"
    assert apply_to_store(bridge, uri, batch_size=8) == 20
    assert store_status(uri)["served_column"] == "vector"
    points = _points(uri, "plain__shadow")
    np.testing.assert_allclose(
        np.asarray([points[i].vector for i in range(20)], np.float32),
        bridge.transform(old),
        atol=1e-5,
    )


def test_cutover_and_rollback_switch_the_alias(store, bridge):
    uri, old = store
    apply_to_store(bridge, uri)
    with pytest.raises(ValueError, match="names the collection 'docs_v1', not an al"):
        cutover_store(uri.replace("/docs?", "/docs_v1?"))

    def alias():
        client = _client(parse_store_uri(uri).path)
        try:
            (found,) = client.get_aliases().aliases
        finally:
            client.close()
        return found.alias_name, found.collection_name

    cutover_store(uri)
    assert alias() == ("docs", "docs_v1__shadow")
    _check(uri, "docs", old, bridge)
    rollback_store(uri)
    assert alias() == ("docs", "docs_v1")
    _check(uri, "docs_v1__shadow", old, bridge)  # kept for a cutover again


@pytest.mark.parametrize(
    "argv, message",
    [
        (["status", "qdrant://nowhere"], "names no collection"),
        (["status", "qdrant://{q}/missing"], "has no collection or alias 'missing'"),
        (["cutover", "qdrant://{q}/docs?vector=emb"], "has no vector 'emb'"),
        (["rollback", "qdrant://{q}/docs?vector=text"], "is not cut over"),
        (["apply", "{bridge}", "--store", "qdrant://{q}/docs"], "name one with"),
    ],
)  # fmt: skip
def test_cli_errors_are_one_line_and_exit_2(
    store, bridge, tmp_path, capsys, argv, message
):
    path = str(tmp_path / "bridge.skops")
    save_bridge(bridge, path)
    argv = ["migrate", *(a.format(q=tmp_path / "q", bridge=path) for a in argv)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
