"""Convert the peer's (Tarnawski et al. 2020, msr-fiddle/dnn-partitioning) throughput inputs to
pjpart graph JSON (SPEC section 4) under one shared cost model, and write the peer inputs that make
its dp.cpp solve the same problem.  See bench/peer/NOTES.md for the correspondence and why it holds.

usage: python bench/peer/convert.py [--src DIR] [--out DIR]
  --src  the peer's throughput-inputs/ folder (default: bench/peer/build/src/throughput-inputs,
         which bench/peer/build.sh extracts)
  --out  where to write (default: bench/peer/): graphs/<name>.json (pjpart),
         inputs/<name>_acc.json (the peer's own input, accelerators only: maxCPUs = 0),
         inputs/<name>_pj.json (pjpart's graph written as a peer input, maxCPUs = 0)

The shared cost model (peer, maxCPUs = 0  <->  pjpart):
  node work    = fpgaLatency                 (ms)
  node params  = size                         (bytes)
  sizeout(p)   = the `cost` of p's out-edges  (ms; the peer requires them all equal, dp.cpp:188-191)
  CostModel(bandwidth=1, memory=inf, memory_limit=maxSizePerFPGA);  k = maxFPGAs
Colocation classes (colorClass) are hard constraints of the peer's problem (dp.cpp:867-878), so they
are CONTRACTED, as dp.cpp does (contractColorClasses, dp.cpp:417-503), and so are the strongly
connected components the contraction creates (dp.cpp:586-629), which any feasible partition keeps
in one stage anyway.  A supernode's sizeout is the sum of the costs of its members that feed another
supernode; that is exact unless a supernode has two such members (of non-zero cost) whose sets of
consumer supernodes differ (then the sum over-charges; those supernodes are listed in the graph's
meta "peer"."inexact", and inputs/<name>_pj.json is the problem pjpart solves, exactly).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SRC = os.path.join(HERE, "build", "src", "throughput-inputs")

#: (workload name, file under throughput-inputs/)
WORKLOADS = [
    ("bert24", "LayerGraphs/bert24_inference.json"),
    ("gnmt", "LayerGraphs/gnmt_inference.json"),
    ("inceptionv3", "LayerGraphs/inceptionv3_inference.json"),
    ("resnet50_layer", "LayerGraphs/resnet50_inference.json"),
    ("bert_l-3", "OperatorGraphs/bert_l-3_inference.json"),
    ("bert_l-6", "OperatorGraphs/bert_l-6_inference.json"),
    ("bert_l-12", "OperatorGraphs/bert_l-12_inference.json"),
    ("resnet50_op", "OperatorGraphs/resnet50_inference.json"),
]

ZERO = 1e-6  # dp.cpp's "zero latency" threshold (line 315)


def producer_costs(peer: dict) -> dict:
    """sizeout of every original producer: the common cost of its out-edges.  dp.cpp refuses a
    producer whose out-edges differ by more than 1e-6 (lines 188-191) and keeps the first cost;
    so do we (refuse), naming the node."""
    cost: dict = {}
    for e in peer["edges"]:
        u, c = e["sourceId"], float(e["cost"])
        if u in cost and abs(cost[u] - c) > 1e-6:
            raise SystemExit(f"node {u} has two different outgoing edge costs ({cost[u]} and {c}); "
                             f"dp.cpp refuses such inputs too (dp.cpp:188-191)")
        cost.setdefault(u, c)
    return cost


def _sccs(n: int, succ: list) -> list:
    """Strongly connected components (iterative Tarjan): comp[v]."""
    index, low, comp = [-1] * n, [0] * n, [-1] * n
    onstack, stack, counter, ncomp = [False] * n, [], 0, 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                onstack[v] = True
            if i < len(succ[v]):
                work.append((v, i + 1))
                w = succ[v][i]
                if index[w] < 0:
                    work.append((w, 0))
                elif onstack[w]:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    onstack[w] = False
                    comp[w] = ncomp
                    if w == v:
                        break
                ncomp += 1
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return comp


def contract(peer: dict) -> list:
    """The peer's contraction (dp.cpp:1763 contractColorClasses, 1782 fuseStronglyConnected...,
    1784 contract again): groups of original node ids, in a topological order of the quotient."""
    for n in peer["nodes"]:
        if n["isBackwardNode"]:
            raise SystemExit(f"node {n['id']} is a backward node: only inference inputs are converted")
        if not n["supportedOnFpga"]:
            raise SystemExit(f"node {n['id']} is not supported on an accelerator: with maxCPUs = 0 the "
                             f"peer's problem is infeasible")
    # a node without colorClass gets a fresh class of its own (dp.cpp:118-126)
    cls = {n["id"]: ("c", n["colorClass"]) if "colorClass" in n else ("f", n["id"]) for n in peer["nodes"]}
    keys = sorted(set(cls.values()), key=str)
    kid = {c: i for i, c in enumerate(keys)}
    members = [[] for _ in keys]
    for n in peer["nodes"]:
        members[kid[cls[n["id"]]]].append(n["id"])
    where = {v: kid[cls[v]] for v in cls}
    succ = [set() for _ in keys]
    for e in peer["edges"]:
        a, b = where[e["sourceId"]], where[e["destId"]]
        if a != b:
            succ[a].add(b)
    comp = _sccs(len(keys), [sorted(s) for s in succ])
    groups = defaultdict(list)
    for i, c in enumerate(comp):
        groups[c].extend(members[i])
    # Tarjan numbers components in reverse topological order
    return [sorted(groups[c]) for c in sorted(groups, reverse=True)]


def quotient_edges(peer: dict, groups: list) -> tuple:
    where = {v: i for i, g in enumerate(groups) for v in g}
    edges = sorted({(where[e["sourceId"]], where[e["destId"]]) for e in peer["edges"]
                    if where[e["sourceId"]] != where[e["destId"]]})
    return where, edges


def to_pjpart(name: str, src_file: str, peer: dict) -> dict:
    """The pjpart graph JSON (SPEC section 4) of a peer inference input."""
    nodes = {n["id"]: n for n in peer["nodes"]}
    cost = producer_costs(peer)
    groups = contract(peer)
    where, edges = quotient_edges(peer, groups)
    consumers = defaultdict(set)  # original producer -> consumer supernodes other than its own
    for e in peer["edges"]:
        u, v = e["sourceId"], e["destId"]
        if where[u] != where[v]:
            consumers[u].add(where[v])
    out_nodes, inexact = [], []
    for i, g in enumerate(groups):
        ext = [u for u in g if consumers[u] and cost.get(u, 0.0) > 0.0]
        if len({frozenset(consumers[u]) for u in ext}) > 1:
            inexact.append({"node": i, "producers": [{"id": u, "cost": cost[u], "consumers": sorted(consumers[u])}
                                                      for u in ext]})
        out_nodes.append({"id": i,
                          "work": sum(float(nodes[v]["fpgaLatency"]) for v in g),
                          "params": sum(float(nodes[v].get("size", 0.0)) for v in g),
                          "sizeout": sum(cost[u] for u in ext)})
    return {
        "name": name,
        "units": {"work": "ms", "params": "B", "sizeout": "ms"},
        "nodes": out_nodes,
        "edges": [list(e) for e in edges],
        "cost_model": {"bandwidth": 1.0, "memory_limit": float(peer["maxSizePerFPGA"])},
        "peer": {
            "source": "msr-fiddle/dnn-partitioning throughput-inputs/" + src_file,
            "maxFPGAs": peer["maxFPGAs"], "maxCPUs": peer["maxCPUs"],
            "original_nodes": len(peer["nodes"]), "original_edges": len(peer["edges"]),
            "members": groups,              # supernode i = these original peer node ids
            "cpu_work": [sum(float(nodes[v]["cpuLatency"]) for v in g) for g in groups],
            "inexact": inexact,
        },
    }


def accelerators_only(peer: dict, k: int | None = None) -> dict:
    """The peer's own input with maxCPUs = 0 (and maxFPGAs = k when given)."""
    out = dict(peer)
    out["maxCPUs"] = 0
    if k is not None:
        out["maxFPGAs"] = int(k)
    return out


def pjpart_as_peer(graph: dict, k: int | None = None) -> dict:
    """A pjpart graph written as a peer input: one node per pjpart node (its own colocation class),
    every out-edge of u costing sizeout(u); maxCPUs = 0, maxFPGAs = k, maxSizePerFPGA = memory_limit."""
    size = {n["id"]: n["sizeout"] for n in graph["nodes"]}
    return {
        "maxSizePerFPGA": graph["cost_model"]["memory_limit"],
        "maxFPGAs": int(k if k is not None else graph["peer"]["maxFPGAs"]),
        "maxCPUs": 0,
        "nodes": [{"id": n["id"], "supportedOnFpga": 1, "cpuLatency": cw, "fpgaLatency": n["work"],
                   "size": n["params"], "isBackwardNode": 0, "colorClass": n["id"]}
                  for n, cw in zip(graph["nodes"], graph["peer"]["cpu_work"])],
        "edges": [{"sourceId": u, "destId": v, "cost": size[u]} for u, v in graph["edges"]],
    }


def peer_preprocessed(graph: dict) -> tuple:
    """Replica of dp.cpp's performTrivialNodeOptimizations (lines 286-335) on the contracted graph:
    while some node has fpgaLatency < 1e-6 and cpuLatency < 1e-6 and exactly one neighbour (in- and
    out-edges together), merge it into that neighbour.  Returns (groups of pjpart node ids, edges)
    of the graph whose ideals dp.cpp enumerates."""
    n = len(graph["nodes"])
    fw = [x["work"] for x in graph["nodes"]]
    cw = list(graph["peer"]["cpu_work"])
    rep = list(range(n))           # union-find: pjpart node -> representative
    alive = set(range(n))
    nb = [set() for _ in range(n)]
    for u, v in graph["edges"]:
        nb[u].add(v)
        nb[v].add(u)

    def find(x):
        while rep[x] != x:
            rep[x] = rep[rep[x]]
            x = rep[x]
        return x

    changed = True
    while changed:
        changed = False
        for v in sorted(alive):
            if fw[v] < ZERO and cw[v] < ZERO and len(nb[v]) == 1:
                (m,) = nb[v]
                rep[v] = m
                fw[m] += fw[v]
                cw[m] += cw[v]
                nb[m].discard(v)
                alive.discard(v)
                nb[v] = set()
                changed = True
                break
    groups = defaultdict(list)
    for v in range(n):
        groups[find(v)].append(v)
    order = sorted(alive)
    idx = {r: i for i, r in enumerate(order)}
    edges = sorted({(idx[find(u)], idx[find(v)]) for u, v in graph["edges"] if find(u) != find(v)})
    return [groups[r] for r in order], edges


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=DEFAULT_SRC)
    ap.add_argument("--out", default=HERE)
    a = ap.parse_args(argv)
    os.makedirs(os.path.join(a.out, "graphs"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "inputs"), exist_ok=True)
    for name, rel in WORKLOADS:
        with open(os.path.join(a.src, rel)) as fh:
            peer = json.load(fh)
        g = to_pjpart(name, rel, peer)
        with open(os.path.join(a.out, "graphs", name + ".json"), "w") as fh:
            json.dump(g, fh)
        with open(os.path.join(a.out, "inputs", name + "_acc.json"), "w") as fh:
            json.dump(accelerators_only(peer), fh)
        with open(os.path.join(a.out, "inputs", name + "_pj.json"), "w") as fh:
            json.dump(pjpart_as_peer(g), fh)
        pre, pre_edges = peer_preprocessed(g)
        print(f"{name:15s} peer n={len(peer['nodes']):4d} m={len(peer['edges']):4d} -> pjpart n={len(g['nodes']):4d} "
              f"m={len(g['edges']):4d} -> after dp.cpp's trivial-node merges n={len(pre):4d} m={len(pre_edges):4d}; "
              f"inexact supernodes: {len(g['peer']['inexact'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
