"""A fresh `streamlit run app.py` on a free port of 127.0.0.1, for the benches that drive the app (first_paint,
query_load, live_dag), and the browser they drive it with."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu"]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_text() -> str:
    """The 1, 5 and 15 minute load averages, as printed beside every figure."""
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def start_app(data_dir: Path | str, log_path: Path | None = None, nice: int = 0) -> tuple[subprocess.Popen, str]:
    """Start the app serving `data_dir` (no API keys, hub look-ups off) and return it once /_stcore/health answers.

    `nice` lowers the server's CPU priority: on a small machine that also runs the browser, the model's threads
    would otherwise starve the browser's renderer, which a server on its own machine does not do."""
    port = free_port()
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(data_dir), "WORKBENCH_SECRETS_TOML": str(Path(data_dir) / "none.toml"),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=(lambda: os.nice(nice)) if nice else None,
    )
    url = f"http://127.0.0.1:{port}"
    where = f"; see {log_path}" if log_path else ""
    deadline = time.time() + 120
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"streamlit exited with {process.returncode}{where}")
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"streamlit did not answer /_stcore/health within 120 s{where}")


def stop_app(process: subprocess.Popen) -> None:
    """Stop the app, killing it when it does not stop within 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
