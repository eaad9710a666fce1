"""The serving core: camera buffers, admission limits, batching, a stream's flow control and
the one service object that owns a frame's life. It knows nothing of HTTP or gRPC (``rest/``
and ``rpc/`` translate).
"""
