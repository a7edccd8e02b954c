"""Open a page in headless Chromium without a driver library: ``--dump-dom`` and ``--screenshot``.

A probe script is injected into a copy of the page; it drives the page with DOM events (the same
click handlers a user triggers) and writes what it saw, as JSON, into a hidden ``<pre>``, which
``--dump-dom`` returns. ``--virtual-time-budget`` makes Chromium run the page's scripts and timers
to completion before dumping, so there is no polling and no port to talk to. The flags keep
Chromium off the network, which on a closed network would otherwise make it hang.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--virtual-time-budget=10000",
)
PROBE_ID = "lc-probe-result"


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def run_chromium(binary: str, *args: str, timeout: float = 120) -> str:
    """One headless Chromium run with a fresh profile; stdout (the DOM for ``--dump-dom``)."""
    with tempfile.TemporaryDirectory(prefix="lc-chromium-") as profile:
        proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise AssertionError(f"chromium did not finish in {timeout:.0f} s") from None
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        if proc.returncode != 0:
            raise AssertionError(f"chromium exited {proc.returncode}: {err[-2000:]}")
        return out


def with_probe(page: Path, script: str, copy: Path) -> Path:
    """A copy of ``page`` that runs ``script`` after load; the script calls ``report(obj)``."""
    harness = (
        "<script>(function(){const errors=[];window.addEventListener('error',e=>errors.push(String(e.message)));"
        "function report(obj){obj.errors=errors;let pre=document.getElementById('" + PROBE_ID + "');"
        "if(!pre){pre=document.createElement('pre');pre.id='" + PROBE_ID + "';pre.hidden=true;"
        "document.body.appendChild(pre);}"
        "pre.textContent=JSON.stringify(obj);}"
        "window.addEventListener('load',()=>setTimeout(()=>{try{(" + script + ")(report);}"
        "catch(e){report({exception:String(e&&e.stack||e)});}},50));})();</script>"
    )
    text = page.read_text(encoding="utf-8")
    index = text.rindex("</body>")
    copy.write_text(text[:index] + harness + text[index:], encoding="utf-8")
    return copy


def probe(binary: str, page: Path) -> dict[str, Any]:
    """Load a probed page and return what its probe reported."""
    dom = run_chromium(binary, "--dump-dom", page.resolve().as_uri())
    match = re.search(rf'<pre id="{PROBE_ID}" hidden="">(.*?)</pre>', dom, re.S)
    assert match, f"the probe reported nothing; page ends with: {dom[-1500:]}"
    return json.loads(html.unescape(match.group(1)))


def screenshot(binary: str, page: Path, png: Path, size: tuple[int, int] = (1400, 2400)) -> Path:
    run_chromium(binary, f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", page.resolve().as_uri())
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"no PNG at {png}"
    return png
