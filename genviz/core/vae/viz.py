"""What the VAE panel draws, as plain numpy: latent scatter, reconstructions, samples, IWAE curve, density.

Keys returned by `visualize_images` (n = held-out points, z = latent size):
  latent (n, 2) encoder means projected on `proj_basis` (2, z) around `proj_mean` (z,); latent_labels (n,)
  prior_means (k, 2) projected prior components, prior_weights (k,)
  unit_var (z,) Cov_x(E_q[z|x]) per latent unit over those points (> 0.01: an active unit, Burda et al.)
  recon_in / recon_out (8, 28, 28); samples (16, 28, 28) decoded prior draws (fixed noise)
  iwae_m, iwae_mean, iwae_std (4,) the negative IWAE bound vs m (view['iwae_ms'], default 1..1000) on two
    images, mean and std over 3 repeats (refreshed every 10th call: m = 1000 is the costly part)
  param/<name> every weight, so the GUI can decode a clicked latent point and run labs without a round trip;
    decoder_classes (float) how many one-hot class inputs the decoder takes after z (0, or 10 for the SSVAE),
    decoder_gaussian (float) 1 when the decoder outputs [mean | raw variance] (2D data), 0 for Bernoulli logits,
    decoder_autoregressive (float) 1 when x_i's parameters also take x_<i ('param/ar.*', ar_decoder.py),
    kl_weight (float) the β of the training loss Rec + β·KL now, kl_weight_live (float) 1 when the model trains on it.
"""
from __future__ import annotations

import numpy as np
import torch

from genviz.core.model import density_on_grid, held_out_batch
from genviz.core.vae import nets

N_LATENT = 1000  # held-out points in the latent scatter
IWAE_MS = (1, 10, 100, 1000)
IWAE_EVERY = 10  # recompute the IWAE curve on every 10th snapshot (it costs ~0.1 s)


def fixed_val(data, n: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """The first n validation examples, binarized with a fixed seed when the data is binarized, in `dtype`
    (model.held_out_batch: drawn once per data set; never modify it)."""
    return held_out_batch(data, n, dtype)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()


def latent_view(model, x: torch.Tensor, labels) -> dict:
    """Encoder means of x projected to 2D (PCA when z > 2), with the prior components in the same plane."""
    m = model.latent_means(x) if hasattr(model, "latent_means") else model.encode(x)[0]
    mean, basis = nets.pca_basis(m)
    pm, pw = model.prior_components()
    out = {"latent": _np((m - mean) @ basis.T), "proj_mean": _np(mean), "proj_basis": _np(basis),
           "prior_means": _np((pm - mean) @ basis.T), "prior_weights": _np(pw),
           "unit_var": _np(m.var(0, correction=0))}
    if labels is not None:
        out["latent_labels"] = labels[:len(x)].cpu().numpy().astype(np.int64)
    return out


def iwae_curve(model, x: torch.Tensor, ms=IWAE_MS, repeats: int = 3, generator=None) -> dict:
    """Negative IWAE bound for each m in ms, mean and std over `repeats` independent estimates."""
    vals = np.array([[float(model.niwae(x, m, generator)) for _ in range(repeats)] for m in ms])
    return {"iwae_m": np.asarray(ms, np.float64), "iwae_mean": vals.mean(1), "iwae_std": vals.std(1)}


def decoder_arrays(model) -> dict:
    """What a reader of the 'param/dec.*' weights needs to run the decoder (plain floats)."""
    return {"decoder_classes": float(model.dec_in() - model.z_dim),
            "decoder_gaussian": float(model.likelihood == "gaussian"),
            "decoder_autoregressive": float(getattr(model, "ar", None) is not None),
            "kl_weight": float(getattr(model.cfg, "beta", 1.0)),  # the β in use (live: it may change mid-run)
            "kl_weight_live": float(getattr(model, "trains_on_beta", lambda: False)())}


def visualize_images(model, data, view: dict) -> dict:
    x = fixed_val(data, N_LATENT, model.dtype)
    out = latent_view(model, x, data.labels.get("val"))
    side = data.shape[-1]
    recon = model.reconstruct(x[:8]) if hasattr(model, "reconstruct") else \
        model.mean_image(model.decode(model.encode(x[:8])[0]))
    out["recon_in"] = _np(x[:8]).reshape(-1, side, side)
    out["recon_out"] = _np(recon).reshape(-1, side, side)
    out["samples"] = _np(model.sample_means(16, model.fixed_generator(0))).reshape(-1, side, side)
    if model._viz_calls % IWAE_EVERY == 1 or not model._iwae_cache:  # fresh noise per refresh, own stream
        model._iwae_cache = iwae_curve(model, x[:2], tuple(view.get("iwae_ms", IWAE_MS)),
                                       generator=model.fixed_generator(model._viz_calls))
    out.update(model._iwae_cache)
    out.update(nets.export_params(model))
    out.update(decoder_arrays(model))
    return out


def visualize_2d(model, data, view: dict) -> dict:
    """2D data: IW density on the view's grid, samples, and the latent codes of training points."""
    bbox, res = view["bbox"], int(view.get("res", 96))
    g = model.fixed_generator(0)  # the same importance samples at every snapshot: a steady picture
    out = {"log_density": density_on_grid(lambda p: model.log_prob(p, k=32, generator=g), bbox, res, model.device,
                                          dtype=model.dtype),
           "samples": _np(model.sample(int(view.get("n_samples", 1000)), model.fixed_generator(0)))}
    x = data.train[:N_LATENT].to(model.dtype)
    out.update(latent_view(model, x, None))
    out.update(nets.export_params(model))
    out.update(decoder_arrays(model))
    return out
