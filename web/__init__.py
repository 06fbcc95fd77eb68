"""The HTTP API and the pages: reps', managers' and analysts' way into closecast.

See `web/README.md` for how it is built (the read model, the two state sources, access,
sessions, the audit log) and how to run it (`closecast serve`).
"""
