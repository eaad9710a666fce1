"""From a trained run to the model repository: ONNX export with its parity check (``export``),
the training record (``records``), the fp16 and int8 copies (``fp16``; ``int8``, quantised by
``quantize``), TensorRT and Triton files, the model card, and ``nightowl export``.
"""
