"""Order and cycles of a graph given as plain edges, without importing networkx
(whose import alone costs more than validating a 1,000-node workflow)."""

from __future__ import annotations

import heapq
from typing import Iterable


def topological_order(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(order, leftover): Kahn's algorithm with ties broken by the order of `nodes`.
    `leftover` holds the nodes that sit on or behind a cycle (empty for a DAG)."""
    index = {node: i for i, node in enumerate(nodes)}
    succ: dict[str, list[str]] = {node: [] for node in index}
    indeg = dict.fromkeys(index, 0)
    for u, v in edges:
        succ[u].append(v)
        indeg[v] += 1
    ready = [index[n] for n, d in indeg.items() if d == 0]
    heapq.heapify(ready)
    names = list(index)
    order: list[str] = []
    while ready:
        node = names[heapq.heappop(ready)]
        order.append(node)
        for nxt in succ[node]:
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                heapq.heappush(ready, index[nxt])
    done = set(order)
    return order, [n for n in names if n not in done]


def _stuck_nodes(nodes: list[str], edges: list[tuple[str, str]]) -> set[str]:
    """Nodes Kahn's algorithm cannot remove: on a cycle or behind one. Cheap pre-check so
    acyclic graphs (the usual case) skip the component search."""
    succ: dict[str, list[str]] = {node: [] for node in nodes}
    indeg = dict.fromkeys(nodes, 0)
    for u, v in edges:
        succ[u].append(v)
        indeg[v] += 1
    ready = [n for n, d in indeg.items() if d == 0]
    removed = 0
    while ready:
        node = ready.pop()
        removed += 1
        for nxt in succ[node]:
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                ready.append(nxt)
    if removed == len(indeg):
        return set()
    return {n for n, d in indeg.items() if d > 0}


def strongly_connected(nodes: list[str], succ: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iterative (deep chains must not hit the
    recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work[-1]
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            children = succ[node]
            descended = False
            while i < len(children):
                child = children[i]
                i += 1
                if child not in index:
                    work[-1] = (node, i)
                    work.append((child, 0))
                    descended = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if descended:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components


def find_cycles(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """One cycle per strongly connected knot, each as [a, b, c] for a -> b -> c -> a,
    starting at its earliest-written node; knots in written order. Linear."""
    nodes = list(nodes)
    edges = list(edges)
    stuck = _stuck_nodes(nodes, edges)
    if not stuck:
        return []
    position = {node: i for i, node in enumerate(nodes)}
    succ: dict[str, list[str]] = {node: [] for node in stuck}
    preds: dict[str, list[str]] = {node: [] for node in stuck}
    for u, v in edges:
        if u in succ and v in succ:
            succ[u].append(v)
            preds[v].append(u)
    cycles: list[list[str]] = []
    for component in strongly_connected([n for n in nodes if n in succ], succ):
        members = set(component)
        start = min(component, key=position.__getitem__)
        if len(component) == 1 and start not in succ[start]:
            continue
        # Inside a knot every node has a predecessor in the knot: walk back until a repeat.
        seen: dict[str, int] = {}
        walk: list[str] = []
        node = start
        while node not in seen:
            seen[node] = len(walk)
            walk.append(node)
            node = next(p for p in preds[node] if p in members)
        cycle = walk[seen[node]:][::-1]
        first = min(range(len(cycle)), key=lambda i: position[cycle[i]])
        cycles.append(cycle[first:] + cycle[:first])
    return sorted(cycles, key=lambda c: position[c[0]])
