"""Shared fixtures for the model-zoo tests: a private model cache for the whole session, so
tests never touch (or depend on) the user's ~/.cache/vitc/models."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def private_model_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("vitc-cache")
    patcher = pytest.MonkeyPatch()
    patcher.setenv("VITC_CACHE", str(cache))
    yield cache
    patcher.undo()
