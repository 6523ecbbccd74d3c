"""RelativeTransformer.transform(X, out=...): results written into a given array."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from sklatent import RelativeTransformer


@pytest.fixture
def X():
    return np.random.RandomState(0).normal(size=(103, 12))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "params",
    [
        {"similarity": "cosine"},
        {"similarity": "l1", "normalize": "standard"},
        {"similarity": ["cosine", "linf"], "aggregation": "mean", "top_k": 3},
    ],
)
def test_out_is_filled_and_returned(X, dtype, params):
    X = X.astype(dtype)
    rel = RelativeTransformer(n_anchors=9, batch_size=10, random_state=0, **params)
    expected = rel.fit(X).transform(X)
    out = np.full(expected.shape, np.nan, dtype=dtype)
    assert rel.transform(X, out=out) is out
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("similarity", ["cosine", "euclidean", ["dot", "l1"]])
def test_out_in_fortran_order_is_filled_by_copying(X, similarity):
    # A C-contiguous out is written in place by the kernels; any other layout
    # takes the copying path, which must give the same numbers.
    rel = RelativeTransformer(
        n_anchors=9, similarity=similarity, batch_size=10, random_state=0
    ).fit(X)
    expected = rel.transform(X)
    out = np.full(expected.shape, np.nan, order="F")
    assert rel.transform(X, out=out) is out
    np.testing.assert_array_equal(out, expected)


def test_out_memmap_in_and_out(X, tmp_path):
    source = np.memmap(tmp_path / "X.f32", dtype=np.float32, mode="w+", shape=X.shape)
    source[:] = X
    source.flush()
    X_map = np.memmap(tmp_path / "X.f32", dtype=np.float32, mode="r", shape=X.shape)
    rel = RelativeTransformer(n_anchors=7, batch_size=16, random_state=0).fit(X_map)
    out = np.lib.format.open_memmap(
        tmp_path / "R.npy", mode="w+", dtype=np.float32, shape=(len(X), 7)
    )
    assert rel.transform(X_map, out=out) is out
    out.flush()
    del out
    np.testing.assert_array_equal(
        np.load(tmp_path / "R.npy", mmap_mode="r"), rel.transform(X_map)
    )


_CHILD = """
import resource, sys
import numpy as np
from sklatent import LatentTranslator, RelativeTransformer
n, d, k = 100_000, 32, 256
X = np.lib.format.open_memmap("X.npy", mode="w+", dtype=np.float64, shape=(n, d))
X[:] = np.random.RandomState(0).normal(size=(n, d))
if sys.argv[1] == "relative":
    model = RelativeTransformer(n_anchors=k, batch_size=500, random_state=0)
    model.fit(X[:1000])
else:
    W = np.random.RandomState(1).normal(size=(d, k))
    model = LatentTranslator(batch_size=500).fit(X[:1000], X[:1000] @ W)
out = np.lib.format.open_memmap("R.npy", mode="w+", dtype=np.float64, shape=(n, k))
model.transform(X[:2000], out=out[:2000])  # threads and allocator warmed up
status = open("/proc/self/status").read().splitlines()
data = next(int(line.split()[1]) for line in status if line.startswith("VmData"))
# RLIMIT_DATA caps private memory (heap and anonymous maps: every numpy or
# torch buffer), not the file-backed memmaps: 64 MiB more, against an output
# of 205 MB.
limit = data * 1024 + 64 * 2**20
resource.setrlimit(resource.RLIMIT_DATA, (limit, resource.RLIM_INFINITY))
try:
    model.transform(X, out=out if sys.argv[2] == "out" else None)
except (MemoryError, RuntimeError) as exc:
    print("out of memory:", type(exc).__name__)
else:
    print("within the limit")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux")
@pytest.mark.parametrize("estimator", ["relative", "translator"])
def test_out_never_allocates_an_output_sized_array(tmp_path, estimator):
    # Measured in a child process under an address-space limit on private
    # memory: tracemalloc does not see torch's allocations.
    def run(mode):
        result = subprocess.run(
            [sys.executable, "-c", _CHILD, estimator, mode],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
        )
        return result.stdout.strip()

    assert run("out") == "within the limit"
    assert run("new").startswith("out of memory")  # the limit does bite


def test_out_tensor_for_tensor_input(X):
    X_t = torch.from_numpy(X.astype(np.float32))
    rel = RelativeTransformer(n_anchors=5, batch_size=9, random_state=0).fit(X)
    out = torch.empty(len(X), 5)
    assert rel.transform(X_t, out=out) is out
    torch.testing.assert_close(out, rel.transform(X_t))


def test_out_with_set_output_pandas(X):
    pytest.importorskip("pandas")
    rel = RelativeTransformer(n_anchors=4, random_state=0).fit(X)
    out = np.empty((len(X), 4))
    frame = rel.set_output(transform="pandas").transform(X, out=out)
    np.testing.assert_array_equal(frame.to_numpy(), out)
    assert list(frame.columns) == list(rel.get_feature_names_out())


@pytest.mark.parametrize(
    "make_out, match",
    [
        (
            lambda n: np.empty((n, 5), np.float32),
            r"out has shape \(103, 5\) and dtype float32; the output needs shape "
            r"\(103, 5\) and dtype float64",
        ),
        (
            lambda n: np.empty((n, 6)),
            r"out has shape \(103, 6\) and dtype float64; the output needs shape "
            r"\(103, 5\)",
        ),
        (lambda n: np.empty(n * 5), r"out has shape \(515,\)"),
        (lambda n: torch.empty(n, 5, dtype=torch.float64), "out must be a ndarray"),
        (lambda n: [[0.0] * 5] * n, "out must be a ndarray for this X; got list"),
    ],
)
def test_out_errors(X, make_out, match):
    rel = RelativeTransformer(n_anchors=5, random_state=0).fit(X)
    with pytest.raises(ValueError, match=match):
        rel.transform(X, out=make_out(len(X)))


def test_out_tensor_errors(X):
    X_t = torch.from_numpy(X)
    rel = RelativeTransformer(n_anchors=5, random_state=0).fit(X)
    with pytest.raises(ValueError, match="must be a Tensor for this X; got ndarray"):
        rel.transform(X_t, out=np.empty((len(X), 5)))
    with pytest.raises(ValueError, match="dtype torch.float32; the output needs"):
        rel.transform(X_t, out=torch.empty(len(X), 5))


def test_out_read_only_memmap(X, tmp_path):
    np.save(tmp_path / "R.npy", np.zeros((len(X), 5)))
    read_only = np.load(tmp_path / "R.npy", mmap_mode="r")
    rel = RelativeTransformer(n_anchors=5, random_state=0).fit(X)
    with pytest.raises(ValueError, match="out is read-only; open a memmap with"):
        rel.transform(X, out=read_only)


def test_out_sharing_memory_with_x(X):
    rel = RelativeTransformer(n_anchors=12, random_state=0).fit(X)
    with pytest.raises(ValueError, match="out shares memory with X"):
        rel.transform(X, out=X)
    X_t = torch.from_numpy(X.copy())
    with pytest.raises(ValueError, match="out shares memory with X"):
        rel.transform(X_t, out=X_t)
    # Overlapping views of one buffer, made separately: different storages.
    buffer = np.vstack([X[:1], X[:20]])
    with pytest.raises(ValueError, match="out shares memory with X"):
        rel.transform(torch.from_numpy(buffer[1:]), out=torch.from_numpy(buffer[:-1]))
    adjacent = torch.from_numpy(buffer[10:20])  # starts where X ends: no overlap
    assert rel.transform(torch.from_numpy(buffer[:10]), out=adjacent) is adjacent


def test_out_tensor_that_requires_grad(X):
    rel = RelativeTransformer(n_anchors=6, batch_size=7, random_state=0).fit(X)
    out = torch.zeros(len(X), 6, dtype=torch.float64, requires_grad=True).clone()
    assert rel.transform(torch.from_numpy(X), out=out) is out
    np.testing.assert_allclose(out.detach().numpy(), rel.transform(X))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_out_on_the_wrong_device(X):
    X_t = torch.from_numpy(X).cuda()
    rel = RelativeTransformer(n_anchors=5, device="auto", random_state=0).fit(X)
    with pytest.raises(ValueError, match="out is on cpu but the output belongs on"):
        rel.transform(X_t, out=torch.empty(len(X), 5, dtype=torch.float64))
    out = torch.empty(len(X), 5, dtype=torch.float64, device="cuda")
    assert rel.transform(X_t, out=out) is out
    np.testing.assert_allclose(out.cpu().numpy(), rel.transform(X), rtol=1e-12)
