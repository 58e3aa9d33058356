"""model.pt: the trained weights plus what is needed to rebuild the network around them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .model import RobustCifarNet


def save_checkpoint(path: Path, model: RobustCifarNet, model_name: str, extra: dict[str, Any] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {
        "model_name": model_name,
        "kind": model.kind,
        "embedding_dim": model.head[0].out_features if model.kind == "embedder" else None,
        "state_dict": state,
        "extra": extra or {},
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> tuple[RobustCifarNet, dict[str, Any]]:
    """-> (model in eval mode on CPU, the checkpoint's other fields)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    kwargs = {"embedding_dim": payload["embedding_dim"]} if payload["kind"] == "embedder" else {}
    model = RobustCifarNet(payload["kind"], **kwargs)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return model, {k: v for k, v in payload.items() if k != "state_dict"}
