"""TEST DOUBLE of an OpenAI-compatible vision-language model endpoint — not a model.

It exists so that the VLM planner's whole path (request, image, answer, validation,
execution with the real primitives, cache, failures) can be tested where no model can be
run. It serves ``POST /v1/chat/completions`` on 127.0.0.1 from a thread, ignores the image,
and answers from the prompt text with a scripted plan. Every answer carries
``system_fingerprint`` = :data:`policies.vlm_client.TEST_DOUBLE_FINGERPRINT` and the model name
``tamp-vlm-test-double``, so that results obtained with it are marked "not measured".

Modes (``VLMTestDouble(mode=...)``, or set ``.mode`` later):

* ``solve``: a correct plan for goals of the forms "put the X block(s) in the Y bowl",
  "sort the blocks into the bowls of their colour", "pack all the boxes into the tray",
  "pick up the X box", "move the N disks from place A to place B"; in a closed-loop
  prompt, the steps already done are left out;
* ``fenced``: the same plan inside a Markdown ```json fence;
* ``malformed``: text that is not JSON;
* ``hallucinate``: a plan that names an object that is not in the scene;
* ``hallucinate-once``: ``hallucinate`` for the first request, then ``solve``;
* ``wrong-skill``: a plan with a skill nobody offered;
* ``http-500``: an HTTP 500 error for every request;
* ``http-400``: an HTTP 400 error (a bad request) for every request;
* ``no-vision``: as a text-only model's server: HTTP 500 "image input is not supported"
  for a request with an image (what llama.cpp answers), ``solve`` for one without;
* ``bad-body``: HTTP 200 with a body that is not JSON;
* ``empty``: an empty plan.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from policies.vlm_client import TEST_DOUBLE_FINGERPRINT

MODEL_NAME = "tamp-vlm-test-double"
MODES = ("solve", "fenced", "malformed", "hallucinate", "hallucinate-once", "wrong-skill",
         "http-500", "http-400", "no-vision", "bad-body", "empty")


def _objects(prompt: str) -> list[tuple[str, str, str]]:
    """(name, colour, category) of each object line of the prompt."""
    return re.findall(r"^- (\S+): (\S+) (\S+) \(", prompt, re.M)


def scripted_plan(prompt: str) -> list[dict]:
    """The double's plan for the goal in ``prompt`` (empty if it cannot read the goal)."""
    goal = re.search(r"^Goal: (.*)$", prompt, re.M)
    goal = goal.group(1).strip().lower() if goal else ""
    objects = _objects(prompt)
    blocks = [(n, c) for n, c, k in objects if k not in ("bowl", "tray")]
    plan: list[dict] = []
    m = re.fullmatch(r"put the (\w+) blocks? in the (\w+) bowl", goal)
    if m:
        bowl = next((n for n, c, k in objects if k == "bowl" and c == m.group(2)), None)
        plan = [{"skill": "pick_place_in", "args": [n, bowl]} for n, c in blocks
                if c == m.group(1) and bowl]
    elif goal.startswith("sort the blocks into the bowls of their colo"):
        bowls = {c: n for n, c, k in objects if k == "bowl"}
        plan = [{"skill": "pick_place_in", "args": [n, bowls[c]]} for n, c in blocks
                if c in bowls]
    elif re.fullmatch(r"pack all the boxes into the tray", goal):
        tray = next((n for n, c, k in objects if k == "tray"), None)
        plan = [{"skill": "pick_place_in", "args": [n, tray]} for n, c in blocks if tray]
    elif m := re.fullmatch(r"move the (\d+) disks from place (\d+) to place (\d+)", goal):
        plan = _hanoi(sorted(n for n, c, k in objects if k == "disk"),
                      f"place_{m.group(2)}", f"place_{m.group(3)}",
                      sorted(set(re.findall(r"^- (place_\d+):", prompt, re.M))))
    elif m := re.fullmatch(r"pick up the (\w+) (\w+)", goal):
        plan = [{"skill": "pick_up", "args": [n]} for n, c, k in objects
                if c == m.group(1) and k == m.group(2)][:1]
    done = re.findall(r"^- (\w+\([^)]*\)): done$", prompt, re.M)
    text = [f"{s['skill']}({', '.join(s['args'])})" for s in plan]
    if text[:len(done)] == done:  # the steps so far went as planned: the rest
        return plan[len(done):]
    return [s for s, t in zip(plan, text) if t not in set(done)]


def _hanoi(disks: list[str], start: str, goal: str, places: list[str]) -> list[dict]:
    """The 2^n - 1 moves, ``disks`` smallest first, each onto a place or the disk below."""
    if len(places) != 3 or start not in places or goal not in places:
        return []
    pegs = {p: [] for p in places}
    pegs[start] = list(reversed(disks))  # bottom first
    spare = next(p for p in places if p not in (start, goal))
    plan: list[dict] = []

    def move(n: int, a: str, c: str, b: str) -> None:
        if n == 0:
            return
        move(n - 1, a, b, c)
        disk = pegs[a].pop()
        plan.append({"skill": "put", "args": [disk, pegs[c][-1] if pegs[c] else c]})
        pegs[c].append(disk)
        move(n - 1, b, c, a)

    move(len(disks), start, goal, spare)
    return plan


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        double = self.server.double
        length = int(self.headers.get("Content-Length", 0))
        try:
            request = json.loads(self.rfile.read(length))
            prompt = "".join(part.get("text", "") for m in request["messages"]
                             for part in (m["content"] if isinstance(m["content"], list)
                                          else [{"text": m["content"]}]))
            images = [part for m in request["messages"] if isinstance(m["content"], list)
                      for part in m["content"] if part.get("type") == "image_url"]
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            return self._send(400, {"error": {"message": f"bad request: {err}"}})
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        with double.lock:
            double.requests.append({"prompt": prompt, "images": len(images),
                                    "authorization": self.headers.get("Authorization"),
                                    "response_format": request.get("response_format")})
            mode = double.mode
            if mode == "hallucinate-once":
                mode = "hallucinate" if len(double.requests) == 1 else "solve"
        if mode == "http-500":
            return self._send(500, {"error": {"message": "test double: internal error"}})
        if mode == "http-400":
            return self._send(400, {"error": {"message": "test double: bad request"}})
        if mode == "no-vision" and images:
            return self._send(500, {"error": {"code": 500, "type": "server_error",
                                              "message": "image input is not supported"}})
        if mode == "bad-body":
            return self._send(200, None)
        plan = scripted_plan(prompt)
        if mode == "hallucinate":
            plan = [{"skill": (plan[0]["skill"] if plan else "pick_place_in"),
                     "args": ["unicorn_block", *(plan[0]["args"][1:] if plan else ["bowl"])]}]
        elif mode == "wrong-skill":
            plan = [{"skill": "teleport", "args": [s["args"][0]]} for s in plan[:1]]
        elif mode == "empty":
            plan = []
        text = json.dumps({"plan": plan})
        if mode == "fenced":
            text = f"```json\n{text}\n```"
        elif mode == "malformed":
            text = "Sure! First pick up the red block, then put it in the bowl."
        self._send(200, {
            "id": f"chatcmpl-double-{len(double.requests)}", "object": "chat.completion",
            "model": MODEL_NAME, "system_fingerprint": TEST_DOUBLE_FINGERPRINT,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
        })

    def _send(self, code: int, body: dict | None) -> None:
        data = json.dumps(body).encode() if body is not None else b"<html>test double</html>"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    double: "VLMTestDouble"


class VLMTestDouble:
    """TEST DOUBLE endpoint on 127.0.0.1 (a free port); use as a context manager."""

    def __init__(self, mode: str = "solve"):
        if mode not in MODES:
            raise ValueError(f"unknown test-double mode '{mode}'; known: {', '.join(MODES)}")
        self.mode = mode
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the test double first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> "VLMTestDouble":
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.double = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="vlm-test-double", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "VLMTestDouble":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
