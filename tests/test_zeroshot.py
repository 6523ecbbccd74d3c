"""ZeroShotClassifier: classes of one modality from captions of another (ASIF)."""

import pickle

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklatent.stitching import ZeroShotClassifier


def _modalities(n_pairs=300, n_classes=5, seed=0, noise=0.3):
    """Anchor pairs, class captions and labelled queries of two toy modalities.

    Items are points of a latent space of concepts; the "images" and the
    "captions" are two different nonlinear views of them, so the only bridge
    between the modalities is the pairing.
    """
    rng = np.random.RandomState(seed)
    to_x, to_y = rng.normal(size=(6, 20)), rng.normal(size=(6, 12))

    def images(z):
        return np.tanh(z @ to_x) + noise * rng.normal(size=(len(z), 20))

    def captions(z):
        return np.tanh(z @ to_y) + noise * rng.normal(size=(len(z), 12))

    prototypes = 1.5 * rng.normal(size=(n_classes, 6))
    concepts = prototypes[rng.randint(n_classes, size=n_pairs)]
    concepts = concepts + 0.7 * rng.normal(size=concepts.shape)
    labels = rng.randint(n_classes, size=200)
    queries = prototypes[labels] + 0.5 * rng.normal(size=(200, 6))
    return (
        images(concepts),
        captions(concepts),
        np.tanh(prototypes @ to_y),
        images(queries),
        labels,
    )


@pytest.fixture(scope="module")
def data():
    return _modalities()


def test_classifies_from_captions_it_never_saw_labels_of(data):
    X, Y, C, queries, labels = data
    clf = ZeroShotClassifier(top_k=30, random_state=0)
    clf.fit(X, Y, class_embeddings=C, classes=list("abcde"))
    predicted = clf.predict(queries)
    accuracy = np.mean(predicted == np.array(list("abcde"))[labels])
    assert accuracy > 0.8  # chance 0.2
    assert clf.score(queries, np.array(list("abcde"))[labels]) == pytest.approx(
        accuracy
    )
    scores = clf.decision_function(queries)
    assert scores.shape == (200, 5) and np.abs(scores).max() <= 1 + 1e-9
    assert clf.class_descriptions_.shape == (5, 300)
    # Shuffled pairs carry no bridge: chance.
    shuffled = np.random.RandomState(1).permutation(len(Y))
    clf.fit(X, Y[shuffled], class_embeddings=C)
    assert np.mean(clf.predict(queries) == labels) < 0.45


def test_descriptions_are_sparse_unit_vectors(data):
    X, Y, C, queries, _ = data
    clf = ZeroShotClassifier(n_anchors=100, top_k=7, random_state=0)
    clf.fit(X, Y, class_embeddings=C)
    assert clf.anchor_indices_.shape == (100,)
    np.testing.assert_array_equal(
        clf.relative_y_.anchor_indices_, clf.relative_x_.anchor_indices_
    )
    for vectors in (clf.class_descriptions_, clf.relative_x_.transform(queries)):
        assert ((vectors != 0).sum(axis=1) <= 7).all()
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, rtol=1e-6)
    # top_k larger than the anchors keeps them all.
    clf.set_params(n_anchors=5, top_k=50).fit(X, Y, class_embeddings=C)
    assert clf.relative_x_.top_k == 5


@pytest.mark.parametrize("anchors", ["kmeans", "farthest"])
def test_anchor_strategies_choose_varied_pairs(anchors, data):
    X, Y, C, queries, labels = data
    clf = ZeroShotClassifier(n_anchors=30, anchors=anchors, random_state=0)
    clf.fit(X, Y, class_embeddings=C)
    drawn = ZeroShotClassifier(n_anchors=30, random_state=0).fit(X, Y)
    assert len(set(clf.anchor_indices_)) == 30
    assert set(clf.anchor_indices_) != set(drawn.anchor_indices_)
    assert np.mean(clf.predict(queries) == labels) > 0.6


def test_without_class_embeddings_it_retrieves_pairs(data):
    X, Y, *_ = data
    clf = ZeroShotClassifier(top_k=30, random_state=0).fit(X[:200], Y[:200])
    np.testing.assert_array_equal(clf.classes_, np.arange(200))
    held_out = clf.score(X[200:], Y[200:])  # top-1 among the 100 held-out pairs
    assert 0.05 < held_out <= 1 and held_out > 5 * (1 / 100)


def test_grid_search_over_anchors_and_top_k_scores_held_out_pairs(data):
    X, Y, C, queries, labels = data
    search = GridSearchCV(
        ZeroShotClassifier(random_state=0),
        {"n_anchors": [20, 200], "top_k": [5, 50]},
        cv=KFold(3, shuffle=True, random_state=0),
    )
    search.fit(X, Y, class_embeddings=C)
    assert search.best_params_["n_anchors"] == 200
    assert search.best_estimator_.predict(queries).shape == (200,)
    pipeline = make_pipeline(StandardScaler(), ZeroShotClassifier(random_state=0))
    pipeline.fit(X, Y, zeroshotclassifier__class_embeddings=C)
    assert np.mean(pipeline.predict(queries) == labels) > 0.7


def test_float32_far_from_the_origin_matches_float64(data):
    X, Y, C, queries, _ = data
    far = [a + 1e3 for a in (X, Y, C, queries)]
    # Without top_k the scores are continuous in the inputs: equal up to what
    # float32 keeps of them (at 1e3 a spacing of 6e-5, on values of order 1,
    # then cubed). top_k may swap an entry at the k-th place, so there only
    # the predictions are compared.
    for top_k, check in [(None, "scores"), (30, "predictions")]:
        clf64, clf32, near = (
            ZeroShotClassifier(top_k=top_k, random_state=0).fit(
                x, y, class_embeddings=c
            )
            for x, y, c in [
                far[:3],
                (a.astype(np.float32) for a in far[:3]),
                (X, Y, C),
            ]
        )
        queries32 = far[3].astype(np.float32)
        if check == "scores":
            np.testing.assert_allclose(
                clf32.decision_function(queries32),
                clf64.decision_function(far[3]),
                atol=2e-3,
            )
            np.testing.assert_allclose(
                clf64.decision_function(far[3]),
                near.decision_function(queries),
                atol=1e-9,
            )
        else:
            agree = np.mean(clf32.predict(queries32) == clf64.predict(far[3]))
            assert agree >= 0.98


def test_pickles(data):
    X, Y, C, queries, _ = data
    clf = ZeroShotClassifier(random_state=0).fit(X, Y, class_embeddings=C)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict(queries), clf.predict(queries))


@pytest.mark.parametrize(
    "fit, match",
    [
        (lambda c, X, Y, C: c.fit(X, Y[:-1]), "X has 300 rows but Y has 299"),
        (
            lambda c, X, Y, C: c.fit(X, Y, class_embeddings=C[:, :3]),
            "class_embeddings has 3 features but Y has 12: embed the class",
        ),
        (
            lambda c, X, Y, C: c.fit(X, Y, class_embeddings=C, classes=[1, 2]),
            r"classes has shape \(2,\) but there are 5 class embeddings",
        ),
        (lambda c, X, Y, C: c.fit(X, None), "requires y to be passed"),
        (
            lambda c, X, Y, C: c.set_params(n_anchors=400).fit(X, Y),
            "n_anchors=400 must be <= n_samples=300",
        ),
    ],
)
def test_errors(fit, match, data):
    X, Y, C, *_ = data
    with pytest.raises(ValueError, match=match):
        fit(ZeroShotClassifier(), X, Y, C)
