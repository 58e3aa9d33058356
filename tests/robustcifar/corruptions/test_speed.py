import numpy as np

from robustcifar.corruptions.speed import main


def test_times_every_severity_of_the_chosen_corruptions(capsys, tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    assert main(["--images", str(tmp_path / "images.npy"), "--names", "fog", "pixelate", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "images: 6 per severity" in out
    assert [line.split()[0] for line in out.splitlines() if line.startswith(("fog", "pixelate"))] == ["fog", "pixelate"]
    assert "for 2 x 5 x 6 images" in out


def test_bad_arguments_are_a_message_and_status_2(capsys, tmp_path):
    assert main(["--names", "fogg", "--count", "2"]) == 2
    assert "unknown corruption 'fogg'" in capsys.readouterr().err
    np.save(tmp_path / "floats.npy", np.zeros((2, 32, 32, 3), np.float32))
    assert main(["--images", str(tmp_path / "floats.npy")]) == 2
    assert "must hold uint8" in capsys.readouterr().err
