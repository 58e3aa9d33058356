import pytest

from robustcifar.errors import UsageError
from robustcifar.serving.auth import auth_headers, inference_key, main, read_keys


def test_keys_are_read_from_the_key_file(tmp_path):
    key_file = tmp_path / "key_file.json"
    key_file.write_text('{"management": {"key": "m"}, "inference": {"key": "abc"}, "API": {"key": "x"}}')
    assert read_keys(key_file) == {"inference": "abc", "management": "m"}
    assert inference_key(key_file) == "abc" and inference_key(None) is None
    assert auth_headers("abc") == {"Authorization": "Bearer abc"} and auth_headers(None) == {}
    key_file.write_text("{}")
    with pytest.raises(UsageError, match="no inference key"):
        inference_key(key_file)
    key_file.write_text("not json")
    with pytest.raises(UsageError, match="cannot read the API keys"):
        read_keys(key_file)


def test_the_key_printer_prints_one_key_and_refuses_bad_calls(tmp_path, capsys):
    key_file = tmp_path / "key_file.json"
    key_file.write_text('{"management": {"key": "m"}, "inference": {"key": "abc"}}')
    assert main([str(key_file)]) == 0 and capsys.readouterr().out == "abc\n"
    assert main([str(key_file), "management"]) == 0 and capsys.readouterr().out == "m\n"
    assert main([]) == 2 and "usage" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.json")]) == 2 and "cannot read" in capsys.readouterr().err
