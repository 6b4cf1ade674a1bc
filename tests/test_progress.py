"""Evaluation's progress reporter: a line per phase, then plain lines at most one per `every`
seconds (or a bar on a terminal), all on the stream it is given (stderr), nothing when quiet."""

import io
import re
import time

from genbench.progress import Phases, part


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_plain_lines_are_rate_limited_and_the_last_one_is_shown():
    stream, clock = io.StringIO(), Clock()
    phases = Phases(live=False, every=5.0, stream=stream, clock=clock)
    with phases.phase("sampling", "drawing 64 samples") as progress:
        for step in range(1, 201):  # 200 steps, 1/8 s each: 25 s
            clock.now += 0.125
            progress(step, 200)
    shown = lines(stream)
    assert shown[0] == "genbench: evaluating: sampling (drawing 64 samples)"
    # one line per 5 s of the 25 s (at 5, 10, 15, 20, 25 s), not one per step
    assert len(shown) == 1 + 5
    assert shown[1] == "genbench:   sampling 40/200 (20%), 5 s, about 20 s left"
    assert shown[-1] == "genbench:   sampling 200/200 (100%), 25 s"


def test_a_short_phase_is_one_line_and_a_finished_phase_says_where_it_ended():
    stream, clock = io.StringIO(), Clock()
    phases = Phases(live=False, every=5.0, stream=stream, clock=clock)
    with phases.phase("reconstruction") as progress:
        for step in range(1, 11):  # 1.25 s in all: shorter than `every`
            clock.now += 0.125
            progress(step, 10)
    assert lines(stream) == ["genbench: evaluating: reconstruction"]
    with phases.phase("likelihood") as progress:
        clock.now += 6
        progress(1, 3)  # shown: 6 s since the start
        clock.now += 1
        progress(3, 3)  # not shown when told (1 s later), but the phase's end shows it
    assert lines(stream)[1:] == [
        "genbench: evaluating: likelihood",
        "genbench:   likelihood 1/3 (33%), 6 s, about 12 s left",
        "genbench:   likelihood 3/3 (100%), 7 s",
    ]


def test_a_terminal_gets_a_bar_and_quiet_says_nothing():
    stream = io.StringIO()
    with Phases(live=True, stream=stream, heading="").phase("sampling") as progress:
        for step in range(1, 5):
            progress(step, 4)
    text = stream.getvalue()
    assert text.startswith("genbench: sampling\n") and "sampling:" in text  # then tqdm's bar
    quiet = io.StringIO()
    with Phases(quiet=True, stream=quiet).phase("sampling") as progress:
        assert progress is None  # a loop told nothing does nothing
    assert quiet.getvalue() == ""


def test_part_reports_a_batch_as_progress_of_the_whole():
    told = []
    second = part(lambda done, total: told.append((done, total)), 1, 3)
    second(10, 50)
    assert told == [(60, 150)]
    assert part(None, 0, 2) is None


def test_a_phase_that_reports_nothing_still_shows_its_time_running():
    """One long call (a DDPM's bound on a few examples) reports no progress: a timer thread
    shows the phase's time at most every `every` seconds (1 s at the least) until it ends."""
    stream = io.StringIO()
    with Phases(live=False, every=1.0, stream=stream).phase("likelihood") as progress:
        time.sleep(2.5)
        progress(3, 3)
    shown = lines(stream)
    assert shown[0] == "genbench: evaluating: likelihood"
    assert 1 <= len(shown[1:-1]) <= 2  # at 1 s and 2 s; a busy machine may wake it late
    assert all(re.fullmatch(r"genbench:   likelihood running, \d+ s", line) for line in shown[1:-1])
    assert re.fullmatch(r"genbench:   likelihood 3/3 \(100%\), [23] s", shown[-1])
