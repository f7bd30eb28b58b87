"""The discriminative correlation filter (ATOM-style, JCAT's spatial penalty): learning, memory and localisation.

Model: score = conv(Pᵀx, f) with x the DCF features, P a CxD projection and f a 1xDxkxk filter. Loss:
Σ_n w_n ‖mlu(conv(Pᵀx_n, f)) − y_n‖² + λ‖W ⊙ f‖² + μ‖P‖², minimised by Gauss-Newton with conjugate gradient
(P and f on the first frame, f alone afterwards). As published, there are as many scores as feature cells
(an even filter's extra last row and column are dropped); score index o of a kxk filter sits at crop pixel
(o + offset) * stride with offset = (k − 1)/2 − k//2 + 1/2 (0 for the default k = 4); the upsampled score has
one entry per crop pixel, entry p at crop coordinate p.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from jcat_core.tracker.params import TrackerParams

Tensors = tuple[torch.Tensor, ...]


def mlu(x: torch.Tensor, slope: float) -> torch.Tensor:
    """ATOM's activation: a steep leaky ReLU squashed by an ELU, bounded below by -slope."""
    return F.elu(F.leaky_relu(x, 1 / slope), slope)


def hann2d(size: int, device: torch.device | None = None) -> torch.Tensor:
    """Separable Hann window over size x size score entries (0 at entry 0, 1 at entry size/2 = the crop centre)."""
    window = 0.5 - 0.5 * torch.cos(2 * math.pi * torch.arange(size, device=device) / size)
    return window[:, None] * window[None, :]


def gaussian_labels(centres: torch.Tensor | tuple[float, float], size: tuple[int, int], sigma: float,
                    device: torch.device | None = None) -> torch.Tensor:
    """Nx2 (y, x) centres in score cells -> NxHxW Gaussians of standard deviation ``sigma`` cells.

    One centre may be given as host floats (y, x), which needs no host-to-device copy."""
    if isinstance(centres, torch.Tensor):
        device, cy, cx = centres.device, centres[:, 0:1], centres[:, 1:2]
    else:
        cy, cx = centres
    ys = torch.arange(size[0], device=device, dtype=torch.float32)
    xs = torch.arange(size[1], device=device, dtype=torch.float32)
    gy = torch.exp(-0.5 * ((ys - cy) / sigma) ** 2).view(-1, size[0])
    gx = torch.exp(-0.5 * ((xs - cx) / sigma) ** 2).view(-1, size[1])
    return gy[:, :, None] * gx[:, None, :]


def fourier_upsample(score: torch.Tensor, factor: float, out_size: int, shift: int = 0) -> torch.Tensor:
    """Band-limited (periodic) interpolation of an MxM map by ``factor``, rolled by ``shift`` pixels and cut to
    out_size x out_size: entry p of the result is the score at fractional index (p - shift) / factor."""
    m = score.shape[-1]
    n = max(round(m * factor), out_size)
    spectrum = torch.fft.fftshift(torch.fft.fft2(score), dim=(-2, -1))
    padded = spectrum.new_zeros((*score.shape[:-2], n, n))
    start = n // 2 - m // 2
    padded[..., start:start + m, start:start + m] = spectrum  # an even m's Nyquist term on one side: the real part
    # below equals splitting it between -m/2 and +m/2, so even-sized maps interpolate exactly too
    upsampled = torch.fft.ifft2(torch.fft.ifftshift(padded, dim=(-2, -1))).real * (n * n) / (m * m)
    if shift:
        upsampled = torch.roll(upsampled, shifts=(shift, shift), dims=(-2, -1))
    return upsampled[..., :out_size, :out_size]


def rms_normalise(features: torch.Tensor) -> torch.Tensor:
    """Each sample's NxCxHxW feature map divided by its root mean square over channels and positions (the
    published DCF features' ``normalize_power=2``)."""
    return features / torch.sqrt(features.pow(2).mean(dim=(1, 2, 3), keepdim=True) + 1e-10)


def conjugate_gradient(apply: Callable[[Tensors], Tensors], b: Tensors, iterations: int,
                       preconditioner: Tensors | None = None) -> Tensors:
    """Solve A x = b from x = 0 for a symmetric positive semi-definite operator A over tuples of tensors, as the
    published optimiser does: Polak-Ribière directions (beta clamped at 0), optionally preconditioned by a diagonal
    (each tensor of ``preconditioner`` divides the residual elementwise)."""
    def dot(a: Tensors, c: Tensors) -> torch.Tensor:
        return sum((ai * ci).sum() for ai, ci in zip(a, c, strict=True))  # type: ignore[return-value]

    def precondition(r: Tensors) -> Tensors:
        return r if preconditioner is None else tuple(ri / mi for ri, mi in zip(r, preconditioner, strict=True))

    x = tuple(torch.zeros_like(t) for t in b)
    r = b
    p: Tensors | None = None
    rho = r_prev = None
    for _ in range(iterations):
        z = precondition(r)
        rho_new = dot(r, z)
        if p is None:
            p = z
        else:
            beta = ((rho_new - dot(r_prev, z)) / rho.clamp_min(1e-20)).clamp_min(0)  # type: ignore[union-attr]
            p = tuple(zi + beta * pi for zi, pi in zip(z, p, strict=True))
        rho = rho_new
        q = apply(p)
        alpha = rho / dot(p, q).clamp_min(1e-20)
        x = tuple(xi + alpha * pi for xi, pi in zip(x, p, strict=True))
        r_prev = r
        r = tuple(ri - alpha * qi for ri, qi in zip(r, q, strict=True))
    return x


def gauss_newton_step(residuals: Callable[..., Tensors], primals: Tensors, cg_iterations: int,
                      preconditioner: Tensors | None = None) -> Tensors:
    """One Gauss-Newton step: solve (JᵀJ) d = −Jᵀr by (preconditioned) conjugate gradient, return primals + d."""
    r0, vjp = torch.func.vjp(residuals, *primals)
    b = tuple(-g for g in vjp(r0))

    def normal_operator(v: Tensors) -> Tensors:
        return vjp(torch.func.jvp(residuals, primals, v)[1])

    delta = conjugate_gradient(normal_operator, b, cg_iterations, preconditioner)
    return tuple(p + d for p, d in zip(primals, delta, strict=True))


@dataclass(frozen=True)
class Localization:
    """The DCF's verdict on one search crop (crop pixel coordinates)."""

    x: float
    y: float
    peak: float
    second_peak: float
    confidence: float  # c = max (max − min)² / mean((s − min)²)
    hard_negative: bool

    @classmethod
    def from_values(cls, values: np.ndarray, hard_negative_threshold: float) -> Localization:
        """From ``CorrelationFilter.localize``'s (x, y, peak, second peak, confidence), read back to the host.
        Hard negative as published: peak 2 above ``hard_negative_threshold`` x peak 1 and above -1 (the score
        floor below which a target counts as not found)."""
        x, y, peak, second, confidence = (float(v) for v in values)
        return cls(x, y, peak, second, confidence, second > hard_negative_threshold * peak and second > -1.0)


class CorrelationFilter:
    """Projection, filter, sample memory and the optimisation of the DCF (one target)."""

    def __init__(self, params: TrackerParams, device: torch.device) -> None:
        self.params = params
        self.device = device
        k = params.filter_size
        penalty = torch.tensor(params.spatial_penalty, dtype=torch.float32, device=device)
        self.spatial_weight = torch.outer(penalty, penalty).view(1, 1, k, k)
        self.offset = (k - 1) / 2 - k // 2 + 0.5
        self.projection = torch.empty(0)
        self.filter = torch.empty(0)
        self.samples = torch.empty(0)
        self.spectra = torch.empty(0)  # the samples' zero-padded spectra, positions x D x memory (see _spectra)
        self.labels = torch.empty(0)
        self.weights = torch.empty(0)
        self.count = 0
        self.last_slot: int | torch.Tensor | None = None  # where the previous online sample went
        self.samples_added = 0  # online samples learned since initialisation (for tests and diagnostics)

    # -- model --
    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Raw DCF features (NxCxhxw) -> RMS-normalised, projected samples (NxDxhxw)."""
        return torch.einsum("nchw,cd->ndhw", rms_normalise(features), self.projection)

    def _response(self, projected: torch.Tensor, filt: torch.Tensor) -> torch.Tensor:
        height, width = projected.shape[-2:]
        response = F.conv2d(projected, filt, padding=self.params.filter_size // 2)[:, 0]
        return response[:, :self.score_size(height), :self.score_size(width)]

    def score_size(self, feature_size: int) -> int:
        """The published 'same' convolution: as many scores as feature cells (an even filter's extra last row and
        column are dropped), periodic over the crop's side when upsampled."""
        return feature_size

    def label_centre(self, crop_x: float, crop_y: float, stride: float) -> tuple[float, float]:
        """Score-cell (y, x) of a crop pixel position."""
        return crop_y / stride - self.offset, crop_x / stride - self.offset

    # -- learning --
    def initialize(self, features: torch.Tensor, centres: torch.Tensor, sigma: float) -> None:
        """Learn P (PCA start) and f from the first frame's augmented samples (NxCxhxw raw features, centres Nx2
        cells). As published, this joint problem has no spatial penalty on f, and its conjugate gradient is
        preconditioned by the regularisation weights (f's part divided by λ, P's by μ)."""
        p = self.params
        features = rms_normalise(features)
        n, channels = features.shape[:2]
        flat = features.permute(0, 2, 3, 1).reshape(-1, channels)
        flat = flat - flat.mean(dim=0, keepdim=True)
        # the leading singular vectors of the covariance, as published (an eigensolver fails to converge on the
        # near-zero covariance of a uniform image)
        vectors = torch.linalg.svd(flat.T @ flat / flat.shape[0])[0]
        dim = min(p.projection_dim, channels)
        self.projection = vectors[:, :dim].contiguous()
        self.filter = torch.zeros(1, dim, p.filter_size, p.filter_size, device=self.device)
        labels = gaussian_labels(centres, (self.score_size(features.shape[-2]),) * 2, sigma)
        weights = torch.full((n,), 1.0 / n, device=self.device)

        def residuals(filt: torch.Tensor, proj: torch.Tensor) -> Tensors:
            projected = torch.einsum("nchw,cd->ndhw", features, proj)
            data = mlu(self._response(projected, filt), p.mlu_slope) - labels
            return (data * weights.sqrt().view(-1, 1, 1), math.sqrt(p.filter_regularization) * filt,
                    math.sqrt(p.projection_regularization) * proj)

        primals: Tensors = (self.filter, self.projection)
        diagonal = (torch.full_like(self.filter, p.filter_regularization),
                    torch.full_like(self.projection, p.projection_regularization))
        for _ in range(p.init_gauss_newton_iterations):
            primals = gauss_newton_step(residuals, primals, p.init_cg_iterations, diagonal)
        self.filter, self.projection = primals
        memory = p.sample_memory_size
        projected = torch.einsum("nchw,cd->ndhw", features, self.projection)
        self.samples = projected.new_zeros((memory, *projected.shape[1:]))
        spectra = self._spectra(projected)
        self.spectra = spectra.new_zeros((*spectra.shape[:2], memory))
        self.labels = labels.new_zeros((memory, *labels.shape[1:]))
        self.weights = weights.new_zeros(memory)
        self.samples[:n], self.spectra[..., :n], self.labels[:n], self.weights[:n] = projected, spectra, labels, weights
        self.count = n
        self.last_slot = None
        self.samples_added = 0

    def add_sample(self, projected: torch.Tensor, centre: tuple[float, float], sigma: float, rate: float) -> None:
        """Store one projected sample (1xDxhxw) with its label in the lowest-weight slot (an empty one while the
        memory fills). Weights as published: the first online sample gets ``rate`` after the others were divided
        by 1 - rate, each later one the previous one's weight / (1 - rate); then all are normalised.

        The slot is chosen on the device and the label built from host floats: learning reads nothing back and
        copies nothing to the device."""
        label = gaussian_labels(centre, self.labels.shape[-2:], sigma, self.device)
        spectrum = self._spectra(projected[:1])
        slot: int | torch.Tensor
        if self.count < self.weights.shape[0]:
            slot = self.count
            self.count += 1
        else:
            slot = torch.argmin(self.weights).view(1)
        if self.last_slot is None:
            self.weights /= 1 - rate
            new_weight: float | torch.Tensor = rate
        else:
            new_weight = self.weights[self.last_slot] / (1 - rate)
        if isinstance(slot, int):
            self.samples[slot], self.spectra[..., slot], self.labels[slot] = projected[0], spectrum[..., 0], label[0]
            self.weights[slot] = new_weight
        else:
            self.samples.index_copy_(0, slot, projected[:1])
            self.spectra.index_copy_(2, slot, spectrum)
            self.labels.index_copy_(0, slot, label)
            self.weights.index_copy_(0, slot, torch.as_tensor(new_weight, device=self.device).view(1))
        self.weights /= self.weights.sum()
        self.last_slot = slot
        self.samples_added += 1

    def refine(self, cg_iterations: int) -> None:
        """Re-fit f (P fixed) on the memory: one Gauss-Newton linearisation, ``cg_iterations`` CG steps.

        The normal operator is written out, JᵀJ v = Cᵀ(m² ⊙ C v) + λ W² ⊙ v with C v = conv(x, v) over the memory
        and m = mlu'(s₀) √w_n. C and Cᵀ are batched products with the samples' spectra, kept since each sample
        was stored, so a CG step costs two batched vector-matrix products instead of two convolutions over the
        memory.
        """
        p = self.params
        labels, root_weights = self.labels[:self.count], self.weights[:self.count].sqrt().view(-1, 1, 1)
        spectra = self.spectra[..., :self.count]  # positions x D x N
        penalty = p.filter_regularization * self.spatial_weight[0]**2  # λ W², broadcast over the channels
        response = self._correlate(spectra, self.filter[0])  # NxHxW, = _response(samples, filter)
        activated, slope = torch.func.jvp(lambda s: mlu(s, p.mlu_slope), (response,), (torch.ones_like(response),))
        gain = slope * root_weights  # m: the data residuals' derivative per score entry

        def normal_operator(v: Tensors) -> Tensors:
            return (self._correlate_transposed(spectra, gain**2 * self._correlate(spectra, v[0])) + penalty * v[0],)

        residual = root_weights * (activated - labels)  # √w_n (mlu(s₀) − y_n)
        gradient = self._correlate_transposed(spectra, gain * residual) + penalty * self.filter[0]  # Jᵀr
        (step,) = conjugate_gradient(normal_operator, (-gradient,), cg_iterations)
        self.filter = self.filter + step[None]

    # -- the memory's correlations in the Fourier domain --
    # ``_response`` reads sample entries -k//2 .. h - 1 + (k - 1 - k//2) around its h outputs, zero outside 0 .. h - 1.
    # Shifted by k//2 and wrapped at L = h + max(k//2, k - 1 - k//2), the wrapped reads all land on zeros, so the
    # cyclic correlation of size L equals the linear one on every output entry: the products are exact up to rounding.
    def _fft_size(self, height: int, width: int) -> tuple[int, int]:
        k = self.params.filter_size
        margin = max(k // 2, k - 1 - k // 2)
        return height + margin, width + margin

    def _spectra(self, projected: torch.Tensor) -> torch.Tensor:
        """NxDxhxw samples -> their spectra, positions x D x N: per frequency a DxN matrix whose rows are contiguous,
        the layout in which the batched complex products below ran fastest on the CPU (with contiguous, conjugated
        vectors: 3.5-4.1 ms a product against 5-7 ms for real products over [Re | Im] at the published sizes)."""
        pad = self.params.filter_size // 2
        size = self._fft_size(*projected.shape[-2:])
        spectra = torch.fft.rfft2(F.pad(projected, (pad, 0, pad, 0)), s=size)  # zeros up to L after the shift
        return spectra.flatten(2).permute(2, 1, 0).contiguous()

    def _correlate(self, spectra: torch.Tensor, filt: torch.Tensor) -> torch.Tensor:
        """C f: the NxHxW responses of the memory to a Dxkxk filter."""
        height, width = self.samples.shape[-2:]
        size = self._fft_size(height, width)
        g = torch.conj_physical(torch.fft.rfft2(filt, s=size).flatten(1).T.contiguous())  # positions x D
        product = torch.bmm(g[:, None], spectra)[:, 0].T  # (1 x D)(D x N) per position -> N x positions
        out = torch.fft.irfft2(product.reshape(-1, size[0], size[1] // 2 + 1), s=size)
        return out[:, :self.score_size(height), :self.score_size(width)]

    def _correlate_transposed(self, spectra: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Cᵀ r: the Dxkxk filter gradient of NxHxW score residuals."""
        size = self._fft_size(*self.samples.shape[-2:])
        h = torch.conj_physical(torch.fft.rfft2(scores, s=size).flatten(1).T.contiguous())  # positions x N
        product = torch.bmm(h[:, None], spectra.transpose(1, 2))[:, 0].T  # (1 x N)(N x D) -> D x positions
        out = torch.fft.irfft2(product.reshape(-1, size[0], size[1] // 2 + 1), s=size)  # D x positions -> D x k x k
        k = self.params.filter_size
        return out[:, :k, :k]

    # -- localisation --
    def localize(self, projected: torch.Tensor, sample_size: int, window: torch.Tensor,
                 target_size: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
        """Score a projected search crop: upsample to one value per crop pixel, apply the window, find peak 1,
        zero the target neighbourhood around it, find peak 2. Returns, on the device, (x, y, peak, second peak,
        confidence) for ``Localization.from_values``, and the score map."""
        raw = self._response(projected, self.filter)[0]
        stride = sample_size / projected.shape[-1]
        score = fourier_upsample(raw, stride, sample_size, round(self.offset * stride)) * window
        peak, index = score.flatten().max(dim=0)
        low = score.min()
        confidence = peak * (peak - low) ** 2 / ((score - low) ** 2).mean().clamp_min(1e-12)
        py, px = index // sample_size, index % sample_size
        grid = torch.arange(sample_size, device=score.device)
        # the published neighbourhood: rows round(py - h/2) .. round(py + h/2 + 1) - 1, likewise columns
        near_w = self.params.target_neighborhood_scale * target_size[0]
        near_h = self.params.target_neighborhood_scale * target_size[1]
        rows = (grid >= torch.round(py - near_h / 2)) & (grid < torch.round(py + near_h / 2 + 1))
        cols = (grid >= torch.round(px - near_w / 2)) & (grid < torch.round(px + near_w / 2 + 1))
        near = rows[:, None] & cols[None, :]
        second = torch.where(near, torch.zeros_like(score), score).max()
        return torch.stack([px.float(), py.float(), peak, second, confidence]), score
