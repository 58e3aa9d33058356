import csv
from dataclasses import fields

from benchmark.accuracy.measure import AccuracyRow
from benchmark.load.latency import LatencyRow, read_latency_rows
from benchmark.rows_csv import write_rows_csv


def test_rows_come_back_as_written(tmp_path):
    rows = [LatencyRow("ce_clean", users, 15.0, 100 * users, users - 1, 6.5 * users, 0.9 * users,
                       *(float(users + k) for k in range(len(fields(LatencyRow)) - 9)), "v2", 64)
            for users in (1, 4)]
    path = tmp_path / "deeper" / "latency.csv"
    write_rows_csv(rows, LatencyRow, path)
    assert read_latency_rows(path) == rows


def test_no_rows_is_a_header_in_field_order(tmp_path):
    write_rows_csv([], AccuracyRow, tmp_path / "accuracy.csv")
    with open(tmp_path / "accuracy.csv", newline="") as f:
        assert list(csv.reader(f)) == [[field.name for field in fields(AccuracyRow)]]


def test_rows_written_before_the_protocol_columns_read_as_predictions(tmp_path):
    row = LatencyRow("ce_clean", 1, 15.0, 100, 0, *(1.0 for _ in range(len(fields(LatencyRow)) - 7)))
    path = tmp_path / "latency.csv"
    write_rows_csv([row], LatencyRow, path)
    with open(path, newline="") as f:
        old = [{k: v for k, v in r.items() if k not in ("protocol", "images_per_request")} for r in csv.DictReader(f)]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(old[0]))
        writer.writeheader()
        writer.writerows(old)
    (back,) = read_latency_rows(path)
    assert (back.protocol, back.images_per_request) == ("predictions", 1)
