"""How the server talks to a kernel, and nothing else.

``wire`` frames Jupyter messages (ZMQ parts, the JSON and v1 websocket
framings, signing); ``zmqio`` puts ZMQ sockets on the event loop;
``connection`` turns connection info into sockets and holds the one way to send
a request and await its reply; ``ports`` and ``procs`` choose kernel ports and
look at processes by PID. Nothing here knows about kernel lifecycles,
providers or HTTP: every other layer of ``kernels/`` may import this one.
"""
