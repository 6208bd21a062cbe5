"""The joint network: shapes, dtypes, variants, gradients, learning, bad inputs."""

import itertools

import pytest
import torch

from mol.model import MOL, MOLOutput
from mol.train.losses import joint_loss


def small_batch(batch=2, classes=5, dtype=torch.float32):
    g = torch.Generator().manual_seed(3)
    return (
        torch.randn(batch, 1, 8, 128, 128, generator=g, dtype=dtype),
        torch.randint(0, classes, (batch,), generator=g),
        torch.randn(batch, 2, 128, 128, 7, generator=g, dtype=dtype),
        (30 + 60 * torch.rand(batch, 136, 7, generator=g)).to(dtype),
    )


@pytest.mark.parametrize(("batch", "classes", "k", "neighbors"), [(1, 3, 4, "positions"), (3, 5, 2, "channels")])
def test_output_shapes(batch, classes, k, neighbors):
    model = MOL(num_classes=classes, k=k, ccc_neighbors=neighbors).eval()
    with torch.no_grad():
        out = model(torch.randn(batch, 1, 8, 128, 128))
    assert isinstance(out, MOLOutput)
    assert out.mer_logits.shape == (batch, classes)
    assert out.flow.shape == (batch, 2, 128, 128, 7)
    assert out.landmarks.shape == (batch, 136, 7)
    assert out.flow_pyramid is None  # only when asked for, as a head that was not asked for
    assert all(torch.isfinite(t).all() for t in out if t is not None)


def test_batch_elements_are_independent_in_eval():
    model = MOL().eval()
    x = torch.randn(3, 1, 8, 128, 128)
    with torch.no_grad():
        together = model(x)
        alone = model(x[1:2])
    for a, b in zip(together, alone, strict=True):
        if a is not None or b is not None:
            torch.testing.assert_close(a[1:2], b, rtol=1e-4, atol=1e-4)


def test_pair_order_matters_for_flow():
    """Pair t of the flow output belongs to frames (t, t+1): reversing time changes it."""
    model = MOL().eval()
    x = torch.randn(1, 1, 8, 128, 128)
    with torch.no_grad():
        fwd = model(x).flow
        perturbed = x.clone()
        perturbed[:, :, 7] += 1.0  # only the last frame changes: pairs 0..5 unaffected
        out = model(perturbed).flow
    torch.testing.assert_close(out[..., :6], fwd[..., :6])
    assert not torch.allclose(out[..., 6], fwd[..., 6])


@pytest.mark.parametrize(
    "shape",
    [(2, 8, 128, 128), (2, 1, 7, 128, 128), (2, 1, 8, 112, 112), (2, 3, 8, 128, 128)],
)
def test_rejects_wrong_input_shape(shape):
    with pytest.raises(ValueError, match=r"\(B, 1, 8, 128, 128\)"):
        MOL()(torch.randn(*shape))


def test_rejects_integer_input():
    with pytest.raises(TypeError, match="floating"):
        MOL()(torch.zeros(1, 1, 8, 128, 128, dtype=torch.uint8))


def test_every_parameter_receives_a_gradient():
    model = MOL().train()
    clip, labels, flow, landmarks = small_batch()
    joint_loss(model(clip), labels, flow, landmarks).total.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    zero = [n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() == 0]
    assert not missing and not zero, (missing, zero)


def test_a_few_adamw_steps_drive_the_joint_loss_down():
    torch.manual_seed(0)
    model = MOL(num_classes=3)
    for m in model.modules():  # dropout would make single-batch losses noisy
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    clip, labels, flow, landmarks = small_batch(classes=3)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-3)
    losses = []
    for _ in range(6):
        opt.zero_grad()
        loss = joint_loss(model(clip), labels, flow, landmarks).total
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(b < a for a, b in itertools.pairwise(losses)), losses
    assert losses[-1] < 0.95 * losses[0], losses


def test_bfloat16_autocast_forward_and_backward():
    model = MOL().train()
    clip, labels, flow, landmarks = small_batch(batch=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(clip)
    loss = joint_loss(out, labels, flow, landmarks).total
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert model.f5c_a.ccc.diff_weight.grad is not None


def test_float64_model_runs_end_to_end():
    model = MOL().double().eval()
    with torch.no_grad():
        out = model(torch.randn(1, 1, 8, 128, 128, dtype=torch.float64))
    assert out.flow.dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    model = MOL().eval()
    x = torch.randn(2, 1, 8, 128, 128)
    with torch.no_grad():
        cpu = model(x)
        gpu = model.cuda()(x.cuda())
    for a, b in zip(cpu, gpu, strict=True):
        torch.testing.assert_close(b.cpu(), a, rtol=1e-3, atol=1e-3)


def test_skipped_heads_are_none_and_the_rest_unchanged():
    model = MOL().eval()
    x = torch.randn(1, 1, 8, 128, 128)
    with torch.no_grad():
        full = model(x)
        mer_only = model(x, heads=("mer",))
    assert mer_only.flow is None and mer_only.landmarks is None
    torch.testing.assert_close(mer_only.mer_logits, full.mer_logits)
    with pytest.raises(ValueError, match="unknown heads"):
        model(x, heads=("emotion",))


def test_flow_of_chosen_pairs_equals_those_pairs_of_the_full_flow():
    model = MOL().eval()
    x = torch.randn(2, 1, 8, 128, 128)
    with torch.no_grad():
        full = model(x, heads=("flow",)).flow
        some = model(x, heads=("flow",), flow_pairs=torch.tensor([5, 0])).flow
    assert some.shape == (2, 2, 128, 128, 2)
    torch.testing.assert_close(some, full[..., [5, 0]], rtol=1e-4, atol=1e-4)
    for bad in (torch.tensor([7]), torch.tensor([-1]), torch.tensor([], dtype=torch.long)):
        with pytest.raises(ValueError, match="pairs"):
            model(x, heads=("flow",), flow_pairs=bad)


def test_diff_input_makes_recognition_blind_to_static_appearance():
    """With motion_input "diff" a static pattern added to every frame changes no class logit (the
    recognition path sees frame differences only); with the paper's raw input it does."""
    x = 0.3 * torch.randn(2, 1, 8, 128, 128)
    pattern = 0.2 * torch.randn(1, 1, 1, 128, 128)
    for motion_input, same in (("diff", True), ("raw", False)):
        torch.manual_seed(0)
        model = MOL(motion_input=motion_input).eval()
        with torch.no_grad():
            a = model(x, heads=("mer",)).mer_logits
            b = model(x + pattern, heads=("mer",)).mer_logits
        assert torch.allclose(a, b, atol=1e-5) == same, motion_input


def test_diff_input_keeps_raw_frames_for_flow_and_landmarks():
    torch.manual_seed(0)
    diff = MOL(motion_input="diff").eval()
    raw = MOL().eval()
    raw.load_state_dict(diff.state_dict())
    x = 0.3 * torch.randn(1, 1, 8, 128, 128)
    with torch.no_grad():
        a, b = diff(x), raw(x)
    torch.testing.assert_close(a.flow, b.flow)
    torch.testing.assert_close(a.landmarks, b.landmarks)
    assert not torch.allclose(a.mer_logits, b.mer_logits)


def test_motion_frames():
    from mol.model.mol import DIFF_GAIN, motion_frames

    x = torch.zeros(1, 1, 8, 4, 4)
    x[:, :, 3, 0, 0] = 0.05
    x[:, :, 5, 1, 1] = 0.9
    m = motion_frames(x)
    assert m[:, :, 0].abs().max() == 0
    assert m[0, 0, 3, 0, 0].item() == pytest.approx(0.05 * DIFF_GAIN)
    assert m[0, 0, 5, 1, 1].item() == 1.0  # clipped
    with pytest.raises(ValueError, match="motion_input"):
        MOL(motion_input="flow")


def test_frozen_features_keep_weights_and_batchnorm_statistics_while_the_heads_learn():
    model = MOL(num_classes=3)
    model.freeze_features()
    model.train()
    assert not any(m.training for f in model.feature_modules() for m in f.modules())
    assert model.mer_head.training
    before = {k: v.clone() for k, v in model.state_dict().items()}
    clip, labels, flow, landmarks = small_batch(classes=3)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-3)
    joint_loss(model(clip), labels, flow, landmarks).total.backward()
    opt.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    features = ("conv_stack.", "f5c_a.", "f5c_b.")
    assert changed and not any(k.startswith(features) for k in changed), sorted(changed)
    assert {k.split(".")[0] for k in changed} == {"mer_head", "flow_head", "landmark_head"}


@pytest.mark.parametrize("motion_input", ["raw", "diff"])
def test_motion_features_are_the_block_b_features_recognition_read(motion_input):
    from mol.model.mol import motion_frames

    model = MOL(num_classes=3, motion_input=motion_input).eval()
    clip = small_batch()[0]
    with torch.no_grad():
        out = model(clip)
        seen = motion_frames(clip) if motion_input == "diff" else clip
        _, expected = model.pair_features(seen.transpose(1, 2))
        assert model(clip, heads=("flow",)).motion_features is None
    assert out.motion_features.shape == (2, 7, 128, 16, 16)
    torch.testing.assert_close(out.motion_features, expected)
