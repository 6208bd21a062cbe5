"""The joint objective against literal per-sample computations."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from mol.model import MOLOutput
from mol.train.losses import LossWeights, flow_loss, inter_ocular_distance, joint_loss, landmark_loss


def random_landmarks(batch=3, frames=7):
    return 20 + 80 * torch.rand(batch, 136, frames, dtype=torch.float64)


def test_inter_ocular_distance_uses_eye_centres():
    lm = torch.zeros(1, 136, 1, dtype=torch.float64)
    pts = lm.view(1, 68, 2, 1)
    pts[0, 36:42, 0, 0] = 10.0  # left eye centred at (10, 0)
    pts[0, 42:48, 0, 0] = 40.0  # right eye centred at (40, 4)
    pts[0, 42:48, 1, 0] = 4.0
    torch.testing.assert_close(
        inter_ocular_distance(lm), torch.tensor([[5.0 * (36 + 0.64) ** 0.5]], dtype=torch.float64)
    )


def test_landmark_loss_matches_per_frame_sum():
    pred, gt = random_landmarks(), random_landmarks()
    total = 0.0
    for b in range(3):
        for t in range(7):
            p, g = pred[b, :, t].view(68, 2), gt[b, :, t].view(68, 2)
            iod = (g[36:42].mean(0) - g[42:48].mean(0)).norm()
            total += (p - g).abs().sum() / iod
    torch.testing.assert_close(landmark_loss(pred, gt), total / (3 * 68))


def test_flow_loss_of_a_one_pixel_horizontal_error():
    # every x component off by 1 px, y exact: the mean squared error is 1/2, over 7 pairs 1/14
    truth = torch.randn(2, 2, 8, 8, 7, dtype=torch.float64)
    pred = truth.clone()
    pred[:, 0] += 1.0
    torch.testing.assert_close(flow_loss(pred, truth), torch.tensor(1 / 14, dtype=torch.float64))
    pred[:, :, :, :, 3] += 2.0  # pair 3 now also 2 px off in y and 3 px in x: (9 + 4) / 2 there
    expected = (6 * 0.5 + (9 + 4) / 2) / 7 / 7
    torch.testing.assert_close(flow_loss(pred, truth), torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize("k", [1, 2, 5])
def test_flow_loss_on_pair_subsets_is_unbiased(k):
    """Averaged over every k-subset of the 7 pairs, the subset loss and its gradient equal the
    full loss and its gradient."""
    truth = torch.randn(2, 2, 6, 6, 7, dtype=torch.float64)
    full_pred = torch.randn(2, 2, 6, 6, 7, dtype=torch.float64, requires_grad=True)
    full = flow_loss(full_pred, truth)
    (full_grad,) = torch.autograd.grad(full, full_pred)
    subsets = list(itertools.combinations(range(7), k))
    pred = full_pred.detach().requires_grad_(True)
    mean = sum(flow_loss(pred[..., list(s)], truth, torch.tensor(s)) for s in subsets) / len(subsets)
    (mean_grad,) = torch.autograd.grad(mean, pred)
    torch.testing.assert_close(mean, full.detach())
    torch.testing.assert_close(mean_grad, full_grad)
    one = flow_loss(pred[..., list(subsets[0])], truth, torch.tensor(subsets[0]))
    if k < 7:
        assert not torch.isclose(one, full)  # a single subset is an estimate, not the loss


def test_joint_loss_weights_and_skipped_terms():
    out = MOLOutput(torch.randn(3, 5), torch.randn(3, 2, 8, 8, 7), random_landmarks().float())
    labels = torch.tensor([0, 4, 2])
    flow, lm = torch.randn(3, 2, 8, 8, 7), random_landmarks().float()
    terms = joint_loss(out, labels, flow, lm)
    torch.testing.assert_close(terms.mer, F.cross_entropy(out.mer_logits, labels))
    torch.testing.assert_close(terms.total, terms.mer + 10 * terms.flow + 0.1 * terms.landmark)
    mer_only = joint_loss(out, labels, flow, lm, LossWeights(mer=1.0, flow=0.0, landmark=0.0))
    torch.testing.assert_close(mer_only.total, terms.mer)
    assert mer_only.flow == 0 and mer_only.landmark == 0


def test_missing_head_for_a_weighted_term_is_an_error():
    out = MOLOutput(torch.randn(2, 5), None, None)
    weights = LossWeights(flow=0.0, landmark=0.0)
    assert weights.heads() == ("mer",)
    terms = joint_loss(out, torch.tensor([0, 1]), None, None, weights)
    assert terms.flow == 0 and torch.isfinite(terms.total)
    with pytest.raises(ValueError, match="flow"):
        joint_loss(out, torch.tensor([0, 1]), torch.zeros(2, 2, 8, 8, 7), None)


def test_frames_without_a_detected_face_are_left_out_of_the_landmark_loss():
    pred, gt = random_landmarks(2, 7), random_landmarks(2, 7)
    mask = torch.ones(2, 7, dtype=torch.bool)
    torch.testing.assert_close(landmark_loss(pred, gt, mask), landmark_loss(pred, gt))
    mask[0, 3] = mask[1, 0] = False
    changed = pred.clone()
    changed[0, :, 3] += 50.0  # a borrowed frame: its error must not count
    changed[1, :, 0] -= 50.0
    torch.testing.assert_close(landmark_loss(changed, gt, mask), landmark_loss(pred, gt, mask))
    # the 12 valid frames, scaled to the 14 frames' normalisation
    valid = [(b, t) for b in range(2) for t in range(7) if mask[b, t]]
    total = sum(
        (pred[b, :, t] - gt[b, :, t]).abs().sum() / inter_ocular_distance(gt[b : b + 1, :, t : t + 1])[0, 0]
        for b, t in valid
    )
    torch.testing.assert_close(landmark_loss(pred, gt, mask), total * 14 / 12 / (2 * 68))
