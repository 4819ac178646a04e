"""A local stand-in for the Hugging Face Hub's upload API, for `push_to_hub` tests offline.

It answers the three calls `huggingface_hub` makes to upload small files (create the repo,
ask each file's upload mode, commit the files inline as base64) over real HTTP on loopback,
keeps what was uploaded in memory, and records every request's Authorization header and
path so tests can check which token was sent.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeHub:
    """Start with `with FakeHub() as hub:`; point `HF_ENDPOINT` at `hub.endpoint`."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, bytes]] = {}  # repo id -> path -> content
        self.created: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, str]] = []  # (method, path, authorization)
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                hub.requests.append(("POST", self.path, self.headers.get("Authorization", "")))
                if self.path == "/api/repos/create":
                    payload = json.loads(body)
                    hub.created.append(payload)
                    repo = f"{payload.get('organization') or 'user'}/{payload['name']}"
                    hub.files.setdefault(repo, {})
                    self._reply(200, {"url": f"{hub.endpoint}/{repo}"})
                    return
                if self.path == "/api/validate-yaml":  # the model card's front matter
                    self._reply(200, {"errors": [], "warnings": []})
                    return
                parts = self.path.split("/")  # /api/models/<ns>/<name>/<action>/<revision>
                if len(parts) >= 7 and parts[1:3] == ["api", "models"]:
                    repo, action = f"{parts[3]}/{parts[4]}", parts[5]
                    if action == "preupload":
                        files = json.loads(body)["files"]
                        modes = [
                            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                            for f in files
                        ]
                        self._reply(200, {"files": modes})
                        return
                    if action == "commit":
                        stored = hub.files.setdefault(repo, {})
                        for line in body.decode().splitlines():
                            item = json.loads(line)
                            if item.get("key") == "file":
                                value = item["value"]
                                stored[value["path"]] = base64.b64decode(value["content"])
                        self._reply(
                            200,
                            {
                                "commitUrl": f"{hub.endpoint}/{repo}/commit/0123456789abcdef",
                                "commitOid": "0123456789abcdef0123456789abcdef01234567",
                            },
                        )
                        return
                self._reply(404, {"error": f"fake hub: no route for POST {self.path}"})

            def do_GET(self) -> None:
                hub.requests.append(("GET", self.path, self.headers.get("Authorization", "")))
                self._reply(404, {"error": f"fake hub: no route for GET {self.path}"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
