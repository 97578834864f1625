"""What ``tests/`` and ``bench/`` share: one running pcscd with the vpcd readers, and one
skip rule for everything that needs it.

A test that needs the real PC/SC path is marked ``@pytest.mark.pcsc`` (or asks for the
``pcscd`` fixture); where pcscd, vpcd or pyscard is missing it is skipped with the reason
(``PC/SC path unavailable: ...``). A test that runs a PC/SC stack of its own in private
namespaces (``tests.drivers.chip.isolated``: it may kill or limit that pcscd) is marked
``@pytest.mark.pcsc_isolated`` and skipped with the reason where that cannot be made.
A test that uses the PC/SC path where it is there and reads the chips in process where it is
not asks for the ``pcsc_path`` fixture. Nothing else hand-writes these checks.

Under pytest-xdist (``make test``: ``-n 3 --dist loadgroup`` on 2 cores) every test that may use
the one shared pcscd and its vpcd readers (the ``pcsc`` marker, the ``pcscd`` or ``pcsc_path``
fixture) runs in one group, on one worker, one at a time; every other test runs with the rest
of its module, so a module's fixtures are built once. The longest units of work (the group,
the modules) are handed out first, as measured in ``tests/scope_seconds.json``: a long module
started last would keep one worker busy while the other has nothing left to do. After adding
slow tests, refresh that table with a whole run given ``--scope-seconds tests/scope_seconds.json``.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections import Counter, OrderedDict
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.chip.pcscd import PcscdStatus, ensure_pcscd, pcscd_available

# Bytecode is written and reused whatever the environment says (many containers set
# PYTHONDONTWRITEBYTECODE): the suite starts hundreds of Python processes (egate commands,
# lanes, consoles), each of which would otherwise compile the project's modules again
# (~0.2 s apiece), and each xdist worker would rewrite every test module's asserts again
# (~4.5 s) on every run. Set here, before the workers and the test modules, so a plain
# ``python -m pytest`` runs as ``make pytest`` does.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

PCSC_SKIP = "PC/SC path unavailable: "
PCSC_GROUP = "pcsc"  # the xdist group of the tests that share the system pcscd
SCOPE_SECONDS = Path(__file__).with_name("tests") / "scope_seconds.json"
UNMEASURED_TEST_SECONDS = 0.4  # a test of a unit not in SCOPE_SECONDS: about the mean


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--scope-seconds",
        metavar="PATH",
        default=None,
        help="write the seconds each unit of work took (an xdist group or a module; "
        "setup, call and teardown) to PATH as JSON: the table conftest.py schedules by",
    )


def scope_of(nodeid: str) -> str:
    """The unit of work of a test: its xdist group (``...@pcsc``), else its module."""
    _, at, group = nodeid.rpartition("@")
    if at and "]" not in group:
        return group
    return nodeid.split("::", 1)[0]


@functools.cache
def scope_seconds() -> dict[str, float]:
    """Measured seconds of each unit of work (empty where the table is missing)."""
    try:
        table = json.loads(SCOPE_SECONDS.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in table.items()}


def longest_first(workqueue: dict[str, dict[str, bool]]) -> OrderedDict[str, dict[str, bool]]:
    """The units of work, the longest first (a stable sort: ties keep their order)."""
    known = scope_seconds()

    def seconds(unit: tuple[str, dict[str, bool]]) -> float:
        scope, tests = unit
        return known.get(scope, UNMEASURED_TEST_SECONDS * len(tests))

    return OrderedDict(sorted(workqueue.items(), key=seconds, reverse=True))


class ScopeTimer:
    """Adds up, on the xdist controller, the seconds of each unit of work (``--scope-seconds``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: Counter[str] = Counter()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[scope_of(report.nodeid)] += report.duration

    def pytest_sessionfinish(self) -> None:
        table = {scope: round(s, 1) for scope, s in sorted(self.seconds.items())}
        self.path.write_text(json.dumps(table, indent=1) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--scope-seconds")
    if path and not hasattr(config, "workerinput"):
        config.pluginmanager.register(ScopeTimer(Path(path)), "scope-seconds")


@functools.cache
def pcsc_problem() -> str | None:
    """Why the PC/SC + vpcd path cannot run here (asked once per session), or None."""
    return pcscd_available()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("pcsc") is not None:
        problem = pcsc_problem()
        if problem:
            pytest.skip(PCSC_SKIP + problem)
    if item.get_closest_marker("pcsc_isolated") is not None:
        from tests.drivers.chip.isolated import isolation_problem

        problem = isolation_problem()
        if problem:
            pytest.skip(problem)


def uses_shared_pcscd(item: pytest.Item) -> bool:
    """Whether ``item`` may talk to the system pcscd and its vpcd readers (an isolated test
    runs its own, in private namespaces)."""
    if {"pcscd", "pcsc_path"} & set(getattr(item, "fixturenames", ())):
        return True
    marked = item.get_closest_marker("pcsc") is not None
    return marked and item.get_closest_marker("pcsc_isolated") is None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return  # -p no:xdist: there is no xdist_group marker to add
    for item in items:
        if uses_shared_pcscd(item):
            item.add_marker(pytest.mark.xdist_group(PCSC_GROUP))


@pytest.hookimpl(tryfirst=True)  # before xdist sends the node ids to the scheduler
def pytest_collection_finish(session: pytest.Session) -> None:
    """Node ids an xdist worker can schedule, under pytest 9.2 and pytest-xdist 3.8:

    * schemathesis gives every API operation of ``test_api_fuzz`` the same node id (the
      operation is only in the item's name); xdist keys its work by node id, so it ran the
      first operation and silently dropped the other ten. Duplicates are named here.
    * xdist names an item's group in its node id (``...@pcsc``) by setting ``_nodeid``,
      which pytest 9.2 no longer reads (the id is a structured ``_id``): ``--dist loadgroup``
      ran grouped tests on any worker. The group is named here where xdist could not.
    """
    if not hasattr(session.config, "workerinput"):
        return  # not an xdist worker: nothing is scheduled by node id
    grouping = getattr(session.config.option, "loadgroup", False)
    seen = Counter(item.nodeid for item in session.items)
    for item in session.items:
        nodeid = item.nodeid
        if seen[nodeid] > 1 and item.parent is not None:
            nodeid = f"{item.parent.nodeid}::{item.name}"
        marks = list(item.iter_markers("xdist_group")) if grouping else []
        if marks and "@" not in nodeid.rpartition("]")[2]:
            names = {str(m.args[0]) if m.args else m.kwargs.get("name", "default") for m in marks}
            nodeid = f"{nodeid}@{'_'.join(sorted(names))}"
        if nodeid == item.nodeid:
            continue
        if hasattr(item, "_id"):
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(nodeid)  # noqa: SLF001  # pytest >= 9.2
        else:
            item._nodeid = nodeid  # noqa: SLF001


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist loadgroup`` here: a test with an ``xdist_group`` runs on the worker of its
    group; every other test with the rest of its module (as ``--dist loadfile``), so a
    module's fixtures are built once, not once per worker. The units go out longest first
    (xdist's own order is by number of tests: a module of one 30 s test came last)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupOrModule(LoadScopeScheduling):  # type: ignore[misc]
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

        def _assign_work_unit(self, node: object) -> None:
            if not self.ordered:  # the first hand-out: the queue holds every unit
                self.workqueue = longest_first(self.workqueue)
                self.ordered = True
            super()._assign_work_unit(node)

    return GroupOrModule(config, log)


@pytest.fixture(scope="module")
def pcscd() -> Iterator[PcscdStatus]:
    """A running pcscd listing the vpcd readers (one reused, or one started for the module)."""
    problem = pcsc_problem()
    if problem:
        pytest.skip(PCSC_SKIP + problem)
    with ensure_pcscd() as status:
        yield status


@pytest.fixture
def pcsc_path() -> bool:
    """True where the PC/SC + vpcd path can run (the test then reads the chips through it),
    False where it cannot (the test reads them in process)."""
    return pcsc_problem() is None


@pytest.fixture(scope="module")
def pack_folder() -> Path:
    """The default face pack's folder (skips with the reason where it is not prepared)."""
    from gate.errors import ModelError
    from models.pack import pack_dir

    try:
        return pack_dir(None)
    except ModelError as exc:
        pytest.skip(f"face model pack not prepared ({exc})")
