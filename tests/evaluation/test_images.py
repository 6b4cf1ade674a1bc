import matplotlib.image
import numpy as np
import PIL.Image
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


def pixels(path):
    return np.asarray(PIL.Image.open(path).convert("RGBA"))


def test_captions_go_in_a_margin_beside_the_unchanged_grid(tmp_path):
    images = torch.randint(0, 17, (8, 1, 8, 8))
    save_grid(images, 17, tmp_path / "bare.png", rows=2)
    save_grid(images, 17, tmp_path / "labelled.png", 2, ["test image", "reconstruction"])
    bare, labelled = pixels(tmp_path / "bare.png"), pixels(tmp_path / "labelled.png")
    margin = labelled.shape[1] - bare.shape[1]
    assert labelled.shape[0] == bare.shape[0] and margin > 40
    assert np.array_equal(labelled[:, margin:], bare)  # the grid, pixel for pixel
    ink = (labelled[:, :margin, :3] < 128).any(axis=2)  # the captions' dark pixels
    assert not ink[:, -3:].any()  # a gap between the captions and the grid
    rows = ink.any(axis=1)
    cell = 6 * 8  # an image, upscaled 6x; 6 pixels of padding before each
    beside = [np.arange(6 + r * (cell + 6), 6 + r * (cell + 6) + cell) for r in range(2)]
    assert all(rows[span].any() for span in beside)  # a caption beside each row
    assert not np.delete(rows, np.concatenate(beside)).any()  # none beside the padding


def test_a_footer_puts_one_note_under_each_column(tmp_path):
    images = torch.randint(0, 256, (8, 1, 28, 28))  # 28 pixels: not upscaled
    save_grid(images, 256, tmp_path / "bare.png", rows=2)
    notes = ["10.56", "11.02", "12.34", "13.99"]  # too wide for a 28-pixel column at 11 px
    save_grid(images, 256, tmp_path / "f.png", 2, ["sample", "nearest"], ("L2 distance", notes))
    bare, labelled = pixels(tmp_path / "bare.png"), pixels(tmp_path / "f.png")
    height, width = bare.shape[:2]
    margin = labelled.shape[1] - width
    assert labelled.shape[0] > height and np.array_equal(labelled[:height, margin:], bare)
    ink = (labelled[height:, margin:, :3] < 128).any(axis=(0, 2))  # columns with footer text
    assert all(ink[1 + q * 29 : 1 + q * 29 + 28].any() for q in range(4))  # under each column
    assert not ink[::29].any()  # nothing under the padding: no note runs into the next
    assert (labelled[height:, :margin, :3] < 128).any()  # the footer's caption
