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

from .language.diagnostics import CriteriaError, Diagnostic, Span
from .language.incident import IncidentError, IncidentFacts, incident_model, read_incident
from .load import (Guidance, LoadedVocabulary, compile_file, compile_text, criteria_for, find_criteria, in_force_on,
                   load_criteria, load_vocabulary, versions)
from .result import CriterionResult, Result

__all__ = [
    "CriteriaError", "CriterionResult", "Diagnostic", "Guidance", "Incident", "IncidentError", "IncidentFacts",
    "LoadedVocabulary", "incident_model",
    "Result", "Span", "compile_file", "compile_text", "criteria_for", "find_criteria", "in_force_on",
    "load_criteria", "load_vocabulary", "read_incident", "versions",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    # `evaluator.Incident` is built from the shipped vocabulary the first time it is used.
    if name == "Incident":
        model = load_vocabulary().incident_model()
        globals()["Incident"] = model
        return model
    raise AttributeError(f"module 'evaluator' has no attribute {name!r}")
