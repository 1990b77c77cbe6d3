"""Acting and deployment: how an action is drawn (``policy``), that policy from a run's config or checkpoint
(``loading``), :class:`~genrl.acting.agent.Agent`. Empty: ``policy`` sits below ``genrl.config``, the rest above."""
