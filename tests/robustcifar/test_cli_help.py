"""Every option of every tool says what it does and what it is by default."""

import argparse
import dataclasses
import importlib

import pytest

from robustcifar.config import build_parser

CONFIGS = [("training.config", "TrainConfig"), ("export.__main__", "ExportConfig"), ("export.importer", "ImportConfig"),
           ("robustcifar.serving.config", "ServeConfig"), ("benchmark.config", "BenchmarkConfig"),
           ("benchmark.load.serving_throughput", "ThroughputConfig"), ("benchmark.load.soak", "SoakConfig"),
           ("benchmark.load.overload", "OverloadConfig"), ("benchmark.load.onnx_baseline", "BaselineConfig"),
           ("benchmark.load.protocol_speed", "ProtocolSpeedConfig"), ("benchmark.load.peer_compare", "PeerConfig"),
           ("robustcifar.corruptions.speed", "SpeedConfig"), ("robustcifar.corruptions.cifar10c_folder", "Cifar10cConfig"),
           ("training.speed", "SpeedConfig"), ("serve.foreground", "ForegroundConfig"),
           ("benchmark.report.__main__", "ReportConfig"), ("benchmark.study.__main__", "CollectConfig"),
           ("benchmark.study.__main__", "ReportConfig"), ("export.foreign_example", "ForeignExampleConfig"),
           ("serve.healthcheck", "HealthcheckConfig")]


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
