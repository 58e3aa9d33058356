"""server.json: a stale or foreign record is never trusted, so `serve stop` never signals a
process that is not ours; archive identities ignore rebuilds and see changes."""

import json
import os
import subprocess
import sys
import time

import pytest
from fakeserving import write_tiny_model

from serve.archives import archive_identity, build_archive
from serve.config import ServeConfig
from serve.server import ServerFiles, ServerRecord, boot_id, running_groups, start_ticks, stop


@pytest.fixture
def sleeper():
    """A process group of our own, as launch() starts one."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def record_for(files: ServerFiles, groups: dict[str, int], **changes) -> None:
    record = ServerRecord.of_processes(groups, ServeConfig(), {"ce_clean": "abc"}, 0)
    for key, value in changes.items():
        setattr(record, key, value)
    record.save(files.pids)


def test_our_own_group_is_trusted_and_stopped(tmp_path, sleeper):
    files = ServerFiles(tmp_path)
    record_for(files, {"torchserve": sleeper.pid})
    assert running_groups(files) == {"torchserve": sleeper.pid}
    assert stop(ServeConfig(state_dir=tmp_path)) is True
    sleeper.wait(timeout=30)
    assert not files.pids.exists()


@pytest.mark.parametrize("stale", ["another boot", "pid reused"])
def test_a_stale_record_is_dropped_and_its_pid_never_signalled(stale, tmp_path, sleeper):
    files = ServerFiles(tmp_path)
    if stale == "another boot":
        record_for(files, {"torchserve": sleeper.pid}, boot="0000-before-the-reboot")
    else:  # the recorded leader started at another time than the process that has its pid now
        record_for(files, {"torchserve": sleeper.pid}, leaders={"torchserve": start_ticks(sleeper.pid) - 1})
    assert running_groups(files) == {}
    assert not files.pids.exists()
    assert stop(ServeConfig(state_dir=tmp_path)) is False
    time.sleep(0.2)
    assert sleeper.poll() is None, "a process that is not ours was signalled"


def test_an_old_format_or_broken_record_is_not_trusted(tmp_path, sleeper):
    files = ServerFiles(tmp_path)
    for text in (json.dumps({"torchserve": sleeper.pid}), "{not json"):
        files.pids.write_text(text)
        assert running_groups(files) == {}
    assert sleeper.poll() is None


def test_the_record_knows_this_boot_and_the_start_time():
    assert boot_id() and start_ticks(os.getpid()) > 0 and start_ticks(2**22 + 12345) is None


def test_archive_identity_ignores_a_rebuild_and_sees_a_changed_model(tmp_path):
    from fakeserving import tiny_onnx

    artifacts = tmp_path / "artifacts"
    write_tiny_model(artifacts, "ce_clean", "classifier")
    config = ServeConfig(artifacts=artifacts)
    first = archive_identity(build_archive("ce_clean", config))
    time.sleep(1.1)  # the manifest's creation time changes
    assert archive_identity(build_archive("ce_clean", config)) == first
    tiny_onnx(artifacts / "ce_clean" / "model.onnx", "classifier", seed=1)
    second = archive_identity(build_archive("ce_clean", config))
    assert second != first
    assert archive_identity(build_archive("ce_clean", ServeConfig(artifacts=artifacts, batch_size=4))) != second
