from __future__ import annotations

from tests.gate.capture.conftest import TOM_HANKS_POINTS, dlib_oracle, face_photo

__all__ = ["TOM_HANKS_POINTS", "dlib_oracle", "face_photo"]
