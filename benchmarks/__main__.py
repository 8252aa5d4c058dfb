"""Run the benchmarks and print their tables: ``python -m benchmarks [--quick] [--training]``.

By default: the objective against its five products on the whole grid
(m ∈ {1,000; 10,000; 60,000}, p ∈ {25, 196, 400}, float64 and float32), where
the time goes at m = 1,000, the straightforward NumPy and PyTorch objectives
at m = 10,000, the peak memory at m = 60,000, and the covariance form of a
linear network against its data form at m = 10,000 and 60,000 with the
optimizer's share of a training run on it (a few minutes on 2 cores).
``--training`` adds a 400-iteration training run (about 2 minutes);
``--adam`` a few epochs of minibatch Adam at chapter 9's shape, with and
without the modern recipe's pieces (under a minute);
``--training-only`` runs just that, ``--covariance-only`` just the covariance
form.  ``--markdown FILE`` also writes the tables to FILE.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import machine
from .breakdown import bench_breakdown, numpy_call_cost
from .covariance import SPEEDUP_GOAL, bench_evaluations, bench_optimizer
from .minibatch import bench_adam
from .objective import bench_shape, peak_memory
from .straightforward import torch_version
from .training import bench_training

SIZES = (1_000, 10_000, 60_000)
HIDDEN = (25, 196, 400)
DTYPES = (np.float64, np.float32)
REPEAT = {1_000: 7, 10_000: 5, 60_000: 3}  # interleaved rounds
CALLS = {1_000: 10, 10_000: 3, 60_000: 1}  # timed calls of each function per round
COMPARE_AT = 10_000
MEMORY_AT = 60_000
MIB = 2**20
TILE_ELEMENTS = 32_768  # about one tile of the output layer's elementwise work
COVARIANCE_SIZES = (10_000, 60_000)  # m of the covariance form against the data form
COVARIANCE_HIDDEN = 196
COVARIANCE_REPEAT = {10_000: 5, 60_000: 3}
OPTIMIZER_AT = 60_000  # m of the training run that splits the optimizer's share
OPTIMIZER_ITERATIONS = 300


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:,.1f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def objective_section(sizes, repeat_scale: float) -> list[str]:
    ratio_rows, compare_rows = [], []
    for m in sizes:
        for p in HIDDEN:
            for dtype in DTYPES:
                repeat = max(3, round(REPEAT[m] * repeat_scale))
                r = bench_shape(m, p, dtype, repeat, calls=CALLS[m], compare=m == COMPARE_AT)
                t = r.times
                row = [f"{m:,}", str(p), r.dtype, _ms(t["products"]), _ms(t["module"]), f"{r.ratio:.3f}"]
                row += [f"≤ {r.limit:g}", "yes" if r.met else "**no**", f"{r.ratios['public']:.3f}"]
                ratio_rows.append(row)
                print("  " + " | ".join(row), flush=True)
                if "numpy" in t:
                    torch_cells = [_ms(t["torch"]), f"{r.ratios['torch']:.2f}×"] if "torch" in t else ["–", "–"]
                    compare_rows.append(
                        [f"{m:,}", str(p), r.dtype, _ms(t["module"]), _ms(t["numpy"]), f"{r.ratios['numpy']:.2f}×"]
                        + torch_cells
                    )
    lines = ["## One objective-and-gradient evaluation against its five matrix products", ""]
    lines += [
        "Medians of timed calls in interleaved rounds, each function settled for 0.15 s before its calls; "
        "the evaluation runs as in training (every BLAS pool at one thread, one worker per core), "
        "the products with the BLAS threads listed above.  The last column is the public "
        "`Autoencoder.loss_and_grad` called in a loop as a user would (its validation of X included), "
        "over the same products.",
        "",
    ]
    lines += _table(
        ["m", "p", "dtype", "5 products (ms)", "evaluation (ms)", "ratio", "goal", "met", "public ratio"],
        ratio_rows,
    )
    if compare_rows:
        version = torch_version()
        lines += ["", f"## Against straightforward implementations (m = {COMPARE_AT:,})", ""]
        lines += [
            "Speed-up = their time / the module's time, medians of interleaved rounds; PyTorch "
            + (f"{version} eager autograd." if version else "is not installed (`pip install torch` to add it)."),
            "",
        ]
        lines += _table(
            ["m", "p", "dtype", "module (ms)", "NumPy (ms)", "speed-up", "PyTorch (ms)", "speed-up"],
            compare_rows,
        )
    return lines


def breakdown_section(m: int, repeat_scale: float) -> list[str]:
    rows = []
    workers = 1
    for p in HIDDEN:
        for dtype in DTYPES:
            r = bench_breakdown(m, p, dtype, max(3, round(REPEAT[m] * repeat_scale)), calls=CALLS[m])
            workers = r.workers
            t = r.times
            row = [str(p), r.dtype, _ms(t["products"]), _ms(t["split"]), f"{r.ratio('split'):.2f}"]
            row += [_ms(t["output work"]), f"{r.ratio('output work'):.2f}"]
            row += [_ms(t["module"]), f"{r.ratio('module'):.2f}"]
            rows.append(row)
            print("  " + " | ".join(row), flush=True)
    calls = [numpy_call_cost(TILE_ELEMENTS, dtype) for dtype in DTYPES]
    lines = [f"## Where the time goes at m = {m:,}", ""]
    lines += [
        f"The five products as the evaluation runs them (split between its {workers} workers, one BLAS "
        "thread each); the elementwise work of the sigmoid output layer on one worker's share, in one "
        "thread alone (its tiles as the evaluation runs them); the whole evaluation.  Each column with "
        "its ratio to the five products timed as above.",
        "",
    ]
    lines += _table(
        [
            "p",
            "dtype",
            "5 products (ms)",
            "split (ms)",
            "/ products",
            "output layer, 1 worker (ms)",
            "/ products",
            "evaluation (ms)",
            "/ products",
        ],
        rows,
    )
    lines += [""]
    lines += [
        f"One NumPy call (an in-place multiply) on {c.elements:,} {c.dtype} values, about one tile: "
        f"{c.alone:.1f} µs alone, {c.contended:.1f} µs while a second thread makes the same calls."
        for c in calls
    ]
    return lines


def memory_section(m: int) -> list[str]:
    rows = []
    for p in (196, 400):
        for dtype in DTYPES:
            r = peak_memory(m, p, dtype)
            rss = r.rss.get("module")
            row = [str(p), r.dtype, f"{r.x_bytes / MIB:,.0f}"]
            row += [f"{r.traced['module'] / MIB:,.0f}", f"{r.ratio('module'):.2f}×"]
            row += ["–", "–"] if rss is None else [f"{rss / MIB:,.0f}", f"{r.ratio('module', 'rss'):.2f}×"]
            row += [f"{r.traced['numpy'] / MIB:,.0f}", f"{r.ratio('numpy'):.2f}×"]
            rows.append(row)
            print("  " + " | ".join(row), flush=True)
    lines = [f"## Peak extra memory of one evaluation (m = {m:,}; goal ≤ 0.5× X at p = 196)", ""]
    lines += [
        "Workspace and gradient included; tracemalloc's peak (every NumPy array) and the growth of the "
        "resident set's high-water mark (also BLAS buffers and thread stacks).",
        "",
    ]
    lines += _table(
        ["p", "dtype", "X (MiB)", "module (MiB)", "/ X", "module RSS (MiB)", "/ X", "NumPy (MiB)", "/ X"],
        rows,
    )
    return lines


def covariance_section(sizes, repeat_scale: float) -> list[str]:
    rows, by_size = [], {}
    for m in sizes:
        r = bench_evaluations(m, COVARIANCE_HIDDEN, max(3, round(COVARIANCE_REPEAT.get(m, 3) * repeat_scale)))
        by_size[m] = r
        goal = f"≥ {SPEEDUP_GOAL:g}×" if m == min(sizes) else "–"
        met = ("yes" if r.speedup >= SPEEDUP_GOAL else "**no**") if m == min(sizes) else "–"
        row = [f"{m:,}", str(r.n_hidden), _ms(r.data_form), _ms(r.covariance_form), f"{r.speedup:,.1f}×"]
        row += [goal, met, _ms(r.moments)]
        rows.append(row)
        print("  " + " | ".join(row), flush=True)
    o = bench_optimizer(OPTIMIZER_AT, COVARIANCE_HIDDEN, OPTIMIZER_ITERATIONS)
    lines = ["## The covariance form of a linear network against its data form", ""]
    lines += [
        f"Chapter 3's network (identity units, L2 sparsity, ρ = 0.1, β = 3, λ = 3e-3, p = {COVARIANCE_HIDDEN}) "
        "on random data in [0, 1]: one evaluation of J and its gradient from the moments against one on the "
        "data, both as `fit` runs them (every BLAS pool at one thread, one worker per core, buffers reused), "
        "medians of interleaved rounds.  The moments are formed once per fit.",
        "",
    ]
    lines += _table(
        ["m", "p", "data form (ms)", "covariance form (ms)", "speed-up", "goal", "met", "moments, once (ms)"],
        rows,
    )
    small, large = min(by_size), max(by_size)
    if large != small:
        ratio = by_size[large].covariance_form / by_size[small].covariance_form
        lines += [
            "",
            f"Covariance form at m = {large:,} ÷ at m = {small:,}: {ratio:.2f} (goal: the same time); "
            f"data form: {by_size[large].data_form / by_size[small].data_form:.2f}.",
        ]
    opt_rows = [
        ["data", o.data],
        ["m, p, parameters", f"{o.m:,}, {o.n_hidden}, {o.n_params:,}"],
        ["iterations, evaluations", f"{o.n_iter}, {o.n_evals}"],
        ["wall time", f"{o.wall_time:.1f} s"],
        ["moments (once)", f"{o.moments_time:.2f} s"],
        ["evaluations", f"{o.objective_time:.1f} s ({1e3 * o.per_evaluation:.1f} ms each)"],
        ["optimizer and bookkeeping, per iteration", f"{1e3 * o.optimizer_per_iteration:.1f} ms"],
        ["optimizer's share of the time after the moments", f"{100 * o.optimizer_share:.0f} %"],
        ["L-BFGS-B alone, same number of parameters, per iteration", f"{1e3 * o.lbfgs_alone:.1f} ms"],
    ]
    for row in opt_rows:
        print("  " + ": ".join(row), flush=True)
    lines += ["", f"### Training on it ({o.n_iter} L-BFGS-B iterations, every BLAS pool at one thread)", ""]
    return lines + _table(["", ""], opt_rows)


def training_section() -> list[str]:
    r = bench_training()
    rows = [
        ["data", r.data],
        ["dtype, m, p", f"{r.dtype}, {r.m:,}, {r.n_hidden}"],
        ["wall time", f"{r.wall_time:.1f} s (goal ≤ 100 s)"],
        ["iterations, evaluations", f"{r.n_iter}, {r.n_evals} ({r.evals_per_iteration:.3f} per iteration)"],
        ["time inside the objective", f"{r.objective_time:.1f} s ({100 * r.objective_share:.1f} %)"],
        ["outside the objective, per iteration", f"{1e3 * r.overhead_per_iteration:.1f} ms"],
        ["final J", f"{r.loss:.6f}"],
    ]
    for row in rows:
        print("  " + ": ".join(row), flush=True)
    lines = ["## Training (400 L-BFGS-B iterations, UFLDL setting)", ""]
    return lines + _table(["", ""], rows)


def adam_section(**sizes) -> list[str]:
    source, results = bench_adam(**sizes)
    rows = [
        [
            r.setting,
            f"{r.per_epoch:.2f} s",
            f"{r.ratio:.2f}",
            f"{1e3 * r.outside_per_step:.1f} ms",
        ]
        for r in results
    ]
    for row in rows:
        print("  " + " | ".join(row), flush=True)
    plain = results[0].per_epoch
    lines = [f"## Minibatch Adam ({source}; TopK, float32, batches of 128)", ""]
    lines += _table(["setting", "per epoch", "÷ its evaluations", "outside them, per step"], rows)
    lines += [
        "",
        "Each setting's epoch against plain Adam's: " + ", ".join(f"{r.per_epoch / plain:.2f}" for r in results) + ".",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="m ≤ 10,000 only, fewer repetitions, no memory")
    parser.add_argument("--training", action="store_true", help="also time a 400-iteration training run")
    parser.add_argument("--training-only", action="store_true", help="only the training run")
    parser.add_argument("--covariance-only", action="store_true", help="only the covariance form of a linear network")
    parser.add_argument("--adam", action="store_true", help="also time minibatch Adam with the modern recipe")
    parser.add_argument("--markdown", metavar="FILE", help="also write the tables to FILE as Markdown")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    info = machine.describe()
    lines = ["## Machine", ""] + [f"- {line}" for line in machine.format_lines(info)] + [""]
    print("\n".join(lines), flush=True)
    scale = 0.5 if args.quick else 1.0
    if not (args.training_only or args.covariance_only):
        sizes = tuple(s for s in SIZES if not args.quick or s <= COMPARE_AT)
        lines += objective_section(sizes, scale) + [""]
        lines += breakdown_section(min(sizes), scale) + [""]
        if not args.quick:
            lines += memory_section(MEMORY_AT) + [""]
    if not args.training_only:
        sizes = tuple(s for s in COVARIANCE_SIZES if not args.quick or s <= COMPARE_AT)
        lines += covariance_section(sizes, scale) + [""]
    if args.training or args.training_only:
        lines += training_section() + [""]
    if args.adam:
        lines += adam_section() + [""]
    lines.append(f"Run: `python -m benchmarks {' '.join(argv if argv is not None else sys.argv[1:])}`".rstrip())
    lines.append(f"Total benchmark time {time.perf_counter() - start:.0f} s.")
    print("\n" + "\n".join(lines))
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
