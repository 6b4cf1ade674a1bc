import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from genbench.data.digits import Digits


def test_split_is_the_one_of_the_design_notes():
    data = Digits.load(Digits.Config(train_fraction=1.0), None)
    assert (len(data.train), len(data.val), len(data.test)) == (1077, 270, 450)
    # recompute DESIGN.md section 4 independently, on the arrays themselves
    X, y = load_digits(return_X_y=True)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    X_train, X_val, _, _ = train_test_split(
        X_rest, y_rest, test_size=0.2, random_state=1, stratify=y_rest
    )
    for split, expected in ((data.train, X_train), (data.val, X_val), (data.test, X_test)):
        assert np.array_equal(split.x.flatten(1).numpy(), expected.astype(np.uint8))
    assert np.array_equal(data.test.y.numpy(), y_test)


def test_levels_shape_and_classes():
    data = Digits.load(Digits.Config(train_fraction=1.0), None)
    assert (
        data.spec.shape == (1, 8, 8) and data.spec.num_levels == 17 and data.spec.num_classes == 10
    )
    x = torch.cat([s.x for s in data.splits().values()])
    assert x.dtype == torch.uint8 and x.shape == (1797, 1, 8, 8)
    assert int(x.min()) == 0 and int(x.max()) == 16
    assert data.entropy_bits is None
    y_all = torch.cat([s.y for s in data.splits().values()])
    share = torch.bincount(data.test.y, minlength=10) / torch.bincount(y_all, minlength=10)
    assert (share - 0.25).abs().max() < 0.01  # stratified: a quarter of each class
