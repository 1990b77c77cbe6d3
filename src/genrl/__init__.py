"""genrl: offline reinforcement learning with generative (diffusion and flow-matching) policies."""

from genrl.acting.agent import Agent
from genrl.models import GenerativeModel

__version__ = "0.1.0"
__all__ = ["Agent", "GenerativeModel", "__version__"]
