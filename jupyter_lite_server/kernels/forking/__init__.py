"""Python kernels forked from a process that has ipykernel imported already.

Most of an ipykernel start is importing IPython, ipykernel, debugpy and
tornado (~0.8 s of CPU here). A fork server imports them once; each kernel is
then a fork of it that reads its own connection file, environment and
directory, and runs ``ipykernel_launcher`` as ``python -m`` would. Only
kernels that would run with the server's own interpreter, the same start-up
environment and no detachment from the server are forked; any other launch
is jupyter_client's usual ``Popen``. See docs/lifecycle.md, "Forked kernels".
"""
