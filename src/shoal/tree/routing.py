"""Routing through the propagation tree: which gateway carries which targets.

A :class:`Topology` is the tree as seen from one host, its root: the root's own group
(``peers``, reached directly) and the first-level :class:`Group` objects, each a set of
sibling gateways with the groups below them, or a leaf (nodes the parent reaches
itself). A :class:`Router` plans a run over it: the targets the root reaches directly,
and for each first-level gateway the targets it carries, split evenly between siblings.
A gateway gets its own part of the tree (:meth:`Topology.part`, sent as JSON with
:meth:`Topology.to_dict`), rebuilds it with :meth:`Topology.from_dict` and routes its
next level with the same code.

>>> leaves = Group(NodeSet("n[1-10]"))
>>> topology = Topology("admin", [Group(NodeSet("gw[1-2]"), [leaves])])
>>> plan = Router(topology).plan(NodeSet("n[1-10],gw2,web1"))
>>> str(plan.direct), {gw: str(nodes) for gw, nodes in plan.parts.items()}
('gw2,web1', {'gw1': 'n[1-5]', 'gw2': 'n[6-10]'})
>>> plan.fanout(8)
{'admin': 2, 'gw1': 3, 'gw2': 3}
>>> part = Topology.from_dict(topology.part("gw1").to_dict())
>>> str(Router(part).plan(plan.parts["gw1"]).direct)
'n[1-5]'

-f is global (ClusterShell's #324): :meth:`Plan.fanout` splits it across the direct
targets and the gateways in proportion to their targets, at least 1 each. When a
gateway dies, :meth:`Router.reroute` hands the targets it had not started to its live
siblings.

Runs on the gateways too: imports only the standard library and :mod:`shoal.nodeset`,
and stays Python 3.6 code once annotations are stripped (no dataclasses, no typing
names at run time). No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from shoal.nodeset import NO_GROUPS, NodeSet

__all__ = [
    "FORMAT_VERSION",
    "Group",
    "Hop",
    "Plan",
    "Reroute",
    "Route",
    "Router",
    "Topology",
    "split_fanout",
]

#: version of the dictionary :meth:`Topology.to_dict` makes (the CFG payload's topology)
FORMAT_VERSION = 1

#: deepest tree :meth:`Topology.from_dict` accepts (a bound on recursion)
MAX_DEPTH = 64


def _nodes(text: Any, where: str) -> NodeSet:
    """A node set read from a dictionary: folded text, groups already resolved."""
    if not isinstance(text, str):
        raise ValueError(f"topology: {where} must be a node set as text")
    nodes = NodeSet(text, resolver=NO_GROUPS)
    if not nodes:
        raise ValueError(f"topology: {where} is an empty node set")
    return nodes


def _keys(data: Any, where: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    """``data`` as a dictionary with the ``required`` keys and none but ``optional``."""
    if not isinstance(data, dict):
        raise ValueError(f"topology: {where} must be an object")
    missing = sorted(required - set(data))
    unknown = sorted(set(data) - required - optional)
    if missing:
        raise ValueError(f"topology: {where} lacks {', '.join(missing)}")
    if unknown:
        raise ValueError(f"topology: {where} has unknown keys: {', '.join(unknown)}")
    return data


class Group:
    """Nodes at one place of the tree.

    With ``children``, ``nodes`` are sibling gateways that share the targets below them
    (the right sides of their routes); without, a leaf: nodes their parent reaches
    itself. ``rest``: gateways that carry every target found nowhere else in the
    topology (``--gateways``); such a group has no children. ``line`` is where the
    group was written in its file, for messages.

    >>> group = Group(NodeSet("gw[1-2]"), [Group(NodeSet("n[1-4]")), Group(NodeSet("m1"))])
    >>> group, str(group.below), group.has_gateways
    (Group('gw[1-2]', children=2), 'm1,n[1-4]', True)
    """

    __slots__ = ("_below", "children", "line", "nodes", "rest")

    def __init__(self, nodes: NodeSet, children: Iterable[Group] = (), rest: bool = False,
                 line: int | None = None) -> None:
        self.nodes = nodes.copy()
        self.children = tuple(children)
        self.rest = rest
        self.line = line
        if not self.nodes:
            raise ValueError("topology: a group has no node")
        if rest and self.children:
            raise ValueError("topology: gateways that take every other node have no children")
        below: NodeSet = NodeSet(resolver=NO_GROUPS)
        for child in self.children:
            below.update(child.nodes)
            below.update(child._below)
        self._below: NodeSet = below

    @property
    def has_gateways(self) -> bool:
        """Whether ``nodes`` are gateways (they carry targets), not a leaf."""
        return bool(self.children) or self.rest

    @property
    def below(self) -> NodeSet:
        """Every node below this group, at any depth (not ``rest``'s open-ended part)."""
        return self._below.copy()

    def subtree(self, targets: NodeSet) -> NodeSet:
        """The part of ``targets`` this group's gateways would carry (``rest`` aside)."""
        return targets & self._below

    def walk(self, depth: int = 0) -> Iterator[tuple[int, Group]]:
        """This group and the groups below it, depth first, with their depth."""
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)

    def to_dict(self) -> dict[str, Any]:
        """This group as JSON-able data (``line`` is left out)."""
        data: dict[str, Any] = {"nodes": str(self.nodes)}
        if self.children:
            data["groups"] = [child.to_dict() for child in self.children]
        if self.rest:
            data["rest"] = True
        return data

    @classmethod
    def from_dict(cls, data: Any, depth: int = 1) -> Group:
        """A group from :meth:`to_dict`'s data.

        :raises ValueError: the data is malformed or nested deeper than :data:`MAX_DEPTH`.
        """
        if depth > MAX_DEPTH:
            raise ValueError(f"topology: deeper than {MAX_DEPTH} levels")
        data = _keys(data, "a group", {"nodes"}, {"groups", "rest"})
        nodes = _nodes(data["nodes"], "a group's nodes")
        groups = data.get("groups", [])
        rest = data.get("rest", False)
        if not isinstance(groups, list) or not isinstance(rest, bool):
            raise ValueError(f"topology: group {nodes}: groups must be a list, rest a boolean")
        return cls(nodes, [cls.from_dict(child, depth + 1) for child in groups], rest)

    def __repr__(self) -> str:
        extra = ", rest=True" if self.rest else ""
        return f"Group({str(self.nodes)!r}, children={len(self.children)}{extra})"


class Topology:
    """The propagation tree as seen from ``root``, the host that routes with it.

    ``groups`` are the first-level groups (gateways, and leaves the root reaches
    itself); ``peers`` the root's own group (the left side of a route that holds the
    root, root included), reached directly. ``source`` names where the tree came from
    (a file, ``--gateways``), for messages. Nodes found nowhere in the tree are reached
    directly, unless a ``rest`` group takes them.

    :raises ValueError: ``root`` is not one node of ``peers``, a node is in two places,
        or a ``rest`` group is below the first level or not alone.

    >>> topology = Topology("admin", [Group(NodeSet("gw[1-2]"), [Group(NodeSet("n[1-4]"))])])
    >>> str(topology.gateways()), str(topology.nodes())
    ('gw[1-2]', 'admin,gw[1-2],n[1-4]')
    """

    __slots__ = ("groups", "peers", "root", "source")

    def __init__(self, root: str, groups: Iterable[Group], peers: NodeSet | None = None,
                 source: str | None = None) -> None:
        self.root = root
        self.groups = tuple(groups)
        self.peers = NodeSet(root, resolver=NO_GROUPS) if peers is None else peers.copy()
        self.source = source
        if root not in self.peers or len(NodeSet(root, resolver=NO_GROUPS)) != 1:
            raise ValueError(f'topology: root "{root}" is not one node of "{self.peers}"')
        seen = self.peers.copy()
        rests = [g for depth, g in self.walk() if g.rest and depth == 0]
        count = len(seen)
        for depth, group in self.walk():
            if group.rest and depth > 0:
                raise ValueError("topology: only first-level gateways may take every other node")
            seen.update(group.nodes)
            count += len(group.nodes)
        if count != len(seen):
            raise ValueError("topology: a node is in two places of the tree")
        if len(rests) > 1:
            raise ValueError("topology: two groups of gateways take every other node")

    def walk(self) -> Iterator[tuple[int, Group]]:
        """Every group of the tree, depth first, with its depth (0: first level)."""
        for group in self.groups:
            yield from group.walk()

    def gateways(self) -> NodeSet:
        """Every gateway of the tree, at any depth."""
        found = NodeSet(resolver=NO_GROUPS)
        for _, group in self.walk():
            if group.has_gateways:
                found.update(group.nodes)
        return found

    def nodes(self) -> NodeSet:
        """Every node the tree names: the root's group, the gateways and the leaves."""
        found = self.peers.copy()
        for _, group in self.walk():
            found.update(group.nodes)
        return found

    def rest(self) -> Group | None:
        """The first-level gateways that take every other node, if any."""
        return next((group for group in self.groups if group.rest), None)

    def locate(self, node: str) -> tuple[tuple[Group, ...], Group | None]:
        """Where ``node`` is: the gateway groups that carry it from the first level
        down, and the group that lists it (None: the root's group or nowhere).

        >>> topology = Topology("admin", [Group(NodeSet("gw1"), [Group(NodeSet("n1"))])])
        >>> topology.locate("n1")
        ((Group('gw1', children=1),), Group('n1', children=0))
        >>> topology.locate("web1")
        ((), None)
        """
        chain: list[Group] = []
        groups = self.groups
        while True:
            for group in groups:
                if node in group.nodes:
                    return tuple(chain), group
                if node in group._below:
                    chain.append(group)
                    groups = group.children
                    break
            else:
                rest = self.rest()
                if chain or rest is None or node in self.peers:
                    return tuple(chain), None
                return (rest,), None

    def part(self, gateway: str) -> Topology:
        """The part of the tree below ``gateway``, as the gateway sees it: the tree it
        routes with (what :meth:`to_dict` sends it in CFG).

        :raises ValueError: ``gateway`` is no gateway of this tree.
        """
        for _, group in self.walk():
            if gateway in group.nodes and group.has_gateways:
                return Topology(gateway, group.children, source=self.source)
        raise ValueError(f'topology: "{gateway}" is not a gateway of this tree')

    def to_dict(self) -> dict[str, Any]:
        """The tree as JSON-able data; :meth:`from_dict` reads it back."""
        return {"version": FORMAT_VERSION, "root": self.root, "peers": str(self.peers),
                "groups": [group.to_dict() for group in self.groups]}

    @classmethod
    def from_dict(cls, data: Any) -> Topology:
        """A tree from :meth:`to_dict`'s data, checked as the constructor checks it.

        :raises ValueError: the data is malformed (one line saying what).
        """
        data = _keys(data, "the tree", {"version", "root", "groups"}, {"peers"})
        if data["version"] != FORMAT_VERSION:
            raise ValueError(f"topology: version {data['version']!r} is not "
                             f"{FORMAT_VERSION}")
        root = data["root"]
        if not isinstance(root, str) or not root:
            raise ValueError("topology: root must be a node name")
        if not isinstance(data["groups"], list):
            raise ValueError("topology: groups must be a list")
        peers = _nodes(data["peers"], "peers") if "peers" in data else None
        return cls(root, [Group.from_dict(group) for group in data["groups"]], peers)

    def __repr__(self) -> str:
        return f"Topology({self.root!r}, groups={len(self.groups)})"


def split_fanout(total: int, counts: Mapping[str, int]) -> dict[str, int]:
    """Split the fan-out ``total`` across parts in proportion to their ``counts`` of
    targets, at least 1 each (parts without targets get nothing).

    The shares add up to ``total`` when it is at least the number of parts; below, each
    part gets 1. Rounding gives the leftover to the largest remainders, the first part
    first on a tie.

    >>> split_fanout(64, {"admin": 10, "gw1": 500, "gw2": 490})
    {'admin': 1, 'gw1': 32, 'gw2': 31}
    >>> split_fanout(2, {"gw1": 5, "gw2": 5, "gw3": 5})
    {'gw1': 1, 'gw2': 1, 'gw3': 1}

    :raises ValueError: ``total`` is less than 1.
    """
    if total < 1:
        raise ValueError(f"fan-out {total}: must be 1 or more")
    free = {key: count for key, count in counts.items() if count > 0}
    shares = dict.fromkeys(free, 1)
    budget = total
    # A part whose proportional share is under 1 gets 1; the others share what is left.
    while free:
        weight = sum(free.values())
        small = [key for key, count in free.items() if budget * count < weight]
        if not small or budget <= len(free):
            break
        for key in small:
            del free[key]
            budget -= 1
    if budget <= len(free):
        return shares
    weight = sum(free.values())
    remainders = []
    for index, (key, count) in enumerate(free.items()):
        share, remainder = divmod(budget * count, weight)
        shares[key] = share
        remainders.append((-remainder, index, key))
    for _, _, key in sorted(remainders)[: budget - sum(shares[key] for key in free)]:
        shares[key] += 1
    return shares


def _cut(pieces: list[NodeSet], count: int) -> list[NodeSet]:
    """The pieces, one after the other, cut into at most ``count`` chunks whose sizes
    differ by one at most (larger first); a piece is split only where it must be."""
    queue = [piece for piece in pieces if piece]
    total = sum(len(piece) for piece in queue)
    size, extra = divmod(total, count)
    chunks = []
    index = offset = 0
    for number in range(min(count, total)):
        want = size + (1 if number < extra else 0)
        chunk = NodeSet(resolver=NO_GROUPS)
        while want:
            piece = queue[index]
            take = min(want, len(piece) - offset)
            chunk.update(piece[offset:offset + take])
            offset += take
            want -= take
            if offset == len(piece):
                index += 1
                offset = 0
        chunks.append(chunk)
    return chunks


class Plan:
    """How one host reaches a set of targets (:meth:`Router.plan`).

    ``direct``: targets it reaches itself; ``parts``: first-level gateway -> the targets
    it carries (gateways without targets left out), in node set order; ``unreachable``:
    targets below a group whose gateways are all dead. ``root`` names the host.
    """

    __slots__ = ("direct", "parts", "root", "unreachable")

    def __init__(self, root: str, direct: NodeSet, parts: dict[str, NodeSet],
                 unreachable: NodeSet) -> None:
        self.root = root
        self.direct = direct
        self.parts = parts
        self.unreachable = unreachable

    def fanout(self, total: int) -> dict[str, int]:
        """The fan-out ``total`` split across the direct targets (key: :attr:`root`) and
        the gateways (see :func:`split_fanout`)."""
        counts = {self.root: len(self.direct)}
        counts.update((gateway, len(nodes)) for gateway, nodes in self.parts.items())
        return split_fanout(total, counts)

    def __repr__(self) -> str:
        parts = ", ".join(f"{gw}: {nodes}" for gw, nodes in self.parts.items())
        return f"Plan(direct={str(self.direct)!r}, parts={{{parts}}}, " \
               f"unreachable={str(self.unreachable)!r})"


class Reroute:
    """Where the targets of a dead gateway go (:meth:`Router.reroute`): ``parts``, live
    sibling -> targets it takes; ``stranded``: targets no live sibling can take."""

    __slots__ = ("parts", "stranded")

    def __init__(self, parts: dict[str, NodeSet], stranded: NodeSet) -> None:
        self.parts = parts
        self.stranded = stranded

    def fanout(self, total: int) -> dict[str, int]:
        """The dead gateway's fan-out share ``total`` split across the takers."""
        return split_fanout(total, {gw: len(nodes) for gw, nodes in self.parts.items()})

    def __repr__(self) -> str:
        parts = ", ".join(f"{gw}: {nodes}" for gw, nodes in self.parts.items())
        return f"Reroute(parts={{{parts}}}, stranded={str(self.stranded)!r})"


class Hop:
    """One gateway on a route (:class:`Route`): ``gateway`` chosen in ``group``,
    ``alternatives`` its live siblings (which would take over), ``dead`` the dead ones."""

    __slots__ = ("alternatives", "dead", "gateway", "group")

    def __init__(self, gateway: str, group: Group, alternatives: NodeSet,
                 dead: NodeSet) -> None:
        self.gateway = gateway
        self.group = group
        self.alternatives = alternatives
        self.dead = dead

    def __repr__(self) -> str:
        return f"Hop({self.gateway!r}, alternatives={str(self.alternatives)!r})"


class Route:
    """How a target is reached (:meth:`Router.explain`).

    ``hops``: the gateways it goes through, first level first (none: reached directly
    by the root); ``group``: the group of the tree that lists it (None: the root's own
    group, or not in the tree); ``blocked``: the group whose gateways are all dead, where
    the route ends (None: the route is whole).
    """

    __slots__ = ("blocked", "group", "hops", "node")

    def __init__(self, node: str, hops: tuple[Hop, ...], group: Group | None,
                 blocked: Group | None) -> None:
        self.node = node
        self.hops = hops
        self.group = group
        self.blocked = blocked

    @property
    def direct(self) -> bool:
        """Whether the root reaches the node itself."""
        return not self.hops and self.blocked is None

    def __repr__(self) -> str:
        path = " -> ".join([hop.gateway for hop in self.hops] + [self.node])
        return f"Route({path!r}{', blocked' if self.blocked is not None else ''})"


class Router:
    """Plans runs over a :class:`Topology`; remembers the gateways found dead.

    ``dead`` gateways (of any level: names are the same all over the tree) get no
    targets; a group whose gateways are all dead leaves its targets unreachable.
    """

    __slots__ = ("_dead", "topology")

    def __init__(self, topology: Topology, dead: Iterable[str] = ()) -> None:
        self.topology = topology
        self._dead = NodeSet.fromlist(list(dead), resolver=NO_GROUPS)

    @property
    def dead(self) -> NodeSet:
        """The gateways marked dead."""
        return self._dead.copy()

    def mark_dead(self, gateway: str) -> None:
        """Give ``gateway`` no more targets, for the rest of this router's life."""
        self._dead.update(NodeSet.fromlist([gateway], resolver=NO_GROUPS))

    def _live(self, group: Group) -> list[str]:
        return list(group.nodes - self._dead)

    def _split(self, group: Group, targets: NodeSet, parts: dict[str, NodeSet]) -> bool:
        """Share ``targets`` evenly between the live gateways of ``group`` into ``parts``,
        each subtree kept in one piece where it can; False if none is alive."""
        live = self._live(group)
        if not live:
            return False
        pieces = [targets & (child.nodes | child._below) for child in group.children]
        if group.rest:
            pieces = [targets]
        for index, chunk in enumerate(_cut(pieces, len(live))):
            parts[live[index]] = chunk
        return True

    def plan(self, targets: NodeSet) -> Plan:
        """Which of ``targets`` this host reaches directly, which first-level gateway
        carries which, and which cannot be reached (all gateways of their group dead).

        Every target is in exactly one of them. Gateways of the first level and the
        root's own group are reached directly, as are nodes outside the tree (unless
        gateways take every other node, ``--gateways``).
        """
        topology = self.topology
        remaining = targets.copy()
        direct = remaining & topology.peers
        remaining.difference_update(topology.peers)
        for group in topology.groups:
            direct.update(remaining & group.nodes)
            remaining.difference_update(group.nodes)
        parts: dict[str, NodeSet] = {}
        unreachable = NodeSet(resolver=NO_GROUPS)
        for group in topology.groups:
            if not group.children:
                continue
            mine = remaining & group._below
            remaining.difference_update(mine)
            if mine and not self._split(group, mine, parts):
                unreachable.update(mine)
        rest = topology.rest()
        if remaining and rest is not None:
            if not self._split(rest, remaining, parts):
                unreachable.update(remaining)
        elif remaining:
            direct.update(remaining)
        ordered = {gw: parts[gw] for gw in NodeSet.fromlist(list(parts), resolver=NO_GROUPS)}
        return Plan(topology.root, direct, ordered, unreachable)

    def reroute(self, gateway: str, targets: NodeSet) -> Reroute:
        """``gateway`` died before it started ``targets``: mark it dead and share them
        evenly between its live siblings, or leave them stranded if none is alive.

        :raises ValueError: ``gateway`` is no first-level gateway, or some of
            ``targets`` are not below it (they were never its own).
        """
        group = next((g for g in self.topology.groups
                      if g.has_gateways and gateway in g.nodes), None)
        if group is None:
            raise ValueError(f'topology: "{gateway}" is not a first-level gateway')
        plan = Router(self.topology).plan(targets)
        if set(plan.parts) - set(group.nodes) or plan.direct or plan.unreachable:
            raise ValueError(f'topology: not all of "{targets}" are below "{gateway}"')
        self.mark_dead(gateway)
        parts: dict[str, NodeSet] = {}
        if not self._split(group, targets, parts):
            return Reroute({}, targets.copy())
        return Reroute(parts, NodeSet(resolver=NO_GROUPS))

    def distribute(self, targets: NodeSet) -> dict[str, NodeSet]:
        """Every gateway of the tree, at any depth, that would carry some of ``targets``
        -> those targets, as each gateway plans its own part with the same code."""
        carried: dict[str, NodeSet] = {}
        self._distribute(self.topology, targets, carried)
        return carried

    def _distribute(self, topology: Topology, targets: NodeSet,
                    carried: dict[str, NodeSet]) -> None:
        plan = Router(topology, self._dead).plan(targets)
        for gateway, part in plan.parts.items():
            carried.setdefault(gateway, NodeSet(resolver=NO_GROUPS)).update(part)
            self._distribute(topology.part(gateway), part, carried)

    def explain(self, node: str, targets: NodeSet | None = None) -> Route:
        """The route to ``node`` when the run's targets are ``targets`` (default: the
        node alone): the gateway chosen at each level, and the alternatives."""
        return self.explain_all([node], targets)[0]

    def explain_all(self, nodes: Iterable[str], targets: NodeSet | None = None) -> list[Route]:
        """:meth:`explain` for each of ``nodes`` in one run on ``targets`` (default: the
        nodes), each gateway's part planned once."""
        names = list(nodes)
        run = NodeSet.fromlist(names, resolver=NO_GROUPS)
        if targets is not None:
            run.update(targets)
        plans: dict[tuple[str, ...], tuple[Topology, Plan]] = {}  # gateways on the way
        return [self._route(name, run, plans) for name in names]

    def _route(self, node: str, targets: NodeSet,
               plans: dict[tuple[str, ...], tuple[Topology, Plan]]) -> Route:
        chain, listed = self.topology.locate(node)
        hops: list[Hop] = []
        level = self.topology
        path: tuple[str, ...] = ()
        for group in chain:
            if path not in plans:
                plans[path] = (level, Router(level, self._dead).plan(targets))
            level, plan = plans[path]
            gateway = next((gw for gw, part in plan.parts.items() if node in part), None)
            if gateway is None:
                return Route(node, tuple(hops), listed, group)
            dead = group.nodes & self._dead
            others = group.nodes - dead - NodeSet(gateway, resolver=NO_GROUPS)
            hops.append(Hop(gateway, group, others, dead))
            targets = plan.parts[gateway]
            path += (gateway,)
            level = plans[path][0] if path in plans else level.part(gateway)
        return Route(node, tuple(hops), listed, None)
