"""Cold start to first answered request, and idle memory, for `uxwizz.py serve` on SQLite.

Baseline measured in the same run: a bare `python -c "import waitress; serve 204"` process, so
the figures read as "uxwizz costs X on top of Python + waitress on this machine".
Targets (issue #2): cold start ≤ 1.5 s, idle RSS ≤ 60 MB. `serve` forks a flush worker, so the idle
memory is that of the process tree: the PSS sum (shared pages split, what the machine spends) is
held to the target; the RSS of each process is printed too.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.procmem import tree_mb  # noqa: E402
from core.config import load_settings  # noqa: E402
from installer.setup import InstallRequest, perform_install  # noqa: E402
from tests.support import free_port  # noqa: E402

RUNS = 5
BARE = (
    "import sys, waitress\n"
    "def app(environ, start_response):\n"
    "    start_response('204 No Content', [])\n"
    "    return [b'']\n"
    "waitress.serve(app, host='127.0.0.1', port=int(sys.argv[1]), _quiet=True)\n"
)


def measure(command: list[str], url_path: str) -> tuple[float, float, list[float]]:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([*command, str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{url_path}", timeout=1)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"{command} exited with {proc.returncode}") from None
                time.sleep(0.005)
        first_answer = time.perf_counter() - started
        time.sleep(2.0)  # let background threads (scheduler, flusher) settle: "idle"
        pss, _rss_sum, each = tree_mb(proc.pid)
        return first_answer, pss, each
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(environ={"UXWIZZ_CONFIG": os.path.join(tmp, "config.ini")})
        perform_install(settings, InstallRequest(f"sqlite:///{tmp}/uxwizz.db", "admin", "bench-password", "example.com"))
        config = os.path.join(tmp, "config.ini")
        results = {}
        for label, command, path in (
            ("bare waitress", [sys.executable, "-c", BARE], "/"),
            ("uxwizz serve", [sys.executable, "uxwizz.py", "serve", "--config", config, "--port"], "/healthz"),
        ):
            samples = [measure(command, path) for _ in range(RUNS)]
            results[label] = (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples))
            each = " + ".join(f"{mb:.1f}" for mb in samples[-1][2])
            print(f"{label:<14} cold start to first answer: {results[label][0] * 1000:7.0f} ms   "
                  f"idle PSS of the process tree: {results[label][1]:5.1f} MB (RSS per process: {each} MB)   "
                  f"(median of {RUNS})")
        start, rss = results["uxwizz serve"]
        base_start, base_rss = results["bare waitress"]
        print(f"ratio vs bare waitress: start x{start / base_start:.2f}, memory x{rss / base_rss:.2f}")
        print(f"targets: start <= 1500 ms: {'OK' if start <= 1.5 else 'MISSED'}; "
              f"idle memory (PSS sum) <= 60 MB: {'OK' if rss <= 60 else 'MISSED'}")


if __name__ == "__main__":
    main()
