"""VAE family quality against the course homework's published solution, and one epoch's speed.

Each part trains through genviz's Session (the same path as the app and the CLI), saves its figures as JSON
in --out, and the table is printed from whatever parts have finished, so long parts can run in parallel:

  nice -n 10 python bench/bench_vae_quality.py --part vae   &   # 20k steps, then IWAE bounds on the test set
  nice -n 10 python bench/bench_vae_quality.py --part gmvae &
  nice -n 10 python bench/bench_vae_quality.py --part ssvae &   # 50k steps; also the supervised-only baseline
  nice -n 10 python bench/bench_vae_quality.py --part epoch     # genviz vs torchvision DataLoader loop
  python bench/bench_vae_quality.py --table
  python bench/bench_vae_quality.py --quick                     # every part, tiny, then the table (smoke run)
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import time
from pathlib import Path

import torch

from genviz.core import checkpoint, data as data_mod, images, registry
from genviz.core.session import Session
from genviz.core.vae import course

REF = {  # the course's solution, mean over runs; (reference, how to compare)
    "vae_nelbo": (101.5, "<="), "vae_kl": (19.3, "≈"), "vae_rec": (82.6, "≈"), "gmvae_nelbo": (97.5, "<="),
    "iwae1000": (96.0, "<="), "ssvae_acc": (93.0, ">="), "sup_acc": (73.5, "≈"),
}
# the homework reports its bounds on its 100-image test subset; the same references apply there
REF.update({f"{k}_sub": REF[k] for k in ("vae_nelbo", "vae_kl", "vae_rec", "gmvae_nelbo", "iwae1000")})


def homework_subset() -> torch.Tensor:
    """The homework's fixed 100-image test subset (its hand-picked digits, numpy-seed-0 binarization)."""
    _, _, x, y = images.load_raw("mnist")
    return course.fixed_subset(x, y)[0]


@torch.no_grad()
def subset_bounds(model, name: str, sub, ms=()) -> dict:
    """The homework's evaluate_lower_bound on the 100-image subset: NELBO, KL, Rec averaged over 100 draws
    ('<name>_nelbo_sub', ...), and the negative IWAE-m bound over max(100 // m, 1) draws ('iwae<m>_sub')."""
    torch.manual_seed(0)
    terms = torch.tensor([[float(t) for t in model.negative_elbo_bound(sub)] for _ in range(100)]).mean(0)
    res = dict(zip((f"{name}_nelbo_sub", f"{name}_kl_sub", f"{name}_rec_sub"), terms.tolist()))
    for m in ms:
        res[f"iwae{m}_sub"] = sum(float(model.niwae(sub, m)) for _ in range(max(100 // m, 1))) / max(100 // m, 1)
    return res


def grey_test(data) -> torch.Tensor:
    """The test images as grey levels in [0, 1], (n, 1, 28, 28): what the homework's evaluate_classifier
    scores (genviz's data.test is the fixed-seed binarization used for the likelihoods)."""
    return _grey_test(data.name, len(data.test))  # --quick shortens data.test


@functools.lru_cache(maxsize=1)
def _grey_test(name: str, n: int) -> torch.Tensor:  # read the raw files once, not once per trained model
    return images.load_raw(name)[2][:n].unsqueeze(1).float().div_(255)


def accuracies(model, data, grey) -> dict:
    """Test accuracy in % on the grey-level test set (the homework's protocol) and on the binarized one,
    by the classifier genviz predicts with (the averaged weights), and by the last step's weights."""
    y = data.labels["test"]
    return {"grey": 100 * model.accuracy(grey, y), "bin": 100 * model.accuracy(data.test, y),
            "last": 100 * model.accuracy(grey, y, cls=model.cls)}


def train(name: str, data, steps: int, budget_s: float | None = None, resume=None, **cfg):
    """Train through a Session; `resume`: a checkpoint to continue from; `budget_s`: stop early at this
    wall-clock budget (the steps actually done are reported). Returns (model, seconds, session)."""
    model, opt_state, start = None, None, 0
    if resume is not None and Path(resume).is_file():
        model, payload = checkpoint.load_full(resume)
        opt_state, start = payload["optimizers"] or None, payload["step"]
        print(f"  resuming {name} from step {start}", flush=True)
    every = max(min(steps // 20, 250 if budget_s else steps), 1)  # a budget is checked at each snapshot
    s = Session(name, data, model_config=cfg, train={"steps": steps, "snapshot_every": every},
                model=model, optimizer_state=opt_state, start_step=start)
    grey = grey_test(data) if name == "ssvae" else None
    t0 = time.perf_counter()
    for snap in s.run():
        if budget_s is not None and time.perf_counter() - t0 > budget_s:
            s.send("stop")
        if snap.step % max(steps // 10, 1) < every and snap.losses:
            extra = ""
            if grey is not None:  # progress on the test set, so a cut-short run still says something
                acc = accuracies(s.model, data, grey)
                extra = (f" test_acc grey {acc['grey']:.2f}% / binarized {acc['bin']:.2f}%"
                         f" (last step's weights, grey: {acc['last']:.2f}%)")
            print(f"  {name} {cfg} step {snap.step} ({time.perf_counter() - t0:.0f} s): {snap.metrics}{extra}",
                  flush=True)
    return s.model.eval(), time.perf_counter() - t0, s


def part_vae(data, steps, out: Path, name="vae", iwae_full_max=1000, budget_s=None, resume=False) -> dict:
    model, secs, s = train(name, data, steps, budget_s, out / f"{name}.pt" if resume else None)
    checkpoint.save(model, out / f"{name}.pt", optimizers=s.optimizers, step=s.step)
    torch.manual_seed(0)
    full = model.evaluate(data.test, k=1)
    res = {f"{name}_nelbo": full["nelbo"], f"{name}_kl": full["kl"], f"{name}_rec": full["rec"],
           f"{name}_train_s": secs, f"{name}_steps": s.step}
    ms = (1, 10, 100, 1000) if name == "vae" else ()
    res.update(subset_bounds(model, name, homework_subset(), ms))
    if name == "vae":
        for m in ms:
            with torch.no_grad():
                if m > iwae_full_max:  # the full test set at m = 1000 is 10M decoder passes
                    continue
                t0 = time.perf_counter()
                res[f"iwae{m}"] = sum(float(model.niwae(data.test[i:i + 500], m)) * len(data.test[i:i + 500])
                                      for i in range(0, len(data.test), 500)) / len(data.test)
                print(f"  iwae m={m}: {res[f'iwae{m}']:.2f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return res


@torch.no_grad()
def part_iwae(data, out: Path, m_max: int) -> dict:
    """The trained VAE's negative IWAE bound on the full test set for m ≤ m_max (chunks of 500 images);
    m already in vae.json are not recomputed."""
    model = checkpoint.load(out / "vae.pt")
    torch.manual_seed(1)
    res, done = {}, json.loads((out / "vae.json").read_text())
    for m in (m for m in (1, 10, 100, 1000) if m <= m_max and f"iwae{m}" not in done):
        t0 = time.perf_counter()
        res[f"iwae{m}"] = sum(float(model.niwae(data.test[i:i + 500], m)) * len(data.test[i:i + 500])
                              for i in range(0, len(data.test), 500)) / len(data.test)
        print(f"  iwae m={m}: {res[f'iwae{m}']:.2f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return res


def part_ssvae(data, steps, out: Path, budget_s=None, keep_baseline=False, label_seed=0) -> dict:
    """Supervised-only baseline first (cheap), then the SSVAE; figures are saved as soon as each is known.
    keep_baseline: reuse the baseline figure already saved in --out (e.g. to retrain only the SSVAE)."""
    res = {}
    old = json.loads((out / "ssvae.json").read_text()) if (out / "ssvae.json").is_file() else {}
    for key, gw in (("sup", 0.0), ("ssvae", 1.0)):
        if key == "sup" and keep_baseline and "sup_acc" in old:
            res.update({k: old.get(k) for k in ("sup_acc", "sup_acc_bin", "sup_acc_last", "sup_train_s")})
            continue
        model, secs, s = train("ssvae", data, steps, budget_s if key == "ssvae" else None, gen_weight=gw,
                                label_seed=label_seed)
        acc = accuracies(model, data, grey_test(data))
        res[f"{key}_acc"], res[f"{key}_acc_bin"], res[f"{key}_acc_last"] = acc["grey"], acc["bin"], acc["last"]
        res[f"{key}_train_s"] = secs
        if key == "ssvae":
            res["ssvae_steps"] = s.step
        (out / "ssvae.json").write_text(json.dumps({"ssvae_steps": steps, **res}, indent=1))
    return res


def part_epoch(data, quick: bool) -> dict:
    """One epoch (55k images, batch 97) of the homework VAE: genviz Session vs a DataLoader loop.

    The two run interleaved, 100 steps at a time, so both see the same load on shared cores; wall and
    process CPU time are summed per side. genviz's time includes its snapshots (validation ELBO, latent
    scatter, images, IWAE curve), as in the app.
    """
    steps = 20 if quick else len(data.train) // 97
    session = Session("vae", data, train={"steps": steps})  # the app's defaults: a snapshot every 100 steps
    sides = {"genviz": session.run(), "plain": plain_chunks(steps, 100)}
    next(sides["plain"])  # untimed: building the torchvision dataset and the model (genviz's preload isn't timed)
    wall, cpu = {k: 0.0 for k in sides}, {k: 0.0 for k in sides}
    while sides:
        for k in list(sides):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                next(sides[k])
            except StopIteration:
                del sides[k]
            wall[k] += time.perf_counter() - t0
            cpu[k] += time.process_time() - c0
    return {"epoch_genviz_s": wall["genviz"], "epoch_plain_s": wall["plain"], "epoch_genviz_cpu": cpu["genviz"],
            "epoch_plain_cpu": cpu["plain"], "epoch_steps": steps}


def plain_chunks(steps: int, chunk: int):
    """The textbook loop: torchvision MNIST + ToTensor per item through a DataLoader, same 784-300-300 VAE.
    Yields every `chunk` steps. Building the dataset object is not timed (nor is genviz's preload)."""
    from torch import nn
    from torch.nn import functional as F
    from torchvision import datasets, transforms

    ds = datasets.MNIST(os.environ["GENVIZ_DATA"], train=True, download=False, transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(ds, batch_size=97, shuffle=True)
    enc = nn.Sequential(nn.Linear(784, 300), nn.ELU(), nn.Linear(300, 300), nn.ELU(), nn.Linear(300, 20))
    dec = nn.Sequential(nn.Linear(10, 300), nn.ELU(), nn.Linear(300, 300), nn.ELU(), nn.Linear(300, 784))
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3)
    yield
    for i, (x, _) in enumerate(loader):
        if i == steps:
            break
        x = torch.bernoulli(x.view(len(x), -1))
        m, h = enc(x).chunk(2, -1)
        v = F.softplus(h) + 1e-8
        z = m + v.sqrt() * torch.randn_like(m)
        rec = F.binary_cross_entropy_with_logits(dec(z), x, reduction="none").sum(-1)
        kl = 0.5 * (-v.log() + v + m ** 2 - 1).sum(-1)
        loss = (rec + kl).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (i + 1) % chunk == 0:
            yield


def fmt_row(key: str, label: str, res: dict) -> str:
    ref, how = REF.get(key, (None, ""))
    val = res.get(key)
    got = "(not run)" if val is None else f"{val:8.2f}"
    verdict = ""
    if val is not None and ref is not None and how in ("<=", ">="):
        ok = val <= ref if how == "<=" else val >= ref
        verdict = "ok" if ok else f"MISSED by {abs(val - ref):.2f}"
    return f"{label:<46} {got:>10}   {how} {ref if ref is not None else '':<6} {verdict}"


def table(res: dict) -> str:
    rows = [("vae_nelbo", "VAE NELBO, full test set (nats)"), ("vae_kl", "VAE KL"), ("vae_rec", "VAE Rec"),
            ("vae_nelbo_sub", "VAE NELBO, 100-image subset"), ("vae_kl_sub", "VAE KL, subset"),
            ("vae_rec_sub", "VAE Rec, subset"),
            ("gmvae_nelbo", "GMVAE NELBO, full test set"), ("gmvae_nelbo_sub", "GMVAE NELBO, 100-image subset"),
            *[(f"iwae{m}", f"VAE neg. IWAE bound m={m}, full test set") for m in (1, 10, 100, 1000)],
            *[(f"iwae{m}_sub", f"VAE neg. IWAE bound m={m}, 100-image subset") for m in (1, 10, 100, 1000)],
            ("ssvae_acc", "SSVAE test accuracy %, 100 labels, grey test"), ("ssvae_acc_bin", "  same, binarized test set"),
            ("ssvae_acc_last", "  same, grey, last step's weights (no average)"),
            ("sup_acc", "supervised-only accuracy %, grey test"), ("sup_acc_bin", "  same, binarized test set"),
            ("sup_acc_last", "  same, grey, last step's weights")]
    lines = [f"{'figure':<46} {'genviz':>10}   reference", "-" * 78]
    lines += [fmt_row(k, label, res) for k, label in rows]
    if "epoch_genviz_s" in res:
        g, p = res["epoch_genviz_s"], res["epoch_plain_s"]
        cg, cp = res["epoch_genviz_cpu"], res["epoch_plain_cpu"]
        lines.append(f"one MNIST epoch ({res['epoch_steps']} steps of 97): genviz Session {g:.1f} s wall / {cg:.1f} s CPU, "
                     f"torchvision DataLoader loop {p:.1f} s wall / {cp:.1f} s CPU")
        lines.append(f"speed ratio genviz/DataLoader: {p / g:.2f}x by wall clock, {cp / cg:.2f}x by process CPU time "
                     "(CPU time is the fair one on shared cores)")
    steps = {k: v for k, v in res.items() if k.endswith("_steps") and k != "epoch_steps"}
    if steps:
        lines.append("training steps: " + ", ".join(f"{k[:-6]} {v}" for k, v in steps.items()))
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("vae", "gmvae", "ssvae", "epoch", "iwae"),
                    help="iwae: evaluate the saved VAE's bounds on the full test set up to --iwae-full-max")
    ap.add_argument("--steps", type=int, help="training steps (default: the registry's: 20k, SSVAE 50k)")
    ap.add_argument("--quick", action="store_true", help="every part with a few steps (smoke run)")
    ap.add_argument("--table", action="store_true", help="print the table of finished parts")
    ap.add_argument("--iwae-full-max", type=int, default=1000,
                    help="largest m evaluated on the full test set (larger m: the 100-image subset only)")
    ap.add_argument("--budget-min", type=float, help="stop training after this many minutes (steps done are reported)")
    ap.add_argument("--resume", action="store_true", help="continue from the part's checkpoint in --out")
    ap.add_argument("--label-seed", type=int, default=0, help="SSVAE: which 100 training digits are labelled")
    ap.add_argument("--out", default="/tmp/genviz_bench_vae")
    a = ap.parse_args(argv)
    out = Path(a.out) / ("quick" if a.quick else "full")
    out.mkdir(parents=True, exist_ok=True)
    parts = ("vae", "gmvae", "ssvae", "epoch") if a.quick else ((a.part,) if a.part else ())
    data = data_mod.load("mnist") if parts else None
    if a.quick:  # shrink the test set so the smoke run takes seconds
        data.test, data.labels["test"] = data.test[:200], data.labels["test"][:200]
    for p in parts:
        shipped = dict(registry.get(p).train_defaults).get("steps", 0) if p in registry.MODELS else 0
        steps = 30 if a.quick else (a.steps or shipped)  # default: what the app and `genviz train` run
        if p == "epoch":
            res = part_epoch(data, a.quick)
        elif p == "iwae":
            res = {**json.loads((out / "vae.json").read_text()), **part_iwae(data, out, a.iwae_full_max)}
            p = "vae"
        else:
            budget = a.budget_min * 60 if a.budget_min else None
            if p == "vae":
                res = part_vae(data, steps, out, iwae_full_max=a.iwae_full_max, budget_s=budget, resume=a.resume)
            elif p == "gmvae":
                res = part_vae(data, steps, out, "gmvae", budget_s=budget, resume=a.resume)
            else:
                res = part_ssvae(data, steps, out, budget_s=budget, keep_baseline=a.resume, label_seed=a.label_seed)
            res.setdefault(f"{p}_steps", steps)
        (out / f"{p}.json").write_text(json.dumps(res, indent=1))
    res = {}
    for f in sorted(out.glob("*.json")):
        res.update(json.loads(f.read_text()))
    print(table(res))
    if a.quick:
        print("(--quick: 30 steps and a 200-image test set: a smoke run of the code paths, not the figures)")


if __name__ == "__main__":
    main()
