"""Benchmarks run with one torch thread, as training does by default (config.torch_threads)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread() -> None:
    torch.set_num_threads(1)


def devices() -> list[object]:
    """cpu, and cuda where present; a cuda case without a GPU is reported as skipped."""
    return [
        "cpu",
        pytest.param(
            "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
        ),
    ]
