"""Schedule quality and planning speed (`make bench`).

Generated graphs (chains, fan-out/fan-in, layered, random DAGs; 10 to 5,000
jobs) on heterogeneous node sets. For each, makespan / lower bound for:

- bakeplan: critical-path list scheduling (`bakeplan.schedule`);
- buildx: buildx's own policy, every job started at once on the first node
  that can build its platform, the node's slots shared by all its running
  jobs (processor sharing: n jobs on s slots each progress at min(1, s/n));
- fifo: jobs started in the order they become ready, on any free node.

Then the wall time of `build_plan` for 10,000 jobs (goal: at most 1 s).
"""

from __future__ import annotations

import heapq
import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bakeplan.nodes import EMULATED, Node
from bakeplan.schedule import Problem, Task, lower_bound, prepare, simulate

AMD, ARM, ARMV7, I386 = "linux/amd64", "linux/arm64", "linux/arm/v7", "linux/386"
SIZES = (10, 50, 200, 1000, 5000)


def _nodes(name: str) -> list[Node]:
    def n(label: str, *platforms: str, slots: int = 1, native: int = 1) -> Node:
        return Node(label, builder=label, platforms=platforms, native=native, slots=slots)

    sets = {
        "one-per-arch": [n("amd", AMD, slots=4), n("arm", ARM, slots=2)],
        "several-per-arch": [n("amd1", AMD, slots=2), n("amd2", AMD, slots=2), n("amd3", AMD, slots=4),
                             n("arm1", ARM, slots=2), n("arm2", ARM, slots=1)],
        "different-slots": [n("big", AMD, slots=8), n("small", AMD, slots=1), n("arm-big", ARM, slots=3),
                            n("arm-small", ARM, slots=1), n("armv7", ARMV7, slots=1)],
        # Emulation: "emu" builds arm64 three times slower. Reported apart from the goal (the issue's
        # node sets have none); its lower bound is a priced LP-dual bound, looser than the others.
        "with-emulation": [n("emu", AMD, ARM, slots=8), n("amd", AMD, slots=2), n("arm", ARM, slots=1),
                           n("armv7", ARMV7, slots=1)],
    }
    return sets[name]


def _platform(rng: random.Random) -> str:
    return rng.choices([AMD, ARM, ARMV7, I386], weights=[5, 4, 1, 1])[0]


def _duration(rng: random.Random) -> float:
    return round(min(600.0, rng.lognormvariate(3.5, 0.8)), 1)


def chains(n: int, rng: random.Random) -> list[Task]:
    """Several independent chains (a base image, then layers on top)."""
    length = max(2, int(n ** 0.5))
    tasks: list[Task] = []
    for i in range(n):
        deps = (f"t{i - 1}",) if i % length else ()
        tasks.append(Task(f"t{i}", _duration(rng), (_platform(rng) if not deps else tasks[i - 1].platforms[0],), deps))
    return tasks


def fan(n: int, rng: random.Random) -> list[Task]:
    """One source, a wide middle, one sink, per platform."""
    tasks = []
    for platform in (AMD, ARM):
        tasks.append(Task(f"src-{platform}", _duration(rng), (platform,)))
        middle = [Task(f"m{i}-{platform}", _duration(rng), (platform,), (f"src-{platform}",)) for i in range(max(1, n // 2 - 2))]
        tasks.extend(middle)
        tasks.append(Task(f"sink-{platform}", _duration(rng), (platform,), tuple(t.id for t in middle)))
    return tasks


def layered(n: int, rng: random.Random) -> list[Task]:
    """Layers of jobs, each depending on one to three jobs of the layer before (same platform)."""
    layers = max(2, min(8, n // 5))
    per = max(1, n // layers)
    tasks: list[Task] = []
    previous: list[Task] = []
    for layer in range(layers):
        current = []
        for i in range(per):
            platform = _platform(rng)
            pool = [t for t in previous if t.platforms[0] == platform]
            deps = tuple(sorted({t.id for t in rng.sample(pool, min(len(pool), rng.randint(1, 3)))})) if pool else ()
            current.append(Task(f"l{layer}-{i}", _duration(rng), (platform,), deps))
        tasks.extend(current)
        previous = current
    return tasks


def random_dag(n: int, rng: random.Random) -> list[Task]:
    """Each job depends on up to two random earlier jobs of its platform (sparse, like real bake files)."""
    tasks: list[Task] = []
    by_platform: dict[str, list[str]] = {}
    for i in range(n):
        platform = _platform(rng)
        pool = by_platform.setdefault(platform, [])
        deps = tuple(sorted(set(rng.sample(pool, min(len(pool), rng.choice([0, 0, 1, 2]))))))
        tasks.append(Task(f"t{i}", _duration(rng), (platform,), deps))
        pool.append(f"t{i}")
    return tasks


SHAPES: dict[str, Callable[[int, random.Random], list[Task]]] = {
    "chains": chains, "fan-out/in": fan, "layered": layered, "random": random_dag,
}


def buildx_makespan(problem: Problem) -> float:
    """buildx's policy: all ready jobs start at once on the first capable node; slots are shared."""
    tasks, nodes = problem.tasks, problem.nodes
    first = [cap[0] for cap in problem.capable]  # (node, rank), node order = buildx's order
    work = [t.duration * (problem.emulation_factor if rank == EMULATED else 1.0) for t, (_, rank) in zip(tasks, first)]
    waiting = [len({d for d in t.deps if d in problem.index}) for t in tasks]
    virtual = [0.0] * len(nodes)  # work done by each running job on the node since the node started
    active: list[list[tuple[float, int]]] = [[] for _ in nodes]  # heap of (virtual finish, task)
    now = 0.0

    def arrive(i: int) -> None:
        n = first[i][0]
        heapq.heappush(active[n], (virtual[n] + work[i], i))

    for i in range(len(tasks)):
        if waiting[i] == 0:
            arrive(i)
    done = 0
    while done < len(tasks):
        rates = [min(1.0, nodes[n].slots / len(active[n])) if active[n] else 0.0 for n in range(len(nodes))]
        step, who = min(((active[n][0][0] - virtual[n]) / rates[n], n) for n in range(len(nodes)) if active[n])
        now += step
        for n in range(len(nodes)):
            virtual[n] += step * rates[n]
        _, i = heapq.heappop(active[who])
        done += 1
        for j in problem.dependents[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                arrive(j)
    return now


def _row(shape: str, size: int, node_set: str, seed: int) -> tuple[float, float, float]:
    rng = random.Random(f"{shape}/{size}/{node_set}/{seed}")
    tasks, nodes = SHAPES[shape](size, rng), _nodes(node_set)
    problem = prepare(tasks, nodes)
    bound = lower_bound(problem).value
    ours = simulate(problem).makespan / bound
    fifo = simulate(prepare(tasks, nodes, fifo=True)).makespan / bound
    return ours, buildx_makespan(problem) / bound, fifo


GOAL_SETS = ("one-per-arch", "several-per-arch", "different-slots")


def quality(sizes: Sequence[int] = SIZES, seeds: int = 2,
            node_sets: Sequence[str] = GOAL_SETS) -> list[tuple[str, int, str, float, float, float]]:
    """(shape, size, node set, bakeplan, buildx, fifo) ratios, each averaged over `seeds` seeds."""
    rows: list[tuple[str, int, str, float, float, float]] = []
    for shape in SHAPES:
        for size in sizes:
            for node_set in node_sets:
                runs = [_row(shape, size, node_set, seed) for seed in range(seeds if size <= 1000 else 1)]
                ours, buildx, fifo = (statistics.fmean(r[k] for r in runs) for k in range(3))
                rows.append((shape, size, node_set, ours, buildx, fifo))
    return rows


def planning_time(jobs: int = 10_000) -> tuple[float, float]:
    """Seconds for `build_plan` on a bake result with `jobs` jobs, and for the schedule alone."""
    from bakeplan.bake.model import BakeResult, Target
    from bakeplan.plan import build_plan

    platforms = [AMD, ARM, ARMV7, I386]
    targets: dict[str, Target] = {}
    for i in range(jobs // len(platforms)):
        contexts = {"base": f"target:t{i - 1}"} if i % 5 else {}
        fields = {"context": ".", "platforms": platforms, **({"contexts": contexts} if contexts else {})}
        targets[f"t{i}"] = Target(f"t{i}", fields, {"i": str(i)}, "t")
    result = BakeResult({"default": tuple(targets)}, targets, (Path("docker-bake.hcl"),), ("default",))
    nodes = _nodes("several-per-arch")
    build_plan(BakeResult({}, {}, (), ()), nodes)  # imports and first-call costs are not planning
    tasks = random_dag(jobs, random.Random(1))
    # Best of three: the machine is shared, and the minimum is the least disturbed run.
    total = min(_timed(lambda: build_plan(result, nodes)) for _ in range(3))
    alone = min(_timed(lambda: simulate(prepare(tasks, nodes))) for _ in range(3))
    return total, alone


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _table(title: str, rows: Sequence[tuple[str, int, str, float, float, float]]) -> None:
    print(title)
    print(f"{'shape':<11} {'jobs':>5} {'nodes':<18} {'bakeplan':>8} {'buildx':>8} {'fifo':>8}")
    for shape, size, node_set, ours, buildx, fifo in rows:
        print(f"{shape:<11} {size:>5} {node_set:<18} {ours:>8.3f} {buildx:>8.3f} {fifo:>8.3f}")
    for k, name in ((3, "bakeplan"), (4, "buildx"), (5, "fifo")):
        values = [float(r[k]) for r in rows]
        print(f"{name:<9} mean {statistics.fmean(values):.3f}  worst {max(values):.3f}")


def main() -> None:
    """Print the quality tables, the goal check, and the planning time."""
    rows = quality()
    _table("schedule quality: makespan / lower bound (1.00 = optimal)", rows)
    ours = [r[3] for r in rows]
    print(f"goal: bakeplan mean <= 1.05 ({'met' if statistics.fmean(ours) <= 1.05 else 'NOT met'}), "
          f"worst <= 1.25 ({'met' if max(ours) <= 1.25 else 'NOT met'})")
    _table("\nwith an emulating node (outside the goal; the bound is looser here)",
           quality(sizes=(50, 200, 1000), seeds=1, node_sets=("with-emulation",)))
    total, alone = planning_time()
    print(f"planning 10,000 jobs (best of 3): build_plan {total:.3f} s (goal <= 1 s), scheduler alone {alone:.3f} s")


if __name__ == "__main__":
    main()
