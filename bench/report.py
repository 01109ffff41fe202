"""Gather bench/results/*.md into bench/RESULTS.md with the machine's facts (run by `make bench`)."""
from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).parent
ORDER = ["trip_ingestion", "retirements", "gateway_proxy", "tracing", "backbone", "city_scale"]


def main() -> None:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    postgres = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    parts = [f"""# Benchmark results

Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Machine: {cpu}, {os.cpu_count()} cores,
{memory_gib:.0f} GiB; Python {platform.python_version()}; {postgres}. Every process (load generator,
servers, brokers) shares these cores, so each figure is a median of repeated runs with its spread,
and comparisons are ratios measured side by side in one run.
"""]
    for name in ORDER:
        result = HERE / "results" / f"{name}.md"
        if result.exists():
            parts.append(result.read_text().replace("\n# ", "\n## ").replace("# ", "## ", 1))
    (HERE / "RESULTS.md").write_text("\n".join(parts))
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
