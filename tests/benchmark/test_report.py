import json
import re
from html.parser import HTMLParser

from benchmark.report.__main__ import main, write_report
from benchmark.report.run_data import latest_run

EXPECTED_TABLES = ("summary", "study-corrupted", "study-train-test", "per-corruption", "corruption-error",
                   "per-severity", "latency", "onnxruntime", "failures", "run", "model-files")
EXPECTED_PLOTS = ("accuracy_by_family.png", "corruption_heatmap.png", "accuracy_by_corruption.png",
                  "latency_percentiles.png", "throughput.png")


class PageParts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables, self.images, self.links, self.cells = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append(attrs.get("id"))
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "a" and not attrs.get("href", "#").startswith("#"):
            self.links.append(attrs["href"])


def test_report_has_every_table_and_every_picture_exists(synthetic_run):
    folder, artifacts = synthetic_run
    index = write_report(folder, artifacts)
    page = PageParts()
    page.feed(index.read_text())
    assert set(EXPECTED_TABLES) <= set(page.tables)
    for plot in EXPECTED_PLOTS:
        assert f"plots/{plot}" in page.images
    for model in ("ce_clean", "ce_corrupted", "angular", "angular_corrupted"):
        assert f"training/{model}/curves.png" in page.images and f"training/{model}/umap.png" in page.images
    for src in page.images + page.links:
        assert (folder / src).is_file(), src
        assert (folder / src).stat().st_size > 0


def test_study_tables_use_the_served_and_the_training_figures(synthetic_run):
    folder, artifacts = synthetic_run
    write_report(folder, artifacts)
    markdown = (folder / "summary.md").read_text()
    model1 = re.search(r"^\| Model1 \| ce_clean \| clean \| [^|]+ \| (\S+) \[", markdown, re.MULTILINE)
    assert model1 is not None
    summary = json.loads((folder / "summary.json").read_text())
    assert float(model1.group(1)) == round(100 * summary["accuracy"]["models"]["ce_clean"]["benchmark_mean"]["value"], 1)
    # the training columns from metrics.json: a corrupted row shows test_corrupted_accuracy (.45) and
    # the corrupted validation (.52), a clean row the clean ones (.60, .61)
    assert re.search(r"\| train corrupted / test corrupted \| ce_corrupted \| [^|]+ \| 45\.0 \| 52\.0 \|", markdown)
    assert re.search(r"\| train clean / test clean \| ce_clean \| [^|]+ \| 60\.0 \| 61\.0 \|", markdown)
    assert "HTTP 503" in markdown  # the failed requests are reported


def test_report_cli_picks_the_newest_run(synthetic_run, monkeypatch, capsys):
    folder, artifacts = synthetic_run
    monkeypatch.setenv("ROBUSTCIFAR_REPORTS", str(folder.parent))
    monkeypatch.setenv("ROBUSTCIFAR_ARTIFACTS", str(artifacts))
    assert latest_run(folder.parent) == folder
    assert main([]) == 0
    assert str(folder / "index.html") in capsys.readouterr().out


def test_report_without_a_run_is_a_clear_error(tmp_path, capsys):
    assert main(["--run", str(tmp_path)]) == 2
    assert "make benchmark" in capsys.readouterr().err
