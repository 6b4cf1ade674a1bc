"""One run carried by Lightning's DDP strategy over two CPU processes (gloo)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import QUICK, TINY


@pytest.mark.slow
def test_two_process_ddp_run_gives_the_same_kind_of_result(tmp_path):
    sets = [*TINY["vae"], *QUICK, "trainer.max_epochs=4", "trainer.accelerator=cpu"]
    base = [sys.executable, "-m", "genbench", "run", "--model", "vae", "--dataset", "digits"]
    for kv in sets:
        base += ["--set", kv]
    # two processes of batch 64 step like one process of batch 128: compare with that
    ddp = ["--set", "trainer.devices=2", "--set", "trainer.strategy=ddp"]
    one = ["--set", "trainer.batch_size=128"]
    for name, extra in (("one", one), ("ddp", ddp)):
        proc = subprocess.run(
            [*base, *extra, "--out", str(tmp_path / name)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
    one, two = (
        json.loads(next((tmp_path / name).glob("runs/vae-*/result.json")).read_text())
        for name in ("one", "ddp")
    )
    assert one["status"] == two["status"] == "done"
    assert set(one["metrics"]) == set(two["metrics"])
    assert two["metrics"]["steps"] == one["metrics"]["steps"]  # each process saw half the data
    assert abs(two["metrics"]["bpd"] - one["metrics"]["bpd"]) < 0.1
