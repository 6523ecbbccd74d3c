"""The Chroma store (``PersistentClient(path=...)``): the shadow collection of
``migrate apply --store`` (records copied whole, the distance space carried, no
embedding function), cutover and rollback by two renames, a store stopped
between them, and the command line's errors. What every store does the same
is in ``test_store_migration.py``."""

import json
import socket

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
    rollback_store,
    save_bridge,
    shadow_missing,
    store_status,
)

from ._migration_data import spaces

chromadb = pytest.importorskip("chromadb")
pytest.importorskip("skops.io")

N = 30


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Chroma must neither fetch a model nor send telemetry: no socket connects."""

    def refuse(*args, **kwargs):
        raise AssertionError("a Chroma store tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.fixture(scope="module")
def bridge():
    old, new = spaces(600)
    return MigrationBridge(method="affine", target_name="new-model").fit(old, new)


def _client(path):
    from chromadb.config import Settings

    return chromadb.PersistentClient(
        path=str(path), settings=Settings(anonymized_telemetry=False)
    )


@pytest.fixture
def store(tmp_path):
    """Collection ``docs`` (inner product, given as the older metadata key; the
    default embedding function, persisted) of N records, some without a
    document or metadata."""
    old = spaces(N, seed=5)[0]
    ids = [f"doc-{i}" for i in np.random.default_rng(0).permutation(N)]
    _client(tmp_path / "c").create_collection(
        "docs", metadata={"hnsw:space": "ip", "owner": "tests"}
    ).add(
        ids=ids,
        embeddings=old,
        documents=[f"text {i}" if k % 3 else None for k, i in enumerate(ids)],
        metadatas=[{"title": i} if k % 4 else None for k, i in enumerate(ids)],
    )
    return f"chroma://{tmp_path / 'c'}/docs", dict(zip(ids, old, strict=True))


def _records(uri, name):
    """``{id: (embedding, document, metadata)}`` of collection ``name``."""
    client = _client(parse_store_uri(uri).path)
    found = client.get_collection(name, embedding_function=None).get(
        include=["embeddings", "documents", "metadatas"]
    )
    return {
        key: (np.asarray(e, np.float32), d, m)
        for key, e, d, m in zip(
            found["ids"],
            found["embeddings"],
            found["documents"],
            found["metadatas"],
            strict=True,
        )
    }


def test_parse_chroma_uri():
    assert parse_store_uri("chroma:///srv/c/docs") == (
        "chroma", "/srv/c", "docs", None, "id",
    )  # fmt: skip
    for uri, match in [
        ("chroma://docs", "names no collection; expected chroma://DIR/COLLECTION$"),
        ("chroma://c/docs?vector=x", r"unknown option 'vector' \(it takes none"),
        ("chromadb://c/docs", "or chroma://DIR/COLLECTION or faiss"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_store_uri(uri)


def test_open_errors(store, tmp_path):
    uri, _ = store
    with pytest.raises(
        ValueError, match=r"no Chroma storage at .* \(no chroma.sqlite3"
    ):
        shadow_missing(f"chroma://{tmp_path / 'nowhere'}/docs")
    assert not (tmp_path / "nowhere").exists()  # nor one created
    with pytest.raises(ValueError, match="has no collection 'missing'"):
        shadow_missing(uri.replace("/docs", "/missing"))
    with pytest.raises(
        ValueError, match="'id' of chroma:.* holds record ids, not vectors"
    ):
        open_store(uri).width("id")


def test_apply_copies_each_record_into_a_shadow_of_the_same_space(store, bridge):
    uri, old = store
    before = _records(uri, "docs")
    assert apply_to_store(bridge, uri, batch_size=8) == N
    shadow = _records(uri, "docs__shadow")
    assert sorted(shadow) == sorted(old)
    ids = sorted(old)
    np.testing.assert_allclose(
        np.stack([shadow[i][0] for i in ids]),
        bridge.transform(np.stack([old[i] for i in ids])),
        atol=1e-5,
    )
    for i in ids:  # the document and metadata copied, the stamp added
        assert shadow[i][1] == before[i][1]
        assert shadow[i][2] == {
            **(before[i][2] or {}),
            "embedding__stamp": bridge_stamp(bridge),
        }
    client = _client(parse_store_uri(uri).path)
    collection = client.get_collection("docs__shadow", embedding_function=None)
    assert collection.configuration_json["hnsw"]["space"] == "ip"
    assert collection.metadata == {"hnsw:space": "ip", "owner": "tests"}
    # no embedding function: the served one (Chroma's default) is the old model's
    served = client.get_collection("docs", embedding_function=None)
    assert served.configuration_json["embedding_function"]["name"] == "default"
    assert collection.configuration_json["embedding_function"] == {"type": "legacy"}
    after = _records(uri, "docs")  # the served collection is untouched
    assert {k: (v[0].tobytes(), *v[1:]) for k, v in after.items()} == {
        k: (v[0].tobytes(), *v[1:]) for k, v in before.items()
    }
    status = store_status(uri)
    assert status["stamps"]["embedding__shadow"] == [
        {**json.loads(bridge_stamp(bridge)), "rows": N}
    ]
    assert status["indices"] == {"HNSW (ip)": ["embedding", "embedding__shadow"]}


def test_an_empty_shadow_is_taken_up_again(store, bridge):
    """A shadow collection created by an apply stopped before its first upsert."""
    uri, old = store
    open_store(uri).add_columns({"embedding__shadow": 24})
    reopened = open_store(uri)
    assert "embedding__shadow" not in reopened.columns()  # no record, no width
    assert store_status(uri)["state"] == "no shadow"
    assert apply_to_store(bridge, uri) == N
    assert sorted(_records(uri, "docs__shadow")) == sorted(old)


def _stopped_after_one_rename(monkeypatch, switch, uri):
    """Run ``switch`` (cutover_store or rollback_store) interrupted (Ctrl-C)
    after its first rename."""
    from chromadb.api.models.Collection import Collection

    modify, renames = Collection.modify, []

    def once(self, *args, **kwargs):
        renames.append(kwargs["name"])
        if len(renames) > 1:
            raise KeyboardInterrupt
        return modify(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Collection, "modify", once)
        with pytest.raises(KeyboardInterrupt):
            switch(uri)
    return renames[0]


def test_a_cutover_or_rollback_stopped_between_its_renames_is_finished(
    store, bridge, monkeypatch
):
    uri, old = store
    apply_to_store(bridge, uri)
    before = _records(uri, "docs")
    message = (
        r"is mid-cutover \(a cutover or rollback was interrupted\); finish it: "
        r"sklatent migrate cutover URI serves the new vectors, sklatent migrate "
        r"rollback URI the old ones$"
    )
    assert _stopped_after_one_rename(monkeypatch, cutover_store, uri) == (
        "docs__previous"
    )
    for command in (store_status, shadow_missing, lambda u: apply_to_store(bridge, u)):
        with pytest.raises(ValueError, match=message):
            command(uri)
    cutover_store(uri)  # finishes it
    assert store_status(uri)["state"] == "cut over"
    assert sorted(_records(uri, "docs")) == sorted(old)

    assert _stopped_after_one_rename(monkeypatch, rollback_store, uri) == (
        "docs__shadow"
    )
    with pytest.raises(ValueError, match=message):
        store_status(uri)
    rollback_store(uri)  # finishes it: the old vectors, bit for bit
    assert {k: v[0].tobytes() for k, v in _records(uri, "docs").items()} == {
        k: v[0].tobytes() for k, v in before.items()
    }
    assert store_status(uri)["state"] == "shadow"

    # stopped again, then undone the other way: a cutover finished by rollback
    _stopped_after_one_rename(monkeypatch, cutover_store, uri)
    rollback_store(uri)
    assert {k: v[0].tobytes() for k, v in _records(uri, "docs").items()} == {
        k: v[0].tobytes() for k, v in before.items()
    }
    assert sorted(_records(uri, "docs__shadow")) == sorted(old)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["status", "chroma://nowhere"], "names no collection"),
        (["status", "chroma://{c}/missing"], "has no collection 'missing'"),
        (["cutover", "chroma://{c}/docs?vector=x"], "unknown option 'vector'"),
        (["rollback", "chroma://{c}/docs"], "is not cut over"),
        (["cutover", "chroma://{c}/docs"], "has no shadow column 'embedding__shadow'"),
        (["apply", "{narrow}", "--store", "chroma://{c}/docs"], "holds vectors of 32"),
        (["status", "chroma://{c}/docs", "--stopped"], "is mid-cutover (a cutover or"),
    ],
)  # fmt: skip
def test_cli_errors_are_one_line_and_exit_2(store, tmp_path, capsys, argv, message):
    narrow = str(tmp_path / "narrow.skops")
    save_bridge(MigrationBridge(method="affine").fit(*spaces(200, d_old=16)), narrow)
    if "--stopped" in argv:
        argv = argv[:-1]
        _client(tmp_path / "c").create_collection("docs__shadow")
        _client(tmp_path / "c").get_collection("docs").modify(name="docs__previous")
    argv = ["migrate", *(a.format(c=tmp_path / "c", narrow=narrow) for a in argv)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_plan_reembed_and_check_a_chroma_store(tmp_path):
    """String ids through plan, apply --reembedded and check, against the same
    rows as arrays."""
    from sklatent.migration import (
        check_store,
        check_vector_store,
        fit_bridge,
        plan_reembedding,
    )

    old, new = spaces(700, seed=2, d_new=32)
    bridge, _ = fit_bridge(old[:600], new[:600], method="affine", store_size=100)
    ids = [f"doc-{i}" for i in range(100)]
    mixed = np.vstack([old[600:680], new[680:700]])  # 20 rows cut over already
    client = _client(tmp_path / "c")
    for name, vectors in (("docs", old[600:]), ("mixed", mixed)):
        client.create_collection(name, embedding_function=None).add(
            ids=ids, embeddings=vectors
        )
    uri = f"chroma://{tmp_path / 'c'}/docs"

    planned, _ = plan_reembedding(bridge, uri, 0.1, batch_size=32)
    assert planned == [ids[i] for i in plan_reembedding(bridge, old[600:], 0.1)[0]]
    rows = [ids.index(key) for key in planned]
    assert apply_to_store(
        bridge, uri, batch_size=32, reembedded=(planned, new[600:][rows])
    ) == len(ids)
    shadow = _records(uri, "docs__shadow")
    for key, row in zip(planned, rows, strict=True):
        np.testing.assert_array_equal(shadow[key][0], new[600 + row])
        assert json.loads(shadow[key][2]["embedding__stamp"])["reembedded"] is True
    with pytest.raises(ValueError, match="1 of the 1 re-embedded ids are not in"):
        apply_to_store(bridge, uri, reembedded=(["doc-999"], new[:1]))

    found = check_vector_store(bridge, uri.replace("/docs", "/mixed"), batch_size=32)
    whole = check_store(bridge, mixed)
    assert found["n_rows"] == 100 and found["minority"] == "target"
    assert found["minority_ids"] == [ids[i] for i in whole["target_rows"]]
    assert len(set(found["minority_ids"]) & set(ids[80:])) >= 18
