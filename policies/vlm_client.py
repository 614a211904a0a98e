"""The VLM planner's connection to a model: an OpenAI-compatible chat-completions endpoint
(:class:`VLMClient`, with deadlines and retries only where a retry can help) and the cache
of its answers on disk (:class:`ResponseCache`)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from tamp.deadline import Deadline

#: what the test double puts in ``system_fingerprint`` of every answer
TEST_DOUBLE_FINGERPRINT = "tamp-vlm-test-double"
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"


class VLMError(Exception):
    """The endpoint gave no usable answer (unreachable, HTTP error, not in cache...)."""


def clip(text: str, n: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n] + "..."


def encode_png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


# -- the endpoint and the cache ----------------------------------------------------------
@dataclass
class Answer:
    text: str
    model: str  #: the model the endpoint says answered
    test_double: bool  #: signed by the test double
    cached: bool
    latency_s: float


class ResponseCache:
    """Answers on disk, one JSON file per request, keyed by the SHA-256 of the model, the
    prompt text and the SHA-256 of the image (written atomically; safe to share between
    parallel episodes)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @staticmethod
    def key(model: str, prompt: str, image_sha256: str) -> str:
        material = json.dumps({"model": model, "prompt": prompt, "image": image_sha256},
                              sort_keys=True)
        return hashlib.sha256(material.encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            return json.loads(self.path(key).read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def put(self, key: str, record: dict) -> None:
        """Write the entry atomically."""
        from tamp.files import write_json_atomic

        write_json_atomic(self.path(key), record, indent=1)


class VLMClient:
    """Chat completions, with an image or text only, from an OpenAI-compatible endpoint.

    Every request has a deadline: ``timeout_s`` per request, and the ``budget_s`` given to
    :meth:`ask` for the request and its retries together (a budget is a promise: the
    call ends by then with an answer or a :class:`VLMError`). Errors that a retry cannot
    cure are not retried: an HTTP 4xx other than 408/409/429 (a bad request, a wrong key,
    an unknown model), and a server that says it does not support the input (llama.cpp
    answers an image sent to a text-only model with HTTP 500 "image input is not
    supported")."""

    def __init__(self, base_url: str | None, model: str, api_key_env: str = DEFAULT_API_KEY_ENV,
                 cache_dir: str | Path | None = None, cache_only: bool = False,
                 timeout_s: float = 60.0, retries: int = 2, max_tokens: int = 1024):
        self.base_url = (base_url or "").rstrip("/")
        if self.base_url.endswith("/chat/completions"):  # the full address was given
            self.base_url = self.base_url[:-len("/chat/completions")]
        self.model = model
        self.api_key_env = api_key_env
        self.cache = ResponseCache(cache_dir) if cache_dir else None
        self.cache_only = cache_only
        self.timeout_s, self.retries, self.max_tokens = timeout_s, retries, max_tokens
        self.calls = 0  #: requests sent
        self.hits = 0  #: answers replayed from the cache

    def ask(self, prompt: str, png: bytes | None, schema: dict | None = None,
            budget_s: float | None = None) -> Answer:
        """The model's answer to ``prompt`` with the image ``png`` (None: text only);
        ``schema``: a JSON schema the answer must follow (``response_format``);
        ``budget_s``: s for the request and its retries together."""
        deadline = Deadline(budget_s)
        image_sha = hashlib.sha256(png).hexdigest() if png is not None else None
        material = image_sha or "no-image"
        if schema is not None:  # a constrained answer is another answer
            material += "+schema:" + hashlib.sha256(
                json.dumps(schema, sort_keys=True).encode()).hexdigest()
        key = ResponseCache.key(self.model, prompt, material)
        if self.cache is not None:
            record = self.cache.get(key)
            if record is not None:
                self.hits += 1
                return self._answer(record["response"], cached=True, latency=0.0)
        if self.cache_only:
            raise VLMError(f"VLM answer not in cache {self.cache.root if self.cache else '(none)'}"
                           f" (--cache-only; model '{self.model}', key {key[:12]})")
        if not self.base_url:
            raise VLMError("no VLM endpoint given (--vlm-base-url)")
        t0 = time.perf_counter()
        response = self._post(prompt, png, schema, deadline)
        latency = time.perf_counter() - t0
        answer = self._answer(response, cached=False, latency=latency)
        if self.cache is not None:
            self.cache.put(key, {"key": key, "model": self.model, "base_url": self.base_url,
                                 "prompt": prompt, "image_sha256": image_sha,
                                 **({"schema": schema} if schema is not None else {}),
                                 "latency_s": round(latency, 4), "response": response})
        return answer

    def _answer(self, response: dict, cached: bool, latency: float) -> Answer:
        try:
            text = response["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise VLMError(f"VLM endpoint {self.base_url or '(cache)'} answered without "
                           f"choices[0].message.content: {clip(json.dumps(response))}") from None
        if isinstance(text, list):  # content parts
            text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
        if not isinstance(text, str):
            raise VLMError(f"VLM answer content is not text: {clip(repr(text))}")
        return Answer(text, str(response.get("model", self.model)),
                      response.get("system_fingerprint") == TEST_DOUBLE_FINGERPRINT,
                      cached, latency)

    def _post(self, prompt: str, png: bytes | None, schema: dict | None,
              deadline: Deadline) -> dict:
        url = f"{self.base_url}/chat/completions"
        content: Any = prompt
        if png is not None:
            content = [{"type": "text", "text": prompt},
                       {"type": "image_url", "image_url": {
                           "url": "data:image/png;base64," + base64.b64encode(png).decode()}}]
        request_body: dict[str, Any] = {
            "model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
            "messages": [{"role": "user", "content": content}]}
        if schema is not None:
            request_body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "plan", "schema": schema, "strict": True}}
        body = json.dumps(request_body).encode()
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env or "", "")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        last, sent = "", 0
        for attempt in range(self.retries + 1):
            if attempt:
                pause = min(4.0, 0.5 * 2 ** (attempt - 1))
                if pause >= deadline.left():
                    break
                time.sleep(pause)
            timeout = deadline.cap(self.timeout_s)
            if timeout <= 0.05:
                break
            self.calls += 1
            sent += 1
            request = urllib.request.Request(url, body, headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=timeout) as reply:
                    raw = reply.read()
            except urllib.error.HTTPError as err:
                detail = clip(err.read().decode(errors="replace"), 160)
                last = f"HTTP {err.code} {err.reason}: {detail}"
                if _retryable(err.code, detail):
                    continue
                self._fail(url, last + " (not retried: a retry cannot cure it)", sent)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
                reason = getattr(err, "reason", err)
                last = f"unreachable: {reason}"
                continue
            try:
                return json.loads(raw)
            except json.JSONDecodeError:
                text = clip(raw.decode(errors="replace"))
                self._fail(url, f"answered with a body that is not JSON: {text}", sent)
        if deadline.left() <= 0.05:
            last = (f"{last}; " if last else "") + "the time budget for the request ran out"
        self._fail(url, last, sent)

    @staticmethod
    def _fail(url: str, what: str, attempts: int) -> NoReturn:
        raise VLMError(f"VLM endpoint {url} {what} (after {attempts} attempt(s))")


def _retryable(code: int, detail: str) -> bool:
    """Whether an HTTP error may pass on a retry: a timeout, a conflict, a rate limit, an
    overloaded or failing server, but not a server that does not support the request."""
    if "not supported" in detail.lower():
        return False
    return code in (408, 409, 429) or code >= 500
