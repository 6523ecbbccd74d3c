"""The FAISS store (an index file): the shadow index of ``migrate apply --store``
in FAISS's own format, cutover and rollback by files (bit for bit), an
interrupted switch, and the index types it refuses."""

import json
import os

import numpy as np
import pytest

from sklatent.__main__ import main
from sklatent.migration import (
    MigrationBridge,
    _faiss_store,
    apply_to_store,
    bridge_stamp,
    check_vector_store,
    cutover_store,
    open_store,
    parse_store_uri,
    rollback_store,
    save_bridge,
    shadow_missing,
    store_status,
)

from ._migration_data import spaces, stop_after

faiss = pytest.importorskip("faiss")
pytest.importorskip("skops.io")

N = 60


@pytest.fixture(scope="module")
def bridge():
    old, new = spaces(600)
    return MigrationBridge(method="affine", target_name="new-model").fit(old, new)


def _ids():
    return 1000 + np.random.default_rng(0).permutation(N).astype(np.int64)


INDEXES = {
    "IndexIDMap2 over IndexFlatIP": lambda d: faiss.IndexIDMap2(faiss.IndexFlatIP(d)),
    "IndexIDMap over IndexFlatL2": lambda d: faiss.IndexIDMap(faiss.IndexFlatL2(d)),
    "IndexFlatL2": faiss.IndexFlatL2,
    "IndexFlat": lambda d: faiss.IndexFlat(d, faiss.METRIC_L1),
    "IndexHNSWFlat": lambda d: faiss.IndexHNSWFlat(d, 8, faiss.METRIC_INNER_PRODUCT),
    "IndexIDMap over IndexHNSWFlat": lambda d: faiss.IndexIDMap(
        faiss.IndexHNSWFlat(d, 6)
    ),
}


def _write(path, make, X, ids):
    index = make(X.shape[1])
    hnsw = faiss.downcast_index(getattr(index, "index", index))
    if isinstance(hnsw, faiss.IndexHNSW):  # parameters the rebuild must keep
        hnsw.hnsw.efConstruction, hnsw.hnsw.efSearch = 24, 12
    if not index.is_trained:
        index.train(X)
    if isinstance(index, (faiss.IndexIDMap, faiss.IndexIVF)):
        index.add_with_ids(X, ids)
    else:
        index.add(X)
    faiss.write_index(index, str(path))
    return index


@pytest.fixture
def store(tmp_path):
    """``docs.faiss``: an IndexIDMap2 over an IndexFlatIP of N old vectors."""
    old = spaces(N, seed=5)[0]
    path = tmp_path / "docs.faiss"
    _write(path, INDEXES["IndexIDMap2 over IndexFlatIP"], old, _ids())
    return f"faiss://{path}", path, old


def test_parse_faiss_uri(tmp_path, monkeypatch):
    assert parse_store_uri("faiss://docs.faiss")[:3] == ("faiss", "", "docs.faiss")
    assert parse_store_uri("faiss://data/docs.faiss")[1:3] == ("data", "docs.faiss")
    assert parse_store_uri("faiss:///srv/docs.faiss")[1:3] == ("/srv", "docs.faiss")
    assert parse_store_uri("faiss:///docs.faiss")[1:3] == ("/", "docs.faiss")
    for uri, match in [
        ("faiss://", "names no file; expected faiss://FILE"),
        ("faiss://docs.faiss?column=x", r"unknown option 'column' \(it takes none"),
        ("faisz://docs.faiss", "or faiss://FILE"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_store_uri(uri)
    monkeypatch.chdir(tmp_path)  # a relative file, in the working folder
    _write(tmp_path / "here.faiss", faiss.IndexFlatL2, spaces(5)[0], None)
    store = open_store("faiss://here.faiss")
    assert store.description() == "faiss://here.faiss" and store.count() == 5


@pytest.mark.parametrize("kind", sorted(INDEXES))
def test_the_shadow_and_the_cut_over_index_are_faiss_files(kind, tmp_path, bridge):
    old, ids = spaces(N, seed=5)[0], _ids()
    path = tmp_path / "docs.faiss"
    _write(path, INDEXES[kind], old, ids)
    before = path.read_bytes()
    uri = f"faiss://{path}"
    assert store_status(uri)["indices"] == {kind: ["vector"]}
    with pytest.raises(KeyboardInterrupt):
        apply_to_store(bridge, uri, batch_size=16, progress=stop_after(2))
    assert not os.path.exists(f"{path}.shadow")  # written whole at the end
    assert apply_to_store(bridge, uri, batch_size=16) == N - 32
    # byte for byte what FAISS writes for the translated vectors, same ids
    want = _write(tmp_path / "want.faiss", INDEXES[kind], bridge.transform(old), ids)
    shadow = (tmp_path / "docs.faiss.shadow").read_bytes()
    assert shadow == (tmp_path / "want.faiss").read_bytes()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [
        "docs.faiss", "docs.faiss.shadow", "docs.faiss.shadow.stamps.json",
        "want.faiss",
    ]  # fmt: skip
    cutover_store(uri)
    assert path.read_bytes() == shadow
    assert (tmp_path / "docs.faiss.previous").read_bytes() == before
    served = faiss.read_index(str(path))  # the application's read
    queries = spaces(5, seed=8)[1]
    np.testing.assert_array_equal(
        served.search(queries, 3)[1], want.search(queries, 3)[1]
    )
    assert store_status(uri)["served_model"] == "new-model"
    rollback_store(uri)
    assert path.read_bytes() == before  # bit for bit
    assert (tmp_path / "docs.faiss.shadow").read_bytes() == shadow
    assert not os.path.exists(f"{path}.previous")


def test_an_ivf_index_is_trained_again_in_the_new_space(tmp_path, bridge):
    old, ids = spaces(N, seed=5)[0], _ids()
    path = tmp_path / "docs.faiss"
    served = faiss.IndexIVFFlat(
        faiss.IndexFlatIP(32), 32, 3, faiss.METRIC_INNER_PRODUCT
    )
    served.nprobe = 2
    _write(path, lambda d: served, old, ids)
    before = path.read_bytes()
    uri = f"faiss://{path}"
    assert store_status(uri)["indices"] == {"IndexIVFFlat": ["vector"]}
    with pytest.raises(KeyboardInterrupt):
        apply_to_store(bridge, uri, batch_size=16, progress=stop_after(2))
    assert apply_to_store(bridge, uri, batch_size=16) == N - 32
    shadow = faiss.read_index(f"{path}.shadow")
    assert isinstance(shadow, faiss.IndexIVFFlat)
    assert (shadow.nlist, shadow.nprobe, shadow.metric_type, shadow.d) == (
        3, 2, faiss.METRIC_INNER_PRODUCT, 24,
    )  # fmt: skip
    shadow.set_direct_map_type(faiss.DirectMap.Hashtable)
    new = bridge.transform(old)
    np.testing.assert_allclose(
        np.stack([shadow.reconstruct(int(i)) for i in ids]), new, atol=1e-5
    )
    shadow.nprobe = 3  # every list: the exact search of the translated vectors
    queries = spaces(5, seed=8)[1]
    exact = np.argsort(-(queries @ new.T), axis=1, kind="stable")[:, :4]
    np.testing.assert_array_equal(shadow.search(queries, 4)[1], ids[exact])
    rows = {
        key: vector
        for batch in open_store(uri).read_batches(["id", "vector__shadow"])
        for key, vector in zip(batch["id"], batch["vector__shadow"], strict=True)
    }
    assert sorted(rows) == sorted(ids.tolist())  # read through the store
    np.testing.assert_array_equal(rows[int(ids[0])], shadow.reconstruct(int(ids[0])))
    cutover_store(uri)
    assert store_status(uri)["indices"] == {
        "IndexIVFFlat": ["vector", "vector__previous"]
    }
    rollback_store(uri)
    assert path.read_bytes() == before


def test_a_build_interrupted_after_the_last_row_is_done_by_the_next_call(
    tmp_path, bridge, monkeypatch
):
    old, ids = spaces(N, seed=5)[0], _ids()
    path = tmp_path / "docs.faiss"
    _write(path, INDEXES["IndexIDMap over IndexHNSWFlat"], old, ids)
    uri = f"faiss://{path}"
    with monkeypatch.context() as patch:
        patch.setattr(
            _faiss_store.FaissStore,
            "_rebuild",
            lambda self, shadow: (_ for _ in ()).throw(KeyboardInterrupt),
        )
        with pytest.raises(KeyboardInterrupt):
            apply_to_store(bridge, uri, batch_size=16)
    assert not os.path.exists(f"{path}.shadow")
    assert store_status(uri)["shadow_written"] == 1.0  # every row recorded
    cutover_store(uri)  # builds the index first
    served = faiss.read_index(str(path))
    want = _write(
        tmp_path / "want.faiss",
        INDEXES["IndexIDMap over IndexHNSWFlat"],
        bridge.transform(old),
        ids,
    )
    assert faiss.serialize_index(served).tobytes() == (
        faiss.serialize_index(want).tobytes()
    )
    assert not [name for name in os.listdir(tmp_path) if "partial" in name]


def test_stamps_follow_their_index(store, bridge):
    uri, path, _ = store
    planned = [int(i) for i in _ids()[:5]]
    new = spaces(5, seed=2)[1]
    apply_to_store(bridge, uri, batch_size=25, reembedded=(planned, new))
    stamp = json.loads(bridge_stamp(bridge))
    stamps = store_status(uri)["stamps"]["vector__shadow"]
    assert stamps == [
        {**stamp, "rows": N - 5},
        {**stamp, "reembedded": True, "rows": 5},
    ]
    shadow = faiss.read_index(f"{path}.shadow")
    for key, vector in zip(planned, new, strict=True):
        np.testing.assert_array_equal(shadow.reconstruct(key), vector)
    cutover_store(uri)
    status = store_status(uri)
    assert status["stamps"]["vector"] == stamps
    assert status["stamps"]["vector__previous"] == []


def test_check_reads_a_faiss_store(store):
    uri, _, old = store
    bridge = MigrationBridge(method="affine").fit(*spaces(600, d_new=32))
    result = check_vector_store(bridge, uri, batch_size=16)
    assert result["n_rows"] == N and result["source_fraction"] == 1.0
    apply_to_store(bridge, uri)
    cutover_store(uri)
    result = check_vector_store(bridge, uri, batch_size=16)
    assert result["target_fraction"] == 1.0 and result["minority_ids"] == []


def test_an_interrupted_cutover_is_found_and_finished(
    store, bridge, monkeypatch, capsys
):
    uri, path, _ = store
    apply_to_store(bridge, uri)
    before, shadow = path.read_bytes(), (path.parent / "docs.faiss.shadow").read_bytes()

    replace = os.replace

    def killed(a, b):  # the process dies as it moves an index onto FILE
        if os.fspath(b) == str(path):
            raise KeyboardInterrupt
        replace(a, b)

    with monkeypatch.context() as patch:
        patch.setattr(_faiss_store.os, "replace", killed)
        with pytest.raises(KeyboardInterrupt):
            cutover_store(uri)  # killed after the first of its steps
    assert path.read_bytes() == before  # the served name is never missing
    assert (path.parent / "docs.faiss.previous").read_bytes() == before
    for call in (store_status, rollback_store, lambda u: apply_to_store(bridge, u)):
        with pytest.raises(
            ValueError,
            match="is mid-cutover .a cutover was interrupted.; finish it: sklatent "
            "migrate cutover URI",
        ):
            call(uri)
    assert main(["migrate", "status", uri]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is mid-cutover" in err
    assert main(["migrate", "cutover", uri]) == 0  # finishes it
    assert path.read_bytes() == shadow
    assert store_status(uri)["state"] == "cut over"
    with monkeypatch.context() as patch:
        patch.setattr(_faiss_store.os, "replace", killed)
        with pytest.raises(KeyboardInterrupt):
            rollback_store(uri)
    with pytest.raises(ValueError, match="finish it: sklatent migrate rollback URI"):
        cutover_store(uri)
    rollback_store(uri)
    assert path.read_bytes() == before


def test_a_shadow_of_a_changed_index_starts_again(store, bridge):
    uri, path, old = store
    with pytest.raises(KeyboardInterrupt):
        apply_to_store(bridge, uri, batch_size=16, progress=stop_after(1))
    assert shadow_missing(uri) == N - 16
    _write(path, INDEXES["IndexIDMap2 over IndexFlatIP"], old[::-1].copy(), _ids())
    assert shadow_missing(uri) == N  # the rows written were of the old file
    assert apply_to_store(bridge, uri, batch_size=16) == N
    shadow = faiss.read_index(f"{path}.shadow")
    np.testing.assert_allclose(
        shadow.index.reconstruct_n(0, N), bridge.transform(old[::-1]), atol=1e-5
    )


def test_refuses_what_it_cannot_rebuild(tmp_path):
    X = spaces(300, seed=1)[0]
    pq = faiss.IndexPQ(32, 4, 4)
    pq.train(X)
    faiss.write_index(pq, str(tmp_path / "pq.faiss"))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatL2(32), 32, 4)
    ivf.train(X)
    faiss.write_index(faiss.IndexIDMap(ivf), str(tmp_path / "ivf.faiss"))
    (tmp_path / "text.faiss").write_text("not an index")
    _write(tmp_path / "cut.faiss", faiss.IndexFlatL2, X, None)
    with open(tmp_path / "cut.faiss", "r+b") as file:
        file.truncate(1000)
    supported = (
        r"rebuilds an IndexFlat \(L2, inner product\), IndexHNSWFlat, or an "
        "IndexIDMap/IndexIDMap2 over one"
    )
    for name, match in [
        ("pq.faiss", f"holds an IndexPQ: a migration {supported}"),
        ("ivf.faiss", "holds an IndexIDMap over IndexIVFFlat: .* export-faiss"),
        ("text.faiss", "text.faiss is not a FAISS index file"),
        ("cut.faiss", "cut.faiss is a truncated or damaged FAISS index file"),
        ("none.faiss", "no FAISS index file '.*none.faiss'"),
    ]:
        with pytest.raises(ValueError, match=match):
            open_store(f"faiss://{tmp_path / name}")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["status", "faiss://{d}/none.faiss"], "no FAISS index file"),
        (["status", "faiss://{d}/docs.faiss?id=key"], "unknown option 'id'"),
        (["cutover", "faiss://{d}/docs.faiss"], "has no shadow column"),
        (["rollback", "faiss://{d}/docs.faiss"], "is not cut over"),
        (["apply", "{narrow}", "--store", "faiss://{d}/docs.faiss"],
         "holds vectors of 32 values; the bridge takes 16"),
        (["check", "{square}", "--store", "faiss://{d}/docs.faiss"],
         "holds vectors of 32 values; the spaces checked have 16"),
    ],
)  # fmt: skip
def test_cli_errors_are_one_line_and_exit_2(store, tmp_path, capsys, argv, message):
    path = str(tmp_path / "narrow.skops")
    save_bridge(MigrationBridge(method="affine").fit(*spaces(200, d_old=16)), path)
    square = str(tmp_path / "square.skops")
    fitted = MigrationBridge(method="affine").fit(*spaces(200, d_old=16, d_new=16))
    save_bridge(fitted, square)
    argv = [
        "migrate",
        *(a.format(d=tmp_path, narrow=path, square=square) for a in argv),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_without_hard_links_the_old_file_is_copied(store, bridge, monkeypatch):
    uri, path, _ = store
    before = path.read_bytes()
    apply_to_store(bridge, uri)

    def no_links(a, b):
        raise OSError("Operation not permitted")

    monkeypatch.setattr(_faiss_store.os, "link", no_links)
    cutover_store(uri)
    assert (path.parent / "docs.faiss.previous").read_bytes() == before
    rollback_store(uri)
    assert path.read_bytes() == before
