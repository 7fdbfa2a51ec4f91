"""What a live run needs besides the model: datasets, templates, answers and scorers."""

from ._answers import DEFAULT_PATTERN, AnswerExtractor, canonical_number
from ._dataset import Dataset, Template, handle_duplicates, load_dataset
from ._presets import ANSWER_PRESETS, PresetExtractor, build_extractor
from ._scorers import SCORERS, Sample, Scorer, ScoringError, build_scorer, normalise

__all__ = [
    "ANSWER_PRESETS",
    "DEFAULT_PATTERN",
    "SCORERS",
    "AnswerExtractor",
    "Dataset",
    "PresetExtractor",
    "Sample",
    "Scorer",
    "ScoringError",
    "Template",
    "build_extractor",
    "build_scorer",
    "canonical_number",
    "handle_duplicates",
    "load_dataset",
    "normalise",
]
