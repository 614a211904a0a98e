"""The VLM planner baseline against the TEST DOUBLE endpoint (tests/vlm_double.py): the
request, the answer's validation, execution with the real primitives, the cache, and every
way an answer can be bad (a counted failure with the reason, never an exception)."""

from __future__ import annotations

import base64
import json
import socket

import pytest

from policies import make_policy, policy_names
from policies.vlm_client import (TEST_DOUBLE_FINGERPRINT, ResponseCache, VLMClient, VLMError,
                                 encode_png)
from policies.vlm_prompt import MAX_PLAN_STEPS, PlanError, build_prompt, parse_plan
from vlm_double import MODEL_NAME, VLMTestDouble, scripted_plan
from scenes.env import TabletopEnv

PNG = encode_png(__import__("numpy").zeros((4, 6, 3), "uint8"))


@pytest.fixture(scope="module")
def bowl_world():
    env = TabletopEnv("place-in-bowl")
    env.reset(seed=1000)  # red_block_0, purple_block_0/1, yellow_block_2, green/blue bowl
    world = env.oracle_world()
    env.close()
    return world


@pytest.fixture
def double():
    with VLMTestDouble() as d:
        yield d


def _step(skill, *args):
    return {"skill": skill, "args": list(args)}


def _plan(*steps):
    return json.dumps({"plan": list(steps)})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_methods_are_registered():
    assert {"vlm", "vlm-closed"} <= set(policy_names())


def test_prompt_names_goal_objects_skills_and_format(bowl_world):
    text = build_prompt("put the red block in the green bowl", bowl_world, "pick-place")
    assert "Goal: put the red block in the green bowl" in text
    for name in bowl_world.objects:
        assert f"- {name}: " in text
    assert "- red_block_0: red block (box, " in text
    for sig in ("pick_place_in(object, container)", "stack(object, onto)",
                "place_on_table(object)", "pick_up(object)"):
        assert sig in text
    assert 'Answer only JSON' in text and "Steps done so far" not in text
    closed = build_prompt("g", bowl_world, "pick-place", ["stack(a, b): done"], "it fell")
    assert "- stack(a, b): done" in closed and "Problem with the last step: it fell" in closed


def test_valid_plan_and_a_fenced_one_parse(bowl_world):
    text = _plan(_step("pick_place_in", "red_block_0", "green_bowl"),
                 _step("stack", "purple_block_0", "yellow_block_2"),
                 _step("place_on_table", "purple_block_1"))
    expected = [("pick_place_in", ["red_block_0", "green_bowl"]),
                ("stack", ["purple_block_0", "yellow_block_2"]),
                ("place_on_table", ["purple_block_1"])]
    assert parse_plan(text, bowl_world, "pick-place") == expected
    assert parse_plan(f"```json\n{text}\n```", bowl_world, "pick-place") == expected
    assert parse_plan('{"plan": []}', bowl_world, "pick-place") == []


@pytest.mark.parametrize("text, message", [
    ("Sure! Put the red block in the bowl.", "VLM answer is not JSON"),
    ('Here: {"plan": []}', "VLM answer is not JSON"),  # only a fence is tolerated
    ('{"steps": []}', 'VLM answer has no "plan" list'),
    (_plan(_step("pick_place_in", "red_block_0", "green_bowl"),
           _step("pick_place_in", "red_block_0", "purple_bowl")),
     "VLM plan invalid: step 2 names unknown object 'purple_bowl'"),
    (_plan(_step("teleport", "red_block_0")),
     "VLM plan invalid: step 1 names unknown skill 'teleport'; known: pick_place_in, stack"),
    (_plan(_step("pick_place_in", "red_block_0")),
     "VLM plan invalid: step 1: pick_place_in(object, container) takes 2 argument(s), got 1"),
    (_plan(_step("pick_place_in", "red_block_0", "purple_block_0")),
     "step 1: 'purple_block_0' cannot be the container of pick_place_in (needs a bowl"),
    (_plan(_step("stack", "red_block_0", "green_bowl")),
     "'green_bowl' cannot be the onto of stack"),
    (_plan(_step("put", "red_block_0", "green_bowl")), "unknown skill 'put'"),
    (_plan({"skill": "stack", "args": "red_block_0"}), "VLM plan invalid: step 1 is not"),
    (_plan(_step("pick_up", "red_block_0"), _step("place_on_table", "red_block_0")),
     "step 1: pick_up must be the last step"),
    (_plan(*[_step("place_on_table", "red_block_0")] * (MAX_PLAN_STEPS + 1)),
     f"{MAX_PLAN_STEPS + 1} steps, at most {MAX_PLAN_STEPS}"),
])
def test_bad_answers_are_plan_errors_with_the_reason(bowl_world, text, message):
    with pytest.raises(PlanError) as err:
        parse_plan(text, bowl_world, "pick-place")
    assert message in str(err.value)


def test_hanoi_offers_put_onto_places_and_disks():
    env = TabletopEnv("towers-of-hanoi")
    env.reset(seed=1000)
    world = env.oracle_world()
    env.close()
    text = build_prompt(env.instance.description, world, "hanoi-tabletop")
    assert "put(disk, place)" in text and "pick_place_in" not in text
    assert "- place_3: a marked place of the table" in text
    assert parse_plan(_plan(_step("put", "disk_1", "place_3"), _step("put", "disk_2", "disk_3")),
                      world, "hanoi-tabletop") == [("put", ["disk_1", "place_3"]),
                                                   ("put", ["disk_2", "disk_3"])]
    with pytest.raises(PlanError, match="unknown object 'place_4'"):
        parse_plan(_plan(_step("put", "disk_1", "place_4")), world, "hanoi-tabletop")


def test_double_scripts_plans_from_the_prompt(bowl_world):
    prompt = build_prompt("put the red block in the green bowl", bowl_world, "pick-place")
    assert scripted_plan(prompt) == [_step("pick_place_in", "red_block_0", "green_bowl")]
    done = build_prompt("put the red block in the green bowl", bowl_world, "pick-place",
                        ["pick_place_in(red_block_0, green_bowl): done"])
    assert scripted_plan(done) == []
    sort = build_prompt("sort the blocks into the bowls of their colour", bowl_world,
                        "pick-place")
    assert scripted_plan(sort) == []  # no purple or yellow bowl in this scene


def test_client_sends_the_image_and_the_key_from_the_environment(double, monkeypatch):
    monkeypatch.setenv("TAMP_TEST_VLM_KEY", "sk-test-123")
    client = VLMClient(double.base_url, "some-model", api_key_env="TAMP_TEST_VLM_KEY")
    answer = client.ask("Goal: put the red block in the green bowl\n", PNG)
    assert answer.model == MODEL_NAME and answer.test_double and not answer.cached
    assert json.loads(answer.text) == {"plan": []}
    req = double.requests[-1]
    assert req["images"] == 1 and req["authorization"] == "Bearer sk-test-123"
    monkeypatch.delenv("TAMP_TEST_VLM_KEY")
    client.ask("another prompt", PNG)
    assert double.requests[-1]["authorization"] is None  # no key: no header


def test_image_goes_as_a_png_data_url(double, monkeypatch):
    seen = {}
    original = VLMClient._post

    def spy(self, prompt, png, *rest):
        seen["png"] = png
        return original(self, prompt, png, *rest)

    monkeypatch.setattr(VLMClient, "_post", spy)
    VLMClient(double.base_url, "m").ask("p", PNG)
    assert seen["png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert base64.b64decode(base64.b64encode(seen["png"])) == PNG


def test_http_errors_are_retried_a_bounded_number_of_times(double):
    double.mode = "http-500"
    client = VLMClient(double.base_url, "m", retries=1)
    with pytest.raises(VLMError) as err:
        client.ask("p", PNG)
    assert f"VLM endpoint {double.base_url}/chat/completions HTTP 500" in str(err.value)
    assert "after 2 attempt(s)" in str(err.value)
    assert len(double.requests) == 2


def test_a_body_that_is_not_json_is_a_clear_error_and_a_full_address_works(double):
    double.mode = "bad-body"
    client = VLMClient(double.base_url + "/chat/completions/", "m")  # the full address
    assert client.base_url == double.base_url
    with pytest.raises(VLMError, match="answered with a body that is not JSON: <html>"):
        client.ask("p", PNG)
    assert len(double.requests) == 1  # not retried


@pytest.mark.parametrize("mode", ["http-400", "no-vision"])
def test_errors_a_retry_cannot_cure_are_not_retried(double, mode):
    double.mode = mode
    with pytest.raises(VLMError) as err:
        VLMClient(double.base_url, "m", retries=3).ask("p", PNG)
    assert "not retried" in str(err.value) and "after 1 attempt(s)" in str(err.value)
    assert len(double.requests) == 1


class _Silent:
    """A TCP endpoint that accepts connections and never answers (a hung server)."""

    def __enter__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        return self

    def __exit__(self, *exc):
        self.sock.close()


def test_a_silent_endpoint_is_given_up_within_the_budget():
    import time

    with _Silent() as silent:
        client = VLMClient(silent.url, "m", timeout_s=60, retries=2)
        t0 = time.monotonic()
        with pytest.raises(VLMError, match="the time budget for the request ran out"):
            client.ask("p", PNG, budget_s=1.0)
        assert time.monotonic() - t0 <= 2.0  # the budget, overrun at most 1 s


def test_an_episode_on_a_silent_endpoint_keeps_its_time_budget():
    """Three 60 s requests used to be waited for whatever the budget; now every answer of
    the episode together gets the planner's time budget."""
    from tamp.planner import PlannerConfig

    with _Silent() as silent:
        out = _episode("vlm-closed", base_url=silent.url, model="m",
                       config=PlannerConfig(time_budget=1.5))
    assert out.success is False and "the time budget for the request ran out" in \
        out.failure_reason
    assert out.extra["vlm_time_s"] <= 1.5 + 1.0


def test_unreachable_endpoint_is_a_clear_error():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    with pytest.raises(VLMError) as err:
        VLMClient(url, "m", retries=0, timeout_s=5).ask("p", PNG)
    assert str(err.value).startswith(f"VLM endpoint {url}/chat/completions unreachable:")


def test_cache_records_replays_and_cache_only_misses(double, tmp_path):
    client = VLMClient(double.base_url, "m", cache_dir=tmp_path)
    first = client.ask("prompt one", PNG)
    assert len(double.requests) == 1 and not first.cached
    key = ResponseCache.key("m", "prompt one", __import__("hashlib").sha256(PNG).hexdigest())
    record = json.loads(ResponseCache(tmp_path).path(key).read_text())
    assert record["response"]["system_fingerprint"] == TEST_DOUBLE_FINGERPRINT
    assert "sk-" not in json.dumps(record)
    double.stop()  # replay needs no server
    offline = VLMClient("http://127.0.0.1:9/v1", "m", cache_dir=tmp_path, cache_only=True)
    again = offline.ask("prompt one", PNG)
    assert again.cached and again.text == first.text and again.test_double
    assert offline.calls == 0 and offline.hits == 1
    # the key covers the model, the prompt and the image: each change misses
    for model, prompt, png in (("other", "prompt one", PNG), ("m", "prompt two", PNG),
                               ("m", "prompt one", PNG + b"x")):
        with pytest.raises(VLMError, match="not in cache"):
            VLMClient(None, model, cache_dir=tmp_path, cache_only=True).ask(prompt, png)
    assert len(ResponseCache.key("m", "p", "i")) == 64
    assert ResponseCache.key("m", "p", "i") != ResponseCache.key("m", "p", "j")


def test_policy_needs_a_model_and_an_endpoint():
    with pytest.raises(ValueError, match="needs a model name"):
        make_policy("vlm", base_url="http://x/v1")
    with pytest.raises(ValueError, match="needs an endpoint"):
        make_policy("vlm", model="m")


# -- whole episodes: the real primitives in the simulator ---------------------------------
def _episode(method, task="place-in-bowl", seed=1000, **kwargs):
    env = TabletopEnv(task)
    try:
        env.reset(seed=seed)
        return make_policy(method, **kwargs).run(env)
    finally:
        env.close()


@pytest.mark.parametrize("mode, message", [
    ("hallucinate", "VLM plan invalid: step 1 names unknown object 'unicorn_block'"),
    ("malformed", "VLM answer is not JSON"),
    ("wrong-skill", "VLM plan invalid: step 1 names unknown skill 'teleport'"),
    ("http-500", "HTTP 500"),
])
def test_bad_answers_are_counted_failures(double, mode, message):
    double.mode = mode
    out = _episode("vlm", base_url=double.base_url, model="m", retries=0)
    assert out.success is False and message in out.failure_reason
    assert out.extra["executed"] == [] and out.extra["vlm_calls"] == 1
    assert out.extra["not_measured"]


def test_unreachable_endpoint_is_a_counted_failure():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    out = _episode("vlm", base_url=url, model="m", retries=0)
    assert out.success is False and "unreachable" in out.failure_reason
    assert out.extra["not_measured"] == "no answer from a model"


def test_open_loop_solves_lift_with_the_real_primitives(double, tmp_path):
    out = _episode("vlm", task="lift", base_url=double.base_url, model="m",
                   cache_dir=tmp_path)
    assert out.success is True and out.failure_reason == ""
    assert out.extra["vlm_plan"] == [{"name": "pick_up", "args": ["red_box"]}]
    assert out.plan == [{"name": "pick", "args": ["red_box"]}]  # as primitive actions
    assert out.extra["executed"] == [{"name": "pick_up", "args": ["red_box"], "ok": True}]
    assert out.extra["control_steps"] > 100  # it really moved
    assert out.extra["not_measured"] == "answers came from the test double, not a model"
    assert len(double.requests) == 1 and double.requests[0]["images"] == 1
    # the same seed renders the same image: the cache answers with the server gone
    double.stop()
    again = _episode("vlm", task="lift", base_url=None, model="m", cache_dir=tmp_path,
                     cache_only=True)
    assert again.success is True and again.extra["vlm_cache_hits"] == 1
    assert again.extra["vlm_requests_sent"] == 0
    miss = _episode("vlm", task="lift", seed=1001, model="m", cache_dir=tmp_path,
                    cache_only=True)
    assert miss.success is False and "not in cache" in miss.failure_reason


@pytest.mark.slow
def test_place_in_bowl_open_and_closed_loop(double):
    out = _episode("vlm", base_url=double.base_url, model="m")
    assert out.success is True
    assert out.extra["vlm_plan"] == [
        {"name": "pick_place_in", "args": ["red_block_0", "green_bowl"]}]
    assert out.plan == [{"name": "pick", "args": ["red_block_0"]},
                        {"name": "place-in", "args": ["red_block_0", "green_bowl"]}]
    double.mode, double.requests[:] = "hallucinate-once", []
    closed = _episode("vlm-closed", base_url=double.base_url, model="m")
    # 1: hallucinated, 2: the step, 3: "done" (an empty plan)
    assert closed.success is True and closed.extra["vlm_calls"] == 3
    assert "invalid" in closed.extra["vlm_answers"][0]
    assert "your last answer was invalid: VLM plan invalid: step 1 names unknown object " \
           "'unicorn_block'" in double.requests[1]["prompt"]
    assert "- pick_place_in(red_block_0, green_bowl): done" in double.requests[2]["prompt"]
    assert closed.extra["replans"] == 2


def test_closed_loop_gives_up_after_max_calls(double):
    double.mode = "hallucinate"
    out = _episode("vlm-closed", base_url=double.base_url, model="m", max_calls=1)
    assert out.success is False and out.extra["vlm_calls"] == 1 and len(double.requests) == 1
    assert out.failure_reason.startswith("gave up after 1 VLM calls: your last answer was "
                                         "invalid")


def test_a_stalled_closed_loop_is_not_replayed(double):
    """The same invalid answer twice: the third call would ask exactly what the second
    asked (same steps, same feedback), so the loop stops instead of replaying it."""
    double.mode = "hallucinate"
    out = _episode("vlm-closed", base_url=double.base_url, model="m", max_calls=10)
    assert out.success is False and out.extra["vlm_calls"] == 2 and len(double.requests) == 2
    assert out.failure_reason.startswith("the VLM loop stalled: call 3 would ask what call 2 "
                                         "asked, with the same steps and feedback: your last "
                                         "answer was invalid")


def test_text_only_sends_no_image_and_gives_positions(double):
    """``vlm-text`` works with a server of a model without vision, which refuses images."""
    double.mode = "no-vision"
    out = _episode("vlm-text", base_url=double.base_url, model="m")
    assert out.success, out.failure_reason
    assert [r["images"] for r in double.requests] == [0]
    assert "You get no image" in double.requests[0]["prompt"]
    assert "cm high" in double.requests[0]["prompt"] and out.extra["vlm_text_only"] is True
    double.requests.clear()
    seeing = _episode("vlm", base_url=double.base_url, model="m")
    assert not seeing.success and "image input is not supported" in seeing.failure_reason
    assert len(double.requests) == 1  # refused at once, not retried


def test_json_schema_constrains_the_answer_to_the_scene(double, bowl_world):
    from policies.vlm_prompt import plan_schema

    schema = plan_schema(bowl_world, "pick-place")
    steps = {s["properties"]["skill"]["const"]: s["properties"]["args"]
             for s in schema["properties"]["plan"]["items"]["anyOf"]}
    assert set(steps) == {"pick_place_in", "stack", "place_on_table", "pick_up"}
    into = steps["pick_place_in"]
    assert into["minItems"] == into["maxItems"] == 2
    bowls = {n for n, o in bowl_world.objects.items() if o.category == "bowl"}
    assert set(into["prefixItems"][1]["enum"]) == bowls
    assert set(into["prefixItems"][0]["enum"]) == set(bowl_world.objects) - bowls
    out = _episode("vlm", base_url=double.base_url, model="m", json_schema=True)
    assert out.success, out.failure_reason
    fmt = double.requests[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["required"] == ["plan"]


def test_the_schema_offers_only_skills_the_scene_has_arguments_for():
    """No bowl or tray in the scene: no pick_place_in, and no empty list of names (a
    server refuses such a schema: HTTP 400)."""
    from policies.vlm_prompt import plan_schema

    env = TabletopEnv("rebuild-tower")
    env.reset(seed=1000)
    world = env.oracle_world()
    env.close()
    schema = plan_schema(world, "pick-place")
    steps = schema["properties"]["plan"]["items"]["anyOf"]
    assert "pick_place_in" not in {s["properties"]["skill"]["const"] for s in steps}
    assert all(a["enum"] for s in steps for a in s["properties"]["args"]["prefixItems"])


def test_pyramid_offers_build_into_every_slot():
    env = TabletopEnv("stack-pyramid")
    env.reset(seed=1000)
    world = env.oracle_world()
    env.close()
    text = build_prompt(env.instance.description, world, "pyramid")
    assert "build(block, slot)" in text and "pick_place_in" not in text
    assert "- slot_2_1: slot 1 of row 2 of the pyramid" in text
    assert "- slot_3_1: slot 1 of row 3" in text
    assert parse_plan(_plan(_step("build", "cyan_block", "slot_1_1"),
                            _step("build", "blue_block", "slot_3_1")), world, "pyramid") == [
        ("build", ["cyan_block", "slot_1_1"]), ("build", ["blue_block", "slot_3_1"])]
    with pytest.raises(PlanError, match="unknown object 'slot_4_1'"):
        parse_plan(_plan(_step("build", "cyan_block", "slot_4_1")), world, "pyramid")
    with pytest.raises(PlanError, match="'green_block' cannot be the slot of build"):
        parse_plan(_plan(_step("build", "cyan_block", "green_block")), world, "pyramid")


@pytest.mark.slow
def test_hanoi_plan_runs_with_put_onto_places_and_disks(double):
    out = _episode("vlm", task="towers-of-hanoi", base_url=double.base_url, model="m")
    plan = out.extra["vlm_plan"]
    assert [s["name"] for s in plan] == ["put"] * 7
    assert plan[0] == {"name": "put", "args": ["disk_1", "place_3"]}
    assert plan[2] == {"name": "put", "args": ["disk_1", "disk_2"]}
    assert [a["name"] for a in out.plan] == ["pick", "put"] * 7  # 14, as the planner's
    assert [s["ok"] for s in out.extra["executed"]] == [True] * 7
    assert out.success is True and out.failure_reason == ""
