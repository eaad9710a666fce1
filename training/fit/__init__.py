"""Training: the experiment config, the examples the networks see, the losses, the tasks and
the loop, and ``nightowl train``.
"""
