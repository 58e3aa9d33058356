import json
from pathlib import Path

from robustcifar.paths import project_root
from robustcifar.provenance import portable, write_json


def test_paths_in_the_checkout_are_written_relative_to_it(tmp_path):
    root = Path("/machine/checkout")
    record = {"artifacts": "/machine/checkout/artifacts/ce_clean", "data": "/machine/shared/data/cifar.tar.gz",
              "command": "/machine/checkout/benchmark/__main__.py --url http://127.0.0.1:8080",
              "home": "/machine/checkout", "elsewhere": "/opt/other", "nested": [{"p": "/machine/checkout/x"}], "n": 3}
    assert portable(record, root) == {
        "artifacts": "artifacts/ce_clean", "data": "../shared/data/cifar.tar.gz",
        "command": "benchmark/__main__.py --url http://127.0.0.1:8080", "home": ".", "elsewhere": "/opt/other",
        "nested": [{"p": "x"}], "n": 3}


def test_urls_and_paths_elsewhere_are_left_alone():
    # a checkout at the top level, as in the images (/app): its parent is /, and // in a URL is not a path
    top = {"url": "http://serve:8080", "data": "/shared/data/c.tar.gz", "out": "/app/reports/r",
           "command": "--url http://serve:8080 --out /app/reports/r"}
    assert portable(top, Path("/app")) == {"url": "http://serve:8080", "data": "/shared/data/c.tar.gz",
                                           "out": "reports/r", "command": "--url http://serve:8080 --out reports/r"}
    # the checkout's path inside a URL or a longer path is not the checkout
    inside = {"url": "http://host/machine/checkout/x", "other": "/srv/machine/checkout/x", "arg": "--data=/machine/shared/d"}
    assert portable(inside, Path("/machine/checkout")) == {"url": "http://host/machine/checkout/x",
                                                           "other": "/srv/machine/checkout/x", "arg": "--data=../shared/d"}


def test_write_json_records_no_absolute_path_of_this_checkout(tmp_path):
    write_json(tmp_path / "r.json", {"out": str(project_root() / "reports" / "run")})
    text = (tmp_path / "r.json").read_text()
    assert str(project_root()) not in text and json.loads(text) == {"out": "reports/run"}


def test_a_run_record_names_the_commit_its_run_started_from():
    """A run that outlives HEAD (a commit lands meanwhile) is recorded with the code that ran."""
    import time

    from robustcifar.provenance import RunStart, git_commit, run_record, run_started

    start = run_started()
    assert start.commit == git_commit()
    record = run_record(started=RunStart(time.time() - 5, "0123abcd"))
    assert record["git_commit"] == "0123abcd" and record["wall_seconds"] >= 5
    assert run_record()["git_commit"] == git_commit()


def test_a_onednn_cap_below_bf16_means_no_native_bf16_and_is_recorded(monkeypatch):
    """ONEDNN_MAX_CPU_ISA=AVX2 makes oneDNN run no bf16 instruction, so autocast would be emulated: the
    trainer must stay in float32 and the run record must say its kernels were capped."""
    from robustcifar import provenance

    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    for cap in ("AVX2", "avx512_core"):
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
        assert provenance.cpu_has_native_bf16() is False
        assert provenance.hardware_summary()["isa_caps"] == {"ONEDNN_MAX_CPU_ISA": cap}
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")  # not a cap below bf16: the CPU decides
    import torch

    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert provenance.cpu_has_native_bf16() == native
    for name in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY"):
        monkeypatch.delenv(name, raising=False)
    assert "isa_caps" not in provenance.hardware_summary()
