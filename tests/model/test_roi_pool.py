"""The sparse-product RoIAlign must give torchvision's numbers, forward and backward."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import MultiScaleRoIAlign, roi_align

from coalwatch.model.roi_pool import SparseRoIAlign, roi_align_sparse


def random_boxes(generator: torch.Generator, count: int, size: int) -> torch.Tensor:
    """Boxes inside a ``size`` px image: tiny, elongated and touching the far edges."""
    xy = torch.rand(count, 2, generator=generator) * (size - 2)
    wh = torch.rand(count, 2, generator=generator) ** 3 * size * 0.6 + 0.3
    boxes = torch.cat([xy, (xy + wh).clamp(max=size)], dim=1)
    boxes[0] = torch.tensor([size - 3.0, size - 2.5, size, size])  # corner: clamped samples
    return boxes


@pytest.mark.parametrize(("scale", "sampling_ratio"), [(0.25, 2), (0.125, 1), (1.0, 3)])
def test_roi_align_sparse_matches_torchvision(scale: float, sampling_ratio: int) -> None:
    generator = torch.Generator().manual_seed(0)
    feature = torch.randn(3, 5, 16, 12, generator=generator, requires_grad=True)
    image = int(12 / scale)
    boxes = random_boxes(generator, 40, image)
    batch = torch.randint(0, 2, (40, 1), generator=generator).float()  # image 2 has no RoIs
    rois = torch.cat([batch, boxes], dim=1)

    expected = roi_align(feature, rois, (7, 7), scale, sampling_ratio)
    got = roi_align_sparse(feature, rois, (7, 7), scale, sampling_ratio)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)

    weights = torch.randn(expected.shape, generator=generator)
    (grad_expected,) = torch.autograd.grad((expected * weights).sum(), feature)
    (grad_got,) = torch.autograd.grad((got * weights).sum(), feature)
    torch.testing.assert_close(grad_got, grad_expected, atol=1e-4, rtol=1e-5)
    assert grad_got[2].abs().max() == 0  # no RoI reads image 2


def pyramid(generator: torch.Generator, size: int = 128) -> dict[str, torch.Tensor]:
    return {
        str(level): torch.randn(2, 4, size // 2**k, size // 2**k, generator=generator)
        for level, k in enumerate((2, 3, 4, 5))
    } | {"pool": torch.randn(2, 4, size // 64, size // 64, generator=generator)}


def test_sparse_pooler_matches_torchvision_pooler_in_training() -> None:
    generator = torch.Generator().manual_seed(1)
    features = {k: v.requires_grad_() for k, v in pyramid(generator, 512).items()}
    sides = torch.logspace(0.5, 2.7, 25)  # 3 to 500 px: every pyramid level
    corner = torch.ones_like(sides)
    big = torch.stack([corner, corner, corner + sides, corner + sides], 1)
    boxes = [random_boxes(generator, 30, 512), big.clamp(max=512)]
    shapes = [(512, 512), (512, 512)]
    sparse = SparseRoIAlign(["0", "1", "2", "3"], 7, sampling_ratio=2).train()
    reference = MultiScaleRoIAlign(["0", "1", "2", "3"], 7, sampling_ratio=2)

    got = sparse(features, boxes, shapes)
    expected = reference(features, boxes, shapes)
    # coordinates are computed in another order: float32 rounding at 512 px
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    levels = reference.map_levels(boxes)
    assert len(levels.unique()) == 4  # the comparison spans several pyramid levels

    inputs = [features[k] for k in ("0", "1", "2", "3")]
    grads_got = torch.autograd.grad(got.square().sum(), inputs)
    grads_expected = torch.autograd.grad(expected.square().sum(), inputs)
    for g, e in zip(grads_got, grads_expected, strict=True):
        torch.testing.assert_close(g, e, atol=1e-3, rtol=1e-4)


def test_sparse_pooler_uses_torchvision_outside_training() -> None:
    generator = torch.Generator().manual_seed(2)
    features = pyramid(generator)
    boxes = [random_boxes(generator, 10, 128)]
    sparse = SparseRoIAlign(["0", "1", "2", "3"], 7, sampling_ratio=2).eval()
    out = sparse(features, boxes, [(128, 128)])
    expected = MultiScaleRoIAlign(["0", "1", "2", "3"], 7, 2)(features, boxes, [(128, 128)])
    assert torch.equal(out, expected)  # bit-identical: the same operator


@pytest.mark.parametrize(("scale", "sampling_ratio"), [(0.25, 2), (0.5, 1)])
def test_aligned_roi_align_sparse_matches_torchvision(scale: float, sampling_ratio: int) -> None:
    generator = torch.Generator().manual_seed(3)
    feature = torch.randn(2, 4, 16, 12, generator=generator, requires_grad=True)
    boxes = random_boxes(generator, 30, int(12 / scale))
    rois = torch.cat([torch.randint(0, 2, (30, 1), generator=generator).float(), boxes], dim=1)

    expected = roi_align(feature, rois, (7, 7), scale, sampling_ratio, aligned=True)
    got = roi_align_sparse(feature, rois, (7, 7), scale, sampling_ratio, aligned=True)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    unaligned = roi_align(feature, rois, (7, 7), scale, sampling_ratio)
    assert not torch.allclose(got, unaligned, atol=1e-3)  # the correction changes the result

    (grad_expected,) = torch.autograd.grad(expected.square().sum(), feature)
    (grad_got,) = torch.autograd.grad(got.square().sum(), feature)
    torch.testing.assert_close(grad_got, grad_expected, atol=1e-4, rtol=1e-5)


def test_aligned_pooler_reads_a_thin_box_where_it_is() -> None:
    """A line one stride-4 cell wide under a 3 px wide box centred on it: the aligned
    pooler's bins peak in the box's middle column, the unaligned one's at its left edge."""
    feature = torch.zeros(1, 1, 32, 32)
    feature[0, 0, :, 10] = 1.0  # cell 10 covers image pixels 40-44 at stride 4
    features = {"0": feature} | {
        k: torch.zeros(1, 1, 32 // 2**i, 32 // 2**i) for i, k in enumerate(("1", "2", "3"), 1)
    }
    box = [torch.tensor([[40.5, 20.0, 43.5, 60.0]])]  # centred on the line, 3 px wide
    shapes = [(128, 128)]
    aligned = SparseRoIAlign(["0", "1", "2", "3"], 7, 2, aligned=True).eval()
    unaligned = SparseRoIAlign(["0", "1", "2", "3"], 7, 2, aligned=False).eval()
    centred = aligned(features, box, shapes)[0, 0].mean(0)
    shifted = unaligned(features, box, shapes)[0, 0].mean(0)
    assert int(centred.argmax()) == 3
    torch.testing.assert_close(centred, centred.flip(0))
    assert int(shifted.argmax()) == 0


@pytest.mark.parametrize("aligned", [False, True])
def test_sparse_pooler_training_matches_inference_operator(aligned: bool) -> None:
    generator = torch.Generator().manual_seed(4)
    features = pyramid(generator, 256)
    boxes = [random_boxes(generator, 20, 256), torch.zeros(0, 4)]  # image 2: no RoIs
    shapes = [(256, 256), (256, 256)]
    pooler = SparseRoIAlign(["0", "1", "2", "3"], 7, 2, aligned=aligned)
    trained = pooler.train()(features, boxes, shapes)
    inferred = pooler.eval()(features, boxes, shapes)
    torch.testing.assert_close(trained, inferred, atol=1e-4, rtol=1e-4)
