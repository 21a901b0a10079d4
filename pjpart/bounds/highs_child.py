"""HiGHS on one problem, here or in a child process that is killed when it overruns its clock.

HiGHS does not look at its clock everywhere: its MIP presolve's ``strengthenInequalities`` loops
on one row without a time check, and it has run for minutes past a one-second time limit on the
windowed stage rows of :mod:`pjpart.bounds.windows` (under RENS's sub-MIP, and at the top level).
So a time-limited solve runs in a child process: this file run as a script (it imports only
NumPy and highspy: a tenth of a second to start), kept for a run's many solves by
:class:`HighsChild` and killed when a reply is :data:`GRACE` seconds (plus a tenth) late; the
solve then counts as unanswered.  A solve without a time limit runs here (:func:`run_highs`).

Protocol: length-prefixed pickles over the child's stdin and stdout: a request (the arrays of
:func:`run_highs`) in, its reply out; the child's own stdout is sent to ``/dev/null`` (HiGHS
prints a banner there).

Example
-------
>>> import numpy as np, scipy.sparse as sp
>>> request = dict(cost=np.array([1.0]), col_lo=np.zeros(1), col_hi=np.array([2.0]),
...                matrix=sp.csc_matrix(np.array([[1.0]])), row_lo=np.array([0.5]), row_hi=np.array([np.inf]),
...                integer=1, time_limit=5.0, keep=1)
>>> with HighsChild() as child:
...     reply = child.solve(request, wait=30.0)
>>> reply["status"], reply["objective"], reply["values"].tolist()
('optimal', 1.0, [1.0])
"""

from __future__ import annotations

import os
import pickle
import selectors
import struct
import subprocess
import sys
import time

import numpy as np

#: seconds a child may overrun its time limit (besides a tenth of it) before it is killed
GRACE = 2.0

_HEADER = struct.Struct("<Q")


def run_highs(request: dict) -> dict:
    """Solve ``min cost . z`` over ``row_lo <= matrix z <= row_hi``, ``col_lo <= z <= col_hi``, the first
    ``integer`` columns integral, within ``time_limit`` seconds (``None``: none).  A MIP is solved
    without presolve and to a zero absolute gap and a relative gap of 1e-9 (or the request's
    ``mip_rel_gap``: a heuristic may stop short): HiGHS 1.16's MIP presolve called feasible price
    MIPs infeasible and gave others an optimum above the true one (about 1 in 10^4 small MIPs,
    tests/bounds/test_chain.py), and its default absolute gap of 1e-6 exceeds a bound's margin.

    Returns
    -------
    dict
        ``status`` (``"infeasible"``, ``"optimal"``, or HiGHS's own name of another status),
        ``objective`` and ``dual`` (the MIP's dual bound; NaN when none), ``primal`` (2 when a
        feasible point was found) and ``values``, the first ``keep`` entries of that point.
    """
    import highspy

    m = request["matrix"]
    n = m.shape[1]
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m.shape[0]
    lp.col_cost_ = request["cost"]
    lp.col_lower_, lp.col_upper_ = request["col_lo"], request["col_hi"]
    lp.row_lower_, lp.row_upper_ = request["row_lo"], request["row_hi"]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = m.indptr, m.indices, m.data
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m.shape[0]
    integer = int(request["integer"])
    if integer:
        kinds = np.full(n, highspy.HighsVarType.kContinuous)
        kinds[:integer] = highspy.HighsVarType.kInteger
        lp.integrality_ = kinds.tolist()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    if request.get("time_limit") is not None:
        h.setOptionValue("time_limit", float(max(request["time_limit"], 0.01)))
    if integer:
        h.setOptionValue("presolve", "off")
        h.setOptionValue("mip_abs_gap", 0.0)
        h.setOptionValue("mip_rel_gap", float(request.get("mip_rel_gap", 1e-9)))  # a heuristic may stop short
        # RENS's and RINS's sub-MIPs are where presolve overran its clock first; a refutation needs neither
        h.setOptionValue("mip_heuristic_run_rens", False)
        h.setOptionValue("mip_heuristic_run_rins", False)
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    S = highspy.HighsModelStatus
    name = {S.kInfeasible: "infeasible", S.kOptimal: "optimal"}.get(status) or h.modelStatusToString(status)
    info = h.getInfo()
    reply = {"status": name, "objective": float(info.objective_function_value),
             "dual": float(info.mip_dual_bound) if integer else float("nan"),
             "primal": int(info.primal_solution_status), "values": None}
    if reply["primal"] == 2 and request.get("keep") is not None:
        reply["values"] = np.asarray(h.getSolution().col_value[: int(request["keep"])], dtype=np.float64)
    return reply


class HighsChild:
    """A child process serving :func:`run_highs`, started on the first solve and again after a kill.

    Use it as a context manager: the child ends with the block."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "HighsChild":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def solve(self, request: dict, wait: float) -> dict | None:
        """The reply to ``request``, or ``None`` when it does not come within ``wait`` seconds (the
        child is then killed) or the child died."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), str(os.getpid())],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.proc.stdin.write(_HEADER.pack(len(data)) + data)
            self.proc.stdin.flush()
            deadline = time.perf_counter() + wait
            size = _HEADER.unpack(self._read(_HEADER.size, deadline))[0]
            return pickle.loads(self._read(size, deadline))
        except (OSError, TimeoutError, EOFError, struct.error, pickle.UnpicklingError):
            self.close()
            return None

    def _read(self, count: int, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()
        chunks, got = [], 0
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while got < count:
                left = deadline - time.perf_counter()
                if left <= 0 or not sel.select(left):
                    raise TimeoutError
                chunk = os.read(fd, count - got)
                if not chunk:
                    raise EOFError
                chunks.append(chunk)
                got += len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            self.proc = None


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent ends (Linux's ``PR_SET_PDEATHSIG``): a
    bounds process killed at the end of a run must not leave its solve running on a core."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's close() and the broken pipe end it
        pass
    if os.getppid() != parent:  # the parent ended before the request took effect
        os._exit(0)


def _serve(parent: int) -> None:
    """The child's loop: a request in, its reply out, until stdin closes or the parent is gone."""
    _die_with(parent)
    out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # HiGHS's banner and logs: not into the protocol
    inp = sys.stdin.buffer
    while True:
        header = inp.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        request = pickle.loads(inp.read(_HEADER.unpack(header)[0]))
        data = pickle.dumps(run_highs(request), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            out.write(_HEADER.pack(len(data)) + data)
            out.flush()
        except BrokenPipeError:  # the parent stopped waiting and went: nobody to answer
            os._exit(0)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))


__all__ = ["GRACE", "HighsChild", "run_highs"]
