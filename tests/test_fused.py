"""The fused L1 / L-infinity kernel: numpy references, fallbacks, threads, processes.

Exit and fork behaviour is tested in fresh Python processes (with their own,
empty inductor cache where a real compilation runs), so that a hang fails on a
timeout and an abort shows as the child's exit status.

The compiled kernels are built once per test session (one per distance and
dtype, a few seconds in all; inductor's disk cache makes later sessions
faster). Tests of the dispatch rules and fallbacks swap the module's state for
fresh dictionaries, so they never disturb the session's compiled kernels.
"""

import math
import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
import torch

from sklatent import RelativeTransformer, _kernels
from sklatent._kernels import fused as _fused

P = [1, math.inf]
SHAPES = [(1, 1, 1), (1, 5, 3), (7, 1, 9), (5, 3, 1), (33, 17, 13), (64, 40, 37)]
needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device"
)


def _reference(X, A, p):
    diff = np.abs(np.asarray(X, np.float64)[:, None, :] - np.asarray(A, np.float64))
    return diff.sum(-1) if p == 1 else diff.max(-1)


def _assert_matches(D, X, A, p):
    ref = _reference(X.cpu().numpy(), A.cpu().numpy(), p)
    assert D.shape == ref.shape and D.dtype == X.dtype and D.device == X.device
    rtol = 1e-12 if X.dtype == torch.float64 else 2e-6
    np.testing.assert_allclose(
        D.cpu().numpy(), ref, rtol=rtol, atol=rtol * max(1.0, np.abs(ref).max())
    )


@pytest.fixture
def fresh_state(monkeypatch):
    """Empty compile caches for this test only."""
    for name in ("_compiled", "_seen", "_failures", "_key_locks"):
        monkeypatch.setattr(_fused, name, {})
    monkeypatch.setattr(_fused, "_warned", set())
    monkeypatch.delenv(_fused.DISABLE_ENV, raising=False)


def _grouped_cdist(calls):
    """A stand-in for a compiled kernel: cdist on the grouped anchors."""

    def compiled(x, groups):
        calls.append("compiled")
        return torch.cdist(x, groups.flatten(0, 1), p=1)

    return compiled


@pytest.fixture
def always_compile(monkeypatch):
    """Send every problem, however small, to the compiled kernel."""
    monkeypatch.setattr(_fused, "MIN_COMPILED_WORK", 0)
    monkeypatch.setattr(_fused, "COMPILE_AFTER_WORK", 0)
    monkeypatch.delenv(_fused.DISABLE_ENV, raising=False)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("p", P)
@pytest.mark.parametrize("shape", SHAPES)
def test_compiled_matches_numpy(shape, p, dtype):
    n, d, k = shape
    generator = torch.Generator().manual_seed(n * 100 + d * 10 + k)
    X = torch.randn(n, d, generator=generator, dtype=dtype) * 3
    A = torch.randn(k, d, generator=generator, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", _fused.CompileFallbackWarning)
        _assert_matches(_fused.compiled_distance(X, A, p), X, A, p)


@pytest.mark.parametrize("p", P)
def test_compiled_handles_views_and_large_values(p):
    base = torch.randn(50, 30, dtype=torch.float64) * 1e6
    X = base[5:45:2, 3:]  # strided, offset view
    A = base[:9, 3:]
    _assert_matches(_fused.compiled_distance(X, A, p), X, A, p)
    assert _fused.compiled_distance(X[:0], A, p).shape == (0, 9)
    assert _fused.compiled_distance(X, A[:0], p).shape == (20, 0)


@pytest.mark.parametrize("p", P)
def test_eager_and_compiled_agree(p):
    X = torch.randn(300, 64)
    A = torch.randn(37, 64)
    torch.testing.assert_close(
        _fused.compiled_distance(X, A, p), _fused.eager_distance(X, A, p)
    )


@pytest.mark.parametrize("name", ["l1", "linf"])
def test_similarity_kernels_use_the_fused_distance(name, always_compile):
    X = torch.randn(40, 12, dtype=torch.float64)
    A = torch.randn(6, 12, dtype=torch.float64)
    p = 1 if name == "l1" else math.inf
    S = _kernels.SIMILARITIES[name](X, A)
    np.testing.assert_allclose(S.numpy(), -_reference(X, A, p), rtol=1e-12)


def test_small_problems_stay_eager(fresh_state, monkeypatch):
    def fail(*args):
        raise AssertionError("compiled for a tiny problem")

    monkeypatch.setattr(_fused, "compiled_distance", fail)
    X, A = torch.randn(10, 8), torch.randn(5, 8)
    _assert_matches(_fused.distance(X, A, 1), X, A, 1)


def test_large_problems_use_the_compiled_kernel_once_ready(fresh_state, monkeypatch):
    calls = []
    monkeypatch.setattr(_fused, "compiled_distance", lambda *a: calls.append(a))
    n = _fused.MIN_COMPILED_WORK // (8 * 16) + 1
    X, A = torch.empty(n, 16), torch.empty(8, 16)
    _fused._compiled[(1.0, torch.float32, X.device)] = _grouped_cdist([])
    _fused.distance(X, A, 1)
    assert len(calls) == 1


def test_compiles_only_after_enough_work(fresh_state, monkeypatch):
    calls = []
    monkeypatch.setattr(_fused, "MIN_COMPILED_WORK", 0)
    monkeypatch.setattr(_fused, "COMPILE_AFTER_WORK", 2 * 30 * 5 * 8)
    monkeypatch.setattr(_fused, "_build", lambda *key: _grouped_cdist(calls))
    X, A = torch.randn(30, 8), torch.randn(5, 8)
    for _ in range(2):  # 2 x 30 x 5 x 8 pair-dimensions served by cdist
        _assert_matches(_fused.distance(X, A, 1), X, A, 1)
        assert calls == [] and not _fused._compiled
    _assert_matches(_fused.distance(X, A, 1), X, A, 1)
    assert calls == ["compiled"]


def test_calls_are_served_by_cdist_while_another_thread_compiles(
    fresh_state, always_compile, monkeypatch
):
    release, started, builds, calls = threading.Event(), threading.Event(), [], []

    def slow_build(*key):
        started.set()
        assert release.wait(timeout=120)
        builds.append(key)
        return _grouped_cdist(calls)

    def eager(X, A, p):
        calls.append("eager")
        return torch.cdist(X, A, p=p)

    monkeypatch.setattr(_fused, "_build", slow_build)
    monkeypatch.setattr(_fused, "eager_distance", eager)
    X, A = torch.randn(30, 8), torch.randn(5, 8)
    key = (1.0, torch.float32, X.device)
    compiler = threading.Thread(target=_fused.distance, args=(X, A, 1))
    compiler.start()
    assert started.wait(timeout=60)

    # Concurrent calls meanwhile: each is served at once, no second compilation.
    def call():
        _assert_matches(_fused.distance(X, A, 1), X, A, 1)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert calls == ["eager"] * 4 and not builds
    release.set()
    compiler.join(timeout=60)
    assert not compiler.is_alive() and builds == [key]
    _assert_matches(_fused.distance(X, A, 1), X, A, 1)
    assert calls[-1] == "compiled" and builds == [key]


def test_warm_up_waits_for_a_compilation_in_another_thread(
    fresh_state, always_compile, monkeypatch
):
    release, started, builds = threading.Event(), threading.Event(), []

    def slow_build(*key):
        started.set()
        assert release.wait(timeout=120)
        builds.append(key)
        return _grouped_cdist([])

    monkeypatch.setattr(_fused, "_build", slow_build)
    X, A = torch.randn(30, 8), torch.randn(5, 8)
    compiler = threading.Thread(target=_fused.distance, args=(X, A, 1))
    compiler.start()
    assert started.wait(timeout=60)
    threading.Timer(0.05, release.set).start()
    assert _fused.warm_up(1, torch.float32, "cpu")
    assert builds == [(1.0, torch.float32, torch.device("cpu"))]
    compiler.join(timeout=60)
    assert len(builds) == 1


def test_no_thread_is_started(fresh_state, always_compile, monkeypatch):
    monkeypatch.setattr(_fused, "_build", lambda *key: _grouped_cdist([]))
    before = set(threading.enumerate())
    X, A = torch.randn(30, 8), torch.randn(5, 8)
    _assert_matches(_fused.distance(X, A, 1), X, A, 1)
    assert set(threading.enumerate()) <= before


def _run_child(code, tmp_path, timeout=600):
    """Run ``code`` in a fresh Python with its own, empty inductor cache."""
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "inductor"))
    env.pop(_fused.DISABLE_ENV, None)
    try:
        return subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the child process hung for {timeout} s: {exc.stderr!r:.2000}")


EXIT_CHILD = """
import threading, torch
from sklatent import RelativeTransformer
from sklatent._kernels import fused
fused.MIN_COMPILED_WORK = 0
fused.COMPILE_AFTER_WORK = 0
X = torch.randn(400, 48).numpy()
rel = RelativeTransformer(n_anchors=9, similarity="{similarity}", random_state=0)
rel.fit(X).transform(X)
assert fused._compiled, "the kernel was not compiled"
# Threads of inductor's own (a compile worker pool) may remain; none of ours.
ours = [
    t for t in threading.enumerate()
    if t.name.startswith("sklatent")
    or getattr(getattr(t, "_target", None), "__module__", "").startswith("sklatent")
]
assert not ours, ours
"""


@pytest.mark.slow
@pytest.mark.parametrize("similarity", ["l1", "linf"])
def test_process_exits_cleanly_right_after_a_compilation(tmp_path, similarity):
    # An empty inductor cache: the compilation is as long as it gets. The
    # process ends right after it, with no thread of ours left running.
    completed = _run_child(EXIT_CHILD.format(similarity=similarity), tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "terminate called" not in completed.stderr


FORK_CHILD = """
import os, sys, threading, torch
from sklatent._kernels import fused
fused.MIN_COMPILED_WORK = 0
fused.COMPILE_AFTER_WORK = 0
started, release = threading.Event(), threading.Event()
real_build = fused._build


def slow_build(*key):
    started.set()
    release.wait(timeout=300)
    return real_build(*key)


fused._build = slow_build
X, A = torch.randn(30, 8), torch.randn(5, 8)
compiler = threading.Thread(target=fused.distance, args=(X, A, 1))
compiler.start()
assert started.wait(timeout=60)
pid = os.fork()
if pid == 0:  # the child: the parent's compiling thread did not survive
    fused._build = real_build
    torch.set_num_threads(1)
    ok = fused.warm_up(1, torch.float32, "cpu")
    D = fused.distance(X, A, 1)
    good = ok and torch.allclose(D, torch.cdist(X, A, p=1), rtol=1e-5)
    os._exit(0 if good else 3)
_, status = os.waitpid(pid, 0)
release.set()
compiler.join(timeout=300)
sys.exit(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.slow
def test_fork_while_another_thread_compiles(tmp_path):
    completed = _run_child(FORK_CHILD, tmp_path, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]


@pytest.mark.parametrize("name", ["l1", "linf"])
def test_threads_calling_at_once_agree_with_eager(fresh_state, monkeypatch, name):
    # A real compilation (the session's inductor cache makes it short), with
    # the threshold crossed by the first calls: some threads compile or wait
    # for nothing, others are served eagerly meanwhile.
    monkeypatch.setattr(_fused, "MIN_COMPILED_WORK", 0)
    monkeypatch.setattr(_fused, "COMPILE_AFTER_WORK", 1)
    generator = torch.Generator().manual_seed(0)
    Xs = [torch.randn(200, 24, generator=generator) for _ in range(6)]
    A = torch.randn(11, 24, generator=generator)
    p = 1 if name == "l1" else math.inf
    results, errors = {}, []

    def call(i):
        try:
            for _ in range(3):
                results[i] = _kernels.SIMILARITIES[name](Xs[i], A)
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(Xs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
        assert not thread.is_alive()
    assert not errors
    assert _fused._compiled[(float(p), torch.float32, A.device)] is not None
    for i, X in enumerate(Xs):
        torch.testing.assert_close(results[i], -_fused.eager_distance(X, A, p))


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_environment_variable_disables_compiling(
    fresh_state, always_compile, monkeypatch, value
):
    monkeypatch.setenv(_fused.DISABLE_ENV, value)
    assert _fused.compile_disabled()
    monkeypatch.setattr(
        _fused, "_build", lambda *key: pytest.fail("compiled despite the variable")
    )
    X, A = torch.randn(10, 8), torch.randn(5, 8)
    _assert_matches(_kernels.l1_similarity(X, A).neg(), X, A, 1)


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_environment_variable_values_that_keep_compiling(monkeypatch, value):
    monkeypatch.setenv(_fused.DISABLE_ENV, value)
    assert not _fused.compile_disabled()


def test_compile_failure_falls_back_once_with_a_warning(
    fresh_state, always_compile, monkeypatch
):
    builds = []

    def broken_build(*key):
        builds.append(key)
        raise RuntimeError("no C++ compiler\nsecond line")

    monkeypatch.setattr(_fused, "_build", broken_build)
    X, A = torch.randn(10, 8), torch.randn(5, 8)
    with pytest.warns(
        _fused.CompileFallbackWarning,
        match=r"Could not compile the fused L1 kernel .*no C\+\+ compiler\); using "
        "torch.cdist",
    ):
        D = _fused.distance(X, A, 1)
    _assert_matches(D, X, A, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _assert_matches(_fused.distance(X, A, 1), X, A, 1)
        assert not _fused.warm_up(1, torch.float32, "cpu")
    assert len(builds) == 1


def test_failure_of_the_compiled_call_falls_back(
    fresh_state, always_compile, monkeypatch
):
    def broken(x, groups):
        raise RuntimeError("inductor exploded")

    monkeypatch.setattr(_fused, "_build", lambda *key: broken)
    X, A = torch.randn(10, 8), torch.randn(5, 8)
    assert _fused.warm_up(math.inf, torch.float32, "cpu")
    with pytest.warns(_fused.CompileFallbackWarning, match="L-infinity.*exploded"):
        _assert_matches(_fused.distance(X, A, math.inf), X, A, math.inf)
    assert _fused._compiled[(math.inf, torch.float32, X.device)] is None


def test_gradients_take_the_eager_path(always_compile):
    X = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    A = torch.randn(3, 4, dtype=torch.float64)
    _fused.distance(X, A, 1).sum().backward()
    expected = torch.sign(X.detach()[:, None, :] - A).sum(1)
    torch.testing.assert_close(X.grad, expected)


def test_inside_a_user_compiled_function(always_compile):
    def user(x, a):
        return _kernels.linf_similarity(x, a) * 2

    X, A = torch.randn(9, 5), torch.randn(4, 5)
    out = torch.compile(user, dynamic=False)(X, A)
    _assert_matches(out.neg() / 2, X, A, math.inf)


def test_invalid_p():
    with pytest.raises(ValueError, match="p must be 1 or inf; got 2.0"):
        _fused.distance(torch.zeros(2, 2), torch.zeros(2, 2), 2)


@pytest.mark.parametrize("similarity", ["cosine", "l1", "linf"])
def test_sklatent_never_changes_torch_threads(always_compile, similarity):
    X = np.random.RandomState(0).normal(size=(200, 24)).astype(np.float32)
    before = torch.get_num_threads()
    try:
        for threads in {1, before}:
            torch.set_num_threads(threads)
            RelativeTransformer(n_anchors=8, similarity=similarity, random_state=0).fit(
                X
            ).transform(X)
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)


def _distance_in_child(method, arrays):
    # A forked child must not start an OpenMP team inherited from its parent:
    # like any torch code, it limits itself to one thread (as torch's
    # DataLoader workers do); a spawned child needs nothing.
    if method == "fork":
        torch.set_num_threads(1)
    X, A = (torch.from_numpy(a) for a in arrays)
    return _fused.compiled_distance(X, A, 1).numpy()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_compiled_kernel_in_a_child_process(method):
    X = torch.randn(300, 20)
    A = torch.randn(7, 20)
    parent = _fused.compiled_distance(X, A, 1).numpy()
    context = multiprocessing.get_context(method)
    with context.Pool(1) as pool:
        child = pool.apply(_distance_in_child, (method, (X.numpy(), A.numpy())))
    np.testing.assert_allclose(child, parent, rtol=1e-6)


def test_a_child_forked_after_inductor_started_its_compile_threads_compiles():
    # torch's own after-fork hook forgets inductor's compile process pool but
    # not its thread pool, whose threads do not survive a fork: a child that
    # compiles (another dtype here) would wait on them forever.
    from torch._inductor import async_compile

    if async_compile.get_compile_threads() < 2:
        pytest.skip("inductor compiles in the calling thread here")
    # a thread started and idle, as after any compile in the parent
    async_compile.AsyncCompile.pool().submit(int).result()
    X = torch.randn(300, 20, dtype=torch.float64)
    A = torch.randn(7, 20, dtype=torch.float64)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child = pool.apply_async(
            _distance_in_child, ("fork", (X.numpy(), A.numpy()))
        ).get(timeout=300)
    np.testing.assert_allclose(child, torch.cdist(X, A, p=1).numpy(), rtol=1e-10)


def test_fitted_model_pickles_and_runs_eagerly_in_a_fresh_process(
    always_compile, tmp_path
):
    X = np.random.RandomState(0).normal(size=(60, 10))
    rel = RelativeTransformer(n_anchors=5, similarity="l1", random_state=0).fit(X)
    expected = rel.transform(X)
    path = tmp_path / "rel.pkl"
    path.write_bytes(pickle.dumps((rel, X, expected)))
    code = (
        "import pickle, sys, numpy as np; "
        f"rel, X, expected = pickle.loads(open({str(path)!r}, 'rb').read()); "
        "np.testing.assert_allclose(rel.transform(X), expected, rtol=1e-12); "
        "from sklatent._kernels import fused as _fused; "
        "assert _fused.compile_disabled(); "
        "assert not _fused._compiled"
    )
    env = dict(os.environ, **{_fused.DISABLE_ENV: "1"})
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("p", P)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(1, 1, 1), (33, 17, 13), (257, 768, 130)])
def test_cuda_compiled_matches_numpy(shape, p, dtype):
    n, d, k = shape
    X = torch.randn(n, d, dtype=dtype, device="cuda")
    A = torch.randn(k, d, dtype=dtype, device="cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("error", _fused.CompileFallbackWarning)
        _assert_matches(_fused.compiled_distance(X, A, p), X, A, p)


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("similarity", ["l1", "linf"])
def test_cuda_transform_matches_cpu(always_compile, similarity):
    # Compiled beforehand: the first calls would be served by torch.cdist.
    assert _fused.warm_up(1 if similarity == "l1" else math.inf, torch.float32, "cuda")
    X = np.random.RandomState(0).normal(size=(500, 48)).astype(np.float32)
    params = dict(n_anchors=21, similarity=similarity, random_state=0)
    cpu = RelativeTransformer(**params).fit(X).transform(X)
    gpu = RelativeTransformer(device="cuda", **params).fit(X)
    np.testing.assert_allclose(gpu.transform(X), cpu, rtol=1e-5, atol=1e-4)
    out = gpu.transform(torch.from_numpy(X).cuda())
    assert out.is_cuda
    np.testing.assert_allclose(out.cpu().numpy(), cpu, rtol=1e-5, atol=1e-4)
