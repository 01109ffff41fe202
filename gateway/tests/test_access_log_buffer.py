"""The access log's handler: the lines of a moment go out together, shortly after, in writes small
enough to stay whole on a pipe that several workers share; none is lost or reordered."""
from __future__ import annotations

import asyncio
import io
import logging
from concurrent.futures import ThreadPoolExecutor

from tanhui_gateway.observability import BufferedLines
from tanhui_shared.testing.coroutines import run_coroutine


class _Stream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def _logger(stream: _Stream) -> logging.Logger:
    logger = logging.getLogger(f"test-buffered-{id(stream)}")
    logger.handlers[:] = [BufferedLines(stream, logging.Formatter("%(message)s"), delay_s=0.05)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_lines_of_a_moment_are_written_together_whole_and_in_order():
    stream = _Stream()
    logger = _logger(stream)

    async def burst() -> None:
        for n in range(50):
            logger.info("line %d %s", n, "x" * 300)
        assert stream.writes == []  # held for the moment
        await asyncio.sleep(0.2)

    run_coroutine(burst())  # not asyncio.run: another test's loop may be running here
    assert 1 < len(stream.writes) < 50
    assert all(len(text.encode()) <= 4096 and text.endswith("\n") for text in stream.writes)
    assert [line.split()[1] for line in stream.getvalue().splitlines()] == \
        [str(n) for n in range(50)]


def test_a_line_logged_outside_an_event_loop_is_written_at_once():
    stream = _Stream()
    # in a thread of its own: this one may carry another test's running loop
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_logger(stream).info, "no loop here").result()
    assert stream.getvalue() == "no loop here\n"
