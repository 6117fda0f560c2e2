"""Boolean flags read as buildx's (Go pflag) do: `--push`, `--push=false`, `--push=0 app`, last one wins.

click's own parser reads them (`bakeplan.cli.pflag`); these tests pin the
forms, the error, the click internals it relies on, and compare `bakeplan
print` with `docker buildx bake --print` live.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, ClassVar

import click
import pytest
import typer
from typer.testing import CliRunner

from bakeplan.cli import ci, pflag, plan, print_, run

ROOT = Path(__file__).resolve().parent.parent
# `app` sets what the flags override (a flag given false must still override); `other` sets nothing.
HCL = """\
group "default" {
  targets = ["app"]
}
target "app" {
  dockerfile-inline = "FROM scratch"
  no-cache = true
  pull = true
  call = "outline"
}
target "other" {
  dockerfile-inline = "FROM scratch"
  tags = ["me/other"]
}
"""


class _Probe(pflag.Command):
    aliases: ClassVar[pflag.Aliases] = {"check": ("call", "check")}


def _probe_app() -> typer.Typer:
    """One command with each kind of boolean flag, printing what it received as JSON."""
    app = typer.Typer()

    @app.command(cls=_Probe)
    def show(
        names: Annotated[list[str] | None, typer.Argument()] = None,
        push: Annotated[bool, typer.Option("--push")] = False,
        no_cache: Annotated[bool | None, typer.Option("--no-cache")] = None,
        color: Annotated[bool, typer.Option("--color/--no-color")] = True,
        call: Annotated[str, typer.Option("--call")] = "build",
        check: Annotated[bool, typer.Option("--check")] = False,
    ) -> None:
        typer.echo(json.dumps({"names": names, "push": push, "no_cache": no_cache, "color": color, "call": call, "check": check}))

    return app


def _read(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(_probe_app(), list(args))
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], {"push": False, "no_cache": None}),
        (["--push"], {"push": True}),
        *[([f"--push={text}"], {"push": True}) for text in ("1", "t", "T", "TRUE", "true", "True")],
        *[([f"--push={text}"], {"push": False}) for text in ("0", "f", "F", "FALSE", "false", "False")],
        (["--push", "--push=false"], {"push": False}),
        (["--push=false", "--push"], {"push": True}),
        (["--push=0", "app"], {"push": False, "names": ["app"]}),
        (["--push", "app"], {"push": True, "names": ["app"]}),  # a flag never takes the next argument
        (["--no-cache=false"], {"no_cache": False}),  # given false, which is not left out
        (["--no-cache", "--no-cache=F"], {"no_cache": False}),
        (["--no-color=false"], {"color": True}),  # the negative of a --x/--no-x pair, given false, is --x
        (["--color=false"], {"color": False}),
        (["--check"], {"call": "check", "check": False}),  # an alias: it sets --call where it stands
        (["--check=true"], {"call": "check"}),
        (["--check", "--check=false"], {"call": "check"}),  # a false alias does nothing (buildx callAlias)
        (["--check", "--call=outline"], {"call": "outline"}),
        (["--call=outline", "--check"], {"call": "check"}),
        (["--call=outline", "--check=0"], {"call": "outline"}),
    ],
)
def test_boolean_flags_take_pflag_forms_and_the_last_one_wins(args: list[str], expected: dict[str, Any]) -> None:
    got = _read(*args)
    assert {key: got[key] for key in expected} == expected


@pytest.mark.parametrize(("arg", "flag", "text"), [("--push=maybe", "--push", "maybe"), ("--push=", "--push", ""),
                                                    ("--push=tRue", "--push", "tRue"), ("--check=yes", "--check", "yes")])
def test_a_bad_value_is_a_usage_error_worded_as_buildx(arg: str, flag: str, text: str) -> None:
    result = CliRunner().invoke(_probe_app(), [arg], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert f'invalid argument "{text}" for "{flag}" flag: strconv.ParseBool: parsing "{text}": invalid syntax' in result.output


def test_options_that_take_a_value_are_read_as_before() -> None:
    assert _read("--call=outline", "app")["call"] == "outline"
    result = CliRunner().invoke(_probe_app(), ["--nope=1"])
    assert result.exit_code == 2 and "No such option" in result.output


def test_click_keeps_the_parser_internals_pflag_relies_on() -> None:
    """Fails loudly when a click release moves what `pflag.Parser` overrides or uses."""
    base = pflag.ClickParser
    assert pflag.Parser.__mro__[1] is base
    assert base.__module__ == "click.parser" and base.__name__ in ("_OptionParser", "OptionParser")
    assert list(inspect.signature(base._match_long_opt).parameters) == ["self", "opt", "explicit_value", "state"]
    command = typer.main.get_command(_probe_app())
    assert isinstance(command, pflag.Command)
    ctx = click.Context(command)
    ours, clicks = command.make_parser(ctx), click.Command.make_parser(command, ctx)
    assert type(clicks) is base  # click builds the parser we subclass, with the same options
    assert sorted(ours._long_opt) == sorted(clicks._long_opt)
    push = ours._long_opt["--push"]
    assert (push.action, push.const, push.obj.name) == ("store_const", True, "push")
    assert callable(push.process)


def _commands(command: click.Command) -> list[click.Command]:
    if isinstance(command, click.Group):
        return [leaf for sub in command.commands.values() for leaf in _commands(sub)]
    return [command]


def test_every_command_reads_its_boolean_flags_as_pflag() -> None:
    app = typer.Typer()
    for module in (print_, plan, run, ci):
        module.register(app)
    commands = _commands(typer.main.get_command(app))
    assert {c.name for c in commands} == {"print", "plan", "nodes", "run", "github", "gitlab", "jenkins"}
    assert all(isinstance(c, pflag.Command) for c in commands)
    flags = {(c.name, p.name) for c in commands for p in c.params if isinstance(p, click.Option) and p.is_bool_flag}
    assert {("print", "push"), ("print", "check"), ("run", "dry_run"), ("run", "no_cache"), ("github", "pull")} <= flags


def _bakeplan(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BAKEPLAN_NO_CACHE": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "bakeplan", "print", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


LIVE_FORMS = [
    ["--push", "--push=false"],
    ["--push=false", "--push"],
    ["--push=0", "app"],
    ["--push=1", "other"],
    ["--load=True", "--push=FALSE"],
    ["--no-cache=false"],
    ["--pull=F", "--no-cache=t"],
    ["--no-cache", "--no-cache=0", "--pull=T"],
    ["--check", "--check=false"],
    ["--check", "--call=outline"],
    ["--call=outline", "--check=1"],
    ["--call=outline", "--check=false"],
    ["--check=0", "other"],
]


@pytest.mark.buildx
@pytest.mark.parametrize("args", LIVE_FORMS, ids=" ".join)
def test_print_reads_the_flag_forms_as_buildx(args: list[str], tmp_path: Path, buildx: Any) -> None:
    (tmp_path / "docker-bake.hcl").write_text(HCL)
    theirs = subprocess.run(buildx.argv("bake", "--print", *args), cwd=tmp_path, env=buildx.env, capture_output=True, text=True, timeout=60)
    ours = _bakeplan(tmp_path, *args)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert json.loads(ours.stdout) == json.loads(theirs.stdout)


@pytest.mark.buildx
@pytest.mark.parametrize("args", [["--push=maybe"], ["--pull="], ["--check=x", "app"], ["--no-cache", "--load=yes"]], ids=" ".join)
def test_a_bad_flag_value_reads_as_buildx_message(args: list[str], tmp_path: Path, buildx: Any) -> None:
    (tmp_path / "docker-bake.hcl").write_text(HCL)
    theirs = subprocess.run(buildx.argv("bake", "--print", *args), cwd=tmp_path, env=buildx.env, capture_output=True, text=True, timeout=60)
    ours = _bakeplan(tmp_path, *args)
    assert theirs.returncode != 0 and ours.returncode == 2
    message = theirs.stderr.splitlines()[0]
    assert message.startswith("invalid argument ") and message in ours.stderr


def _run_dry(cwd: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> list[str]:
    """The bake command lines `bakeplan run --dry-run ARGS` prints, on one declared node."""
    monkeypatch.chdir(cwd)
    app = typer.Typer()
    app.callback()(lambda: None)
    run.register(app)
    result = CliRunner().invoke(app, ["run", "--node", "name=n,builder=b,platforms=linux/amd64", *args, "app"])
    assert result.exit_code == 0, (result.output, result.exception)
    return [line for line in result.stdout.splitlines() if line.startswith("docker buildx bake")]


@pytest.mark.parametrize(
    ("args", "given", "absent"),
    [
        (["--dry-run", "--no-cache"], ["--no-cache "], ["*.no-cache"]),
        (["--dry-run=true", "--no-cache=1"], ["--no-cache "], ["*.no-cache"]),
        # buildx's `--no-cache=false` overrides the file's `no-cache = true`; every job gets it
        (["--dry-run=T", "--no-cache=false"], ["--set '*.no-cache=false'"], ["--no-cache "]),
        (["--dry-run", "--no-cache", "--no-cache=0"], ["--set '*.no-cache=false'"], ["--no-cache "]),
        (["--dry-run"], [], ["no-cache"]),
    ],
)
def test_run_hands_the_no_cache_forms_to_every_job(args: list[str], given: list[str], absent: list[str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docker-bake.hcl").write_text(HCL)
    lines = _run_dry(tmp_path, monkeypatch, *args)
    assert lines
    assert all(text in line for line in lines for text in given)
    assert not any(text in line for line in lines for text in absent)
