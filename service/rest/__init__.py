"""The REST API (FastAPI): the app factory wires the routes to one EnhanceService."""
