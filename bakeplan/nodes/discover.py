"""From candidates to nodes: buildx builders kept or left out (and why), capacity, host pools, speeds."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from bakeplan.errors import ToolError
from bakeplan.nodes.builders import BuilderNode
from bakeplan.nodes.machine import Machine, on_machine, this_machine
from bakeplan.nodes.model import ASSUMED, DETECTED, LEARNED, Node
from bakeplan.platforms import node_local_platform
from bakeplan.record import replace


def nodes_from_buildx(items: Sequence[BuilderNode], machine: Machine) -> tuple[Node, ...]:
    """Scheduling nodes from buildx builders, every candidate kept with why it is left out.

    A single-node builder is one node, addressed with `--builder`. A node in
    a multi-node builder cannot be addressed alone (buildx sends a platform
    to the first node that has it): it is listed, excluded, with the remedy
    (a single-node builder for its endpoint, or a declared node).
    Capacity: see `buildx_capacity`.
    """
    # Only a single-node builder that answers stands in for a multi-node builder's node on its endpoint.
    singles = {i.endpoint: i.builder for i in items
               if i.builder_nodes == 1 and not i.error and i.status != "inactive" and i.endpoint}
    out: list[Node] = []
    for item in items:
        reason = _exclusion(item, singles)
        name = item.builder if item.builder_nodes == 1 else f"{item.builder}/{item.name}"
        node = Node(name=name, builder=item.builder, endpoint=item.endpoint, platforms=item.platforms,
                    native=item.native, status=item.status, driver=item.driver,
                    source="buildx", excluded=reason, shared=reason == _unaddressable(item),
                    driver_opts=item.driver_opts)
        out.append(buildx_capacity(node, item.host, machine))
    return _unique(out)


def buildx_capacity(node: Node, host: str, machine: Machine) -> Node:
    """A buildx node's host, slots and memory: `machine`'s (detected) when it runs there.

    Elsewhere BuildKit reports no cores or memory: the slots are assumed to be
    `machine`'s core count and the memory is unknown (assumed: no limit).
    Either way the node shares its slots with every node on the same host.
    """
    if on_machine(node.endpoint, host, machine):
        return replace(node, host=machine.host, slots=machine.slots, memory=machine.memory,
                       slots_source=DETECTED, memory_source=DETECTED if machine.memory else ASSUMED)
    return replace(node, host=host, slots=machine.slots, memory=None, slots_source=ASSUMED, memory_source=ASSUMED)


def _exclusion(item: BuilderNode, singles: Mapping[str, str]) -> str | None:
    """Why a builder node is not used, or None."""
    if item.error:
        return f"error: {item.error}"
    if item.driver == "remote" and item.status == "inactive":
        return f"remote endpoint {item.endpoint} is not reachable (status inactive)"
    if not item.platforms:
        return f"status {item.status or 'unknown'}, no platforms known (try `docker buildx inspect --bootstrap {item.builder}`)"
    if item.builder_nodes > 1:
        owner = singles.get(item.endpoint)
        if owner:
            return f"in multi-node builder {item.builder}; used through single-node builder {owner}"
        return _unaddressable(item)
    if singles.get(item.endpoint, item.builder) != item.builder:
        return f"same endpoint as builder {singles[item.endpoint]}"
    return None


def _unaddressable(item: BuilderNode) -> str:
    """The reason a member of a multi-node builder with no builder of its own is left out."""
    return (f"in multi-node builder {item.builder}: buildx picks its first node per platform; "
            f"create a single-node builder for {item.endpoint or item.name}")


def discover(
    declared: Sequence[Node],
    *,
    builder: str | None = None,
    _buildx_nodes: Callable[[str | None], Sequence[BuilderNode]] | None = None,
    _machine: Machine | None = None,
) -> tuple[Node, ...]:
    """The candidate nodes: declared ones if any, else buildx's builders, else this machine.

    `_buildx_nodes` lists a builder's nodes (default: `bakeplan.buildx.buildx_nodes`);
    `_machine` is this machine (default: `this_machine()`).

    With an explicit `builder` there is no fallback to this machine: the user
    asked for that builder, and planning elsewhere would hide that it is unusable.
    """
    if declared:
        return _unique(declared)
    machine = _machine or this_machine()
    try:
        items = (_buildx_nodes or _default_buildx_nodes)(builder)
    except ToolError as error:
        items = ()
        reason = error.message
    else:
        reason = "no buildx builder has a usable node"
    nodes = nodes_from_buildx(items, machine)
    # A shared remote node becomes usable through a builder of its own (`run` makes one).
    if usable(nodes) or builder or any(n.shared and n.driver == "remote" for n in nodes):
        return nodes
    # Nothing usable from buildx: plan for this machine so `plan` still answers.
    local = Node(name="local", platforms=(node_local_platform(),), slots=machine.slots, memory=machine.memory,
                 source="local", status=f"fallback: {reason}", host=machine.host, slots_source=DETECTED,
                 memory_source=DETECTED if machine.memory else ASSUMED)
    return (*nodes, local)


def _default_buildx_nodes(builder: str | None) -> Sequence[BuilderNode]:
    from bakeplan.buildx import buildx_nodes  # the one module that runs `docker buildx`; it imports this one

    return buildx_nodes(builder)


def _unique(nodes: Sequence[Node]) -> tuple[Node, ...]:
    """Nodes with a name already used are excluded (the first wins), in input order."""
    seen: set[str] = set()
    out = []
    for node in nodes:
        if node.name in seen and node.excluded is None:
            node = replace(node, excluded=f"duplicate name {node.name!r}")
        seen.add(node.name)
        out.append(node)
    return tuple(out)


def host_pools(nodes: Sequence[Node]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(pool index per node, slots per pool): nodes naming one host share a pool, others have their own.

    A pool holds the most slots any of its nodes has: one node alone may use
    the whole host, all of them together no more than that.
    """
    index: dict[str, int] = {}
    pools: list[int] = []
    sizes: list[int] = []
    for n, node in enumerate(nodes):
        key = node.host or f"\0{n}"  # no host: a pool of its own
        if key not in index:
            index[key] = len(sizes)
            sizes.append(0)
        pools.append(index[key])
        sizes[index[key]] = max(sizes[index[key]], node.slots)
    return tuple(pools), tuple(sizes)


def with_speeds(nodes: Sequence[Node], speeds: Mapping[str, float]) -> tuple[Node, ...]:
    """The nodes with the speeds learned for them (by node name); the others keep theirs."""
    return tuple(replace(n, speed=speeds[n.name], speed_source=LEARNED) if n.name in speeds else n for n in nodes)


def usable(nodes: Sequence[Node]) -> tuple[Node, ...]:
    """The nodes that take jobs."""
    return tuple(node for node in nodes if node.excluded is None)
