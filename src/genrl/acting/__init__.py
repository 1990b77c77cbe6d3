"""Acting and deployment, one home: how an action is drawn (``policy``: normalisation, K candidates, selection),
that policy built from a run's config or checkpoint (``loading``), and :class:`~genrl.acting.agent.Agent`.

Empty on purpose: ``policy`` sits low (``genrl.config`` names its selections), ``loading`` and ``agent`` above the
building layer (docs/architecture.md).
"""
