"""jupyter_lite_server: a lean Jupyter Server REST + websocket API server."""

__version__ = "0.1.0"
