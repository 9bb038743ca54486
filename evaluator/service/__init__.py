"""The HTTP service: `irmer serve` (docs/service.md).

- app.py: the FastAPI application (the API, the interview page, the limits, errors as problem documents);
- decide.py: request bodies to decisions, as `irmer evaluate` reads and writes them;
- decision_log.py: the durable, rotated JSON Lines log of every decision;
- interview.py: the interview page's questions, verdict and printable summary;
- metrics.py: the Prometheus metrics;
- server.py: uvicorn, with a graceful shutdown.

FastAPI and uvicorn are imported only here, so the command line starts without them.
"""
