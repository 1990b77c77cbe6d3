"""Networks of spec §3: exact parameter counts, shapes, the Fourier buffer."""

import torch

from genrl.networks import DoubleQ, GaussianFourierTimeEncoder, TemporalSpatialResidualNet, ValueNet


def trainable(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_reference_policy_network_parameter_counts():
    """Spec §3.1: 1,633,222 trainable parameters for A = 6, S = 17 and 1,626,883 for A = 3, S = 11."""
    assert trainable(TemporalSpatialResidualNet(6, 17)) == 1_633_222
    assert trainable(TemporalSpatialResidualNet(3, 11)) == 1_626_883


def test_policy_network_shapes_and_time_dependence():
    net = TemporalSpatialResidualNet(3, 11, hidden_sizes=(32, 16, 8))
    x, s = torch.randn(5, 3), torch.randn(5, 11)
    out0, out1 = net(torch.zeros(5), x, s), net(torch.ones(5), x, s)
    assert out0.shape == (5, 3)
    assert not torch.allclose(out0, out1)


def test_fourier_weights_are_a_saved_untrained_buffer():
    enc = GaussianFourierTimeEncoder(32, 30.0)
    assert trainable(enc) == 0 and "W" in enc.state_dict()
    assert enc(torch.rand(7)).shape == (7, 32)
    torch.testing.assert_close(enc(torch.zeros(3))[:, 16:], torch.ones(3, 16))  # cos(0) = 1
    copy = GaussianFourierTimeEncoder(32, 30.0)
    copy.load_state_dict(enc.state_dict())
    torch.testing.assert_close(copy.W, enc.W)


def test_critic_networks():
    q, v = DoubleQ(11, 3), ValueNet(11)
    s, a = torch.randn(4, 11), torch.randn(4, 3)
    q1, q2 = q(s, a)
    assert q1.shape == (4,) and v(s).shape == (4,)
    torch.testing.assert_close(q.min_q(s, a), torch.minimum(q1, q2))
    assert trainable(q) == 2 * ((14 * 256 + 256) + (256 * 256 + 256) + (256 + 1))
