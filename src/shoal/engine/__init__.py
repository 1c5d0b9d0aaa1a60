"""The engine: one action fanned out over a node set, with events and gathered results.

Layer 3: imports :mod:`shoal.nodeset` and :mod:`shoal.hosts`. :class:`AsyncTask` is the
implementation; :class:`Task` is its blocking face.
"""

from __future__ import annotations

from shoal.engine.blocking import Task
from shoal.engine.capture import Capture, GroupCapture, Keep
from shoal.engine.events import (
    Event,
    Exited,
    Failed,
    GroupExited,
    GroupOutput,
    Handler,
    Output,
    Started,
    Stream,
)
from shoal.engine.gather import (
    DEFAULT_MAX_OUTPUT,
    PIECE_SIZE,
    Gatherer,
    Group,
    LineRows,
    Splitter,
)
from shoal.engine.results import NodeResult, Status, TaskResult
from shoal.engine.task import DEFAULT_FANOUT, AsyncTask
from shoal.errors import Interrupted

__all__ = [
    # tasks
    "AsyncTask",
    "DEFAULT_FANOUT",
    "Interrupted",
    "Task",
    # events
    "Event",
    "Exited",
    "Failed",
    "GroupExited",
    "GroupOutput",
    "Handler",
    "Output",
    "Started",
    "Stream",
    # output kept and passed on
    "Capture",
    "GroupCapture",
    "Keep",
    # gathering
    "DEFAULT_MAX_OUTPUT",
    "Gatherer",
    "Group",
    "LineRows",
    "PIECE_SIZE",
    "Splitter",
    # results
    "NodeResult",
    "Status",
    "TaskResult",
]
