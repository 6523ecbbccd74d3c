"""Which layer of network B corresponds to layer L of network A? (layer identification)

The experiment of Fumero et al. (2024) on functional maps, in small: networks
of one architecture are trained on the digits (1,257 training images) from
``--seeds`` different initialisations (``sklatent._zoo``'s training loop and
architectures: ``cnn``, and ``mlp_wide`` with ``--architecture``); each layer's
activations on all 1,797 images, flattened, are one space. For every ordered
pair of networks (A, B) and every layer L of A, the layer of B most similar to
A's layer L is identified by a similarity measure; it is right when it is L.
The table gives, per measure, the share of right identifications over all
pairs and layers, and the mean margin (score of the right layer minus the best
wrong one).

    python benchmarks/bench_layer_identification.py                # cnn, 5 seeds
    python benchmarks/bench_layer_identification.py --architecture mlp_wide
"""

import argparse
import itertools
import time

import numpy as np
import torch

# Activations kept: the output of each of these modules of the encoder.
KEPT = (torch.nn.ReLU, torch.nn.Tanh, torch.nn.GELU, torch.nn.MaxPool2d)


def layer_activations(architecture, seed):
    """``[(name, activations)]`` of a network trained on the digits with ``seed``."""
    from sklatent import _zoo
    from sklatent.datasets import _digits

    images, target, train, test = _digits(0.3, 0)
    inputs = torch.from_numpy(images.astype(np.float32))
    _, dim, build = _zoo._ENCODERS[architecture]
    encoder, _, accuracy = _zoo._train_classifier(
        build, dim, 10, inputs, target, train, test, seed=seed, epochs=_zoo._EPOCHS
    )
    layers, h = [], inputs
    with torch.no_grad():
        for index, module in enumerate(encoder):
            h = module(h)
            if isinstance(module, KEPT):
                name = f"{index}:{type(module).__name__}"
                layers.append((name, h.flatten(1).numpy().copy()))
    return layers, accuracy


def measures(networks):
    """name -> similarity of two layers ``(network, layer)`` (higher: more alike).

    The functional maps score from each layer's spectral basis (the measure's
    defaults: 50 eigenvectors of the 10-NN heat-kernel graph), computed once.
    """
    from sklatent import _backend
    from sklatent.metrics import _spectral, linear_cka

    def basis(Z):
        block = _backend.batch_rows(len(Z), None, row_bytes=12 * len(Z))
        return _spectral.space_basis(Z, 50, 10, "heat", "cpu", torch.float32, block)

    bases = [[basis(Z) for _, Z in layers] for layers in networks]

    def spaces(a, b):
        return networks[a[0]][a[1]][1], networks[b[0]][b[1]][1]

    return {
        "functional map (diagonal)": lambda a, b: _spectral.map_score(
            bases[a[0]][a[1]], bases[b[0]][b[1]], "diagonal"
        ),
        "functional map (orthogonal)": lambda a, b: _spectral.map_score(
            bases[a[0]][a[1]], bases[b[0]][b[1]], "orthogonal"
        ),
        "linear CKA": lambda a, b: linear_cka(*spaces(a, b)),
    }


def identify(networks, measure):
    """``(right, margins)`` over every ordered pair of networks and layer of A."""
    right, margins = [], []
    for a, b in itertools.permutations(range(len(networks)), 2):
        layers = range(len(networks[a]))
        scores = np.array([[measure((a, i), (b, j)) for j in layers] for i in layers])
        for layer, row in enumerate(scores):
            right.append(int(np.argmax(row)) == layer)
            margins.append(row[layer] - np.max(np.delete(row, layer)))
    return np.array(right), np.array(margins)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", default="cnn", choices=["cnn", "mlp_wide"])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    networks = []
    for seed in range(args.seeds):
        layers, accuracy = layer_activations(args.architecture, seed)
        networks.append(layers)
    names = ", ".join(f"{name} ({x.shape[1]})" for name, x in networks[0])
    print(
        f"{args.architecture}: {args.seeds} networks trained in "
        f"{time.perf_counter() - start:.0f} s (last test accuracy {accuracy:.3f}); "
        f"layers (width): {names}"
    )
    start = time.perf_counter()
    scorers = measures(networks)
    print(f"spectral bases of every layer in {time.perf_counter() - start:.0f} s")
    layer_names = [name for name, _ in networks[0]]
    print(
        f"{'measure':<30}{'right':>8}{'of':>6}{'mean margin':>13}  right per layer "
        + ", ".join(layer_names)
    )
    for label, measure in scorers.items():
        right, margins = identify(networks, measure)
        per_layer = right.reshape(-1, len(layer_names)).mean(axis=0)
        print(
            f"{label:<30}{right.mean():>8.3f}{right.size:>6}{margins.mean():>13.3f}  "
            + ", ".join(f"{share:.2f}" for share in per_layer)
        )


if __name__ == "__main__":
    main()
