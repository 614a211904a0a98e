"""``transporter-1demo``: a Transporter-style pick-and-place policy on top-down images
(after Zeng et al. 2020, "Transporter Networks: Rearranging the Visual World for Robotic
Manipulation"; written for this project from the paper's description).

The observation is a top-down colour and height map of the workspace
(:func:`policies.demos.topdown`, 6.25 mm cells). Two fully convolutional networks:

* *attention*: a logit per cell — where to pick; the object under the chosen cell (or
  the movable object nearest to it) is picked;
* *transport*: a crop around the pick cell is encoded and its features turned to
  ``rotations`` angles (query); the whole image is encoded (key); their cross-correlation gives a
  logit per (rotation, cell) — where the picked object's centre goes and by how much it
  turns.

Training is on the one demonstration with the paper's augmentation: each iteration the
image of a demo step is rotated and translated at random (pick and place cells moved
with it; the rotation of the object between pick and place does not change). Both heads
are trained with cross-entropy against the demonstrated cells (and rotation bin).
Execution goes through the same primitives as every other method.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from policies.base import EpisodeOutcome, Monitor, Policy, register_policy
from policies.demos import (TOPDOWN_RES, TOPDOWN_X, TOPDOWN_Y, Demo, cell_of, rollout,
                            topdown, topdown_shape, xy_of, yaw_of)
from policies.weights import ImitationOptions
from scenes.env import TabletopEnv

METHOD = "transporter-1demo"


@dataclass(frozen=True)
class TransporterConfig:
    rotations: int = 36  #: place rotation bins over a full turn (the paper's 36)
    crop: int = 33  #: cells of the query crop (odd: centred on the pick cell), ~20 cm
    width: int = 12  #: channels of the first layer of each network
    channels: int = 3  #: key/query feature channels (the paper's 3)
    #: halvings of each network's encoder (2: a 44 cm receptive field, 22 cm either side
    #: of a cell; 3: 89 cm, which spans the towers-of-hanoi row, 30 cm end to end)
    levels: int = 2
    iterations: int = 500
    #: Adam; the paper's 1e-4 is for tens of thousands of iterations, too slow to
    #: converge in the few hundred a CPU affords in minutes
    lr: float = 1e-3
    seed: int = 0
    max_shift: int = 24  #: cells of random translation in augmentation


def _conv(a: int, b: int, stride: int = 1, dilation: int = 1) -> nn.Module:
    return nn.Sequential(nn.Conv2d(a, b, 3, stride, dilation, dilation), nn.ReLU())


class FCN(nn.Module):
    """An encoder-decoder (``levels`` halvings, dilated convolutions at the bottom, skip
    connections); output the input's size. Its receptive field: 71 cells (44 cm at
    6.25 mm) with 2 levels, 143 (89 cm) with 3 (:func:`receptive_field`)."""

    def __init__(self, cin: int, cout: int, width: int = 16, levels: int = 2):
        super().__init__()
        w = width
        self.enc1 = nn.Sequential(_conv(cin, w), _conv(w, w))
        # the original two-level layout keeps its parameter names (shipped checkpoints)
        self.enc2 = nn.Sequential(_conv(w, 2 * w, 2), _conv(2 * w, 2 * w))
        self.deeper = nn.ModuleList(nn.Sequential(_conv(2 * w, 2 * w, 2), _conv(2 * w, 2 * w))
                                    for _ in range(levels - 2))
        self.enc3 = nn.Sequential(_conv(2 * w, 2 * w, 2), _conv(2 * w, 2 * w, 1, 2),
                                  _conv(2 * w, 2 * w, 1, 4))
        self.ups = nn.ModuleList(_conv(4 * w, 2 * w) for _ in range(levels - 2))
        self.dec2 = _conv(4 * w, 2 * w)
        self.dec1 = _conv(3 * w, w)
        self.out = nn.Conv2d(w, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        skips = [self.enc2(e1)]
        for stage in self.deeper:
            skips.append(stage(skips[-1]))
        d = self.enc3(skips[-1])
        for up, skip in zip(reversed(self.ups), reversed(skips[1:])):
            d = up(torch.cat([F.interpolate(d, size=skip.shape[-2:]), skip], 1))
        d2 = self.dec2(torch.cat([F.interpolate(d, size=skips[0].shape[-2:]), skips[0]], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, size=e1.shape[-2:]), e1], 1))
        return self.out(d1)


def receptive_field(levels: int, size: int = 301) -> int:
    """Cells of input (one side to the other) that one output cell of an :class:`FCN`
    with ``levels`` depends on, measured: the input gradient of the centre cell's output
    (71 cells with 2 levels, 143 with 3)."""
    torch.manual_seed(0)
    net = FCN(4, 1, 8, levels).double()
    x = torch.rand(1, 4, size, size, dtype=torch.float64, requires_grad=True)
    net(x)[0, 0, size // 2, size // 2].backward()
    rows = torch.nonzero(x.grad.abs().sum((0, 1, 3))).flatten()
    return int(rows.max() - rows.min() + 1)


def prepare(image: torch.Tensor) -> torch.Tensor:
    """(..., H, W, 4) colour + height (m) -> (..., 4, H, W) network input."""
    x = image.movedim(-1, -3)
    return torch.cat([(x[..., :3, :, :] - 0.5) * 2.0, x[..., 3:, :, :] * 10.0], -3)


def rotate_crops(crop: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """``crop`` (C, S, S) turned by each of ``angles`` (rad, counter-clockwise in the
    world's x-y plane; rows run along x, columns along y) about its centre cell."""
    c, s = torch.cos(angles), torch.sin(angles)
    zero = torch.zeros_like(c)
    # output (col, row) samples the input at R(-angle) in world axes, in (col, row) order
    theta = torch.stack([torch.stack([c, -s, zero], -1), torch.stack([s, c, zero], -1)], -2)
    grid = F.affine_grid(theta, (len(angles), *crop.shape), align_corners=True)
    return F.grid_sample(crop.expand(len(angles), *crop.shape), grid, align_corners=True)


class Transporter(nn.Module):
    def __init__(self, config: TransporterConfig = TransporterConfig()):
        super().__init__()
        self.config = config
        self.attention = FCN(4, 1, config.width, config.levels)
        self.key = FCN(4, config.channels, config.width, config.levels)
        self.query = FCN(4, config.channels, config.width, config.levels)
        self.register_buffer("angles", torch.arange(config.rotations) * (2 * math.pi /
                                                                           config.rotations),
                             persistent=False)

    def pick_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(4, H, W) -> (H, W)."""
        return self.attention(x[None])[0, 0]

    def place_logits(self, x: torch.Tensor, pick: tuple[int, int]) -> torch.Tensor:
        """(4, H, W) and the pick cell -> (rotations, H, W)."""
        half = self.config.crop // 2
        # the query network sees a crop large enough that its turned copies keep their
        # corners; its features are turned (rather than the input, once per angle: 36
        # times cheaper on a CPU) and cut to the crop
        big = int(math.ceil(half * math.sqrt(2))) + 1
        padded = F.pad(x, (big, big, big, big))
        crop = padded[:, pick[0]:pick[0] + 2 * big + 1, pick[1]:pick[1] + 2 * big + 1]
        feats = rotate_crops(self.query(crop[None])[0], self.angles.to(x.device))
        query = feats[:, :, big - half:big + half + 1, big - half:big + half + 1]
        key = self.key(F.pad(x, (half, half, half, half))[None])[0]
        return correlate(key, query, x.shape[-2:])


@torch.no_grad()
def best_pick(net: Transporter, x: torch.Tensor) -> tuple[int, int]:
    """The cell where ``net``'s attention peaks on the prepared image ``x``."""
    pl = net.pick_logits(x)
    i = int(pl.argmax())
    return i // pl.shape[1], i % pl.shape[1]


@torch.no_grad()
def best_place(net: Transporter, x: torch.Tensor, pick: tuple[int, int]
               ) -> tuple[int, tuple[int, int]]:
    """Where ``net`` transports what is picked at ``pick``: (rotation bin, cell)."""
    tl = net.place_logits(x, pick)
    h, w = tl.shape[1:]
    j = int(tl.argmax())
    return j // (h * w), ((j // w) % h, j % w)


def correlate(key: torch.Tensor, query: torch.Tensor, size) -> torch.Tensor:
    """Cross-correlation of ``key`` (C, H + S - 1, W + S - 1) with each of ``query``
    (R, C, S, S): (R, H, W), the value at (i, j) with the query's centre over cell (i, j)
    — ``F.conv2d(key[None], query)[0]``, computed through the FFT (many times faster on a
    CPU for large kernels). The padded key is as large as the circular correlation needs:
    no index wraps around for i < H, j < W."""
    hp, wp = key.shape[-2:]
    kf = torch.fft.rfft2(key, s=(hp, wp))
    qf = torch.fft.rfft2(query, s=(hp, wp))
    out = torch.fft.irfft2((kf[None] * qf.conj()).sum(1), s=(hp, wp))
    return out[:, :size[0], :size[1]]


# -- data -----------------------------------------------------------------------------------
@dataclass
class TransportSample:
    image: np.ndarray  #: (H, W, 4)
    pick: tuple[int, int]  #: cell of the picked object's centre
    place: tuple[int, int]  #: cell where its centre came to rest
    rotation: int  #: bin of its turn from pick to place


def demo_samples(demo: Demo, rotations: int) -> list[TransportSample]:
    if demo.images is None:
        raise ValueError(f"the {demo.task} demonstration has no images (record it again)")
    out = []
    for step, image in zip(demo.steps, demo.images):
        pose = step.world.objects[step.pick].pose
        pick = tuple(int(round(v)) for v in cell_of(pose[:2, 3]))
        place = tuple(int(round(v)) for v in cell_of(step.place_xy))
        turn = (step.place_yaw - yaw_of(pose)) % (2 * math.pi)
        out.append(TransportSample(image, pick, place,
                                   int(round(turn / (2 * math.pi / rotations))) % rotations))
    return out


def augment(image: torch.Tensor, cells: list[tuple[int, int]], rng: np.random.Generator,
            max_shift: int, tries: int = 20):
    """The image (H, W, 4) rotated about its centre and shifted at random, and ``cells``
    moved with it; unchanged if no transform keeps every cell inside."""
    h, w = image.shape[:2]
    centre = np.array([(h - 1) / 2, (w - 1) / 2])
    pts = np.array(cells, float)
    for _ in range(tries):
        psi = rng.uniform(-math.pi, math.pi)
        shift = rng.integers(-max_shift, max_shift + 1, 2)
        r = np.array([[math.cos(psi), -math.sin(psi)], [math.sin(psi), math.cos(psi)]])
        moved = (pts - centre) @ r.T + centre + shift
        rounded = np.round(moved).astype(int)
        if (rounded >= 0).all() and (rounded[:, 0] < h).all() and (rounded[:, 1] < w).all():
            break
    else:
        return image, cells
    # each output cell samples the input at the inverse transform
    rr, cc = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                            torch.arange(w, dtype=torch.float32), indexing="ij")
    out = torch.stack([rr - centre[0] - shift[0], cc - centre[1] - shift[1]], -1)
    src = out @ torch.tensor(r, dtype=torch.float32) + torch.tensor(centre, dtype=torch.float32)
    grid = torch.stack([(2 * src[..., 1] + 1) / w - 1, (2 * src[..., 0] + 1) / h - 1], -1)
    new = F.grid_sample(image.movedim(-1, 0)[None], grid[None].to(image.device),
                        mode="nearest", align_corners=False)[0].movedim(0, -1)
    return new, [tuple(int(v) for v in p) for p in rounded]


#: the ``format`` in the metadata of a saved training state
TRAIN_STATE_FORMAT = "tamp-transporter-training-state"


class TransporterTrainer:
    """Training on a demonstration's samples that can stop after any iteration and go on
    later exactly as if it had not stopped: the network, Adam's moments and the
    augmentation's random generator are saved (:meth:`save`, one safetensors file) and
    restored (:meth:`resume`), refused where the settings differ."""

    def __init__(self, samples: list[TransportSample],
                 config: TransporterConfig = TransporterConfig(),
                 device: str | torch.device = "cpu", about: dict | None = None):
        if not samples:
            raise ValueError("no training samples")
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.device = torch.device(device)
        self.config, self.samples = config, samples
        self.net = Transporter(config).to(self.device)
        self.opt = torch.optim.Adam(self.net.parameters(), config.lr)
        self.images = [torch.from_numpy(np.asarray(s.image, np.float32)).to(self.device)
                       for s in samples]
        self.iteration, self.seconds, self.recent = 0, 0.0, []
        #: what a saved state must match to be resumed (JSON's view of it)
        self.settings = json.loads(json.dumps({"model": asdict(config),
                                               "samples": len(samples), **(about or {})}))

    def train(self, until: int, progress=None) -> None:
        """Iterations up to ``until`` (in all); ``progress(iteration, mean loss)`` every
        100 and at the end."""
        net, dev, rng = self.net.train(), self.device, self.rng
        t0 = time.perf_counter()
        while self.iteration < until:
            self.iteration += 1
            k = int(rng.integers(len(self.samples)))
            s = self.samples[k]
            image, (pick, place) = augment(self.images[k], [s.pick, s.place], rng,
                                           self.config.max_shift)
            x = prepare(image)
            h, w = x.shape[-2:]
            pl = net.pick_logits(x).reshape(1, -1)
            tl = net.place_logits(x, pick).reshape(1, -1)
            loss = F.cross_entropy(pl, torch.tensor([pick[0] * w + pick[1]], device=dev)) + \
                F.cross_entropy(tl, torch.tensor([(s.rotation * h + place[0]) * w + place[1]],
                                                 device=dev))
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            self.recent = (self.recent + [float(loss.detach())])[-50:]
            if progress is not None and (self.iteration % 100 == 0 or self.iteration == until):
                progress(self.iteration, float(np.mean(self.recent)))
        self.seconds += time.perf_counter() - t0
        net.eval()

    def report(self) -> dict:
        return {"samples": len(self.samples), "iterations": self.iteration,
                "final_loss": round(float(np.mean(self.recent)), 4) if self.recent else None,
                "seconds": round(self.seconds, 1)}

    def save(self, path: str | Path) -> None:
        """One file, written atomically: the network and Adam's moments as tensors, the
        iteration, the generator's state and the settings in its metadata (JSON)."""
        from safetensors.torch import save_file

        from tamp.files import atomic_path

        tensors = {f"net.{k}": v.detach().cpu().contiguous()
                   for k, v in self.net.state_dict().items()}
        opt = self.opt.state_dict()
        for index, state in opt["state"].items():
            for name, value in state.items():
                tensors[f"opt.{index}.{name}"] = torch.as_tensor(value).detach().cpu() \
                    .contiguous()
        meta = {"settings": self.settings, "iteration": self.iteration,
                "seconds": self.seconds, "recent": self.recent,
                "rng": self.rng.bit_generator.state, "param_groups": opt["param_groups"]}
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"format": TRAIN_STATE_FORMAT,
                                                   "state": json.dumps(meta)})

    def resume(self, path: str | Path) -> bool:
        """Continue from the state saved at ``path`` (False if there is none); a
        ValueError if it was saved with other settings or is not such a state."""
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            return False
        try:
            with safe_open(str(path), framework="pt", device=str(self.device)) as f:
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
            if meta.get("format") != TRAIN_STATE_FORMAT:
                raise ValueError("not a training state")
            meta = json.loads(meta["state"])
        except Exception as err:  # safetensors' own errors: not a safetensors file
            raise ValueError(f"{path}: not a readable Transporter training state "
                             f"({str(err).splitlines()[0]})") from None
        saved = meta.get("settings") or {}
        if isinstance(saved.get("model"), dict):  # a field added since: its default then
            saved["model"] = {**json.loads(json.dumps(asdict(TransporterConfig()))),
                              **saved["model"]}
        if saved != self.settings:
            raise ValueError(f"{path} was saved by a training with other settings (its "
                             f"model, demonstration or seed); remove it or use another "
                             f"output folder")
        self.net.load_state_dict({k[4:]: v for k, v in tensors.items()
                                  if k.startswith("net.")})
        state: dict = {}
        for key, value in tensors.items():
            if key.startswith("opt."):
                _, index, name = key.split(".", 2)
                state.setdefault(int(index), {})[name] = value
        self.opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
        self.rng.bit_generator.state = meta["rng"]
        self.iteration, self.seconds = int(meta["iteration"]), float(meta["seconds"])
        self.recent = list(meta["recent"])
        return True


def train_transporter(samples: list[TransportSample],
                      config: TransporterConfig = TransporterConfig(),
                      device: str | torch.device = "cpu", progress=None
                      ) -> tuple[Transporter, dict]:
    """``config.iterations`` of training from scratch: the network and a report."""
    trainer = TransporterTrainer(samples, config, device)
    trainer.train(config.iterations, progress)
    return trainer.net, trainer.report()


def image_config() -> dict:
    return {"x": list(TOPDOWN_X), "y": list(TOPDOWN_Y), "resolution": TOPDOWN_RES,
            "shape": list(topdown_shape())}


# -- the policy -----------------------------------------------------------------------------
@register_policy(METHOD)
class TransporterPolicy(Policy):
    """Pick where the attention map peaks; place where the transported crop matches."""

    Options = ImitationOptions

    def __init__(self, checkpoints: str | Path | None = None, device: str = "cpu",
                 max_steps: int | None = None, config=None):
        self.root = checkpoints
        self.config = config  #: the primitives' PlannerConfig (default: the planner's)
        self.device = torch.device(device)
        self.max_steps = max_steps

    def load(self, task: str) -> tuple[Transporter, dict]:
        from policies.weights import CheckpointInvalid, load_checkpoint, load_weights

        doc, tensors = load_checkpoint(METHOD, task, self.root)
        if doc["config"].get("image") != image_config():
            raise CheckpointInvalid(f"{METHOD} checkpoint for {task} was trained on other "
                                    "images (train it again)")
        fields = TransporterConfig.__dataclass_fields__
        net = Transporter(TransporterConfig(**{k: v for k, v in doc["config"]["model"].items()
                                               if k in fields}))
        net = load_weights(net, tensors, METHOD, task)
        return net.to(self.device).eval(), doc

    def run(self, env: TabletopEnv, monitor: Monitor | None = None) -> EpisodeOutcome:
        from policies.weights import CheckpointInvalid, CheckpointMissing, checkpoint_robot

        task = env.task.name
        try:
            net, doc = self.load(task)
        except (CheckpointMissing, CheckpointInvalid) as err:
            return EpisodeOutcome(False, failure_reason=str(err))
        dev = self.device
        n_rot = net.config.rotations

        def choose(env: TabletopEnv):
            view = topdown(env)
            world = env.oracle_world()  # only to name what is under the chosen cell
            movable = [o for o in world.objects.values() if o.movable]
            if not movable:
                return "nothing to pick"
            x = prepare(torch.from_numpy(view.image).to(dev))
            pick = best_pick(net, x)
            rot, cell = best_place(net, x, pick)
            name = view.object_at(pick)
            if name not in {o.name for o in movable}:
                here = np.array(xy_of(pick))
                name = min(movable, key=lambda o: np.linalg.norm(o.position[:2] - here)).name
            yaw = yaw_of(world.objects[name].pose) + rot * 2 * math.pi / n_rot
            return name, xy_of(cell), yaw

        max_steps = self.max_steps or int(doc["config"]["max_steps"])
        monitor = monitor or Monitor()
        extra = {"checkpoint_task": task, "demo_seed": doc["info"].get("demo_seed"),
                 **checkpoint_robot(doc, env.robot.name, monitor.stage)}
        return rollout(env, choose, max_steps, monitor, extra, self.config)


def checkpoint_config(config: TransporterConfig, max_steps: int) -> dict:
    return {"model": asdict(config), "image": image_config(), "max_steps": max_steps}
