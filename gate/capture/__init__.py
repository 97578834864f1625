"""The capture stage: quality measures, passive liveness, best-shot selection (docs/camera.md)."""
