#!/usr/bin/env bash
# jls --gateway-url vs jupyter_server --gateway-url, both against the same Kernel Gateway 3
# (started here on 127.0.0.1:18888 and stopped by PID at the end).
# Usage: benchmarks/run_gateway_ab.sh kernel_start,execute
# Machine-specific paths: V is a venv with jupyter_server, jupyter_kernel_gateway and a
# frozen (non-editable) install of jls; jbench is ../shared/bench/jbench.py.
set -euo pipefail
V=/root/venv-anchor/bin
KG_TOKEN=$(python3 -c 'import uuid; print(uuid.uuid4().hex)')
mkdir -p /root/bench/kg/runtime
cd /root/bench/kg
JUPYTER_RUNTIME_DIR=/root/bench/kg/runtime $V/python -m kernel_gateway --KernelGatewayApp.ip=127.0.0.1 \
  --KernelGatewayApp.port=18888 --KernelGatewayApp.port_retries=0 \
  --KernelGatewayApp.auth_token=$KG_TOKEN --JupyterWebsocketPersonality.list_kernels=True > /root/bench/kg/kg.log 2>&1 &
KG=$!
trap 'kill $KG' EXIT
for _ in $(seq 50); do curl -sf -H "Authorization: token $KG_TOKEN" http://127.0.0.1:18888/api/kernelspecs >/dev/null && break; sleep 0.2; done
cd /tmp
$V/python /work/shared/bench/jbench.py --runs 3 --no-floor --only "$1" --json "/root/bench/gateway-$1.json" \
  --server-cmd "$V/python -m jupyter_lite_server serve --port {port} --port-retries 0 --token {token} --root {root} --gateway-url http://127.0.0.1:18888 --GatewayProvider.auth_token=$KG_TOKEN" --label jls_gateway \
  --vs "$V/jupyter server --no-browser --allow-root --ServerApp.ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token} --ServerApp.root_dir={root} --gateway-url=http://127.0.0.1:18888 --GatewayClient.auth_token=$KG_TOKEN" --vs-label jupyter_server_gateway
