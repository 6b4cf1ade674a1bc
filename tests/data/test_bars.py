import math

import pytest
import torch

from genbench.config import resolve
from genbench.data.bars import Bars, bars_patterns
from genbench.errors import GenbenchError


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_patterns_are_all_bars_and_stripes_once(n):
    patterns = bars_patterns(n)
    assert patterns.shape == (2 ** (n + 1) - 2, n, n)
    assert len({tuple(p.flatten().tolist()) for p in patterns}) == len(patterns)
    rows_equal = (patterns == patterns[:, :1, :]).flatten(1).all(1)  # vertical bars
    cols_equal = (patterns == patterns[:, :, :1]).flatten(1).all(1)  # horizontal stripes
    assert (rows_equal | cols_equal).all()
    # exhaustive check for small n: every binary image that is bars or stripes is present
    if n <= 4:
        found = 0
        for code in range(2 ** (n * n)):
            img = torch.tensor([(code >> i) & 1 for i in range(n * n)]).view(n, n)
            if (img == img[:1]).all() or (img == img[:, :1]).all():
                found += 1
        assert found == len(patterns)


def test_dataset_draw_is_uniform_and_entropy_known():
    cfg = Bars.Config(train_fraction=1.0, size=4, n_train=2000, n_val=500, n_test=1000, data_seed=0)
    data = Bars.load(cfg, None)
    assert data.entropy_bits == pytest.approx(math.log2(30))
    assert data.entropy_bpd == pytest.approx(math.log2(30) / 16)
    assert data.spec.num_levels == 2 and data.train.x.shape == (2000, 1, 4, 4)
    patterns = bars_patterns(4).flatten(1)
    index = (data.train.x.flatten(1).unsqueeze(1) == patterns).all(-1).float().argmax(1)
    counts = torch.bincount(index, minlength=30).float()
    expected = 2000 / 30
    chi2 = ((counts - expected) ** 2 / expected).sum().item()
    assert chi2 < 60  # 29 degrees of freedom: P(chi2 > 60) < 0.001 under uniformity
    again = Bars.load(cfg, None)
    assert torch.equal(again.test.x, data.test.x)  # the data seed fixes the draw


def test_bad_size_is_a_user_error():
    with pytest.raises(GenbenchError, match=r"data\.size=1 is not valid: must be an integer >= 2"):
        resolve("vae", "bars", 0, ["data.size=1"])
