"""The store's contract runs on moto (over HTTP) and on the simulation's in-memory DynamoDB: every test that
asks for `dynamodb` (directly, or through `table` and `make_service`) runs on both, except those that need
HTTP (the fault proxy), which run on moto only."""

from __future__ import annotations

import inspect

import pytest

HTTP_ONLY = {"proxy", "proxied", "moto_endpoint"}  # asked for by the test itself, not through `dynamodb`


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "dynamodb" not in metafunc.fixturenames:
        return
    # moto_endpoint counts only when the test asks for it itself (the `dynamodb` fixture always does)
    needs = set(inspect.signature(metafunc.function).parameters) | (set(metafunc.fixturenames) - {"moto_endpoint"})
    metafunc.parametrize("dynamodb", ["moto"] if needs & HTTP_ONLY else ["moto", "memory"], indirect=True)
