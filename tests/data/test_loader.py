import torch

from genbench.data.base import Split
from genbench.data.loader import IndexBatches


def split(n=103):
    return Split(torch.arange(n).view(n, 1), torch.arange(n) % 7)


def test_each_example_once_per_epoch_in_batches():
    batches = list(IndexBatches(split(), 10, shuffle=True, seed=0))
    assert len(batches) == len(IndexBatches(split(), 10)) == 11
    seen = torch.cat([x for x, _ in batches]).flatten()
    assert sorted(seen.tolist()) == list(range(103))
    for x, y in batches:
        assert torch.equal(y, x.flatten() % 7)  # labels travel with their examples


def test_order_depends_only_on_seed_and_epoch():
    epoch = {"value": 0}
    loader = IndexBatches(split(), 10, shuffle=True, seed=1, epoch=lambda: epoch["value"])
    first = torch.cat([x for x, _ in loader])
    assert torch.equal(first, torch.cat([x for x, _ in loader]))
    epoch["value"] = 1
    assert not torch.equal(first, torch.cat([x for x, _ in loader]))
    other_seed = IndexBatches(split(), 10, shuffle=True, seed=2)
    assert not torch.equal(first, torch.cat([x for x, _ in other_seed]))


def test_unshuffled_keeps_order_and_handles_no_labels():
    data = Split(torch.arange(25).view(25, 1), None)
    xs = [x for x, y in IndexBatches(data, 10) if y is None]
    assert torch.equal(torch.cat(xs).flatten(), torch.arange(25))
