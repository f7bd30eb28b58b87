"""Shared pytest configuration: markers that skip with a stated reason when a resource is absent."""

from __future__ import annotations

import importlib.util

import pytest


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def _ros_available() -> bool:
    return importlib.util.find_spec("rclpy") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cuda = _cuda_available()
    ros = _ros_available()
    for item in items:
        if "gpu" in item.keywords and not cuda:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA device; none is visible to torch"))
        if "ros" in item.keywords and not ros:
            item.add_marker(
                pytest.mark.skip(reason="needs rclpy: run inside the environment made by scripts/setup.sh")
            )


@pytest.fixture
def one_thread():
    """One intra-op torch thread for the test: on a shared 2-core machine, two threads competing with the other
    processes ran the tracker tests many times slower (18x for the JcatNet one)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
