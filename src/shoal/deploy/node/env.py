"""The ``Env``: a node wrapped for running, and ``self`` in every action.

``Env(node, pty, logger, is_sandbox)`` proxies the node: actions come back callable in
this environment, child nodes come back wrapped the same way, and properties and queries
are evaluated as they are read. It adds ``hosts`` (bound to the terminal, the logger and
the sandbox flag), ``console`` and ``initialize_node``; it cannot be changed.

Calling an action:

* logs it as a group (its name and arguments) and runs it with ``self`` = the Env;
* turns any exception into :class:`~shoal.deploy.exceptions.ActionException`;
* on a failed command (:class:`~shoal.deploy.exceptions.ExecCommandFailed`) applies the
  failure policy ``on_failure``: ``"ask"`` prompts Retry / Skip / Abort on an
  interactive terminal (abort otherwise), ``"abort"`` and ``"skip"`` decide without
  asking. Retry runs the action again, skip returns a :class:`SkippedTaskResult`;
* on a ParallelNode that is not yet isolated, runs the action in every isolation at
  once, each in a greenlet on shoal's loop (no thread per host), and returns a
  :class:`ParallelActionResult`; if some isolations failed, the others still run to
  their end, then :class:`~shoal.deploy.exceptions.ParallelActionException` says which
  failed and carries the results of the rest;
* called from outside any action, first checks that no required property is missing on
  the node, below it or above it, and fails before anything runs if one is.

Differences from python-deployer: isolations run concurrently in every mode (not one
terminal window each, nor one after the other); a failure in several isolations names
them all; ``cd``/``prefix``/``env`` contexts carry into child-node actions; the failure
policy can skip without asking; required properties are checked before the action runs.
"""

from __future__ import annotations

import contextvars
import functools
import os
import sys
import traceback
from collections.abc import Iterator
from typing import Any, Literal, NoReturn

from shoal.deploy._fanout import run_all
from shoal.deploy.console import Console
from shoal.deploy.exceptions import ActionException, ExecCommandFailed, ParallelActionException
from shoal.deploy.host_container import HostContainer, HostPool, HostsContainer, silent_pty
from shoal.deploy.loggers import DefaultLogger, DummyLoggerInterface, LoggerInterface
from shoal.deploy.node.base import (
    Action,
    EnvBase,
    Node,
    ParallelNode,
    get_node_path,
    unfilled_required_properties,
)
from shoal.deploy.pseudo_terminal import Pty

__all__ = ["FAILURE_POLICIES", "Env", "EnvAction", "ParallelActionResult", "SkippedTaskResult"]

FailurePolicy = Literal["ask", "abort", "skip"]

#: What an ``Env`` does when a command fails: ask (interactive), abort, or skip the action.
FAILURE_POLICIES: tuple[FailurePolicy, ...] = ("ask", "abort", "skip")

#: True while an action runs (in this context): nested calls skip the up-front checks.
_in_action: contextvars.ContextVar[bool] = contextvars.ContextVar("shoal_in_action",
                                                                   default=False)


class Env(EnvBase):
    """A node ready to run: ``self`` inside its actions.

    :param node: the node to wrap.
    :param pty: the terminal (a silent, non-interactive one when None).
    :param logger: where commands and actions are logged (nowhere when None).
    :param is_sandbox: check commands instead of running them.
    :param on_failure: the failure policy, one of :data:`FAILURE_POLICIES` (``"ask"``
        when None).
    :param pool: the host instances to share (a fresh pool when None); child Envs share
        their parent's.
    """

    _pty: Pty
    _logger: LoggerInterface
    _is_sandbox: bool
    _on_failure: FailurePolicy
    _pool: HostPool
    _hosts: HostsContainer

    def __new__(cls, node: Node, *args: Any, **kwargs: Any) -> Env:
        # A node with a default action (__call__) makes a callable Env.
        return super().__new__(_CallableEnv if cls is Env and callable(node) else cls)

    def __init__(self, node: Node, pty: Pty | None = None, logger: LoggerInterface | None = None,
                 is_sandbox: bool = False, *, on_failure: FailurePolicy | None = None,
                 pool: HostPool | None = None) -> None:
        if not isinstance(node, Node) or isinstance(node, EnvBase):
            raise TypeError(f"Env() wraps a node, not {node!r}")
        if on_failure is not None and on_failure not in FAILURE_POLICIES:
            raise ValueError(f"on_failure {on_failure!r}: choose one of {FAILURE_POLICIES}")
        set_ = object.__setattr__
        set_(self, "_node", node)
        set_(self, "_pty", pty if pty is not None else silent_pty())
        set_(self, "_logger", logger if logger is not None else DummyLoggerInterface())
        set_(self, "_is_sandbox", bool(is_sandbox))
        set_(self, "_on_failure", on_failure or "ask")
        set_(self, "_pool", pool if pool is not None else HostPool(self._pty, self._logger))
        set_(self, "_hosts", HostsContainer(node._node_roles, self._pty, self._logger,
                                            self._is_sandbox, pool=self._pool))

    @classmethod
    def default_from_node(cls, node: Node) -> Env:
        """An Env on this process's stdin/stdout, not interactive, logging to stdout."""
        pty = Pty(stdin=sys.stdin, stdout=sys.stdout, interactive=False,
                  term_var=os.environ.get("TERM", ""))
        logger = LoggerInterface()
        logger.attach(DefaultLogger())
        return cls(node, pty=pty, logger=logger)

    def __repr__(self) -> str:
        return f"Env({get_node_path(self._node)})"

    # -- what an Env adds ---------------------------------------------------------------

    @property
    def hosts(self) -> HostsContainer:
        """The node's hosts by role, bound to this Env's terminal, logger and sandbox."""
        return self._hosts

    @property
    def console(self) -> Console:
        """Questions and output helpers on this Env's terminal."""
        return Console(self._pty)

    def initialize_node(self, node_class: type[Node]) -> Env:
        """Make a node from a class defined on the fly and wrap it like this Env.

        Its ``class Hosts:`` may take hosts from this Env (``web = self.hosts.filter("web")``);
        they stay the same hosts, contexts included.
        """
        return self._wrap_node(node_class())

    # -- proxying the node --------------------------------------------------------------

    def _wrap_node(self, node: Node, pool: HostPool | None = None,
                   logger: LoggerInterface | None = None) -> Env:
        return Env(node, self._pty, logger if logger is not None else self._logger,
                   self._is_sandbox, on_failure=self._on_failure,
                   pool=pool if pool is not None else self._pool)

    def _wrap_action(self, action: Action, auto_evaluate: bool = True) -> Any:
        env_action = EnvAction(self, action)
        if auto_evaluate and (action.is_property or action.is_query):
            return env_action._evaluate()
        return env_action

    def _fork(self, logger: LoggerInterface) -> Env:
        """The same node with hosts of its own that report to ``logger``, to run alongside
        other isolations."""
        return self._wrap_node(self._node, pool=self._pool.fork(logger), logger=logger)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        node = self.__dict__.get("_node")
        if node is None:  # not set up yet: nothing to proxy
            raise AttributeError(name)
        if name == "host":
            return self._isolated_host()
        try:
            attr = getattr(node, name)
        except AttributeError:
            raise AttributeError(f"{node!r} has no attribute {name!r}") from None
        if isinstance(attr, Action):
            return self._wrap_action(attr)
        if isinstance(attr, Node):
            return self._wrap_node(attr)
        return attr

    def _isolated_host(self) -> HostContainer:
        if isinstance(self._node, ParallelNode) and self._node._node_is_isolated:
            hosts = self._hosts.filter("host")
            if len(hosts) == 1:
                return hosts[0]
        raise AttributeError(f"{self._node!r} has no 'host': only an isolation of a "
                             "ParallelNode has one (use self.hosts)")

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"an Env cannot be changed ({name}={value!r}): keep state in "
                             "variables of the action, or return it")

    def __iter__(self) -> Iterator[Env]:
        for node in self._node:
            yield self._wrap_node(node)

    def __getitem__(self, item: Any) -> Env:
        return self._wrap_node(self._node[item])


class _CallableEnv(Env):
    """An Env whose node has a default action (``__call__``)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._wrap_action(self._node.__call__)(*args, **kwargs)  # type: ignore[operator]


class EnvAction:
    """An action bound to an :class:`Env`: calling it runs it there (see the module)."""

    def __init__(self, env: Env, action: Action) -> None:
        self._env = env
        self._action = action

    def __repr__(self) -> str:
        return f"<Env.Action {get_node_path(self._env._node)}.{self._action.name}>"

    @property
    def name(self) -> str:
        """The action's name."""
        return self._action.name

    @property
    def node(self) -> Env:
        """The Env it runs in."""
        return self._env

    @property
    def func(self) -> Any:
        """The function behind it (for its signature, source and documentation)."""
        return self._action._func

    @property
    def suppress_result(self) -> bool:
        """Whether its result is not to be printed."""
        return self._action.suppress_result

    @property
    def is_property(self) -> bool:
        """Whether it is a property."""
        return self._action.is_property

    @property
    def is_query(self) -> bool:
        """Whether it is a query."""
        return self._action.is_query

    def _evaluate(self, *args: Any, **kwargs: Any) -> Any:
        """A property's or query's value; failures become ActionException."""
        try:
            return self._action._func(self._env, *args, **kwargs)
        except ActionException:
            raise
        except Exception as exc:
            raise ActionException(exc, traceback.format_exc()) from exc

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._action.is_property or self._action.is_query:
            return self._evaluate(*args, **kwargs)
        if _in_action.get():
            return self._call(*args, **kwargs)
        missing = unfilled_required_properties(self._env._node)
        if missing:
            error = NotImplementedError("; ".join(missing))
            raise ActionException(error, "")
        token = _in_action.set(True)
        try:
            return self._call(*args, **kwargs)
        finally:
            _in_action.reset(token)

    def _call(self, *args: Any, **kwargs: Any) -> Any:
        env = self._env
        node = env._node
        func = self._action._func
        if (not isinstance(node, ParallelNode) or node._node_is_isolated
                or getattr(func, "dont_isolate_yet", False)):
            return self._run_on_node(env, *args, **kwargs)
        isolations = list(env)
        if not isolations:
            env._logger.log_msg(f"Nothing to do: {node!r} has no hosts for {self.name}")
            return ParallelActionResult([])
        if getattr(func, "isolate_one_only", False) and len(isolations) > 1:
            options = [(f"{i.host.slug}    [{i.host.address}]", i) for i in isolations]
            chosen = env.console.choice("Choose a host", options, allow_random=True)
            return self._run_on_node(chosen, *args, **kwargs)
        if len(isolations) == 1:
            return ParallelActionResult([(isolations[0],
                                          self._run_on_node(isolations[0], *args, **kwargs))])
        entries = [env._logger.log_fork(get_node_path(i)) for i in isolations]
        forks = [i._fork(e.get_logger_interface()) for i, e in zip(isolations, entries,
                                                                      strict=True)]
        outcomes = run_all([functools.partial(self._run_on_node, fork, *args, **kwargs)
                            for fork in forks])
        for entry, outcome in zip(entries, outcomes, strict=True):
            if outcome.error is None:
                entry.set_succeeded()
            else:
                entry.set_failed(outcome.error)
        result = ParallelActionResult([(f, o.value) for f, o in zip(forks, outcomes, strict=True)
                                       if o.error is None])
        failures = {f: _as_action_exception(o.error)
                    for f, o in zip(forks, outcomes, strict=True) if o.error is not None}
        if failures:
            raise ParallelActionException(failures, result, len(forks))
        return result

    def _run_on_node(self, isolation: Env, *args: Any, **kwargs: Any) -> Any:
        """Run the action once, in ``isolation``, with the failure policy."""
        func = self._action._func
        with isolation._logger.group(func.__name__, *args, **kwargs):
            while True:
                try:
                    return func(isolation, *args, **kwargs)
                except ActionException:
                    raise
                except ExecCommandFailed as exc:
                    isolation._logger.log_exception(exc)
                    decision = _decide(isolation, exc)
                    if decision == "retry":
                        continue
                    if decision == "skip":
                        return SkippedTaskResult(isolation, self._action.name, exc)
                    raise ActionException(exc, traceback.format_exc()) from exc
                except Exception as exc:
                    wrapped = ActionException(exc, traceback.format_exc())
                    isolation._logger.log_exception(wrapped)
                    raise wrapped from exc


def _as_action_exception(error: Exception) -> ActionException:
    if isinstance(error, ActionException):
        return error
    return ActionException(error, "".join(traceback.format_exception(error)))


def _decide(env: Env, error: ExecCommandFailed) -> str:
    """Retry, skip or abort after ``error``, as the Env's failure policy says."""
    policy = env._on_failure
    console = env.console
    if policy != "ask" or not console.is_interactive:
        return "skip" if policy == "skip" else "abort"
    slug = getattr(error.host, "slug", error.host)
    return console.choice(
        f"{slug}: {error.command!r} failed with status {error.status_code}. Continue?",
        [("Retry", "retry"), ("Skip (the action returns a SkippedTaskResult)", "skip"),
         ("Abort", "abort")], default="abort")


class SkippedTaskResult:
    """What an action skipped after a failed command returns; reading any of its
    attributes raises, so code that uses it fails loudly."""

    def __init__(self, node: Env, action: str, error: ExecCommandFailed) -> None:
        object.__setattr__(self, "_skipped", (node, action, error))

    def __getattribute__(self, name: str) -> NoReturn:
        node, action, _ = object.__getattribute__(self, "_skipped")
        raise AttributeError(f"{node!r}.{action} was skipped after a failed command: "
                             f"its result has no attribute {name!r}")

    def __repr__(self) -> str:
        node, action, error = object.__getattribute__(self, "_skipped")
        return f"<skipped {get_node_path(node)}.{action}: {error}>"


class ParallelActionResult(dict[Env, Any]):
    """The results of an action run in every isolation: ``{isolation Env: result}``.

    Iterating yields the results (not the keys), as python-deployer does, so ``for rev in
    self.Web.deploy()`` reads well; ``keys()``, ``values()`` and ``items()`` work as on a
    dict. Its repr names each isolation's host.
    """

    def __iter__(self) -> Iterator[Any]:
        return iter(self.values())

    def __repr__(self) -> str:
        return "{ " + ", ".join(f"<{_label(i)}>: {v!r}" for i, v in self.items()) + " }"


def _label(isolation: Env) -> str:
    try:
        return str(isolation.host.slug)
    except AttributeError:
        return get_node_path(isolation)
