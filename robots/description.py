"""Robots from descriptions written elsewhere: a third party's arm (its URDF with mesh
collision geometry, its SRDF) with the project's Robotiq 2F-85 on its flange.

A robot YAML with a ``description:`` block names where the arm's description is installed
and how the gripper goes on, instead of a URDF of its own::

    description:
      package: example-robot-data        # the pip distribution that installs it
      urdf: robots/panda_description/urdf/panda.urdf    # in the distribution's share folder
      srdf: robots/panda_description/srdf/panda.srdf    # optional: disabled collision pairs
      remove: [panda_hand_joint]         # these joints and all below them (the vendor hand)
      flange: {parent: panda_link8, link: panda_flange, rpy: [0, 0, -0.785398]}

:func:`compose` reads the arm's URDF as installed, removes what ``remove`` names, turns its
``package://`` mesh addresses into absolute paths (PyBullet and pinocchio both read them),
adds the flange link and the 2F-85 (``robots.tools.urdf_parts``, the same part the project's
robots carry) and writes the result to the user's cache, named by its content. Nothing of
the third party's is copied into this repository: the arm is read from the installed
package every time. The joint position, velocity and effort limits come from the URDF (a
YAML may still state them); disabled collision pairs from the SRDF join the YAML's.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

#: where a distribution's data lands when a cmake-built wheel installs it (cmeel)
_SHARE_PREFIXES = ("cmeel.prefix/share", "share")


@dataclass(frozen=True)
class Composed:
    urdf: Path  #: the arm with the 2F-85, in the cache
    disabled_collisions: tuple[tuple[str, str], ...]  #: from the SRDF, links present only


def share_dir(package: str) -> Path:
    """The folder ``share/PACKAGE`` that pip distribution ``package`` installed; a
    ``LookupError`` that says how to install it when it is not installed."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        raise LookupError(f"the robot description package '{package}' is not installed "
                          f"(pip install {package}; 'make setup' installs it)") from None
    for prefix in _SHARE_PREFIXES:
        where = Path(str(dist.locate_file(f"{prefix}/{package}")))
        if where.is_dir():
            return where
    raise LookupError(f"'{package}' is installed but holds no share/{package} folder")


def _resolve_meshes(root: ET.Element, share: Path, package: str, source: Path) -> None:
    """Mesh file names to absolute paths: ``package://PACKAGE/...`` in the share folder's
    parent, ``file://`` and relative names beside the source URDF."""
    for mesh in root.iter("mesh"):
        name = mesh.get("filename", "")
        if name.startswith("package://"):
            pkg, _, rest = name[len("package://"):].partition("/")
            if pkg != package:
                raise ValueError(f"{source}: mesh {name} is in package '{pkg}', not "
                                 f"'{package}'")
            path = share / rest
        elif name.startswith("file://"):
            path = Path(name[len("file://"):])
        else:
            path = source.parent / name
        if not path.is_file():
            raise FileNotFoundError(f"{source}: mesh {name} not found ({path})")
        mesh.set("filename", str(path.resolve()))


def _remove_subtrees(root: ET.Element, joints: list[str], source: Path) -> None:
    """Remove each named joint, its child link and everything attached below it."""
    by_parent: dict[str, list[ET.Element]] = {}
    for j in root.findall("joint"):
        by_parent.setdefault(j.find("parent").get("link"), []).append(j)
    named = {j.get("name"): j for j in root.findall("joint")}
    for name in joints:
        if name not in named:
            raise ValueError(f"{source}: no joint '{name}' to remove")
        stack = [named[name]]
        while stack:
            joint = stack.pop()
            child = joint.find("child").get("link")
            stack.extend(by_parent.get(child, []))
            root.remove(joint)
            for link in root.findall("link"):
                if link.get("name") == child:
                    root.remove(link)


def srdf_disabled_pairs(srdf: Path, links: set[str]) -> tuple[tuple[str, str], ...]:
    """The SRDF's ``disable_collisions`` pairs whose two links are both in ``links``."""
    pairs = []
    for e in ET.parse(srdf).getroot().iter("disable_collisions"):
        a, b = e.get("link1"), e.get("link2")
        if a in links and b in links:
            pairs.append((a, b))
    return tuple(pairs)


def cache_dir() -> Path:
    """Where composed URDFs go: ``$XDG_CACHE_HOME/tamp/robots`` (``~/.cache`` by default)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "tamp" / "robots"


def _write_cached(name: str, text: str) -> Path:
    """``text`` as file ``name`` in the cache (atomically; kept when already equal), or in
    the temporary folder where the cache cannot be written (a read-only home)."""
    import tempfile

    from tamp.files import write_text_atomic

    for folder in (cache_dir(), Path(tempfile.gettempdir()) / "tamp-robots"):
        out = folder / name
        try:
            if out.is_file() and out.read_text() == text:
                return out
            folder.mkdir(parents=True, exist_ok=True)
            write_text_atomic(out, text)
            return out
        except OSError:
            continue
    raise OSError(f"cannot write the composed URDF {name} to {cache_dir()} or the "
                  "temporary folder")


def compose(name: str, description: dict, where: Path) -> Composed:
    """The robot ``name``'s URDF composed from ``description`` (a YAML's block, see the
    module's docstring; ``where`` names the YAML in errors)."""
    from robots.tools.urdf_parts import MATERIALS, _inertial, _joint, add_robotiq_2f85

    try:
        package = description["package"]
        share = share_dir(package)
        source = share / description["urdf"]
        flange = description["flange"]
    except KeyError as err:
        raise ValueError(f"{where}: 'description.{err.args[0]}' is missing") from None
    if not source.is_file():
        raise FileNotFoundError(f"{where}: {source} is not in '{package}'")
    root = ET.parse(source).getroot()
    root.set("name", name)
    _remove_subtrees(root, list(description.get("remove", [])), source)
    _resolve_meshes(root, share, package, source)
    materials = {m.get("name") for m in root.findall("material")}
    for material, rgba in MATERIALS.items():
        if material not in materials:
            ET.SubElement(ET.SubElement(root, "material", name=material), "color", rgba=rgba)
    link = ET.SubElement(root, "link", name=flange["link"])
    _inertial(link, 0.001, (0.01, 0.01, 0.01))
    _joint(root, f"{flange['link']}_joint", "fixed", flange["parent"], flange["link"],
           tuple(flange.get("xyz", (0, 0, 0))), tuple(flange.get("rpy", (0, 0, 0))))
    add_robotiq_2f85(root, flange["link"])
    text = ("<?xml version=\"1.0\"?>\n<!-- Composed by robots/description.py from "
            f"{package}'s {description['urdf']} (read as installed) with the project's "
            "Robotiq 2F-85: do not edit. -->\n" + ET.tostring(root, encoding="unicode"))
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    out = _write_cached(f"{name}-{digest}.urdf", text)
    links = {e.get("name") for e in root.findall("link")}
    disabled = ()
    if description.get("srdf"):
        srdf = share / description["srdf"]
        if not srdf.is_file():
            raise FileNotFoundError(f"{where}: {srdf} is not in '{package}'")
        disabled = srdf_disabled_pairs(srdf, links)
    return Composed(out, disabled)
