"""Engine-level exceptions (``pw.engine.EngineError``, as Pathway names it)."""


class EngineError(ValueError):
    """A run stopped on a data error the engine found (an Error value reaching an output, a
    violated reducer contract, ...). A ValueError, so ``except ValueError`` catches it too."""
