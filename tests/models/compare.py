"""Exact and tolerance comparisons whose failure message names the tensor, the element and both
values."""

import numpy as np


def _first_bad(mask: np.ndarray) -> tuple:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def assert_equal(name: str, actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != expected {expected.shape}"
    assert actual.dtype == expected.dtype, f"{name}: dtype {actual.dtype} != expected {expected.dtype}"
    differ = actual != expected
    if differ.any():
        index = _first_bad(differ)
        raise AssertionError(f"{name}: {int(differ.sum())} elements differ, first at {index}: {actual[index]!r} != expected {expected[index]!r}")


def assert_close(name: str, actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> None:
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != expected {expected.shape}"
    bad = ~np.isclose(actual, expected, rtol=rtol, atol=atol)
    if bad.any():
        index = _first_bad(bad)
        raise AssertionError(f"{name}: {int(bad.sum())} elements off, first at {index}: {actual[index]!r} vs expected {expected[index]!r}")
