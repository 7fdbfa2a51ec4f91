"""iapo: inference-aware prompt optimization (PSST)."""

__version__ = "0.1.0"
