"""The state transitions other than placing: start, finish, fail, retry, nodes going down and up."""

from __future__ import annotations

import heapq
from collections.abc import Container

from bakeplan.schedule.model import Placement, Problem, State
from bakeplan.schedule.placement import _duration, _need, _pool_memory, _push_ready, _take


def start_state(problem: Problem, *, now: float = 0.0) -> State:
    """The state before anything ran: slots all free, tasks without deps ready."""
    state = State(now=now, free=[n.slots for n in problem.nodes], pool_free=list(problem.pool_slots),
                  pool_memory=_pool_memory(problem), load=[0.0] * len(problem.nodes))
    for i, task in enumerate(problem.tasks):
        count = len({d for d in task.deps if d in problem.index})
        if count:
            state.waiting[task.id] = count
        else:
            _push_ready(problem, state, i)
    return state



def finish(problem: Problem, state: State, task: str, now: float) -> list[str]:
    """Record that `task` succeeded at `now`: free its slot, release dependents; return the newly ready ids.

    A dependent already skipped (another of its dependencies failed) stays skipped.
    """
    state.done[task] = _stop(problem, state, task, now, "finish")
    released = []
    for j in problem.dependents[problem.index[task]]:
        dep_id = problem.tasks[j].id
        if dep_id in state.skipped:
            continue
        state.waiting[dep_id] -= 1
        if state.waiting[dep_id] == 0:
            del state.waiting[dep_id]
            _push_ready(problem, state, j)
            released.append(dep_id)
    return released


def fail(problem: Problem, state: State, task: str, now: float) -> list[str]:
    """Record that `task` failed at `now`: free its slot; return the ids of every task that now cannot run.

    Those tasks (all transitive dependents not already skipped) move from
    `waiting` to `skipped`, in input order.
    """
    state.failed[task] = _stop(problem, state, task, now, "fail")
    return _skip_dependents(problem, state, task)


def _skip_dependents(problem: Problem, state: State, task: str) -> list[str]:
    """Move every waiting transitive dependent of a failed task to `skipped`; their ids in input order."""
    skipped: list[str] = []
    stack = list(problem.dependents[problem.index[task]])
    while stack:
        tid = problem.tasks[j := stack.pop()].id
        if tid in state.waiting:
            del state.waiting[tid]
            skipped.append(tid)
            stack.extend(problem.dependents[j])
    skipped.sort(key=problem.index.__getitem__)
    state.skipped.update((tid, task) for tid in skipped)
    return skipped


def node_down(problem: Problem, state: State, node: str, now: float) -> list[str]:
    """Take `node` out at `now`: no slot there is free; the tasks running there go back to ready (returned).

    Their lost time is not a failure: they are placed again by the next
    `dispatch`, never on a node that is down. Taking a down node out again
    changes nothing.
    """
    n = problem.node_index[node]
    state.now = max(state.now, now)
    state.down.add(node)
    moved = sorted((t for t, p in state.running.items() if p.node == node), key=problem.index.__getitem__)
    for task in moved:
        del state.running[task]
        _take(problem, state, problem.index[task], n, +1)  # the host's other nodes may use what the lost tasks held
        _push_ready(problem, state, problem.index[task])
    state.free[n] = 0  # after giving back what the moved tasks held: nothing starts here until `node_up`
    return moved


def node_up(problem: Problem, state: State, node: str, now: float) -> None:
    """Put a down `node` back at `now` (it answers again): its slots are free (nothing runs there)."""
    n = problem.node_index[node]
    state.now = max(state.now, now)
    if node in state.down:
        state.down.discard(node)
        state.free[n] = problem.nodes[n].slots - sum(_need(problem, problem.index[t], n)
                                                      for t, p in state.running.items() if p.node == node)


def stranded(problem: Problem, state: State) -> list[str]:
    """The ready tasks that no node still up can build, in input order."""
    found = [entry[-1] for key, heap in state.ready.items()
             if all(problem.nodes[n].name in state.down for n in key) for entry in heap]
    return [problem.tasks[i].id for i in sorted(found)]


def give_up(problem: Problem, state: State, task: str, now: float) -> list[str]:
    """A ready task that cannot run (no node up builds it) fails at `now`; return the tasks that now cannot run.

    Its placement in `failed` names no node.
    """
    i = problem.index[task]
    key = tuple(n for n, _ in problem.capable[i])
    heap = state.ready.get(key, [])
    entry = next((e for e in heap if e[-1] == i), None)
    if entry is None:
        raise ValueError(f"cannot give up task {task!r}: it is {status(problem, state, task)}, not ready")
    heap.remove(entry)
    heapq.heapify(heap)
    if not heap:
        del state.ready[key]
    state.now = max(state.now, now)
    state.failed[task] = Placement(task, "", now, now, min(rank for _, rank in problem.capable[i]))
    return _skip_dependents(problem, state, task)


def retry(problem: Problem, state: State, task: str, now: float) -> Placement:
    """Record that `task` failed at `now` and starts again in the same slot; return its new placement.

    The slot stays taken and the start stays the first attempt's; the end
    becomes a fresh estimate, so placement decisions see when the slot frees.
    """
    old = _running(problem, state, task, "retry")
    n = problem.node_index[old.node]
    duration = _duration(problem, problem.tasks[problem.index[task]], old.rank, n)
    new = Placement(old.task, old.node, old.start, now + duration, old.rank)
    state.running[task] = new
    state.load[n] += duration
    state.now = max(state.now, now)
    return new


def _stop(problem: Problem, state: State, task: str, now: float, verb: str) -> Placement:
    """Take a running task off its node at `now`: free its slot (unless the node is down); its placement."""
    placement = _running(problem, state, task, verb)
    del state.running[task]
    if placement.node not in state.down:
        _take(problem, state, problem.index[task], problem.node_index[placement.node], +1)
    state.now = max(state.now, now)
    return Placement(placement.task, placement.node, placement.start, now, placement.rank)


def _running(problem: Problem, state: State, task: str, verb: str) -> Placement:
    """The placement of a running task; ValueError (state untouched) for any other task."""
    placement = state.running.get(task)
    if placement is None:
        raise ValueError(f"cannot {verb} task {task!r}: it is {status(problem, state, task)}, not running")
    return placement


def status(problem: Problem, state: State, task: str) -> str:
    """Where a task stands: waiting, ready, running, done, failed, skipped (or unknown)."""
    if task not in problem.index:
        return "unknown"
    places: tuple[tuple[str, Container[str]], ...] = (
        ("waiting", state.waiting), ("running", state.running), ("done", state.done),
        ("failed", state.failed), ("skipped", state.skipped),
    )
    for name, place in places:
        if task in place:
            return name
    i = problem.index[task]
    if any(entry[-1] == i for heap in state.ready.values() for entry in heap):
        return "ready"
    raise AssertionError(f"task {task!r} is in no state")  # a bug in the transitions
