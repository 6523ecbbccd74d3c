"""The digits model zoo: small torch encoders, decoders and relative autoencoders.

Architectures and the one training loop behind :mod:`sklatent.datasets`. Nothing
here reads or writes files: the loaders cache what these functions train
(:mod:`sklatent._cache`).
"""

import contextlib

import numpy as np
import torch
from torch import nn

# Bump whenever anything below changes the embeddings, so stale caches are not read.
_RECIPE_VERSION = "1"
_EPOCHS = 30
_BATCH_SIZE = 64
_LEARNING_RATE = 1e-3
_N_CLASSES = 10
# Decoders (recipe version of their own, on top of the encoders'): dropout on the
# latent input makes a decoder lean on no single coordinate, so that it tolerates
# the small errors of a bridge from another encoder.
_DECODER_VERSION = "1"
_DECODER_EPOCHS = 30
_DECODER_HIDDEN = 256
_DECODER_DROPOUT = 0.2
# Relative autoencoders: encoder -> centred cosine to anchors embedded in the same
# pass, layer-normalised -> decoder (dropout on the relative input).
_AUTOENCODER_EPOCHS = 40
_AUTOENCODER_LATENT = 32
_AUTOENCODER_HIDDEN = 128
_AUTOENCODER_DROPOUT = 0.5
# Build modules in float32 on the CPU whatever the caller's torch defaults are.
_FACTORY = {"dtype": torch.float32, "device": "cpu"}


def _mlp_small():
    return nn.Sequential(
        nn.Linear(64, 128, **_FACTORY),
        nn.ReLU(),
        nn.Linear(128, 32, **_FACTORY),
    )


def _mlp_wide():
    return nn.Sequential(
        nn.Linear(64, 256, **_FACTORY),
        nn.Tanh(),
        nn.Linear(256, 64, **_FACTORY),
        nn.Tanh(),
    )


def _cnn():
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 16, 3, padding=1, **_FACTORY),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1, **_FACTORY),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 48, **_FACTORY),
        nn.GELU(),
    )


# name -> (seed, embedding dimension, builder of the encoder module)
_ENCODERS = {
    "mlp_small": (0, 32, _mlp_small),
    "mlp_wide": (1, 64, _mlp_wide),
    "cnn": (2, 48, _cnn),
}


def _decoder(dim, hidden, dropout):
    """Latent vector (``dim``) -> 8x8 image (64 pixels in [0, 1])."""
    return nn.Sequential(
        nn.Dropout(dropout),
        nn.Linear(dim, hidden, **_FACTORY),
        nn.ReLU(),
        nn.Linear(hidden, 64, **_FACTORY),
        nn.Sigmoid(),
    )


def _build_decoder(name):
    """An untrained decoder of encoder ``name``'s embeddings."""
    _, dim, _ = _ENCODERS[name]
    return _decoder(dim, _DECODER_HIDDEN, _DECODER_DROPOUT)


class _RelativeAutoencoder(nn.Module):
    """Encoder, relative projection (anchors embedded in the same pass), decoder."""

    def __init__(self, anchor_images):
        from .nn import RelativeProjection

        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(64, 128, **_FACTORY),
            nn.ReLU(),
            nn.Linear(128, _AUTOENCODER_LATENT, **_FACTORY),
        )
        self.projection = RelativeProjection(center=True, normalize="layer")
        self.decoder = _decoder(
            len(anchor_images), _AUTOENCODER_HIDDEN, _AUTOENCODER_DROPOUT
        )
        self.register_buffer("anchor_images", anchor_images, persistent=False)

    def forward(self, x):
        return self.decoder(
            self.projection(self.encoder(x), self.encoder(self.anchor_images))
        )


def _seed(random_state, own_seed):
    """One 32-bit seed from the dataset's ``random_state`` and a model's own seed."""
    return int(np.random.SeedSequence([random_state, own_seed]).generate_state(1)[0])


@contextlib.contextmanager
def _one_torch_thread():
    """Run torch on one thread inside the block, then restore the caller's count.

    Results then do not depend on the number of cores, and these tiny networks gain
    nothing from more threads (docs/datasets.rst, "Training time").
    """
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n_threads)


def _train(build, inputs, targets, loss, *, seed, epochs):
    """Build a model and fit it with Adam on mini-batches; return it in eval mode.

    Initialisation, dropout and batch order are seeded by ``seed``; the caller's
    global torch random state is left as it was. Torch runs on one thread.
    """
    with _one_torch_thread(), torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        model = build()
        shuffle = torch.Generator(device="cpu").manual_seed(seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=_LEARNING_RATE)
        model.train()
        with torch.enable_grad():  # also when called under the caller's no_grad()
            for _ in range(epochs):
                order = torch.randperm(len(inputs), generator=shuffle, device="cpu")
                for batch in order.split(_BATCH_SIZE):
                    optimizer.zero_grad()
                    loss(model(inputs[batch]), targets[batch]).backward()
                    optimizer.step()
    return model.eval()


def _train_classifier(
    build, dim, n_classes, inputs, target, train, test, *, dropout=0.0, **options
):
    """Train ``build()`` with a linear head to ``n_classes`` on the rows ``train``.

    ``inputs`` is a float32 tensor, ``target`` a numpy array of class indices;
    ``dropout`` is the rate of a dropout layer between the encoder and the
    head (none when 0); ``options`` are the ``seed`` and ``epochs`` of
    :func:`_train`. Returns
    ``(encoder, embedding, accuracy)``: the encoder in eval mode, the float32
    numpy embedding of all ``inputs`` and the accuracy of the network's own
    head on the rows ``test``.
    """

    def classifier():
        encoder = build()  # first: the encoder's initialisation comes first
        head = nn.Linear(dim, n_classes, **_FACTORY)
        if dropout:
            head = nn.Sequential(nn.Dropout(dropout), head)
        return nn.Sequential(encoder, head)

    model = _train(
        classifier,
        inputs[train],
        torch.from_numpy(target[train].astype(np.int64)),
        nn.functional.cross_entropy,
        **options,
    )
    encoder, head = model
    with _one_torch_thread(), torch.no_grad():
        embedding = encoder(inputs)
        predicted = head(embedding[test]).argmax(dim=1).numpy()
    return encoder, embedding.numpy(), float(np.mean(predicted == target[test]))


def _train_encoder(name, images, target, train, test, random_state):
    """Train encoder ``name`` with a linear head on the rows ``train``.

    Returns ``(embedding, accuracy)``: the float32 embedding of all ``images``
    and the accuracy of the network's own head on the rows ``test``.
    """
    own_seed, dim, build = _ENCODERS[name]
    _, embedding, accuracy = _train_classifier(
        build,
        dim,
        _N_CLASSES,
        torch.from_numpy(images.astype(np.float32)),
        target,
        train,
        test,
        seed=_seed(random_state, own_seed),
        epochs=_EPOCHS,
    )
    return embedding, accuracy


def _train_decoder(name, embedding, images, train, random_state):
    """Train the decoder of encoder ``name`` from ``embedding`` to ``images``."""
    own_seed, _, _ = _ENCODERS[name]
    return _train(
        lambda: _build_decoder(name),
        torch.from_numpy(embedding[train]),
        torch.from_numpy(images[train].astype(np.float32)),
        nn.functional.mse_loss,
        seed=_seed(random_state, 100 + own_seed),
        epochs=_DECODER_EPOCHS,
    )


def _train_autoencoder(seed, images, anchor_images, train, random_state):
    """Train the relative autoencoder of ``seed`` on the rows ``train``."""
    pixels = torch.from_numpy(images.astype(np.float32))
    return _train(
        lambda: _RelativeAutoencoder(anchor_images),
        pixels[train],
        pixels[train],
        nn.functional.mse_loss,
        seed=_seed(random_state, 1000 + seed),
        epochs=_AUTOENCODER_EPOCHS,
    )


def _mse(decoded, images):
    """Mean squared error of a decoded tensor against numpy ``images``."""
    return float(((decoded.numpy() - images) ** 2).mean())
