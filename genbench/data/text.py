"""Text: any local UTF-8 file (data.path), as windows of block_size tokens.

The file is cut into three contiguous parts, train first, then val, then test (as nanoGPT
does), so no test text sits between two training windows. Each part becomes token ids and then
consecutive, non-overlapping windows (a remainder shorter than a window is left out):

- `char`: one token per character. The vocabulary is the training part's characters, sorted,
  plus one unknown token (the last id) that a val or test character never seen in training
  becomes (said once on stderr); it decodes as U+FFFD.
- `bpe`: byte-level BPE (the `tokenizers` library; GPT-2's scheme): the 256 bytes plus merges
  learned on the training part up to `vocab_size` tokens. Every text has a tokenization, so no
  token is unknown.

Bits per token depend on the tokenization, so each test window also carries the UTF-8 bytes it
stands for, and the scorecard reports bits per byte, which compare across tokenizations.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from genbench.constraints import Annotated, Field
from genbench.data.base import DataConfig, Dataset, DatasetFamily, DataSpec, Split, as_levels
from genbench.errors import GenbenchError

Share = Annotated[float, Field(gt=0, lt=1)]
UNKNOWN = "\ufffd"  # how the unknown token is written


def read_text(path: str | None) -> str:
    """The file at `path` as text, or a one-line GenbenchError saying why it cannot be."""
    if path is None:
        raise GenbenchError(
            "data.path is not set: the text dataset reads a local UTF-8 file; "
            "give it with --set data.path=FILE"
        )
    try:
        data = Path(path).expanduser().read_bytes()
    except FileNotFoundError:
        raise GenbenchError(f"data.path={path}: no such file") from None
    except IsADirectoryError:
        raise GenbenchError(f"data.path={path} is a folder, not a text file") from None
    except OSError as e:
        raise GenbenchError(f"data.path={path} cannot be read: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise GenbenchError(
            f"data.path={path} is not UTF-8 text: byte {e.start} is 0x{data[e.start]:02x}"
        ) from None
    if not text:
        raise GenbenchError(f"data.path={path} is empty")
    return text


def contiguous_parts(text: str, val_fraction: float, test_fraction: float) -> list[str]:
    """[train, val, test]: the text cut at characters (1 - val - test) n and (1 - test) n."""
    n = len(text)
    a, b = round(n * (1 - val_fraction - test_fraction)), round(n * (1 - test_fraction))
    return [text[:a], text[a:b], text[b:]]


def windows(ids: np.ndarray, block_size: int) -> np.ndarray:
    """Token ids (N,) -> consecutive non-overlapping windows (N // T, T)."""
    n = len(ids) // block_size
    return ids[: n * block_size].reshape(n, block_size)


class CharTokenizer:
    """Characters <-> ids: the training part's characters sorted, then the unknown token."""

    def __init__(self, train: str) -> None:
        self.chars = sorted(set(train))
        self.index = {c: i for i, c in enumerate(self.chars)}
        self.unknown = len(self.chars)  # the last id

    @property
    def num_levels(self) -> int:
        return len(self.chars) + 1

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Token ids (N,) of the N characters, and each one's UTF-8 bytes (N,)."""
        ids = np.fromiter((self.index.get(c, self.unknown) for c in text), np.int64, len(text))
        nbytes = np.fromiter((len(c.encode()) for c in text), np.int64, len(text))
        return ids, nbytes

    def decode(self, x: Tensor) -> str:
        return "".join(self.chars[i] if i < self.unknown else UNKNOWN for i in x.tolist())


class BPETokenizer:
    """Byte-level BPE trained on the training part (`tokenizers`): GPT-2's byte alphabet, in
    which every character of a token's string stands for one byte, plus learned merges."""

    def __init__(self, train: str, vocab_size: int) -> None:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        self.tokenizer = Tokenizer(models.BPE())
        self.tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        self.tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        lines = train.splitlines(keepends=True)
        self.tokenizer.train_from_iterator(
            (lines[i : i + 1000] for i in range(0, len(lines), 1000)), trainer
        )
        size = self.tokenizer.get_vocab_size()
        self.bytes_of = np.array([len(self.tokenizer.id_to_token(i)) for i in range(size)])

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Token ids (N,) and each token's UTF-8 bytes (N,)."""
        ids = np.array(self.tokenizer.encode(text).ids, dtype=np.int64)
        return ids, self.bytes_of[ids]

    def decode(self, x: Tensor) -> str:
        """Ids -> text; a window cut inside a character shows U+FFFD there."""
        return self.tokenizer.decode(x.tolist(), skip_special_tokens=False)


class Text(DatasetFamily):
    name = "text"

    @dataclass
    class Config(DataConfig):
        path: str | None  # the UTF-8 text file; null: give it with --set data.path=FILE
        tokenizer: Literal["char", "bpe"]  # characters, or byte-level BPE
        vocab_size: Annotated[int, Field(ge=256)]  # bpe only: the 256 bytes plus merges
        block_size: Annotated[int, Field(ge=2)]  # tokens per example
        val_fraction: Share  # of the characters, after the training part
        test_fraction: Share  # of the characters, the file's end

        def __post_init__(self) -> None:
            if self.val_fraction + self.test_fraction >= 1:
                raise GenbenchError(
                    f"data.val_fraction={self.val_fraction} and data.test_fraction="
                    f"{self.test_fraction} are not valid: together they must be below 1"
                )

    @classmethod
    def describe(cls, config: Config) -> DataSpec:
        """Reads the file, so a bad one is a GenbenchError here, before any work (the character
        vocabulary's size is the training part's)."""
        text = read_text(config.path)
        return cls.spec(config, contiguous_parts(text, config.val_fraction, config.test_fraction))

    @classmethod
    def spec(cls, config: Config, parts: list[str]) -> DataSpec:
        char = config.tokenizer == "char"
        levels = CharTokenizer(parts[0]).num_levels if char else config.vocab_size
        return DataSpec((config.block_size,), num_levels=levels, num_classes=None)

    @classmethod
    def load(cls, config: Config, data_dir: Path) -> Dataset:
        c = config
        parts = contiguous_parts(read_text(c.path), c.val_fraction, c.test_fraction)
        spec = cls.spec(c, parts)
        char = c.tokenizer == "char"
        tokenizer = CharTokenizer(parts[0]) if char else BPETokenizer(parts[0], c.vocab_size)
        splits, nbytes = [], []
        for name, part in zip(("train", "val", "test"), parts, strict=True):
            ids, part_bytes = tokenizer.encode(part)
            if len(ids) < c.block_size:
                fix = "a larger data.{name}_fraction" if name != "train" else "smaller fractions"
                raise GenbenchError(
                    f"data.path={c.path}: its {name} part has {len(ids)} tokens, fewer than "
                    f"data.block_size={c.block_size}; use a longer file, {fix.format(name=name)} "
                    "or a smaller data.block_size"
                )
            x = torch.from_numpy(windows(ids, c.block_size))  # (n, T)
            splits.append(Split(as_levels(x, spec.num_levels), None))
            nbytes.append(torch.from_numpy(windows(part_bytes, c.block_size).sum(1)))  # (n,)
        if char:
            say_unknown(parts[1] + parts[2], tokenizer)
        return Dataset(cls.name, spec, *splits, decode=tokenizer.decode, test_bytes=nbytes[2])


def say_unknown(text: str, tokenizer: CharTokenizer) -> None:
    """One line on stderr if val/test characters are missing from the training vocabulary."""
    unseen = [c for c in text if c not in tokenizer.index]
    if unseen:
        distinct = sorted(set(unseen))
        shown = ", ".join(repr(c) for c in distinct[:5]) + (", ..." if len(distinct) > 5 else "")
        print(
            f"genbench: warning: text: {len(unseen)} val/test characters ({len(distinct)} "
            f"distinct: {shown}) are not in the training part; they are the unknown token",
            file=sys.stderr,
        )
