"""What Tab offers, and what a line means: commands, nodes, isolations, actions, keywords."""

from __future__ import annotations

import pytest
from support.shell_site import Site

from shoal.errors import UsageError
from shoal.shell.commands import ActionCall, BuiltinCall, parse
from shoal.shell.completion import candidates
from shoal.shell.navigation import ShellState


def offered(state: ShellState, line: str) -> list[str]:
    found, _ = candidates(state, line)
    return [c.text for c in found]


@pytest.fixture
def state() -> ShellState:
    return ShellState(Site())


def test_the_first_word_offers_commands_children_and_actions(state: ShellState) -> None:
    words = offered(state, "")
    assert {"cd ", "ls ", "--inspect ", "sandbox ", "Live ", "Web ", "hello "} <= set(words)
    assert "return " not in words  # only in a subshell
    assert offered(state, "he") == ["help ", "hello "]


def test_after_cd_only_nodes(state: ShellState) -> None:
    assert offered(state, "cd ") == ["Live ", "Web "]
    assert offered(state, "cd Web ") == [":local1 ", ":local2 "]
    assert offered(state, "cd Web :local1 ..") == ["..  "[:3]]


def test_path_words_then_actions_then_keywords(state: ShellState) -> None:
    assert offered(state, "Web ") == [":local1 ", ":local2 ", "fail ", "slow "]
    assert offered(state, "Web sl") == ["slow "]
    assert offered(state, "Web slow ") == ["seconds="]
    assert offered(state, "hello name=x ") == ["greeting="]
    assert offered(state, "sandbox Web s") == ["slow "]
    assert offered(state, "nope ") == []


def test_inspect_offers_queries_and_properties(state: ShellState) -> None:
    found, start = candidates(state, "--inspect next")
    assert [c.text for c in found] == ["next_port "] and start == -4
    assert found[0].display_text == "next_port?"
    assert [c.display_text for c in candidates(state, "Web s")[0]] == ["slow*"]


def test_a_quoted_word_completes_from_where_it_starts(state: ShellState) -> None:
    found, start = candidates(state, "cd 'We")
    assert [c.text for c in found] == ["Web "] and start == -3


def test_parse_reads_paths_actions_and_arguments(state: ShellState) -> None:
    call = parse(state, "Web :local2 slow 3")
    assert isinstance(call, ActionCall)
    assert (call.label, call.args, call.kwargs) == ("Site.Web[local2].slow", ("3",), {})
    call = parse(state, "hello 'big world' greeting=hi")
    assert isinstance(call, ActionCall)
    assert (call.args, call.kwargs) == (("big world",), {"greeting": "hi"})
    assert isinstance(parse(state, "cd Web"), BuiltinCall)
    assert parse(state, "   ") is None
    call = parse(state, "Live")
    assert isinstance(call, ActionCall) and call.action is None  # its default action
    with pytest.raises(UsageError, match="greeting=hi: Site has no child node or action"):
        parse(state, "greeting=hi hello")
