"""The gRPC API: the servicer (translation only) and its generated stubs (proto/generate.py)."""
