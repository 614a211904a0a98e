"""What the VLM planner says to the model and how it reads the answer: the skills of the
task's domain (from :mod:`tamp.domains`), the prompt, the JSON plan parsed and checked
step by step against the scene, and the JSON schema that constrains an answer."""

from __future__ import annotations

import json
import re

from policies.vlm_client import clip
from tamp.domains import ARGUMENT_KINDS, CONTAINERS, Skill, get_domain

MAX_PLAN_STEPS = 24  #: longer answers are refused as invalid (no task needs more)


class PlanError(Exception):
    """The answer is not a valid plan (malformed JSON, unknown skill or object...)."""


# -- skills (each domain's, from tamp.domains) -------------------------------------------


def skills_for(domain: str) -> tuple[Skill, ...]:
    return get_domain(domain).skills


def places(world, domain: str) -> dict[str, str]:
    """Places that are not objects, by name, with what they are."""
    return get_domain(domain).places(world)


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


def place_action(skill: str, args: list[str], domain: str) -> tuple[str, ...] | None:
    """The primitive a valid step maps to (``None``: a pick alone)."""
    for s in skills_for(domain):
        if s.name == skill:
            return s.action(args)
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
                        f"{clip(text)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("plan"), list):
        raise PlanError(f"VLM answer has no \"plan\" list: {clip(text)}")
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
                            f"{clip(json.dumps(step))}")
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
                                f"(needs {ARGUMENT_KINDS[kind]})")
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
