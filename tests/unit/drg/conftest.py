"""Shared fixtures of the DRG tests: the packaged CHS-DRG 1.1 scheme, loaded once."""

from __future__ import annotations

import pytest

from medroam.domain.drg.scheme import Scheme
from medroam.refdata.drg import load_scheme


@pytest.fixture(scope="session")
def scheme() -> Scheme:
    return load_scheme()
