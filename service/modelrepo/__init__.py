"""The model repository's format: model files resolved and checked against the manifest, the
manifest written and its files' parity checked. Only hashlib, json, numpy (and ONNX Runtime for
the check): no torch.
"""
