"""AugMix as batch operations: every operation against PIL's own (the paper's reference implementation
uses PIL), the mixing weights, no CIFAR-10-C corruption among the operations, reproducibility by
seed, and a short training run with it that learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from robustcifar.corruptions import ALL_CORRUPTIONS
from training import augmix

IMAGES = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
IMAGES[1] = IMAGES[1] // 4 + 60  # low contrast, for autocontrast and equalize
IMAGES[2, :16] = 0  # a large uniform area


def ours(batch: torch.Tensor) -> np.ndarray:
    return batch.permute(0, 2, 3, 1).numpy().astype(int)


def theirs(operation) -> np.ndarray:
    return np.stack([np.asarray(operation(Image.fromarray(image))) for image in IMAGES]).astype(int)


BATCH = torch.from_numpy(IMAGES).permute(0, 3, 1, 2).double()
N = len(IMAGES)


@pytest.mark.parametrize(("name", "mine", "reference"), [
    ("autocontrast", lambda: augmix.autocontrast(BATCH), ImageOps.autocontrast),
    ("equalize", lambda: augmix.equalize(BATCH), ImageOps.equalize),
    ("posterize 3 bits", lambda: augmix.posterize(BATCH, torch.full((N,), 3)), lambda im: ImageOps.posterize(im, 3)),
    ("posterize 4 bits", lambda: augmix.posterize(BATCH, torch.full((N,), 4)), lambda im: ImageOps.posterize(im, 4)),
    ("solarize 200", lambda: augmix.solarize(BATCH, torch.full((N,), 200.0)), lambda im: ImageOps.solarize(im, 200)),
])
def test_colour_operations_are_pils_exactly(name, mine, reference):
    assert np.array_equal(ours(mine()), theirs(reference)), name


AFFINE = {"shear_x": lambda s: (1, s, 0, 0, 1, 0), "shear_y": lambda s: (1, 0, 0, s, 1, 0),
          "translate_x": lambda s: (1, 0, s, 0, 1, 0), "translate_y": lambda s: (1, 0, 0, 0, 1, s)}


@pytest.mark.parametrize(("name", "amount"), [("rotate", 8.0), ("rotate", -5.0), ("shear_x", 0.09), ("shear_y", -0.06),
                                              ("translate_x", 3.0), ("translate_y", -2.0)])
def test_geometric_operations_match_pils_within_a_grey_level(name, amount):
    got = ours(torch.round(augmix._geometric(name, BATCH, torch.full((N,), amount, dtype=torch.float64))))
    if name == "rotate":
        want = theirs(lambda im: im.rotate(amount, resample=Image.BILINEAR))
    else:
        want = theirs(lambda im: im.transform((32, 32), Image.AFFINE, AFFINE[name](amount), resample=Image.BILINEAR))
    assert np.abs(got - want).max() <= 1  # PIL computes in fixed point


def test_no_operation_is_a_test_corruption():
    overlapping = {"brightness", "contrast", "color", "sharpness"}  # the paper's ops that overlap ImageNet-C
    assert not set(augmix.OPERATIONS) & (set(ALL_CORRUPTIONS) | overlapping)
    assert len(augmix.OPERATIONS) == 9


def test_mixing_weights_are_dirichlet_and_beta_draws():
    generator = torch.Generator().manual_seed(0)
    weights = augmix._dirichlet(20000, 3, 1.0, generator)
    assert torch.allclose(weights.sum(dim=1), torch.ones(20000, dtype=torch.float64))
    assert weights.mean(dim=0).numpy() == pytest.approx([1 / 3] * 3, abs=0.01)
    assert float(weights[:, 0].var()) == pytest.approx(1 / 18, abs=0.003)  # Dirichlet(1,1,1): var 2/36
    blend = augmix._beta(20000, 1.0, generator)
    assert 0 <= float(blend.min()) and float(blend.max()) <= 1 and float(blend.mean()) == pytest.approx(0.5, abs=0.01)
    assert float(blend.var()) == pytest.approx(1 / 12, abs=0.003)  # Beta(1,1) is uniform


def test_augment_and_mix_is_reproducible_and_keeps_the_shape():
    images = torch.from_numpy(IMAGES)
    a = augmix.augment_and_mix(images, torch.Generator().manual_seed(1))
    b = augmix.augment_and_mix(images, torch.Generator().manual_seed(1))
    c = augmix.augment_and_mix(images, torch.Generator().manual_seed(2))
    assert a.shape == images.shape and a.dtype == torch.uint8
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert 1 < float((a.int() - images.int()).abs().float().mean()) < 80  # changed, still the image


@pytest.fixture(scope="module")
def real_cifar(tmp_path_factory):
    from robustcifar.datasets import load_cifar10
    from robustcifar.paths import shared_jpeg_tarball

    if not shared_jpeg_tarball().is_file():
        pytest.skip(f"the JPEG copy of CIFAR-10 is not at {shared_jpeg_tarball()}")
    return load_cifar10(shared_jpeg_tarball(), tmp_path_factory.mktemp("cifar"))


@pytest.mark.slow
def test_a_short_augmix_run_learns(real_cifar):
    """As tests/training/test_study.py's run without AugMix: 1,000 real images, a few epochs, far above chance."""
    from robustcifar.model_specs import get_spec
    from training.config import TrainConfig
    from training.datasets import prepare_sets
    from training.distributed import ProcessGroup
    from training.trainer import train

    config = TrainConfig(models="ce_augmix", train_fraction=1.0, max_train_images=1000, epochs=3, batch_size=50,
                         lr=0.05, warmup_fraction=0.2, eval_max_images=500, final_eval_images=500, progress=False,
                         device="cpu", umap_points=0)
    sets = prepare_sets(config, real_cifar, torch.device("cpu"))
    history = train(get_spec("ce_augmix"), config, sets, ProcessGroup(0, 1, torch.device("cpu"))).history
    assert history[-1]["train_loss"] < history[0]["train_loss"] - 0.1, history
    assert history[-1]["test_accuracy"] >= 0.2, history  # 500 test images: chance is 10%


def test_jensen_shannon_is_the_mean_kl_to_the_mixture():
    """Against a per-image loop over plain numpy; zero for equal distributions, positive otherwise."""
    from training.trainer import jensen_shannon

    logits = [torch.randn(5, 10, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    expected = []
    for row in range(5):
        dists = [np.exp(z[row].double().numpy()) / np.exp(z[row].double().numpy()).sum() for z in logits]
        mixture = np.mean(dists, axis=0)
        expected.append(np.mean([np.sum(p * (np.log(p) - np.log(mixture))) for p in dists]))
    assert float(jensen_shannon(*logits)) == pytest.approx(np.mean(expected), rel=1e-5)
    assert float(jensen_shannon(logits[0], logits[0], logits[0])) == pytest.approx(0.0, abs=1e-6)


def test_the_consistency_step_sees_the_clean_image_and_two_mixes():
    """ce_augmix_jsd's step: three views of every image, cross-entropy on the clean one only, plus the term."""
    from robustcifar.model_specs import get_spec
    from training.config import TrainConfig
    from training.datasets import LabelledImages, TrainingSets
    from training.distributed import ProcessGroup
    from training.trainer import StepRunner, build_model, build_optimizer

    spec = get_spec("ce_augmix_jsd")
    config = TrainConfig(models=spec.name, batch_size=8, device="cpu", bf16=False, label_smoothing=0.0)
    images = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8))
    labels = torch.arange(8) % 10
    train = LabelledImages(images, labels, np.arange(8))
    sets = TrainingSets(train, train, train, train, train, train)
    model = build_model(spec, config, torch.device("cpu"))
    runner = StepRunner(spec, config, model, build_optimizer(model, config), sets,
                        ProcessGroup(0, 1, torch.device("cpu")))
    views, view_labels = runner.inputs(np.arange(8), 0)
    assert views.shape == (24, 32, 32, 3) and torch.equal(view_labels, labels)
    model.eval()  # BatchNorm on running statistics, so the three chunks can be scored apart
    objective, reported, _ = runner.loss(views, view_labels, 8)
    with torch.no_grad():
        clean_logits = model(views[:8]).float()
    assert reported == pytest.approx(float(torch.nn.functional.cross_entropy(clean_logits, labels)), rel=1e-4)
    assert float(objective.detach()) > reported  # the mixes disagree with the clean image somewhat
