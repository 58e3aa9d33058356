import pytest

from robustcifar.errors import UsageError
from robustcifar.serving.hosts import require_loopback


def test_load_is_only_sent_to_loopback_or_named_hosts():
    require_loopback("http://127.0.0.1:8080")
    require_loopback("http://localhost:1234")
    require_loopback("http://serve:8080", allowed_hosts=("serve",))
    for url in ("http://192.0.2.1:8080", "http://10.1.2.3:8080"):
        with pytest.raises(UsageError, match="only sent to this machine"):
            require_loopback(url)
