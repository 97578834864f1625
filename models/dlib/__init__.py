"""dlib's CC0 face models (detector, 5-point shape predictor, ResNet embedder) without dlib.

The ``.dat`` files are parsed here and converted once: the networks to ONNX graphs run by
onnxruntime, the shape predictor to a ``.npz`` evaluated in numpy. Public entry points
(import them from their modules; this package imports nothing heavy):

- ``prepare.prepare_dlib_files(out_dir) -> {"embedder", "landmarks", "detector"}: Path``
- ``embedder.DlibEmbedder(onnx_path, threads=0)``: ``embed(chips) -> (n, 128)``
- ``shape_predictor.ShapePredictor5(npz_path)``: ``landmarks(image, box) -> Landmarks5``
- ``align.dlib_chip(image, landmarks, size=150, padding=0.25)`` and
  ``align.similarity_transform(src, dst)``
- ``mmod.MmodDetector(onnx_path, ...)``: ``detect(image, min_face=0)``
- ``serialization.DlibReader``: a cursor over dlib's binary format
"""
