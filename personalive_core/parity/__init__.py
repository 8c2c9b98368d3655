"""Tools to compare this implementation with fixtures recorded from the original code."""

from .compare import StageResult, compare_exact, compare_tensors, format_table
from .fixture import GoldenCase, generate_case_weights

__all__ = ["StageResult", "compare_exact", "compare_tensors", "format_table", "GoldenCase", "generate_case_weights"]
