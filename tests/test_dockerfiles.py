"""Where a job's RUN steps run, read from its Dockerfile with BuildKit's parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeplan.bake.model import Target
from bakeplan.dockerfiles import Execution, classify

GO_XX = """\
# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
FROM --platform=$BUILDPLATFORM tonistiigi/xx AS xx
FROM --platform=${BUILDPLATFORM} golang:${GO_VERSION} AS build
COPY --from=xx / /
ARG TARGETPLATFORM
RUN <<EOT
  set -e
  xx-go build -o /out/app .
EOT
FROM scratch
COPY --from=build /out/app /
"""


def inline(text: str, **fields: object) -> Target:
    return Target("app", {"dockerfile-inline": text, **fields})


def run(text: str, platform: str | None = "linux/arm64", **fields: object) -> Execution:
    return classify(inline(text, **fields), Path("/nonexistent"), platform)


def test_go_cross_compilation_runs_anywhere() -> None:
    found = run(GO_XX)
    assert found.anywhere and found.build and found.known
    assert found.platforms("linux/arm64") == (None,)
    assert "every RUN runs on $BUILDPLATFORM (stage 'build')" in found.reason


def test_a_run_in_the_final_stage_needs_the_target_platform() -> None:
    found = run("FROM alpine\nCOPY . .\nRUN apk add curl\n")
    assert found.target and not found.anywhere
    assert found.platforms("linux/arm64") == ("linux/arm64",)
    assert found.reason == "dockerfile-inline of target 'app':3: RUN in stage #0 runs on the target platform"


def test_mixed_build_and_target_stages_need_the_target_and_cache_per_build_platform() -> None:
    found = run("FROM --platform=$BUILDPLATFORM golang AS b\nRUN go build\nFROM alpine AS final\nRUN apk add x\nCOPY --from=b / /\n")
    assert found.target and found.build
    assert ":4: RUN in stage 'final'" in found.reason


def test_no_run_at_all_runs_anywhere() -> None:
    found = run("FROM scratch\nCOPY bin /\n")
    assert found.anywhere and not found.build
    assert found.reason.endswith("no RUN step: any node builds it")


def test_unreached_stages_do_not_count() -> None:
    assert run("FROM alpine AS tests\nRUN make test\nFROM scratch\nCOPY a /\n").anywhere


@pytest.mark.parametrize("reference", ["COPY --from=deps /d /d", "RUN --mount=type=bind,from=deps,target=/d true"])
def test_stages_read_by_copy_and_mount_are_followed(reference: str) -> None:
    text = f"FROM alpine AS deps\nRUN apk add x\nFROM --platform=$BUILDPLATFORM golang AS b\n{reference}\nRUN go build\nFROM scratch\nCOPY --from=b / /\n"
    found = run(text)
    assert found.target, found
    assert "stage 'deps'" in found.reason


def test_a_stage_inherits_the_platform_of_the_stage_it_is_based_on() -> None:
    text = "FROM --platform=$BUILDPLATFORM golang AS base\nFROM base AS build\nRUN go build\nFROM scratch\nCOPY --from=build / /\n"
    assert run(text).anywhere


def test_a_literal_platform_is_needed_as_such() -> None:
    found = run("FROM --platform=linux/amd64 debian AS tools\nRUN make\nFROM scratch\nCOPY --from=tools / /\n")
    assert found.fixed == ("linux/amd64",) and not found.target
    assert found.platforms("linux/arm64") == ("linux/amd64",)
    assert found.platforms("linux/amd64") == (None,)


def test_platform_args_resolve_through_global_args_and_build_args() -> None:
    text = "ARG P=$BUILDPLATFORM\nFROM --platform=$P golang AS b\nRUN x\nFROM scratch\nCOPY --from=b / /\n"
    assert run(text).anywhere
    text = "ARG P\nFROM --platform=$P golang AS b\nRUN x\nFROM scratch\nCOPY --from=b / /\n"
    assert run(text, args={"P": "linux/amd64"}).fixed == ("linux/amd64",)
    unresolved = run(text)
    assert unresolved.target and not unresolved.known
    assert "--platform=$P that bakeplan cannot resolve" in unresolved.reason


def test_stage_names_may_depend_on_the_target_platform() -> None:
    text = ("FROM --platform=$BUILDPLATFORM golang AS base-arm64\nRUN go build\n"
            "FROM alpine AS base-amd64\nRUN apk add x\n"
            "FROM base-${TARGETARCH} AS final\n")
    assert run(text, "linux/arm64").anywhere
    assert run(text, "linux/amd64").target


def test_the_target_attribute_picks_the_stage() -> None:
    text = "FROM --platform=$BUILDPLATFORM golang AS b\nRUN go build\nFROM alpine\nRUN apk add x\n"
    assert run(text, target="b").anywhere
    assert run(text).target
    missing = run(text, target="nope")
    assert missing.target and not missing.known and "no stage 'nope'" in missing.reason


def test_a_named_context_replaces_the_stage_of_its_name() -> None:
    text = "FROM alpine AS deps\nRUN apk add x\nFROM scratch\nCOPY --from=deps / /\n"
    assert run(text).target
    assert run(text, contexts={"deps": "target:deps"}).anywhere


def test_files_are_read_relative_to_the_context(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "build.Dockerfile").write_text(GO_XX)
    target = Target("app", {"context": "sub", "dockerfile": "build.Dockerfile"})
    found = classify(target, tmp_path, "linux/arm64")
    assert found.anywhere and found.reason.startswith("sub/build.Dockerfile: ")


def test_what_cannot_be_read_is_assumed_to_run_on_the_target_platform(tmp_path: Path) -> None:
    missing = classify(Target("app", {"context": "."}), tmp_path, "linux/arm64")
    assert missing.target and not missing.known and "cannot read it" in missing.reason
    remote = classify(Target("app", {"context": "https://github.com/docker/buildx.git"}), tmp_path, "linux/arm64")
    assert remote.target and not remote.known and "remote context" in remote.reason
    other = run("# syntax=example.com/frontend:1\nFROM scratch\n")
    assert other.target and not other.known and "frontend example.com/frontend:1" in other.reason
    broken = run("FROM alpine\nRUN <<EOF\nnever closed\n")
    assert broken.target and not broken.known and "heredoc" in broken.reason


def test_the_example_matrices() -> None:
    matrices = Path(__file__).resolve().parents[1] / "matrices"
    go = classify(Target("bin", {"context": "."}), matrices / "go-cross", "linux/arm64")
    assert go.anywhere and go.reason == "Dockerfile: every RUN runs on $BUILDPLATFORM (stage 'build'): cross-compiles on any node"
    app = classify(Target("app", {"context": ".", "target": "full"}), matrices / "app-image", "linux/arm64")
    assert app.target and app.reason == "Dockerfile:3: RUN in stage 'base' runs on the target platform"
