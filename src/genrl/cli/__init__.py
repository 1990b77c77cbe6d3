"""Command-line entry points (``genrl-eval``, ``genrl-report``; ``train.py`` at the repository root): the top
layer, which nothing in genrl imports."""
