"""egate: an open-source e-gate (Automated Border Control) runtime and simulator."""

from gate.errors import GateError

__all__ = ["GateError", "__version__"]
__version__ = "0.1.0"
