import csv
from dataclasses import fields

from benchmark.accuracy.measure import AccuracyRow
from benchmark.load.latency import LatencyRow, read_latency_rows
from benchmark.rows_csv import write_rows_csv


def test_rows_come_back_as_written(tmp_path):
    rows = [LatencyRow("ce_clean", users, 15.0, 100 * users, users - 1, 6.5 * users, 0.9 * users,
                       *(float(users + k) for k in range(len(fields(LatencyRow)) - 7)))
            for users in (1, 4)]
    path = tmp_path / "deeper" / "latency.csv"
    write_rows_csv(rows, LatencyRow, path)
    assert read_latency_rows(path) == rows


def test_no_rows_is_a_header_in_field_order(tmp_path):
    write_rows_csv([], AccuracyRow, tmp_path / "accuracy.csv")
    with open(tmp_path / "accuracy.csv", newline="") as f:
        assert list(csv.reader(f)) == [[field.name for field in fields(AccuracyRow)]]
