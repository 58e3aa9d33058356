"""Reading the container files for tests: the Dockerfile as stages, the compose files as compose
loads them (variables substituted). Used by tests/docker/."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
COMPOSE = ROOT / "docker" / "compose.yaml"
COMPOSE_GPU = ROOT / "docker" / "compose.gpu.yaml"
COMPOSE_REPLICAS = ROOT / "docker" / "compose.replicas.yaml"
COMPOSE_SHARED_DATA = ROOT / "docker" / "compose.shared-data.yaml"


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]


def read_dockerfile(path: Path) -> dict[str, Stage]:
    """Stages by name ('FROM x AS name'), each with its instructions, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else f"stage{len(stages)}"
            current = stages[name] = Stage(name, parts[0])
        elif current is not None:
            current.instructions.append((keyword, " ".join(args.split())))
    return stages


def stage_chain(stages: dict[str, Stage], name: str) -> list[Stage]:
    """A stage and the stages it is built FROM, base first."""
    chain = [stages[name]]
    while chain[0].base in stages:
        chain.insert(0, stages[chain[0].base])
    return chain


def interpolate(text: str, environ: dict[str, str]) -> str:
    """Compose's variable substitution for the forms our files use: ${NAME}, ${NAME:-default}, $$."""
    def substitute(match: re.Match) -> str:
        name, default = match.group(1), match.group(3)
        value = environ.get(name, "")
        return value if value else (default or "")

    text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}", substitute, text.replace("$$", "\0"))
    assert "$" not in text, f"a variable form this test does not know is left: {text[text.index('$'):][:40]}"
    return text.replace("\0", "$")


def load_compose(path: Path, environ: dict[str, str] | None = None) -> dict:
    return yaml.safe_load(interpolate(path.read_text(), environ or {}))
