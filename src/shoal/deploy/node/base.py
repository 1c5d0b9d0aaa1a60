"""Nodes: a deployment written as nested classes, python-deployer's model in Python 3.

A :class:`Node` subclass holds actions (its methods), child nodes (nested Node classes),
constants, properties and :data:`~shoal.deploy.query.Q` queries. ``class Hosts:`` binds
host classes to role names; a child takes its parent's roles, or a mapping of them
(:func:`~shoal.deploy.node.role_mapping.map_roles`). A :class:`ParallelNode` is split into
*isolations*, one per host of its role ``host``; ``.Array`` and ``.JustOne`` nest it in a
plain node. Actions never run on a bare node: :class:`~shoal.deploy.node.env.Env` wraps
it, and ``self`` in an action is that ``Env``.

The metaclass :class:`NodeBase` turns the class body into descriptors: functions into
actions, nested nodes into child nodes (reading ``parent.Child`` makes a child bound to
that parent), properties and queries into values evaluated on each read through an
``Env``. ``Child__Sub__attr = value`` in a subclass overrides ``attr`` of the nested node
``Child.Sub``.

Differences from python-deployer: children and hosts keep the order they were written
in; isolations are node instances rather than classes made on the fly; class-definition
mistakes raise :class:`TypeError`; the reserved names are ``host``, ``hosts``, ``parent``,
``console`` and ``initialize_node``; dunder methods other than ``__call__`` stay methods.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from inspect import isfunction
from typing import TYPE_CHECKING, Any, ClassVar, cast

from shoal.deploy.host_container import HostContainer, HostsContainer, roles_of
from shoal.deploy.node.role_mapping import ALL_HOSTS, DefaultRoleMapping, RoleMapping
from shoal.deploy.query import Query

if TYPE_CHECKING:
    from shoal.deploy.groups import Group
    from shoal.deploy.host import Host

__all__ = [
    "Action",
    "EnvBase",
    "IsolationIdentifierType",
    "Node",
    "NodeBase",
    "NodeTypes",
    "ParallelNode",
    "ParallelNodeBase",
    "SimpleNode",
    "SimpleNodeBase",
    "get_node_path",
    "iter_isolations",
    "required_property",
    "unfilled_required_properties",
]

Roles = dict[str, tuple["type[Host]", ...]]


class NodeTypes:
    """The kinds of node, for the nesting rules."""

    NORMAL = "NORMAL_NODE"
    SIMPLE = "SIMPLE_NODE"
    SIMPLE_ARRAY = "SIMPLE_NODE.ARRAY"
    SIMPLE_ONE = "SIMPLE_NODE.ONE"


#: (parent type, child type) -> whether the child needs a role mapping (or own Hosts).
_NESTING = {
    (NodeTypes.NORMAL, NodeTypes.NORMAL): False,
    (NodeTypes.NORMAL, NodeTypes.SIMPLE_ARRAY): True,
    (NodeTypes.NORMAL, NodeTypes.SIMPLE_ONE): True,
    (NodeTypes.SIMPLE_ARRAY, NodeTypes.SIMPLE): False,
    (NodeTypes.SIMPLE_ONE, NodeTypes.SIMPLE): False,
    (NodeTypes.SIMPLE, NodeTypes.SIMPLE): False,
    (NodeTypes.SIMPLE, NodeTypes.NORMAL): False,
    (NodeTypes.SIMPLE_ARRAY, NodeTypes.NORMAL): False,
    (NodeTypes.SIMPLE_ONE, NodeTypes.NORMAL): False,
}

#: Names an Env answers itself: a node attribute of that name could never be reached.
RESERVED = frozenset({"host", "hosts", "parent", "console", "initialize_node"})


class required_property(property):
    """A property a subclass (or a ``Child__name = value`` override) must define.

    Reading it raises :class:`NotImplementedError` naming the node and the property; an
    action called from outside fails before it starts if its node, a node below it or
    an ancestor still lacks one (see :func:`unfilled_required_properties`).

    ::

        class Service(Node):
            name = required_property("the service name, e.g. nginx")
    """

    def __init__(self, description: str = "") -> None:
        self.description = description
        self.name = ""
        self.owner = ""

        def fget(obj: Any) -> Any:
            raise NotImplementedError(self.message(get_node_path(obj)))

        super().__init__(fget)

    def message(self, where: str) -> str:
        """The error for this property missing on the node at path ``where``."""
        what = f": {self.description}" if self.description else ""
        return f"{where}.{self.name}: required property is not defined{what}"


class EnvBase:
    """The base of :class:`~shoal.deploy.node.env.Env`, so nodes can recognise one."""

    _node: Node


class ChildNodeDescriptor:
    """A nested node class: reading it on a parent node makes a child bound to it."""

    def __init__(self, attr_name: str, node_class: type[Node]) -> None:
        self.attr_name = attr_name
        self.node_class = node_class

    def __get__(self, parent: Node | None, owner: type) -> Any:
        if parent is None:
            return self.node_class
        # A child of an isolated node is isolated too, unless it is a new array.
        isolated = (parent._node_is_isolated
                    and self.node_class._node_type != NodeTypes.SIMPLE_ARRAY)
        return self.node_class._node_make(parent, self.attr_name, isolated)


class ActionDescriptor:
    """A method of a node: an :class:`Action` on read."""

    def __init__(self, attr_name: str, func: Callable[..., Any]) -> None:
        self.attr_name = attr_name
        self.func = func

    def __get__(self, node: Node | None, owner: type) -> Action:
        # Read on the class, it stays callable with an Env: Base.deploy(self, ...).
        return Action(self.attr_name, node, self.func)


class PropertyDescriptor:
    """A property of a node: an :class:`Action` on a node, evaluated by the Env."""

    def __init__(self, attr_name: str, attribute: property) -> None:
        self.attr_name = attr_name
        self.attribute = attribute

    def __get__(self, node: Node | None, owner: type) -> Any:
        if node is None:
            return self.attribute
        assert self.attribute.fget is not None
        return Action(self.attr_name, node, self.attribute.fget, is_property=True)


class QueryDescriptor:
    """A query of a node: an :class:`Action` on a node, evaluated by the Env."""

    def __init__(self, attr_name: str, query: Query) -> None:
        self.attr_name = attr_name
        self.query = query

    def __get__(self, node: Node | None, owner: type) -> Any:
        if node is None:
            return self.query
        return Action.from_query(self.attr_name, node, self.query)


_PLAIN_METHODS = frozenset({"__init__", "__new__", "__getitem__", "__iter__"})


class NodeBase(type):
    """Metaclass of nodes: wraps the class body into descriptors and checks the rules."""

    _node_type: str
    Hosts: Any

    def __new__(mcs, name: str, bases: tuple[type, ...],
                attrs: dict[str, Any]) -> NodeBase:
        if len(bases) > 1:
            raise TypeError(f"node {name}: no multiple inheritance for nodes")
        own = attrs.get("__module__") == __name__  # Node and ParallelNode themselves
        if bases:
            attrs = _expand_overrides(name, attrs, bases[0])
        node_type: str = attrs.get("_node_type") or cast(NodeBase, bases[0])._node_type
        if "__init__" in attrs and not own:
            raise TypeError(f"node {name}: a node must not have its own __init__")
        if not own:
            for reserved in RESERVED & set(attrs):
                raise TypeError(f"node {name}: {reserved!r} is a reserved name in nodes")
            for attr_name, attr in list(attrs.items()):
                attrs[attr_name] = _wrap(attr_name, attr, name, node_type)
                for alias in getattr(attr, "action_alias", ()) if isfunction(attr) else ():
                    attrs[alias] = _wrap(alias, attr, name, node_type)
        return super().__new__(mcs, name, bases, attrs)

    def __setattr__(cls, name: str, value: Any) -> None:
        # Assigned later (Node.child = Other), an attribute is wrapped as in the body.
        super().__setattr__(name, _wrap(name, value, cls.__name__, cls._node_type))

    def __instancecheck__(cls, instance: Any) -> bool:
        # An Env around a node of this class counts as one, as in python-deployer.
        return super().__instancecheck__(instance) or (
            isinstance(instance, EnvBase) and super().__instancecheck__(instance._node))


def _wrap(attr_name: str, attribute: Any, node_name: str, node_type: str) -> Any:
    """``attribute`` of a node class body as the descriptor it becomes."""
    if attr_name == "Hosts":
        if isinstance(attribute, type):
            roles_of(attribute, resolve=False)  # a bad definition fails now, not on use
        elif attribute is not None and not isinstance(attribute, RoleMapping):
            raise TypeError(f"node {node_name}: Hosts must be a class or a map_roles(...)")
        return attribute
    if isfunction(attribute):
        dunder = attr_name.startswith("__") and attr_name.endswith("__")
        if attr_name in _PLAIN_METHODS or (dunder and attr_name != "__call__"):
            return attribute
        return ActionDescriptor(attr_name, attribute)
    if isinstance(attribute, type) and issubclass(attribute, Node):
        child_type = attribute._node_type
        needs_mapping = _NESTING.get((node_type, child_type))
        if needs_mapping is None:
            raise TypeError(f"node {node_name}: a {child_type} cannot be nested in a "
                            f"{node_type} ({attr_name}; use ParallelNode.Array or .JustOne)")
        if needs_mapping and attribute.Hosts is None:
            raise TypeError(f"node {node_name}: {attr_name} needs map_roles(...) or Hosts")
        return ChildNodeDescriptor(attr_name, attribute)
    if isinstance(attribute, property):
        if isinstance(attribute, required_property):
            attribute.name = attr_name
            attribute.owner = node_name
        return PropertyDescriptor(attr_name, attribute)
    if isinstance(attribute, Query):
        return QueryDescriptor(attr_name, attribute)
    return attribute


def _expand_overrides(name: str, attrs: dict[str, Any], base: type) -> dict[str, Any]:
    """Turn ``Child__Sub__attr = v`` into ``Child = <subclass of base.Child with Sub__attr>``."""
    plain: dict[str, Any] = {}
    overrides: dict[str, dict[str, Any]] = {}
    for key, value in attrs.items():
        head, _, rest = key.partition("__")
        if head and rest and not key.startswith("__"):
            overrides.setdefault(head, {})[rest] = value
        else:
            plain[key] = value
    for target, values in overrides.items():
        first = next(iter(values))
        if target in plain:
            raise TypeError(f"node {name}: {target}__{first} overrides {target}, "
                            "which this class also defines")
        original = getattr(base, target, None)
        if original is None:
            raise TypeError(f"node {name}: {target}__{first}: no {target} to override")
        if not (isinstance(original, type) and issubclass(original, Node)):
            raise TypeError(f"node {name}: {target}__{first}: {target} is not a node")
        namespace = {**values, "__module__": original.__module__,
                     "__qualname__": original.__qualname__, "__doc__": original.__doc__}
        plain[target] = type(original.__name__, (original,), namespace)
    return plain


class _HostsCache:
    """Roles of each ``class Hosts:`` definition, worked out once (node sets included)."""

    def __init__(self) -> None:
        self._roles: weakref.WeakKeyDictionary[type, Roles] = weakref.WeakKeyDictionary()

    def roles(self, hosts_class: type) -> Roles:
        roles = self._roles.get(hosts_class)
        if roles is None:
            roles = self._roles[hosts_class] = roles_of(hosts_class)
        return roles


_hosts_cache = _HostsCache()


class Node(metaclass=NodeBase):
    """The base class of every deployment node.

    ``Node()`` makes a root node; children are made by reading them on their parent.
    ``parent`` is the parent node (None at the root) and ``hosts`` the node's hosts by
    role (a :class:`~shoal.deploy.host_container.HostsContainer`). Indexing a node that
    is not yet isolated (a ParallelNode array, or a node inside one) picks an isolation:
    ``node[0]``, ``node[HostClass]``, ``node["slug"]``, ``node[(0, 1)]``.
    """

    _node_type: ClassVar[str] = NodeTypes.NORMAL
    _node_is_isolated: bool = False
    _node_isolation_identifier: str | None = None
    _node_name: str | None = None
    _node_roles: Roles

    #: the group of this node (set by the group decorators), None to take the parent's
    node_group: ClassVar[type[Group] | None] = None

    #: a ``class Hosts:`` definition or a role mapping; None: the parent's roles
    Hosts: ClassVar[Any] = None

    def __init__(self, parent: Node | None = None) -> None:
        self._node_setup(parent, None, None)

    @classmethod
    def _node_make(cls, parent: Node | None, name: str | None, isolated: bool | None,
                   roles: Roles | None = None, identifier: str | None = None) -> Node:
        """A node of this class as the framework makes it: a child, or an isolation."""
        node = cls.__new__(cls)
        node._node_setup(parent, name, isolated, roles, identifier)
        return node

    def _node_setup(self, parent: Node | None, name: str | None, isolated: bool | None,
                    roles: Roles | None = None, identifier: str | None = None) -> None:
        node_type = self._node_type
        if parent is None and node_type in (NodeTypes.SIMPLE_ARRAY, NodeTypes.SIMPLE_ONE):
            raise TypeError(f"a {node_type} node needs a parent")
        self.parent = parent
        if name is not None:
            self._node_name = name
        if roles is None:
            definition = type(self).Hosts
            if definition is None:
                definition = DefaultRoleMapping()
            if isinstance(definition, RoleMapping):
                roles = definition.apply(parent._node_roles) if parent is not None else {}
            else:
                roles = _hosts_cache.roles(definition)
        self._node_roles = roles
        self._node_hosts: HostsContainer | None = None
        self._node_is_isolated = (parent is None and node_type == NodeTypes.NORMAL
                                  if isolated is None else isolated)
        self._node_isolation_identifier = identifier
        if node_type == NodeTypes.SIMPLE_ONE and len(roles.get("host", ())) != 1:
            raise ValueError(f"{self!r}: .JustOne needs exactly one host in role 'host', "
                             f"it has {len(roles.get('host', ()))}")

    @property
    def hosts(self) -> HostsContainer:
        """The node's hosts by role (an ``Env`` has its own, bound to its terminal)."""
        if self._node_hosts is None:
            self._node_hosts = HostsContainer(self._node_roles)
        return self._node_hosts

    def __repr__(self) -> str:
        return f"<Node {get_node_path(self)}>"

    def __getitem__(self, index: Any) -> Node:
        """The isolation at ``index``: an int, a host class, a slug, a HostContainer, or a
        tuple of them for nested arrays."""
        if self._node_is_isolated:
            raise KeyError(f"{self!r} is isolated already: it has no isolations to pick")
        if isinstance(index, HostContainer):
            index = type(index._host)
        key = index if isinstance(index, tuple) else (index,)
        for ints, classes, slugs, node in _isolations(self):
            if key in (ints, classes, slugs):
                return node
        raise KeyError(f"{self!r} has no isolation {index!r}")

    def __iter__(self) -> Iterator[Node]:
        for *_, node in _isolations(self):
            yield node


class ParallelNodeBase(NodeBase):
    """Metaclass of :class:`ParallelNode`: adds ``.Array`` and ``.JustOne``."""

    @property
    def Array(cls) -> type[ParallelNode]:
        """This node as an array in a plain node: one isolation per host of role ``host``.

        Without ``Hosts`` of its own, every host of the parent becomes an isolation.
        """
        return cls._node_variant(NodeTypes.SIMPLE_ARRAY, "Array")

    @property
    def JustOne(cls) -> type[ParallelNode]:
        """This node in a plain node, with exactly one host in role ``host``."""
        return cls._node_variant(NodeTypes.SIMPLE_ONE, "JustOne")

    def _node_variant(cls, node_type: str, label: str) -> type[ParallelNode]:
        if cls._node_type != NodeTypes.SIMPLE:
            raise TypeError(f"{cls.__name__}.{label}: a second .Array or .JustOne is not allowed")
        made = cls.__dict__.get(f"_node_{label}")
        if made is None:
            hosts = RoleMapping(host=ALL_HOSTS) if cls.Hosts is None else cls.Hosts
            namespace = {"_node_type": node_type, "Hosts": hosts, "__module__": cls.__module__,
                         "__qualname__": f"{cls.__qualname__}.{label}", "__doc__": cls.__doc__}
            made = type(f"{cls.__name__}.{label}", (cls,), namespace)
            type.__setattr__(cls, f"_node_{label}", made)
        variant: type[ParallelNode] = made
        return variant


class ParallelNode(Node, metaclass=ParallelNodeBase):
    """A node run once per host of its role ``host``, each run in its own isolation.

    Calling one of its actions from outside runs the action in every isolation at once
    and returns a :class:`~shoal.deploy.node.env.ParallelActionResult`. In an isolation,
    ``self.host`` is that host (a :class:`~shoal.deploy.host_container.HostContainer`);
    other roles pass through to every isolation unchanged.
    """

    _node_type: ClassVar[str] = NodeTypes.SIMPLE

    @property
    def host(self) -> HostContainer:
        """The isolation's host; :class:`AttributeError` outside an isolation."""
        hosts = self.hosts.filter("host")
        if not self._node_is_isolated or len(hosts) != 1:
            raise AttributeError(f"{self!r} is not isolated: it has no single 'host'")
        return hosts[0]


SimpleNode = ParallelNode
"""python-deployer's name before 0.3.7."""

SimpleNodeBase = ParallelNodeBase
"""python-deployer's name before 0.3.7."""


class Action:
    """A node's method, property or query, bound to a node (or unbound, on the class).

    Calling an unbound action with an ``Env`` runs it there (``Base.deploy(self)`` inside
    an action, as a super call); calling one on a bare node is an error: wrap the node in
    an ``Env`` first.
    """

    def __init__(self, attr_name: str, node_instance: Node | None, func: Callable[..., Any],
                 is_property: bool = False, is_query: bool = False,
                 query: Query | None = None) -> None:
        self._attr_name = attr_name
        self._node_instance = node_instance
        self._func = func
        self.is_property = is_property
        self.is_query = is_query
        self.query = query

    @classmethod
    def from_query(cls, attr_name: str, node_instance: Node, query: Query) -> Action:
        """An action that evaluates ``query`` on the Env it is run in."""
        from shoal.deploy.exceptions import QueryException

        def run_query(env: Any, return_query_result: bool = False) -> Any:
            try:
                traced = query._execute_query(env)
            except Exception as exc:
                raise QueryException(env._node, attr_name, query, exc) from exc
            return traced if return_query_result else traced.result

        run_query.__name__ = f"query:{query!r}"
        return cls(attr_name, node_instance, run_query, is_query=True, query=query)

    def __repr__(self) -> str:
        if self._node_instance is not None:
            return f"<Action {get_node_path(self._node_instance)}.{self._attr_name}>"
        return f"<Unbound Action {self._attr_name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        env = args[0] if args else None
        if self._node_instance is None and isinstance(env, EnvBase):
            return env._wrap_action(self)(*args[1:], **kwargs)  # type: ignore[attr-defined]
        raise TypeError(f"{self!r} is not callable on a bare node: wrap the node in an Env "
                        "(Env(node) or Env.default_from_node(node))")

    @property
    def name(self) -> str:
        """The action's name in its node."""
        return self._attr_name

    @property
    def node(self) -> Node | None:
        """The node it is bound to."""
        return self._node_instance

    @property
    def node_group(self) -> type[Group]:
        """The group of its node (the default group when it has none)."""
        from shoal.deploy.groups import Group

        group = self._node_instance.node_group if self._node_instance is not None else None
        return group or Group

    @property
    def suppress_result(self) -> bool:
        """Whether :func:`~shoal.deploy.node.suppress_action_result` marks it."""
        return bool(getattr(self._func, "suppress_result", False))


class IsolationIdentifierType:
    """Ways to name an isolation: by position, by host class or by host slug."""

    INT_TUPLES = "INT_TUPLES"
    """A tuple of integers, one per array level."""

    HOST_TUPLES = "HOST_TUPLES"
    """A tuple of host classes."""

    HOSTS_SLUG = "HOSTS_SLUG"
    """A tuple of host slugs."""


_Isolation = tuple[tuple[int, ...], tuple["type[Host]", ...], tuple[str, ...], Node]


def _isolations(node: Node) -> Iterator[_Isolation]:
    """Every isolation of ``node`` with its identifiers of the three kinds."""
    if isinstance(node, EnvBase):
        raise TypeError("iterate the node, not its Env")
    if node._node_is_isolated:
        yield (), (), (), node
        return
    node_type, parent, name = node._node_type, node.parent, node._node_name
    if node_type in (NodeTypes.SIMPLE_ARRAY, NodeTypes.SIMPLE_ONE) or (
            node_type == NodeTypes.SIMPLE and parent is None):
        parents = _isolations(parent) if parent is not None else iter([((), (), (), None)])
        for ints, classes, slugs, isolated_parent in parents:
            fresh = getattr(isolated_parent, name) if isolated_parent is not None else node  # type: ignore[arg-type]
            for index, host in enumerate(fresh._node_roles.get("host", ())):
                cell = type(fresh)._node_make(
                    isolated_parent, fresh._node_name, True,
                    {**fresh._node_roles, "host": (host,)}, host.slug)
                yield (*ints, index), (*classes, host), (*slugs, host.slug), cell
    else:
        assert parent is not None  # a root plain node is isolated
        for ints, classes, slugs, isolated_parent in _isolations(parent):
            yield ints, classes, slugs, getattr(isolated_parent, name)  # type: ignore[arg-type]


def iter_isolations(node: Node, identifier_type: str = IsolationIdentifierType.INT_TUPLES
                    ) -> Iterator[tuple[tuple[Any, ...], Node]]:
    """Yield ``(identifier, isolated node)`` for every isolation of ``node``."""
    which = {IsolationIdentifierType.INT_TUPLES: 0, IsolationIdentifierType.HOST_TUPLES: 1,
             IsolationIdentifierType.HOSTS_SLUG: 2}[identifier_type]
    for *identifiers, isolated in _isolations(node):
        yield identifiers[which], isolated


def get_node_path(node: Node | EnvBase) -> str:
    """The node's path from the root, with isolations: ``Root.Web[web1].Config``."""
    current: Node | None = node._node if isinstance(node, EnvBase) else node
    parts = []
    while current is not None:
        name = current._node_name or type(current).__name__
        identifier = current._node_isolation_identifier
        parts.append(f"{name}[{identifier}]" if identifier is not None else name)
        current = current.parent
    return ".".join(reversed(parts))


def unfilled_required_properties(node: Node) -> list[str]:
    """What is missing for an action on ``node`` to run: one line per required property
    still undefined on the node, on a node below it, or on one of its ancestors."""
    missing: list[str] = []
    _missing_in_class(type(node), get_node_path(node), missing, set(), descend=True)
    current = node.parent
    while current is not None:
        _missing_in_class(type(current), get_node_path(current), missing, set(), descend=False)
        current = current.parent
    return missing


def _missing_in_class(cls: type, path: str, missing: list[str], seen: set[type],
                      descend: bool) -> None:
    if cls in seen:
        return
    seen.add(cls)
    for attr_name in dir(cls):
        attribute = next((vars(k)[attr_name] for k in cls.__mro__ if attr_name in vars(k)),
                         None)
        if isinstance(attribute, PropertyDescriptor) and isinstance(
                attribute.attribute, required_property):
            missing.append(attribute.attribute.message(path))
        elif descend and isinstance(attribute, ChildNodeDescriptor):
            _missing_in_class(attribute.node_class, f"{path}.{attr_name}", missing, seen, True)
