"""The networks, one file each: the U-Net, the enhancers (SIM, MIM) and the character
recogniser (what its output means, torch-free, in ``recogniser_output``), and loading weights
back from shipped ONNX files.
"""
