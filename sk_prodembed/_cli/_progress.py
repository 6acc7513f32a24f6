"""What the command line tells the person running it: stage lines, epochs, errors.

Progress goes to stderr, so that the results on stdout (a report, or
recommendations written to ``-``) stay clean for a pipe.
"""

import contextlib
import io
import re
import sys
import time


class CommandError(Exception):
    """A bad input or option: printed as one line, without a traceback."""


class Progress:
    """Stage lines such as ``Reading products.csv ...`` and their outcome, unless quiet."""

    def __init__(self, quiet=False, stream=None):
        self.quiet = quiet
        self.stream = sys.stderr if stream is None else stream

    def line(self, message):
        if not self.quiet:
            print(message, file=self.stream, flush=True)

    @contextlib.contextmanager
    def stage(self, message):
        """Announce a stage, then say what it produced and how long it took.

        The body may set ``outcome.text`` (for example ``"1,000 rows"``).
        """
        self.line(f"{message} ...")
        outcome = _Outcome()
        start = time.perf_counter()
        yield outcome
        seconds = time.perf_counter() - start
        self.line(f"  {outcome.text or 'done'} in {seconds:.1f} s")

    @contextlib.contextmanager
    def epochs(self, max_iter):
        """Relay an estimator's verbose epoch lines as ``epoch k/N: ...``."""
        if self.quiet:
            yield
            return
        relay = _EpochRelay(self, max_iter)
        with contextlib.redirect_stdout(relay):
            yield
        relay.flush_pending()


class _Outcome:
    text = ""


# The engine's verbose line: "Epoch 3: loss = 0.123456, 0.25 s".
_EPOCH_LINE = re.compile(r"^Epoch (\d+): (.*)$")


class _EpochRelay(io.TextIOBase):
    def __init__(self, progress, max_iter):
        self.progress = progress
        self.max_iter = max_iter
        self._pending = ""

    def writable(self):
        return True

    def write(self, text):
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            self._relay(line)
        return len(text)

    def flush_pending(self):
        if self._pending:
            self._relay(self._pending)
            self._pending = ""

    def _relay(self, line):
        match = _EPOCH_LINE.match(line)
        if match:
            # max_iter="auto" has no fixed number of epochs to show.
            of = f"/{self.max_iter}" if isinstance(self.max_iter, int) else ""
            line = f"epoch {match[1]}{of}: {match[2]}"
        if line.strip():
            self.progress.line(f"  {line}")


def count(n, noun, plural=None):
    """``count(1, "row")`` -> ``"1 row"``, ``count(1200, "row")`` -> ``"1,200 rows"``."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
