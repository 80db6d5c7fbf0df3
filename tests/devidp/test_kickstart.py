"""kickstart/kickstart.json and docker-compose.yml, checked as far as a machine without Docker can:
every kickstart request against the rules the development IdP enforces (FusionAuth's), the compose
file's keys, and the values both must agree on."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
KICKSTART = REPO / "kickstart" / "kickstart.json"
COMPOSE = REPO / "docker-compose.yml"


def kickstart_check(tmp_path, path=KICKSTART):
    env = {**os.environ, "DEVIDP_DB": str(tmp_path / "devidp.sqlite3")}
    return subprocess.run(
        [sys.executable, "-m", "devidp", "kickstart", "--check", "--file", str(path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_kickstart_request_passes_the_rules_the_dev_idp_enforces(tmp_path):
    requests = json.loads(KICKSTART.read_text())["requests"]

    result = kickstart_check(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip().startswith("request ")]
    assert len(lines) == len(requests)
    assert all(line.endswith(" ok") for line in lines), result.stdout
    assert f"All {len(requests)} requests pass." in result.stdout


def test_the_old_key_import_body_is_refused(tmp_path):
    document = json.loads(KICKSTART.read_text())
    key_import = next(r for r in document["requests"] if r["url"].startswith("/api/key/import/"))
    del key_import["body"]["key"]["type"]
    old = tmp_path / "kickstart.json"
    old.write_text(json.dumps(document))

    result = kickstart_check(tmp_path, old)

    assert result.returncode != 0
    refused = [line for line in result.stdout.splitlines() if "REFUSED" in line]
    assert len(refused) == 1 and "/api/key/import/" in refused[0]
    assert "[blank]key.type" in refused[0]


def test_the_webhook_secret_is_long_enough_for_hs512():
    variables = json.loads(KICKSTART.read_text())["variables"]

    assert len(variables["webhookSecret"].encode()) >= 64
    docs = (REPO / "docs" / "fusionauth.md").read_text()
    assert f"FUSIONAUTH_WEBHOOK_SECRET={variables['webhookSecret']}\n" in docs


def test_the_webhook_url_is_one_the_container_can_reach():
    document = json.loads(KICKSTART.read_text())
    webhook = next(r for r in document["requests"] if r["url"].startswith("/api/webhook/"))

    assert webhook["body"]["webhook"]["url"] == "#{webhookUrl}"
    assert document["variables"]["webhookUrl"].startswith("http://host.docker.internal:8000/")


def test_the_compose_file_runs_fusionauth_with_this_kickstart():
    compose = yaml.safe_load(COMPOSE.read_text())
    fusionauth = compose["services"]["fusionauth"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in fusionauth["volumes"]}
    kickstart_file = fusionauth["environment"]["FUSIONAUTH_APP_KICKSTART_FILE"]

    assert set(compose["services"]) == {"db", "search", "fusionauth"}
    assert fusionauth["image"] == "fusionauth/fusionauth-app:1.69.0"
    assert "host.docker.internal:host-gateway" in fusionauth["extra_hosts"]
    assert "9011:9011" in fusionauth["ports"]
    assert mounts["/usr/local/fusionauth/kickstart"] == "./kickstart"
    assert kickstart_file == "/usr/local/fusionauth/kickstart/kickstart.json"
    for name in ("db", "search"):
        assert fusionauth["depends_on"][name]["condition"] == "service_healthy"
        assert compose["services"][name]["healthcheck"]["test"]
    assert set(compose["volumes"]) >= {"db_data", "search_data", "fusionauth_config"}
    search = compose["services"]["search"]["environment"]
    assert fusionauth["environment"]["SEARCH_SERVERS"] == "http://search:9200"
    assert search["discovery.type"] == "single-node"
