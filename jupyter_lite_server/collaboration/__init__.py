"""Real-time collaboration: JupyterLab's shared documents (docs/collaboration.md)."""
