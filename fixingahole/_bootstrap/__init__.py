"""The folder the runner puts first on a profiled script's PYTHONPATH (see sitecustomize.py)."""
