"""The model repository's format, defined here only: the manifest file (``manifest``), what one
entry holds, built and read (``entries``), model files resolved and checked against it
(``files``), and the shipped files' parity check (``check``). Only hashlib, json, numpy (and
ONNX Runtime for the check): no torch.
"""
