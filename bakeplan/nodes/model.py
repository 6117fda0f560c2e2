"""The scheduling node: a place that runs `docker buildx bake` invocations, and where its figures came from."""

from __future__ import annotations

from bakeplan.record import record

DECLARED, DETECTED, LEARNED, ASSUMED = "declared", "detected", "learned", "assumed"  # where a figure came from


@record
class Node:
    """A place that runs `docker buildx bake` invocations.

    `builder` is the buildx builder to pass as `--builder` so that the
    invocation lands on this node (a builder holding only this node; buildx
    sends a platform to the first node of a multi-node builder that has it).
    `platforms` lists native platforms first; `native` counts how many of them
    are native (configured `*` or BuildKit's first). `slots` is how many
    invocations may run at once. `memory` is in bytes (None: unknown).
    `excluded` is None for a usable node, otherwise the reason it is left out.
    `shared` marks a healthy node of a multi-node builder that no single-node
    builder reaches: buildx cannot send a job to it alone (`run` can give it
    a builder of its own).
    `host` names the machine the node runs on: nodes with the same host share
    its slots ('' : a machine of its own). `speed` is relative to the
    estimates (0.625: jobs take 1.6 times as long here). `slots_source`,
    `memory_source` and `speed_source` say where each figure came from.
    """

    name: str
    builder: str | None = None
    endpoint: str = ""
    platforms: tuple[str, ...] = ()
    native: int = 1
    slots: int = 1
    memory: int | None = None
    status: str = ""
    driver: str = ""
    source: str = "declared"  # declared | buildx | local
    excluded: str | None = None
    shared: bool = False
    host: str = ""
    speed: float = 1.0
    slots_source: str = DECLARED
    memory_source: str = ASSUMED  # as the default memory (None) is
    speed_source: str = ASSUMED
    driver_opts: tuple[tuple[str, str], ...] = ()  # buildx driver options (a remote node's TLS files), sorted

    @property
    def native_platforms(self) -> tuple[str, ...]:
        """The platforms this node builds without emulation or compatibility modes."""
        return self.platforms[: max(self.native, 1)]

    @property
    def default_platform(self) -> str | None:
        """The platform a job without platforms gets on this node."""
        return self.platforms[0] if self.platforms else None
