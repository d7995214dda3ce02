"""Starts `orrery-runtime dev` on a free loopback port with a fresh data dir for each test module,
once on SQLite and once on a PostgreSQL database of its own (created and dropped here)."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
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


PROVIDER_KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")
PG_BASE = os.environ.get("ORRERY_TEST_PG", "postgres://postgres@127.0.0.1:5432")


def _psql(sql: str) -> None:
    subprocess.run(["psql", f"{PG_BASE}/postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def url(request):
    data_dir = tempfile.mkdtemp(prefix="orrery-sdk-")
    port = _free_port()
    # Neither the developer's database nor their provider keys (with one, the bundled Jarvis
    # example would use a real provider).
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URI", *PROVIDER_KEYS)}
    env["RUST_LOG"] = "warn"
    db = None
    if request.param == "postgres":
        db = f"orrery_sdk_{uuid.uuid4().hex}"
        _psql(f"CREATE DATABASE {db}")
        env["DATABASE_URI"] = f"{PG_BASE}/{db}"
    proc = subprocess.Popen(
        [str(_binary()), "dev", "--port", str(port), "--data-dir", data_dir],
        env=env,
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
        if db:
            _psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
