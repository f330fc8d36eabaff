"""The response cache's pure rules: keys, what a change bumps, freshness, lifetimes, overlay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain import response_cache as rules

T = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_the_key_does_not_depend_on_the_order_or_spacing_of_variables() -> None:
    one = rules.cache_key("sha256:a", {"first": 24, "sort": "NEWEST"}, None)
    other = rules.cache_key("sha256:a", {"sort": "NEWEST", "first": 24}, None)
    assert one == other
    assert one != rules.cache_key("sha256:a", {"first": 25, "sort": "NEWEST"}, None)
    assert one != rules.cache_key("sha256:b", {"first": 24, "sort": "NEWEST"}, None)
    assert one != rules.cache_key("sha256:a", {"first": 24, "sort": "NEWEST"}, "Other")


def test_a_product_write_bumps_it_its_variants_their_kinds_and_every_product_list() -> None:
    assert rules.product_written("p1", ["v1", "v2"]) == {
        "list:products",
        "product:p1",
        "product:*",
        "variant:v1",
        "variant:v2",
        "variant:*",
    }


def test_each_kind_of_change_bumps_its_own_tags() -> None:
    assert rules.price_written("v1") == {"list:products", "variant:v1", "variant:*"}
    assert rules.category_written("c1") == {
        "list:categories",
        "list:products",
        "category:c1",
        "category:*",
    }
    assert rules.collection_written("d1") == {
        "list:collections",
        "list:products",
        "collection:d1",
        "collection:*",
    }
    assert rules.warehouse_written("w1") == {
        "list:shops",
        "stock:*",
        "warehouse:w1",
        "warehouse:*",
    }


def test_an_entry_is_stale_once_one_of_its_tags_moved_past_its_fill() -> None:
    versions = {"product:p1": 5, "list:products": 3}
    assert rules.is_fresh({"product:p1", "list:products"}, 5, versions)
    assert not rules.is_fresh({"product:p1", "list:products"}, 4, versions)
    assert rules.is_fresh({"product:p2"}, 0, versions)  # never bumped


def test_an_entry_filled_below_the_floor_is_never_fresh() -> None:
    # versions at or below the floor may be forgotten: such an entry cannot be vouched for
    versions = {"product:p1": 9}
    assert not rules.is_fresh({"product:p2"}, 4, versions, floor=5)
    assert not rules.is_fresh(set(), 4, versions, floor=5)
    assert rules.is_fresh({"product:p2"}, 5, versions, floor=5)
    assert not rules.is_fresh({"product:p1"}, 5, versions, floor=5)


def test_the_next_release_is_strictly_after_now() -> None:
    instants = [T, T + timedelta(hours=1)]
    assert rules.next_release(instants, T - timedelta(seconds=1)) == T
    assert rules.next_release(instants, T) == T + timedelta(hours=1)
    assert rules.next_release(instants, T + timedelta(hours=2)) is None


def test_an_entry_never_outlives_the_next_release_nor_its_max_age() -> None:
    age, short = timedelta(seconds=60), timedelta(seconds=1)
    release = T + timedelta(seconds=10)
    assert (
        rules.expires_at(T, max_age=age, release=release, stock_list=False, stock_list_age=short)
        == release
    )
    assert (
        rules.expires_at(T, max_age=age, release=None, stock_list=False, stock_list_age=short)
        == T + age
    )
    assert (
        rules.expires_at(T, max_age=age, release=release, stock_list=True, stock_list_age=short)
        == T + short
    )


def test_a_list_filtered_by_stock_is_recognised_in_any_variable() -> None:
    assert rules.filters_by_stock({"filter": {"inStockOnly": True}})
    assert not rules.filters_by_stock({"filter": {"inStockOnly": False, "sizes": ["M"]}})
    assert not rules.filters_by_stock({"first": 24})


def test_a_figure_is_overlaid_only_when_newer_than_the_one_shown() -> None:
    assert rules.needs_overlay(None, 1)
    assert rules.needs_overlay(3, 4)
    assert not rules.needs_overlay(4, 4)
    assert not rules.needs_overlay(5, 4)


def test_quantities_follow_the_entrys_warehouse_order_or_ask_for_a_refill() -> None:
    assert rules.overlaid_quantities([7, 3], {3: 1, 7: 2}) == [2, 1]
    assert rules.overlaid_quantities([7, 3], {3: 1}) is None
    assert rules.overlaid_quantities([7], {3: 1}) is None
