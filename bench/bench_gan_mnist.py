"""Sample quality on MNIST in a genviz-trained digit classifier's terms: GAN vs BiGAN (vs VAE).

Trains (or loads from --cache) the classifier of genviz.core.classifier, then trains each model with its
registry defaults (steps from --steps) and scores 5,000 samples: Inception-style score (10 is the maximum),
the class histogram (all 10 digits present?) and the Fréchet distance in the classifier's 128-d feature
space against the 10,000 test images. The first row scores real validation images: the floor for FID.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_gan_mnist.py            # minutes
    .venv/bin/python bench/bench_gan_mnist.py --quick                                  # smoke run
"""
from __future__ import annotations

import argparse
import tempfile
import time

import torch

from genviz.core import classifier, images, registry


def train_model(name: str, data, steps: int, seed: int = 0):
    """Train through fetch_batch / train_step, as a Session does, without snapshots."""
    train = registry.train_config(name, {"steps": steps, "seed": seed}, kind=data.kind)  # a GAN's digit recipe
    torch.manual_seed(seed)
    model = registry.build(name, data_shape=data.shape)
    opts = model.configure_optimizers(train)
    gen = torch.Generator().manual_seed(seed + 1)
    t0 = time.perf_counter()
    for _ in range(train.steps):
        model.train_step(model.fetch_batch(data, train.batch_size, gen), opts, train)
    return model.eval(), time.perf_counter() - t0


@torch.no_grad()
def draw(model, n: int) -> torch.Tensor:
    """n samples in [0, 1]; VAEs give their mean images E[x|z] (Bernoulli draws are salt-and-pepper)."""
    g = torch.Generator().manual_seed(7)
    x = model.sample_means(n, generator=g) if hasattr(model, "sample_means") else model.sample(n, generator=g)
    return x.float().clamp(0, 1)


def row(label: str, s: dict, steps="", secs="") -> str:
    hist = " ".join(f"{100 * h:4.1f}" for h in s["class_hist"])
    return f"{label:<14} {steps:>6} {s['is']:>6.2f} {s['fid']:>8.2f} {s['classes_present']:>3}/10  {hist}  {secs}"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000, help="training steps per model")
    ap.add_argument("--models", default="dcgan,bigan,vae")
    ap.add_argument("--cache", default="runs/mnist_classifier", help="folder that caches the classifier")
    ap.add_argument("--n", type=int, default=5000, help="samples scored per model")
    ap.add_argument("--clf-steps", type=int, default=0, help="classifier training steps (0 = 500; cached)")
    ap.add_argument("--quick", action="store_true", help="50 steps, 500 samples, a throwaway classifier")
    a = ap.parse_args(argv)
    clf_steps = 500
    if a.quick:
        a.steps, a.n, clf_steps, a.cache = 50, 500, 100, tempfile.mkdtemp(prefix="genviz-clf-")
    clf_steps = a.clf_steps or clf_steps
    torch.set_num_threads(1)
    grey = images.load_images("mnist", binarize=False)  # GANs and the classifier see grey levels
    t0 = time.perf_counter()
    clf = classifier.get_classifier(a.cache, grey, steps=clf_steps)
    acc = classifier.accuracy(clf, grey.test, grey.labels["test"])
    print(f"classifier: test accuracy {100 * acc:.2f} % ({time.perf_counter() - t0:.0f} s, cache {a.cache})")
    ref = grey.test
    print(f"{'model':<14} {'steps':>6} {'IS':>6} {'FID':>8} {'cls':>6}  class histogram % (digits 0..9)")
    print(row("real (val)", classifier.scores(clf, grey.val[:a.n], ref)), flush=True)
    for name in a.models.split(","):
        if name not in registry.names():
            print(f"{name:<14} not in the registry; skipped")
            continue
        data = images.load_images("mnist") if registry.get(name).family == "vae" else grey  # VAEs: binarized
        model, secs = train_model(name, data, a.steps)
        print(row(name, classifier.scores(clf, draw(model, a.n), ref), a.steps, f"{secs:.0f} s"), flush=True)


if __name__ == "__main__":
    main()
