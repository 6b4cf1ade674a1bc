import matplotlib.image
import numpy as np
import torch

from genbench.evaluation.images import save_grid, tile


def test_tile_places_each_image_in_row_major_order():
    images = torch.stack([torch.full((1, 2, 3), k) for k in range(5)])  # 5 images, level k
    grid = tile(images, num_levels=5, rows=2, pad=1)
    assert grid.shape == (2 * 3 + 1, 3 * 4 + 1)
    for k in range(5):
        r, c = divmod(k, 3)
        block = grid[1 + r * 3 : 1 + r * 3 + 2, 1 + c * 4 : 1 + c * 4 + 3]
        assert np.allclose(block, k / 4)


def test_save_grid_writes_a_png(tmp_path):
    images = torch.randint(0, 17, (16, 1, 8, 8))
    save_grid(images, 17, tmp_path / "g.png", rows=4)
    picture = matplotlib.image.imread(tmp_path / "g.png")
    assert picture.shape[0] == (4 * 9 + 1) * 6  # rows of 8 pixels + padding, upscaled 6x
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind
