"""`investigate serve`: Alertmanager notifications in, investigated and attached reports out (docs/serve.md)."""
