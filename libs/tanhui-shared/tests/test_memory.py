"""The allocator settings every platform process applies at start."""
from __future__ import annotations

import subprocess
import sys


def test_glibc_takes_the_allocator_settings():
    # in a child process: the settings are process-wide and would outlive this test
    probe = ("import platform; from tanhui_shared.memory import tune_malloc; "
             "print(tune_malloc(), platform.libc_ver()[0])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    applied, libc = out.stdout.split()
    assert applied == ("True" if libc == "glibc" else "False")
