"""Every method behind one interface; the TAMP agent is one policy among them."""

from policies.base import (EpisodeOutcome, Monitor, Policy, make_policy, policy_names,
                           register_policy)
from policies import tamp_agent  # noqa: F401  (registers "tamp")
from policies import vlm  # noqa: F401  (registers "vlm" and "vlm-closed")
from policies import bc, transporter  # noqa: F401  (registers the one-demo imitation baselines)

__all__ = ["EpisodeOutcome", "Monitor", "Policy", "make_policy", "policy_names", "register_policy"]
