"""The live server shared by the request tests (tests/liveserver.py), started once per session."""

import pytest
from liveserver import live_server


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("live")) as server:
        yield server
