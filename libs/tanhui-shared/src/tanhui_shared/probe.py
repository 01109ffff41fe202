"""`python -m tanhui_shared.probe URL`: exit 0 when URL answers 2xx within 3 s, else 1.

Container healthchecks run this, because the slim image has no curl or wget.
"""
from __future__ import annotations

import sys
import urllib.error
import urllib.request


def answers(url: str, timeout_s: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - probe URL from config
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tanhui_shared.probe http://127.0.0.1:8101/healthz")
    ok = answers(sys.argv[1])
    print(f"{sys.argv[1]}: {'healthy' if ok else 'not answering 2xx'}", file=sys.stderr)
    sys.exit(0 if ok else 1)
