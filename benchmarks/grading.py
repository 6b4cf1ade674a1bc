"""Seconds to grade attention submissions: one, the benchmark check included, and a batch of
20 with 2 workers (the reference, a planted-bug variant of each kind, and stubs, repeated).

    python benchmarks/grading.py [--batch 20] [--workers 2] [--out benchmarks/out/grading.json]

There is no plain baseline to compare with: the figure a teacher needs is the wall time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import write_figures

from genbench.teaching import source
from genbench.teaching.grade import grade, grade_batch
from genbench.teaching.spec import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/grading.json"))
    args = parser.parse_args()
    a = load("attention")
    texts = [source.reference_file(a), source.stub_file(a)]
    texts += [source.buggy_file(a, bug) for bug in a.bugs]
    with tempfile.TemporaryDirectory() as folder:
        one = Path(folder) / "one"
        one.mkdir()
        (one / a.student_file).write_text(texts[0])
        started = time.perf_counter()
        g = grade(one, a)
        single = time.perf_counter() - started
        print(f"one submission, benchmark included: {single:.1f} s ({g.score:g}/{g.max_score:g})")
        batch = Path(folder) / "batch"
        for i in range(args.batch):
            (batch / f"student{i:02d}").mkdir(parents=True)
            (batch / f"student{i:02d}" / a.student_file).write_text(texts[i % len(texts)])
        started = time.perf_counter()
        grade_batch(batch, a, Path(folder) / "grades", args.workers)
        total = time.perf_counter() - started
        print(f"{args.batch} submissions, {args.workers} workers: {total:.1f} s")
    write_figures(
        args.out,
        {
            "one_submission_seconds": single,
            "batch_submissions": args.batch,
            "batch_workers": args.workers,
            "batch_seconds": total,
        },
    )


if __name__ == "__main__":
    main()
