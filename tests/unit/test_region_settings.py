"""DYNAMODB_REGIONS and DYNAMODB_ENDPOINTS: the table's replica Regions in our order of preference, and their
endpoints; the one-Region form (AWS_REGION, DYNAMODB_ENDPOINT) as it was, and beside the other only where the two
say the same thing. Each mistake is one line naming the variable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from failover_operator.settings import Settings, StoreSettings, explain, reference
from failover_operator.store.regions import Region

VARIABLES = (
    "CLUSTER_NAME",
    "OPERATOR_ID",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "DYNAMODB_ENDPOINT",
    "DYNAMODB_REGIONS",
    "DYNAMODB_ENDPOINTS",
)


def settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for key in VARIABLES:
        monkeypatch.delenv(key, raising=False)
    for key, value in {"CLUSTER_NAME": "east", "OPERATOR_ID": "shop-fleet", **env}.items():
        monkeypatch.setenv(key, value)
    return Settings()


def refused(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    with pytest.raises(ValidationError) as caught:
        settings(monkeypatch, **env)
    return explain(caught.value)


def test_the_regions_in_order_of_preference(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch, DYNAMODB_REGIONS="us-east-2, us-east-1,us-west-2")
    assert s.regions == [Region("us-east-2"), Region("us-east-1"), Region("us-west-2")]
    assert s.region_names == "us-east-2, us-east-1, us-west-2"


def test_the_endpoints_go_with_the_regions_in_the_same_order(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(
        monkeypatch,
        DYNAMODB_REGIONS="us-east-1,us-east-2,us-west-2",
        DYNAMODB_ENDPOINTS="https://ddb-1.vpce.example,https://ddb-2.vpce.example,http://localhost:8003",
    )
    assert s.regions == [
        Region("us-east-1", "https://ddb-1.vpce.example"),
        Region("us-east-2", "https://ddb-2.vpce.example"),
        Region("us-west-2", "http://localhost:8003"),
    ]


def test_aws_region_is_not_the_tables_when_the_regions_are_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """EKS sets AWS_REGION to the cluster's own Region, which need not be one of the table's."""
    s = settings(monkeypatch, DYNAMODB_REGIONS="us-east-1,us-west-2", AWS_REGION="eu-west-1")
    assert [r.name for r in s.regions] == ["us-east-1", "us-west-2"]


def test_the_one_region_form_is_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings(monkeypatch, AWS_REGION="eu-west-1").regions == [Region("eu-west-1")]
    s = settings(monkeypatch, AWS_DEFAULT_REGION="eu-west-1", DYNAMODB_ENDPOINT="http://localhost:8000")
    assert s.regions == [Region("eu-west-1", "http://localhost:8000")] and s.region_names == "eu-west-1"
    assert "AWS_REGION (or AWS_DEFAULT_REGION) must be set" in refused(monkeypatch)


def test_both_forms_are_accepted_where_they_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    one = {"DYNAMODB_REGIONS": "us-east-1", "DYNAMODB_ENDPOINT": "http://localhost:8000"}
    assert settings(monkeypatch, **one).regions == [Region("us-east-1", "http://localhost:8000")]
    same = {**one, "DYNAMODB_ENDPOINTS": "http://localhost:8000"}
    assert settings(monkeypatch, **same).regions == [Region("us-east-1", "http://localhost:8000")]


@pytest.mark.parametrize(
    ("env", "said"),
    [
        (
            {"DYNAMODB_REGIONS": "us-east-1,us-west-2,us-east-1"},
            "invalid settings: DYNAMODB_REGIONS: a DynamoDB Region is listed twice: us-east-1",
        ),
        (
            {"DYNAMODB_REGIONS": "us-east-1 us-west-2"},
            "DYNAMODB_REGIONS: 'us-east-1 us-west-2' is not a Region name (lower-case letters, digits and '-', e.g. "
            "us-east-1); separate Regions with commas",
        ),
        (
            {"DYNAMODB_REGIONS": "us-east-1,us-east-2,us-west-2", "DYNAMODB_ENDPOINTS": "http://a,http://b"},
            "DYNAMODB_ENDPOINTS: 2 DynamoDB endpoint(s) for 3 Region(s): give one endpoint per Region, in the same "
            "order (us-east-1, us-east-2, us-west-2), or none",
        ),
        (
            {"DYNAMODB_REGIONS": "us-east-1", "DYNAMODB_ENDPOINTS": "localhost:8000"},
            "DYNAMODB_ENDPOINTS: 'localhost:8000' is not an endpoint URL",
        ),
        (
            {"AWS_REGION": "us-east-1", "DYNAMODB_ENDPOINTS": "http://a,http://b"},
            "DYNAMODB_ENDPOINTS is set without DYNAMODB_REGIONS",
        ),
        (
            {"DYNAMODB_REGIONS": "us-east-1,us-west-2", "DYNAMODB_ENDPOINT": "http://localhost:8000"},
            "DYNAMODB_ENDPOINT is one endpoint, for one Region, but DYNAMODB_REGIONS names 2 (us-east-1, us-west-2): "
            "give DYNAMODB_ENDPOINTS instead",
        ),
        (
            {"DYNAMODB_REGIONS": "us-east-1", "DYNAMODB_ENDPOINT": "http://a", "DYNAMODB_ENDPOINTS": "http://b"},
            "both DYNAMODB_ENDPOINT and DYNAMODB_ENDPOINTS are set, and they differ",
        ),
    ],
)
def test_inconsistent_or_wrong_regions_stop_start_up_with_one_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], said: str
) -> None:
    line = refused(monkeypatch, **env)
    assert said in line and "\n" not in line


def test_blank_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch, AWS_REGION="eu-west-1", DYNAMODB_REGIONS="  ", DYNAMODB_ENDPOINTS="")
    assert s.regions == [Region("eu-west-1")]


def test_the_fleet_cli_settings_take_the_same_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in VARIABLES:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("OPERATOR_ID", "shop-fleet")
    monkeypatch.setenv("DYNAMODB_REGIONS", "us-east-1,us-west-2")
    assert StoreSettings().region_names == "us-east-1, us-west-2"


def test_the_variables_are_documented_next_to_the_one_region_form() -> None:
    variables = [variable for variable, _, _ in reference()]
    at = variables.index("DYNAMODB_ENDPOINT")
    assert variables[at + 1 : at + 3] == ["DYNAMODB_REGIONS", "DYNAMODB_ENDPOINTS"]
    described = {variable: text for variable, _, text in reference()}
    assert "order of preference" in described["DYNAMODB_REGIONS"]
    assert "same order" in described["DYNAMODB_ENDPOINTS"]
