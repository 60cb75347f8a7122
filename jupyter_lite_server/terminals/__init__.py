"""Terminals (terminado): REST models, the pty websocket, culling."""
