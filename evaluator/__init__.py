"""IR(ME)R notification criteria as data: load a version of the guidance and evaluate incidents.

>>> from evaluator import load_criteria
>>> guidance = load_criteria("2024")
>>> result = guidance.evaluate({
...     "id": "INC-042", "jurisdiction": "England", "exposure": "unintended",
...     "modality": "diagnostic", "intended_dose": "2 mSv", "total_dose": "22 mSv",
...     "discovered_on": "2024-09-02"})
>>> result.notifiable, result.codes, str(result.notify_by)
(True, ['2.2'], '2024-09-16')

See docs/embedding.md for the whole API.
"""

from .diagnostics import CriteriaError, Diagnostic, Span
from .incident import Incident, IncidentError, read_incident
from .load import (Guidance, LoadedVocabulary, compile_file, compile_text, criteria_for, find_criteria, in_force_on,
                   load_criteria, load_vocabulary, versions)
from .result import CriterionResult, Result

__all__ = [
    "CriteriaError", "CriterionResult", "Diagnostic", "Guidance", "Incident", "IncidentError", "LoadedVocabulary",
    "Result", "Span", "compile_file", "compile_text", "criteria_for", "find_criteria", "in_force_on",
    "load_criteria", "load_vocabulary", "read_incident", "versions",
]
__version__ = "0.1.0"
