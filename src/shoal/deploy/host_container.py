"""Proxies to the hosts of a node: ``self.hosts`` (many) and ``self.host`` (one).

:class:`HostsContainer` maps role names to hosts. ``run`` and ``sudo`` run the command on
every host at once (concurrently on shoal's loop) and return a :class:`HostsResult`: a
list of outputs, one per host in order, that also says which host gave which.
:class:`HostContainer` wraps exactly one host: ``run`` returns its output, and it has the
file operations (``open``, ``put_file``, ``get_file``).

Host instances come from a :class:`HostPool`: every container of one running action
tree draws the same instance for the same host class. Contexts (``cd()``, ``prefix()``,
``env()``) belong to the host class and to the flow of control that entered them
(:mod:`shoal.deploy.host.context`), so a ``cd()`` entered on ``self.hosts`` holds in the
actions of child nodes too, and isolations running at once never see each other's. A
parallel isolation gets a pool of its own, for its own logger.

Differences from python-deployer: a host listed in two roles is one host (one command,
one result, counted once); hosts keep the order they were written in (a set's hosts are
in slug order); ``[i]`` accepts any index; ``sandbox=False`` cannot switch a sandboxed
run back to real execution.
"""

from __future__ import annotations

import contextlib
import re
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from shoal.deploy._fanout import run_all
from shoal.deploy.host import Host
from shoal.deploy.pseudo_terminal import DummyPty, Pty

if TYPE_CHECKING:
    from shoal.deploy.loggers import LoggerInterface

__all__ = ["HostContainer", "HostPool", "HostsContainer", "HostsResult", "silent_pty"]

T = TypeVar("T")
HostSpec = type[Host] | Host


def _natural(slug: str) -> list[Any]:
    """Sort key that puts node2 before node10."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", slug)]


def ordered(hosts: Iterable[HostSpec]) -> list[HostSpec]:
    """``hosts`` in a stable order: a set's in slug order, anything else as given."""
    if isinstance(hosts, set | frozenset):
        return sorted(hosts, key=lambda h: _natural(h.slug))
    return list(hosts)


def silent_pty() -> Pty:
    """A terminal that asks nothing and keeps what it is shown (a DummyPty), whose input
    pipe is closed when it goes."""
    pty = DummyPty()
    weakref.finalize(pty, pty.stdin.close)
    return pty


class HostPool:
    """The :class:`Host` instances of one running action tree, one per host class, bound
    to one terminal (a :func:`silent_pty` when None) and one logger."""

    def __init__(self, pty: Pty | None = None, logger: LoggerInterface | None = None) -> None:
        self.pty = pty if pty is not None else silent_pty()
        self.logger = logger
        self._hosts: dict[type[Host], Host] = {}

    def get(self, host_class: type[Host]) -> Host:
        """This pool's instance of ``host_class``, made on first use."""
        host = self._hosts.get(host_class)
        if host is None:
            host = self._hosts[host_class] = host_class(pty=self.pty, logger=self.logger)
        return host

    def fork(self, logger: LoggerInterface) -> HostPool:
        """A pool for one isolation: the same terminal, the isolation's ``logger``."""
        return HostPool(self.pty, logger)


class HostsResult(list[str]):
    """The outputs of one command on several hosts: a list, in host order.

    ``hosts`` names the host of each output (their slugs); ``items()`` pairs them.
    """

    def __init__(self, hosts: Iterable[str], outputs: Iterable[str]) -> None:
        super().__init__(outputs)
        self.hosts = list(hosts)

    def items(self) -> list[tuple[str, str]]:
        """``(slug, output)`` for every host, in order."""
        return list(zip(self.hosts, self, strict=True))


class _Contexts(contextlib.ExitStack):
    """Several hosts' context managers entered and left as one."""

    def __init__(self, managers: Iterable[contextlib.AbstractContextManager[Any]]) -> None:
        super().__init__()
        self._managers = list(managers)

    def __enter__(self) -> _Contexts:
        super().__enter__()
        for manager in self._managers:
            self.enter_context(manager)
        return self


class HostsContainer:
    """Proxy to a group of hosts, by role.

    ``hosts`` maps each role to host classes (or :class:`Host` instances): one class, a
    set, a tuple or a list of them. Containers made from one another share their hosts.

    :param pool: where host instances come from (a fresh pool when None).
    """

    def __init__(self, hosts: Mapping[str, HostSpec | Iterable[HostSpec]],
                 pty: Pty | None = None, logger: LoggerInterface | None = None,
                 is_sandbox: bool = False, *, pool: HostPool | None = None) -> None:
        self._pty = pty
        self._logger = logger
        self._sandbox = is_sandbox
        self._pool = pool if pool is not None else HostPool(pty, logger)
        self._hosts: dict[str, tuple[Host, ...]] = {}
        for role, spec in hosts.items():
            specs = [spec] if isinstance(spec, type | Host) else ordered(spec)
            _check_slugs(role, specs)
            instances: dict[int, Host] = {}
            for item in specs:
                host = self._instance(item)
                instances.setdefault(id(host), host)
            self._hosts[role] = tuple(instances.values())

    def _instance(self, item: HostSpec) -> Host:
        if isinstance(item, Host):
            return item
        if isinstance(item, type) and issubclass(item, Host):
            return self._pool.get(item)
        raise TypeError(f"not a host class: {item!r}")

    @classmethod
    def from_definition(cls, hosts_class: type, **kwargs: Any) -> HostsContainer:
        """A container from a ``class Hosts:`` definition (see :func:`roles_of`)."""
        return cls(roles_of(hosts_class), **kwargs)

    # -- what is in it ------------------------------------------------------------------

    @property
    def _all(self) -> list[Host]:
        """Every distinct host, in role order then host order."""
        seen: dict[int, Host] = {}
        for hosts in self._hosts.values():
            for host in hosts:
                seen.setdefault(id(host), host)
        return list(seen.values())

    def get_hosts(self) -> set[type[Host]]:
        """The set of host classes in this container."""
        return {type(h) for h in self._all}

    def get_hosts_as_dict(self) -> dict[str, set[type[Host]]]:
        """``{role: set of host classes}``."""
        return {role: {type(h) for h in hosts} for role, hosts in self._hosts.items()}

    def _classes_by_role(self) -> dict[str, tuple[type[Host], ...]]:
        """``{role: host classes in order}``, for role mappings."""
        return {role: tuple(type(h) for h in hosts) for role, hosts in self._hosts.items()}

    @property
    def roles(self) -> list[str]:
        """The role names, sorted."""
        return sorted(self._hosts)

    def __repr__(self) -> str:
        lines = "".join(f"   {role}: [{','.join(h.slug for h in self._hosts[role])}]\n"
                        for role in self.roles)
        return f"<{type(self).__name__}\n{lines}>"

    def __len__(self) -> int:
        """The number of distinct hosts (a host in two roles counts once)."""
        return len(self._all)

    def __bool__(self) -> bool:
        return bool(self._all)

    def __contains__(self, host: object) -> bool:
        """Whether ``host`` (a host class, instance, slug or HostContainer) is in here."""
        if isinstance(host, HostContainer):
            host = host._host
        if isinstance(host, str):
            return any(h.slug == host for h in self._all)
        if isinstance(host, Host):
            host = type(host)
        return host in self.get_hosts()

    def _new(self, hosts: Mapping[str, Iterable[HostSpec]]) -> HostsContainer:
        return HostsContainer(hosts, self._pty, self._logger, self._sandbox, pool=self._pool)

    def _new_1(self, host: Host) -> HostContainer:
        return HostContainer({"host": (host,)}, self._pty, self._logger, self._sandbox,
                             pool=self._pool)

    def filter(self, *roles: str) -> HostsContainer:
        """A container with the hosts of these roles only (an unknown role is empty).

        It shares the hosts: a ``cd()`` entered on it holds on this container too.
        """
        for role in roles:
            if not isinstance(role, str):
                raise TypeError(f"filter() takes role names, not {role!r}")
        return self._new({role: self._hosts.get(role, ()) for role in roles})

    def __getitem__(self, index: int) -> HostContainer:
        """The host at ``index`` (in order), as a :class:`HostContainer`."""
        return self._new_1(self._all[index])

    def __iter__(self) -> Iterator[HostContainer]:
        for host in self._all:
            yield self._new_1(host)

    # -- commands -----------------------------------------------------------------------

    def _each(self, function: Callable[[Host], T]) -> list[T]:
        """``function`` on every host at once; the first failure (in host order) is raised
        once all are done."""
        hosts = self._all
        outcomes = run_all([lambda h=h: function(h) for h in hosts])  # type: ignore[misc]
        for outcome in outcomes:
            if outcome.error is not None:
                raise outcome.error
        return [o.value for o in outcomes]  # type: ignore[misc]

    def run(self, command: str, use_sudo: bool = False, sandbox: bool = False,
            interactive: bool = True, user: str | None = None,
            ignore_exit_status: bool = False, initial_input: str | None = None,
            silent: bool = False) -> HostsResult:
        """Run ``command`` on every host at once; one output per host, in order.

        Arguments as :meth:`Host.run <shoal.deploy.host.Host.run>`. In a sandboxed
        ``Env`` the command is only checked, whatever ``sandbox`` says.

        :raises ExecCommandFailed: a host's command failed (the first host's, in order,
            once every host is done).
        """
        hosts = self._all

        def one(host: Host) -> str:
            return host.run(command, use_sudo=use_sudo, sandbox=self._sandbox or sandbox,
                            interactive=interactive, user=user,
                            ignore_exit_status=ignore_exit_status,
                            initial_input=initial_input, silent=silent)

        return HostsResult((h.slug for h in hosts), self._each(one))

    def sudo(self, command: str, sandbox: bool = False, interactive: bool = True,
             user: str | None = None, ignore_exit_status: bool = False,
             initial_input: str | None = None, silent: bool = False) -> HostsResult:
        """:meth:`run` with ``use_sudo=True``."""
        return HostsContainer.run(self, command, use_sudo=True, sandbox=sandbox,
                                  interactive=interactive, user=user,
                                  ignore_exit_status=ignore_exit_status,
                                  initial_input=initial_input, silent=silent)

    def prefix(self, command: str) -> contextlib.ExitStack:
        """Prefix every command on these hosts with ``command &&`` inside the ``with``."""
        return _Contexts(h.host_context.prefix(command) for h in self._all)

    def cd(self, path: str, expand: bool = False) -> contextlib.ExitStack:
        """Run commands on these hosts in ``path`` inside the ``with`` (nests).

        :param expand: expand a leading ``~`` on each host.
        """
        return _Contexts(h.host_context.cd(path, expand=expand) for h in self._all)

    def env(self, variable: str, value: str | None, escape: bool = True) -> contextlib.ExitStack:
        """Export ``variable=value`` for commands on these hosts inside the ``with``.

        :param escape: quote ``value`` for the shell; False lets it refer to ``$OTHER``.
        """
        return _Contexts(h.host_context.env(variable, value, escape=escape) for h in self._all)

    def getcwd(self) -> list[str]:
        """The working directory of each host, as commands would see it."""
        return [h.getcwd() for h in self._all]

    def expand_path(self, path: str) -> list[str]:
        """``path`` with ``~`` expanded, on each host."""
        return self._each(lambda h: h.expand_path(path))

    def exists(self, filename: str, use_sudo: bool = True) -> list[bool]:
        """Whether ``filename`` (a file or a directory) exists, on each host (in a
        sandbox, as the login user only: no sudo)."""
        return self._each(lambda h: h.exists(filename, use_sudo=use_sudo,
                                             sandbox=self._sandbox))

    def has_command(self, command: str, use_sudo: bool = False) -> list[bool]:
        """Whether the shell finds ``command``, on each host (in a sandbox, without sudo)."""
        sudo = use_sudo and not self._sandbox
        return self._each(lambda h: h.has_command(command, use_sudo=sudo))


class HostContainer(HostsContainer):
    """Proxy to exactly one host: ``run`` returns its output; file operations are here.

    Any other attribute is the host's (``address``, ``username``, ``stat``, ``listdir``,
    ``get_ip_address``, ``host_context``…).
    """

    @property
    def _host(self) -> Host:
        hosts = self._all
        if len(hosts) != 1:
            raise AttributeError(f"a HostContainer holds one host, not {len(hosts)}")
        return hosts[0]

    @property
    def slug(self) -> str:
        """The host's slug."""
        return self._host.slug

    def run(self, command: str, use_sudo: bool = False, sandbox: bool = False,  # type: ignore[override]
            interactive: bool = True, user: str | None = None,
            ignore_exit_status: bool = False, initial_input: str | None = None,
            silent: bool = False) -> str:
        """Run ``command`` on the host and return its output (see HostsContainer.run)."""
        return HostsContainer.run(self, command, use_sudo=use_sudo, sandbox=sandbox,
                                  interactive=interactive, user=user,
                                  ignore_exit_status=ignore_exit_status,
                                  initial_input=initial_input, silent=silent)[0]

    def sudo(self, command: str, sandbox: bool = False, interactive: bool = True,  # type: ignore[override]
             user: str | None = None, ignore_exit_status: bool = False,
             initial_input: str | None = None, silent: bool = False) -> str:
        """:meth:`run` with ``use_sudo=True``."""
        return self.run(command, use_sudo=True, sandbox=sandbox, interactive=interactive,
                        user=user, ignore_exit_status=ignore_exit_status,
                        initial_input=initial_input, silent=silent)

    def getcwd(self) -> str:  # type: ignore[override]
        """The host's working directory, as commands would see it."""
        return self._host.getcwd()

    def expand_path(self, path: str) -> str:  # type: ignore[override]
        """``path`` with ``~`` expanded on the host."""
        return self._host.expand_path(path)

    def exists(self, filename: str, use_sudo: bool = True) -> bool:  # type: ignore[override]
        """Whether ``filename`` (a file or a directory) exists on the host."""
        return HostsContainer.exists(self, filename, use_sudo)[0]

    def has_command(self, command: str, use_sudo: bool = False) -> bool:  # type: ignore[override]
        """Whether the shell on the host finds ``command``."""
        return HostsContainer.has_command(self, command, use_sudo)[0]

    def open(self, remote_path: str, mode: str = "rb", use_sudo: bool = False) -> Any:
        """Open a file on the host (as :meth:`Host.open`; sandboxed with the ``Env``)."""
        return self._host.open(remote_path, mode=mode, use_sudo=use_sudo,
                               sandbox=self._sandbox)

    def get_file(self, remote_path: str, local_path: str, use_sudo: bool = False) -> None:
        """Copy a file from the host here (sandboxed with the ``Env``)."""
        self._host.get_file(remote_path, local_path, use_sudo=use_sudo, sandbox=self._sandbox)

    def put_file(self, local_path: str, remote_path: str, use_sudo: bool = False) -> None:
        """Copy a local file to the host (sandboxed with the ``Env``)."""
        self._host.put_file(local_path, remote_path, use_sudo=use_sudo, sandbox=self._sandbox)

    def start_interactive_shell(self, command: str | None = None,
                                initial_input: str | None = None) -> None:
        """An interactive shell on the host (refused in sandbox mode)."""
        if self._sandbox:
            raise RuntimeError("no interactive shell in sandbox mode")
        self._host.start_interactive_shell(command=command, initial_input=initial_input)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._host, name)


def _check_slugs(role: str, hosts: Iterable[HostSpec]) -> None:
    """Refuse two different hosts with one slug in a role."""
    seen: dict[str, type[Host]] = {}
    for item in hosts:
        cls = item if isinstance(item, type) else type(item)
        other = seen.setdefault(item.slug, cls)
        if other is not cls:
            raise ValueError(f"role {role!r}: two hosts have the slug {item.slug!r} "
                             f"({other.__qualname__} and {cls.__qualname__})")


def roles_of(hosts_class: type, resolve: bool = True) -> dict[str, tuple[type[Host], ...]]:
    """The roles of a ``class Hosts:`` definition: ``{role: host classes in order}``.

    A role's value is a host class, a set, tuple or list of them, a node-set expression
    (each name a host class on the definition's ``_host_class``, else SSHHost; see
    :func:`~shoal.deploy.host_classes.host_classes`), or a :class:`HostsContainer`
    (``self.hosts.filter("web")`` for ``Env.initialize_node``). Names starting with ``_``
    are not roles.

    :param resolve: expand node-set expressions (False: check the definition only, and
        give node-set roles no hosts).
    :raises TypeError: a value is none of these.
    """
    from shoal.deploy.host_classes import host_classes

    base = getattr(hosts_class, "_host_class", None)
    roles: dict[str, tuple[type[Host], ...]] = {}
    for name in _names_in_order(hosts_class):
        if name.startswith("_"):
            continue
        value = getattr(hosts_class, name)
        if isinstance(value, HostsContainer):
            roles[name] = tuple(type(h) for h in value._all)
        elif isinstance(value, str):
            roles[name] = host_classes(value, base) if resolve else ()
        elif isinstance(value, type) and issubclass(value, Host):
            roles[name] = (value,)
        elif isinstance(value, set | frozenset | tuple | list) and all(
                isinstance(h, type) and issubclass(h, Host) for h in value):
            roles[name] = tuple(ordered(value))  # type: ignore[arg-type]
            _check_slugs(name, roles[name])
        else:
            raise TypeError(f"{hosts_class.__qualname__}.{name} = {value!r}: a role is a host "
                            "class, a set or tuple of them, or a node-set expression")
    return roles


def _names_in_order(cls: type) -> list[str]:
    """The attribute names of ``cls`` and its bases, bases' first, in definition order."""
    names: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        if klass is not object:
            names.update(dict.fromkeys(vars(klass)))
    return list(names)
