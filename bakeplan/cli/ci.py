"""`bakeplan ci github|gitlab|jenkins`: the plan as CI configuration."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from bakeplan.cli import pflag
from bakeplan.cli.options import Exclude, Files, Names, NoCache, Only, Provenance, Pull, Sbom, Sets, Vars
from bakeplan.cli.request import bake_request, definition_sets
from bakeplan.record import record

if TYPE_CHECKING:
    from bakeplan.emit.build import CIRequest
    from bakeplan.emit.model import CIPlan

Repeat = Optional[list[str]]
Runner = Annotated[
    Repeat,
    typer.Option("--runner", metavar="PLATFORM=LABEL", help="Runner label per platform: PLATFORM=LABEL or default=LABEL.", show_default=False),
]
Cache = Annotated[
    Optional[str],
    typer.Option(
        "--cache",
        metavar="SPEC",
        help="Per-leg cache: gha, registry:REPO, local:DIR, s3:BUCKET, none (default: gha for github, none otherwise).",
        show_default=False,
    ),
]
Scope = Annotated[str, typer.Option("--cache-scope", help="Prefix of the cache tags (e.g. the branch).")]
Fallback = Annotated[Repeat, typer.Option("--cache-fallback", help="Also read this scope's cache (repeatable).", show_default=False)]
Replace = Annotated[bool, typer.Option("--cache-replace", help="Replace the bake file's cache-from/cache-to instead of adding to them.")]
Push = Annotated[bool, typer.Option("--push", help="Push tagged targets; multi-platform ones by digest, then merged.")]
Handoff = Annotated[
    Optional[str],
    typer.Option(
        "--handoff",
        metavar="registry:REPO",
        help=(
            "Hand `target:` parents to their children's legs by digest through this repository (pushed parents use their own). "
            "Without it or --push, children rebuild their parents."
        ),
        show_default=False,
    ),
]
Since = Annotated[Optional[str], typer.Option("--since", help="Only jobs whose inputs changed since this git revision.", show_default=False)]
Login = Annotated[Optional[str], typer.Option("--login", help="Log in to this registry before pushing.", show_default=False)]
Output = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file instead of stdout.", show_default=False)]

Install = Annotated[
    Optional[str],
    typer.Option(
        "--install",
        metavar="SOURCE",
        help=(
            "The pinned bakeplan the workflow's plan job installs: bakeplan==VERSION (default: this version), "
            "a wheel's path in the repository, or git+URL@COMMIT."
        ),
        show_default=False,
    ),
]
Image = Annotated[str, typer.Option("--image", help="The jobs' image: docker with buildx >= 0.22 (for the cache overrides).")]
Service = Annotated[str, typer.Option("--service", help="The Docker-in-Docker service image, or `none` for runners with their own daemon.")]
Credentials = Annotated[str, typer.Option("--credentials", metavar="ID", help="The Jenkins username/password credential to log in with (--login).")]


class GitlabMode(str, Enum):
    """`bakeplan ci gitlab --mode`: one job per leg, or parallel:matrix jobs."""

    jobs = "jobs"
    matrix = "matrix"


def register(app: typer.Typer) -> None:
    """Add the `ci` command group (github, gitlab, jenkins) to the app."""
    group = typer.Typer(help="Emit the plan for a CI system: GitHub Actions, GitLab CI, Jenkins.", no_args_is_help=True)
    group.command("github", cls=pflag.Command)(github_command)
    group.command("gitlab", cls=pflag.Command)(gitlab_command)
    group.command("jenkins", cls=pflag.Command)(jenkins_command)
    app.add_typer(group, name="ci")


@record
class Common:
    """The options every `ci` command shares, as given."""

    names: list[str]
    files: list[str] | None
    sets: list[str]
    vars: list[str]
    only: list[str]
    exclude: list[str]
    runners: list[str]
    cache: str | None
    scope: str
    fallbacks: list[str]
    replace: bool
    push: bool
    since: str | None
    handoff: str | None = None

    def request(self, system: str, limit: int, default_cache: str) -> CIRequest:
        """The core request for `system`."""
        from bakeplan.cache import parse_backend
        from bakeplan.emit.build import CIRequest
        from bakeplan.emit.legs import EmitOptions, parse_handoff, runners_for
        from bakeplan.jobs import Filter

        spec = self.cache or default_cache
        refuse_gha(system, spec)
        cache = None if spec == "none" else parse_backend(spec, scope=self.scope, fallbacks=self.fallbacks, replace=self.replace)
        bake = bake_request(self.names, self.files, self.sets, self.vars)
        handoff = parse_handoff(self.handoff) if self.handoff is not None else None
        options = EmitOptions(runners_for(system, self.runners), cache, self.push, limit, handoff)
        return CIRequest(bake, options, tuple(map(Filter.parse, self.only)), tuple(map(Filter.parse, self.exclude)), self.since)

    def argv(self, system: str, extra: Sequence[str] = ()) -> list[str]:
        """The `bakeplan ci SYSTEM ...` command line that reproduces this plan (plus `extra` options)."""
        argv = ["bakeplan", "ci", system]
        for flag, items in (("-f", self.files or []), ("--set", self.sets), ("--var", self.vars), ("--only", self.only),
                            ("--exclude", self.exclude), ("--runner", self.runners), ("--cache-fallback", self.fallbacks)):
            for item in items:
                argv += [flag, item]
        argv += ["--cache", self.cache] if self.cache else []
        argv += ["--cache-scope", self.scope] if self.scope else []
        argv += ["--cache-replace"] if self.replace else []
        argv += ["--push"] if self.push else []
        argv += ["--handoff", self.handoff] if self.handoff else []
        argv += ["--since", self.since] if self.since else []
        return [*argv, *extra, *self.names]


def _common(names: Names, files: Files, sets: Sets, vars_: Vars, only: Only, exclude: Exclude, runner: Runner,
            cache: Cache, cache_scope: Scope, cache_fallback: Fallback, cache_replace: Replace, push: Push,
            since: Since, handoff: Handoff) -> Common:
    return Common(list(names or []), files, list(sets or []), list(vars_ or []), list(only or []), list(exclude or []),
                  list(runner or []), cache, cache_scope, list(cache_fallback or []), cache_replace, push, since, handoff)


def refuse_gha(system: str, spec: str) -> None:
    """The `gha` cache lives in GitHub Actions' cache service, which no other CI system has."""
    from bakeplan.errors import BakeplanError

    if system != "github" and (spec == "gha" or spec.startswith("gha:") or spec.startswith("gha,")):
        raise BakeplanError(f"--cache {spec} needs GitHub Actions' cache service, which {system} does not have",
                            hint="Use --cache registry:REPO (or local:DIR, s3:BUCKET) outside GitHub Actions.")


def _plan(request: CIRequest) -> CIPlan:
    from bakeplan.emit.build import ci_plan
    from bakeplan.emit.commands import omitted_lines, rebuild_lines

    plan = ci_plan(request)
    for line in [*omitted_lines(plan.omitted), *rebuild_lines(plan)]:
        print(line, file=sys.stderr)
    return plan


def _write(text: str, output: Path | None) -> None:
    from bakeplan.errors import BakeplanError

    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise BakeplanError(f"cannot write {output}: {error.strerror or error}",
                            hint="Check that its directory exists and is writable.") from error


def github_command(
    names: Names = None, files: Files = None, sets: Sets = None, vars_: Vars = None, only: Only = None,
    exclude: Exclude = None, runner: Runner = None, cache: Cache = None, cache_scope: Scope = "",
    cache_fallback: Fallback = None, cache_replace: Replace = False, push: Push = False, since: Since = None,
    handoff: Handoff = None, login: Login = None,
    no_cache: NoCache = None, pull: Pull = None, sbom: Sbom = "", provenance: Provenance = "",
    output: Output = None,
    workflow: Annotated[bool, typer.Option("--workflow", help="Write a complete workflow instead of the matrix.")] = False,
    install: Install = None,
    expect: Annotated[Optional[str], typer.Option(
        "--expect-chunks", show_default=False,
        help="Fail unless the plan has exactly these matrix jobs (comma-separated; the workflow's plan job passes them).",
    )] = None,
    no_merges: Annotated[bool, typer.Option(
        "--expect-no-merges",
        help="Fail if the plan merges manifests (the workflow's plan job passes it when the workflow has no merge job).",
    )] = False,
) -> None:
    """GitHub Actions: `strategy.matrix` JSON (and $GITHUB_OUTPUT inside Actions), or a workflow.

    One matrix prints as {"include": [...]}; several (layers of `target:` links,
    or more than 256 legs) print as {"matrices": [{"id", "layer", "needs",
    "include"}, ...]}. Inside Actions, $GITHUB_OUTPUT gets matrix_<layer>_<n>
    and count_<layer>_<n> per matrix, `matrix` when there is one, `merges`
    and `omitted`.
    """
    from bakeplan.emit import github
    from bakeplan.emit.install import install_source

    sets = definition_sets(sets, no_cache=no_cache, pull=pull, sbom=sbom, provenance=provenance)  # as `--set`s, in every leg
    common = _common(names, files, sets, vars_, only, exclude, runner, cache, cache_scope, cache_fallback, cache_replace, push,
                     since, handoff)
    source = install_source(install) if workflow else ""
    plan = _plan(common.request("github", github.MATRIX_LIMIT, "gha"))
    if expect is not None:
        github.check_chunks(plan, expect.split(","))
    if no_merges:
        github.check_merges(plan)
    if workflow:
        extra = ["--workflow", *(["--login", login] if login else []), *(["--install", install] if install else [])]
        command = shlex.join(common.argv("github", extra))
        expected = ["--expect-chunks", ",".join(c.id for c in plan.chunks), *([] if plan.merges else ["--expect-no-merges"])]
        plan_argv = common.argv("github", expected)
        _write(github.render_workflow(plan, plan_argv, install=source, login=login, command=command), output)
        return
    _write(github.render_matrix(plan), output)
    _github_files(plan)


def _github_files(plan: CIPlan, environ: dict[str, str] | None = None) -> None:
    """Inside GitHub Actions: append the step outputs and a summary."""
    from bakeplan.emit import github

    env = os.environ if environ is None else environ
    if env.get("GITHUB_OUTPUT"):
        values = github.outputs(plan)
        if values["spill"] == "true":
            # Over GitHub's outputs limit: the plan job uploads the rows' overrides as an artifact.
            folder = Path(env.get("RUNNER_TEMP", ".")) / github.LEGS_ARTIFACT
            folder.mkdir(parents=True, exist_ok=True)
            (folder / github.LEGS_FILE).write_text(github.spilled_legs(plan), encoding="utf-8")
        with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as handle:
            handle.write(github.github_output_text(values))
    if env.get("GITHUB_STEP_SUMMARY"):
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as handle:
            handle.write(github.step_summary(plan))


def gitlab_command(
    names: Names = None, files: Files = None, sets: Sets = None, vars_: Vars = None, only: Only = None,
    exclude: Exclude = None, runner: Runner = None, cache: Cache = None, cache_scope: Scope = "",
    cache_fallback: Fallback = None, cache_replace: Replace = False, push: Push = False, since: Since = None,
    handoff: Handoff = None, login: Login = None,
    no_cache: NoCache = None, pull: Pull = None, sbom: Sbom = "", provenance: Provenance = "",
    output: Output = None,
    mode: Annotated[GitlabMode, typer.Option("--mode", help="jobs (one job per leg) or matrix (parallel:matrix per chunk).")] = GitlabMode.jobs,
    image: Image = "docker:29", service: Service = "docker:29-dind",
) -> None:
    """GitLab CI: a child-pipeline YAML (write it as an artifact, run it with `trigger: include: artifact`)."""
    from bakeplan.emit import gitlab

    sets = definition_sets(sets, no_cache=no_cache, pull=pull, sbom=sbom, provenance=provenance)  # as `--set`s, in every leg
    common = _common(names, files, sets, vars_, only, exclude, runner, cache, cache_scope, cache_fallback, cache_replace, push,
                     since, handoff)
    plan = _plan(common.request("gitlab", gitlab.MATRIX_LIMIT, "none"))
    extra = [*(["--mode", mode.value] if mode != GitlabMode.jobs else []), *(["--login", login] if login else [])]
    extra += [*(["--image", image] if image != gitlab.DOCKER_IMAGE else []), *(["--service", service] if service != gitlab.DIND_SERVICE else [])]
    text = gitlab.render(plan, mode=mode.value, login=login, merge_runner=plan_default_runner("gitlab", runner),
                         command=shlex.join(common.argv("gitlab", extra)), image=image, service=None if service == "none" else service)
    for line in gitlab.limit_lines(gitlab.job_count(plan), len(text.encode())):
        print(line, file=sys.stderr)
    _write(text, output)


def jenkins_command(
    names: Names = None, files: Files = None, sets: Sets = None, vars_: Vars = None, only: Only = None,
    exclude: Exclude = None, runner: Runner = None, cache: Cache = None, cache_scope: Scope = "",
    cache_fallback: Fallback = None, cache_replace: Replace = False, push: Push = False, since: Since = None,
    handoff: Handoff = None, login: Login = None,
    no_cache: NoCache = None, pull: Pull = None, sbom: Sbom = "", provenance: Provenance = "",
    output: Output = None, credentials: Credentials = "registry",
) -> None:
    """Jenkins: a declarative Jenkinsfile with parallel stages per layer."""
    from bakeplan.emit import jenkins

    sets = definition_sets(sets, no_cache=no_cache, pull=pull, sbom=sbom, provenance=provenance)  # as `--set`s, in every leg
    common = _common(names, files, sets, vars_, only, exclude, runner, cache, cache_scope, cache_fallback, cache_replace, push,
                     since, handoff)
    plan = _plan(common.request("jenkins", 1_000_000, "none"))
    extra = [*(["--login", login] if login else []), *(["--credentials", credentials] if credentials != jenkins.CREDENTIALS else [])]
    signin = jenkins.Login(login, credentials) if login else None
    text = jenkins.render(plan, merge_agent=plan_default_runner("jenkins", runner), login=signin,
                          command=shlex.join(common.argv("jenkins", extra)))
    _write(text, output)


def plan_default_runner(system: str, overrides: list[str] | None) -> str:
    """The default runner label (for jobs that build nothing platform-specific, like merges)."""
    from bakeplan.emit.legs import runners_for

    return runners_for(system, overrides or []).default
