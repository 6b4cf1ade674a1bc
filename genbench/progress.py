"""Progress of the long steps after training (the likelihood, sampling), shown on stderr.

A loop that may run long takes an optional `progress(done, total)` callable and calls it as it
goes, knowing nothing of how it is shown. `Phases` shows it: one line when a phase starts, then
a tqdm bar on a terminal, or, in logs and pipes, a plain line at most every `every` seconds (as
training's EpochBar and EpochLines do). A phase whose work reports nothing for a while (one
long call) still shows its time running, from a timer thread, so evaluation is never silent.
Stdout is left to results. This module imports nothing of genbench's, so models may use it.
"""

from __future__ import annotations

import contextlib
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

Progress = Callable[[int, int], None]  # progress(done, total): done of total steps so far


def part(progress: Progress | None, index: int, count: int) -> Progress | None:
    """The progress of the index-th (from 0) of `count` equal parts of a loop (a batch of
    samples), reported as progress of the whole loop."""
    if progress is None:
        return None

    def report(done: int, total: int) -> None:
        progress(index * total + done, count * total)

    return report


class Phases:
    """Says on `stream` (stderr) when each phase of an evaluation starts and how far it has
    got: a tqdm bar when `live` (default: the stream is a terminal), else plain lines at most
    one per `every` seconds, the first after `every` seconds, so that a short phase is one
    line. Each phase's first line starts with `heading`. `quiet`: say nothing (the work runs
    as it would)."""

    def __init__(
        self,
        live: bool | None = None,
        every: float = 5.0,
        stream: TextIO | None = None,
        heading: str = "evaluating",
        quiet: bool = False,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.every = every
        self.heading = heading
        self.quiet = quiet
        self.clock = clock

    @contextlib.contextmanager
    def phase(self, title: str, detail: str = "") -> Iterator[Progress | None]:
        """Announce `title` (and `detail` in brackets), and give the phase's work its
        `progress`: None when quiet, so the work need not call anything."""
        if self.quiet:
            yield None
            return
        heading = f"{self.heading}: " if self.heading else ""
        self.say(heading + title + (f" ({detail})" if detail else ""))
        shown = Bar(title, self.stream) if self.live else Lines(title, self)
        stop = threading.Event()
        period = 1.0 if self.live else max(self.every, 1.0)
        ticker = threading.Thread(target=tick, args=(shown, stop, period), daemon=True)
        ticker.start()
        try:
            yield shown.update
        finally:
            stop.set()
            ticker.join()
            shown.close()

    def say(self, line: str) -> None:
        print(f"genbench: {line}", file=self.stream, flush=True)


QUIET = Phases(quiet=True)


def tick(shown: Lines | Bar, stop: threading.Event, period: float) -> None:
    """Every `period` seconds until `stop`: let the phase show its time running."""
    while not stop.wait(period):
        shown.tick()


class Lines:
    """A phase's plain progress lines: `title done/total (pct), elapsed, about T left`, or
    `title running, elapsed` while its work has reported nothing."""

    def __init__(self, title: str, phases: Phases) -> None:
        self.title = title
        self.phases = phases
        self.started = self.last = phases.clock()
        self.latest: tuple[int, int] | None = None  # the last progress reported
        self.shown: tuple[int, int] | None = None  # the last progress shown
        self.lock = threading.Lock()  # the timer thread shows lines too

    def update(self, done: int, total: int) -> None:
        self.latest = (done, total)
        self.tick()

    def tick(self) -> None:
        """Show the latest progress, unless a line was shown less than `every` seconds ago."""
        with self.lock:
            now = self.phases.clock()
            if now - self.last >= self.phases.every:
                self.show(now)

    def show(self, now: float) -> None:
        self.last = now
        self.shown = self.latest
        elapsed = now - self.started
        if self.latest is None:
            self.phases.say(f"  {self.title} running, {elapsed:.0f} s")
            return
        done, total = self.latest
        line = f"  {self.title} {done}/{total} ({100 * done / max(total, 1):.0f}%), {elapsed:.0f} s"
        if 0 < done < total:
            line += f", about {math.ceil(elapsed * (total - done) / done)} s left"
        self.phases.say(line)

    def close(self) -> None:
        """A phase that showed a line ends with its last progress, so a log says it finished."""
        with self.lock:
            if self.last > self.started and self.latest != self.shown:
                self.show(self.phases.clock())


class Bar:
    """A phase's tqdm bar on a terminal, its time running from the start, removed at the end."""

    def __init__(self, title: str, stream: TextIO) -> None:
        from tqdm import tqdm

        self.bar: Any = tqdm(desc=title, total=None, leave=False, file=stream)

    def update(self, done: int, total: int) -> None:
        self.bar.total = total
        self.bar.update(done - self.bar.n)

    def tick(self) -> None:
        self.bar.refresh()  # the elapsed time, while the work reports nothing

    def close(self) -> None:
        self.bar.close()
