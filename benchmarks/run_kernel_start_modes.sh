#!/bin/bash
# kernel_start A/B: jls (three modes) vs jupyter_server, same venv, same kernel.
V=/root/venv-anchor/bin
JB=/work/shared/bench/jbench.py
JS="$V/jupyter server --no-browser --allow-root --ServerApp.ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token} --ServerApp.root_dir={root}"
JLS="$V/python -m jupyter_lite_server serve --port {port} --port-retries 0 --token {token} --root {root}"
$V/python $JB --only kernel_start --runs 3 --label jls --server-cmd "$JLS" --vs "$JS" --vs-label jupyter_server --json out/ks-plain.json > out/ks-plain.txt 2>&1
$V/python $JB --only kernel_start --runs 3 --label jls-pool2 --server-cmd "$JLS --pool-size 2" --vs "$JS" --vs-label jupyter_server --json out/ks-pool.json > out/ks-pool.txt 2>&1
$V/python $JB --only kernel_start --runs 3 --label jls-sessions-db --server-cmd "$JLS --sessions-db {root}/../sessions.db" --vs "$JS" --vs-label jupyter_server --json out/ks-db.json > out/ks-db.txt 2>&1
echo done > out/ks-done
