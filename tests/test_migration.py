"""sklatent.migration: the bridge, its measurement, apply and check."""

import os
import warnings

import numpy as np
import pytest

from sklatent.migration import (
    MigrationBridge,
    apply_bridge,
    bridge_retention,
    check_store,
    fit_bridge,
    gcv_alpha,
    retention_at_k,
)

from ._migration_data import spaces


def _brute_retention(queries, store, ref_queries, ref_store, k):
    # float64 loops, cosine, self excluded: the reference for retention_at_k
    out = []
    for i in range(len(queries)):
        sets = []
        for Q, S in ((queries, store), (ref_queries, ref_store)):
            q = Q[i] / np.linalg.norm(Q[i])
            s = [
                q @ S[j] / np.linalg.norm(S[j]) if j != i else -np.inf
                for j in range(len(S))
            ]
            sets.append(set(np.argsort(-np.array(s), kind="stable")[:k]))
        out.append(len(sets[0] & sets[1]) / k)
    return np.array(out)


def test_retention_matches_a_brute_force_float64_reference():
    old, new = spaces(400)
    bridge = MigrationBridge("affine").fit(old[:300], new[:300])
    got = bridge_retention(bridge, old[300:], new[300:])
    ref = _brute_retention(
        new[300:].astype(np.float64),
        bridge.transform(old[300:]).astype(np.float64),
        new[300:].astype(np.float64),
        new[300:].astype(np.float64),
        10,
    )
    np.testing.assert_allclose(got, ref)
    assert 0.0 < got.mean() < 1.0


def _tied(n, d, rng):
    # rows of +-0.5 in d=4 dimensions: unit norm and every cosine a sum of
    # +-0.25, exact in any order of summation, so equal scores tie exactly
    return rng.choice([-0.5, 0.5], size=(n, d))


@pytest.mark.parametrize("exclude_self", [False, True])
def test_retention_breaks_exact_ties_like_a_stable_sort_at_odd_sizes(exclude_self):
    rng = np.random.default_rng(3)
    n_store = 53  # 16 distinct rows among 53: most scores tie
    store, ref_store = _tied(n_store, 4, rng), _tied(n_store, 4, rng)
    n_queries = n_store if exclude_self else 37
    queries = store if exclude_self else _tied(n_queries, 4, rng)
    ref_queries = ref_store if exclude_self else _tied(n_queries, 4, rng)
    for k in (1, 7, 10):
        if exclude_self:
            ref = _brute_retention(queries, store, ref_queries, ref_store, k)
        else:  # the brute force above leaves query i's row out; a stable sort here
            ref = np.array(
                [
                    len(
                        set(np.argsort(-(store @ q), kind="stable")[:k])
                        & set(np.argsort(-(ref_store @ r), kind="stable")[:k])
                    )
                    / k
                    for q, r in zip(queries, ref_queries, strict=True)
                ]
            )
        for batch_size in (None, 1, 5, 36):
            got = retention_at_k(
                queries,
                store,
                ref_queries,
                ref_store,
                k,
                exclude_self=exclude_self,
                batch_size=batch_size,
            )
            np.testing.assert_array_equal(got, ref)


def test_retention_scores_bounded_blocks_never_the_whole_matrix(monkeypatch):
    import sklatent.metrics._retrieval as migration

    seen = []
    real = migration.scores

    def spy(block, candidates):
        seen.append(block.shape[0])
        return real(block, candidates)

    monkeypatch.setattr(migration, "scores", spy)
    rng = np.random.default_rng(0)
    Q, S = rng.normal(size=(101, 6)), rng.normal(size=(300, 6))
    R = rng.normal(size=(300, 6))
    got = retention_at_k(Q, S, Q, R, batch_size=16)
    assert max(seen) == 16 and sum(seen) == 2 * 101
    monkeypatch.setattr(migration, "scores", real)
    np.testing.assert_array_equal(got, retention_at_k(Q, S, Q, R))
    with pytest.raises(ValueError, match="k must be an integer between 1 and 299"):
        retention_at_k(S, S, S, R, k=300, exclude_self=True)
    with pytest.raises(ValueError, match="as many queries"):
        retention_at_k(Q, S, Q[:5], R)


def test_standardise_is_the_translators_standard_normalisation():
    from sklatent import LatentTranslator
    from sklatent._translation_solve import standardise as _standardise

    old, new = spaces(200)
    old = np.column_stack([old, np.full(len(old), 5.0) + 1e-15 * old[:, 0]])
    Z = _standardise(old)
    translator = LatentTranslator(method="affine", normalize="standard").fit(old, new)
    live = np.ones(old.shape[1], bool)
    live[[0, 1, 2, -1]] = False  # constant (up to rounding): the translator drops them
    np.testing.assert_allclose(
        Z[:, live],
        (old[:, live] - translator.x_mean_[live]) / translator.x_scale_[live],
    )
    assert np.all(Z[:, ~live] == 0.0)
    # a dead feature changes nothing in the penalty chosen
    assert gcv_alpha(old, new) == gcv_alpha(old[:, :-1], new)


def test_retention_of_identical_searches_is_one_and_of_unrelated_is_low():
    rng = np.random.default_rng(0)
    Q, S = rng.normal(size=(50, 8)), rng.normal(size=(500, 8))
    assert retention_at_k(Q, S, Q, S).min() == 1.0
    other = rng.normal(size=(500, 8))
    assert retention_at_k(Q, S, Q, other).mean() < 0.1


def test_gcv_alpha_matches_ridgecv():
    from sklearn.linear_model import RidgeCV

    old, new = spaces(300)
    alphas = np.logspace(-2, 4, 13)
    ours = gcv_alpha(old, new, alphas)

    def standard(Z):
        Z = Z.astype(np.float64) - Z.mean(0)
        sd = Z.std(0, ddof=1)
        sd[sd < 1e-9] = 1.0
        return Z / sd

    ref = RidgeCV(alphas=alphas, alpha_per_target=False).fit(
        standard(old), standard(new)
    )
    assert ours == pytest.approx(ref.alpha_)


@pytest.mark.parametrize("method", ["orthogonal", "rotation", "affine", "ridge"])
@pytest.mark.parametrize("direction", ["old-to-new", "new-to-old"])
def test_bridge_beats_shuffled_and_records_its_provenance(method, direction):
    old, new = spaces(1000)
    bridge = MigrationBridge(
        method, direction=direction, source_name="a", target_name="b"
    )
    bridge.fit(old[:800], new[:800])
    real = bridge_retention(bridge, old[800:], new[800:]).mean()
    shuffled = MigrationBridge(method, direction=direction).fit(
        old[:800], new[:800][np.random.default_rng(0).permutation(800)]
    )
    assert real > bridge_retention(shuffled, old[800:], new[800:]).mean() + 0.1
    assert (bridge.old_width_, bridge.new_width_, bridge.n_pairs_) == (32, 24, 800)
    assert bridge.n_features_in_ == (32 if direction == "old-to-new" else 24)
    assert bridge.source_name == "a" and bridge.sklatent_version_
    assert bridge.fingerprint_ != shuffled.fingerprint_
    weight, offset = bridge.affine_map()
    source = old[800:] if direction == "old-to-new" else new[800:]
    np.testing.assert_allclose(
        source.astype(np.float64) @ weight + offset, bridge.transform(source), atol=1e-4
    )


def test_auto_chooses_the_best_cross_validated_method():
    old, new = spaces(900)
    bridge = MigrationBridge(random_state=0).fit(old, new)
    assert set(bridge.cv_scores_) == {
        "orthogonal",
        "rotation",
        "affine",
        "ridge",
        "regional",
    }
    assert bridge.method_ == max(bridge.cv_scores_, key=bridge.cv_scores_.get)


@pytest.mark.slow
def test_estimate_brackets_the_retention_measured_on_a_larger_store():
    # fitted on 1,500 pairs (300 held out); the store is 6,500 other items
    old, new = spaces(8000)
    for method in ["orthogonal", "rotation", "affine", "ridge"]:
        bridge, report = fit_bridge(
            old[:1500], new[:1500], method=method, store_size=6500
        )
        measured = bridge_retention(bridge, old[1500:], new[1500:]).mean()
        estimate = report["heldout"]["retention_at_10"]
        assert measured - 0.10 <= estimate <= measured + 0.05, (
            method,
            estimate,
            measured,
        )
        assert report["heldout"]["retention_at_10_std"] > 0


def test_fit_bridge_report_and_shuffled_pairs_fail_the_gate():
    old, new = spaces(600)
    bridge, report = fit_bridge(
        old, new, method="affine", min_retention=0.01, store_size=10**4
    )
    for key in ["method", "n_pairs", "direction", "pairs_look_parallel", "passed"]:
        assert key in report
    for block in ("heldout", "shuffled"):
        assert {"retention_at_10", "top1", "mrr", "mean_cosine"} <= set(report[block])
    assert report["naive"] is None  # the widths differ
    assert report["pairs_look_parallel"] and report["passed"]
    # the estimate at a larger store is below the measurement on the held-out pairs
    h = report["heldout"]
    assert h["retention_at_10"] <= h["retention_at_10_measured"]

    shuffled = new[np.random.default_rng(1).permutation(len(new))]
    with pytest.warns(UserWarning, match="no better than shuffled"):
        _, bad = fit_bridge(old, shuffled, method="affine")
    assert not bad["pairs_look_parallel"] and not bad["passed"]


def test_naive_block_when_widths_match():
    old, new = spaces(400, d_new=32)
    _, report = fit_bridge(old, new, method="affine")
    assert report["naive"] is not None
    assert report["naive"]["retention_at_10"] < report["heldout"]["retention_at_10"]


def test_apply_bridge_streams_and_is_atomic(tmp_path):
    old, new = spaces(500)
    bridge = MigrationBridge("ridge").fit(old, new)
    np.save(tmp_path / "store.npy", old)
    out = tmp_path / "out.npy"
    assert apply_bridge(bridge, tmp_path / "store.npy", out, batch_size=64) == (500, 24)
    np.testing.assert_allclose(
        np.load(out), bridge.transform(old), rtol=1e-5, atol=1e-5
    )

    calls = []

    def interrupt(rows):
        calls.append(rows)
        if len(calls) == 2:
            raise KeyboardInterrupt

    target = tmp_path / "interrupted.npy"
    with pytest.raises(KeyboardInterrupt):
        apply_bridge(
            bridge, tmp_path / "store.npy", target, batch_size=64, progress=interrupt
        )
    assert not target.exists()
    assert sorted(os.listdir(tmp_path)) == ["out.npy", "store.npy"]
    with pytest.raises(ValueError, match="takes 32 columns"):
        apply_bridge(bridge, new, tmp_path / "x.npy")


def test_check_store_finds_a_half_migrated_store():
    old, new = spaces(800, d_new=32)
    store = np.vstack([old[600:700], new[700:]])
    result = check_store(None, store, pairs=(old[:600], new[:600]))
    assert result["source_fraction"] == pytest.approx(0.5, abs=0.05)
    assert result["source_fraction"] + result["target_fraction"] == pytest.approx(1.0)
    assert np.mean(np.array(result["source_rows"]) < 100) > 0.95


def test_no_warning_on_parallel_pairs():
    old, new = spaces(400)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_bridge(old, new, method="orthogonal")


def test_gcv_alpha_coarse_to_fine_matches_ridgecv_on_the_full_default_grid():
    # the coarse-to-fine search must land on the full grid's minimum, for
    # the default 33 penalties and for an unsorted grid
    from sklearn.linear_model import RidgeCV

    from sklatent._translation_solve import RIDGE_ALPHAS as _ALPHAS
    from sklatent._translation_solve import standardise as _standardise

    for seed, noise in ((0, 0.0), (1, 3.0)):
        old, new = spaces(200, seed=seed)
        new = new + noise * np.random.default_rng(seed).normal(size=new.shape)
        ref = RidgeCV(alphas=_ALPHAS, alpha_per_target=False).fit(
            _standardise(old), _standardise(new)
        )
        assert gcv_alpha(old, new) == pytest.approx(ref.alpha_)
        shuffled = np.random.default_rng(seed).permutation(_ALPHAS)
        assert gcv_alpha(old, new, shuffled) == pytest.approx(ref.alpha_)


@pytest.mark.parametrize("direction", ["old-to-new", "new-to-old"])
def test_scores_translate_once_and_match_the_direct_measures(direction):
    from sklatent.metrics import mrr, top_k_accuracy
    from sklatent.migration import estimate_retention
    from sklatent.migration._fitting import _scores

    old, new = spaces(500)
    bridge = MigrationBridge("affine", direction=direction).fit(old[:300], new[:300])
    X, Y = old[300:].astype(np.float64), new[300:].astype(np.float64)
    block = _scores(bridge, X, Y, 10_000)
    direct = float(bridge_retention(bridge, X, Y).mean())
    assert block["retention_at_10_measured"] == pytest.approx(direct)
    est = estimate_retention(bridge, X, Y, 10_000)
    assert block["retention_at_10"] == pytest.approx(est["estimate"])
    # the subsets' retentions are the bridge's on those rows
    rows = np.random.default_rng(0).choice(200, 50, replace=False)
    sub = bridge_retention(bridge, X[rows], Y[rows])
    np.testing.assert_allclose(bridge_retention(bridge, X, Y, rows=rows), sub)
    if direction == "old-to-new":
        A, B = bridge.transform(X), Y
    else:
        A, B = bridge.transform(Y), X
    assert block["top1"] == pytest.approx(top_k_accuracy(A, B, k=1))
    assert block["mrr"] == pytest.approx(mrr(A, B))


def test_fit_bridge_pools_set_the_store_size_and_leave_the_map_alone():
    old, new = spaces(400)
    pool_old, pool_new = spaces(3000, seed=9)
    kwargs = dict(method="orthogonal", random_state=0)
    with_pools, report = fit_bridge(
        old, new, pool_old=pool_old, pool_new=pool_new[:50], **kwargs
    )
    assert report["store_size"] == 3000 and report["pool_new_size"] == 50
    plain, plain_report = fit_bridge(old, new, store_size=3000, **kwargs)
    np.testing.assert_allclose(with_pools.transform(old), plain.transform(old))
    assert report["heldout"] == plain_report["heldout"]
    assert (
        fit_bridge(old, new, pool_old=pool_old, store_size=10, **kwargs)[1][
            "store_size"
        ]
        == 10
    )
    with pytest.raises(ValueError, match="pool_old must be .* 32 columns"):
        fit_bridge(old, new, pool_old=pool_new, **kwargs)
    with pytest.raises(ValueError, match="pool_new"):
        fit_bridge(old, new, pool_new=pool_new[:, :5], **kwargs)


@pytest.mark.parametrize("direction", ["old-to-new", "new-to-old"])
def test_queries_search_the_heldout_store_in_place_of_the_items(direction):
    from sklatent.migration import measure_bridge

    old, new = spaces(700)
    bridge = MigrationBridge("affine", direction=direction).fit(old[:400], new[:400])
    X, Y = old[400:].astype(np.float64), new[400:].astype(np.float64)
    # queries unlike the items: new-space vectors shrunk towards a far point
    Q = 0.3 * new[:150].astype(np.float64) + 5.0
    report = measure_bridge(bridge, X, Y, store_size=5000, queries=Q)
    if direction == "old-to-new":
        bridged = retention_at_k(Q, bridge.transform(X), Q, Y)
    else:
        bridged = retention_at_k(bridge.transform(Q), X, Q, Y)
    h = report["heldout"]
    assert h["retention_at_10_measured"] == pytest.approx(bridged.mean())
    assert h["retention_queries"] == 150 and h["measured_store_size"] == 300
    assert h["retention_at_10"] <= h["retention_at_10_measured"]
    np.testing.assert_allclose(bridge_retention(bridge, X, Y, queries=Q), bridged)
    plain = measure_bridge(bridge, X, Y, store_size=5000)
    assert plain["heldout"]["retention_queries"] == "held-out items"
    # the paired metrics stay on the pairs
    assert plain["heldout"]["top1"] == h["top1"]
    with pytest.raises(ValueError, match="queries must be .* 24 columns"):
        fit_bridge(old, new, queries=old[:10])


def test_too_few_heldout_pairs_to_extrapolate_estimate_zero_and_warn():
    old, new = spaces(150)  # 30 held out: one store size, no slope
    with pytest.warns(UserWarning, match="30 held-out items are too few"):
        _, report = fit_bridge(old, new, method="affine", store_size=10**5)
    assert report["heldout"]["retention_at_10"] == 0.0
    assert report["heldout"]["retention_at_10_measured"] > 0.3
    assert not report["passed"] or report["min_retention"] is None
    # a store no larger than the held-out items needs no extrapolation
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        _, small = fit_bridge(old, new, method="affine", store_size=30)
    assert small["heldout"]["retention_at_10"] > 0


def test_auto_chooses_by_the_given_queries():
    from sklearn.model_selection import KFold

    old, new = spaces(600)
    Q = 0.3 * spaces(200, seed=4)[1].astype(np.float64) + 5.0
    bridge = MigrationBridge(random_state=0, direction="new-to-old")
    bridge.fit(old, new, queries=Q)
    plain = MigrationBridge(random_state=0, direction="new-to-old").fit(old, new)
    assert bridge.cv_scores_ != plain.cv_scores_
    assert bridge.method_ == max(bridge.cv_scores_, key=bridge.cv_scores_.get)
    folds = list(KFold(3, shuffle=True, random_state=0).split(old))
    for method, score in bridge.cv_scores_.items():
        by_hand = [
            bridge_retention(
                MigrationBridge(method, direction="new-to-old", random_state=0).fit(
                    old[a], new[a]
                ),
                old[b],
                new[b],
                queries=Q,
            ).mean()
            for a, b in folds
        ]
        assert score == pytest.approx(np.mean(by_hand))


def test_rotation_is_the_orthogonal_map_unscaled():
    old, new = spaces(500)
    rotation = MigrationBridge("rotation").fit(old, new)
    scaled = MigrationBridge("orthogonal").fit(old, new)
    assert rotation.translator_.scaling_ == 1.0 != scaled.translator_.scaling_
    mean = new.astype(np.float64).mean(0)
    s = scaled.translator_.scaling_
    # the same rotation: the scaled map's offsets from the target mean are s times
    np.testing.assert_allclose(
        scaled.transform(old) - mean, s * (rotation.transform(old) - mean), atol=1e-4
    )


@pytest.mark.parametrize(
    "params, match",
    [
        ({"method": "magic"}, "'method' parameter of MigrationBridge"),
        ({"alpha": -1.0}, "'alpha' parameter of MigrationBridge"),
        ({"direction": "sideways"}, "'direction' parameter of MigrationBridge"),
        ({"cv": 1}, "'cv' parameter of MigrationBridge"),
    ],
)
def test_bridge_parameters_are_declared_constraints(params, match):
    old, new = spaces(60)
    with pytest.raises(ValueError, match=match):
        MigrationBridge(**params).fit(old, new)


def test_atomic_path_leaves_nothing_behind_on_failure(tmp_path):
    from sklatent._files import atomic_path, write_bytes_atomic

    target = tmp_path / "out.bin"
    write_bytes_atomic(target, b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        with open(tmp, "wb") as file:
            file.write(b"partial")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
