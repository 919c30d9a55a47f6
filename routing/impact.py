"""The service desk's dependency graph, as pure functions over plain edges.

A node is a `(type, id)` pair — `("service", 3)` or `("config_item", 7)` — and an edge
`(source, target)` says the source depends on the target. The store keeps the edges; these
functions answer what a change or an outage reaches, and refuse a cycle before it is saved.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable

Node = tuple[str, int]
Edge = tuple[Node, Node]


def _adjacency(edges: Iterable[Edge], *, reverse: bool) -> dict[Node, list[Node]]:
    out: dict[Node, list[Node]] = defaultdict(list)
    for source, target in edges:
        if reverse:
            out[target].append(source)
        else:
            out[source].append(target)
    return out


def _reach(adjacency: dict[Node, list[Node]], start: Iterable[Node]) -> dict[Node, int]:
    """Every node reachable from `start` (not counting the start itself), with its distance."""
    starts = list(start)
    seen: dict[Node, int] = {}
    queue = deque((node, 0) for node in starts)
    while queue:
        node, depth = queue.popleft()
        for nxt in adjacency.get(node, ()):
            if nxt not in seen and nxt not in starts:
                seen[nxt] = depth + 1
                queue.append((nxt, depth + 1))
    return seen


def depends_on(edges: Iterable[Edge], start: Iterable[Node]) -> dict[Node, int]:
    """What `start` depends on, transitively: node → how many hops away."""
    return _reach(_adjacency(edges, reverse=False), start)


def dependents(edges: Iterable[Edge], start: Iterable[Node]) -> dict[Node, int]:
    """What depends on `start`, transitively (what an outage of `start` reaches)."""
    return _reach(_adjacency(edges, reverse=True), start)


def cycle_through(edges: Iterable[Edge], source: Node, targets: Iterable[Node]) -> list[Node] | None:
    """The cycle that giving `source` these dependencies would close, as a path from
    `source` back to itself, or None when the graph stays acyclic."""
    adjacency = _adjacency([edge for edge in edges if edge[0] != source], reverse=False)
    for target in targets:
        if target == source:
            return [source, source]
        path = _path(adjacency, target, source)
        if path is not None:
            return [source, *path]
    return None


def _path(adjacency: dict[Node, list[Node]], start: Node, goal: Node) -> list[Node] | None:
    parents: dict[Node, Node | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [node]
            while (parent := parents[path[-1]]) is not None:
                path.append(parent)
            return path[::-1]
        for nxt in adjacency.get(node, ()):
            if nxt not in parents:
                parents[nxt] = node
                queue.append(nxt)
    return None
