"""Peer comparison: the exact ideal DP of Tarnawski et al. (NeurIPS 2020, msr-fiddle/dnn-partitioning,
throughput-dp/dp.cpp) against pjpart.partition on the peer's inference inputs, accelerators only.

usage: python bench/peer/run.py [--ks 2,4,8,16] [--T 10] [--T-op 60] [--timeout 120] [--out bench/results]
       python bench/peer/run.py --check        (the cost-model correspondence check only)

Needs bench/peer/build.sh (builds bench/peer/build/dp) and bench/peer/convert.py (writes graphs/ and
inputs/).  Every measurement runs alone (the machine has 2 cores).  Per cell it records: n, the
peer's optimum and wall seconds, pjpart's bottleneck, lower bound, gap, certified (gap <= 2e-6) and
seconds per time limit, and the downset counts (pjpart.lattice.downsets, limit 1e6).  Each dp.cpp
solution is re-priced with pjpart.evaluate on the pjpart graph (the correspondence check, every cell).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert  # noqa: E402

import pjpart  # noqa: E402
from pjpart.lattice import downsets, exact_partition  # noqa: E402

DP = os.path.join(HERE, "build", "dp")
TMP = os.path.join(HERE, "build", "tmp")
OPERATOR = ("bert_l-3", "bert_l-6", "bert_l-12", "resnet50_op")
CERT = 2e-6
LIMIT = 10 ** 6


def load(name: str) -> tuple:
    path = os.path.join(HERE, "graphs", name + ".json")
    with open(path) as fh:
        gj = json.load(fh)
    g = pjpart.load_graph(path)
    return gj, g, pjpart.cost_model_for(g)


def run_dp(peer_input: dict, tag: str, timeout: float) -> dict:
    """dp.cpp on one input (stdin), wall seconds, its answer and assignment (original ids -> stage)."""
    os.makedirs(TMP, exist_ok=True)
    path = os.path.join(TMP, tag + ".json")
    with open(path, "w") as fh:
        json.dump(peer_input, fh)
    t0 = time.perf_counter()
    try:
        with open(path) as fin:
            p = subprocess.run([DP], stdin=fin, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return {"status": "timeout", "seconds": time.perf_counter() - t0,
                "phase": "dp" if " ideal pairs" in err else "ideal pairs (k-independent)", **_counts(err)}
    secs = time.perf_counter() - t0
    res = {"seconds": secs, **_counts(p.stderr)}
    if p.returncode != 0:
        fail = [ln for ln in p.stdout.splitlines() + p.stderr.splitlines() if ln.startswith("FAIL")]
        return {**res, "status": "fail", "message": fail[0] if fail else f"rc {p.returncode}"}
    out = json.loads(p.stdout)
    stage = {}
    fpgas = out["fpgas"]  # backtracked from the full ideal: fpgas[0] is the LAST stage
    for i, m in enumerate(fpgas):
        for v in m["nodes"]:
            stage[v] = len(fpgas) - 1 - i
    return {**res, "status": "ok", "optimum": float(out["maxLoad"]), "stage": stage,
            "loads": [m["load"] for m in reversed(fpgas)]}


def _counts(err: str) -> dict:
    d = {}
    for ln in err.splitlines():
        parts = ln.split()
        if len(parts) == 2 and parts[1] == "ideals":
            d["ideals"] = int(parts[0])
        if len(parts) == 3 and parts[1:] == ["ideal", "pairs"]:
            d["ideal_pairs"] = int(parts[0])
    return d


def reprice(gj: dict, g, cm, k: int, stage: dict, members: bool) -> float:
    """pjpart's float64 cost of dp.cpp's solution (stage per original peer id, or per pjpart id)."""
    a = np.zeros(g.n, dtype=np.int64)
    for i, grp in enumerate(gj["peer"]["members"] if members else [[i] for i in range(g.n)]):
        s = {stage[v] for v in grp}
        assert len(s) == 1, f"dp.cpp split supernode {i}"
        a[i] = s.pop()
    return float(pjpart.evaluate(g, a, k, cm).max())


def counts(name: str, gj: dict, g) -> dict:
    with open(os.path.join(convert.DEFAULT_SRC, dict(convert.WORKLOADS)[name])) as fh:
        peer = json.load(fh)
    idx = {n["id"]: i for i, n in enumerate(peer["nodes"])}
    raw = pjpart.Graph.from_arrays(work=np.zeros(len(idx)), edges=sorted(
        {(idx[e["sourceId"]], idx[e["destId"]]) for e in peer["edges"]}))
    groups, edges = convert.peer_preprocessed(gj)
    pre = pjpart.Graph.from_arrays(work=np.zeros(len(groups)), edges=edges)

    def c(x):
        d = downsets(x, LIMIT)
        return ">1e6" if d is None else len(d)

    return {"n_original": raw.n, "downsets_original": c(raw), "n": g.n, "downsets": c(g),
            "n_peer": pre.n, "downsets_peer": c(pre)}


def check(timeout: float) -> list:
    """Correspondence check on small cases: dp.cpp's reported optimum vs pjpart.evaluate of its own
    solution, and vs pjpart.lattice.exact_partition's optimum."""
    rows = []
    for name in ("bert24", "resnet50_layer", "bert_l-3", "resnet50_op"):
        gj, g, cm = load(name)
        with open(os.path.join(HERE, "inputs", name + "_acc.json")) as fh:
            acc = json.load(fh)
        for k in (2, 3, 4):
            for kind, inp, members in (("acc", convert.accelerators_only(acc, k), True),
                                       ("pj", convert.pjpart_as_peer(gj, k), False)):
                r = run_dp(inp, f"check_{name}_{kind}_{k}", timeout)
                rep = reprice(gj, g, cm, k, r["stage"], members)
                ex = exact_partition(g, k, cm, max_downsets=4096)
                rows.append({"workload": name, "k": k, "input": kind, "dp_optimum": r["optimum"],
                             "pjpart_evaluate_of_dp_solution": rep, "pjpart_exact_optimum": ex[0],
                             "rel_diff_evaluate": abs(rep - r["optimum"]) / r["optimum"],
                             "rel_diff_exact": abs(ex[0] - r["optimum"]) / r["optimum"]})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo): platform.processor() is empty on this Linux machine."""
    try:
        with open("/proc/cpuinfo") as fh:
            for ln in fh:
                if ln.startswith("model name"):
                    return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def comparable_pairs(gj: dict) -> int | None:
    """The number of ideal pairs (J <= I) dp.cpp stores for this graph (after its trivial-node merges):
    what it builds before its DP, 32 bytes each (dp.cpp:1335-1364).  None above 1e5 ideals."""
    from pjpart.lattice import mask_bits

    groups, edges = convert.peer_preprocessed(gj)
    d = downsets(pjpart.Graph.from_arrays(work=np.zeros(len(groups)), edges=edges), 10 ** 5)
    if d is None:
        return None
    B = mask_bits(d, len(groups)).astype(np.float32)
    N = (1.0 - B).T.copy()
    return sum(int(((B[s:s + 2048] @ N) == 0).sum()) for s in range(0, len(B), 2048))


def md_num(x, nd=4) -> str:
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    return f"{x:.{nd}f}"


def summary(cells: list) -> list:
    out = ["Summary:", ""]
    Ts = sorted({T for c in cells for T in c["pjpart"]}, key=float)
    for T in Ts:
        rows = [(c, c["pjpart"][T]) for c in cells if T in c["pjpart"]]
        opt = [(c, r) for c, r in rows if c["reference_optimum"] is not None]
        hit = sum(abs(r["bottleneck"] - c["reference_optimum"]) <= 1e-9 * c["reference_optimum"] for c, r in opt)
        cert = sum(r["certified"] for _, r in rows)
        out.append(f"- T = {T} s: pjpart found the optimum in {hit} of the {len(opt)} cells with a known optimum, "
                   f"certified {cert} of {len(rows)} cells.")
    to = {}
    for c in cells:
        if c["peer"]["status"] != "ok":
            to.setdefault(c["workload"], []).append(c)
    for name, cs in to.items():
        c = cs[0]
        pairs = c.get("peer_ideal_pairs")
        out.append(f"- dp.cpp {c['peer']['status']} on {name} k={','.join(str(x['k']) for x in cs)}"
                   + (f" ({c['downsets_peer']} ideals, {pairs:,} ideal pairs to build, ~{pairs * 32 / 2**30:.1f} GiB "
                      f"at 32 bytes each)" if pairs else "") + ".")
    return out + [""]


def write_md(path: str, meta: dict, cells: list, checks: list) -> None:
    L = ["# pjpart vs the peer's exact DP (Tarnawski et al. 2020, dp.cpp)", "",
         f"Date: {meta['date']}. Machine: `python -c \"import platform,os;print(platform.processor(), "
         f"os.cpu_count())\"` prints `{meta['processor']} {meta['cpus']}` (platform.processor() is empty "
         f"here; /proc/cpuinfo: {meta.get('cpu_model', '?')}, {meta['cpus']} cores), "
         f"python {meta['python']}, pjpart {meta['pjpart']}, JAX backend {meta['backend']}; "
         f"peer commit {meta['peer_commit']}.", "",
         "Commands:", "", "```", *meta["commands"], "```", "",
         "Problem: the peer's inference inputs, accelerators only (maxCPUs = 0), maxFPGAs = k; "
         "pjpart's graph is the colocation-contracted graph with work = fpgaLatency, params = size, "
         "sizeout = the producer's edge cost, CostModel(bandwidth=1, memory_limit=maxSizePerFPGA) "
         "(bench/peer/NOTES.md). Units: ms. `peer opt` is dp.cpp's optimum of its own input with "
         "maxCPUs = 0 (`_acc`); for the three BERT operator graphs, whose tied word-embedding "
         "colocation class pjpart prices as one node, `peer opt (pj)` is dp.cpp's optimum of "
         "pjpart's graph written as a peer input (`_pj`), the same problem pjpart solves. "
         "`cert` = gap <= 2e-6. Downsets: original graph / pjpart graph (colocation contracted) / "
         "after dp.cpp's trivial-node merges (= the ideals dp.cpp enumerates).", "",
         "| workload | n (orig/pj/peer) | downsets (orig/pj/peer) | k | peer opt | peer s | peer opt (pj) | "
         "T | pjpart found | pjpart bound | gap | cert | pjpart s | found/peer |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in cells:
        p = c["peer"]
        popt = md_num(p.get("optimum")) if p["status"] == "ok" else p["status"]
        psec = md_num(p["seconds"], 2) + ("" if p.get("ran", True) else " (not rerun)")
        pj = c.get("peer_pj")
        pjopt = "=" if pj is None else (md_num(pj.get("optimum")) if pj["status"] == "ok" else pj["status"])
        ref = c["reference_optimum"]
        for T, r in sorted(c["pjpart"].items(), key=lambda kv: float(kv[0])):
            ratio = "-" if ref is None else f"{r['bottleneck'] / ref:.6f}"
            L.append(f"| {c['workload']} | {c['n_original']}/{c['n']}/{c['n_peer']} | "
                     f"{c['downsets_original']}/{c['downsets']}/{c['downsets_peer']} | {c['k']} | {popt} | {psec} | "
                     f"{pjopt} | {T} | {md_num(r['bottleneck'])} | {md_num(r['lower_bound'])} | "
                     f"{r['gap']:.2e} | {'yes' if r['certified'] else 'no'} | {r['seconds']:.1f} | {ratio} |")
    L += ["", "`found/peer`: pjpart's bottleneck over the optimum of the problem pjpart solves "
          "(`peer opt (pj)` where given, else `peer opt`); 1 means pjpart found the optimum. "
          "`(not rerun)`: dp.cpp timed out for a smaller k while still building its ideal pairs "
          "(dp.cpp:1273-1275, before and independent of maxFPGAs), so the cell would time out too.", ""]
    L += summary(cells)
    bad = [c for c in cells if c.get("violations")]
    L += ["Checks on every cell: dp.cpp's optimum equals pjpart.evaluate of dp.cpp's own solution "
          "(relative difference <= 1e-9 where the conversion is exact); pjpart's bound <= the optimum; "
          "pjpart's bottleneck >= the optimum. Violations: " +
          ("none." if not bad else "; ".join(f"{c['workload']} k={c['k']}: {c['violations']}" for c in bad)), ""]
    if checks:
        L += ["## Correspondence check (small cases)", "",
              "| workload | k | input | dp.cpp optimum | pjpart.evaluate(dp solution) | pjpart exact_partition |",
              "|---|---|---|---|---|---|"]
        for r in checks:
            L.append(f"| {r['workload']} | {r['k']} | {r['input']} | {r['dp_optimum']:.12g} | "
                     f"{r['pjpart_evaluate_of_dp_solution']:.12g} | {r['pjpart_exact_optimum']:.12g} |")
        L.append("")
    with open(path, "w") as fh:
        fh.write("\n".join(L))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ks", default="2,4,8,16")
    ap.add_argument("--T", default="10", help="pjpart time limits for every workload (comma-separated)")
    ap.add_argument("--T-op", default="60", help="extra pjpart time limits for the operator graphs")
    ap.add_argument("--timeout", type=float, default=120.0, help="dp.cpp wall-clock limit per cell")
    ap.add_argument("--workloads", default=",".join(w for w, _ in convert.WORKLOADS))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "results"))
    ap.add_argument("--check", action="store_true", help="run the correspondence check only")
    ap.add_argument("--render", action="store_true", help="rewrite peer.md from peer.json (no runs)")
    a = ap.parse_args(argv)
    if not os.path.exists(DP):
        raise SystemExit(f"{DP} missing: run bench/peer/build.sh first")
    if a.check:
        check(a.timeout)
        return 0
    if a.render:
        with open(os.path.join(a.out, "peer.json")) as fh:
            data = json.load(fh)
        data["meta"].setdefault("cpu_model", cpu_model())
        for c in data["cells"]:
            if c["peer"]["status"] == "timeout" and "peer_ideal_pairs" not in c:
                c["peer_ideal_pairs"] = comparable_pairs(load(c["workload"])[0])
        with open(os.path.join(a.out, "peer.json"), "w") as fh:
            json.dump(data, fh, indent=1)
        write_md(os.path.join(a.out, "peer.md"), data["meta"], data["cells"], data["check"])
        return 0
    import jax

    with open(os.path.join(HERE, "build", "src", "COMMIT")) as fh:
        commit = fh.read().strip()
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "processor": platform.processor(), "cpu_model": cpu_model(), "cpus": os.cpu_count(), "python": sys.version.split()[0],
            "pjpart": pjpart.__version__, "backend": jax.default_backend(), "peer_commit": commit,
            "commands": ["bench/peer/build.sh", "python bench/peer/convert.py",
                         "python bench/peer/run.py --check",
                         "python bench/peer/run.py " + shlex.join(argv if argv is not None else sys.argv[1:])]}
    ks = [int(x) for x in a.ks.split(",")]
    Ts = [float(x) for x in a.T.split(",") if x]
    Top = [float(x) for x in a.T_op.split(",") if x]
    t_start = time.perf_counter()
    checks = check(a.timeout)
    cells = []
    for name in a.workloads.split(","):
        gj, g, cm = load(name)
        cnt = counts(name, gj, g)
        with open(os.path.join(HERE, "inputs", name + "_acc.json")) as fh:
            acc = json.load(fh)
        inexact = bool(gj["peer"]["inexact"])
        skip_peer = skip_pj = None
        for k in ks:
            cell = {"workload": name, "k": k, **cnt, "inexact_supernodes": len(gj["peer"]["inexact"])}
            viol = []
            for kind, members in (("acc", True), ("pj", False)):
                if kind == "pj" and not inexact:
                    continue
                skip = skip_peer if kind == "acc" else skip_pj
                if skip is not None:
                    r = {**skip, "ran": False}
                else:
                    inp = convert.accelerators_only(acc, k) if kind == "acc" else convert.pjpart_as_peer(gj, k)
                    r = run_dp(inp, f"{name}_{kind}_{k}", a.timeout)
                    if r["status"] == "timeout" and r["phase"].startswith("ideal pairs"):
                        if kind == "acc":
                            skip_peer = r
                        else:
                            skip_pj = r
                if r["status"] == "ok":
                    r["pjpart_evaluate"] = reprice(gj, g, cm, k, r.pop("stage"), members)
                    r["rel_diff"] = abs(r["pjpart_evaluate"] - r["optimum"]) / r["optimum"]
                    exact_here = kind == "pj" or not inexact
                    if exact_here and r["rel_diff"] > 1e-9:
                        viol.append(f"{kind}: dp optimum {r['optimum']} != pjpart.evaluate {r['pjpart_evaluate']}")
                cell["peer" if kind == "acc" else "peer_pj"] = r
                print(name, k, kind, {x: y for x, y in r.items() if x != "loads"}, flush=True)
            if cell["peer"]["status"] == "timeout":
                cell["peer_ideal_pairs"] = comparable_pairs(gj)
            ref = cell.get("peer_pj", cell["peer"])
            cell["reference_optimum"] = ref.get("optimum") if ref["status"] == "ok" else None
            cell["pjpart"] = {}
            for T in Ts + (Top if name in OPERATOR else []):
                t0 = time.perf_counter()
                res = pjpart.partition(g, k, cm, time_limit=T)
                wall = time.perf_counter() - t0
                r = {"bottleneck": float(res.bottleneck), "lower_bound": float(res.lower_bound),
                     "gap": float(res.gap), "certified": bool(res.gap <= CERT), "seconds": wall,
                     "result_seconds": float(res.seconds), "method": res.method,
                     "bound_method": res.bound_method, "stopped_by": res.stopped_by}
                opt = cell["reference_optimum"]
                if opt is not None:
                    if r["lower_bound"] > opt * (1 + 1e-9):
                        viol.append(f"T={T:g}: bound {r['lower_bound']} > optimum {opt}")
                    if r["bottleneck"] < opt * (1 - 1e-9):
                        viol.append(f"T={T:g}: found {r['bottleneck']} < optimum {opt}")
                cell["pjpart"][f"{T:g}"] = r
                print(name, k, f"T={T:g}", r, flush=True)
            cell["violations"] = viol
            cells.append(cell)
            meta["total_seconds"] = time.perf_counter() - t_start
            os.makedirs(a.out, exist_ok=True)
            with open(os.path.join(a.out, "peer.json"), "w") as fh:
                json.dump({"meta": meta, "check": checks, "cells": cells}, fh, indent=1)
            write_md(os.path.join(a.out, "peer.md"), meta, cells, checks)
    print(f"total {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
