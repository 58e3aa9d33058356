"""Typed dataclass configurations, overridable from the command line.

Each tool declares a dataclass with defaults; `parse_config` turns its fields into `--field-name`
options (bools get `--flag/--no-flag`, tuples take several values), applies an optional named
preset first, and returns the resolved instance. `config_to_dict` is what runs save to disk.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# Fields every tool takes, declared here once: (default, help).
SHARED_FIELDS: dict[str, tuple[Any, str]] = {
    "models": ("all", "'all' (our four) or comma-separated model or run names, e.g. ce_clean,angular-seed1"),
    "seeds": ("", ("comma-separated training seeds: each of our models stands for its run with each seed "
                  "(<model>-seed<N>; seed 0 keeps the plain name)")),
    "artifacts": (None, ("folder through which training, export, serving and the benchmark hand over files "
                        "(default: artifacts/ in the checkout, or $ROBUSTCIFAR_ARTIFACTS)")),
    "data": ("auto", ("CIFAR-10 source: auto (an official archive in the data folder, else the JPEG copy in "
                     "../shared/data, else a download), download, or a path to an archive or folder")),
    "data_dir": (None, "downloads and the decoded-array cache (default: data/ in the checkout, or $ROBUSTCIFAR_DATA)"),
    "progress": (True, "show progress bars"),
}


def shared_field(name: str, **overrides: Any) -> Any:
    """A dataclass field of SHARED_FIELDS (`default=` or `help=` override one of a tool's own)."""
    default, help_text = SHARED_FIELDS[name]
    default = overrides.get("default", default)
    return field(default=default, metadata={"help": overrides.get("help", help_text)})


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return tp, False


def _shown(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return str(value)


def _default_text(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (tuple, list)):
        return " ".join(map(str, value)) or "none"
    return "none" if value in (None, "") else str(value)


def _add_field(parser: argparse.ArgumentParser, field: dataclasses.Field, tp: Any) -> None:
    flag = "--" + field.name.replace("_", "-")
    help_text = field.metadata.get("help", "")
    default = _default_text(field)
    if default and "(default" not in help_text:
        help_text = f"{help_text} (default: {default})".strip()
    help_text = help_text.replace("%", "%%")  # argparse formats help with %
    tp, optional = _unwrap_optional(tp)
    if tp is bool:
        parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction, help=help_text)
    elif typing.get_origin(tp) in (tuple, list):
        item = typing.get_args(tp)[0]
        parser.add_argument(flag, dest=field.name, nargs="*", type=item, help=help_text)
    else:
        convert: Callable = tp if tp in (int, float, str, Path) else str
        if optional:
            convert = _optional_converter(convert)
        parser.add_argument(flag, dest=field.name, type=convert, help=help_text)


def _optional_converter(convert: Callable) -> Callable:
    def parse(text: str):
        return None if text.lower() in ("none", "") else convert(text)

    parse.__name__ = getattr(convert, "__name__", "value")
    return parse


def build_parser(cls: type, description: str = "", presets: dict[str, dict] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description, argument_default=argparse.SUPPRESS)
    if presets:
        described = "; ".join(f"{name}: " + ", ".join(f"{k}={_shown(v)}" for k, v in values.items())
                              for name, values in presets.items())
        parser.add_argument(
            "--profile", choices=["auto", *sorted(presets)],
            help=("size preset, applied before the other options (whose defaults below are before any preset); "
                  f"auto: full where CUDA is available, else quick. {described}").replace("%", "%%"))
    hints = typing.get_type_hints(cls)
    for option in dataclasses.fields(cls):
        if option.name != "profile" or not presets:
            _add_field(parser, option, hints[option.name])
    return parser


def parse_config(
    cls: type[T],
    argv: Sequence[str] | None = None,
    description: str = "",
    presets: dict[str, dict] | None = None,
    resolve_preset: Callable[[str], str] | None = None,
) -> T:
    """CLI -> dataclass instance: defaults, then the preset (if any), then explicit options.

    `resolve_preset` maps the requested --profile (or the dataclass's default one) to a key of
    `presets`, which is how 'auto' becomes 'quick' or 'full'.
    """
    args = vars(build_parser(cls, description, presets).parse_args(argv))
    values: dict[str, Any] = {}
    if presets:
        requested = args.pop("profile", getattr(cls, "profile", "auto"))
        preset_name = resolve_preset(requested) if resolve_preset else requested
        values.update(presets[preset_name])
        values["profile"] = preset_name
    values.update(args)
    hints = typing.get_type_hints(cls)
    for name, value in values.items():
        if isinstance(value, list):
            values[name] = tuple(value) if typing.get_origin(_unwrap_optional(hints[name])[0]) is tuple else value
    return cls(**values)


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready dict of a dataclass (Paths become strings, tuples lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}
