"""The angular loss of Wang et al., "Deep Metric Learning with Angular Loss" (ICCV 2017, arXiv 1708.01682).

For an anchor a, a positive p (same class) and a negative n (another class), the paper bounds the
angle at the negative of the triangle (a, p, n) by alpha, which reduces to

    f(a, p, n) = 4 tan^2(alpha) (x_a + x_p)^T x_n - 2 (1 + tan^2(alpha)) x_a^T x_p

and its batch form (the N-pair style of section 4.3) averages, over all ordered positive pairs,

    l(a, p) = log(1 + sum_n exp(f(a, p, n))).

Embeddings are unit length here (the model L2-normalises its head). The paper's useful range of
alpha is 36-55 degrees.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class AngularLoss(nn.Module):
    def __init__(self, alpha_degrees: float = 40.0) -> None:
        super().__init__()
        if not 0.0 < alpha_degrees < 90.0:
            raise ValueError(f"alpha must be between 0 and 90 degrees, got {alpha_degrees}")
        self.alpha_degrees = alpha_degrees
        self.tan_sq = math.tan(math.radians(alpha_degrees)) ** 2

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """embeddings (B, D), labels (B,) -> scalar loss; the batch needs at least one positive pair."""
        x = embeddings.float()
        sim = x @ x.T  # sim[i, j] = x_i . x_j
        same = labels[:, None] == labels[None, :]
        eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        anchors, positives = torch.nonzero(same & ~eye, as_tuple=True)
        if len(anchors) == 0:
            raise ValueError("the angular loss needs a batch with at least two images of one class")
        # f for every (positive pair, candidate negative): (P, B)
        f = 4.0 * self.tan_sq * (sim[anchors] + sim[positives]) - 2.0 * (1.0 + self.tan_sq) * sim[
            anchors, positives
        ].unsqueeze(1)
        f = f.masked_fill(same[anchors], float("-inf"))  # only other classes are negatives
        # log(1 + sum exp(f)) as a logsumexp with an extra zero logit, for numerical safety
        zeros = torch.zeros(len(anchors), 1, device=f.device, dtype=f.dtype)
        return torch.logsumexp(torch.cat([zeros, f], dim=1), dim=1).mean()
