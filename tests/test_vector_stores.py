"""Vector stores: the shadow column of ``migrate apply --store``, status, cutover,
rollback, end to end in a temporary LanceDB database."""

import json

import numpy as np
import pytest

from sklatent.__main__ import main
from sklatent.migration import (
    MigrationBridge,
    apply_to_store,
    bridge_stamp,
    cutover_store,
    open_store,
    parse_store_uri,
    save_bridge,
    shadow_missing,
    store_status,
)

from ._migration_data import lancedb_store, spaces

lancedb = pytest.importorskip("lancedb")
IvfFlat = pytest.importorskip("lancedb.index").IvfFlat
pa = pytest.importorskip("pyarrow")
pytest.importorskip("skops.io")

N = 300


@pytest.fixture(scope="module")
def bridge():
    old, new = spaces(600)
    return MigrationBridge(method="affine", target_name="new-model").fit(old, new)


@pytest.fixture
def store(tmp_path):
    """A table of N rows (ids out of order, a text column, old-space vectors)."""
    old = spaces(N, seed=5)[0]
    ids = 1000 + np.random.default_rng(0).permutation(N)
    uri = lancedb_store(tmp_path / "db", ids, old)
    return uri, dict(zip(ids, old, strict=True))


def _table(uri):
    parsed = parse_store_uri(uri)
    return lancedb.connect(parsed.path).open_table(parsed.table).to_arrow()


def _vectors(table, column):
    """``{id: vector}`` of a column, every id once."""
    ids = table.column("id").to_pylist()
    assert len(set(ids)) == len(ids) == N
    values = table.column(column).to_pylist()
    return {
        key: np.asarray(value, np.float32)
        for key, value in zip(ids, values, strict=True)
    }


def _check_shadow(uri, old, bridge, column="vector__shadow"):
    written = _vectors(_table(uri), column)
    ids = sorted(old)
    np.testing.assert_allclose(
        np.stack([written[i] for i in ids]),
        bridge.transform(np.stack([old[i] for i in ids])),
        atol=1e-5,
    )


def test_parse_store_uri():
    assert parse_store_uri("lancedb:///abs/db/docs?column=emb&id=key") == (
        "lancedb", "/abs/db", "docs", "emb", "key",
    )  # fmt: skip
    assert parse_store_uri("lancedb://db/docs").column == "vector"
    for uri, match in [
        ("db/docs", "not a store URI"),
        ("qdrantx://db/docs", "not a store URI"),
        ("lancedb://docs", "names no table"),
        ("lancedb://db/docs?colum=x", "unknown option 'colum'"),
        ("lancedb://db/docs?column", "malformed query"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_store_uri(uri)


def test_open_store_errors(store, tmp_path):
    uri, _ = store
    base = uri.split("?")[0]
    with pytest.raises(ValueError, match="no LanceDB database at"):
        open_store(f"lancedb://{tmp_path / 'nowhere'}/docs")
    with pytest.raises(ValueError, match="has no table 'missing'"):
        open_store(base.replace("/docs", "/missing"))
    with pytest.raises(ValueError, match=r"has no column 'emb' \(columns: id, text"):
        open_store(base + "?column=emb")
    with pytest.raises(ValueError, match="has no id column 'key'"):
        open_store(base + "?id=key")


def test_apply_writes_a_stamped_shadow_next_to_the_served_column(store, bridge):
    uri, old = store
    before = _table(uri)
    assert apply_to_store(bridge, uri, batch_size=64) == N
    after = _table(uri)
    assert after.column_names == [
        "id", "text", "vector", "vector__shadow", "vector__shadow__stamp",
    ]  # fmt: skip
    assert after.column("vector").equals(before.column("vector"))
    assert after.column("text").equals(before.column("text"))
    _check_shadow(uri, old, bridge)
    stamp = json.loads(bridge_stamp(bridge))
    assert stamp["model"] == "new-model" and stamp["bridge"] == bridge.fingerprint_
    assert set(after.column("vector__shadow__stamp").to_pylist()) == {
        bridge_stamp(bridge)
    }
    # idempotent: nothing left to write
    assert apply_to_store(bridge, uri) == 0
    assert shadow_missing(open_store(uri)) == 0


def test_apply_refuses_a_column_of_strings(store, bridge):
    uri, _ = store
    base = uri.split("?")[0]
    with pytest.raises(ValueError, match="column 'text' .* holds string, not vectors"):
        apply_to_store(bridge, base + "?column=text")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["status", "lancedb://nowhere"], "names no table"),
        (["status", "lancedb://{db}/missing"], "has no table 'missing'"),
        (["cutover", "lancedb://{db}/docs?column=emb"], "has no column 'emb'"),
        (["rollback", "lancedb://{db}/docs"], "is not cut over"),
        (["apply", "{bridge}", "--store", "{uri}", "--out", "x.npy"], "not both"),
        (["apply", "{bridge}", "--input", "x.npy"], "give --input and --out"),
        (["apply", "{bridge}", "--store", "lancedb://{db}/docs?column=text"],
         "not vectors"),
    ],
)  # fmt: skip
def test_cli_errors_are_one_line_and_exit_2(
    store, bridge, tmp_path, capsys, argv, message
):
    uri, _ = store
    path = str(tmp_path / "bridge.skops")
    save_bridge(bridge, path)
    fill = dict(db=tmp_path / "db", bridge=path, uri=uri)
    argv = ["migrate", *(a.format(**fill) for a in argv)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert err.startswith(f"sklatent migrate {argv[1]}: error: ")


def test_status_shows_that_an_index_stays_with_its_column(store, bridge):
    uri, _ = store
    parsed = parse_store_uri(uri)
    table = lancedb.connect(parsed.path).open_table(parsed.table)
    table.create_index("vector", config=IvfFlat(num_partitions=2))
    (name,) = store_status(uri)["indices"]
    assert store_status(uri)["indices"] == {name: ["vector"]}
    apply_to_store(bridge, uri)
    cutover_store(uri)
    assert store_status(uri)["indices"] == {name: ["vector__previous"]}


def test_apply_writes_a_fragment_a_commit_keeping_deleted_and_empty_rows(
    tmp_path, bridge
):
    """Three fragments, deleted rows and a row without a vector: one commit a
    fragment (no join), deleted rows stay deleted, an empty row stays empty."""
    old = spaces(150, seed=7)[0]
    db = lancedb.connect(tmp_path / "db")
    schema = pa.schema(
        [pa.field("id", pa.int64()), pa.field("vector", pa.list_(pa.float32(), 32))]
    )
    table = None
    for part in range(3):
        rows = range(50 * part, 50 * part + 50)
        vectors = pa.FixedSizeListArray.from_arrays(
            pa.array(old[50 * part : 50 * part + 50].ravel()),
            32,
            mask=pa.array([i == 60 for i in rows]),  # row 60 has no vector
        )
        data = pa.table({"id": list(rows), "vector": vectors}, schema=schema)
        if table is None:
            table = db.create_table("docs", data)
        else:
            table.add(data)
    table.delete("id IN (3, 70, 71, 149)")
    uri = f"lancedb://{tmp_path / 'db'}/docs"
    assert len(table.to_lance().get_fragments()) == 3
    version = table.version
    assert apply_to_store(bridge, uri, batch_size=16) == 150 - 4 - 1
    table.checkout_latest()
    assert table.version == version + 1 + 3  # the empty columns, then a fragment each
    result = table.to_arrow()
    ids = result.column("id").to_pylist()
    assert sorted(ids) == sorted(set(range(150)) - {3, 70, 71, 149})
    shadow = dict(zip(ids, result.column("vector__shadow").to_pylist(), strict=True))
    stamps = dict(
        zip(ids, result.column("vector__shadow__stamp").to_pylist(), strict=True)
    )
    assert shadow[60] is None and stamps[60] is None
    kept = [i for i in ids if i != 60]
    np.testing.assert_allclose(
        np.asarray([shadow[i] for i in kept], np.float32),
        bridge.transform(old[kept]),
        atol=1e-5,
    )
    assert {stamps[i] for i in kept} == {bridge_stamp(bridge)}
    staging = tmp_path / "db" / "docs.lance" / "_sklatent_staging" / "vector__shadow"
    assert list(staging.iterdir()) == []
    # rows added later are a new fragment, written by the next call
    table.add(
        pa.table(
            {
                "id": [200, 201],
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(old[:2].ravel()), 32
                ),
            },
            schema=schema,
        )
    )
    assert shadow_missing(uri) == 2
    assert apply_to_store(bridge, uri) == 2
    # a row emptied inside a written fragment is written by merge_insert
    table.update(where="id = 5", values_sql={"vector__shadow": "NULL"})
    assert shadow_missing(uri) == 1
    assert apply_to_store(bridge, uri) == 1
    assert shadow_missing(uri) == 0
    table.checkout_latest()
    row = table.search().where("id = 5").to_arrow()
    np.testing.assert_allclose(
        np.asarray(row.column("vector__shadow").to_pylist(), np.float32),
        bridge.transform(old[[5]]),
        atol=1e-5,
    )
