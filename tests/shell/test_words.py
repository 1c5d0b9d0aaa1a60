"""Splitting shell lines: quoting as sh does, and key=value keyword arguments."""

from __future__ import annotations

import pytest

from shoal.shell.words import LineSyntaxError, quote, split_line, split_partial


@pytest.mark.parametrize(("line", "words"), [
    pytest.param("deploy v1", [("deploy", None), ("v1", None)], id="plain"),
    pytest.param("  deploy \t v1  ", [("deploy", None), ("v1", None)], id="blanks"),
    pytest.param("say 'two words'", [("say", None), ("two words", None)], id="single"),
    pytest.param('say "a \\"b\\" \\\\ \\x"', [("say", None), ('a "b" \\ \\x', None)],
                 id="double-escapes"),
    pytest.param("say it\\'s", [("say", None), ("it's", None)], id="backslash"),
    pytest.param("say ''", [("say", None), ("", None)], id="empty-word"),
    pytest.param("run tag=v1.2", [("run", None), ("tag=v1.2", "tag")], id="keyword"),
    pytest.param("run msg='a b'", [("run", None), ("msg=a b", "msg")], id="keyword-quoted"),
    pytest.param("run a=b=c", [("run", None), ("a=b=c", "a")], id="first-equals"),
    pytest.param("run 'a=b'", [("run", None), ("a=b", None)], id="quoted-equals"),
    pytest.param("run a\\=b", [("run", None), ("a=b", None)], id="escaped-equals"),
    pytest.param("run 1x=2", [("run", None), ("1x=2", None)], id="not-an-identifier"),
    pytest.param("run =x", [("run", None), ("=x", None)], id="no-name"),
])
def test_split_line(line: str, words: list[tuple[str, str | None]]) -> None:
    assert [(w.text, w.keyword) for w in split_line(line)] == words


def test_a_keyword_word_gives_its_value_and_where_it_starts() -> None:
    word = split_line("deploy  force=yes")[1]
    assert (word.keyword, word.value, word.start) == ("force", "yes", 8)


@pytest.mark.parametrize(("line", "message"), [
    pytest.param("say 'oops", "bad quoting at column 5: this ' is never closed", id="single"),
    pytest.param('say a "b', 'bad quoting at column 7: this " is never closed', id="double"),
    pytest.param("say oops\\", "bad quoting at column 9: a backslash ends the line",
                 id="backslash"),
])
def test_bad_quoting_is_one_line_with_the_column(line: str, message: str) -> None:
    with pytest.raises(LineSyntaxError) as caught:
        split_line(line)
    assert str(caught.value) == message


def test_partial_lines_never_fail() -> None:
    words, last = split_partial("cd 'Web")
    assert [w.text for w in words] == ["cd"] and last is not None and last.text == "Web"
    assert split_partial("cd Web ")[1] is None
    assert split_partial("x\\")[1] is not None


@pytest.mark.parametrize("text", ["web1", "a b", "it's", "", "a=b", "$HOME", "tab\there"])
def test_quote_round_trips(text: str) -> None:
    assert [w.text for w in split_line(quote(text))] == [text]
    assert split_line(quote(text))[0].keyword is None
