"""model.pt: the trained weights plus what is needed to rebuild the network around them."""

from __future__ import annotations

import io
import os
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
    save_atomically(path, payload)


def save_atomically(path: Path, payload: Any) -> None:
    """torch.save that leaves either the complete file or the previous one: written to a temporary
    file, flushed to disk, then renamed over `path`. Serialised in memory first, so a full disk is an
    OSError (ENOSPC) from the write, not torch's RuntimeError, and the partial file is removed."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(buffer.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(path: Path) -> tuple[RobustCifarNet, dict[str, Any]]:
    """-> (model in eval mode on CPU, the checkpoint's other fields)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    kwargs = {"embedding_dim": payload["embedding_dim"]} if payload["kind"] == "embedder" else {}
    model = RobustCifarNet(payload["kind"], **kwargs)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return model, {k: v for k, v in payload.items() if k != "state_dict"}
