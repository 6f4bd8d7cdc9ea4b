"""genviz's flows against the libraries people would use instead (zuko, normflows, nflows): training
steps/s, log_prob and sampling throughput at the same architecture on 2D data, one thread, one process.

Each repeat times every library on the same batches, interleaved (these machines are noisy), and the table
prints median genviz ÷ peer ratios with the #17 targets: training ≥ 1.5×, log_prob and sample ≥ 1.0×.
The peers are an optional extra: `pip install -e '.[bench]'`; a missing peer is skipped.

    python bench/bench_peers.py [--batches 256,1024] [--steps 200] [--repeats 5]
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import time

import torch

from genviz.core import data, registry

TARGET = {"train": 1.5, "log_prob": 1.0, "sample": 1.0}


def genviz_flow(kind: str):
    if kind == "realnvp":
        return registry.build("realnvp", data_dim=2, seed=0, n_layers=8, hidden=64, depth=2)
    return registry.build("maf", data_dim=2, seed=0, n_blocks=5, hidden=100, depth=1)


class _Zuko(torch.nn.Module):
    def __init__(self, kind: str):
        super().__init__()
        import zuko

        cls = zuko.flows.RealNVP if kind == "realnvp" else zuko.flows.MAF
        n = 8 if kind == "realnvp" else 5
        hidden = (64, 64) if kind == "realnvp" else (100,)
        self.flow = cls(features=2, transforms=n, hidden_features=hidden)

    def log_prob(self, x):
        return self.flow().log_prob(x)

    def sample(self, n):
        return self.flow().sample((n,))


class _Normflows(torch.nn.Module):
    def __init__(self, kind: str):
        super().__init__()
        import normflows as nf

        flows = []
        if kind == "realnvp":
            for i in range(8):
                flows += [nf.flows.AffineCouplingBlock(nf.nets.MLP([1, 64, 64, 2], init_zeros=True)),
                          nf.flows.Permute(2, mode="swap")]
        else:
            for i in range(5):
                flows += [nf.flows.MaskedAffineAutoregressive(2, 100, num_blocks=1, use_residual_blocks=False),
                          nf.flows.Permute(2, mode="swap")]
        self.flow = nf.NormalizingFlow(nf.distributions.DiagGaussian(2, trainable=False), flows)

    def log_prob(self, x):
        return self.flow.log_prob(x)

    def sample(self, n):
        return self.flow.sample(n)[0]


class _Nflows(torch.nn.Module):
    def __init__(self, kind: str):
        super().__init__()
        from nflows.distributions.normal import StandardNormal
        from nflows.flows.base import Flow
        from nflows.transforms.autoregressive import MaskedAffineAutoregressiveTransform
        from nflows.transforms.base import CompositeTransform
        from nflows.transforms.coupling import AffineCouplingTransform
        from nflows.transforms.permutations import ReversePermutation

        class Net(torch.nn.Sequential):  # nflows calls transform nets with (inputs, context)
            def forward(self, x, context=None):
                return super().forward(x)

        def net(d_in, d_out):
            return Net(torch.nn.Linear(d_in, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
                       torch.nn.Linear(64, d_out))

        ts = []
        for i in range(8 if kind == "realnvp" else 5):
            if kind == "realnvp":
                ts.append(AffineCouplingTransform(torch.tensor([i % 2, 1 - i % 2]), net))
            else:
                ts += [MaskedAffineAutoregressiveTransform(2, 100, num_blocks=1, use_residual_blocks=False),
                       ReversePermutation(2)]
        self.flow = Flow(CompositeTransform(ts), StandardNormal([2]))

    def log_prob(self, x):
        return self.flow.log_prob(x)

    def sample(self, n):
        return self.flow.sample(n)


PEERS = {"zuko": ("zuko", _Zuko), "normflows": ("normflows", _Normflows), "nflows": ("nflows", _Nflows)}


def rates(model, batches, n_eval: int) -> dict[str, float]:
    """Training steps/s (Adam 1e-3 on -log_prob), log_prob points/s and samples/s."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for x in batches:
        opt.zero_grad(set_to_none=True)
        loss = -model.log_prob(x).mean()
        loss.backward()
        opt.step()
    train = len(batches) / (time.perf_counter() - t0)
    x = torch.cat(batches)[:n_eval]
    with torch.no_grad():
        t0 = time.perf_counter()
        for _ in range(5):
            model.log_prob(x)
        lp = 5 * len(x) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(5):
            model.sample(n_eval)
        smp = 5 * n_eval / (time.perf_counter() - t0)
    return {"train": train, "log_prob": lp, "sample": smp}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", default="256,1024")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(1)
    peers = {k: v for k, v in PEERS.items() if importlib.util.find_spec(v[0]) is not None}
    missing = sorted(set(PEERS) - set(peers))
    ds = data.load("moons", n=30000)
    print(f"{'flow':8s} {'batch':>5s} {'peer':10s} {'train ×':>8s} {'log_prob ×':>10s} {'sample ×':>9s}   "
          f"targets ≥ {TARGET['train']}× / {TARGET['log_prob']}× / {TARGET['sample']}×")
    for kind in ("realnvp", "maf"):
        for batch in (int(b) for b in args.batches.split(",")):
            g = torch.Generator().manual_seed(0)
            batches = [ds.batch(batch, g) for _ in range(args.steps)]
            ratios = {name: {k: [] for k in TARGET} for name in peers}
            for _ in range(args.repeats):
                torch.manual_seed(0)  # a bench script, not library code: peers initialise from the global stream
                ours = rates(genviz_flow(kind), batches, 4096)
                for name, (_, cls) in peers.items():
                    theirs = rates(cls(kind), batches, 4096)
                    for k in TARGET:
                        ratios[name][k].append(ours[k] / theirs[k])
            for name in peers:
                med = {k: statistics.median(v) for k, v in ratios[name].items()}
                verdict = "met" if all(med[k] >= TARGET[k] for k in TARGET) else "missed"
                print(f"{kind:8s} {batch:5d} {name:10s} {med['train']:8.2f} {med['log_prob']:10.2f} "
                      f"{med['sample']:9.2f}   {verdict}", flush=True)
    print(f"\nmedian genviz ÷ peer over {args.repeats} interleaved repeats, {args.steps} steps, one thread"
          + (f"; not installed: {', '.join(missing)}" if missing else ""))


if __name__ == "__main__":
    main()
