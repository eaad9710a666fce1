"""Everything of nightowl that runs without torch: the torch-free core that training imports too
(``frames``, ``modelrepo``), the engines, the serving core and its REST and gRPC translators,
and the ``nightowl`` command. Nothing here imports torch or the training side.
"""
