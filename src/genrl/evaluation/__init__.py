"""Evaluation: tasks and their normalised scores, and vectorised policy rollouts."""

from genrl.evaluation.evaluator import EvalResult, Evaluator, make_env
from genrl.evaluation.tasks import SCORE_SCALE, Task, comparability

__all__ = ["SCORE_SCALE", "EvalResult", "Evaluator", "Task", "comparability", "make_env"]
