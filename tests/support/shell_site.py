"""A small deployment tree on two local hosts, for the shell's tests.

Its hosts are :class:`~shoal.deploy.host.LocalHost` classes: commands are real local
processes (``echo pid $$`` lets a test find them), with no SSH in between.
"""

from __future__ import annotations

from shoal.deploy.groups import production
from shoal.deploy.host import LocalHost
from shoal.deploy.node import Node, ParallelNode, map_roles
from shoal.deploy.query import Q


class Local1(LocalHost):
    slug = "local1"


class Local2(LocalHost):
    slug = "local2"


class Site(Node):
    """The whole site."""

    class Hosts:
        web = (Local1, Local2)

    port = 80
    next_port = Q.port + 1

    def hello(self, name: str = "world", greeting: str = "hello") -> str:
        """Say hello."""
        return f"{greeting} {name}"

    def ask(self) -> str:
        return "yes!" if self.console.confirm("Really?", default=False) else "no"  # type: ignore[attr-defined]

    def touch(self, path: str) -> None:
        self.hosts.filter("web")[0].run(f"touch {path}")

    def enter(self) -> object:
        return self.Live

    @production
    class Live(Node):
        def __call__(self) -> str:
            return "live and well"

        def uptime(self) -> object:
            return self.hosts.run("echo up; echo oops >&2")

    @map_roles(host="web")
    class Web(ParallelNode.Array):  # type: ignore[misc,name-defined]
        def slow(self, seconds: str = "2") -> str:
            self.host.run(f"echo pid $$; for i in $(seq {seconds}); do echo tick $i; "
                          "sleep 1; done")
            return "slept"

        def fail(self) -> None:
            self.host.run("false")

    def chatty(self) -> None:
        print("printed by the action")
        self.console.input("Password", is_password=True)  # type: ignore[attr-defined]

    def size(self) -> str:
        """The size of the terminal the action sees."""
        rows, columns = self.console.pty.get_size()  # type: ignore[attr-defined]
        return f"{rows} rows, {columns} columns"
