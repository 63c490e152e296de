"""Time from navigation to a visible, loaded group QR code in headless Chromium (loopback).

Not a test: prints figures. Bounded: RUNS page loads. Needs a running Huoma (e.g. `huoma demo`)
and Debian's chromium.

    .venv/bin/python loadtest/page_timing.py http://127.0.0.1:8080 31.2304 121.4737
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from playwright.async_api import async_playwright

from geo.coords import gcj02_to_wgs84

RUNS = 20
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


async def main(base: str, lat: float, lng: float) -> None:
    wlat, wlng = gcj02_to_wgs84(lat, lng)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        times = []
        wire = 0
        for i in range(RUNS):
            context = await browser.new_context(
                viewport={"width": 375, "height": 667},
                geolocation={"latitude": wlat, "longitude": wlng, "accuracy": 20},
                permissions=["geolocation"],
            )
            page = await context.new_page()
            sizes: list[int] = []

            async def on_response(r: object, sizes: list[int] = sizes) -> None:
                body = await r.body()  # type: ignore[attr-defined]
                sizes.append(len(body))

            page.on("response", on_response)
            started = time.perf_counter()
            await page.goto(f"{base}/s/timing-{i}")
            qr = page.locator("#qr")
            await qr.wait_for(state="visible")
            # The page's CSP forbids the eval behind wait_for_function: poll the image instead.
            while not await qr.evaluate("el => el.complete && el.naturalWidth > 0"):  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            times.append((time.perf_counter() - started) * 1000)
            await page.wait_for_timeout(50)
            wire = max(wire, sum(sizes))
            await context.close()
        await browser.close()
    times.sort()
    print(
        f"navigation -> QR visible over {RUNS} loads: median {statistics.median(times):.0f} ms, "
        f"p90 {times[int(RUNS * 0.9) - 1]:.0f} ms, min {times[0]:.0f} ms"
    )
    print(f"bytes fetched by one page view (page, script, style, API answer, QR image): {wire}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3])))
