"""The forecast outputs against scipy.stats: likelihoods, quantiles, samples, medians; and the quantile head.

scipy's parameterisations, written out: norm(loc=μ, scale=σ); t(df=ν, loc=μ, scale=σ);
nbinom(n=1/α, p=1/(1 + αm)), whose mean n (1 − p) / p is m (scipy's p is torch's 1 − probs).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.tasks.forecast.likelihood import (
    EPS,
    OUTPUTS,
    GaussianOutput,
    NegativeBinomialOutput,
    StudentTOutput,
    make_output,
)
from rnnlab.tasks.forecast.outputs import DEFAULT_QUANTILES, QuantileOutput, interpolate, monotone_quantiles

stats = pytest.importorskip("scipy.stats")

LEVELS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999)


def softplus(x):
    return np.logaddexp(0.0, x)


def inverse_softplus(y):
    return float(y + np.log(-np.expm1(-y)))  # log(e^y − 1), without overflow for large y


def random_raw(k, seed=0, shape=(4, 6), spread=2.0):
    return torch.randn(*shape, k, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * spread


def level_of(batch, seed=1, low=0.5, high=40.0):
    rng = np.random.default_rng(seed)
    return torch.tensor(rng.uniform(low, high, (batch, 1)), dtype=torch.float64)


def scipy_gaussian(raw):
    raw = raw.numpy()
    return stats.norm(loc=raw[..., 0], scale=softplus(raw[..., 1]) + EPS)


def scipy_student_t(raw):
    raw = raw.numpy()
    return stats.t(df=2 + softplus(raw[..., 0]), loc=raw[..., 1], scale=softplus(raw[..., 2]) + EPS)


def nb_parameters(raw, level):
    raw, level = raw.numpy(), level.numpy()
    mean = level * softplus(raw[..., 0]) + EPS
    alpha = softplus(raw[..., 1]) / np.sqrt(level) + EPS
    return mean, alpha


def scipy_negative_binomial(raw, level):
    mean, alpha = nb_parameters(raw, level)
    return stats.nbinom(n=1 / alpha, p=1 / (1 + alpha * mean))


# --- the likelihoods ---------------------------------------------------------------------------------


def test_gaussian_loss_is_the_mean_negative_log_density():
    raw, z = random_raw(2), random_raw(1, seed=5)[..., 0]
    expected = -scipy_gaussian(raw).logpdf(z.numpy()).mean()
    assert GaussianOutput().loss(raw, z, None).item() == pytest.approx(expected, rel=1e-12)


def test_student_t_loss_is_the_mean_negative_log_density():
    raw, z = random_raw(3), random_raw(1, seed=5)[..., 0] * 3
    expected = -scipy_student_t(raw).logpdf(z.numpy()).mean()
    assert StudentTOutput().loss(raw, z, None).item() == pytest.approx(expected, rel=1e-12)


def test_negative_binomial_loss_is_the_mean_negative_log_mass_of_the_counts():
    raw, level = random_raw(2), level_of(4)
    counts = torch.tensor(np.random.default_rng(2).integers(0, 80, (4, 6)), dtype=torch.float64)
    z = counts / level - 1  # the linear transform, inverted by the output
    expected = -scipy_negative_binomial(raw, level).logpmf(counts.numpy()).mean()
    assert NegativeBinomialOutput().loss(raw, z, level).item() == pytest.approx(expected, rel=1e-10)


def test_negative_binomial_mean_and_variance_are_m_and_m_plus_alpha_m_squared():
    raw, level = random_raw(2), level_of(4)
    d = NegativeBinomialOutput().distribution(raw, level)
    mean, alpha = nb_parameters(raw, level)
    np.testing.assert_allclose(d.mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(d.variance.numpy(), mean + alpha * mean**2, rtol=1e-12)
    np.testing.assert_allclose(scipy_negative_binomial(raw, level).mean(), mean, rtol=1e-12)  # the mapping


def test_the_negative_binomial_needs_the_level():
    with pytest.raises(ValueError, match="level"):
        NegativeBinomialOutput().loss(random_raw(2), torch.zeros(4, 6, dtype=torch.float64), None)


# --- quantiles ----------------------------------------------------------------------------------------


def test_gaussian_quantiles_are_scipys():
    raw = random_raw(2)
    expected = scipy_gaussian(raw[..., None, :]).ppf(np.array(LEVELS))
    np.testing.assert_allclose(GaussianOutput().quantiles(raw, LEVELS, None).numpy(), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("df", [2.0, 2.01, 3.0, 7.5, 40.0, 900.0, 1500.0, 1e6])
def test_student_t_quantiles_are_scipys(df):
    raw = random_raw(3)
    raw[..., 0] = -60.0 if df == 2.0 else inverse_softplus(df - 2)  # softplus(-60) ≈ 1e-26: df is 2
    expected = scipy_student_t(raw[..., None, :]).ppf(np.array(LEVELS))
    np.testing.assert_allclose(StudentTOutput().quantiles(raw, LEVELS, None).numpy(), expected, rtol=0, atol=1e-6)


def test_student_t_quantiles_are_scipys_for_mixed_df_and_float32():
    raw = random_raw(3, spread=4.0, shape=(16, 8))
    expected = scipy_student_t(raw[..., None, :]).ppf(np.array(LEVELS))
    np.testing.assert_allclose(StudentTOutput().quantiles(raw, LEVELS, None).numpy(), expected, rtol=0, atol=1e-6)
    low = StudentTOutput().quantiles(raw.float(), LEVELS, None)
    assert low.dtype == torch.float32
    np.testing.assert_allclose(low.numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("low, high", [(0.5, 40.0), (500.0, 20000.0)])
def test_negative_binomial_quantiles_are_scipys_discrete_ones(low, high):
    raw, level = random_raw(2), level_of(4, low=low, high=high)
    quantiles = NegativeBinomialOutput().quantiles(raw, LEVELS, level)
    counts = (level[..., None] * (1 + quantiles)).numpy()  # (B, h, Q), back in counts
    expected = scipy_negative_binomial(raw[..., None, :], level[..., None]).ppf(np.array(LEVELS))
    np.testing.assert_allclose(counts, expected, rtol=0, atol=1e-6 * high)


@pytest.mark.parametrize("name", ["gaussian", "student_t", "negative_binomial"])
def test_quantiles_rise_with_the_level_and_the_point_is_the_median(name):
    output, level = make_output(name, DEFAULT_QUANTILES), level_of(4)
    raw = random_raw(output.outputs, seed=3)
    quantiles = output.quantiles(raw, LEVELS, level)
    assert quantiles.shape == (4, 6, len(LEVELS))
    assert (quantiles.diff(dim=-1) >= 0).all()
    torch.testing.assert_close(output.point(raw, level), output.quantiles(raw, (0.5,), level)[..., 0])


def test_quantiles_check_their_levels():
    with pytest.raises(ValueError, match="levels"):
        GaussianOutput().quantiles(random_raw(2), (0.9, 0.1), None)


# --- samples -----------------------------------------------------------------------------------------


def one_step(values):
    return torch.tensor(values, dtype=torch.float64).reshape(1, 1, -1)


def draw(output, raw, level=None, n=200_000):
    samples = output.sample(raw, n, torch.Generator().manual_seed(0), level)
    assert samples.shape == (n, *raw.shape[:-1])
    return samples[:, 0, 0]


def test_gaussian_samples_have_its_mean_and_spread():
    samples = draw(GaussianOutput(), one_step([0.4, inverse_softplus(0.8)]))
    assert samples.mean().item() == pytest.approx(0.4, abs=0.01)
    assert samples.std().item() == pytest.approx(0.8, rel=0.01)


def test_student_t_samples_have_its_mean_and_spread():
    df, scale = 6.0, 0.5  # variance σ² ν / (ν − 2)
    samples = draw(StudentTOutput(), one_step([inverse_softplus(df - 2), -0.2, inverse_softplus(scale)]))
    assert samples.mean().item() == pytest.approx(-0.2, abs=0.01)
    assert samples.std().item() == pytest.approx(scale * np.sqrt(df / (df - 2)), rel=0.02)


def test_negative_binomial_samples_are_counts_with_its_mean_and_spread():
    level = torch.tensor([[8.0]], dtype=torch.float64)
    raw = one_step([inverse_softplus(1.5), inverse_softplus(0.6)])
    counts = level[0, 0] * (1 + draw(NegativeBinomialOutput(), raw, level))
    mean, alpha = nb_parameters(raw, level)
    assert torch.allclose(counts, counts.round(), atol=1e-9)
    assert counts.mean().item() == pytest.approx(mean.item(), rel=0.01)
    assert counts.var().item() == pytest.approx((mean + alpha * mean**2).item(), rel=0.03)


# --- training ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gaussian", "student_t", "negative_binomial"])
def test_the_loss_has_finite_gradients(name):
    output, level = make_output(name, DEFAULT_QUANTILES), level_of(4).float()
    raw = (random_raw(output.outputs) * 5).float().requires_grad_()
    z = (random_raw(1, seed=9)[..., 0].float().abs() * 2).round() / level - 1  # counts for the NB, any z else
    output.loss(raw, z, level).backward()
    assert raw.grad is not None and torch.isfinite(raw.grad).all()


def test_fitting_a_gaussian_by_its_likelihood_recovers_the_parameters():
    torch.manual_seed(0)
    z = (0.3 + 0.7 * torch.randn(5000, 1, generator=torch.Generator().manual_seed(1)))  # (B, h) with h = 1
    raw = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.Adam([raw], lr=0.05)
    output = GaussianOutput()
    for _ in range(400):
        optimizer.zero_grad()
        output.loss(raw.expand(5000, 1, 2), z, None).backward()
        optimizer.step()
    d = output.distribution(raw.detach())
    assert d.loc.item() == pytest.approx(0.3, abs=0.02)
    assert d.scale.item() == pytest.approx(0.7, abs=0.02)


def test_make_output_builds_each_output_by_name():
    assert set(OUTPUTS) == {"quantile", "gaussian", "student_t", "negative_binomial"}
    quantile = make_output("quantile", (0.1, 0.5, 0.9))
    assert isinstance(quantile, QuantileOutput) and quantile.levels == (0.1, 0.5, 0.9) and quantile.outputs == 3
    for name, outputs in (("gaussian", 2), ("student_t", 3), ("negative_binomial", 2)):
        output = make_output(name, (0.1, 0.5, 0.9))
        assert isinstance(output, OUTPUTS[name]) and output.name == name and output.outputs == outputs


def test_make_output_names_the_likelihood_it_does_not_know():
    with pytest.raises(ValueError, match=r"likelihood must be one of .*received 'poisson'"):
        make_output("poisson", DEFAULT_QUANTILES)


# --- the quantile head (outputs.py) ---------------------------------------------------------------------


def test_quantile_output_never_crosses():
    raw = random_raw(7, shape=(32, 5), spread=10.0)
    quantiles = QuantileOutput().quantiles(raw, DEFAULT_QUANTILES, None)
    assert (quantiles.diff(dim=-1) >= 0).all()


def test_quantile_output_at_its_own_levels_is_monotone_quantiles():
    output, raw = QuantileOutput(), random_raw(7)
    torch.testing.assert_close(output.quantiles(raw, DEFAULT_QUANTILES, None), monotone_quantiles(raw, 3))
    torch.testing.assert_close(output.point(raw, None), raw[..., 3])


def test_quantile_output_interpolates_between_its_levels():
    output, raw = QuantileOutput(), random_raw(7)
    own = monotone_quantiles(raw, 3)
    between = output.quantiles(raw, (0.075, 0.3, 0.6, 0.925), None)  # neighbours (0.05, 0.1), (0.25, 0.5), ...
    for column, (low, high) in enumerate([(0, 1), (2, 3), (3, 4), (5, 6)]):
        assert (between[..., column] >= own[..., low]).all() and (between[..., column] <= own[..., high]).all()
    torch.testing.assert_close(between[..., 0], (own[..., 0] + own[..., 1]) / 2)  # 0.075 is halfway


def test_quantile_output_samples_follow_its_quantile_function():
    output, raw = QuantileOutput(), random_raw(7, shape=(2, 3))
    samples = output.sample(raw, 100_000, torch.Generator().manual_seed(0), None)  # (n, B, h)
    own = monotone_quantiles(raw, 3)
    at = torch.tensor([0.07, 0.2, 0.4, 0.5, 0.65, 0.85, 0.93], dtype=torch.float64)
    expected = interpolate(torch.tensor(DEFAULT_QUANTILES, dtype=torch.float64), own, at.expand(2, 3, len(at)))
    # compared in probability: the share of draws below each interpolated quantile is its level
    # (the standard error is √(τ(1 − τ)/n) ≤ 0.0016)
    share = (samples[..., None] <= expected).double().mean(dim=0)  # (B, h, M)
    torch.testing.assert_close(share, at.expand_as(share), rtol=0, atol=0.006)
    # the quantile function is held flat beyond the end levels: no draw lies outside them
    assert ((samples >= own[..., 0]) & (samples <= own[..., -1])).all()
