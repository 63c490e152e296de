"""Reading what WeChat prints on a group's QR card: the group's name, its member count ("(128人)")
and the validity line ("该二维码7天内(12月7日前)有效").

The OCR model (rapidocr-onnxruntime, the optional extra `huoma[ocr]`; its model files ship inside
the package, nothing is downloaded) takes hundreds of MB and a fraction of a second a picture, so
it never runs in a serving worker: `OcrService` starts one separate process on the first picture
(spawned, so it shares nothing with the worker), feeds it at most HUOMA_OCR_QUEUE pictures at once
and waits HUOMA_OCR_TIMEOUT_S for each; a process that overruns is killed and started again on
the next picture. Without the extra installed, every reading says so and decoding still works.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("huoma.ocr")

OCR_PACKAGE = "rapidocr_onnxruntime"

_COUNT = re.compile(r"[(（]\s*(\d{1,6})\s*人\s*[)）]")
_VALIDITY = re.compile(r"\d{1,2}\s*月\s*\d{1,2}\s*[日号]")
# Lines of the card that are WeChat's own words, never the group's name.
_CHROME = re.compile(
    r"二维码|有效|扫一扫|加入群聊|重新进入|更新|群聊|保存图片|微信|^\d{1,2}:\d{2}|^[\W\d_]*$"
)


def available() -> bool:
    """Whether the optional OCR extra is installed."""
    return importlib.util.find_spec(OCR_PACKAGE) is not None


@dataclass(frozen=True, slots=True)
class CardReading:
    """What OCR read of a card; `status` says why there is nothing when there is nothing."""

    status: str  # read | not_installed | busy | timeout | failed | typed
    name: str | None = None
    member_count: int | None = None
    validity_line: str | None = None
    lines: tuple[str, ...] = ()

    @classmethod
    def absent(cls) -> CardReading:
        return cls("not_installed")

    @classmethod
    def skipped(cls, why: str) -> CardReading:
        return cls(why)

    def as_dict(self) -> dict[str, Any]:
        messages = {
            "read": None,
            "typed": "已填写全部信息，未识别图片文字 / every value was typed: no text was read",
            "not_installed": "未安装文字识别（huoma[ocr]），请手动填写群名、人数 / text "
            "recognition (huoma[ocr]) is not installed: type the name and member count",
            "busy": "文字识别繁忙，请手动填写或稍后再试 / text recognition is busy: type the "
            "values or try again",
            "timeout": "文字识别超时，请手动填写 / text recognition timed out: type the values",
            "failed": "文字识别失败，请手动填写 / text recognition failed: type the values",
        }
        return {
            "status": self.status,
            "message": messages.get(self.status),
            "name": self.name,
            "member_count": self.member_count,
            "validity_line": self.validity_line,
        }


def parse_card(lines: list[str]) -> CardReading:
    """Name, member count and validity line from a card's text lines, top to bottom. WeChat
    prints the name with the count after it ("门店福利群(128人)"), or the count on its own."""
    name: str | None = None
    count: int | None = None
    validity: str | None = None
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if validity is None and _VALIDITY.search(line) and ("有效" in line or "前" in line):
            validity = line
            continue
        m = _COUNT.search(line)
        if m is not None and count is None:
            count = int(m.group(1))
            head = line[: m.start()].strip()
            if head and name is None and not _CHROME.search(head):
                name = head[:100]
            continue
        if name is None and not _CHROME.search(line) and len(line) >= 2:
            name = line[:100]
    return CardReading("read", name, count, validity, tuple(lines))


# ---- the child process --------------------------------------------------------------------------

_engine: Any = None


def _read_lines(data: bytes) -> list[str]:
    """In the OCR process: the picture's text lines, top to bottom (the model loads once)."""
    global _engine
    if _engine is None:
        from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-not-found,import-untyped,unused-ignore]

        _engine = RapidOCR()
    result, _ = _engine(data)
    if not result:
        return []
    # Each item: (box of 4 points, text, score); top to bottom, then left to right.
    items = sorted(result, key=lambda r: (round(r[0][0][1] / 12), r[0][0][0]))
    return [str(r[1]) for r in items]


class OcrService:
    """One OCR process for this worker, started on demand; at most `queue` pictures at once."""

    def __init__(self, *, timeout_s: float, queue: int) -> None:
        self.timeout_s = timeout_s
        self.queue = queue
        self._waiting = 0
        self._pool: ProcessPoolExecutor | None = None
        self.installed = available()

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            )
        return self._pool

    def _kill(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    async def read(self, data: bytes) -> CardReading:
        if not self.installed:
            return CardReading.absent()
        if self._waiting >= self.queue:
            return CardReading("busy")
        self._waiting += 1
        try:
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(self._executor(), _read_lines, data)
            lines = await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            log.warning("ocr: no reading within %.1f s; restarting the OCR process", self.timeout_s)
            self._kill()
            return CardReading("timeout")
        except BrokenProcessPool:
            log.warning("ocr: the OCR process died; it is started again on the next picture")
            self._kill()
            return CardReading("failed")
        except Exception:
            log.exception("ocr: reading failed")
            return CardReading("failed")
        finally:
            self._waiting -= 1
        return parse_card(lines)

    def close(self) -> None:
        self._kill()
