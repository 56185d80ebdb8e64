"""README's curl lines for the service run as written (field names, paths, content types)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from _service_helpers import pattern, png_bytes

README = Path(__file__).resolve().parents[2] / "README.md"


def serving_curls() -> list[tuple[list[str], str]]:
    """(curl's arguments, the comment after it) of each curl line in README's "Serving"."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Serving\n", 1)[1].split("\n## ", 1)[0]
    out = []
    for line in section.splitlines():
        if line.startswith("curl "):
            command, _, comment = line.partition("  # ")
            out.append((shlex.split(command)[1:], comment.strip()))
    return out


def _request(args: list[str]) -> tuple[str, str, dict[str, object]]:
    """curl's arguments as (method, path, TestClient keyword arguments)."""
    method, data, files, headers, content = "GET", {}, [], {}, None
    url = ""
    it = iter(args)
    for arg in it:
        if arg == "-F":
            name, _, value = next(it).partition("=")
            method = "POST"
            if value.startswith("@"):
                seed = sum(map(ord, value))  # one image per file name
                files.append((name, (value[1:], png_bytes(pattern("noise", seed=seed)))))
            else:
                data[name] = value
        elif arg == "-H":
            key, _, value = next(it).partition(":")
            headers[key.strip()] = value.strip()
        elif arg == "-d":
            method, content = "POST", next(it).encode()
        elif arg == "-X":
            method = next(it)
        else:
            url = arg
    path = re.sub(r"^http://127\.0\.0\.1:8000", "", url)
    kwargs: dict[str, object] = {"headers": headers}
    if data:
        kwargs["data"] = data
    if files:
        kwargs["files"] = files
    if content is not None:
        kwargs["content"] = content
    return method, path, kwargs


def test_readme_curl_lines_run_as_written(client):
    """README named the endpoints but none of their fields; a user had to guess `files` vs
    `file` and that /recommend wants JSON."""
    lines = serving_curls()
    assert {_request(a)[1] for a, _ in lines} >= {"/enroll", "/identify", "/verify", "/recommend"}
    for args, comment in lines:
        method, path, kwargs = _request(args)
        r = client.request(method, path, **kwargs)
        assert r.status_code in (200, 201), (args, r.text)
        if comment.startswith("{") and "..." not in comment:
            assert r.json() == json.loads(comment), args
        elif comment.startswith("{"):
            for key in re.findall(r'"(\w+)":', comment):
                assert key in r.json(), (key, args)
