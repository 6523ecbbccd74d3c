"""Device resolution and input validation."""

import numpy as np
import pytest
import torch

from sklatent import _backend


def test_resolve_device():
    assert _backend.resolve_device("cpu") == torch.device("cpu")
    tensor = torch.zeros(2, 2)
    assert _backend.resolve_device("auto", tensor) == tensor.device
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert _backend.resolve_device("auto").type == expected
    with pytest.raises(ValueError, match="not a valid torch device"):
        _backend.resolve_device("tpu-please")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_explicit_cuda_without_cuda():
    with pytest.raises(ValueError, match="device='cuda:1' was requested"):
        _backend.resolve_device("cuda:1")


def test_row_batches_cover_rows_and_respect_working_memory():
    import sklearn

    batches = list(_backend.row_batches(10, 3, row_bytes=8))
    assert [(b.start, b.stop) for b in batches] == [(0, 3), (3, 6), (6, 9), (9, 10)]
    with sklearn.config_context(working_memory=1):  # 1 MiB
        sized = list(_backend.row_batches(10**6, None, row_bytes=2**16))
    assert sized[0].stop == 16


def test_to_tensor_copies_read_only_arrays():
    array = np.arange(6.0).reshape(2, 3)
    array.setflags(write=False)
    tensor = _backend.to_tensor(array, device=torch.device("cpu"), dtype=torch.float32)
    assert tensor.dtype == torch.float32
    np.testing.assert_array_equal(tensor.numpy(), array)


def test_output_view_shares_memory_only_where_kernels_can_write():
    cpu = torch.device("cpu")
    out = np.zeros((4, 3), dtype=np.float32)
    view = _backend.output_view(out, cpu)
    view[1, 2] = 5.0
    assert out[1, 2] == 5.0
    assert _backend.output_view(np.zeros((4, 3), order="F"), cpu) is None
    assert _backend.output_view(out, torch.device("meta")) is None
    tensor = torch.zeros(4, 3)
    assert _backend.output_view(tensor, cpu) is tensor
    assert _backend.output_view(tensor, torch.device("meta")) is None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(0, 3), (5, 1000), (3000, 7)])
def test_new_numpy_outputs_are_aligned_like_torch_tensors(shape, dtype):
    out = _backend.empty_like_input(np.zeros((1, 1)), shape, dtype)
    assert out.shape == shape and out.flags.c_contiguous and out.flags.writeable
    assert out.dtype == (np.float32 if dtype == torch.float32 else np.float64)
    assert out.size == 0 or out.ctypes.data % _backend.ALIGNMENT == 0
    out[...] = 1.0  # the whole array is usable
    assert out.sum() == out.size


def test_misaligned_output_rows_are_computed_apart_and_copied():
    cpu = torch.device("cpu")
    buffer = torch.empty(4 * 16 + 1).numpy()  # torch aligns to 64 bytes
    out = buffer[1:].reshape(4, 16)  # 4 bytes past an aligned boundary
    view = _backend.output_view(out, cpu)
    assert _backend.output_rows(view, slice(0, 2)) is None
    aligned = torch.empty(4, 16).numpy()
    view = _backend.output_view(aligned, cpu)
    dest = _backend.output_rows(view, slice(1, 3))  # rows of 64 bytes
    dest.fill_(2.0)
    assert (aligned[1:3] == 2.0).all()
    assert _backend.output_rows(None, slice(0, 1)) is None


def test_cpu_batches_are_multiples_of_16_rows():
    size = _backend.batch_rows(10**6, None, row_bytes=3 * 1000 * 4 + 13)
    assert size % 16 == 0 and size >= _backend.CPU_MIN_BATCH_ROWS
    assert _backend.batch_rows(10, None, row_bytes=8) == 10
    assert _backend.batch_rows(10**6, 1001, row_bytes=8) == 1001
