"""Suite throughput with 1 and 2 workers (runs per minute), and the harness's own cost per run
(process start-up and imports, data, evaluation and writing) against its training time.

    python benchmarks/suite.py [--runs 6] [--out benchmarks/out/suite.json]

The suite is --runs seeds of the VAE with the quick preset on digits, run twice into fresh
folders (1 worker, then 2); the feature extractor is trained beforehand and not timed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from common import write_figures

from genbench.results.store import read_result, run_dir
from genbench.suite import SuiteSpec, expand, run_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/suite.json"))
    args = parser.parse_args()

    spec = SuiteSpec(
        models=["vae"],
        datasets=["digits"],
        seeds=list(range(args.runs)),
        set=["trainer.preset=quick"],
    )
    plans, _ = expand(spec)
    figures: dict = {"benchmark": "suite", "runs": args.runs, "suite": "vae, quick preset, digits"}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GENBENCH_FEATURES"] = str(Path(tmp) / "features")
        warm, _ = expand(SuiteSpec(models=["vae"], datasets=["digits"], seeds=[99], set=spec.set))
        run_suite(warm, Path(tmp) / "warm", report=lambda _: None)  # trains the extractor once
        for workers in (1, 2):
            out = Path(tmp) / f"w{workers}"
            started = time.perf_counter()
            progress = run_suite(plans, out, workers=workers, report=lambda _: None)
            wall = time.perf_counter() - started
            assert progress.done == len(plans), "a run failed"
            results = [read_result(run_dir(out, p.cfg.run_id)).to_json() for p in plans]
            train = statistics.mean(r["timings"]["train_seconds"] for r in results)
            total = statistics.mean(r["timings"]["total_seconds"] for r in results)
            per_run = statistics.mean(progress.durations)
            figures[f"workers_{workers}"] = {
                "wall_seconds": wall,
                "runs_per_minute": 60 * len(plans) / wall,
                "run_wall_seconds_mean": per_run,
                "train_seconds_mean": train,
                "data_seconds_mean": statistics.mean(r["timings"]["data_seconds"] for r in results),
                "eval_seconds_mean": statistics.mean(r["timings"]["eval_seconds"] for r in results),
                "startup_and_writing_seconds_mean": per_run - total,
                "harness_share_of_run": 1 - train / per_run,
            }
            rate = 60 * len(plans) / wall
            print(
                f"{workers} worker(s): {rate:.2f} runs/min; per run {per_run:.1f} s wall, "
                f"of which training {train:.1f} s",
                flush=True,
            )
    figures["speedup_2_workers"] = (
        figures["workers_2"]["runs_per_minute"] / figures["workers_1"]["runs_per_minute"]
    )
    write_figures(args.out, figures)
    print(f"speed-up with 2 workers: {figures['speedup_2_workers']:.2f}x; wrote {args.out}")


if __name__ == "__main__":
    main()
