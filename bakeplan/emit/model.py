"""The CI-neutral plan every renderer reads: legs, layers, chunks, merges, hand-overs.

Policy:
- A *leg* is one CI job: one `docker buildx bake` invocation for one target on
  one platform, described by `bakeplan.invocation.TargetSettings` (platform,
  per-leg cache refs, outputs) that make it independent of the other legs.
- Legs are grouped into *layers* by the `target:` graph: a leg's layer is the
  length of the longest dependency chain below it, so every dependency sits in
  an earlier layer and a layer only waits for earlier ones.
- A layer is split into *chunks* of at most the CI system's matrix limit
  (GitHub: 256 jobs per matrix, GitLab: 200 per `parallel:matrix`), filling
  chunks in leg order so that adding one leg changes only the last chunk.
- A multi-platform target that pushes is built per platform and pushed by
  digest; a *merge* then creates the manifest under the target's tags with
  `docker buildx imagetools create`, as buildx does inside a multi-node builder.
- A leg reads its `target:` parents *by digest* when the plan has a registry
  (`--push` or `--handoff`): each parent leg pushes its image (by digest) and
  saves the digest like a merge leg does; the child's leg sets
  `CHILD.contexts.NAME=docker-image://REPO@DIGEST` (a `Handoff`), so buildx
  never builds the parent there. Without a registry, for a parent with no
  repository to go to, or when the parent's leg is left out of this run
  (`--since`), the child's leg rebuilds the parent from the parent leg's
  cache (`Leg.rebuilt`), and the output says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from bakeplan import dag
from bakeplan.bake.model import JSONValue, Target
from bakeplan.invocation import TargetSettings
from bakeplan.record import field, record, replace


@record
class Inputs:
    """What a job reads from the repository, for `--since` (paths as written)."""

    context: str | None  # None: remote or stdin context, not a local directory
    dockerfile: str | None  # None: dockerfile-inline or a remote context
    local_contexts: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # other files the build reads: Dockerfile.dockerignore, secret sources


@record
class Link:
    """One `target:` context of a job: `contexts.NAME = "target:PARENT"`, served by the parent's job `job`."""

    context: str
    parent: str
    job: str


@record
class Job:
    """One target on one platform, as the CI emitters need it (from the plan stage)."""

    id: str
    target: str
    platform: str | None  # None: the runner's own platform
    values: tuple[tuple[str, JSONValue], ...] = ()  # matrix values, in matrix key order
    needs: tuple[str, ...] = ()  # ids of the jobs this one waits for (target: links)
    links: tuple[Link, ...] = ()  # the target's direct `target:` contexts, each with the job it reads
    inputs: Inputs = field(default_factory=lambda: Inputs(".", "Dockerfile"))
    spec: Target | None = None  # the resolved target (its outputs, tags, ...)
    multi: bool = False  # the target builds several platforms
    linked_only: bool = False  # not asked for: only read by other targets (buildx makes it cache-only)


@record
class Handoff:
    """A parent a leg reads by digest: `TARGET.contexts.CONTEXT=docker-image://REPOSITORY@<digest of LEG>`.

    `target` is the target in the leg's invocation that reads the parent (the
    leg's own, or a parent it rebuilds); `variable` names the shell variable
    holding the digest in the leg's script.
    """

    target: str
    context: str
    parent: str
    leg: str
    repository: str
    variable: str


@record
class Leg:
    """One CI job: a job placed in a layer, with its runner and exact overrides."""

    id: str
    name: str  # short display name, e.g. "app (arm64)"
    target: str
    platform: str | None
    values: tuple[tuple[str, JSONValue], ...]
    runner: str
    emulated: bool  # the runner is not native for the platform: set up QEMU
    sets: tuple[str, ...]  # the user's `--set`s still passed (none on a key bakeplan sets: user_sets)
    needs: tuple[str, ...]  # leg ids
    layer: int
    settings: tuple[TargetSettings, ...] = ()  # bakeplan's own values: the leg's target, then parents it rebuilds
    handoffs: tuple[Handoff, ...] = ()  # parents read by digest
    rebuilt: tuple[str, ...] = ()  # parent targets rebuilt inside this leg (no hand-over possible)
    merge: bool = False  # this leg pushes by digest for a manifest merge
    digest: bool = False  # this leg saves its pushed digest (for a merge or for its children)
    manifest: bool = False  # save the image manifest's digest, not the index's (children on other platforms)
    repository: str = ""  # where the saved digest can be pulled from

    @property
    def overrides(self) -> tuple[str, ...]:
        """Every `--set` value of the leg except the hand-over contexts (known only at run time)."""
        return (*self.sets, *(item for settings in self.settings for item in settings.sets()))


@record
class Chunk:
    """One matrix (GitHub job, GitLab `parallel:matrix` job, Jenkins parallel block)."""

    id: str  # "build-<layer>-<index>"
    layer: int
    index: int
    legs: tuple[Leg, ...]
    needs: tuple[str, ...]  # chunk ids holding the legs' dependencies


@record
class Merge:
    """A multi-platform manifest assembled from the legs' pushed digests."""

    target: str
    tags: tuple[str, ...]
    repository: str  # where the legs pushed by digest (the first tag's repository)
    legs: tuple[str, ...]


@record
class Omitted:
    """A job left out of the emitted plan, and why (e.g. by `--since`)."""

    job: str
    reason: str


@record
class BakeCall:
    """How the CI jobs call bake: the files, names, user overrides and variables."""

    files: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()
    vars: tuple[tuple[str, str], ...] = ()
    # Where bake runs, relative to the repository root (CI jobs start there): the
    # files and contexts above are relative to it, as they were where `bakeplan ci` ran.
    workdir: str = "."


@record
class CIPlan:
    """Everything a renderer needs, in a deterministic order."""

    call: BakeCall
    chunks: tuple[Chunk, ...]
    merges: tuple[Merge, ...] = ()
    omitted: tuple[Omitted, ...] = ()
    limit: int = 256
    registry: bool = False  # parents are handed over by digest (--push or --handoff)
    cached: bool = False  # legs have per-leg caches (--cache)
    unpushed: tuple[str, ...] = ()  # with a registry, parent targets with no repository to go to

    @property
    def legs(self) -> tuple[Leg, ...]:
        """Every leg, layer by layer, chunk by chunk."""
        return tuple(leg for chunk in self.chunks for leg in chunk.legs)

    @property
    def layers(self) -> tuple[tuple[Chunk, ...], ...]:
        """The chunks grouped per layer, in layer order."""
        count = max((chunk.layer for chunk in self.chunks), default=-1) + 1
        return tuple(tuple(c for c in self.chunks if c.layer == n) for n in range(count))


def layers(jobs: Sequence[Job]) -> dict[str, int]:
    """Each job's layer: 0 without dependencies, else 1 + its deepest dependency's layer."""
    by_id = {job.id: job for job in jobs}
    generations = dag.generations(dependency_graph(jobs), what="target:", label=lambda j: by_id[j].target)
    return {job_id: depth for depth, members in enumerate(generations) for job_id in members}


def dependency_graph(jobs: Sequence[Job]) -> nx.DiGraph:
    """Job ids, edges from a dependency to the job that waits for it."""
    graph = nx.DiGraph()
    graph.add_nodes_from(job.id for job in jobs)
    graph.add_edges_from((need, job.id) for job in jobs for need in job.needs if need in graph)
    return graph


def chunk(legs: Sequence[Leg], limit: int) -> tuple[Chunk, ...]:
    """Split legs per layer into chunks of at most `limit`, keeping leg order."""
    if limit < 1:
        raise ValueError("the matrix limit must be at least 1")
    where: dict[str, str] = {}
    chunks: list[Chunk] = []
    for layer in sorted({leg.layer for leg in legs}):
        members = [leg for leg in legs if leg.layer == layer]
        for index, start in enumerate(range(0, len(members), limit)):
            part = tuple(members[start : start + limit])
            chunk_id = f"build-{layer}-{index}"
            needs = sorted({where[n] for leg in part for n in leg.needs if n in where}, key=_chunk_key)
            where.update((leg.id, chunk_id) for leg in part)
            chunks.append(Chunk(chunk_id, layer, index, part, tuple(needs)))
    return tuple(chunks)


def _chunk_key(chunk_id: str) -> tuple[int, int]:
    _, layer, index = chunk_id.split("-")
    return int(layer), int(index)


def keep_only(plan: CIPlan, kept: frozenset[str], omitted: Sequence[Omitted]) -> CIPlan:
    """The plan with only the `kept` legs; chunks keep their ids (empty ones stay)."""
    chunks = tuple(
        replace(c, legs=tuple(_drop_needs(leg, kept) for leg in c.legs if leg.id in kept)) for c in plan.chunks
    )
    merges = tuple(m for m in plan.merges if all(leg in kept for leg in m.legs))
    return replace(plan, chunks=chunks, merges=merges, omitted=(*plan.omitted, *omitted))


def _drop_needs(leg: Leg, kept: frozenset[str]) -> Leg:
    return replace(leg, needs=tuple(n for n in leg.needs if n in kept))
