"""Who owns each asset and which domain it belongs to, as the Dagster UI lists them (owners, tags).

The dbt models' owners and `domain` tag come from their folder's `+meta` in dbt_project.yml; the
Python assets (raw tables, the sync, the publish) name their owners in their own definitions.

Kind: unit (fast; `make test-fast`).
"""

from __future__ import annotations

import dagster as dg
import pytest

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def graph():
    from orchestration.definitions import defs

    return defs.resolve_asset_graph()


def _owners_and_domain(graph, *path: str) -> tuple[list[str], str | None]:
    node = graph.get(dg.AssetKey(list(path)))
    return list(node.owners), node.tags.get("domain")


def test_each_layer_and_mart_folder_has_its_owner_and_domain(graph) -> None:
    assert _owners_and_domain(graph, "marts", "fct_revenue_forecast") == (["team:finance"], "finance")
    assert _owners_and_domain(graph, "marts", "fct_utilization") == (["team:resource-management"], "utilization")
    assert _owners_and_domain(graph, "marts", "fct_billing_sla") == (["team:services-operations"], "operations")
    assert _owners_and_domain(graph, "marts", "dim_project") == (["team:data-engineering"], "core")
    assert _owners_and_domain(graph, "staging", "stg_erp__currencies") == (["team:data-engineering"], None)
    assert _owners_and_domain(graph, "raw_erp", "currency") == (["team:data-engineering"], None)
    assert _owners_and_domain(graph, "reader", "marts") == (["team:data-engineering"], None)


def test_the_sync_and_its_model_belong_to_finance(graph) -> None:
    both = ["team:finance", "team:data-engineering"]
    assert _owners_and_domain(graph, "anaplan", "forecast_inputs") == (both, "finance")
    assert _owners_and_domain(graph, "sync", "sync_planning__forecast_inputs") == (both, "finance")


def test_every_asset_has_a_valid_owner(graph) -> None:
    """A team (`team:<name>`) or an e-mail address, as Dagster accepts them; no asset left without one."""
    owners = {key.to_user_string(): list(graph.get(key).owners) for key in graph.get_all_asset_keys()}
    assert [key for key, names in owners.items() if not names] == []
    assert {name for names in owners.values() for name in names} == {
        "team:data-engineering",
        "team:finance",
        "team:resource-management",
        "team:services-operations",
    }
