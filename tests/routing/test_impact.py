"""The dependency graph: what a node reaches either way, and the cycles it refuses."""

from routing.impact import cycle_through, dependents, depends_on

WEB, API, DB, CACHE = ("service", 1), ("config_item", 2), ("config_item", 3), ("config_item", 4)
EDGES = [(WEB, API), (API, DB), (API, CACHE)]


def test_depends_on_is_transitive_with_distances() -> None:
    assert depends_on(EDGES, [WEB]) == {API: 1, DB: 2, CACHE: 2}
    assert depends_on(EDGES, [DB]) == {}


def test_dependents_walk_the_edges_backwards() -> None:
    assert dependents(EDGES, [DB]) == {API: 1, WEB: 2}
    assert dependents(EDGES, [DB, CACHE]) == {API: 1, WEB: 2}


def test_a_dependency_that_closes_a_loop_is_named_as_a_path() -> None:
    assert cycle_through(EDGES, DB, [WEB]) == [DB, WEB, API, DB]
    assert cycle_through(EDGES, WEB, [WEB]) == [WEB, WEB]
    assert cycle_through(EDGES, DB, [CACHE]) is None


def test_replacing_a_nodes_own_edges_is_not_a_cycle() -> None:
    # API's current edges are replaced, not added to: API → WEB would loop through WEB → API.
    assert cycle_through(EDGES, API, [DB]) is None
    assert cycle_through(EDGES, API, [WEB]) == [API, WEB, API]
