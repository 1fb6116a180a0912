"""Settings: what the environment may say, and the one line a person gets when it says it wrong."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from failover_operator.settings import Settings, StoreSettings, explain, reference

BASE = {"CLUSTER_NAME": "east", "OPERATOR_ID": "shop-fleet", "AWS_REGION": "eu-west-1"}


def settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for key in ("CLUSTER_NAME", "OPERATOR_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "WATCH_NAMESPACE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {**BASE, **env}.items():
        monkeypatch.setenv(key, value)
    return Settings()


def refused(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    with pytest.raises(ValidationError) as caught:
        settings(monkeypatch, **env)
    return explain(caught.value)


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("shop,,Bad_NS", "WATCH_NAMESPACE has an empty entry (a stray comma?)"),
        ("shop,Bad_NS", "WATCH_NAMESPACE 'Bad_NS' is not a namespace name"),
        (",shop", "WATCH_NAMESPACE has an empty entry"),
        ("a" * 64, "is not a namespace name"),
    ],
)
def test_a_watch_namespace_list_with_a_mistake_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str, said: str
) -> None:
    assert said in refused(monkeypatch, WATCH_NAMESPACE=value)


def test_a_watch_namespace_list_is_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings(monkeypatch, WATCH_NAMESPACE=" shop , payments ").namespaces == ["shop", "payments"]
    assert settings(monkeypatch, WATCH_NAMESPACE="  ").namespaces == []


def test_missing_variables_are_named_in_the_documented_order(monkeypatch: pytest.MonkeyPatch) -> None:
    line = refused(monkeypatch, CLUSTER_NAME="", OPERATOR_ID="")
    assert line.startswith("invalid settings: CLUSTER_NAME ") and "; OPERATOR_ID " in line
    assert [variable for variable, _, _ in reference()][:2] == ["CLUSTER_NAME", "OPERATOR_ID"]


def test_the_fleet_cli_needs_no_cluster_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLUSTER_NAME", raising=False)
    monkeypatch.setenv("OPERATOR_ID", "shop-fleet")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    store = StoreSettings()
    assert (store.operator_id, store.dynamodb_table, store.aws_region) == (
        "shop-fleet",
        "failover-operator",
        "eu-west-1",
    )
