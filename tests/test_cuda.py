"""CUDA paths: same results as the CPU, and fitted models portable to CPU-only hosts.

Skipped without a CUDA device; run on a GPU machine with ``pytest -m cuda``.
"""

import math
import pickle

import numpy as np
import pytest
import torch

from sklatent import RelativeTransformer
from sklatent._kernels import fused as _fused

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

SIMILARITIES = ["cosine", "dot", "euclidean", "l1", "linf"]


@pytest.fixture
def X():
    return np.random.RandomState(0).normal(size=(500, 32))


@pytest.fixture
def compiled_calls(monkeypatch):
    """Send L1 / L-infinity on CUDA to the fused kernel, compiled beforehand.

    These problems are below the size from which the compiled kernel is
    used, and the first calls would be served by torch.cdist until enough
    work was seen: compile the CUDA kernels now, use them for every size,
    and record the devices of the calls that reach them.
    """
    monkeypatch.setattr(_fused, "MIN_COMPILED_WORK", 0)
    monkeypatch.setattr(_fused, "COMPILE_AFTER_WORK", 0)
    monkeypatch.delenv(_fused.DISABLE_ENV, raising=False)
    for p in (1, math.inf):
        for dtype in (torch.float32, torch.float64):
            assert _fused.warm_up(p, dtype, "cuda")
    calls, compiled = [], _fused.compiled_distance

    def counted(X, A, p):
        calls.append(X.device.type)
        return compiled(X, A, p)

    monkeypatch.setattr(_fused, "compiled_distance", counted)
    return calls


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_cuda_matches_cpu(X, similarity, compiled_calls):
    params = dict(
        n_anchors=20,
        similarity=similarity,
        center=True,
        normalize="standard",
        random_state=0,
    )
    cpu = RelativeTransformer(**params).fit(X)
    gpu = RelativeTransformer(device="cuda", **params).fit(X)
    np.testing.assert_array_equal(cpu.anchor_indices_, gpu.anchor_indices_)
    np.testing.assert_allclose(gpu.transform(X), cpu.transform(X), rtol=1e-7, atol=1e-7)
    assert ("cuda" in compiled_calls) == (similarity in ("l1", "linf"))


def test_cuda_tensor_in_cuda_tensor_out(X):
    rel = RelativeTransformer(n_anchors=20, device="auto", random_state=0).fit(X)
    X_gpu = torch.from_numpy(X.astype(np.float32)).cuda()
    out = rel.transform(X_gpu)
    assert out.is_cuda and out.dtype == torch.float32
    np.testing.assert_allclose(
        out.cpu().numpy(), rel.transform(X), rtol=1e-4, atol=1e-5
    )


def test_fitted_on_gpu_loads_and_transforms_on_cpu(X, compiled_calls):
    gpu = RelativeTransformer(
        n_anchors=20,
        similarity=["cosine", "l1"],
        aggregation="sum",
        normalize="standard",
        device="cuda",
        random_state=0,
    ).fit(torch.from_numpy(X).cuda())
    payload = pickle.dumps(gpu)
    assert b"torch" not in payload
    cpu = pickle.loads(payload).set_params(device="cpu")
    np.testing.assert_allclose(cpu.transform(X), gpu.transform(X), rtol=1e-7, atol=1e-7)
    assert "cuda" in compiled_calls
