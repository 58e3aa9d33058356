"""Every option of every tool says what it does and what it is by default."""

import argparse
import dataclasses
import importlib

import pytest
from cliconfigs import CONFIGS

from robustcifar.config import build_parser


@pytest.mark.parametrize(("module", "name"), CONFIGS)
def test_every_option_has_help_and_its_default(module, name):
    cls = getattr(importlib.import_module(module), name)
    parser = build_parser(cls, "", {"quick": {}} if any(f.name == "profile" for f in dataclasses.fields(cls)) else None)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and len(action.help) > 10, f"{name} {action.option_strings}: no help"
        if action.dest != "profile":
            assert "(default" in action.help, f"{name} {action.option_strings}: no default shown"
    parser.format_help()  # and the help formats (a stray % would raise)
