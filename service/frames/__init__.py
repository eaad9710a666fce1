"""The torch-free core that the server and training share: alignment, the network input
layout and scaling, the exposure (gain), image quality. What is trained is what is served.
"""
