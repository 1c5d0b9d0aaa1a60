"""Decorators that change how an action runs: python-deployer's, with the same names.

They only mark the function; :class:`~shoal.deploy.node.Env` reads the marks when the
action is called. This module imports nothing from shoal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["alias", "dont_isolate_yet", "isolate_one_only", "suppress_action_result"]

F = TypeVar("F", bound=Callable[..., Any])


def suppress_action_result(action: F) -> F:
    """Do not print the action's return value (the shell and ``--run`` print it otherwise).

    For actions that print what matters themselves, while the value still serves callers.
    """
    action.suppress_result = True  # type: ignore[attr-defined]
    return action


def dont_isolate_yet(func: F) -> F:
    """On a ParallelNode not yet split into isolations, run once with all its hosts.

    Actions it calls without this mark then fan out per isolation: ask a question once
    (which revision to deploy), then run everywhere. Called from inside an isolation, the
    action stays in that isolation.
    """
    func.dont_isolate_yet = True  # type: ignore[attr-defined]
    return func


def isolate_one_only(func: F) -> F:
    """With several isolations, run on one only: the user picks it, or, non-interactive,
    one is picked at random (a database client needs one host, not all)."""
    func.isolate_one_only = True  # type: ignore[attr-defined]
    return func


def alias(name: str) -> Callable[[F], F]:
    """Make the action reachable under ``name`` too; stack it for several names.

    ``name`` need not be a Python identifier (``"db.migrate"``): reach it with ``getattr``
    or from the shell.
    """

    def decorator(func: F) -> F:
        aliases: list[str] = getattr(func, "action_alias", [])
        func.action_alias = [*aliases, name]  # type: ignore[attr-defined]
        return func

    return decorator
