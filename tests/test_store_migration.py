"""What every vector store does the same, checked through the store interface on
each of them (LanceDB, Qdrant, Chroma, FAISS files; each skipped without its
extra):
resuming an interrupted or killed apply, its refusals, status, cutover,
rollback and finalize (and a second migration after it), and the command
line."""

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
    finalize_store,
    open_store,
    rollback_store,
    save_bridge,
    shadow_missing,
    store_status,
)

from ._migration_data import (
    apply_killed,
    chroma_store,
    faiss_ivf_store,
    faiss_store,
    lancedb_store,
    qdrant_store,
    spaces,
    stop_after,
)

pytest.importorskip("skops.io")

N = 100
B = 20  # rows a batch (Qdrant's local mode commits each point on its own)
BUILD = {  # the package, the store's builder, its ids' type
    "lancedb": ("lancedb", lancedb_store, int),
    "qdrant": ("qdrant_client", qdrant_store, int),
    "chroma": ("chromadb", chroma_store, str),
    "faiss": ("faiss", faiss_store, int),
    "faiss-ivf": ("faiss", faiss_ivf_store, int),
}


@pytest.fixture(scope="module")
def bridge():
    old, new = spaces(600)
    return MigrationBridge(method="affine", target_name="new-model").fit(old, new)


@pytest.fixture(params=sorted(BUILD))
def store(request, tmp_path):
    """A store of N rows (ids out of order, old-space vectors): its URI, the
    served column and ``{id: old vector}``."""
    package, build, key = BUILD[request.param]
    pytest.importorskip(package)
    old = spaces(N, seed=5)[0]
    ids = [key(i) for i in 1000 + np.random.default_rng(0).permutation(N)]
    uri = build(tmp_path / "store", ids, old)
    return uri, open_store(uri).column, dict(zip(ids, old, strict=True))


def _column(uri, column):
    """``{id: vector}`` of ``column``, read through the store, each id once."""
    store = open_store(uri)
    values = {}
    for batch in store.read_batches([store.id_column, column], present=[column]):
        for key, vector in zip(batch[store.id_column], batch[column], strict=True):
            assert key not in values
            values[key] = vector
    return values


def _check(uri, column, old, bridge):
    """``column`` holds bridge.transform of every old vector, each row once."""
    written = _column(uri, column)
    assert sorted(written) == sorted(old)
    ids = sorted(old)
    np.testing.assert_allclose(
        np.stack([written[i] for i in ids]),
        bridge.transform(np.stack([old[i] for i in ids])),
        atol=1e-5,
    )


def test_an_interrupted_apply_resumes_without_missing_or_rewriting_a_row(store, bridge):
    uri, column, old = store
    with pytest.raises(KeyboardInterrupt):
        apply_to_store(bridge, uri, batch_size=B, progress=stop_after(2))
    assert shadow_missing(uri) == N - 2 * B
    status = store_status(uri)
    assert status["shadow_written"] == pytest.approx(2 * B / N)
    (stamp,) = status["stamps"][column + "__shadow"]
    assert stamp == {**json.loads(bridge_stamp(bridge)), "rows": 2 * B}
    resumed = []
    assert apply_to_store(bridge, uri, batch_size=B, progress=resumed.append) == (
        N - 2 * B
    )
    assert sum(resumed) == N - 2 * B
    _check(uri, column + "__shadow", old, bridge)
    assert apply_to_store(bridge, uri) == 0  # nothing left
    assert shadow_missing(uri) == 0


@pytest.mark.slow  # a fresh interpreter imports torch (~10 s)
def test_apply_survives_kill_9(store, bridge, tmp_path):
    uri, column, old = store
    save_bridge(bridge, tmp_path / "bridge.skops")
    killed = apply_killed(tmp_path / "bridge.skops", uri, batches=3, batch_size=B)
    assert killed == -signal.SIGKILL
    assert shadow_missing(uri) == N - 3 * B
    assert apply_to_store(bridge, uri, batch_size=B) == N - 3 * B
    _check(uri, column + "__shadow", old, bridge)


def test_apply_batches_by_the_engine_default(store, bridge):
    # Chroma's client copies a batch several times over, so its batches are
    # smaller by default.
    uri, column, _ = store
    opened = open_store(uri)
    fill, sizes = opened.fill, []

    def counted_fill(*args, batch_size, **kwargs):
        sizes.append(batch_size)
        return fill(*args, batch_size=batch_size, **kwargs)

    opened.fill = counted_fill
    assert apply_to_store(bridge, opened) == N
    scheme = uri.split(":", 1)[0]
    assert sizes == [4096 if scheme == "chroma" else 16384]
    assert opened.count(present=[column + "__shadow"]) == N


def test_apply_refuses_what_does_not_fit(store, bridge):
    uri, _, _ = store
    with pytest.raises(ValueError, match="holds vectors of 32 values; the bridge"):
        apply_to_store(
            MigrationBridge(method="affine").fit(*spaces(200, d_old=16)), uri
        )
    with pytest.raises(ValueError, match="needs an old-to-new bridge"):
        apply_to_store(
            MigrationBridge(method="affine", direction="new-to-old").fit(*spaces(200)),
            uri,
        )
    with pytest.raises(KeyboardInterrupt):
        apply_to_store(bridge, uri, batch_size=B, progress=stop_after(1))
    other = MigrationBridge(method="affine").fit(*spaces(200, seed=3))
    with pytest.raises(ValueError, match=f"{B} rows of the shadow column .* another"):
        apply_to_store(other, uri)


def test_status_cutover_rollback(store, bridge):
    uri, column, old = store
    status = store_status(uri)
    assert status["state"] == "no shadow" and status["shadow_written"] is None
    assert status["served_model"] is None and status["rows"] == N
    with pytest.raises(ValueError, match=f"has no shadow column '{column}__shadow'"):
        cutover_store(uri)
    with pytest.raises(ValueError, match="is not cut over"):
        rollback_store(uri)
    with pytest.raises(KeyboardInterrupt):
        apply_to_store(bridge, uri, batch_size=B, progress=stop_after(1))
    staged = rf"misses {N} rows \({B} of them staged by an interrupted apply\)"
    with pytest.raises(ValueError, match=rf"misses {N - B} rows; finish|{staged}"):
        cutover_store(uri)
    apply_to_store(bridge, uri)
    status = store_status(uri)
    assert status["state"] == "shadow" and status["shadow_written"] == 1.0
    before = _column(uri, column)

    cutover_store(uri)
    _check(uri, column, old, bridge)  # the URI's column serves the new space
    assert {k: v.tobytes() for k, v in _column(uri, column + "__previous").items()} == {
        k: v.tobytes() for k, v in before.items()
    }
    status = store_status(uri)
    assert status["state"] == "cut over" and status["served_model"] == "new-model"
    with pytest.raises(ValueError, match="is cut over .* migrate rollback"):
        cutover_store(uri)
    with pytest.raises(ValueError, match="is cut over"):
        apply_to_store(bridge, uri)

    rollback_store(uri)
    assert {k: v.tobytes() for k, v in _column(uri, column).items()} == {
        k: v.tobytes() for k, v in before.items()
    }  # bit for bit
    assert column + "__previous" not in open_store(uri).columns()
    _check(uri, column + "__shadow", old, bridge)
    assert store_status(uri)["served_model"] is None
    cutover_store(uri)  # and forth again
    _check(uri, column, old, bridge)


def test_cli_apply_status_cutover_rollback(store, bridge, tmp_path, capsys):
    uri, column, old = store
    path = str(tmp_path / "bridge.skops")
    save_bridge(bridge, path)
    assert main(["migrate", "apply", path, "--store", uri, "--batch-size", "30"]) == 0
    assert f"{N} rows written" in capsys.readouterr().err
    assert main(["migrate", "status", uri, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["shadow_written"] == 1.0 and status["served_model"] is None
    assert status["stamps"][column + "__shadow"][0]["model"] == "new-model"
    assert main(["migrate", "cutover", uri]) == 0
    assert main(["migrate", "status", uri]) == 0
    out = capsys.readouterr().out
    assert f"serves '{column}' (new-model)" in out and "cut over" in out
    _check(uri, column, old, bridge)
    assert main(["migrate", "rollback", uri]) == 0
    _check(uri, column + "__shadow", old, bridge)


def test_finalize_deletes_the_old_vectors_and_a_second_migration_follows(store, bridge):
    uri, column, old = store
    apply_to_store(bridge, uri)
    with pytest.raises(ValueError, match="is not cut over .* after a cutover"):
        finalize_store(uri)
    cutover_store(uri)
    dropped = finalize_store(uri)
    assert (
        dropped == [column + "__previous", column + "__previous__stamp"][: len(dropped)]
        and dropped[0] == column + "__previous"
    )
    assert not any("__previous" in name for name in open_store(uri).columns())
    status = store_status(uri)
    assert status["state"] == "no shadow" and status["served_model"] == "new-model"
    _check(uri, column, old, bridge)  # the served vectors are untouched
    with pytest.raises(ValueError, match="is not cut over"):
        rollback_store(uri)

    # a second migration: only from the model whose stamps the served rows carry
    served = _column(uri, column)
    pairs = spaces(600, d_old=24, d_new=16)
    for name, match in (
        (None, "model 'new-model' .* names no source model: fit a bridge from"),
        ("old-model", "this bridge translates from 'old-model'"),
    ):
        other = MigrationBridge(method="affine", source_name=name).fit(*pairs)
        with pytest.raises(ValueError, match=match):
            apply_to_store(other, uri)
    second = MigrationBridge(
        method="affine", source_name="new-model", target_name="newer-model"
    ).fit(*pairs)
    assert apply_to_store(second, uri, batch_size=B) == N
    cutover_store(uri)
    _check(uri, column, served, second)
    assert store_status(uri)["served_model"] == "newer-model"
    rollback_store(uri)  # to the first migration's vectors
    _check(uri, column, old, bridge)


def test_after_an_unnamed_migration_the_next_bridge_must_name_its_source(store):
    # The first bridge named no target model, so the served rows' stamps name
    # none: a second bridge is accepted only when it names its source model.
    uri, column, old = store
    unnamed = MigrationBridge(method="affine").fit(*spaces(600))
    apply_to_store(unnamed, uri)
    cutover_store(uri)
    finalize_store(uri)
    pairs = spaces(600, d_old=24, d_new=16)
    anonymous = MigrationBridge(method="affine").fit(*pairs)
    with pytest.raises(ValueError, match="named no target model, and this bridge"):
        apply_to_store(anonymous, uri)
    assert store_status(uri)["state"] == "no shadow"  # nothing was written
    named = MigrationBridge(method="affine", source_name="first-model").fit(*pairs)
    assert apply_to_store(named, uri, batch_size=B) == N


def test_cli_finalize_asks_for_yes(store, bridge, tmp_path, capsys):
    uri, column, old = store
    apply_to_store(bridge, uri)
    cutover_store(uri)
    assert main(["migrate", "finalize", uri]) == 2
    err = capsys.readouterr().err.strip()
    assert "no rollback after it); pass --yes" in err and len(err.splitlines()) == 1
    assert column + "__previous" in open_store(uri).columns()
    assert main(["migrate", "finalize", uri, "--yes"]) == 0
    assert f"deleted '{column}__previous'" in capsys.readouterr().err
    assert main(["migrate", "finalize", uri, "--yes"]) == 2
    assert "is not cut over" in capsys.readouterr().err
