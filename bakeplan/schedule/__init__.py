"""List scheduling of build units onto nodes: pure state transitions, no I/O, no clock.

Task selection policy
---------------------
A task (one job: one target on one platform, one `docker buildx bake`
invocation, one slot) becomes
ready when every task it depends on has finished. Among ready tasks the one
with the longest remaining estimated path to the end of the graph (its
"upward rank": its duration plus the longest rank among its dependents) goes
first; ties break by input order, so the same input gives the same plan.

Node selection policy
---------------------
A task may run on any node that can build all its platforms
(`bakeplan.platforms.platform_rank`): exactly, compatibly (arm/v7 on arm64,
386 on amd64, ...) or, where the node lists the platform, under emulation,
which is estimated `emulation_factor` times slower. Among nodes with a free
slot, the task goes where it finishes first; then exact before compatible
before emulated; then the least busy node (balances equivalent nodes); then
the least work given so far; then node order. A task that would finish
later under emulation than by waiting for a busy native node waits.

Hand-over. A task reads the results of the tasks it depends on. On the node
where a dependency ran, that costs nothing (the node re-solves it from its
own cache); on any other node the dependency's exported result is imported,
which costs `Problem.transfer(src, dst)` seconds (learned per node pair,
else `handover` seconds). So a task finishes first where its parents ran,
unless another node with a free slot finishes it sooner, transfer included;
and it waits for a busy parent node when that node frees a slot soon enough
to finish it sooner than the free node would.

Capacity. Nodes have `slots`: at most that many tasks run on a node at
once. A task's demand (`Task.cpus`, `Task.memory`: the target's `resources`)
counts against it, as Bazel's resource sets do: a task of 2.5 CPUs takes 3
slots (at most all of a node's); a task never goes to a node with less
memory than it states, and tasks stating memory run together on a host only
as far as its memory goes. Nodes on one host (`Node.host`) also share the host's slots
(`nodes.host_pools`): four daemons on one 2-core machine run two tasks at
once between them. A node's `speed` scales every duration there: a task
takes `duration / speed` on it (a node at 0.625 takes 1.6 times as long), so
slower nodes finish later and get less work, and the lower bound counts
their slots for less.

Like dask's `local.py`, the state lives in one `State` object and small
functions move it forward: `start_state`, `dispatch` (place what can start
now), `finish` (a task succeeded at a given time), `fail` (it failed: every
task that needs it, transitively, is skipped) and `retry` (it failed and runs
again in its slot). `simulate` drives them with estimated durations to
produce a plan; `bakeplan run` drives them with real completion times. The
functions update the `State` they are given and touch nothing else.

Liveness. `node_down` takes a node out (its daemon stopped answering): its
slots are no longer free, and the tasks running there go back to ready, to be
placed on another node (what they lost is not a failure). `node_up` puts it
back (a health probe says it answers again). `stranded` lists the ready tasks
that no node still up can build; `give_up` fails one.

Every task is in exactly one of `waiting`, `ready`, `running`, `done`,
`failed` and `skipped`. A task skipped because one dependency failed stays
skipped when its other dependencies finish later. `finish`, `fail` and
`retry` of a task that is not running is a caller's bug: they raise
ValueError and leave the state as it was.

Modules: `model` (the data), `preparation`, `placement` (the policy: `dispatch`),
`transitions` (every other step), `simulation` (the plan and its bounds).
Every public name is importable from `bakeplan.schedule`.
"""

from __future__ import annotations

from bakeplan.schedule.model import (
    DEFAULT_EMULATION_FACTOR,
    LowerBound,
    Placement,
    Problem,
    Schedule,
    State,
    Task,
)
from bakeplan.schedule.placement import dispatch
from bakeplan.schedule.preparation import prepare
from bakeplan.schedule.simulation import critical_path, lower_bound, schedule, simulate
from bakeplan.schedule.transitions import (
    fail,
    finish,
    give_up,
    node_down,
    node_up,
    retry,
    start_state,
    status,
    stranded,
)

__all__ = [
    "DEFAULT_EMULATION_FACTOR", "LowerBound", "Placement", "Problem", "Schedule", "State", "Task",
    "critical_path", "dispatch", "fail", "finish", "give_up", "lower_bound", "node_down", "node_up", "prepare",
    "retry", "schedule", "simulate", "start_state", "status", "stranded",
]
