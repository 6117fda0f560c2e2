"""Variables, top-level attributes and built-ins (hclparser's resolveValue): each evaluated
once, on first use, with `--var` and the environment overriding variables; then the
variables' `validation` blocks and the `--list variables` listing."""

from __future__ import annotations

from collections.abc import Mapping

from bakeplan.bake.definition import (
    JSON_SUFFIX,
    Variable,
    convert_primitive,
    display_value,
    dynamic_from_json,
    value_from_csv,
)
from bakeplan.bake.hclparser.sources import Sources, find_attribute
from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import ast
from bakeplan.hcl import values as cty
from bakeplan.hcl.evaluate import Compiler, Env, counted, error, expr_loc, type_constraint, unknown_variable
from bakeplan.hcl.values import DYNAMIC, STRING, Value


class Variables:
    """The globals of one set of bake files and their values, resolved lazily with cycle detection."""

    def __init__(
        self,
        sources: Sources,
        env: Mapping[str, str],
        vars: Mapping[str, str],
        builtins: Mapping[str, str],
        compiler: Compiler,
        root: Env,
    ) -> None:
        self.lookup_env = env
        self.overrides = vars
        self.builtins = dict(builtins)
        self.compiler = compiler
        self.root = root
        self.variables = sources.variables
        self.attrs = sources.attrs
        self.values: dict[str, Value] = {}
        self.constraints: dict[str, cty.Type] = {}
        self.busy: list[str] = []

    def lookup(self, name: str, loc: Location) -> Value:
        """A global: variable, top-level attribute or built-in (resolved on first use)."""
        found = self.values.get(name)
        if found is not None:
            return found
        if name in self.busy:
            path = " -> ".join([*self.busy[self.busy.index(name) :], name])
            raise error(
                "Invalid expression",
                f"variable cycle not allowed for {name}",
                loc,
                hint=f"Variables and top-level attributes must not depend on themselves ({path}); break the cycle.",
            )
        if name not in self.attrs and name not in self.variables and name not in self.builtins:
            raise unknown_variable(name, loc, self.resolved())
        return self.resolve(name)

    def resolved(self) -> list[str]:
        """The names HCL's context holds so far, for suggestions: hclparser adds a global
        to it once resolved, so neither the one being resolved nor a later one is suggested."""
        return [*self.builtins, *(name for name in self.values if name not in self.builtins)]

    def names(self) -> list[str]:
        """Every global name, for suggestions."""
        return [*self.builtins, *self.variables, *self.attrs]

    def defines(self, name: str) -> bool:
        """Whether `name` is a global (a variable, top-level attribute or built-in)."""
        return name in self.values or name in self.attrs or name in self.variables or name in self.builtins

    def resolve_variables(self) -> None:
        """Evaluate every variable, in source order (hclparser.Parse does this first)."""
        for name in self.variables:
            if name not in self.values:
                self.lookup(name, self.variables[name].loc)

    def resolve_attributes(self) -> None:
        """Evaluate every top-level attribute not yet used (their errors still count)."""
        for name in self.attrs:
            if name not in self.values:
                self.lookup(name, self.attrs[name].loc)

    def resolve(self, name: str) -> Value:
        """Evaluate a global once (hclparser resolveValue) and cache it."""
        self.busy.append(name)
        try:
            value = self._resolve(name)
        finally:
            self.busy.pop()
        self.values[name] = value
        return value

    def _resolve(self, name: str) -> Value:
        if name in self.builtins:
            return cty.string_val(self.builtins[name])
        attribute = self.attrs.get(name)
        block = self.variables.get(name) if attribute is None else None
        var_type: cty.Type = DYNAMIC
        typed = False
        default: ast.Expr | None = attribute.expr if attribute is not None else None
        if block is not None:
            var_type, typed = self._constraint(block)
            found = find_attribute(block, "default")
            default = found.expr if found is not None else None
        if default is None and self._override(name, False) is None:
            return cty.null_val(var_type) if typed else cty.EMPTY_STRING
        value = cty.NULL
        if default is not None:
            try:
                value = self.compiler.evaluate(default, self.root)
            except BakeFileError as exc:  # hclparser returns the expression's diagnostics as they are
                raise counted(self.compiler, default, self.root, exc) from None
            try:
                value = cty.convert(value, var_type)
            except cty.ConversionError as exc:
                raise self._invalid_value(
                    name, f"invalid type {cty.friendly_name(var_type)} for variable {name} default value: {exc}"
                ) from None
        override = self._override(name, typed)
        if override is not None and name in self.variables:
            value = self._from_override(name, override, value, var_type, typed, default is None)
        return value

    def _constraint(self, block: ast.Block) -> tuple[cty.Type, bool]:
        name = block.labels[0]
        if name in self.constraints:
            return self.constraints[name], True
        found = find_attribute(block, "type")
        if found is None or (isinstance(found.expr, ast.Literal) and found.expr.kind == "null"):
            return DYNAMIC, False
        var_type = type_constraint(found.expr)
        self.constraints[name] = var_type
        return var_type, True

    def _lookup_var(self, name: str) -> str | None:
        if name in self.overrides:
            return self.overrides[name]
        return self.lookup_env.get(name)

    def _override(self, name: str, favor_json: bool) -> tuple[str, bool] | None:
        """hclparser valueHasOverride: (text, is_json) of NAME or NAME_JSON, if set."""
        text = self._lookup_var(name)
        found = None if text is None else (text, False)
        if found is None or favor_json:
            json_name = name + JSON_SUFFIX
            if json_name not in self.variables and json_name not in self.builtins:
                json_text = self._lookup_var(json_name)
                if json_text is not None:
                    found = (json_text, True)
        return found

    def _from_override(
        self, name: str, override: tuple[str, bool], value: Value, var_type: cty.Type, typed: bool, no_default: bool
    ) -> Value:
        text, is_json = override
        if typed and is_json:
            try:
                if var_type is DYNAMIC:
                    return dynamic_from_json(text)
                return cty.convert(cty.json_decode(text), var_type)
            except (cty.JSONError, cty.ConversionError, ValueError) as exc:
                raise self._invalid_value(name, f"failed to convert variable {name} from JSON: {exc}") from None
        if isinstance(var_type, (cty.ListType, cty.SetType, cty.TupleType, cty.MapType)):
            return self._from_csv(name, text, var_type)
        if typed and var_type.is_primitive():
            return self._primitive(name, text, var_type)
        if typed:
            raise self._invalid_value(name, f"unsupported type {cty.friendly_name(var_type)} for variable {name}")
        if no_default or value.type is DYNAMIC:
            return cty.string_val(text)
        if value.type.is_primitive():
            return self._primitive(name, text, value.type)
        raise self._invalid_value(name, f"unsupported type {cty.friendly_name(value.type)} for variable {name}")

    def _primitive(self, name: str, text: str, want: cty.Type) -> Value:
        try:
            return convert_primitive(name, text, want)
        except ValueError as exc:
            raise self._invalid_value(name, str(exc)) from None

    def _from_csv(self, name: str, text: str, want: cty.Type) -> Value:
        try:
            return value_from_csv(name, text, want)
        except ValueError as exc:
            raise self._invalid_value(name, f"failed to convert variable {name} from CSV: {exc}") from None

    def _invalid_value(self, name: str, detail: str) -> BakeFileError:
        block = self.variables.get(name)
        attribute = self.attrs.get(name)
        loc = block.body.loc if block is not None else (attribute.loc if attribute is not None else None)
        return error("Invalid value", detail, loc)

    def validate(self) -> None:
        """Run every variable's `validation` blocks (after all variables are known)."""
        for block in self.variables.values():
            for rule in block.body.blocks:
                if rule.type == "validation":
                    self._check_rule(rule)

    def _check_rule(self, rule: ast.Block) -> None:
        condition = find_attribute(rule, "condition")
        if condition is None:
            raise error(
                "Missing required argument",
                'The argument "condition" is required, but no definition was found.',
                rule.body.loc,
            )
        loc = expr_loc(condition.expr)
        result = self.compiler.evaluate(condition.expr, self.root)
        if result.v is None:
            raise error("Invalid condition result", "Condition expression must return either true or false, not null.", loc)
        try:
            passed = cty.convert(result, cty.BOOL).v
        except cty.ConversionError as exc:
            raise error("Invalid condition result", f"Invalid condition result value: {exc}", loc) from None
        if passed:
            return
        message_attr = find_attribute(rule, "error_message")
        message = "This check failed, but has an invalid error message."
        if message_attr is not None:
            message = _text(self.compiler.evaluate(message_attr.expr, self.root), expr_loc(message_attr.expr)) or message
        raise error("Validation failed", message, loc)

    def listing(self) -> tuple[Variable, ...]:
        """The variables as `--list variables` describes them, in source order."""
        out: list[Variable] = []
        for name, block in self.variables.items():
            value = self.values[name]
            constraint = self.constraints.get(name)
            description_attr = find_attribute(block, "description")
            description = ""
            if description_attr is not None:
                found = self.compiler.evaluate(description_attr.expr, self.root)
                description = _text(found, expr_loc(description_attr.expr)) or ""
            type_name = None if constraint is None else cty.friendly_name(constraint, True)
            out.append(Variable(name, value, description, type_name, display_value(value, constraint)))
        return tuple(out)

def _text(value: Value, loc: Location) -> str | None:
    """A string-typed setting (description, error_message); None for null."""
    if value.v is None:
        return None
    try:
        return str(cty.convert(value, STRING).v)
    except cty.ConversionError as exc:
        raise error("Unsuitable value type", f"Unsuitable value: {exc}", loc) from None
