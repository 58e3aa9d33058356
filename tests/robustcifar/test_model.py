import numpy as np
import pytest
import torch

from robustcifar.model import CIFAR10_MEAN, CIFAR10_STD, PixelNormalize, RobustCifarNet


@pytest.mark.parametrize("kind, width", [("classifier", 10), ("embedder", 128)])
def test_output_shapes_from_uint8_pixels(kind, width):
    model = RobustCifarNet(kind).eval()
    pixels = torch.randint(0, 256, (3, 32, 32, 3), dtype=torch.uint8)
    with torch.no_grad():
        assert model(pixels).shape == (3, width)
        assert model.features(pixels).shape == (3, 512)


def test_embeddings_are_unit_length():
    model = RobustCifarNet("embedder").eval()
    with torch.no_grad():
        out = model(torch.randint(0, 256, (4, 32, 32, 3), dtype=torch.uint8))
    assert torch.allclose(out.norm(dim=1), torch.ones(4), atol=1e-5)


def test_normalisation_inside_the_network_matches_the_constants():
    pixels = torch.randint(0, 256, (2, 32, 32, 3), dtype=torch.uint8)
    expected = (pixels.float() / 255 - torch.tensor(CIFAR10_MEAN)) / torch.tensor(CIFAR10_STD)
    out = PixelNormalize()(pixels)
    assert out.shape == (2, 3, 32, 32)
    assert torch.allclose(out, expected.permute(0, 3, 1, 2), atol=1e-5)


def test_cifar_resnet18_has_no_maxpool_and_the_known_size():
    model = RobustCifarNet("classifier")
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in model.modules())
    assert model.backbone.stem[0].kernel_size == (3, 3) and model.backbone.stem[0].stride == (1, 1)
    # 11.17 M parameters: the CIFAR variant of ResNet-18 with a 10-way head
    assert sum(p.numel() for p in model.parameters()) == 11_173_962


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="kind"):
        RobustCifarNet("regressor")


def test_checkpoint_round_trip(tmp_path):
    from robustcifar.checkpoint import load_checkpoint, save_checkpoint

    model = RobustCifarNet("embedder", embedding_dim=16).eval()
    save_checkpoint(tmp_path / "m.pt", model, "angular", extra={"x": 1})
    loaded, info = load_checkpoint(tmp_path / "m.pt")
    pixels = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8))
    with torch.no_grad():
        assert torch.equal(model(pixels), loaded(pixels))
    assert info["model_name"] == "angular" and info["extra"] == {"x": 1} and info["embedding_dim"] == 16
