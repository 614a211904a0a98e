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

The prompt, the skills and the reading of the answer are in :mod:`policies.vlm_prompt`;
the endpoint and its cache in :mod:`policies.vlm_client`.

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

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies.base import EpisodeOutcome, Monitor, Policy, option, register_policy
from policies.vlm_client import DEFAULT_API_KEY_ENV, VLMClient, VLMError, clip, encode_png
from policies.vlm_prompt import PlanError, build_prompt, parse_plan, place_action, plan_schema
from scenes.env import TabletopEnv


# -- the policy --------------------------------------------------------------------------
def as_actions(plan: list[dict], domain: str) -> list[dict]:
    """A plan of skills as the primitive actions it asks for (a pick, then a place), as
    the TAMP agent's plans count them: ``pick_place_in(b, bowl)`` ->
    ``pick b``, ``place-in b bowl``."""
    actions = []
    for step in plan:
        actions.append({"name": "pick", "args": step["args"][:1]})
        place = place_action(step["name"], step["args"], domain)
        if place is not None:
            actions.append({"name": place[0], "args": list(place[1:])})
    return actions


def _step_text(skill: str, args: list[str]) -> str:
    return f"{skill}({', '.join(args)})"


@dataclass(frozen=True)
class VLMOptions:
    """What the VLM planner (vlm, vlm-closed, vlm-text, vlm-text-closed) takes."""

    base_url: str | None = option(None, "OpenAI-compatible endpoint (--vlm-base-url)")
    model: str | None = option(None, "model name the endpoint serves (--vlm-model)")
    api_key_env: str = option(DEFAULT_API_KEY_ENV, "environment variable holding the key "
                                                   "(--vlm-api-key-env)")
    cache_dir: str | Path | None = option(None, "answer cache (--vlm-cache)")
    cache_only: bool = option(False, "answer only from the cache (--cache-only)")
    config: Any = option(None, "the primitives' PlannerConfig (seed, --time-budget, "
                               "--planner-config)")
    goal: str | None = option(None, "the goal in words (--goal); None: the task's")
    max_calls: int = option(16, "requests per episode at most (closed loop)")
    timeout_s: float = option(60.0, "longest wait for one answer, s (--vlm-timeout)")
    retries: int = option(2, "retries of a failed request")
    json_schema: bool = option(False, "constrain answers to a plan (--vlm-json-schema)")
    max_tokens: int = option(1024, "longest answer, tokens (--vlm-max-tokens)")


@register_policy("vlm")
class VLMPolicy(Policy):
    """Open loop: one plan from the model, executed with the shared primitives."""

    Options = VLMOptions

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
                      "latency_s": round(answer.latency_s, 4), "text": clip(answer.text, 2000)}
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
        return EpisodeOutcome(result.success, as_actions(first_plan or [], env.instance.domain), planning,
                              max(0.0, result.wall_time - planning), result.failure_reason,
                              extra)

    @staticmethod
    def _execute(prims, skill: str, args: list[str]):
        action = place_action(skill, args, prims.domain)
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
    from policies.primitives import StepOutcome
    from tamp.refine import RefinementError

    world = prims.world()
    t0 = time.perf_counter()
    try:
        action = prims.planner.refine_pick(world, obj, prims.env.sim.arm_positions(),
                                           prims.config.seed + prims.steps_done)
    except RefinementError as err:
        return StepOutcome(False, str(err), [], time.perf_counter() - t0)
    planning = time.perf_counter() - t0
    prims.steps_done += 1
    reason = prims.executor.run_actions([action])
    if reason:
        prims.executor.recover()
    return StepOutcome(not reason, reason, [action], planning)
