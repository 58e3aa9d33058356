import math

import pytest
import torch
import torch.nn.functional as F

from training.angular_loss import AngularLoss


def naive_angular_loss(x: torch.Tensor, labels: list[int], alpha_degrees: float) -> float:
    """Straight from the paper: loop over every ordered positive pair and every negative."""
    tan_sq = math.tan(math.radians(alpha_degrees)) ** 2
    losses = []
    for a in range(len(labels)):
        for p in range(len(labels)):
            if a == p or labels[a] != labels[p]:
                continue
            total = 0.0
            for n in range(len(labels)):
                if labels[n] == labels[a]:
                    continue
                f = 4 * tan_sq * float((x[a] + x[p]) @ x[n]) - 2 * (1 + tan_sq) * float(x[a] @ x[p])
                total += math.exp(f)
            losses.append(math.log(1 + total))
    return sum(losses) / len(losses)


@pytest.mark.parametrize("alpha", [36.0, 45.0, 55.0])
def test_matches_the_per_triplet_definition(alpha):
    torch.manual_seed(0)
    x = F.normalize(torch.randn(12, 8, dtype=torch.float64), dim=1)
    labels = [0, 0, 1, 1, 1, 2, 2, 3, 3, 0, 4, 4]
    got = AngularLoss(alpha)(x, torch.tensor(labels)).item()
    assert got == pytest.approx(naive_angular_loss(x, labels, alpha), rel=1e-6)


def test_lower_when_classes_are_separated():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    separated = F.normalize(torch.eye(3).repeat_interleave(2, dim=0) + 0.01, dim=1)
    mixed = F.normalize(torch.randn(6, 3, generator=torch.Generator().manual_seed(1)), dim=1)
    loss = AngularLoss(40.0)
    assert loss(separated, labels) < loss(mixed, labels)


def test_gradients_flow():
    x = F.normalize(torch.randn(8, 4), dim=1).requires_grad_()
    AngularLoss()(x, torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_batch_without_positive_pairs_and_bad_alpha_are_rejected():
    with pytest.raises(ValueError, match="two images of one class"):
        AngularLoss()(torch.randn(3, 4), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="alpha"):
        AngularLoss(90.0)
