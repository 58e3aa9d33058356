"""The download path, against a local HTTP server: checksum verified, bad files never kept."""

import http.server
from functools import partial

import pytest
from fakeserving import local_http_server

from robustcifar.datasets import official


@pytest.fixture
def served_file(tmp_path):
    payload = b"pretend archive bytes"
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / official.OFFICIAL_FILENAME).write_bytes(payload)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    with local_http_server(handler) as server:
        yield f"http://127.0.0.1:{server.server_port}/{official.OFFICIAL_FILENAME}", payload


def test_download_keeps_a_file_with_the_right_checksum(tmp_path, served_file, monkeypatch):
    url, payload = served_file
    import hashlib

    monkeypatch.setattr(official, "OFFICIAL_MD5", hashlib.md5(payload).hexdigest())
    path = official.download_official(tmp_path / "dl", url=url)
    assert path.read_bytes() == payload


def test_download_with_wrong_checksum_is_deleted(tmp_path, served_file):
    url, _ = served_file
    with pytest.raises(ValueError, match="MD5"):
        official.download_official(tmp_path / "dl", url=url)
    assert list((tmp_path / "dl").iterdir()) == []
