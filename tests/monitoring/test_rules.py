"""The shipped Prometheus and Alertmanager files pass Debian's promtool and amtool, and every alert has a
unit test (deploy/monitoring/rule-tests/) and a runbook."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from .stack import RULE_TESTS, RULES, SiteFiles, alert_rules, promtool, render

SITES = [{"id": "north", "name": "Northside Family Clinic"},
         {"id": "south", "name": "Southgate Pediatrics", "alert_email": "it@southgate.example"}]  # fmt: skip


def test_rules_pass_promtool_check_rules() -> None:
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_has_a_runbook_and_a_unit_test_that_fires_it() -> None:
    fired_in_tests: dict[str, set[str]] = {}
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    fired_in_tests.setdefault(check["alertname"], set()).add(path.name)
    alerts = alert_rules()
    assert len(alerts) >= 10
    for rule in alerts:
        assert rule["annotations"]["summary"] and len(rule["annotations"]["runbook"]) > 80, rule["alert"]
        assert rule["alert"] in fired_in_tests, f"{rule['alert']} has no unit test that expects it to fire"


def test_rule_unit_tests_pass_promtool_test_rules() -> None:
    done = promtool("test", "rules", *map(str, RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(RULE_TESTS)


def test_rendered_prometheus_config_passes_promtool_check_config(tmp_path: Path) -> None:
    lobby_dir, rules_dir = tmp_path / "lobby", tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / RULES.name).write_text(RULES.read_text())
    for site in SITES:
        SiteFiles(site["id"], site["name"], "10.0.0.5:8470", b"-----BEGIN CERTIFICATE-----\n", "token").write(lobby_dir)
    config = tmp_path / "prometheus.yml"
    config.write_text(render(
        "prometheus.yml.j2", monitoring_sites=SITES, monitoring_lobby_dir=lobby_dir, monitoring_rules_dir=rules_dir,
        monitoring_scrape_interval="15s", monitoring_evaluation_interval="15s", monitoring_fleet_name="example",
        monitoring_alertmanagers=["127.0.0.1:9093"],
    ))  # fmt: skip
    done = promtool("check", "config", "--syntax-only", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = {job["job_name"]: job for job in yaml.safe_load(config.read_text())["scrape_configs"]}
    assert set(jobs) == {"lobby-north", "lobby-south"}
    assert jobs["lobby-south"]["tls_config"]["ca_file"] == f"{lobby_dir}/south.crt"
    assert jobs["lobby-south"]["authorization"]["credentials_file"] == f"{lobby_dir}/south.token"


def test_rendered_alertmanager_config_routes_by_site_and_passes_amtool(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(render(
        "alertmanager.yml.j2", monitoring_sites=SITES, monitoring_alert_email="fleet-it@example.org",
        monitoring_smtp_smarthost="smtp.example.org:587", monitoring_smtp_from="prometheus@example.org",
        monitoring_smtp_require_tls=True,
    ))  # fmt: skip
    done = subprocess.run(["amtool", "check-config", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr

    def receiver_for(*labels: str) -> str:
        routed = subprocess.run(["amtool", "config", "routes", "test", f"--config.file={config}", *labels],
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert routed.returncode == 0, routed.stderr
        return routed.stdout.strip()

    assert receiver_for("site=north", "alertname=LobbyKioskOffline", "severity=page") == "site-north"
    assert receiver_for("site=south", "alertname=LobbyDeadLetters") == "site-south"
    assert receiver_for("alertname=Watchdog") == "fleet-it"
    receivers = {r["name"]: r for r in yaml.safe_load(config.read_text())["receivers"]}
    assert receivers["site-south"]["email_configs"][0]["to"] == "it@southgate.example"
    assert receivers["site-north"]["email_configs"][0]["to"] == "fleet-it@example.org"
