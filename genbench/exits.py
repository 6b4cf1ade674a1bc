"""How a genbench process ends: its exit code, and one line on stderr when something went wrong.

Every user error (GenbenchError) becomes one line and exit code 2, with no traceback. An
unexpected error (a bug) exits with code 1 and one line saying where its full traceback was
saved. The CLI and the suite's run processes both end this way.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from genbench.errors import GenbenchError

EXIT_USAGE = 2
EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a reader that stopped early


def guarded(command: Callable[[], int], argv: list[str] | None = None) -> int:
    """Call `command` and return its exit code, turning what it raises into one line and a code;
    `argv` is the command line a saved traceback is filed under."""
    try:
        return command()
    except GenbenchError as e:
        print(f"genbench: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("genbench: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader stopped early (genbench results | head): not an error
        with contextlib.suppress(OSError, ValueError):  # nothing left to flush at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as error:  # a bug, not bad input: keep the traceback, print one line
        try:
            where = f"full traceback in {save_traceback(error, argv)}"
        except OSError as unsaved:
            where = f"its traceback could not be saved: {one_line(unsaved)}"
        print(
            f"genbench: internal error ({type(error).__name__}: {one_line(error)}); {where}",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def one_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an error's message, shortened to `limit` characters."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def save_traceback(error: BaseException, argv: list[str] | None = None) -> Path:
    """Write the full traceback of `error`, after the command line, to a new file under the
    temporary folder's genbench-errors/ and return its path."""
    directory = Path(tempfile.gettempdir()) / "genbench-errors"
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = directory / f"{stamp}-{os.getpid()}.txt"
    text = "".join(traceback.format_exception(error))
    command = " ".join(sys.argv[1:] if argv is None else argv)
    path.write_text(f"genbench {command}\n\n{text}")
    return path
