"""Parametric outputs: the network predicts a distribution's parameters and trains on its likelihood.

Each keeps the interface of `rnnlab.tasks.forecast.outputs` (raw (B, h, K), z (B, h), level (B, 1)),
with s⁺ = softplus and z in window units (z = log(y / level) or y / level − 1):

    gaussian            z ~ Normal(μ, σ)               μ = raw₀, σ = s⁺(raw₁) + ε
    student_t           z ~ StudentT(ν, μ, σ)          ν = 2 + s⁺(raw₀), μ = raw₁, σ = s⁺(raw₂) + ε
    negative_binomial   y = level (1 + z) ~ NB(m, α)   m = level s⁺(raw₀) + ε, α = s⁺(raw₁) / √level + ε

The negative binomial (DeepAR, Salinas et al. 2020) has mean m and variance m + α m², so it needs
the linear transform and counts y; α shrinks with √level so that one raw value fits series of any
scale. In torch's parameterisation it is NegativeBinomial(total_count = 1/α, probs = αm / (1 + αm)),
whose mean total_count · probs / (1 − probs) is m.

The loss is the mean negative log-likelihood; `point` is the median. Student-t quantiles solve
P(T > t) = ½ I_{ν/(ν+t²)}(ν/2, ½) by safeguarded Newton steps (torch has neither the t's icdf nor
the incomplete beta I), and the negative binomial's are the smallest count whose CDF reaches τ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.distributions import NegativeBinomial, Normal, StudentT
from torch.nn import functional as F

from rnnlab.tasks.forecast.outputs import QuantileOutput, check_levels

EPS = 1e-6          # floor on every scale-like parameter, so a saturated softplus never gives 0
LARGE_DF = 1000.0   # above this the Cornish-Fisher expansion alone is exact to ~1e-12
COUNT_CHUNK = 1024  # counts summed per step of the negative binomial's quantile search


def _at(levels: Sequence[float], like: Tensor) -> Tensor:
    """The levels τ as a (Q,) float64 tensor on `like`'s device, checked."""
    return torch.tensor(check_levels(levels, "levels"), dtype=torch.float64, device=like.device)


class GaussianOutput:
    """z ~ Normal(μ = raw₀, σ = softplus(raw₁) + ε); K = 2."""

    name = "gaussian"
    outputs = 2

    def distribution(self, raw: Tensor) -> Normal:
        return Normal(raw[..., 0], F.softplus(raw[..., 1]) + EPS)

    def loss(self, raw: Tensor, z: Tensor, level: Tensor | None) -> Tensor:
        return -self.distribution(raw).log_prob(z).mean()

    def quantiles(self, raw: Tensor, levels: Sequence[float], level: Tensor | None) -> Tensor:
        d = self.distribution(raw)
        return d.loc[..., None] + d.scale[..., None] * torch.special.ndtri(_at(levels, raw)).to(raw.dtype)  # (B, h, Q)

    def sample(self, raw: Tensor, n: int, generator: torch.Generator | None, level: Tensor | None) -> Tensor:
        d = self.distribution(raw)
        noise = torch.randn((n, *d.loc.shape), generator=generator, dtype=raw.dtype, device=raw.device)
        return d.loc + d.scale * noise  # (n, B, h)

    def point(self, raw: Tensor, level: Tensor | None) -> Tensor:
        return raw[..., 0]


def _nonzero(x: Tensor, tiny: float = 1e-300) -> Tensor:
    return torch.where(x.abs() < tiny, torch.full_like(x, tiny), x)


def _betainc(a: Tensor, b: Tensor, x: Tensor, y: Tensor, iterations: int = 1000) -> Tensor:
    """The regularized incomplete beta I_x(a, b) in float64 by Lentz's continued fraction; y = 1 − x is
    passed separately so that neither loses digits."""
    # the fraction converges quickly below x = (a + 1) / (a + b + 2); above it use I_x(a, b) = 1 − I_y(b, a)
    swap = x > (a + 1) / (a + b + 2)
    a, b, x, y = torch.where(swap, b, a), torch.where(swap, a, b), torch.where(swap, y, x), torch.where(swap, x, y)
    log_beta = torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)
    front = torch.exp(torch.xlogy(a, x) + torch.xlogy(b, y) - log_beta) / a
    c, d = torch.ones_like(x), 1 / _nonzero(1 - (a + b) * x / (a + 1))
    fraction = d
    for m in range(1, iterations + 1):
        even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        for numerator in (even, odd):
            d, c = 1 / _nonzero(1 + numerator * d), _nonzero(1 + numerator / c)
            fraction = fraction * c * d
        if bool(((c * d - 1).abs() < 1e-15).all()):
            break
    value = front * fraction
    return torch.where(swap, 1 - value, value)


def _t_tail(t: Tensor, df: Tensor) -> Tensor:
    """P(T > t) for t ≥ 0 and T a standard Student-t with df degrees of freedom."""
    return 0.5 * _betainc(df / 2, torch.full_like(df, 0.5), df / (df + t * t), t * t / (df + t * t))


def _t_pdf(t: Tensor, df: Tensor) -> Tensor:
    return torch.exp(torch.lgamma((df + 1) / 2) - torch.lgamma(df / 2) - 0.5 * torch.log(math.pi * df)
                     - (df + 1) / 2 * torch.log1p(t * t / df))


def _t_quantile(p: Tensor, df: Tensor, iterations: int = 100) -> Tensor:
    """The standard Student-t's quantile at p (float64, df ≥ 2, broadcast together)."""
    p, df = torch.broadcast_tensors(p, df)
    s = torch.minimum(p, 1 - p)  # solve P(T > t) = s for t ≥ 0, then restore the sign (the t is symmetric)
    z = -torch.special.ndtri(s)
    # Cornish-Fisher (Abramowitz & Stegun 26.7.5): the first guess, and the answer for large df
    guess = z + ((z**3 + z) / 4 + ((5 * z**5 + 16 * z**3 + 3 * z) / 96 + ((3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z)
             / 384 + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160 / df) / df) / df) / df
    # t quantiles shrink as df grows, from t₂'s closed form down to the normal's: a bracket for the root
    low, high = z, (1 - 2 * s) / torch.sqrt(2 * s * (1 - s)) * (1 + 1e-9)
    nu = df.clamp(max=LARGE_DF)
    t = torch.maximum(torch.minimum(guess, high), low)
    for _ in range(iterations):
        excess = _t_tail(t, nu) - s  # > 0: t is left of the root (the tail falls as t grows)
        low, high = torch.where(excess > 0, t, low), torch.where(excess > 0, high, t)
        newton = t + excess / _t_pdf(t, nu)
        step = torch.where((newton >= low) & (newton <= high), newton, (low + high) / 2)
        done = bool(((step - t).abs() <= 1e-13 * (1 + t.abs())).all())
        t = step
        if done:
            break
    return torch.sign(p - 0.5) * torch.where(df > LARGE_DF, guess, t)


class StudentTOutput:
    """z ~ StudentT(ν = 2 + softplus(raw₀), μ = raw₁, σ = softplus(raw₂) + ε); K = 3.

    Quantiles are differentiable in μ and σ, not in ν (its standard quantile is solved numerically)."""

    name = "student_t"
    outputs = 3

    def distribution(self, raw: Tensor) -> StudentT:
        return StudentT(2 + F.softplus(raw[..., 0]), raw[..., 1], F.softplus(raw[..., 2]) + EPS)

    def loss(self, raw: Tensor, z: Tensor, level: Tensor | None) -> Tensor:
        return -self.distribution(raw).log_prob(z).mean()

    def quantiles(self, raw: Tensor, levels: Sequence[float], level: Tensor | None) -> Tensor:
        d = self.distribution(raw)
        with torch.no_grad():
            t = _t_quantile(_at(levels, raw), d.df.detach().double()[..., None]).to(raw.dtype)  # (B, h, Q)
        return d.loc[..., None] + d.scale[..., None] * t

    def sample(self, raw: Tensor, n: int, generator: torch.Generator | None, level: Tensor | None) -> Tensor:
        d = self.distribution(raw)
        shape = (n, *d.loc.shape)
        # T = Z / √(V / ν) with V ~ χ²_ν = 2 Gamma(ν / 2); torch.distributions' samplers take no generator
        normal = torch.randn(shape, generator=generator, dtype=raw.dtype, device=raw.device)
        gamma = torch._standard_gamma((d.df / 2).expand(shape).contiguous(), generator=generator)
        return d.loc + d.scale * normal * torch.sqrt(d.df / (2 * gamma))  # (n, B, h)

    def point(self, raw: Tensor, level: Tensor | None) -> Tensor:
        return raw[..., 1]


class NegativeBinomialOutput:
    """y = level · (1 + z) ~ NB(mean m = level · softplus(raw₀) + ε, α = softplus(raw₁) / √level + ε),
    variance m + α m²; K = 2. Needs the linear transform and `level`."""

    name = "negative_binomial"
    outputs = 2

    def distribution(self, raw: Tensor, level: Tensor | None) -> NegativeBinomial:
        if level is None:
            raise ValueError("level must be the (B, 1) window levels for the negative binomial; received None")
        mean = level * F.softplus(raw[..., 0]) + EPS
        alpha = F.softplus(raw[..., 1]) / torch.sqrt(level) + EPS
        # probs = αm / (1 + αm) is logits = log(αm); validate_args=False accepts unrounded y
        return NegativeBinomial(total_count=1 / alpha, logits=torch.log(alpha * mean), validate_args=False)

    def loss(self, raw: Tensor, z: Tensor, level: Tensor | None) -> Tensor:
        d = self.distribution(raw, level)
        return -d.log_prob(level * (1 + z)).mean()

    def quantiles(self, raw: Tensor, levels: Sequence[float], level: Tensor | None) -> Tensor:
        d = self.distribution(raw, level)
        at = _at(levels, raw)
        with torch.no_grad():
            count = d.total_count.detach().double()[..., None]  # (B, h, 1)
            logits = d.logits.detach().double()[..., None]
            mean, variance = d.mean.detach().double(), d.variance.detach().double()
            # the search runs from m − 20 sd (nothing below carries weight) until every level is reached
            start = torch.floor((mean - 20 * variance.sqrt()).clamp(min=0))
            width = int((torch.ceil(mean + 20 * variance.sqrt()) - start).max()) + 1
            counts = torch.ceil(mean + 20 * variance.sqrt())[..., None].expand(*mean.shape, len(at)).clone()
            reached = torch.zeros_like(counts, dtype=torch.bool)
            below = torch.zeros_like(mean)  # the CDF before the chunk
            for offset in range(0, width, COUNT_CHUNK):
                k = start[..., None] + offset + torch.arange(COUNT_CHUNK, dtype=torch.float64, device=raw.device)
                log_pmf = (count * F.logsigmoid(-logits) + k * F.logsigmoid(logits)
                           + torch.lgamma(count + k) - torch.lgamma(k + 1) - torch.lgamma(count))
                cdf = below[..., None] + torch.cumsum(log_pmf.exp(), dim=-1)  # (B, h, C), non-decreasing
                index = torch.searchsorted(cdf, at.expand(*mean.shape, len(at)).contiguous())
                hit = (index < COUNT_CHUNK) & ~reached
                counts = torch.where(hit, start[..., None] + offset + index, counts)
                reached, below = reached | hit, cdf[..., -1]
                if bool(reached.all()):
                    break
        return (counts / level[..., None] - 1).to(raw.dtype)  # (B, h, Q)

    def sample(self, raw: Tensor, n: int, generator: torch.Generator | None, level: Tensor | None) -> Tensor:
        d = self.distribution(raw, level)
        shape = (n, *d.logits.shape)
        # the Gamma-Poisson mixture: λ ~ Gamma(1/α, scale αm), y ~ Poisson(λ)
        gamma = torch._standard_gamma(d.total_count.expand(shape).contiguous(), generator=generator)
        counts = torch.poisson(gamma * d.logits.exp(), generator=generator)
        return (counts / level - 1).to(raw.dtype)  # (n, B, h)

    def point(self, raw: Tensor, level: Tensor | None) -> Tensor:
        return self.quantiles(raw, (0.5,), level)[..., 0]


OUTPUTS = {"quantile": QuantileOutput, "gaussian": GaussianOutput, "student_t": StudentTOutput,
           "negative_binomial": NegativeBinomialOutput}


def make_output(likelihood: str, quantiles: Sequence[float]):
    """The output named `likelihood`; `quantiles` are the levels of a "quantile" output (the others ignore them)."""
    if likelihood not in OUTPUTS:
        raise ValueError(f"likelihood must be one of {', '.join(map(repr, OUTPUTS))}; received {likelihood!r}")
    return QuantileOutput(quantiles) if likelihood == "quantile" else OUTPUTS[likelihood]()
