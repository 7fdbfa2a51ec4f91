"""What a live run needs besides the model: datasets, templates, answers and scorers."""

from ._answers import DEFAULT_PATTERN, AnswerExtractor, canonical_number
from ._dataset import Dataset, Template, handle_duplicates, load_dataset
from ._scorers import SCORERS, Sample, Scorer, ScoringError, build_scorer, normalise

__all__ = [
    "DEFAULT_PATTERN",
    "SCORERS",
    "AnswerExtractor",
    "Dataset",
    "Sample",
    "Scorer",
    "ScoringError",
    "Template",
    "build_scorer",
    "canonical_number",
    "handle_duplicates",
    "load_dataset",
    "normalise",
]
