"""ClusterShell 1.10.1's own node set tests, run against shoal.

``./bootstrap setup`` unpacks ClusterShell's source distribution into
``.venv/share/clustershell-1.10.1`` (its code and tests are not part of shoal). This module
loads four of its test files (``RangeSetTest``, ``RangeSetNDTest``, ``NodeSetTest``,
``NodeSetGroupTest``, with their helper ``TLib``) through a thin import shim: fake
``ClusterShell.RangeSet``, ``ClusterShell.NodeSet`` and ``ClusterShell.NodeUtils`` modules
that map ClusterShell's names and constructor arguments onto shoal's, and nothing else. The
shim stays in ``sys.modules`` while each test runs (a pickle naming ``ClusterShell.NodeSet``
finds shoal there, not the ClusterShell installed in the venv), and is taken away after.

Every TestCase is collected by pytest. The tests in :data:`EXPECTED_FAILURES` are marked
``xfail(strict=True)``: each must still fail, so an unexpected pass fails the run as an
unexpected failure does. docs/nodeset-compat.md explains each difference.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import time
import types
import unittest
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import shoal.errors as errors
import shoal.nodeset as nodeset
import shoal.nodeset.groups as groups

#: Where ./bootstrap setup unpacks ClusterShell's sdist (in the venv running the tests).
SDIST = Path(sys.prefix) / "share" / "clustershell-1.10.1"
TESTS = SDIST / "tests"
#: The test files run here, in this order.
TEST_FILES = ("RangeSetTest", "RangeSetNDTest", "NodeSetTest", "NodeSetGroupTest")
#: Package name the test files are loaded under (``from .TLib import *`` needs one).
PACKAGE = "clustershell_1_10_1_tests"


# -- the shim ----------------------------------------------------------------------------------


class UpcallGroupSource(groups.UpcallGroupSource):
    """ClusterShell's constructor: one argument per upcall."""

    def __init__(self, name: str, map_upcall: str | None = None, all_upcall: str | None = None,
                 list_upcall: str | None = None, reverse_upcall: str | None = None,
                 cfgdir: str | None = None, cache_time: float | None = None,
                 mapall_upcall: str | None = None) -> None:
        upcalls = {"map": map_upcall, "all": all_upcall, "list": list_upcall,
                   "reverse": reverse_upcall, "mapall": mapall_upcall}
        super().__init__(name, {kind: command for kind, command in upcalls.items() if command},
                         cfgdir=cfgdir, cache_time=cache_time)


class GroupResolver(groups.GroupResolver):
    """ClusterShell's constructor: a default source (``illegal_chars`` is always shoal's)."""

    def __init__(self, default_source: groups.GroupSource | None = None,
                 illegal_chars: Iterable[str] | None = None) -> None:
        super().__init__([] if default_source is None else [default_source])


def GroupResolverConfig(
    filenames: str | Iterable[str], illegal_chars: Iterable[str] | None = None
) -> groups.GroupResolver:
    """ClusterShell's constructor: groups.conf paths (shoal reads the first that exists)."""
    paths = [filenames] if isinstance(filenames, str) else list(filenames)
    return groups.GroupResolver.from_search_path(paths)


def YAMLGroupLoader(
    filename: str, cache_time: float | None = None
) -> groups.YAMLGroupFile:
    """ClusterShell's YAMLGroupLoader is shoal's YAMLGroupFile."""
    return groups.YAMLGroupFile(filename, cache_time=cache_time)


def _module(name: str, **names: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(names)
    return module


def shim_modules() -> dict[str, types.ModuleType]:
    """The fake ``ClusterShell`` package: ClusterShell's names bound to shoal's objects."""
    rangeset = _module(
        "ClusterShell.RangeSet",
        AUTOSTEP_DISABLED=nodeset.AUTOSTEP_DISABLED,
        RangeSet=nodeset.RangeSet,
        RangeSetND=nodeset.RangeSetND,
        RangeSetParseError=errors.RangeSetParseError,
    )
    nodeutils = _module(
        "ClusterShell.NodeUtils",
        GroupResolver=GroupResolver,
        GroupResolverConfig=GroupResolverConfig,
        GroupResolverConfigError=errors.ConfigError,
        GroupResolverError=errors.ShoalError,
        GroupResolverIllegalCharError=errors.GroupSourceError,
        GroupResolverSourceError=errors.UnknownGroupSourceError,
        GroupSource=groups.GroupSource,
        GroupSourceError=errors.GroupSourceError,
        GroupSourceNoUpcall=errors.GroupSourceNoUpcallError,
        GroupSourceQueryFailed=errors.GroupSourceError,
        UpcallGroupSource=UpcallGroupSource,
        YAMLGroupLoader=YAMLGroupLoader,
        time=time,  # NodeSetGroupTest gets it from "from ClusterShell.NodeUtils import *"
    )
    nodeset_module = _module(
        "ClusterShell.NodeSet",
        AUTOSTEP_DISABLED=nodeset.AUTOSTEP_DISABLED,
        ILLEGAL_GROUP_CHARS=groups.ILLEGAL_GROUP_CHARS,
        NodeSet=nodeset.NodeSet,
        NodeSetBase=nodeset.NodeSetBase,
        NodeSetError=errors.NodeSetError,
        NodeSetExternalError=errors.NodeSetExternalError,
        NodeSetParseError=errors.NodeSetParseError,
        NodeSetParseRangeError=errors.NodeSetParseRangeError,
        NodeUtils=nodeutils,
        RESOLVER_NOGROUP=nodeset.NO_GROUPS,
        RESOLVER_STD_GROUP=None,
        RangeSet=nodeset.RangeSet,
        RangeSetND=nodeset.RangeSetND,
        RangeSetParseError=errors.RangeSetParseError,
        expand=nodeset.expand,
        fold=nodeset.fold,
        grouplist=nodeset.grouplist,
        set_std_group_resolver=groups.set_std_group_resolver,
        std_group_resolver=groups.std_group_resolver,
    )
    package = _module("ClusterShell", NodeSet=nodeset_module, NodeUtils=nodeutils,
                      RangeSet=rangeset)
    package.__path__ = []
    return {"ClusterShell": package, "ClusterShell.NodeSet": nodeset_module,
            "ClusterShell.NodeUtils": nodeutils, "ClusterShell.RangeSet": rangeset}


SHIM = shim_modules()


@contextmanager
def shim_installed() -> Iterator[None]:
    """Put the shim in place of any ClusterShell in ``sys.modules``, then restore it."""
    saved = {name: module for name, module in sys.modules.items()
             if name == "ClusterShell" or name.startswith("ClusterShell.")}
    for name in saved:
        del sys.modules[name]
    sys.modules.update(SHIM)
    try:
        yield
    finally:
        for name in SHIM:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def load_test_modules() -> dict[str, types.ModuleType]:
    """Import ClusterShell's test files from the sdist, with the shim in place."""
    package = sys.modules.get(PACKAGE)
    if package is None:
        package = types.ModuleType(PACKAGE)
        package.__path__ = [str(TESTS)]
        sys.modules[PACKAGE] = package
    with shim_installed():
        return {name: importlib.import_module(f"{PACKAGE}.{name}") for name in TEST_FILES}


# -- expected failures --------------------------------------------------------------------------

PICKLE = "loads a pickle ClusterShell made (its private state); shoal pickles its own"
CONFIG_AT_LOAD = ("groups.conf and its files are checked when the resolver is built: the "
                  "ConfigError comes then, not at the first question")
STATIC_SOURCE = ("StaticGroupSource overrides ClusterShell's private "
                 "UpcallGroupSource._upcall_read and reads _cache")

#: "File.Class.method" -> why it fails (docs/nodeset-compat.md has the details).
EXPECTED_FAILURES: dict[str, str] = {
    # ClusterShell's pickles
    **{f"RangeSetTest.RangeSetTest.test_unpickle_{v}": PICKLE for v in (
        "v1_3_py24", "v1_3_py26", "v1_4_py26", "v1_5_py24", "v1_5_py26", "v1_6_py24",
        "v1_6_py26", "v1_8_4_py27")},
    **{f"NodeSetTest.NodeSetTest.test_{v}": PICKLE for v in (
        "unpickle_v1_3_py24", "unpickle_v1_3_py26", "unpickle_v1_4_py26",
        "unpickle_v1_5_py24", "unpickle_v1_5_py26", "unpickle_v1_6_py24",
        "unpickle_v1_6_py26", "unpickle_v1_7_3_py27", "unpickle_v1_8_4_py27",
        "nd_unpickle_v1_6_py26", "nd_unpickle_v1_7_3_py27")},
    # ClusterShell's private internals
    "RangeSetNDTest.RangeSetNDTest.test_fold": "reads the private RangeSetND._veclist",
    "NodeSetTest.NodeSetTest.testNodeWithPercent": "calls the private NodeSet._fromlist1",
    "NodeSetTest.NodeSetTest.testRangeSetEntryMismatch": "calls the private NodeSet._add",
    "NodeSetTest.NodeSetTest.test_internal_mismatch": "writes the private NodeSet._patterns",
    **{f"NodeSetGroupTest.GroupSourceCacheTest.{t}": STATIC_SOURCE for t in (
        "test_clear_cache", "test_expired_cache", "test_expired_cache_reverse")},
    **{f"NodeSetGroupTest.GroupSourceMapallTest.test_mapall_{t}": STATIC_SOURCE for t in (
        "all_nodes_single_call", "basic", "blank_lines_ignored", "cache_time_zero",
        "clear_cache", "duplicate_groups_union", "empty_group", "empty_output", "expiry",
        "overrides_list", "parse_error_retry", "with_map_fallback")},
    # differences shoal makes on purpose
    "RangeSetTest.RangeSetTest.testAddRange":
        "add_range() of an empty range raises ValueError, not AssertionError",
    "NodeSetTest.NodeSetTest.testWhitespaceInsideNodeName":
        'a node name holding whitespace ("tigrou 0") is refused',
    "NodeSetTest.NodeSetTest.test_nd_fold_axis_errors":
        "a bad fold_axis is a TypeError when it is set, not a NodeSetParseError at str()",
    "NodeSetGroupTest.NodeSetGroupTest.testConfigEmpty":
        "with no group source, regroup() folds plainly and @bar is an unknown group",
    "NodeSetGroupTest.NodeSetGroupTest.testConfigResolverEmpty":
        "with no group source, regroup() folds plainly and @bar is an unknown group",
    "NodeSetGroupTest.NodeSetGroupTest.testConfigQueryFailed":
        "a map upcall exiting non-zero means an unknown group, which regroup() skips",
    "NodeSetGroupTest.NodeSetGroupTest.testGroupResolverAddSourceError":
        "adding a source twice is a UsageError (shoal's API misuse), not a ValueError",
    "NodeSetGroupTest.NodeSetGroupTest.test_nodeset_wildcard_grouplist":
        'group names are always checked: "b*" holds "*"',
    "NodeSetGroupTest.GroupResolverYAMLTest.test_yaml_basic":
        "@unknown is an unknown group, an error, not an empty node set",
    "NodeSetGroupTest.GroupSourceMapallTest.test_no_upcalls_lazy_error":
        "an upcall source without map or mapall is refused when built (UsageError)",
    "NodeSetGroupTest.GroupSourceTest.test_base_class0":
        "sources answer group_nodes()/all_nodes() with lists of words (no resolv_*)",
    "NodeSetGroupTest.GroupSourceTest.test_base_class1":
        "sources answer group_nodes()/all_nodes() with lists of words (no resolv_*)",
    "NodeSetGroupTest.GroupSourceTest.test_base_class2":
        "sources answer group_nodes()/all_nodes() with lists of words (no resolv_*)",
    "NodeSetGroupTest.YAMLGroupLoaderTest.test_iter":
        "reads source.groups, an attribute of ClusterShell's FileGroupSource only",
    "NodeSetGroupTest.YAMLGroupLoaderTest.test_missing_pyyaml":
        "PyYAML is a dependency of shoal, loaded before the test can hide it",
    **{f"NodeSetGroupTest.NodeSetGroupTest.{t}": CONFIG_AT_LOAD for t in (
        "testConfigBasicWrongDefault", "testConfigGroupsDirDupConfig",
        "testConfigGroupsDirNotADirectory", "testConfigNoMap", "testConfigWrongSyntax")},
    **{f"NodeSetGroupTest.GroupResolverYAMLTest.{t}": CONFIG_AT_LOAD for t in (
        "test_wrong_autodir", "test_wrong_autodir_is_file", "test_yaml_invalid_groups_not_dict",
        "test_yaml_invalid_not_yaml", "test_yaml_invalid_root_dict", "test_yaml_unsafe_yaml")},
    "NodeSetGroupTest.GroupSourceMapallTest.test_config_map_or_mapall_required": CONFIG_AT_LOAD,
}
if os.geteuid() != 0:  # root reads any file: the test returns at once
    EXPECTED_FAILURES["NodeSetGroupTest.GroupResolverYAMLTest.test_yaml_permission_denied"] = (
        "an unreadable group file is a ConfigError when the configuration is read")


# -- collection ---------------------------------------------------------------------------------


def _expect_failure(func: Callable[..., Any], reason: str) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(self: unittest.TestCase) -> Any:
        return func(self)

    return pytest.mark.xfail(strict=True, reason=reason)(wrapper)


def _collect(modules: dict[str, types.ModuleType]) -> dict[str, type[unittest.TestCase]]:
    """Subclasses of every TestCase of the test files, expected failures marked."""
    found: dict[str, type[unittest.TestCase]] = {}
    for file, module in modules.items():
        for name, cls in vars(module).items():
            if not (isinstance(cls, type) and issubclass(cls, unittest.TestCase)
                    and cls.__module__ == module.__name__):
                continue
            marks: dict[str, Any] = {}
            for attr in dir(cls):
                reason = EXPECTED_FAILURES.get(f"{file}.{name}.{attr}")
                if reason is not None:
                    marks[attr] = _expect_failure(getattr(cls, attr), reason)
            found[f"{file}_{name}"] = type(f"{file}_{name}", (cls,), {
                **marks, "__module__": __name__, "__qualname__": f"{file}_{name}"})
    return found


MODULES = load_test_modules() if TESTS.is_dir() else {}
globals().update(_collect(MODULES))


@pytest.fixture(autouse=True)
def _clustershell_is_shoal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep the shim in sys.modules while a test runs (pickles look names up there).

    ClusterShell's tests leave the files of TLib.make_temp_file() open (a failing test
    keeps them alive in its traceback): they are closed after each test.
    """
    opened: list[Any] = []
    if MODULES:
        tlib = sys.modules[f"{PACKAGE}.TLib"]
        original = tlib.make_temp_file

        def make_temp_file(*args: Any, **kwargs: Any) -> Any:
            opened.append(original(*args, **kwargs))
            return opened[-1]

        for module in (tlib, MODULES["NodeSetGroupTest"]):
            monkeypatch.setattr(module, "make_temp_file", make_temp_file)
    with shim_installed():
        yield
    for tmp in opened:
        tmp.close()


def test_clustershell_tests_are_installed() -> None:
    """The suite is there: never skipped, a missing sdist fails with what to do."""
    if not TESTS.is_dir():
        pytest.fail(f"ClusterShell 1.10.1's tests are missing from {TESTS}: "
                    "run ./bootstrap setup", pytrace=False)
    assert sorted(MODULES) == sorted(TEST_FILES)


def test_tests_use_shoal_not_clustershell() -> None:
    """Every object the test files imported from ClusterShell is shoal's (or the shim's)."""
    assert MODULES, "ClusterShell's tests are not loaded"
    leaked = [
        f"{file}.{name}"
        for file, module in MODULES.items()
        for name, value in vars(module).items()
        if getattr(value, "__module__", None) is not None
        and str(getattr(value, "__module__", "")).startswith("ClusterShell")
    ]
    assert leaked == []
    assert MODULES["NodeSetTest"].NodeSet is nodeset.NodeSet
    assert MODULES["RangeSetTest"].RangeSet is nodeset.RangeSet


def test_expected_failures_name_real_tests() -> None:
    """Every listed expected failure is a test of the suite (no stale entries)."""
    assert MODULES, "ClusterShell's tests are not loaded"
    known = {
        f"{file}.{name}.{attr}"
        for file, module in MODULES.items()
        for name, cls in vars(module).items()
        if isinstance(cls, type) and issubclass(cls, unittest.TestCase)
        for attr in dir(cls) if attr.startswith("test")
    }
    assert sorted(set(EXPECTED_FAILURES) - known) == []
