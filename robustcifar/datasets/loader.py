"""Pick a CIFAR-10 source, decode it once, and cache the uint8 arrays under the data folder."""

from __future__ import annotations

import hashlib
import urllib.error
from dataclasses import dataclass
from pathlib import Path

from ..paths import data_dir as default_data_dir
from ..paths import shared_jpeg_tarball
from .arrays import CifarArrays
from .image_folder import is_image_tarball, read_image_folder, read_image_tarball
from .official import (
    OFFICIAL_FILENAME,
    download_official,
    is_official_archive,
    read_official_archive,
    read_official_folder,
)


class DataSourceError(RuntimeError):
    """No usable CIFAR-10 source; the message says what was looked for and how to provide one."""


@dataclass(frozen=True)
class DataSource:
    kind: str  # "official" or "image_folder"
    reader: str  # "official_archive", "official_folder", "image_tarball", "image_folder"
    path: Path


def _classify(path: Path) -> DataSource:
    if path.is_dir():
        if (path / "data_batch_1").is_file():
            return DataSource("official", "official_folder", path)
        if (path / "cifar-10-batches-py" / "data_batch_1").is_file():
            return DataSource("official", "official_folder", path / "cifar-10-batches-py")
        if (path / "train").is_dir() and (path / "test").is_dir():
            return DataSource("image_folder", "image_folder", path)
        raise DataSourceError(f"{path} holds neither CIFAR-10 python batches nor train/ and test/ image folders")
    if is_official_archive(path):
        return DataSource("official", "official_archive", path)
    if is_image_tarball(path):
        return DataSource("image_folder", "image_tarball", path)
    raise DataSourceError(f"{path} is not a CIFAR-10 python archive nor a tarball of train/<class>/ images")


def resolve_source(source: str | Path | None = None, data_dir: Path | None = None, download: bool = True) -> DataSource:
    """Explicit path > official archive in the data folder > the shared JPEG copy > a download."""
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    if source not in (None, "", "auto", "download"):
        path = Path(source).expanduser().resolve()
        if not path.exists():
            raise DataSourceError(f"data source {path} does not exist")
        return _classify(path)
    local = [data_dir / OFFICIAL_FILENAME, data_dir / "cifar-10-batches-py"]
    if source != "download":
        local.append(shared_jpeg_tarball())
    for candidate in local:
        if candidate.exists():
            return _classify(candidate)
    if not download:
        raise DataSourceError(f"no CIFAR-10 found at {', '.join(map(str, local))} and downloading is off")
    try:
        return _classify(download_official(data_dir))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DataSourceError(
            f"no local CIFAR-10 ({', '.join(map(str, local))}) and the download failed ({exc}); "
            f"put {OFFICIAL_FILENAME} in {data_dir} or pass a path to the data"
        ) from None


def _cache_path(source: DataSource, data_dir: Path) -> Path:
    stat = source.path.stat()
    key = hashlib.sha256(f"{source.path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return data_dir / "cache" / f"cifar10-{source.reader}-{key}.npz"


_READERS = {
    "official_archive": read_official_archive,
    "official_folder": read_official_folder,
    "image_tarball": read_image_tarball,
    "image_folder": read_image_folder,
}


def load_cifar10(source: str | Path | None = None, data_dir: Path | None = None, download: bool = True,
                 progress: bool = True) -> CifarArrays:
    """Decoded CIFAR-10 from `source` (see resolve_source), cached as .npz after the first read.

    `progress` shows a bar while image files are decoded (the official arrays need no decoding).
    """
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    resolved = resolve_source(source, data_dir, download)
    cache = _cache_path(resolved, data_dir)
    if cache.is_file():
        return CifarArrays.load(cache)
    try:
        reader = _READERS[resolved.reader]
        arrays = reader(resolved.path, progress) if resolved.kind == "image_folder" else reader(resolved.path)
    except (ValueError, OSError) as exc:
        raise DataSourceError(f"could not read {resolved.path}: {exc}") from None
    data = CifarArrays(*arrays, source=str(resolved.path), source_kind=resolved.kind)
    data.save(cache)
    return data
