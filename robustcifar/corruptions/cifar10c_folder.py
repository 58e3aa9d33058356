"""`python -m robustcifar.corruptions.cifar10c_folder [--out DIR]`: our CIFAR-10-C for the CIFAR-10 test set.

Writes the released layout (19 `<name>.npy` files and `labels.npy`) into data/cifar10c, where
`make benchmark` picks it up, and records in cifar10c.json what it was made from (the test set's
digest, the seed, the commit): the benchmark pairs its rows with the test images only when the
digest matches, and refuses a stale folder. It can equally read the official release (--cifar10c).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import parse_config, shared_field
from ..datasets import DataSourceError, chosen_indices, load_cifar10
from ..paths import data_dir
from ..provenance import git_commit
from . import ALL_CORRUPTIONS, SEVERITIES, CorruptionError, write_cifar10c


@dataclass
class Cifar10cConfig:
    out: Path | None = field(default=None, metadata={"help": "the folder to write (default: <data dir>/cifar10c)"})
    data: str = shared_field("data")
    data_dir: Path | None = shared_field("data_dir")
    names: tuple[str, ...] = field(default=ALL_CORRUPTIONS, metadata={"help": "the corruptions written"})
    severities: tuple[int, ...] = field(default=SEVERITIES, metadata={"help": "the severities written"})
    seed: int = field(default=0, metadata={"help": "seed of the corruptions and of the --per-class selection"})
    per_class: int = field(default=0, metadata={
        "help": "test images per class (0: all 10,000): the class-balanced selection that the benchmark's "
                "--per-class with the same --seed sends"})
    device: str = field(default="cpu", metadata={"help": "cpu or cuda"})


def main(argv: list[str] | None = None) -> int:
    config = parse_config(Cifar10cConfig, argv, __doc__)
    out = config.out or (config.data_dir or data_dir()) / "cifar10c"
    try:
        data = load_cifar10(config.data, config.data_dir)
        started = time.perf_counter()
        source = {"test_set_digest": data.test_set_digest(), "data_source_kind": data.source_kind,
                  "data_source": Path(data.source).name, "seed": config.seed, "git_commit": git_commit()}
        rows = chosen_indices(data.test_labels, config.per_class, config.seed)
        if config.per_class > 0:
            source["test_indices"] = rows.tolist()
        write_cifar10c(data.test_images[rows], out, config.names, config.severities, config.seed, config.device,
                       labels=data.test_labels[rows], source=source)
    except (DataSourceError, CorruptionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"[cifar10c] wrote {len(config.names)} corruptions x {len(config.severities)} severities of "
          f"{len(rows)} {data.source_kind} test images to {out} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
