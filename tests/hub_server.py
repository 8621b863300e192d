"""A small dataset hub served on 127.0.0.1 for the ``umeval data`` tests (test support, not product code).

It answers what the installed ``huggingface_hub`` client asks for a dataset repository (read from its sources,
version 2.4): ``GET /api/datasets/<repo>[/revision/<rev>]`` (repo info; ``blobs=True`` adds sizes and LFS
hashes to ``siblings``), ``GET /api/datasets/<repo>/tree/<rev>[/<path>]`` (the listing ``snapshot_download``
reads, every file with ``size``, ``oid`` and ``lfs``), and ``HEAD``/``GET /datasets/<repo>/resolve/<rev>/<path>``
with ``ETag`` (the SHA-256), ``X-Repo-Commit``, ``Content-Length`` and ``Range`` requests (206) for resuming.
Every file is served as an LFS file.  ``cut_once`` names files whose first full GET sends the headers and half
the body, then drops the connection.  ``log`` records every request (method, path, Range header).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


class Hub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.cut_once: set[str] = set()
        self.log: list[tuple[str, str, str | None]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ content
    def add(self, repo: str, path: str, data: bytes) -> None:
        self.repos.setdefault(repo, {})[path] = data

    def commit(self, repo: str) -> str:
        h = hashlib.sha1()
        for p, d in sorted(self.repos[repo].items()):
            h.update(p.encode() + hashlib.sha256(d).digest())
        return h.hexdigest()

    def downloads(self) -> list[str]:
        """Paths of file bodies served (GET on resolve URLs)."""
        return [p for m, p, _ in self.log if m == "GET" and "/resolve/" in p]

    # ------------------------------------------------------------ server
    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Hub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                hub._handle(self, head=True)

            def do_GET(self) -> None:
                hub._handle(self, head=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ------------------------------------------------------------ handlers
    def _json(self, h: BaseHTTPRequestHandler, obj: object, status: int = 200, repo: str | None = None) -> None:
        body = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        if repo:
            h.send_header("X-Repo-Commit", self.commit(repo))
        h.end_headers()
        h.wfile.write(body)

    def _entry(self, path: str, data: bytes) -> dict[str, object]:
        sha = hashlib.sha256(data).hexdigest()
        return {"type": "file", "path": path, "size": len(data), "oid": hashlib.sha1(data).hexdigest(),
                "lfs": {"oid": sha, "size": len(data), "pointerSize": 130}}

    def _handle(self, h: BaseHTTPRequestHandler, *, head: bool) -> None:
        url = urlsplit(h.path)
        path = unquote(url.path)
        with self._lock:
            self.log.append(("HEAD" if head else "GET", path, h.headers.get("Range")))
        m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
        if m and m.group(1) in self.repos:
            repo = m.group(1)
            files = self.repos[repo]
            siblings = [{"rfilename": p, "size": len(d), "blobId": hashlib.sha1(d).hexdigest(),
                         "lfs": {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d), "pointerSize": 130}}
                        for p, d in sorted(files.items())]
            return self._json(h, {"id": repo, "sha": self.commit(repo), "private": False, "siblings": siblings})
        m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?", path)
        if m and m.group(1) in self.repos:
            prefix = (m.group(3) or "").strip("/")
            entries = [self._entry(p, d) for p, d in sorted(self.repos[m.group(1)].items())
                       if not prefix or p.startswith(prefix + "/")]
            return self._json(h, entries, repo=m.group(1))
        m = re.fullmatch(r"/datasets/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if m and m.group(1) in self.repos and m.group(3) in self.repos[m.group(1)]:
            return self._file(h, m.group(1), m.group(3), head=head)
        self._json(h, {"error": "not found"}, status=404)

    def _file(self, h: BaseHTTPRequestHandler, repo: str, name: str, *, head: bool) -> None:
        data = self.repos[repo][name]
        start = 0
        rng = h.headers.get("Range")
        if rng:
            start = int(re.fullmatch(r"bytes=(\d+)-(\d*)", rng).group(1))  # type: ignore[union-attr]
        body = data[start:]
        h.send_response(206 if rng else 200)
        h.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        h.send_header("X-Repo-Commit", self.commit(repo))
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Length", str(len(body)))
        if rng:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.end_headers()
        if head:
            return
        with self._lock:
            cut = not rng and name in self.cut_once
            self.cut_once.discard(name)
        if cut:
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(2)  # the client sees the body end early
            return
        h.wfile.write(body)
