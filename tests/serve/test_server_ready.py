"""wait_until_ready: a key file that TorchServe is still writing means "not yet", never a crash."""

from typing import ClassVar
from unittest import mock

import pytest

from robustcifar.serving.auth import key_file
from serve import server
from serve.config import ServeConfig


class Management:
    """Stands in for ManagementClient: ready only when called with the management key."""

    seen: ClassVar[list] = []

    def __init__(self, url, token):
        self.token = token

    def ready(self, name):
        Management.seen.append(self.token)
        return self.token == "m-key"


def test_a_half_written_key_file_is_retried_until_it_holds_the_keys(tmp_path):
    config = ServeConfig(state_dir=tmp_path, startup_timeout=30)
    path = key_file(tmp_path)
    path.write_text("")  # as TorchServe leaves it for a moment: created, not yet written
    writes = iter(['{"management": {"key": "m-', '{"management": {"key": "m-key"}, "inference": {"key": "i-key"}}'])

    def sleep(_):
        path.write_text(next(writes, path.read_text()))

    Management.seen = []
    with mock.patch.object(server, "running_groups", return_value={"torchserve": 1, "edge": 2}), \
            mock.patch.object(server, "ManagementClient", Management), \
            mock.patch.object(server, "_answers", side_effect=lambda c, n, token: token == "i-key"), \
            mock.patch.object(server.time, "sleep", sleep):
        reported = []
        server.wait_until_ready(config, ["ce_clean"], report=reported.append, log_since=0)
    assert reported == ["[serve] ce_clean is ready"]
    assert Management.seen == [None, None, "m-key"]


def test_a_key_file_that_never_becomes_valid_ends_at_the_timeout(tmp_path):
    config = ServeConfig(state_dir=tmp_path, startup_timeout=0)
    key_file(tmp_path).write_text("{not json")
    with mock.patch.object(server, "running_groups", return_value={"torchserve": 1, "edge": 2}), \
            mock.patch.object(server, "ManagementClient", Management), \
            mock.patch.object(server.time, "sleep", lambda _: None), \
            mock.patch.object(server.time, "monotonic", side_effect=[0.0, 1.0, 2.0]), \
            pytest.raises(server.ServerError, match="not ready after"):
        server.wait_until_ready(config, ["ce_clean"], report=lambda line: None, log_since=0)
