import os
import subprocess
import sys
from pathlib import Path

from robustcifar.priority import lower_priority


def test_a_child_in_its_own_session_is_lowered_with_its_session():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
    try:
        before = os.getpriority(os.PRIO_PROCESS, child.pid)
        lower_priority(5, child.pid)
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == min(19, before + 5)
        autogroup = Path(f"/proc/{child.pid}/autogroup")
        if autogroup.exists():  # the kernel shares CPU between sessions first: the session is lowered too
            assert autogroup.read_text().strip().endswith("nice 5")
        lower_priority(0, child.pid)  # nothing to do
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == min(19, before + 5)
    finally:
        child.kill()
        child.wait()
