from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from cao.graph.dag import find_cycles, topological_order


def test_order_keeps_written_order_for_ties():
    order, stuck = topological_order(["c", "a", "b"], [("a", "b")])
    assert order == ["c", "a", "b"] and stuck == []


def test_one_cycle_per_knot_in_written_order():
    edges = [("a", "b"), ("b", "a"), ("b", "c"), ("c", "d"), ("d", "c"), ("e", "e")]
    assert find_cycles("abcde", edges) == [["a", "b"], ["c", "d"], ["e"]]


def test_deep_chain_needs_no_recursion():
    nodes = [f"n{i}" for i in range(50_000)]
    edges = list(zip(nodes, nodes[1:])) + [(nodes[-1], nodes[0])]
    [cycle] = find_cycles(nodes, edges)
    assert len(cycle) == len(nodes) and cycle[0] == "n0"


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=30))))
def test_agrees_with_networkx(case):
    n, pairs = case
    nodes = [f"v{i}" for i in range(n)]
    edges = list(dict.fromkeys((nodes[a], nodes[b]) for a, b in pairs))
    graph = nx.DiGraph(edges)
    graph.add_nodes_from(nodes)
    cycles = find_cycles(nodes, edges)
    assert bool(cycles) != nx.is_directed_acyclic_graph(graph)
    knots = [c for c in nx.strongly_connected_components(graph)
             if len(c) > 1 or graph.has_edge(next(iter(c)), next(iter(c)))]
    assert len(cycles) == len(knots)
    for cycle in cycles:
        assert all(graph.has_edge(u, v) for u, v in zip(cycle, cycle[1:] + cycle[:1]))
    order, stuck = topological_order(nodes, edges)
    if not cycles:
        position = {node: i for i, node in enumerate(order)}
        assert not stuck and all(position[u] < position[v] for u, v in edges)
