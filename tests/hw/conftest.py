"""The shipped catalogs, loaded once per module for the estimator's tests."""

from __future__ import annotations

import pytest

from llmbox.hw.chips import Catalog, load_catalog
from llmbox.hw.models import ModelCatalog, load_models


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def models() -> ModelCatalog:
    return load_models()
