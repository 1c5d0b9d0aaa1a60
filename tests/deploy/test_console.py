# Deployment trees are dynamic: an action's self is an Env, a child read on a node is a
# node, not its class, and ParallelNode.Array is made at run time. mypy sees the classes.
# mypy: disable-error-code="name-defined, misc, no-any-return, attr-defined, call-arg"
# mypy: disable-error-code="arg-type, comparison-overlap, index, valid-type"
"""The console of an action: questions (interactive or not), lists, progress bars, and
questions asked from isolations running at once."""

from __future__ import annotations

import io

import pytest

from shoal.deploy import Env, LocalHost, Node, ParallelNode, map_roles
from shoal.deploy.console import Console, NoInput, ProgressBarSteps
from shoal.deploy.pseudo_terminal import Pty


def console(answers: str = "", interactive: bool = True) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(Pty(stdin=io.StringIO(answers), stdout=out, interactive=interactive)), out


def test_input_reads_a_line_and_takes_the_default_on_enter() -> None:
    ask, out = console("hello world\n\n")
    assert ask.input("Name") == "hello world"
    assert ask.input("Colour", default="blue") == "blue"
    assert out.getvalue() == "  Name: " + "  Colour (default=blue): "


def test_input_insists_on_an_accepted_answer() -> None:
    ask, out = console("maybe\nyes\n")
    assert ask.input("Sure", answers=["yes", "no"]) == "yes"
    assert "Invalid answer." in out.getvalue()


def test_non_interactive_takes_the_default_without_reading() -> None:
    ask, out = console("ignored\n", interactive=False)
    assert ask.input("Revision", default="main") == "main"
    assert out.getvalue() == "  Revision (default=main): [non interactive] 'main'\n"
    assert ask.confirm("Go on?", default=True) is True


def test_end_of_input_is_no_input() -> None:
    ask, _ = console("")
    with pytest.raises(NoInput, match="end of input"):
        ask.input("Name")


def test_choice_numbers_the_sorted_options() -> None:
    ask, out = console("2\n")
    assert ask.choice("Which?", [("zebra", 26), ("apple", 1), ("mango", 13)]) == 13
    assert "         1 apple\n         2 mango\n         3 zebra\n" in out.getvalue()
    ask, _ = console("\n")
    assert ask.choice("Which?", [("a", "x"), ("b", "y")], default="y") == "y"
    ask, _ = console("", interactive=False)
    assert ask.choice("Which?", [("a", "x"), ("b", "y")], allow_random=True) in {"x", "y"}
    with pytest.raises(NoInput, match="no options"):
        ask.choice("Which?", [])


def test_confirm() -> None:
    ask, _ = console("n\nyes\n")
    assert ask.confirm("Delete?") is False
    assert ask.confirm("Really?") is True


def test_select_node_then_its_isolation() -> None:
    class H1(LocalHost):
        slug = "h1"

    class H2(LocalHost):
        slug = "h2"

    class Root(Node):
        class Hosts:
            web = (H1, H2)

        @map_roles(host="web")
        class Web(ParallelNode.Array):
            pass

        class Other(Node):
            pass

    ask, out = console("3\n2\n")  # Root.Web, then h2
    chosen = ask.select_node(Env(Root()))
    assert repr(chosen) == "Env(Root.Web[h2])"
    assert "1 Root\n" in out.getvalue() and "2 Root.Other\n" in out.getvalue()
    assert "h2 (localhost)" in out.getvalue()


def test_progress_bar_without_a_terminal_writes_its_last_state_once() -> None:
    ask, out = console()
    with ask.progress_bar("Copying", expected=4) as bar:
        for _ in range(4):
            bar.next()
    assert out.getvalue() == ("Copying: 4/4 [100% completed]  [0:00:00] [DONE]\n")
    ask, out = console()
    steps = ProgressBarSteps({1: "Resolving", 2: "Connecting"})
    with ask.progress_bar_with_steps("Link", steps) as bar:
        bar.set_progress(1)
        bar.set_progress(2)
    assert out.getvalue() == "Link: 2/2 [100% completed]  [0:00:00] [DONE]\n"


def test_columns_and_pages() -> None:
    ask, out = console(interactive=False)
    lines = list(ask.in_columns(["alpha", "beta", "gamma"] * 10))
    assert len(lines) == 3 and lines[0].startswith("alpha beta  gamma alpha")
    ask.lesspipe(str(i) for i in range(50))  # not a terminal: no pages
    assert out.getvalue().splitlines() == [str(i) for i in range(50)]


def test_isolations_ask_one_at_a_time_and_each_gets_an_answer() -> None:
    class Hosts(LocalHost):
        pass

    hosts = tuple(type(f"N{i}", (Hosts,), {"slug": f"n{i}"}) for i in range(3))

    class Root(Node):
        class Hosts:
            web = hosts

        @map_roles(host="web")
        class Web(ParallelNode.Array):
            def ask(self) -> str:
                return self.console.input(f"tag for {self.host.slug}")

    out = io.StringIO()
    pty = Pty(stdin=io.StringIO("a\nb\nc\n"), stdout=out, interactive=True)
    answers = Env(Root(), pty).Web.ask()
    assert sorted(answers) == ["a", "b", "c"]
    assert out.getvalue().count("  tag for n") == 3
