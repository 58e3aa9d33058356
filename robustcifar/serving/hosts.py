"""Which servers our load tools may send load to: this machine, or hosts the user names as their own."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import UsageError


class NotLoopback(UsageError):
    pass


def require_loopback(url: str, allowed_hosts: tuple[str, ...] = ()) -> None:
    """Refuse a load target that is neither a loopback address nor one of `allowed_hosts`."""
    host = urlsplit(url).hostname or ""
    if host in allowed_hosts:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        raise NotLoopback(f"cannot resolve the host of {url!r}") from None
    if not addresses or not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        raise NotLoopback(f"load is only sent to this machine (127.0.0.1); {url!r} is not a loopback URL")
