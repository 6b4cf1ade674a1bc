"""The text dataset on files the tests write: a contiguous split, windows that decode back to the
text, the training part's character vocabulary with an unknown token, byte-level BPE with the
bytes each window stands for, and a bad file refused in one line before any work."""

import re

import pytest
import torch

from genbench import cli
from genbench.config import resolve_data
from genbench.data.text import UNKNOWN, Text, contiguous_parts
from genbench.errors import GenbenchError

VERSE = "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate.\n"


def load(path, *overrides):
    return Text.load(resolve_data("text", [f"data.path={path}", *overrides]), None)


def test_char_windows_are_the_text_cut_in_order(tmp_path):
    path = tmp_path / "verse.txt"
    path.write_text(VERSE * 40, encoding="utf-8")
    data = load(path, "data.block_size=16", "data.val_fraction=0.1", "data.test_fraction=0.1")
    train, val, test = contiguous_parts(VERSE * 40, 0.1, 0.1)
    assert data.spec.shape == (16,) and data.spec.num_levels == len(set(train)) + 1
    for split, part in zip(data.splits().values(), (train, val, test), strict=True):
        assert split.x.dtype == torch.uint8 and split.y is None
        assert "".join(data.decode(x) for x in split.x) == part[: len(split) * 16]
    assert data.test_bytes.tolist() == [16] * len(data.test)  # ASCII: a byte per character


def test_characters_unseen_in_training_are_the_unknown_token_and_said(tmp_path, capsys):
    path = tmp_path / "accents.txt"
    path.write_text(VERSE * 9 + "café über naïve!" * 4, encoding="utf-8")
    data = load(path, "data.block_size=8", "data.val_fraction=0.05", "data.test_fraction=0.05")
    unknown = data.spec.num_levels - 1
    assert (data.test.x == unknown).any() and not (data.train.x == unknown).any()
    assert UNKNOWN in "".join(data.decode(x) for x in data.test.x)
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "not in the training part" in said and "'é'" in said
    # each window's bytes are its characters', the unknown ones' included (é is two bytes)
    assert int(data.test_bytes.sum()) == len(contiguous_parts(
        VERSE * 9 + "café über naïve!" * 4, 0.05, 0.05
    )[2][: len(data.test) * 8].encode())  # fmt: skip


def test_bpe_windows_carry_their_bytes_and_beyond_256_levels_are_int64(tmp_path):
    path = tmp_path / "verse.txt"
    path.write_text(VERSE * 60, encoding="utf-8")
    data = load(path, "data.tokenizer=bpe", "data.vocab_size=300", "data.block_size=16")
    again = load(path, "data.tokenizer=bpe", "data.vocab_size=300", "data.block_size=16")
    assert torch.equal(data.train.x, again.train.x)  # the trained merges are deterministic
    assert data.spec.num_levels == 300 and data.train.x.dtype == torch.int64
    assert int(data.train.x.max()) >= 256  # merges are used
    for x, nbytes in zip(data.test.x, data.test_bytes, strict=True):
        assert len(data.decode(x).encode()) == int(nbytes)  # ASCII: no character is cut
    chars_per_token = len(VERSE * 60) * 0.9 / (len(data.train) * 16)
    assert chars_per_token > 1.5  # fewer tokens than characters


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"caf\xe9 au lait", "is not UTF-8 text: byte 3 is 0xe9"),
        (b"", "is empty"),
        ("folder", "is a folder, not a text file"),
        (VERSE.encode(), "its train part has 73 tokens, fewer than data.block_size=128"),
    ],
)
def test_a_bad_file_is_one_line_exit_2_before_any_work(content, message, tmp_path, capsys):
    path = tmp_path / "input.txt"
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    out = tmp_path / "results"
    args = ["run", "--model", "transformer", "--dataset", "text", "--out", str(out)]
    code = cli.main([*args, "--set", f"data.path={path}"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not [p for p in out.rglob("*") if p.is_file()]  # nothing written


def test_settings_are_checked():
    with pytest.raises(GenbenchError, match=re.escape("data.path is not set")):
        Text.describe(resolve_data("text"))
    with pytest.raises(GenbenchError, match="together they must be below 1"):
        resolve_data("text", ["data.val_fraction=0.5", "data.test_fraction=0.5"])
    with pytest.raises(GenbenchError, match=re.escape("data.vocab_size=100 is not valid")):
        resolve_data("text", ["data.vocab_size=100"])
