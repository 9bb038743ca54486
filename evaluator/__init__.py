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

__version__ = "0.1.0"

# The public API, imported when first used: `import evaluator.cli` must not pay for the whole pipeline
# (parser, checker, unit registry) before it knows what it is asked to do.
_API = {
    "CriteriaError": ".language.diagnostics", "Diagnostic": ".language.diagnostics", "Span": ".language.diagnostics",
    "IncidentError": ".language.incident", "IncidentFacts": ".language.incident",
    "incident_model": ".language.incident", "read_incident": ".language.incident",
    "Guidance": ".load", "LoadedVocabulary": ".load", "compile_file": ".load", "compile_text": ".load",
    "criteria_for": ".load", "load_criteria": ".load", "load_vocabulary": ".load",
    "find_criteria": ".catalogue", "in_force_on": ".catalogue", "versions": ".catalogue",
    "prepare": ".prepared", "Prepared": ".prepared",
    "CriterionResult": ".result", "Result": ".result",
}

__all__ = sorted([*_API, "Incident"])


def __getattr__(name: str):
    if name in _API:
        import importlib
        value = getattr(importlib.import_module(_API[name], __name__), name)
        globals()[name] = value
        return value
    # `evaluator.Incident` is built from the shipped vocabulary the first time it is used.
    if name == "Incident":
        model = __getattr__("load_vocabulary")().incident_model()
        globals()["Incident"] = model
        return model
    raise AttributeError(f"module 'evaluator' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
