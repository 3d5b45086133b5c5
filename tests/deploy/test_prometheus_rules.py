"""deploy/prometheus/: the alert rules have the shape Prometheus reads, and name only metrics a
running bot serves; promtool checks the rules, their unit tests and the example config; and a
real Prometheus, configured from the example, scrapes a real bot with its token and evaluates
every rule without an alert.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES_FILE = PROMETHEUS_DIR / "botschaft-alerts.yml"
CONFIG_EXAMPLE = PROMETHEUS_DIR / "prometheus.yml.example"
RULES = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
ALERTS = [rule for group in RULES["groups"] for rule in group["rules"]]
TOKEN = "metrics-test-token"
# Series Prometheus makes itself for every target, not the bot.
BUILTIN_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# PromQL words that look like names but are none.
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
# What someone woken by an alert can do: each description names at least one of these.
ACTIONS = ("botschaft ", "journalctl ", "systemctl ")

PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian package prometheus; "
                             "./dev.sh test installs it)")
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus is not installed (Debian package prometheus; "
                               "./dev.sh test installs it)")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: every name that is not a function or
    aggregation (followed by "("), a keyword, a label (inside {} or a by/without/on/ignoring
    list) or part of a string, range or duration."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    return {match[1] for match in re.finditer(r"\b([A-Za-z_][A-Za-z0-9_:]*)\b(\s*\()?", text)
            if not match[2] and match[1].lower() not in KEYWORDS}


@pytest.mark.parametrize("expr, names", [
    ('up{job="botschaft"} == 0', {"up"}),
    ("max without (instance) (delta(a_b[15m])) > 0 and c offset 5m", {"a_b", "c"}),
    ("histogram_quantile(0.95, sum by (le) (rate(x_bucket[10m]))) > 2", {"x_bucket"}),
])
def test_the_metric_names_of_an_expression_are_found(expr, names):
    assert metric_names(expr) == names


# --- the rules' shape ------------------------------------------------------------------------

def test_the_rules_file_has_the_shape_prometheus_reads():
    assert set(RULES) == {"groups"}
    names = [group["name"] for group in RULES["groups"]]
    assert len(names) == len(set(names)), "group names must be unique"
    for group in RULES["groups"]:
        assert set(group) <= {"name", "interval", "limit", "rules"}, group["name"]
        assert group["rules"], f"group {group['name']} has no rules"
    alerts = [rule["alert"] for rule in ALERTS]
    assert len(alerts) == len(set(alerts)), "alert names must be unique"


@pytest.mark.parametrize("rule", ALERTS, ids=lambda rule: rule["alert"])
def test_each_alert_says_how_bad_it_is_and_what_to_do(rule):
    assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}
    assert re.fullmatch(r"Botschaft[A-Z][A-Za-z]+", rule["alert"])
    assert isinstance(rule["expr"], str) and metric_names(rule["expr"])
    assert re.fullmatch(r"(\d+[smhdwy])+", rule["for"]), rule["for"]
    assert rule["labels"] == {"severity": rule["labels"]["severity"]}
    assert rule["labels"]["severity"] in ("warning", "critical")
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description"}
    assert "\n" not in annotations["summary"] and len(annotations["summary"]) <= 100
    assert any(action in annotations["description"] for action in ACTIONS), (
        f"{rule['alert']}: the description names no command to run")


# --- promtool ---------------------------------------------------------------------------------

def promtool(*arguments: str, cwd: Path) -> str:
    result = subprocess.run([PROMTOOL, *arguments], cwd=cwd, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def installed_config(directory: Path, target: str, token: str, interval: str) -> Path:
    """The example as installed in `directory` (/etc/prometheus), with the rules beside it and
    the bot's token in the file it names; the target and the intervals replaced, and no
    Alertmanager (there is none here)."""
    config = yaml.safe_load(CONFIG_EXAMPLE.read_text(encoding="utf-8"))
    (job,) = config["scrape_configs"]
    job["static_configs"] = [{"targets": [target]}]
    config["global"] = {"scrape_interval": interval, "evaluation_interval": interval}
    del config["alerting"]
    (directory / job["authorization"]["credentials_file"]).write_text(token + "\n")
    for rules in config["rule_files"]:
        shutil.copy(PROMETHEUS_DIR / rules, directory / rules)
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@needs_promtool
def test_promtool_accepts_the_rules():
    output = promtool("check", "rules", RULES_FILE.name, cwd=PROMETHEUS_DIR)
    assert f"SUCCESS: {len(ALERTS)} rules found" in output


@needs_promtool
def test_the_rules_fire_as_their_unit_tests_expect():
    promtool("test", "rules", "botschaft-alerts.test.yml", cwd=PROMETHEUS_DIR)


@needs_promtool
def test_promtool_accepts_the_example_config_as_installed(tmp_path):
    """As it is, beside the rules and the token file it names (promtool wants it to exist)."""
    shutil.copy(CONFIG_EXAMPLE, tmp_path / "prometheus.yml")
    shutil.copy(RULES_FILE, tmp_path)
    (tmp_path / "botschaft-token").write_text(TOKEN + "\n")
    output = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert "SUCCESS: 1 rule files found" in output


# --- against a running bot --------------------------------------------------------------------

async def fetch(url: str, token: str | None = None) -> tuple[int, str]:
    """GET from another thread (the bot serves on this test's event loop)."""
    def get():
        request = urllib.request.Request(url)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError as error:  # not listening yet
            return 0, str(error)
    return await asyncio.to_thread(get)


async def test_the_rules_name_only_metrics_the_bot_serves(make_bot):
    bot = await make_bot(WEB_TOKEN=TOKEN)
    status, text = await fetch(f"http://127.0.0.1:{bot.web.port}/metrics", TOKEN)
    assert status == 200, text
    served = {sample.name for family in text_string_to_metric_families(text)
              for sample in family.samples}
    assert "botschaft_connected" in served
    for rule in ALERTS:
        unknown = metric_names(rule["expr"]) - served - BUILTIN_SERIES
        assert not unknown, f"{rule['alert']} uses {unknown}, which /metrics does not serve"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def until(answer, explain, timeout: float = 60):
    """Poll the coroutine function `answer` until it returns something true; return that. On
    timeout, fail with what the coroutine function `explain` says."""
    deadline = time.monotonic() + timeout
    while not (result := await answer()):
        if time.monotonic() > deadline:
            raise AssertionError(f"Prometheus did not get there in time: {await explain()}")
        await asyncio.sleep(0.5)
    return result


@needs_prometheus
async def test_prometheus_scrapes_a_bot_with_its_token_and_no_rule_fires(make_bot, tmp_path):
    bot = await make_bot(WEB_TOKEN=TOKEN)
    config = installed_config(tmp_path, f"127.0.0.1:{bot.web.port}", TOKEN, interval="1s")
    api = f"http://127.0.0.1:{free_port()}/api/v1"
    log_path = tmp_path / "prometheus.log"
    with log_path.open("w") as log:
        prometheus = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address={api.split('/')[2]}"], stdout=log, stderr=subprocess.STDOUT)

    async def data(path: str):
        assert prometheus.poll() is None, log_path.read_text()
        status, body = await fetch(f"{api}/{path}")
        return json.loads(body)["data"] if status == 200 else None

    async def connected_stored():
        return (await data("query?query=botschaft_connected") or {}).get("result")

    async def targets():
        return (await data("targets") or {}).get("activeTargets")

    async def rules() -> dict[str, dict]:
        groups = (await data("rules") or {}).get("groups", [])
        return {rule["name"]: rule for group in groups for rule in group["rules"]}

    try:
        (sample,) = await until(connected_stored, targets)  # scraped, with the token
        assert sample["metric"]["job"] == "botschaft" and sample["value"][1] == "1"
        before = await rules()
        assert sorted(before) == sorted(rule["alert"] for rule in ALERTS)

        async def evaluated_since():  # each rule once more, now that there is data
            now = await rules()
            return now if all(now[name]["lastEvaluation"] != rule["lastEvaluation"]
                              for name, rule in before.items()) else None
        for name, rule in (await until(evaluated_since, rules)).items():
            assert rule["health"] == "ok", rule
            assert rule["state"] == "inactive", f"{name} is {rule['state']}: {rule}"
        (target,) = await targets()
        assert target["health"] == "up", target
    finally:
        prometheus.terminate()
        prometheus.wait(30)
