"""The VLM planner baseline (ViLa-style): a vision-language model writes the plan.

The model gets the camera image, the goal in words, the objects (name, colour, kind and
shape, as the oracle world names them) and the skill signatures, and must answer with
strict JSON::

    {"plan": [{"skill": "pick_place_in", "args": ["red_block_0", "green_bowl"]}, ...]}

Each step is checked against the objects and skills (an unknown skill, a wrong number of
arguments, an object that is not in the scene or of the wrong kind: the plan is invalid,
and the episode fails with the reason — a counted failure, never an exception), then
executed with the same grasp, placement, IK and motion primitives as every other method
(:class:`policies.primitives.Primitives`); each step is one pick and one place.

* ``vlm`` — open loop: one plan, executed to its end or to the first failed step;
* ``vlm-closed`` — closed loop: after every step the model is asked again, with a new
  image, the steps done so far and the failure text of the last step (or why its last
  answer was invalid), for the remaining plan; an empty plan means "done". At most
  ``max_calls`` requests per episode, and the loop stops when it would ask exactly what
  it asked before (the same answer would come back: a stalled loop is not replayed);
* ``vlm-text``, ``vlm-text-closed`` — the same for a language model without vision: no
  image; the object list gives each object's position instead. Named apart, since such a
  model is not a VLM.

Every answer of an episode together must arrive within the planner's time budget
(``--time-budget``): each request is cut to what is left, retries included. With
``json_schema`` the request asks the server to constrain the answer to a plan over the
scene's skills and names (``response_format`` of type ``json_schema``).

The answer format: the reply must be one JSON object; a single Markdown code fence around
it (```json ... ```) is tolerated, as many chat models add one; any other text is a
malformed answer.

The backend is any OpenAI-compatible ``POST {base_url}/chat/completions`` endpoint
(a local server such as vLLM or llama.cpp, or a hosted model); the key, if any, comes from
the environment variable ``api_key_env`` and is never written anywhere. Requests and
answers can be recorded in and replayed from a cache directory (:class:`ResponseCache`,
keyed by model, prompt and image hash); with ``cache_only`` a miss is a counted failure
and no request is made.

Whether an answer came from a real model is recorded: the test double
(``tests/vlm_double.py``) signs its answers, and an episode that got no answer from a
real model carries ``not_measured`` in its result, so that the benchmark report never
shows such numbers as a model's.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from policies.base import EpisodeOutcome, Monitor, Policy, register_policy
from scenes.env import TabletopEnv
from tamp.deadline import Deadline

#: what the test double puts in ``system_fingerprint`` of every answer
TEST_DOUBLE_FINGERPRINT = "tamp-vlm-test-double"
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
MAX_PLAN_STEPS = 24  #: longer answers are refused as invalid (no task needs more)


class VLMError(Exception):
    """The endpoint gave no usable answer (unreachable, HTTP error, not in cache...)."""


class PlanError(Exception):
    """The answer is not a valid plan (malformed JSON, unknown skill or object...)."""


# -- skills ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Skill:
    name: str
    params: tuple[tuple[str, str], ...]  #: (parameter name, kind of argument)
    doc: str

    def signature(self) -> str:
        return f"{self.name}({', '.join(p for p, _ in self.params)})"


#: kinds of argument: what a name must refer to
ARG_KINDS = {
    "movable": "an object that can be picked",
    "item": "an object that can be picked and is not a bowl or tray",
    "container": "a bowl or tray",
    "block": "an object with a flat top to stack on",
    "place": "a marked place of the table or a disk",
    "slot": "a slot of the pyramid",
}

SKILLS: dict[str, tuple[Skill, ...]] = {
    "pick-place": (
        Skill("pick_place_in", (("object", "item"), ("container", "container")),
              "pick up the object and put it into the container (a bowl or the tray)"),
        Skill("stack", (("object", "item"), ("onto", "block")),
              "pick up the object and put it on top of another object"),
        Skill("place_on_table", (("object", "movable"),),
              "pick up the object and put it down on a free spot of the table"),
        Skill("pick_up", (("object", "movable"),),
              "pick up the object and keep holding it (must be the last step)"),
    ),
    "hanoi-tabletop": (
        Skill("put", (("disk", "movable"), ("place", "place")),
              "pick up the disk and put it on a marked place of the table or on a disk"),
    ),
    "pyramid": (
        Skill("build", (("block", "item"), ("slot", "slot")),
              "pick up the block and set it into a slot of the pyramid (a slot above the "
              "bottom row rests across the two slots below it, which must be filled)"),
    ),
}

CONTAINERS = ("bowl", "tray")


def skills_for(domain: str) -> tuple[Skill, ...]:
    return SKILLS.get(domain, SKILLS["pick-place"])


def places(world, domain: str) -> dict[str, str]:
    """Places that are not objects, by name, with what they are."""
    if domain == "pyramid":
        from tamp.pyramid import pyramid_slots

        out = {}
        for name in pyramid_slots(world):
            m = re.fullmatch(r"slot_(\d+)_(\d+)", name)
            out[name] = (f"slot {m.group(2)} of row {m.group(1)} of the pyramid (row 1 is "
                         "the bottom, marked on the table)") if m else "a slot of the pyramid"
        return out
    return {z: "a marked place of the table" for z in world.zones}


def _argument_names(world, kind: str, domain: str = "pick-place") -> list[str]:
    objs = world.objects.values()
    if kind == "slot":
        return list(places(world, domain))
    if kind == "movable":
        return [o.name for o in objs if o.movable]
    if kind == "item":
        return [o.name for o in objs if o.movable and o.category not in CONTAINERS]
    if kind == "container":
        return [o.name for o in objs if o.category in CONTAINERS]
    if kind == "block":
        return [o.name for o in objs if o.category not in CONTAINERS]
    if kind == "place":
        return list(world.zones) + [o.name for o in objs if o.category not in CONTAINERS]
    raise ValueError(kind)


def place_action(skill: str, args: list[str]) -> tuple[str, ...] | None:
    """The primitive a valid step maps to (``None``: ``pick_up``, a pick alone)."""
    if skill == "pick_place_in":
        return ("place-in", args[0], args[1])
    if skill == "stack":
        return ("stack", args[0], args[1])
    if skill == "place_on_table":
        return ("place", args[0], "table")
    if skill == "put":
        return ("put", args[0], args[1])
    if skill == "build":
        return ("build", args[0], args[1])
    if skill == "pick_up":
        return None
    raise ValueError(f"no primitive for skill '{skill}'")


# -- prompt and answer -------------------------------------------------------------------
def describe_objects(world, domain: str = "pick-place", positions: bool = False) -> list[str]:
    """One line per object and place; ``positions`` adds where each object's centre is
    (for a model that gets no image)."""
    lines = []
    for o in world.objects.values():
        where = ""
        if positions:
            x, y, z = (float(v) * 100 for v in o.pose[:3, 3])  # its bottom face's centre
            where = f", standing at x {x:.0f} cm, y {y:.0f} cm, its bottom {z:.0f} cm high"
        lines.append(f"- {o.name}: {o.color} {o.category} ({o.shape.kind}, "
                     f"{', '.join(f'{v * 1000:.0f}' for v in o.shape.size)} mm{where})")
    lines += [f"- {name}: {what}" for name, what in places(world, domain).items()]
    return lines


def build_prompt(goal: str, world, domain: str, history: list[str] | None = None,
                 feedback: str = "", text_only: bool = False) -> str:
    """The text part of the request (the image goes beside it, unless ``text_only``: then
    the objects' positions stand in for the image; x points away from the robot, y to
    its left, heights above the table)."""
    skills = skills_for(domain)
    sees = ("The image shows the table as the robot's camera sees it now." if not text_only
            else "You get no image: the list below says what is on the table and where "
            "(x away from the robot, y to its left, heights above the table top).")
    lines = [
        "You control a robot arm with a parallel gripper above a table. " + sees,
        "",
        f"Goal: {goal}",
        "",
        "Objects in the scene (use exactly these names):",
        *describe_objects(world, domain, positions=text_only),
        "",
        "Skills (each step picks one object up and puts it somewhere):",
        *[f"- {s.signature()}: {s.doc}" for s in skills],
        "",
    ]
    if history is not None:
        lines += ["Steps done so far:"] + ([f"- {h}" for h in history] or ["- none"]) + [""]
        if feedback:
            lines += [f"Problem with the last step: {feedback}", ""]
        lines += ["Give the remaining steps from the scene as it is now; answer with an "
                  "empty plan if the goal is reached.", ""]
    lines += ['Answer only JSON, nothing else: {"plan": [{"skill": "<skill>", '
              '"args": ["<name>", ...]}, ...]}']
    return "\n".join(lines)


def parse_plan(text: str, world, domain: str) -> list[tuple[str, list[str]]]:
    """The steps of the answer ``text``; :class:`PlanError` says what is wrong."""
    body = text.strip()
    fence = re.fullmatch(r"```(?:json|JSON)?\s*\n?(.*?)\n?\s*```", body, re.S)
    if fence:
        body = fence.group(1).strip()
    try:
        data = json.loads(body)
    except json.JSONDecodeError as err:
        raise PlanError(f"VLM answer is not JSON ({err.msg} at char {err.pos}): "
                        f"{_clip(text)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("plan"), list):
        raise PlanError(f"VLM answer has no \"plan\" list: {_clip(text)}")
    if len(data["plan"]) > MAX_PLAN_STEPS:
        raise PlanError(f"VLM plan invalid: {len(data['plan'])} steps, at most "
                        f"{MAX_PLAN_STEPS} allowed")
    skills = {s.name: s for s in skills_for(domain)}
    known = set(world.objects) | set(places(world, domain))
    steps = []
    for i, step in enumerate(data["plan"], 1):
        where = f"VLM plan invalid: step {i}"
        if not isinstance(step, dict) or not isinstance(step.get("skill"), str) or \
                not isinstance(step.get("args"), list) or \
                not all(isinstance(a, str) for a in step["args"]):
            raise PlanError(f"{where} is not {{\"skill\": str, \"args\": [str, ...]}}: "
                            f"{_clip(json.dumps(step))}")
        skill = skills.get(step["skill"])
        if skill is None:
            raise PlanError(f"{where} names unknown skill '{step['skill']}'; known: "
                            f"{', '.join(skills)}")
        args = step["args"]
        if len(args) != len(skill.params):
            raise PlanError(f"{where}: {skill.signature()} takes {len(skill.params)} "
                            f"argument(s), got {len(args)}")
        for arg, (param, kind) in zip(args, skill.params):
            if arg not in known:
                raise PlanError(f"{where} names unknown object '{arg}'")
            if arg not in _argument_names(world, kind, domain):
                raise PlanError(f"{where}: '{arg}' cannot be the {param} of {skill.name} "
                                f"(needs {ARG_KINDS[kind]})")
        if skill.name == "pick_up" and i != len(data["plan"]):
            raise PlanError(f"{where}: pick_up must be the last step")
        steps.append((skill.name, list(args)))
    return steps


def plan_schema(world, domain: str) -> dict:
    """A JSON schema of a plan over this scene's skills and names, for servers that
    constrain their output (``response_format`` of type ``json_schema``: llama.cpp, vLLM,
    Ollama): each step one of the skills, with as many arguments as it takes, each of the
    kind it needs. :func:`parse_plan` still checks the answer (a server may ignore the
    schema, or an answer may be cut off by the token limit)."""
    steps = []
    for skill in skills_for(domain):
        names = [sorted(_argument_names(world, kind, domain)) for _, kind in skill.params]
        if not all(names):
            continue  # nothing in this scene can be its argument (no bowl to put into)
        args = [{"type": "string", "enum": n} for n in names]
        steps.append({
            "type": "object", "additionalProperties": False, "required": ["skill", "args"],
            "properties": {"skill": {"type": "string", "const": skill.name},
                           "args": {"type": "array", "prefixItems": args,
                                    "minItems": len(args), "maxItems": len(args)}}})
    plan = {"type": "array", "maxItems": MAX_PLAN_STEPS if steps else 0}
    if steps:  # an empty "anyOf" is no schema: with no usable skill, only [] fits
        plan["items"] = {"anyOf": steps}
    return {"type": "object", "additionalProperties": False, "required": ["plan"],
            "properties": {"plan": plan}}


def _clip(text: str, n: int = 200) -> str:
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
                           f"choices[0].message.content: {_clip(json.dumps(response))}") from None
        if isinstance(text, list):  # content parts
            text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
        if not isinstance(text, str):
            raise VLMError(f"VLM answer content is not text: {_clip(repr(text))}")
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
                detail = _clip(err.read().decode(errors="replace"), 160)
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
                text = _clip(raw.decode(errors="replace"))
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


# -- the policy --------------------------------------------------------------------------
def as_actions(plan: list[dict]) -> list[dict]:
    """A plan of skills as the primitive actions it asks for (a pick, then a place), as
    the TAMP agent's plans count them: ``pick_place_in(b, bowl)`` ->
    ``pick b``, ``place-in b bowl``."""
    actions = []
    for step in plan:
        actions.append({"name": "pick", "args": step["args"][:1]})
        place = place_action(step["name"], step["args"])
        if place is not None:
            actions.append({"name": place[0], "args": list(place[1:])})
    return actions


def _step_text(skill: str, args: list[str]) -> str:
    return f"{skill}({', '.join(args)})"


@register_policy("vlm")
class VLMPolicy(Policy):
    """Open loop: one plan from the model, executed with the shared primitives."""

    closed_loop = False
    #: the scene as an object list with positions instead of an image (text-only models)
    text_only = False

    def __init__(self, base_url: str | None = None, model: str | None = None,
                 api_key_env: str = DEFAULT_API_KEY_ENV, cache_dir: str | Path | None = None,
                 cache_only: bool = False, config=None, goal: str | None = None,
                 max_calls: int = 16, timeout_s: float = 60.0, retries: int = 2,
                 json_schema: bool = False, max_tokens: int = 1024):
        if not model:
            raise ValueError("the VLM planner needs a model name (--vlm-model)")
        if not base_url and not cache_only:
            raise ValueError("the VLM planner needs an endpoint (--vlm-base-url) or "
                             "--cache-only with a cache (--vlm-cache)")
        self.client = VLMClient(base_url, model, api_key_env, cache_dir, cache_only,
                                timeout_s, retries, max_tokens)
        self.config = config
        self.goal = goal
        self.json_schema = json_schema
        self.max_calls = max_calls if self.closed_loop else 1
        #: s for all the model's answers of an episode (the planner's time budget)
        self.budget = None if config is None else float(config.time_budget)

    def run(self, env: TabletopEnv, monitor: Monitor | None = None) -> EpisodeOutcome:
        from policies.primitives import Primitives

        monitor = monitor or Monitor()
        prims = Primitives(env, self.config, monitor.step)
        domain = env.instance.domain
        goal = self.goal or env.instance.description
        t_start = time.perf_counter()
        history: list[str] = []  #: steps done, as told to the model
        first_plan: list[dict] | None = None
        executed: list[dict] = []
        answers: list[dict] = []
        vlm_time = refine_time = 0.0
        feedback, reason = "", ""
        real = doubled = 0
        calls = 0
        asked: dict[str, int] = {}  #: prompt -> the call that asked it
        while True:
            if calls >= self.max_calls:
                reason = (f"gave up after {calls} VLM calls: {feedback}" if feedback else
                          f"the VLM did not declare the goal reached within {calls} calls")
                break
            left = None if self.budget is None else self.budget - vlm_time
            if left is not None and left <= 0:
                reason = (f"the VLM time budget of {self.budget:g} s was spent in {calls} "
                          f"call(s)" + (f": {feedback}" if feedback else ""))
                break
            world = prims.world()
            prompt = build_prompt(goal, world, domain,
                                  history if self.closed_loop else None, feedback,
                                  text_only=self.text_only)
            if prompt in asked:
                # nothing the model is told has changed since that call (its answer was
                # refused the same way): it would answer the same again
                reason = (f"the VLM loop stalled: call {calls + 1} would ask what call "
                          f"{asked[prompt]} asked, with the same steps and feedback: "
                          f"{feedback}")
                break
            asked[prompt] = calls + 1
            monitor.stage(f"asking the VLM ({self.client.model})"
                          + (f", call {calls + 1}" if self.closed_loop else ""))
            calls += 1
            t0 = time.perf_counter()
            try:
                png = None if self.text_only else encode_png(env.capture().rgb)
                schema = plan_schema(world, domain) if self.json_schema else None
                answer = self.client.ask(prompt, png, schema, budget_s=left)
            except VLMError as err:
                reason = str(err)
                break
            finally:
                vlm_time += time.perf_counter() - t0
            doubled += answer.test_double
            real += not answer.test_double
            record = {"model": answer.model, "cached": answer.cached,
                      "latency_s": round(answer.latency_s, 4), "text": _clip(answer.text, 2000)}
            answers.append(record)
            try:
                steps = parse_plan(answer.text, world, domain)
            except PlanError as err:
                record["invalid"] = str(err)
                feedback, reason = f"your last answer was invalid: {err}", str(err)
                if self.closed_loop:
                    continue
                break
            plan = [{"name": s, "args": a} for s, a in steps]
            if first_plan is None:
                first_plan = plan
            if not steps:
                reason = ""  # the model says the goal is reached (or has nothing to do)
                break
            todo = steps[:1] if self.closed_loop else steps
            reason = ""
            for skill, args in todo:
                monitor.stage(f"executing {_step_text(skill, args)}")
                outcome = self._execute(prims, skill, args)
                refine_time += outcome.planning_time_s
                executed.append({"name": skill, "args": args, "ok": outcome.ok,
                                 **({"reason": outcome.reason} if not outcome.ok else {})})
                if outcome.ok:
                    history.append(f"{_step_text(skill, args)}: done")
                    feedback = ""
                else:
                    history.append(f"{_step_text(skill, args)}: failed ({outcome.reason})")
                    reason = feedback = f"step {len(executed)} " \
                        f"{_step_text(skill, args)} failed: {outcome.reason}"
                    break
            if not self.closed_loop:
                break
            if skill == "pick_up" and not reason:
                break  # holding it: nothing can follow
        result = prims.finish(reason, t_start)
        planning = vlm_time + refine_time
        extra: dict[str, Any] = {
            "vlm_model": self.client.model, "vlm_endpoint": self.client.base_url or None,
            "vlm_closed_loop": self.closed_loop, "vlm_text_only": self.text_only,
            "vlm_json_schema": self.json_schema, "vlm_calls": calls,
            "vlm_requests_sent": self.client.calls, "vlm_cache_hits": self.client.hits,
            "vlm_time_s": round(vlm_time, 4), "refine_time_s": round(refine_time, 4),
            "vlm_answers": answers, "executed": executed,
            "replans": max(0, calls - 1), "sim_time_s": result.sim_time,
            "control_steps": result.steps,
        }
        if real == 0:
            extra["not_measured"] = ("answers came from the test double, not a model"
                                     if doubled else "no answer from a model")
        extra["vlm_plan"] = first_plan or []
        return EpisodeOutcome(result.success, as_actions(first_plan or []), planning,
                              max(0.0, result.wall_time - planning), result.failure_reason,
                              extra)

    @staticmethod
    def _execute(prims, skill: str, args: list[str]):
        action = place_action(skill, args)
        if action is not None:
            return prims.pick_place(action)
        return _pick_up(prims, args[0])


@register_policy("vlm-closed")
class ClosedLoopVLMPolicy(VLMPolicy):
    """Closed loop: ask again after every step with a new image and what went wrong."""

    closed_loop = True


@register_policy("vlm-text")
class TextVLMPolicy(VLMPolicy):
    """Open loop, for a language model without vision: the scene is given as the object
    list with positions, and no image is sent. Not a VLM: named as its own method."""

    text_only = True


@register_policy("vlm-text-closed")
class ClosedLoopTextVLMPolicy(VLMPolicy):
    """Closed loop, text only (see :class:`TextVLMPolicy`)."""

    closed_loop = True
    text_only = True


def _pick_up(prims, obj: str):
    """``pick_up``: the planner's pick refinement alone (the same grasp, IK and motion
    code as :meth:`Primitives.pick_place`), executed, and the object kept in the hand."""
    from policies.primitives import StepOutcome, pick_action_for
    from tamp.refine import RefinementError, Refiner

    world = prims.world()
    t0 = time.perf_counter()
    refiner = Refiner(prims.planner, world, prims.env.sim.arm_positions(), t0)
    try:
        action = refiner.pick_only(obj, prims.config.seed + prims.steps_done,
                                   pick_action_for(world, obj, prims.domain))
    except RefinementError as err:
        return StepOutcome(False, str(err), [], time.perf_counter() - t0)
    planning = time.perf_counter() - t0
    prims.steps_done += 1
    reason = prims.executor.run_actions([action])
    if reason:
        prims.executor.recover()
    return StepOutcome(not reason, reason, [action], planning)
