"""The README's study tables are what the committed per-run outcomes give: no study number in the
README is typed by hand (benchmark/study, results/study-cpu/runs/)."""

from pathlib import Path

from benchmark.study.__main__ import main

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_study_block_regenerates_from_the_committed_outcomes(capsys):
    code = main(["report", "--results", str(ROOT / "results" / "study-cpu"), "--readme", str(ROOT / "README.md"),
                 "--check"])
    assert code == 0, capsys.readouterr().err
