"""Every module's docstring examples run (as ``pytest --doctest-modules`` would run them), one case per module.

A module whose import needs an optional dependency that is missing is skipped, naming it;
so are the examples of modules that call a solver needing one (``NEEDS``).  The scripts that
regenerate the bundled data (``pjpart.data.make_*``) are not part of the library and are
not collected.
"""

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

import pjpart

#: packages installed under pjpart from outside the pjpart/ folder (pyproject's package-dir)
MAPPED_PACKAGES = ("pjpart.kernels",)

#: module -> the optional dependency its examples call (imported lazily, so the import works without it)
NEEDS = {"pjpart.bounds.api": "cvxpy", "pjpart.bounds.stages": "cvxpy"}

#: modules whose examples take more than about 1.5 s (they compile kernels or run searches)
SLOW = {"pjpart.evaluator", "pjpart.search.brkga_jax"}

#: modules whose examples fail for now: module -> reason ("FIXME: ..."); xfail(strict=False)
BROKEN: dict[str, str] = {}  # module -> reason, for a doctest known to fail (xfail until fixed)

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _skipped(name: str) -> bool:
    return name.split(".")[-1].startswith("make_") and name.startswith("pjpart.data.")


def module_names() -> list[str]:
    names = ["pjpart"]
    roots = [(pjpart.__path__, "pjpart.")]
    for package in MAPPED_PACKAGES:
        names.append(package)
        roots.append((importlib.import_module(package).__path__, package + "."))
    for path, prefix in roots:
        # walk_packages imports packages (not modules) to look inside them; one that fails to
        # import is still listed, and its case reports the failure
        names += [m.name for m in pkgutil.walk_packages(path, prefix, onerror=lambda name: None)]
    return sorted(n for n in dict.fromkeys(names) if not _skipped(n))


def _case(name: str):
    marks = []
    if name in SLOW:
        marks.append(pytest.mark.slow)
    if name in BROKEN:
        marks.append(pytest.mark.xfail(reason=BROKEN[name], strict=False))
    return pytest.param(name, marks=marks, id=name)


MODULES = module_names()


def test_every_package_is_walked():
    for name in ("pjpart.kernels", "pjpart.kernels.slicing", "pjpart.search.local", "pjpart.bounds.mincut",
                 "pjpart.importers.regal", "pjpart.budget", "pjpart.lattice"):
        assert name in MODULES, name
    assert not any(n.startswith("pjpart.data.make_") for n in MODULES)


@pytest.mark.parametrize("name", [_case(n) for n in MODULES])
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and not exc.name.startswith("pjpart"):
            pytest.skip(f"{name} needs the optional dependency {exc.name!r}, which is not installed")
        raise
    need = NEEDS.get(name)
    if need is not None and importlib.util.find_spec(need) is None:
        pytest.skip(f"the examples of {name} need {need!r}, which is not installed")
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    report = []
    for test in finder.find(module, name):
        if not test.examples:
            continue
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed:\n" + "".join(report)
