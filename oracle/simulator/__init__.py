"""A stand-in for the SolChain backend: the reference server (``backend``) serving the v1 REST
contract from replayed real data (``replay``), for the demo, the benchmarks and the tests.

Imported on demand: it pulls in FastAPI, pvlib and pmdarima, which the daemon does not need."""
