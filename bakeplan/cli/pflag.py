"""buildx's boolean flags, read by click's own parser: `--push`, `--push=false`, `--push=0`, `--check=true`.

buildx declares its flags with Go's pflag: a boolean flag also takes an
attached value that strconv.ParseBool reads (1 t T TRUE true True, 0 f F
FALSE false False), never the next argument (`--push app` names a target),
and the last one given wins (`--push --push=false` is false). A bad value is
a usage error worded as pflag words it. click's flags refuse any attached
value ("Option '--push' does not take a value"), so `Command` hands click a
parser that reads it: every boolean flag of every command accepts the forms.

`--check` is not a boolean of its own in buildx but an alias: a true value
sets `--call` to "check" where it stands, a false one does nothing
(commands/build.go callAlias). `Command.aliases` declares such flags; the
parser stores the alias into its target option, so `--check --call=outline`
is outline and `--call=outline --check` is check, as in buildx.

click 8.1 names its parser `OptionParser`, 8.2+ `_OptionParser`; the method
replaced here, `_match_long_opt`, is the same in both (tests/test_bool_flags.py
fails if it moves).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import click
from typer.core import TyperCommand

if TYPE_CHECKING:
    from click.parser import _OptionParser as ClickParser
    from click.parser import _ParsingState as ParsingState
else:
    try:
        from click.parser import _OptionParser as ClickParser
    except ImportError:  # click 8.1
        from click.parser import OptionParser as ClickParser

__all__ = ["Aliases", "ClickParser", "Command", "Parser", "parse_bool"]

# flag parameter name -> (the option it sets, the value a true flag stores there)
Aliases = Mapping[str, tuple[str, str]]


def parse_bool(flag: str, text: str) -> bool:
    """pflag's reading of `FLAG=TEXT` for a boolean flag: strconv.ParseBool, or a usage error worded as buildx words it."""
    from bakeplan.bake.buildflags import parse_bool_go
    from bakeplan.bake.convert import DecodeError

    try:
        return parse_bool_go(text)
    except DecodeError as error:
        raise click.BadOptionUsage(flag, f'invalid argument "{text}" for "{flag}" flag: {error}') from None


class Parser(ClickParser):
    """click's option parser, reading a boolean flag's attached value (`--push=false`) as pflag does."""

    def __init__(self, ctx: click.Context | None = None, *, aliases: Aliases | None = None) -> None:
        super().__init__(ctx)
        self.aliases: Aliases = aliases or {}

    def _match_long_opt(self, opt: str, explicit_value: str | None, state: ParsingState) -> None:
        option = self._long_opt.get(opt)
        if option is None or not _is_bool_flag(option):
            super()._match_long_opt(opt, explicit_value, state)
            return
        value = True if explicit_value is None else parse_bool(opt, explicit_value)
        alias = self.aliases.get(option.obj.name or "")
        if alias is not None:
            if value:  # callAlias: only a true value sets its target
                self._target(alias[0]).process(alias[1], state)
            return
        if value:
            option.process(None, state)
        else:  # given false: the negation of what the flag stores (`--no-x=false` is `--x` where both exist)
            negated = copy.copy(option)
            negated.const = not option.const
            negated.process(None, state)

    def _target(self, name: str) -> Any:
        """The parser's option for the parameter `name` (an alias's target)."""
        return next(option for option in self._long_opt.values() if option.obj.name == name)


def _is_bool_flag(option: Any) -> bool:
    """Whether a parser option is a boolean flag (stores True or False when given, takes no value in click)."""
    return option.action == "store_const" and isinstance(option.const, bool) and bool(getattr(option.obj, "is_bool_flag", False))


class Command(TyperCommand):
    """A typer command whose boolean flags read as pflag's (see the module docstring); pass it as `cls=`."""

    aliases: ClassVar[Aliases] = {}

    def make_parser(self, ctx: click.Context) -> ClickParser:
        """click's own parser construction, with the pflag-reading parser."""
        parser = Parser(ctx, aliases=self.aliases)
        for param in self.get_params(ctx):
            param.add_to_parser(parser, ctx)
        return parser

