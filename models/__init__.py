"""Face models: packs, ONNX sessions, detectors, landmarks, alignment, embedders."""
