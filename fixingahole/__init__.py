"""fixing-a-hole: a profiling workbench for Python code bases, built on Scalene."""

__version__ = "0.1.0"
