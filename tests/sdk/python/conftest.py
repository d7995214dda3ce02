"""Starts `orrery-runtime dev` on a free loopback port with a fresh data dir for each test module."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest


def _binary() -> Path:
    root = Path(__file__).resolve().parents[3]
    target = Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
    exe = target / "debug" / "orrery-runtime"
    if not exe.exists():
        pytest.fail(f"{exe} is missing: build the workspace first (cargo build --workspace --exclude orrery-ui)")
    return exe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def url():
    data_dir = tempfile.mkdtemp(prefix="orrery-sdk-")
    port = _free_port()
    proc = subprocess.Popen(
        [str(_binary()), "dev", "--port", str(port), "--data-dir", data_dir],
        env={**os.environ, "RUST_LOG": "warn"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/ok", timeout=1).read()
                break
            except OSError:
                time.sleep(0.025)
        else:
            pytest.fail("orrery-runtime did not answer /ok within 5 s")
        yield base
    finally:
        proc.kill()
        proc.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)
