"""The LightningModule's loss: torchvision's losses, each weighted as the config says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coalwatch.labels.taxonomy import load_taxonomy
from coalwatch.model.checkpoint import InferenceSettings
from coalwatch.model.detector import DetectorConfig
from coalwatch.train.module import DetectorModule, OptimConfig


def _module(loss_weights: dict[str, float]) -> DetectorModule:
    taxonomy = load_taxonomy()
    detector = DetectorConfig(backbone="tiny", tile_size=96, num_classes=taxonomy.num_classes)
    torch.manual_seed(0)
    module = DetectorModule(
        detector=detector.to_dict(),
        taxonomy=taxonomy.to_dict(),
        inference=InferenceSettings(tile_size=96).to_dict(),
        optim={"name": "adamw", "lr": 1e-3, "loss_weights": loss_weights},
    )
    module.log = lambda *args, **kwargs: None  # no trainer to log to
    return module.train()


def _batch(chipgen) -> tuple[list[torch.Tensor], list[dict]]:
    images, targets = [], []
    for seed in (1, 2):
        image, objects = chipgen.draw(np.random.default_rng(seed), 96, 4)
        images.append(torch.from_numpy(image).permute(2, 0, 1).float() / 255)
        boxes = torch.tensor([[x, y, x + w, y + h] for _, (x, y, w, h) in objects])
        targets.append({"boxes": boxes, "labels": torch.tensor([c for c, _ in objects])})
    return images, targets


def test_training_loss_is_the_weighted_sum_of_the_losses(chipgen) -> None:
    images, targets = _batch(chipgen)
    weights = {"loss_classifier": 0.0, "loss_box_reg": 3.0, "loss_rpn_box_reg": 0.0}
    module = _module(weights)
    torch.manual_seed(5)  # the same proposal and anchor sampling for both
    losses = module.model(images, targets)
    torch.manual_seed(5)
    loss = module.training_step((images, targets), 0)
    expected = 3 * losses["loss_box_reg"] + losses["loss_objectness"]
    assert losses["loss_classifier"].item() > 0  # weighted out, not absent
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_loss_weights_name_known_losses_and_cover_cascade_stages() -> None:
    module = _module({"loss_box_reg": 2.0})
    assert module.loss_weight("loss_box_reg") == 2.0
    assert module.loss_weight("loss_box_reg_3") == 2.0  # a cascade stage's box loss
    assert module.loss_weight("loss_classifier_2") == 1.0
    with pytest.raises(ValueError, match="unknown loss"):
        OptimConfig(loss_weights={"loss_box": 2.0})
    with pytest.raises(ValueError, match="negative"):
        OptimConfig(loss_weights={"loss_box_reg": -1.0})
