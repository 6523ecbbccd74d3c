"""The Qdrant store (local mode, a folder): the shadow collection of ``migrate apply
--store``, status, and cutover and rollback by an alias, end to end."""

import json
import signal

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

from ._migration_data import apply_killed, spaces, stop_after

qdrant_client = pytest.importorskip("qdrant_client")
models = qdrant_client.models
pytest.importorskip("skops.io")

N = 100
B = 20  # rows a batch (Qdrant's local mode commits each point on its own)


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
    client = _client(tmp_path / "q")
    client.create_collection(
        "docs_v1",
        vectors_config={
            "text": models.VectorParams(size=32, distance=models.Distance.COSINE),
            "img": models.VectorParams(size=2, distance=models.Distance.DOT),
        },
    )
    client.upsert(
        "docs_v1",
        [
            models.PointStruct(
                id=i,
                vector={"text": old[k].tolist(), "img": [1.0, float(i)]},
                payload={"title": f"item {i}"},
            )
            for k, i in enumerate(ids)
        ],
    )
    client.update_collection_aliases(
        change_aliases_operations=[
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(
                    collection_name="docs_v1", alias_name="docs"
                )
            )
        ]
    )
    client.close()
    return f"qdrant://{tmp_path / 'q'}/docs?vector=text", dict(
        zip(ids, old, strict=True)
    )


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
    assert apply_to_store(bridge, uri, batch_size=B) == N
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


def test_an_interrupted_apply_resumes_without_missing_or_rewriting_a_row(store, bridge):
    uri, old = store
    with pytest.raises(KeyboardInterrupt):
        apply_to_store(bridge, uri, batch_size=B, progress=stop_after(2))
    assert shadow_missing(uri) == N - 2 * B
    assert store_status(uri)["shadow_written"] == pytest.approx(2 * B / N)
    assert apply_to_store(bridge, uri, batch_size=B) == N - 2 * B
    _check(uri, "docs_v1__shadow", old, bridge)


@pytest.mark.slow  # a fresh interpreter imports torch (~10 s)
def test_apply_survives_kill_9(store, bridge, tmp_path):
    uri, old = store
    save_bridge(bridge, tmp_path / "bridge.skops")
    killed = apply_killed(tmp_path / "bridge.skops", uri, batches=3, batch_size=B)
    assert killed == -signal.SIGKILL
    assert shadow_missing(uri) == N - 3 * B
    assert apply_to_store(bridge, uri, batch_size=B) == N - 3 * B
    _check(uri, "docs_v1__shadow", old, bridge)


def test_apply_refuses_what_does_not_fit(store, bridge):
    uri, _ = store
    with pytest.raises(ValueError, match="holds vectors of 32 values; the bridge"):
        apply_to_store(
            MigrationBridge(method="affine").fit(*spaces(200, d_old=16)), uri
        )
    with pytest.raises(KeyboardInterrupt):
        apply_to_store(bridge, uri, batch_size=B, progress=stop_after(1))
    other = MigrationBridge(method="affine").fit(*spaces(200, seed=3))
    with pytest.raises(ValueError, match=f"{B} rows of the shadow column .* another b"):
        apply_to_store(other, uri)


def test_status_cutover_rollback_switch_the_alias(store, bridge):
    uri, old = store
    status = store_status(uri)
    assert status["state"] == "no shadow" and status["served_model"] is None
    with pytest.raises(ValueError, match="has no shadow column 'text__shadow'"):
        cutover_store(uri)
    with pytest.raises(ValueError, match="is not cut over"):
        rollback_store(uri)
    with pytest.raises(KeyboardInterrupt):
        apply_to_store(bridge, uri, batch_size=B, progress=stop_after(1))
    with pytest.raises(ValueError, match=f"misses {N - B} rows; finish it"):
        cutover_store(uri)
    apply_to_store(bridge, uri)
    with pytest.raises(ValueError, match="names the collection 'docs_v1', not an al"):
        cutover_store(uri.replace("/docs?", "/docs_v1?"))
    before = _points(uri, "docs")

    cutover_store(uri)
    _check(uri, "docs", old, bridge)  # the alias serves the new vectors
    status = store_status(uri)
    assert status["state"] == "cut over" and status["served_model"] == "new-model"
    with pytest.raises(ValueError, match="is cut over .* migrate rollback"):
        cutover_store(uri)
    with pytest.raises(ValueError, match="is cut over"):
        apply_to_store(bridge, uri)

    rollback_store(uri)
    after = _points(uri, "docs")
    assert {i: p.vector for i, p in after.items()} == {  # bit for bit
        i: p.vector for i, p in before.items()
    }
    assert store_status(uri)["state"] == "shadow"
    cutover_store(uri)  # and forth again
    _check(uri, "docs", old, bridge)


def test_cli_apply_status_cutover_rollback(store, bridge, tmp_path, capsys):
    uri, old = store
    path = str(tmp_path / "bridge.skops")
    save_bridge(bridge, path)
    assert main(["migrate", "apply", path, "--store", uri, "--batch-size", "30"]) == 0
    assert f"{N} rows written" in capsys.readouterr().err
    assert main(["migrate", "status", uri, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["shadow_written"] == 1.0 and status["served_column"] == "text"
    assert main(["migrate", "cutover", uri]) == 0
    assert main(["migrate", "status", uri]) == 0
    assert "serves 'text' (new-model)" in capsys.readouterr().out
    _check(uri, "docs", old, bridge)
    assert main(["migrate", "rollback", uri]) == 0
    _check(uri, "docs_v1__shadow", old, bridge)


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
