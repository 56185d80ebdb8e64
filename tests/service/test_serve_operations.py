"""Running ``siamkit serve`` for weeks: stopping it as systemd does, backing up its gallery."""

from __future__ import annotations

import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from _service_helpers import free_port, make_model, pattern, png_bytes

import siamkit

pytest.importorskip("uvicorn")


def _wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(url + "health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("serve did not answer /health in time")


@contextmanager
def _serving(
    gallery: Path, stdout: int = subprocess.PIPE
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """``siamkit serve`` of a new model (saved beside ``gallery``) with ``gallery`` on a free
    port, in a process of its own, and the port; the process is killed if it is still running
    at the end."""
    model = siamkit.save_model(make_model(), gallery.parent / "model")
    port = free_port()
    cmd = [sys.executable, "-m", "siamkit", "serve", str(model), "--gallery", str(gallery)]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)], stdout=stdout, stderr=subprocess.PIPE, text=True
    )
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_stops_serve_cleanly_with_status_0(tmp_path: Path) -> None:
    """systemctl stop sends SIGTERM: serve finishes, says it stopped and exits 0 (it said
    "interrupted (SIGTERM) before the command finished; run it again" and exited 143, so
    systemd recorded every stop as a failed unit)."""
    gallery = tmp_path / "g.db"
    with _serving(gallery) as (proc, port):
        _wait_healthy(f"http://127.0.0.1:{port}/", proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "run it again" not in err
    assert err.strip().splitlines()[-1].startswith("siamkit serve stopped (SIGTERM)")
    assert not Path(f"{gallery}-wal").exists()  # closed: its log checkpointed into g.db


@pytest.mark.slow  # a serve process for ~8 s
def test_a_second_sigterm_while_serve_ends_keeps_its_status_0(tmp_path: Path) -> None:
    """serve's 0 answers the SIGTERM that stopped it; a second one, arriving while the process
    ends (its atexit callbacks: an index rebuild joined, here a slow one of the test's), ended it
    with 143, as if it had finished by itself and not been stopped."""
    import textwrap

    model = siamkit.save_model(make_model(), tmp_path / "model")
    port = free_port()
    program = textwrap.dedent(
        f"""
        import atexit, sys, time
        atexit.register(lambda: (print("ending", file=sys.stderr, flush=True), time.sleep(30)))
        from siamkit.cli.main import main
        sys.argv = ["siamkit", "serve", {str(model)!r}, "--port", "{port}"]
        main()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", program], stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(90, proc.kill)
    watchdog.start()
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/", proc)
        proc.send_signal(signal.SIGTERM)
        said = []
        for line in proc.stderr or ():
            said.append(line)
            if line.startswith("ending"):
                proc.send_signal(signal.SIGTERM)  # the atexit callback sleeps 30 s
                break
        second = time.monotonic()
        said.append(proc.communicate(timeout=60)[1])
        ended_in = time.monotonic() - second
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = "".join(said)
    assert "siamkit serve stopped (SIGTERM)" in err and "ending" in err
    assert proc.returncode == 0, err
    assert ended_in < 20  # at once, not after the callback's 30 s


def test_the_stop_line_says_it_closed_the_gallery_only_when_it_served_one() -> None:
    """Serve without --gallery said "and closed the gallery" when stopped, as if it had one."""
    from siamkit.cli.serve_cmd import stopped_line

    assert "gallery" not in stopped_line("SIGTERM", None)
    assert stopped_line("Ctrl-C", None) == (
        "siamkit serve stopped (Ctrl-C): it answered the requests in progress and took no new ones"
    )
    assert stopped_line("SIGTERM", "g.db").endswith(
        "(SIGTERM): it answered the requests in progress, took no new ones and closed the gallery"
    )


@pytest.mark.slow  # a serve process for ~10 s
def test_a_slow_request_in_flight_at_sigterm_is_answered_and_kept(tmp_path: Path) -> None:
    """A request still uploading when SIGTERM arrives is finished and stored before exit."""
    import socket

    from _service_helpers import pattern, png_bytes

    gallery = tmp_path / "g.db"
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="label"\r\n\r\nlate\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    body = head + png_bytes(pattern("disc")) + f"\r\n--{boundary}--\r\n".encode()
    answer: list[bytes] = []
    with _serving(gallery) as (proc, port):
        _wait_healthy(f"http://127.0.0.1:{port}/", proc)
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(
                f"POST /enroll HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: "
                f"multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n"
                "\r\n".encode()
                + body[:40]
            )
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            assert proc.poll() is None  # waiting for the request in progress
            conn.sendall(body[40:])
            conn.settimeout(30)
            reader = threading.Thread(target=lambda: answer.append(conn.recv(65536)))
            reader.start()
            reader.join(35)
        _, err = proc.communicate(timeout=60)
    assert answer and answer[0].startswith(b"HTTP/1.1 201"), answer
    assert proc.returncode == 0, err
    with siamkit.index.Gallery.open(gallery, make_model()) as g:
        assert "late" in g


README = Path(__file__).resolve().parents[2] / "README.md"


def _for_weeks_lines(start: str) -> list[str]:
    """The lines of README's "Running it for weeks" (under "Serving") that start with ``start``."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n### Running it for weeks", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.strip().startswith(start)]


def _client(gallery: Path, model: object) -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.service import create_app

    return TestClient(create_app(model, gallery), raise_server_exceptions=False)


def _items(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])
        except sqlite3.OperationalError:  # no such table: the schema is still in the log
            return 0


def _as_run_here(line: str) -> str:
    """A README ``siamkit ...`` line run with this interpreter's siamkit (no PATH needed)."""
    assert line.startswith("siamkit "), line
    return f"{shlex.quote(sys.executable)} -m {line}"


def test_readme_backup_while_serving_copies_what_cp_misses(tmp_path: Path) -> None:
    """README's backup line, run as written next to a serving gallery, holds every enrollment
    (still in shop.db-wal, which a plain copy of shop.db misses) and their thumbnails; the
    crash bullet's check of the gallery ends ``ok``."""
    from _service_helpers import pattern, png_bytes

    (backup_line,) = _for_weeks_lines("siamkit gallery backup shop.db")
    (check_line,) = [
        line.split("`")[1]
        for line in _for_weeks_lines("")
        if "`siamkit gallery check shop.db`" in line
    ]
    model = make_model()
    with _client(tmp_path / "shop.db", model) as client:
        for i, kind in enumerate(["stripes", "checker", "disc"]):
            files = [("files", (f"{kind}.png", png_bytes(pattern(kind))))]
            assert client.post("/enroll", data={"label": f"l{i}"}, files=files).status_code == 201
        shutil.copy(tmp_path / "shop.db", tmp_path / "cp.db")
        (tmp_path / "backup").mkdir()
        subprocess.run(_as_run_here(backup_line), shell=True, cwd=tmp_path, check=True)
        checked = subprocess.run(
            _as_run_here(check_line),
            shell=True,
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        )
        assert client.get("/health").json()["status"] == "ok"  # still serving
    assert checked.stdout.strip().splitlines()[-1] == "ok"
    assert "num_items          3" in checked.stdout
    assert _items(tmp_path / "cp.db") < 3  # why the README warns against cp
    with siamkit.index.Gallery.open(tmp_path / "backup" / "shop.db", model) as restored:
        assert sorted(i.label for i in restored.labels()) == ["l0", "l1", "l2"]
    with sqlite3.connect(tmp_path / "backup" / "shop.db.thumbs") as thumbs:
        assert thumbs.execute("SELECT COUNT(*) FROM thumbnails").fetchone()[0] == 3


def test_two_services_on_one_gallery_see_each_others_writes(tmp_path: Path) -> None:
    """README: two services (and siamkit gallery) on one gallery file see each other's
    enrollments and removals at their next request."""
    from _service_helpers import pattern, png_bytes

    model = make_model()
    gallery = tmp_path / "shop.db"
    image = png_bytes(pattern("disc"))
    with _client(gallery, model) as a, _client(gallery, model) as b:
        assert b.get("/gallery").json()["labels"] == []
        files = [("files", ("disc.png", image))]
        assert a.post("/enroll", data={"label": "alice"}, files=files).status_code == 201
        found = b.post("/identify", files={"file": ("q.png", image)}).json()
        assert found["matches"][0]["label"] == "alice"
        with siamkit.index.Gallery.open(gallery, model) as beside:  # siamkit gallery ... remove
            beside.remove("alice")
        assert a.get("/gallery").json()["labels"] == []
        assert b.post("/identify", files={"file": ("q.png", image)}).json()["matches"] == []


def test_health_answers_head_as_monitors_send_it(tmp_path: Path) -> None:
    """Uptime monitors and balancers that check with HEAD /health got 405 and marked the
    service down; HEAD answers 200 (no body), GET as before, and /docs lists GET alone."""
    with _client(tmp_path / "shop.db", make_model()) as client:
        head = client.head("/health")
        assert (head.status_code, head.content) == (200, b"")
        assert client.get("/health").json()["status"] == "ok"
        assert list(client.get("/openapi.json").json()["paths"]["/health"]) == ["get"]


@pytest.mark.slow  # a serve process for ~10 s
def test_kill_9_during_an_enroll_burst_keeps_every_answered_item(tmp_path: Path) -> None:
    """README: after kill -9 in the middle of enrollments, every answered item is stored, the
    file checks ok, and no thumbnail is left without its item (an item may lack one)."""
    import json

    from _service_helpers import pattern, png_bytes

    gallery = tmp_path / "shop.db"
    url = ""  # once it serves
    answered: list[int] = []
    stop = threading.Event()

    def enroll(worker: int) -> None:
        for n in range(10_000):
            if stop.is_set():
                return
            image = png_bytes(pattern("noise", seed=worker * 100_000 + n))
            boundary = "b0undary"
            body = (
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="label"\r\n\r\nw{worker}\r\n'
                    f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{n}.png"'
                    "\r\nContent-Type: image/png\r\n\r\n"
                ).encode()
                + image
                + f"\r\n--{boundary}--\r\n".encode()
            )
            request = urllib.request.Request(
                url + "enroll",
                data=body,
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    answered.extend(json.load(answer)["item_ids"])
            except OSError:
                return  # killed

    with _serving(gallery, stdout=subprocess.DEVNULL) as (proc, port):
        url = f"http://127.0.0.1:{port}/"
        _wait_healthy(url, proc)
        workers = [threading.Thread(target=enroll, args=(w,)) for w in range(3)]
        for w in workers:
            w.start()
        deadline = time.monotonic() + 30
        while len(answered) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.kill()  # SIGKILL, mid-burst
        proc.wait()
        stop.set()
        for w in workers:
            w.join(15)
    assert len(answered) >= 20
    with sqlite3.connect(gallery) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        items = {row[0] for row in conn.execute("SELECT id FROM items")}
    with sqlite3.connect(f"{gallery}.thumbs") as conn:
        thumbs = {row[0] for row in conn.execute("SELECT item_id FROM thumbnails")}
    assert set(answered) <= items
    assert thumbs <= items
    assert len(items - thumbs) <= 3  # at most the enrollments cut between their two files


def test_the_search_index_is_built_before_the_service_answers(tmp_path: Path) -> None:
    """After a restart the first /identify built the index from the whole gallery (seconds for
    a large one), holding it and the requests queued behind it while /health said ok; the
    service now builds it when it starts, so the first /identify reads no embeddings."""
    import numpy as np

    model = make_model()
    with siamkit.index.Gallery.open(tmp_path / "shop.db", model) as gallery:
        gallery.enroll_embeddings("a", np.eye(16, dtype=np.float32)[:3])
    with _client(tmp_path / "shop.db", model) as client:
        store = client.app.state.engine.gallery._store

        def reading(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the first /identify loaded the gallery's embeddings")

        store.load = reading
        png = png_bytes(pattern("disc"))
        answer = client.post("/identify", files={"file": ("q.png", png)})
        assert answer.status_code == 200, answer.text
        assert answer.json()["matches"][0]["label"] == "a"
