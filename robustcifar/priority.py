"""Lowering a process's CPU priority so that it really yields to others on a small machine.

With the kernel's session autogroups on (/proc/sys/kernel/sched_autogroup_enabled, the default of
many distributions), CPU time is first shared fairly between sessions, and a nice value only ranks
a process against the others of its own session: a niced process in a session of its own gets as
much as an un-niced one. So both are lowered: the process's nice value and its session's group.
"""

from __future__ import annotations

import os
from pathlib import Path

MAX_NICE = 19


def lower_priority(increment: int, pid: int | None = None) -> None:
    """Add `increment` (> 0) to the nice value of process `pid` (this one when None) and to that of
    its session's autogroup, which also covers the children it starts later."""
    if increment <= 0:
        return
    who = pid or 0
    os.setpriority(os.PRIO_PROCESS, who, min(MAX_NICE, os.getpriority(os.PRIO_PROCESS, who) + increment))
    autogroup = Path(f"/proc/{pid or 'self'}/autogroup")
    try:
        current = int(autogroup.read_text().rsplit("nice", 1)[1])
        autogroup.write_text(str(min(MAX_NICE, current + increment)))
    except (OSError, ValueError, IndexError):
        pass  # no autogroups here (or not allowed): the nice value alone ranks the processes
