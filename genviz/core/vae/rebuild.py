"""Rebuild a VAE-family model from the plain arrays of a snapshot ('param/<name>' entries).

The GUI's labs run on a copy of the training model without touching the session: the config is read off
the weights' shapes, so no tensor or module ever crosses threads.
"""
from __future__ import annotations

import numpy as np
import torch

from genviz.core import registry
from genviz.core.vae.ssvae import N_CLASSES


def config_from_arrays(name: str, arrays: dict) -> dict:
    """The config fields that shape the weights: z_dim, hidden, depth (and k, likelihood)."""
    dec = sorted(int(k.split(".")[1]) for k in arrays if k.startswith("param/dec.") and k.endswith(".weight"))
    w0, wl = arrays["param/dec.0.weight"], arrays[f"param/dec.{dec[-1]}.weight"]
    z = w0.shape[1] - (N_CLASSES if name == "ssvae" else 0)
    cfg = {"z_dim": int(z), "hidden": int(w0.shape[0]), "depth": len(dec) - 1}
    if name == "gmvae":
        cfg["k"] = int(arrays["param/z_pre"].shape[1] // 2)
    enc_in = arrays["param/enc.0.weight"].shape[1] - (N_CLASSES if name == "ssvae" else 0)
    cfg["likelihood"] = "gaussian" if wl.shape[0] == 2 * enc_in else "bernoulli"
    if "param/ar.weight" in arrays:
        cfg["decoder"] = "autoregressive"
    return cfg


def model_from_arrays(name: str, data_shape: tuple, arrays: dict) -> torch.nn.Module:
    """A fresh registry model carrying the snapshot's weights, in eval mode.

    Built on the meta device, so no initial weights are drawn: this runs on a lab's thread while a session
    trains on torch's global random stream, and must neither advance nor read it. Every weight then comes
    from the snapshot (a strict load: a missing one raises).
    """
    with torch.device("meta"):
        model = registry.build(name, data_shape=tuple(data_shape), **config_from_arrays(name, arrays))
    model = model.to_empty(device="cpu")
    state = {k[len("param/"):]: torch.from_numpy(np.asarray(v)) for k, v in arrays.items() if k.startswith("param/")}
    model.load_state_dict(state)
    return model.eval()
