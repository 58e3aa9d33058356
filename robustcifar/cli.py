"""`robustcifar <command> [options]`: one entry point for every tool; each command is the `python -m`
tool of the same job (those keep working), given the rest of the command line. Nothing is imported
until a command is chosen, so `robustcifar --help` is instant.

The checkout the tools work in is found as robustcifar.paths.project_root says: $ROBUSTCIFAR_HOME,
else the checkout this package was installed from in editable mode, else the current directory.
"""

from __future__ import annotations

import importlib
import sys

# command -> (module whose main(argv) runs it, what it does)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("training.__main__", "train models (seeds, budgets, resumable)"),
    "train-speed": ("training.speed", "time the training step against the bare forward+backward"),
    "export": ("export.__main__", "ONNX + meta.json (+ kNN gallery) per trained model; `export import` brings your own"),
    "serve": ("serve.__main__", "archive | start | stop | status: TorchServe behind its nginx edge"),
    "benchmark": ("benchmark.__main__", "accuracy under corruption and latency of a live server (/predictions or v2)"),
    "report": ("benchmark.report.__main__", "index.html + summary.md of a benchmark run"),
    "study": ("benchmark.study.__main__", "collect | report: the study across seeds and budgets"),
    "corrupt": ("robustcifar.corruptions.__main__", "write CIFAR-10-C style .npy files from test images"),
    "cifar10c": ("robustcifar.corruptions.cifar10c_folder", "our CIFAR-10-C folder for the CIFAR-10 test set"),
    "corruption-speed": ("robustcifar.corruptions.speed", "time every corruption"),
    "throughput": ("benchmark.load.serving_throughput", "endpoint throughput and latency next to raw onnxruntime"),
    "protocol-speed": ("benchmark.load.protocol_speed", "the accuracy pass through /predictions and v2 batches"),
    "peer-compare": ("benchmark.load.peer_compare", "our server against MLServer on the same ONNX file"),
    "soak": ("benchmark.load.soak", "long load: memory, failures, a killed worker"),
    "overload": ("benchmark.load.overload", "far more load than capacity: refusals and recovery"),
    "onnx-baseline": ("benchmark.load.onnx_baseline", "raw onnxruntime in-process, as a worker runs it"),
    "key": ("robustcifar.serving.auth", "print an API key from TorchServe's key_file.json"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: robustcifar <command> [options]   (robustcifar <command> --help for its options)", "",
             "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"robustcifar: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    sys.argv = [f"robustcifar {command}", *rest]  # what the tool's own messages show as its name
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
