"""dlib's CC0 face models (detector, 5-point shape predictor, ResNet embedder) without dlib.

The ``.dat`` files are parsed here and converted once: the networks to ONNX graphs run by
onnxruntime, the shape predictor to a ``.npz`` evaluated in numpy.
"""
