"""The exchange with a running command: output shown and kept, sudo's prompt answered.

Pure logic: a recording stand-in for the process takes what the exchange writes.
"""

from __future__ import annotations

from shoal.deploy.host.exchange import Exchange
from shoal.deploy.loggers import Logger, LoggerInterface, RunCallback, RunEntry
from shoal.deploy.pseudo_terminal import DummyPty
from shoal.hosts import Process

PROMPT = "[sudo] password (shoal 0123456789abcdef): "


class Recorder(Process):
    def __init__(self) -> None:
        self.written: list[bytes | None] = []
        self.stopped = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def write_eof(self) -> None:
        self.written.append(None)

    def resize(self, columns: int, rows: int) -> None:
        """Not used here."""

    def stop(self) -> None:
        self.stopped = True

    async def wait(self) -> int:
        return 0


class Lines(Logger):
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def log_run(self, run_entry: RunEntry) -> RunCallback:
        lines = self.lines

        class Callback(RunCallback):
            def output(self, stream: str, line: str) -> None:
                lines.append((stream, line))

        return Callback()


def exchange(**options: object) -> tuple[Exchange, Recorder, DummyPty, Lines]:
    pty, lines, process = DummyPty(), Lines(), Recorder()
    interface = LoggerInterface()
    interface.attach(lines)
    entry = interface.log_run("host", command="cmd")
    entry.__enter__()
    ex = Exchange("web1", pty, entry, **options)  # type: ignore[arg-type]
    ex.attach(process)
    return ex, process, pty, lines


def test_output_is_shown_by_line_and_stdout_kept() -> None:
    ex, process, pty, lines = exchange()
    ex.stdout(b"one\ntw")
    assert pty.get_output() == "one\n"
    ex.stderr(b"warn")
    ex.stdout(b"o\nthree")
    assert ex.finish() == "one\ntwo\nthree"
    assert pty.get_output() == "one\ntwo\nthree\n[stderr] warn\n"  # partial lines at the end
    assert lines.lines == [("stdout", "one"), ("stdout", "two"), ("stdout", "three"),
                           ("stderr", "warn")]
    assert process.written == [None]  # no input: the command's stdin is closed at once


def test_without_interactive_stdout_is_kept_but_not_shown() -> None:
    ex, _, pty, _ = exchange(show_stdout=False)
    ex.stdout(b"secret-ish\n")
    ex.stderr(b"oops\n")
    assert ex.finish() == "secret-ish\n"
    assert pty.get_output() == "[stderr] oops\n"


def test_bytes_that_are_not_utf8_are_shown_replaced_and_returned_intact() -> None:
    ex, _, pty, _ = exchange()
    ex.stdout(b"caf\xc3")  # a character cut in two, then a byte that is no UTF-8
    ex.stdout(b"\xa9 \xff\n")
    result = ex.finish()
    assert pty.get_output() == "café \ufffd\n"
    assert result.encode("utf-8", "surrogateescape") == b"caf\xc3\xa9 \xff\n"


def test_the_prompt_is_answered_once_even_cut_in_pieces_and_never_shown() -> None:
    ex, process, pty, lines = exchange(prompt=PROMPT, password="s3cret", stdin=b"input")
    cut = PROMPT.encode()
    ex.stderr(b"lecture\n" + cut[:10])
    assert process.written == []  # nothing yet: not the prompt for sure, not input
    ex.stderr(cut[10:])
    ex.stdout(b"0\n")
    assert process.written == [b"s3cret\n", b"input", None]
    assert ex.finish() == "0\n"
    assert ex.prompts == 1 and ex.failure is None
    shown = pty.get_output() + repr(lines.lines)
    assert "s3cret" not in shown and "shoal 0123" not in shown
    assert pty.get_output() == "[stderr] lecture\n0\n"


def test_a_second_prompt_means_the_password_was_refused() -> None:
    ex, process, pty, _ = exchange(prompt=PROMPT, password="wrong")
    ex.stderr(PROMPT.encode())
    ex.stderr(b"Sorry, try again.\n" + PROMPT.encode())
    ex.stderr(b"\nsudo: no password was provided\n")  # after the stop: not shown
    assert (ex.failure, process.stopped) == ("rejected", True)
    assert process.written == [b"wrong\n", None]  # the password, then the end of input
    ex.finish()
    assert pty.get_output() == "[stderr] Sorry, try again.\n"


def test_a_prompt_without_a_password_stops_the_command() -> None:
    ex, process, _, _ = exchange(prompt=PROMPT, password=None)
    ex.stderr(PROMPT.encode())
    assert (ex.failure, process.stopped) == ("no password", True)


def test_with_no_password_to_give_stdin_goes_at_once() -> None:
    _, process, _, _ = exchange(prompt=PROMPT, password=None, stdin=b"data")
    assert process.written == [b"data", None]


def test_stdin_waits_for_sudo_until_the_command_speaks() -> None:
    # sudo did not ask (a NOPASSWD rule): the first output says the command runs.
    ex, process, _, _ = exchange(prompt=PROMPT, password="pw", stdin=b"data")
    assert process.written == []
    ex.stdout(b"ready\n")
    assert process.written == [b"data", None]
    ex.stderr(b"text like [sudo] password (shoal\n")
    assert ex.finish() == "ready\n" and ex.prompts == 0


def test_a_prompt_before_the_process_is_attached_is_answered_on_attach() -> None:
    pty, process = DummyPty(), Recorder()
    ex = Exchange("web1", pty, None, prompt=PROMPT, password="pw")
    ex.stderr(PROMPT.encode())
    ex.attach(process)
    assert process.written == [b"pw\n", None]


def test_in_a_terminal_the_prompt_comes_on_the_one_stream_and_its_newline_goes() -> None:
    ex, process, pty, _ = exchange(prompt=PROMPT, password="pw", terminal=True,
                                   stdin=b"typed")
    ex.stdout(PROMPT.encode())
    ex.stdout(b"\r\n")
    ex.stdout(b"0\r\n")
    assert process.written == [b"pw\n", b"typed"]  # no end of input on a terminal
    assert ex.finish() == "0\r\n"
    assert pty.get_output() == "0\r\n"  # raw, as it came
