"""From a trained run to the model repository: ONNX export with its parity check, the fp16 and
int8 copies, TensorRT and Triton files, the model card, and ``nightowl export``.
"""
