"""`python -m tanhui_gateway`: the gateway as it should run in production.

uvicorn's own proxy-header handling is switched off: by default it believes X-Forwarded-For from
127.0.0.1, which would let any local client pick its rate-limit identity. The gateway decides
whom to believe itself (TANHUI_TRUSTED_PROXIES). Its HTTP protocol is uvicorn's httptools one
with a deadline and a size bound on request heads (slowclients.py); WebSockets are off (the
gateway routes none).
"""
from __future__ import annotations

import argparse
import os

import uvicorn

from tanhui_shared.logs import uvicorn_log_config

from .settings import get_settings
from .workers import SocketPerWorker


def main() -> None:
    parser = argparse.ArgumentParser(description="the tanhui gateway")
    parser.add_argument("--host", default=os.environ.get("TANHUI_GATEWAY_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("TANHUI_GATEWAY_PORT", "8000")))
    parser.add_argument("--workers", type=int,
                        default=int(os.environ.get("TANHUI_GATEWAY_WORKERS", "1")))
    args = parser.parse_args()
    settings = get_settings()
    if args.workers > 1 and settings.gateway_metrics_port is not None:
        # each worker has its own registry and cannot share one port
        parser.error("TANHUI_GATEWAY_METRICS_PORT serves one worker's metrics: with several "
                     "workers use TANHUI_METRICS_TOKEN and scrape each worker, or run one worker")
    options = dict(factory=True, host=args.host, port=args.port, workers=args.workers,
                   proxy_headers=False, access_log=False,
                   timeout_keep_alive=settings.keep_alive_timeout_s,
                   http="tanhui_gateway.slowclients:GuardedHttpToolsProtocol", ws="none",
                   # JSON from the first line, also the worker supervisor's (it loads no app)
                   log_config=uvicorn_log_config("gateway", settings.log_level))
    if args.workers > 1:  # a listening socket per worker (workers.py), not uvicorn's shared one
        SocketPerWorker(uvicorn.Config("tanhui_gateway.app:create_app", **options)).run()
    else:
        uvicorn.run("tanhui_gateway.app:create_app", **options)

if __name__ == "__main__":
    main()
