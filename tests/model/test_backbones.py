"""Backbones: pyramid shapes, local weights, and the EfficientNet-Lite0 ImageNet mapping."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from coalwatch.errors import InputError
from coalwatch.model.backbones import build_backbone, tiny_trunk
from coalwatch.model.pretrained import (
    EXPECTED_TENSORS,
    SHORT_BLOCKS,
    lite0_classifier,
    lite0_state_dict,
    map_state_dict,
)

torch.set_num_threads(1)
timm = pytest.importorskip("timm")


@pytest.mark.parametrize(
    "name",
    [
        "tiny",
        "mobilenet_v3",
        "mobilenet_v3_small",
        "efficientnet_lite0",
        "efficientnet_lite0_tiny",
        "resnet50_fpn_v2",
    ],
)
def test_every_backbone_gives_five_maps_at_strides_4_to_64(name: str) -> None:
    backbone = build_backbone(name, 32).eval()
    with torch.no_grad():
        maps = backbone(torch.rand(1, 3, 128, 128))
    assert list(maps) == ["0", "1", "2", "3", "pool"]
    assert [128 // m.shape[-1] for m in maps.values()] == [4, 8, 16, 32, 64]
    assert all(m.shape[1] == backbone.out_channels == 32 for m in maps.values())


def test_fine_level_leads_the_pyramid_at_stride_2_with_pretrained_weights() -> None:
    plain = build_backbone("efficientnet_lite0", 32, pretrained=True).eval()
    fine = build_backbone("efficientnet_lite0", 32, pretrained=True, fine_level=True).eval()
    image = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        maps, reference = fine(image), plain(image)
    assert list(maps) == ["fine", "0", "1", "2", "3", "pool"]
    assert [128 // m.shape[-1] for m in maps.values()] == [2, 4, 8, 16, 32, 64]
    assert all(m.shape[1] == 32 for m in maps.values())
    trunk = {k: v for k, v in fine.body.state_dict().items() if "running_mean" in k}
    for key, value in trunk.items():  # the same ImageNet trunk underneath
        torch.testing.assert_close(value, plain.body.state_dict()[key])
    assert maps["fine"].abs().sum() > 0 and reference["0"].shape == maps["0"].shape
    with pytest.raises(ValueError, match="fine_level needs backbone efficientnet_lite0 or"):
        build_backbone("tiny", 32, fine_level=True)


def test_short_lite0_trunk_is_the_imagenet_trunk_cut_at_stride_16_under_1m_parameters() -> None:
    full = build_backbone("efficientnet_lite0", 32, pretrained=True).eval()
    short = build_backbone("efficientnet_lite0_tiny", 32, pretrained=True, fine_level=True).eval()
    assert sum(p.numel() for p in short.parameters()) < 1_000_000
    assert len(short.body.blocks) == SHORT_BLOCKS < len(full.body.blocks)
    image = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        cut, whole = short.body(image), full.body(image)
        maps = short(image)
    # the fine map comes first; the stride-4, 8 and 16 features are the full trunk's
    for ours, theirs in zip(cut[1:], whole[:3], strict=True):
        torch.testing.assert_close(ours, theirs)
    assert list(maps) == ["fine", "0", "1", "2", "3", "pool"]
    assert [128 // m.shape[-1] for m in maps.values()] == [2, 4, 8, 16, 32, 64]
    assert short.top is not None and maps["3"].abs().sum() > 0


def test_local_backbone_weights_load_and_bad_files_fail(tmp_path) -> None:
    trunk, _ = tiny_trunk()
    path = tmp_path / "trunk.pt"
    torch.save(trunk.state_dict(), path)
    backbone = build_backbone("tiny", weights_path=str(path))
    first = next(iter(trunk.state_dict()))
    torch.testing.assert_close(backbone.body.state_dict()[first], trunk.state_dict()[first])
    with pytest.raises(InputError, match="not found"):
        build_backbone("tiny", weights_path=str(tmp_path / "missing.pt"))
    torch.save({"unrelated": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="tensors match"):
        build_backbone("tiny", weights_path=str(tmp_path / "other.pt"))


def test_lite0_weights_map_onto_timm_in_order() -> None:
    mapped = lite0_state_dict()
    reference = timm.create_model("efficientnet_lite0", pretrained=False).state_dict()
    assert len(mapped) == EXPECTED_TENSORS == 247
    assert list(mapped) == [k for k in reference if not k.endswith("num_batches_tracked")]
    assert all(mapped[k].shape == reference[k].shape for k in mapped)
    with pytest.raises(ValueError, match="tensors"):
        map_state_dict(dict(list(mapped.items())[:-1]), reference)
    swapped = dict(mapped)
    swapped["conv_stem.weight"] = torch.zeros(32, 3, 5, 5)
    with pytest.raises(ValueError, match="does not map"):
        map_state_dict(swapped, reference)


def _textured_images(n: int = 8, size: int = 160) -> torch.Tensor:
    """Smooth colour fields with flat rectangles and a little noise, ImageNet-normalised."""
    rng = np.random.default_rng(0)
    batch = []
    for _ in range(n):
        field = np.stack([gaussian_filter(rng.normal(size=(size, size)), 8) for _ in range(3)], -1)
        image = 0.3 + 0.4 * (field - field.min()) / (np.ptp(field) + 1e-9)
        for _ in range(6):
            x, y = rng.integers(0, size - 40, 2)
            w, h = rng.integers(8, 40, 2)
            image[y : y + h, x : x + w] = rng.uniform(0, 1, 3)
        image += rng.normal(0, 0.02, image.shape)
        batch.append(torch.from_numpy(image.clip(0, 1)).permute(2, 0, 1).float())
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    return (torch.stack(batch) - mean) / std


def _bn_agreement(model: torch.nn.Module, images: torch.Tensor) -> float:
    """Median over batch norms of corr(channel means of their input, ImageNet running means)."""
    seen: dict[torch.nn.Module, torch.Tensor] = {}
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    hooks = [
        n.register_forward_hook(lambda mod, inp, out: seen.__setitem__(mod, inp[0].mean((0, 2, 3))))
        for n in norms
    ]
    with torch.no_grad():
        model(images)
    for hook in hooks:
        hook.remove()
    return float(
        np.median([np.corrcoef(seen[n].numpy(), n.running_mean.numpy())[0, 1] for n in norms])
    )


def test_mapped_lite0_weights_fit_their_own_batch_norm_statistics() -> None:
    """With every convolution in its right place, the activations entering each batch norm
    have the channel means that ImageNet training recorded; a model whose convolutions are
    not the mapped ones (same statistics, random weights) shows no such agreement."""
    images = _textured_images()
    classifier = lite0_classifier()
    assert _bn_agreement(classifier, images) > 0.8
    control = timm.create_model("efficientnet_lite0", pretrained=False).eval()
    stats = {k: v for k, v in lite0_state_dict().items() if "running" in k}
    control.load_state_dict(stats, strict=False)
    assert abs(_bn_agreement(control, images)) < 0.3
