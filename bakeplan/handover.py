"""Hand-over of a job's result to its children on other nodes, by digest.

A parent whose children may run on another node exports its result once, as
an extra output of its own build:

- by default an OCI layout in the run directory on this machine
  (`type=oci,dest=RUN/handover/JOB,tar=false`); children read it with
  `oci-layout://RUN/handover/JOB@sha256:...` (buildx serves the folder to
  the child's builder through its session);
- with `--handoff registry:REPO`, pushed by digest into REPO; children read
  `docker-image://REPO@sha256:...`.

Either way the reference names the exact image manifest, so every child reads
the very same parent image, never a rebuild.

An export is written to `JOB.partial` and renamed to `JOB` only once the job
succeeded and its digest was read, so an interrupted export is never taken
for a finished one: `discard_partial` removes leftovers, and only references
recorded in the run state are ever read. `cleanup` removes every copy after a
run that needs none of them any more.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bakeplan.errors import BakeplanError, UsageError
from bakeplan.outputs import digest_output, entry_text
from bakeplan.record import record
from bakeplan.runner import file_name

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
PARTIAL = ".partial"


@record
class Handoff:
    """Where hand-over copies go: `oci` (the run directory) or `registry` (`repository`)."""

    kind: str = "oci"
    repository: str = ""

    @classmethod
    def parse(cls, text: str) -> Handoff:
        """`oci` or `registry:REPO`."""
        kind, sep, rest = text.partition(":")
        if kind == "oci" and not sep:
            return cls()
        if kind == "registry" and rest and "@" not in rest:
            return cls("registry", rest)
        raise UsageError(f"bad --handoff {text!r}",
                            hint="Use --handoff oci (an OCI layout in the run directory) or --handoff registry:REPO.")


@record
class HandoverStore:
    """The hand-over copies of one run."""

    run_dir: Path
    handoff: Handoff = Handoff()

    @property
    def root(self) -> Path:
        """The folder holding the OCI layouts."""
        return self.run_dir / "handover"

    def output(self, job_id: str) -> str:
        """The extra output entry that exports a job's result for hand-over."""
        if self.handoff.kind == "registry":
            return digest_output([self.handoff.repository])
        return entry_text({"type": "oci", "dest": str(self.partial(job_id)), "tar": "false"})

    def partial(self, job_id: str) -> Path:
        """Where a job's layout is written while the job runs."""
        return self.root / (file_name(job_id) + PARTIAL)

    def prepare(self, job_id: str) -> None:
        """Make room for a job's export: no stale partial copy, a writable folder."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(self.partial(job_id), ignore_errors=True)
            self.partial(job_id).mkdir()  # here, so that a folder bake cannot write fails with our remedy
        except OSError as error:
            raise BakeplanError(f"cannot write the hand-over of {job_id} in {self.root}: {error.strerror or error}",
                                hint="Pick a writable place with --run-dir.") from error

    def collect(self, job_id: str, digest: str = "") -> str:
        """The finished job's hand-over reference; for a layout, moves it into place first."""
        if self.handoff.kind == "registry":
            if not digest:
                raise BakeplanError(f"{job_id} pushed no digest to {self.handoff.repository}",
                                    hint="Check that the registry accepts pushes (see the job's log).")
            return f"docker-image://{self.handoff.repository}@{digest}"
        partial, final = self.partial(job_id), self.root / file_name(job_id)
        found = image_digest(partial)
        try:
            shutil.rmtree(final, ignore_errors=True)
            partial.rename(final)
        except OSError as error:
            raise BakeplanError(f"cannot keep the hand-over of {job_id} in {self.root}: {error.strerror or error}",
                                hint="Pick a writable place with --run-dir.") from error
        return f"oci-layout://{final}@{found}"

    def discard_partial(self) -> None:
        """Remove interrupted exports (never recorded, never read)."""
        if self.root.is_dir():
            for path in self.root.glob("*" + PARTIAL):
                shutil.rmtree(path, ignore_errors=True)

    def cleanup(self) -> None:
        """Remove every hand-over copy of the run."""
        shutil.rmtree(self.root, ignore_errors=True)


def image_digest(layout: Path) -> str:
    """The digest of the one image manifest in an OCI layout (inside an index: the platform's, not an attestation's)."""
    try:
        index = json.loads((layout / "index.json").read_text())
        entry = index["manifests"][0]
        while entry.get("mediaType") in (OCI_INDEX, DOCKER_LIST):
            inner = json.loads(_blob(layout, entry["digest"]).read_text())
            entry = next(m for m in inner["manifests"] if not _attestation(m))
        return str(entry["digest"])
    except (OSError, ValueError, KeyError, IndexError, StopIteration, TypeError) as error:
        raise BakeplanError(f"no image in the hand-over layout {layout}: {error}",
                            hint="The export did not finish; run again (--resume).") from error


def _blob(layout: Path, digest: str) -> Path:
    algorithm, _, value = digest.partition(":")
    return layout / "blobs" / algorithm / value


def _attestation(entry: dict[str, object]) -> bool:
    """BuildKit lists attestation manifests with platform unknown/unknown."""
    platform = entry.get("platform")
    return isinstance(platform, dict) and platform.get("os") == "unknown"
