"""The authors' segmentation loss and the mask IoU that validation reports."""

from __future__ import annotations

import torch

EPS = 1e-10


def segmentation_loss(logits: torch.Tensor, mask: torch.Tensor, contour: torch.Tensor) -> torch.Tensor:
    """BCE on σ(logit / 2) per channel: ch0 = target (positive term weighted by mask + contour), ch1 = background.

    logits: Bx2xHxW; mask, contour (its edge pixels): Bx1xHxW in {0, 1}. Mean over pixels, channels, batch.
    """
    prob = torch.sigmoid(logits.float() / 2)
    target, background = prob[:, :1], prob[:, 1:]
    loss_target = -((mask + contour) * mask * torch.log(target + EPS) + (1 - mask) * torch.log(1 - target + EPS))
    loss_background = -((1 - mask) * torch.log(background + EPS) + mask * torch.log(1 - background + EPS))
    return 0.5 * (loss_target.mean() + loss_background.mean())


def predicted_mask(logits: torch.Tensor) -> torch.Tensor:
    """Bx1xHxW bool: pixels where the target channel wins."""
    return logits[:, :1] > logits[:, 1:]


def mask_iou(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sample IoU (B) of the predicted mask with a Bx1xHxW target; 1 when both are empty."""
    pred, truth = predicted_mask(logits), mask > 0.5
    inter = (pred & truth).flatten(1).sum(1).float()
    union = (pred | truth).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
