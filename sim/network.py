"""The consensus network: who listens to whom inside the buying group.

Topologies come from networkx generators, always seeded. Building a networkx graph per deal
would dominate a million-deal run, so each scenario seed gets a library of seeded graphs per
group size and every deal draws one of them (plus its own trust weights) from its customer
stream. Node 0 is the executive sponsor; in a hierarchy it is the root.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import networkx as nx
import numpy as np

GRAPHS_PER_SIZE = 64


def _one_graph(kind: str, size: int, seed: int) -> nx.Graph:
    if size == 1:
        graph = nx.Graph()
        graph.add_node(0)
        return graph
    if kind == "complete" or size <= 3:
        return nx.complete_graph(size)
    if kind == "hierarchy":
        # Sponsor at the root, two or three direct reports, peers linked within a team.
        rng = np.random.default_rng(seed)
        graph = nx.random_labeled_tree(size, seed=seed) if size > 1 else nx.Graph()
        graph = nx.bfs_tree(graph, 0).to_undirected()
        for node in range(1, size):
            other = int(rng.integers(1, size))
            if other != node and rng.random() < 0.3:
                graph.add_edge(node, other)
        return graph
    neighbours = min(4, size - 1 - (size - 1) % 2) or 2
    return nx.connected_watts_strogatz_graph(size, neighbours, 0.2, tries=100, seed=seed)


_library_lock = threading.Lock()


def topology_library(kind: str, max_size: int, seed: int, sizes: tuple[int, ...] | None = None) -> np.ndarray:
    """Adjacency matrices, shape (max_size + 1, GRAPHS_PER_SIZE, max_size, max_size), padded.

    Entry [n, g] is graph g for a group of n stakeholders; rows and columns beyond n are zero.
    Only the group ``sizes`` given are built (default: all); the others stay empty. A graph
    depends only on (kind, seed, size, g), so a library of some sizes agrees with the full one.
    Read-only and cached; threads that ask for the same library wait for one build.
    """
    wanted = tuple(range(1, max_size + 1)) if sizes is None else tuple(sorted(set(sizes)))
    with _library_lock:
        return _build_library(kind, max_size, seed, wanted)


@lru_cache(maxsize=64)
def _build_library(kind: str, max_size: int, seed: int, sizes: tuple[int, ...]) -> np.ndarray:
    library = np.zeros((max_size + 1, GRAPHS_PER_SIZE, max_size, max_size), dtype=bool)
    for size in sizes:
        for index in range(GRAPHS_PER_SIZE):
            graph_seed = int(np.random.SeedSequence([seed, size, index]).generate_state(1)[0])
            graph = _one_graph(kind, size, graph_seed)
            adjacency = nx.to_numpy_array(graph, nodelist=range(size), dtype=float) > 0
            library[size, index, :size, :size] = adjacency
    library.setflags(write=False)
    return library


def influence_matrix(
    adjacency: np.ndarray,
    trust: np.ndarray,
    influence: np.ndarray,
    member: np.ndarray,
    self_weight: float = 1.0,
) -> np.ndarray:
    """Row-stochastic influence weights from adjacency (D,S,S), edge trust (D,S,S) and the
    listened-to stakeholder's influence (D,S). Row i says how much i listens to each j; every
    member keeps a self weight, non-members only listen to themselves."""
    deals, size, _ = adjacency.shape
    weights = adjacency * trust * influence[:, None, :]
    eye = np.eye(size, dtype=weights.dtype)[None]
    weights = weights + eye * (self_weight * influence[:, :, None] * member[:, :, None])
    weights = np.where(member[:, :, None], weights, eye)
    return weights / weights.sum(axis=2, keepdims=True)


def graph_of(adjacency: np.ndarray, weights: np.ndarray | None = None) -> nx.Graph:
    """A networkx graph of one deal's group (adjacency of its members only, as the engine
    keeps it), with ``trust`` edge weights when given; every member is a node."""
    size = adjacency.shape[0]
    graph = nx.Graph()
    graph.add_nodes_from(range(size))
    for i in range(size):
        for j in range(i + 1, size):
            if adjacency[i, j]:
                trust = 1.0 if weights is None else float(weights[i, j] + weights[j, i]) / 2
                graph.add_edge(i, j, trust=trust)
    return graph
