"""The PDDL domains the planner refines into motions, one module each (see
:mod:`tamp.domains.base` for what a domain brings). Importing this package registers the
bundled ones; a new domain is one module that calls :func:`register_domain`.
"""

from tamp.domains.base import (ARGUMENT_KINDS, CONTAINERS, DOMAINS, GENERIC_STREAMS, Domain, Fact,
                               PlacementFn, PlacementStream, Skill, get_domain,
                               register_domain)
from tamp.domains import hanoi, pick_place, pyramid  # noqa: F401,E402  (each registers)

__all__ = ["ARGUMENT_KINDS", "CONTAINERS", "DOMAINS", "GENERIC_STREAMS", "Domain", "Fact", "PlacementFn",
           "PlacementStream", "Skill", "get_domain", "register_domain"]
