"""genrl: offline reinforcement learning with generative (diffusion and flow-matching) policies."""

from genrl.models import GenerativeModel

__version__ = "0.1.0"
__all__ = ["GenerativeModel", "__version__"]
