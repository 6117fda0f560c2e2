"""Where jobs can run: buildx builder nodes, declared nodes, local capacity.

Sources, in the order `discover` merges them:

1. Declared nodes: `[[node]]` tables in `bakeplan.toml` and `--node` flags
   (`name=N,builder=B,platforms=linux/amd64+linux/arm64,slots=2,memory=8g`).
   When any node is declared, only declared nodes are used: build hosts and CI
   say exactly what they have.
2. Otherwise every buildx builder (`docker buildx ls --format json`, then
   `docker buildx inspect` for each, whose `*` marks a node's configured
   platforms; without marks the first platform BuildKit reports is the
   native one). A single-node builder is a node; nodes of multi-node
   builders are listed but left out, because buildx sends each platform to
   the first node that has it, so bakeplan cannot place a job on them.
   `--builder` restricts discovery to one builder.
3. Capacity. Declared `slots` and `memory` win. A buildx node runs on the
   host its BuildKit worker names (`org.mobyproject.buildkit.worker.hostname`
   in `docker buildx inspect`'s labels); nodes on one host share that host's
   slots (`host_pools`): four daemons on one 2-core machine have 2 slots
   between them, not 8. A host is this machine when the node's endpoint is
   local (a unix socket, loopback TCP) or its hostname is this machine's:
   its slots and memory are detected (psutil: usable cores after cgroup
   quota and CPU affinity, like ninja; total memory). BuildKit reports
   neither for other hosts: their slots are assumed to be this machine's
   core count, their memory unknown. A node's speed is learned from
   finished jobs (`bakeplan.history.History.speeds`), else assumed 1. Each
   figure keeps where it came from (`DECLARED`, `DETECTED`, `LEARNED`,
   `ASSUMED`) for `bakeplan nodes`.

Every candidate is kept in the list, with `excluded` saying why it is not
used (inactive, no platforms, ...), so `bakeplan nodes` can show it.

Platform compatibility (`platform_rank`) lives in `bakeplan.platforms`, with
normalisation and this machine's platform; the names are re-exported here.

Modules: `model` (Node), `declared` (`--node`, `bakeplan.toml`), `builders`
(buildx's `ls` / `inspect` output), `machine` (this machine's capacity),
`discover` (candidates to nodes, host pools, speeds).
"""

from __future__ import annotations

from bakeplan.nodes.builders import (
    HOSTNAME_LABEL,
    BuilderNode,
    parse_driver_options,
    parse_inspect,
    parse_ls_json,
)
from bakeplan.nodes.declared import (
    config_path,
    declared_nodes,
    load_config,
    node_from_mapping,
    parse_node_spec,
    parse_size,
)
from bakeplan.nodes.discover import (
    buildx_capacity,
    discover,
    host_pools,
    nodes_from_buildx,
    usable,
    with_speeds,
)
from bakeplan.nodes.machine import Machine, _cgroup_quota, on_machine, this_machine, total_memory, usable_cores
from bakeplan.nodes.model import ASSUMED, DECLARED, DETECTED, LEARNED, Node
from bakeplan.platforms import (
    COMPATIBLE,
    EMULATED,
    EXACT,
    RANK_NAMES,
    node_local_platform,
    normalize_platform,
    platform_rank,
    platform_text,
)

__all__ = [
    "ASSUMED", "COMPATIBLE", "DECLARED", "DETECTED", "EMULATED", "EXACT", "HOSTNAME_LABEL", "LEARNED", "RANK_NAMES",
    "BuilderNode", "Machine", "Node",
    "_cgroup_quota", "buildx_capacity", "config_path", "declared_nodes", "discover", "host_pools", "load_config",
    "node_from_mapping", "node_local_platform", "nodes_from_buildx", "normalize_platform", "on_machine",
    "parse_driver_options", "parse_inspect", "parse_ls_json", "parse_node_spec", "parse_size", "platform_rank",
    "platform_text", "this_machine", "total_memory", "usable", "usable_cores", "with_speeds",
]
