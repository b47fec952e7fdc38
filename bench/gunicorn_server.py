"""gunicorn started as `make run` starts it, on a free loopback port, for the bench scripts."""

import http.client
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def embedded_settings(data_dir: str, password: str, **overrides: str) -> dict:
    """A deployment's settings (not local mode) on an embedded store in data_dir, quiet logs."""
    return {
        "DB_CONNECTION_STR": "",
        "DATA_DIR": data_dir,
        "ADMIN_PASSWORD": password,
        "SECRET_KEY": "bench-secret",
        "LOCAL_MODE": "0",
        "LOG_LEVEL": "WARNING",
        **overrides,
    }


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """A context manager: gunicorn.conf.py + wsgi:app with these settings; stopped on exit."""

    def __init__(self, settings: dict, *arguments: str):
        """`arguments`: extra gunicorn command-line options (they override gunicorn.conf.py)."""
        self.arguments = arguments
        self.port = free_port()
        self.environment = {
            "LOCAL_MODE": "1",
            **settings,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "PATH": str(Path(sys.executable).parent),
        }
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "-c",
                "gunicorn.conf.py",
                *self.arguments,
                "wsgi:app",
            ],
            cwd=ROOT,
            env=self.environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise SystemExit("gunicorn did not answer within 30 s")

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def worker_memory_mb(self, field: str = "VmHWM") -> float:
        """VmHWM (peak) or VmRSS (now) of the worker, the master's only child (Linux /proc)."""
        pid = self.process.pid
        child = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0]
        status = Path(f"/proc/{child}/status").read_text()
        line = next(item for item in status.splitlines() if item.startswith(field))
        return int(line.split()[1]) / 1024
