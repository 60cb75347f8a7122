"""/metrics: Prometheus' text format, parsed with prometheus_client's own parser."""

from __future__ import annotations

import requests
from jls_client import start_server_in, stream_text
from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def test_metrics_need_the_token_and_describe_kernels_clients_and_requests(tmp_path):
    srv = start_server_in(tmp_path)
    try:
        api = srv.api()
        assert requests.get(srv.url + "metrics", timeout=10).status_code == 403
        api.get("api/status")  # a request before the first scrape is counted too
        kernel = api.start_kernel()
        channel = api.channels(kernel["id"])
        assert stream_text(channel.execute("print('counted')")[1]) == "counted\n"
        answer = api.get("metrics")
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        found = samples(answer.text)
        assert value(found, "kernel_currently_running_total", type="python3") == 1
        assert value(found, "terminal_currently_running_total") == 0
        assert value(found, "jls_kernels_by_execution_state", state="idle") == 1
        assert value(found, "jls_websocket_clients") == 1
        assert value(found, "jls_kernel_messages_relayed_total") >= 5
        assert value(found, "jls_pool_kernels") == 0
        status = "jupyter_lite_server.web.misc.StatusHandler"
        count = value(
            found, "http_request_duration_seconds_count",
            method="GET", handler=status, status_code="200",
        )  # fmt: skip
        assert count >= 1
        channel.close()
        api.delete(f"api/kernels/{kernel['id']}")
        after = samples(api.get("metrics").text)
        assert ("kernel_currently_running_total", (("type", "python3"),)) not in after
        assert value(after, "jls_kernel_messages_relayed_total") >= value(
            found, "jls_kernel_messages_relayed_total"
        )  # a counter never goes down when a kernel leaves
    finally:
        srv.stop()


def test_metrics_can_be_opened_to_an_unauthenticated_scraper(tmp_path):
    srv = start_server_in(tmp_path, "--ServerApp.authenticate_prometheus=False")
    try:
        answer = requests.get(srv.url + "metrics", timeout=10)
        assert answer.status_code == 200 and "jls_websocket_clients" in answer.text
        assert requests.get(srv.url + "api/status", timeout=10).status_code == 403
    finally:
        srv.stop()
