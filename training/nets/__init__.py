"""The networks, one file each: the U-Net, the enhancers (SIM, MIM) and the character
recogniser, and loading weights back from shipped ONNX files.
"""
