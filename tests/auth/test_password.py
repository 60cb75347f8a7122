"""Password login: jupyter_server's hash format both ways, `jls password`, throttling."""

from __future__ import annotations

import json
import os
import re

import pytest
import requests
from jls_client import isolated_env, run_jls, start_server

from jupyter_lite_server.auth.password import LoginThrottle, check_password, hash_password


def test_hashes_are_jupyter_servers_format_in_both_directions():
    from jupyter_server.auth.security import passwd, passwd_check  # the peer, as a test tool

    ours = hash_password("correct horse")
    assert ours.startswith("argon2:$argon2id$")
    assert passwd_check(ours, "correct horse") and not passwd_check(ours, "wrong")
    theirs = passwd("battery staple")
    assert check_password(theirs, "battery staple") and not check_password(theirs, "x")
    legacy = "sha1:0e112c3ddfce:a68df677475c2b47b6e86d0467eec97ac5f4b85a"  # jupyter's own example
    assert check_password(legacy, "mypassword") and not check_password(legacy, "other")
    assert not check_password("argon2:garbage", "x") and not check_password("nonsense", "x")


def test_the_throttle_locks_a_client_out_and_doubles_the_wait():
    throttle = LoginThrottle(per_client=3, overall=100, window=60, base_delay=2)
    for t in (0, 1, 2):
        assert throttle.retry_after("a", now=t) == 0
        throttle.failed("a", now=t)
    assert throttle.retry_after("a", now=2) == pytest.approx(2)
    assert throttle.retry_after("b", now=2) == 0  # another client is not punished
    assert throttle.retry_after("a", now=4.5) == 0
    for t in (5, 6, 7):
        throttle.failed("a", now=t)
    assert throttle.retry_after("a", now=7) == pytest.approx(4)  # the second lockout: doubled
    throttle.succeeded("a")
    assert throttle.retry_after("a", now=7) == 0


def test_many_clients_failing_together_lock_everyone_out():
    throttle = LoginThrottle(per_client=100, overall=10, window=60, base_delay=5)
    for i in range(10):
        throttle.failed(f"10.0.0.{i}", now=0)
    assert throttle.retry_after("10.9.9.9", now=1) == pytest.approx(4)


@pytest.fixture
def password_server(tmp_path):
    env = isolated_env(str(tmp_path))
    stored = run_jls("password", env=env, input="s3cret-words\n")
    assert stored.returncode == 0, stored.stderr
    config = os.path.join(env["JUPYTER_CONFIG_DIR"], "jls_config.json")
    assert oct(os.stat(config).st_mode & 0o777) == "0o600"
    with open(config) as f:
        assert json.load(f)["ServerApp"]["password"].startswith("argon2:")
    root = tmp_path / "root"
    root.mkdir()
    srv = start_server(str(root), str(tmp_path), token="", env=env)
    yield srv
    srv.stop()


def login(session: requests.Session, url: str, secret: str) -> requests.Response:
    page = session.get(url + "login")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    return session.post(
        url + "login", data={"_xsrf": xsrf, "password": secret}, allow_redirects=False
    )


def test_the_stored_password_logs_a_browser_in(password_server):
    browser = requests.Session()
    assert browser.get(password_server.url + "api/status").status_code == 403
    page = browser.get(password_server.url + "login")
    assert "Password or token" in page.text
    assert login(browser, password_server.url, "wrong").status_code == 401
    answer = login(browser, password_server.url, "s3cret-words")
    assert answer.status_code == 302
    assert browser.get(password_server.url + "api/status").status_code == 200


def test_repeated_wrong_passwords_are_refused_for_a_while(password_server):
    guesser = requests.Session()
    codes = [login(guesser, password_server.url, f"guess-{i}").status_code for i in range(5)]
    assert codes == [401] * 5
    locked = login(guesser, password_server.url, "s3cret-words")  # right, but locked out
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1
    assert "Too many failed attempts" in locked.text
    assert guesser.get(password_server.url + "api/status").status_code == 403
    assert "Login from 127.0.0.1 refused: too many failed attempts" in password_server.log_text()


def test_with_a_password_the_empty_token_does_not_open_the_api(password_server):
    assert requests.get(password_server.url + "api/status").status_code == 403
    anyone = requests.get(password_server.url + "api/status", headers={"Authorization": "token "})
    assert anyone.status_code == 403
