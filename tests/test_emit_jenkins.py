"""Jenkins: a declarative Jenkinsfile with one parallel stage per layer."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from bakeplan.bake.model import BakeResult, Target
from bakeplan.cache import parse_backend
from bakeplan.emit import jenkins
from bakeplan.emit.legs import EmitOptions, build_plan, runners_for
from bakeplan.emit.model import BakeCall, CIPlan, Omitted, keep_only
from bakeplan.emit.source import jobs_from_result
from tests.support.ci import LITERAL, strings
from tests.support.tools import need


def result(**targets: dict[str, Any]) -> BakeResult:
    return BakeResult({}, {n: Target(n, f) for n, f in targets.items()}, (Path("docker-bake.hcl"),), ("default",))


def plan_of(res: BakeResult, **options: Any) -> CIPlan:
    emit = EmitOptions(runners_for("jenkins", options.pop("runners", ())), limit=10**6, **options)
    return build_plan(jobs_from_result(res), BakeCall(files=("docker-bake.hcl",), vars=(("TAG", "it's 1"),)), emit)


CHAIN = result(
    base={"context": "base", "platforms": ["linux/amd64", "linux/arm64"]},
    app={"context": "app", "platforms": ["linux/amd64", "linux/arm64"], "contexts": {"base": "target:base"},
         "tags": ["docker.io/acme/app:1"]},
)


def structure(text: str) -> list[str]:
    """The pipeline's lines without string contents, to check the nesting."""
    return [line for line in LITERAL.sub("''", text).splitlines() if not line.startswith("//")]


def test_layers_become_parallel_stages_with_agent_labels() -> None:
    plan = plan_of(CHAIN, push=True, cache=parse_backend("registry:docker.io/acme/cache"), handoff="docker.io/acme/handoff")
    text = jenkins.render(plan, login=jenkins.Login("docker.io", "hub"))
    lines = structure(text)
    assert "".join(lines).count("{") == "".join(lines).count("}")
    assert re.findall(r"stage\('([^']*)'\)", text) == [
        "build-0", "base (amd64)", "base (arm64)", "build-1", "app (amd64)", "app (arm64)", "merge",
    ]
    assert text.count("parallel {") == 2
    assert "agent { label 'linux && arm64' }" in text
    literals = strings(text)
    assert "it's 1" in literals  # bake variables reach bake through the environment
    bake = next(line for s in literals for line in s.splitlines()
                if line.startswith("docker buildx bake") and line.endswith(" app") and "linux/arm64" in line)
    assert "--set app.cache-to+=type=registry,ref=docker.io/acme/cache:app-linux-arm64,mode=max " in bake
    assert "stash name: 'digest-app-linux-arm64', includes: 'digests/app/app-linux-arm64'" in text
    assert "unstash 'digest-app-linux-amd64'" in text
    assert any("imagetools create -t docker.io/acme/app:1" in s for s in literals)
    # Credentials are bound around the steps that log in, from the credential named.
    binding = ("withCredentials([usernamePassword(credentialsId: 'hub', usernameVariable: 'REGISTRY_USER', "
               "passwordVariable: 'REGISTRY_PASSWORD')]) {")
    assert text.count(binding) == 5  # four legs and the merge
    assert all(("docker login" in s) == ("docker buildx bake" in s or "imagetools create" in s)
               for s in literals if "docker " in s and "docker buildx inspect" not in s.splitlines()[0])


def stage_steps(text: str, name: str) -> list[str]:
    """The steps of one stage, one per item (a multi-line `sh` kept whole)."""
    stage = text[text.index(f"stage({jenkins.groovy(name)})"):]
    body = stage[stage.index("steps {") + len("steps {"): stage.index("\n                    }\n")]
    return [m.group(0) for m in re.finditer(r"sh '''.*?'''|\S[^\n]*", body, re.DOTALL)]


def test_a_child_stage_unstashes_its_parents_digest_and_bakes_with_it(tmp_path: Path) -> None:
    need('sh')
    text = jenkins.render(plan_of(CHAIN, handoff="docker.io/acme/handoff"))
    steps = stage_steps(text, "app (arm64)")
    # A reused workspace may hold an earlier build's digests: gone before the parents' are unstashed.
    assert steps[:2] == ["sh 'rm -rf digests'", "unstash 'digest-base-linux-arm64'"]
    steps = steps[2:]
    # What unstash brings, then each `sh` step in a shell of its own, as Jenkins runs them.
    (tmp_path / "digests" / "base").mkdir(parents=True)
    (tmp_path / "digests" / "base" / "base-linux-arm64").write_text("sha256:b4\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # The stub logs every call, and prints the bake's arguments.
    (bin_dir / "docker").write_text('#!/bin/sh\necho "$*" >> "$LOG"\n'
                                    '[ "$2" = bake ] && for a in "$@"; do printf "%s\\n" "$a"; done; exit 0\n')
    (bin_dir / "docker").chmod(0o755)
    printed = []
    for step in steps:
        [script] = strings(step)
        done = subprocess.run(["sh", "-ec", script], cwd=tmp_path, env={"PATH": f"{bin_dir}:/usr/bin:/bin", "EXECUTOR_NUMBER": "3", "LOG": str(tmp_path / "log")},
                              capture_output=True, text=True, check=True)
        printed.append(done.stdout.splitlines())
    # The executor's own builder (two executors of one agent never race to create one), then the bake.
    assert (tmp_path / "log").read_text().splitlines()[0] == "buildx inspect bakeplan-3"
    assert printed[-1] == [
        "buildx", "bake", "-f", "docker-bake.hcl", "--set", "app.platform=linux/arm64",
        "--set", "app.contexts.base=docker-image://docker.io/acme/handoff@sha256:b4", "app",
    ]
    base = stage_steps(text, "base (arm64)")
    assert base[-1] == "stash name: 'digest-base-linux-arm64', includes: 'digests/base/base-linux-arm64'"
    # The merge stage starts from no digests: a reused workspace may hold an earlier build's.
    merged = jenkins.render(plan_of(CHAIN, push=True, handoff="docker.io/acme/handoff"))
    assert merged[merged.index("stage('merge')"):].splitlines()[3].strip() == "sh 'rm -rf digests'"


def test_groovy_literals_escape_quotes_backslashes_and_newlines() -> None:
    assert jenkins.groovy("a'b\\c\nd") == "'a\\'b\\\\c\\nd'"
    assert strings(jenkins.groovy("a'b\\c\nd")) == ["a'b\\c\nd"]


def test_emulated_platforms_install_binfmt_first() -> None:
    text = jenkins.render(plan_of(result(x={"platforms": ["linux/s390x"]})))
    lines = [line for s in strings(text) for line in s.splitlines()]
    assert lines.index("docker run --privileged --rm tonistiigi/binfmt --install linux/s390x") < next(
        i for i, line in enumerate(lines) if line.startswith("docker buildx bake")
    )


def test_left_out_jobs_are_comments_and_empty_layers_vanish() -> None:
    plan = plan_of(CHAIN)
    trimmed = keep_only(plan, frozenset({"app-linux-amd64", "app-linux-arm64"}), [Omitted("base-linux-amd64", "unchanged")])
    text = jenkins.render(trimmed)
    assert text.startswith("// Generated by bakeplan") and "// left out base-linux-amd64: unchanged\n" in text
    assert "build-0" not in text and "stage('build-1')" in text


def test_an_empty_plan_is_still_a_pipeline() -> None:
    text = jenkins.render(keep_only(plan_of(CHAIN), frozenset(), []))
    assert "stage('nothing to build')" in text


def test_multi_line_scripts_use_triple_quotes_and_survive_escaping() -> None:
    script = "if [ -d x ]; then\n  echo '''a\\b'''\nfi\n"
    step = jenkins.shell(script)
    assert step.startswith("sh '''\n")
    assert strings(step) == ["\n" + script]


def test_a_700_leg_plan_keeps_every_generated_method_small_by_construction() -> None:
    """The JVM caps a method at 64 KB and a constant at 64 KB: nothing the plan's size multiplies may land in one."""
    targets = {f"t{i:03d}": {"platforms": ["linux/amd64", "linux/arm64"], "tags": [f"docker.io/acme/t{i:03d}:1"]}
               for i in range(350)}
    text = jenkins.render(plan_of(result(**targets), push=True))
    pipeline, functions = text.split("\n}\n", 1)
    # The pipeline block holds one stage per layer and the merge, whatever the number of legs.
    assert re.findall(r"stage\('([^']*)'\)", pipeline) == ["build-0", "merge"]
    assert len(structure(pipeline)) < 60  # lines of code, string constants aside
    parts = re.findall(r"\nMap (build0Part\d+)\(\) \{\n(.*?)\n\}\n", functions, re.DOTALL)
    assert [name for name, _ in parts] == [f"build0Part{n}" for n in range(700 // jenkins.PER_METHOD + 1)]
    branches = [len(re.findall(r"^        \('[^']*'\): \{ bakeLeg\(", body, re.MULTILINE)) for _, body in parts]
    assert sum(branches) == 700 and max(branches) == jenkins.PER_METHOD
    assert all(f"branches.putAll({name}())" in pipeline for name, _ in parts)
    assert functions.count("\nvoid bakeLeg(") == 1
    # The merge: 700 unstashes from a few string constants, 350 merges in `sh` steps of at most PER_METHOD.
    assert pipeline.count("unstash name") == 2 and pipeline.count("        sh '''") == -(-350 // jenkins.PER_METHOD)
    assert max(len(s.encode()) for s in strings(text)) < 65535


def test_a_small_layer_stays_a_declarative_parallel_block() -> None:
    targets = {f"t{i}": {"platforms": ["linux/amd64"]} for i in range(jenkins.PER_METHOD)}
    text = jenkins.render(plan_of(result(**targets)))
    assert text.count("parallel {") == 1 and "bakeLeg" not in text
    assert "parallel(branches)" in jenkins.render(plan_of(result(**targets)), _per_method=jenkins.PER_METHOD - 1)
