import torch
from torch.utils._python_dispatch import TorchDispatchMode

from mol.model.correlation import displacement_index, reachable_displacements
from mol.model.flow_head import DISPLACEMENT_STRIDE, MAX_DISPLACEMENT, SEEDED_LAYERS, FlowHead
from mol.model.mol import MOL


class OpsSeen(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.add(func.__name__.split(".")[0])
        return func(*args, **(kwargs or {}))


def test_correlation_indices_are_buffers_built_once_not_weights():
    head = FlowHead()
    reachable = reachable_displacements(16, 16, MAX_DISPLACEMENT, DISPLACEMENT_STRIDE)
    assert torch.equal(head.corr_reachable, reachable) and len(reachable) == 225
    assert torch.equal(head.corr_index, displacement_index(16, 16, MAX_DISPLACEMENT, DISPLACEMENT_STRIDE)[reachable])
    assert len(head.conv3_1_keep) == 32 + 225 + 256
    assert not any(k.startswith(("corr_", "conv3_1_keep")) for k in head.state_dict())  # checkpoints unchanged
    assert head.double().corr_index.dtype == torch.long


def test_a_forward_has_no_data_dependent_shapes():
    """nonzero (and friends) make the host wait for the device and break CUDA graph capture."""
    model = MOL(num_classes=3).eval()
    with torch.no_grad(), OpsSeen() as seen:
        model(torch.randn(1, 1, 8, 128, 128))
    assert not seen.names & {"nonzero", "masked_select", "unique", "_local_scalar_dense", "item"}
    assert "bmm" in seen.names  # the mode did see the forward


def test_seeded_layers_depend_on_the_seed_alone_and_keep_the_reference_scale():
    torch.manual_seed(0)
    a = FlowHead()
    torch.manual_seed(1)
    b = FlowHead()
    a.seed_large_layers(5)
    b.seed_large_layers(5)
    names = a.seeded_weight_names()
    assert all(torch.equal(a.state_dict()[n], b.state_dict()[n]) for n in names)
    assert not torch.equal(a.conv3_1[0].weight, b.conv3_1[0].weight)  # the rest is not seeded
    b.seed_large_layers(6)
    assert not any(torch.equal(a.state_dict()[n], b.state_dict()[n]) for n in names)
    reference = FlowHead().conv6_1[0].weight  # torch's Kaiming normal, a = 0.1
    assert abs(float(a.conv6_1[0].weight.detach().std() / reference.detach().std()) - 1) < 0.01


def test_frozen_seeded_layers_get_no_gradient_and_the_rest_does():
    head = FlowHead()
    head.freeze_large_layers()
    frames = torch.randn(1, 2, 1, 128, 128)
    features = torch.randn(1, 1, 128, 16, 16)
    head(frames, features, features).square().mean().backward()
    assert all(getattr(head, n)[0].weight.grad is None for n in SEEDED_LAYERS)
    assert head.conv3_1[0].weight.grad is not None and head.deconv3[0].weight.grad is not None


def test_the_pyramid_adds_the_coarser_levels_and_leaves_flow0_as_it_is():
    torch.manual_seed(0)
    head = FlowHead().eval()
    frames = torch.randn(2, 3, 1, 128, 128)
    features = torch.randn(2, 2, 128, 16, 16)
    pairs = torch.tensor([1])
    with torch.no_grad():
        plain = head(frames, features, features, pairs=pairs)
        flow0, coarse = head(frames, features, features, pairs=pairs, pyramid=True)
        every_pair, every_coarse = head(frames, features, features, pyramid=True)
    torch.testing.assert_close(flow0, plain)
    assert [tuple(f.shape) for f in coarse] == [(2, 1, 2, 128 >> i, 128 >> i) for i in range(1, 7)]
    assert every_pair.shape == (2, 2, 2, 128, 128) and every_coarse[0].shape == (2, 2, 2, 64, 64)
