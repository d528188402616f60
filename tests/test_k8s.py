"""Kubernetes manifests of a saved bundle: rendered by `bentonb k8s`, read back as YAML,
checked field by field, and the pod's environment tried on a real `bentonb serve`."""

from __future__ import annotations

import copy
import re
import shutil
import signal
import stat
from collections.abc import Iterable
from pathlib import Path

import kubernetes_validate
import pytest
import requests
import yaml
from click.testing import CliRunner
from helpers import ServeProcess, bentonb_cli, snapshot

from bentonb.bundle.manifest import BundleManifest
from bentonb.cli import main
from bentonb.cli.k8s import write_for_image
from bentonb.container import BuiltImage, default_image_tag, image_tags
from bentonb.errors import InvalidArgument
from bentonb.k8s import K8sOptions, check_label, quantity, render, resource_name

# The API server's own OpenAPI schemas (bundled with kubernetes-validate, offline), in
# strict mode: an unknown field is an error, as `kubectl apply --validate=strict` makes
# it. Pinned to an old release still run widely, and the newest the package knows.
K8S_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]

# What each kind must carry: its API group/version, and the fields the API server
# refuses an object without (from the Kubernetes API reference).
KINDS = {"Deployment": "apps/v1", "Service": "v1", "PodDisruptionBudget": "policy/v1",
         "HorizontalPodAutoscaler": "autoscaling/v2", "Secret": "v1"}
REQUIRED = {"Deployment": ["spec.selector", "spec.template.spec.containers"],
            "Service": ["spec.ports"], "PodDisruptionBudget": ["spec.selector"],
            "HorizontalPodAutoscaler": ["spec.scaleTargetRef.kind", "spec.scaleTargetRef.name",
                                        "spec.maxReplicas"], "Secret": []}
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def field(document: dict, path: str):
    for part in path.split("."):
        document = document[part]
    return document


def check_object(doc: dict, namespace: str) -> None:
    """The checks an API server makes that matter here, for any of the five kinds."""
    assert KINDS[doc["kind"]] == doc["apiVersion"]
    meta = doc["metadata"]
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", meta["name"]) and len(meta["name"]) <= 63
    assert meta["namespace"] == namespace
    for key, value in meta["labels"].items():
        assert len(value) <= 63 and LABEL_VALUE.match(value), (key, value)
    for path in REQUIRED[doc["kind"]]:
        assert field(doc, path) not in (None, [], {}), path


def validate_against_schemas(docs: Iterable[dict]) -> list[str]:
    """Each document checked against every version of :data:`K8S_VERSIONS`; the kinds."""
    kinds = []
    for doc in docs:
        for version in K8S_VERSIONS:
            checked = kubernetes_validate.validate(doc, version, strict=True)
            assert version.startswith(checked)  # its own schemas, not an older release's
        kinds.append(doc["kind"])
    return kinds


def pod_of(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def env_of(container: dict) -> dict:
    # The API server takes only strings as env values: a number here is refused.
    for item in container["env"]:
        assert isinstance(item.get("value", ""), str), item
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.fixture
def bundle(iris_service) -> Path:
    return Path(iris_service.save())


def k8s(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["k8s", *args])
    return result.exit_code, result.stdout, result.stderr


def test_manifests_written_to_a_directory_pass_the_checks(bundle, tmp_path):
    out = tmp_path / "manifests"
    code, _, err = k8s("IrisClassifier:latest", "-n", "ml", "--replicas", "3", "-o", str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["deployment.yaml", "pdb.yaml",
                                                      "service.yaml"]
    assert f"wrote {out / 'deployment.yaml'}" in err
    docs = {p.stem: yaml.safe_load(p.read_text()) for p in out.iterdir()}
    for doc in docs.values():
        check_object(doc, "ml")
    deployment, service, pdb = docs["deployment"], docs["service"], docs["pdb"]
    manifest = BundleManifest.read(bundle)
    labels = {"app.kubernetes.io/name": "irisclassifier",
              "app.kubernetes.io/version": manifest.version,
              "app.kubernetes.io/managed-by": "bentonb"}
    assert deployment["metadata"]["labels"] == labels
    assert deployment["metadata"]["annotations"] == {"bentonb/bundle": manifest.tag}
    selector = {"app.kubernetes.io/name": "irisclassifier"}
    assert deployment["spec"]["selector"] == {"matchLabels": selector}
    assert deployment["spec"]["template"]["metadata"]["labels"] == labels
    assert deployment["spec"]["replicas"] == 3

    pod = pod_of(deployment)
    [container] = pod["containers"]
    assert container["image"] == f"irisclassifier:{manifest.version.lower()}"
    assert container["ports"] == [{"name": "http", "containerPort": 5000, "protocol": "TCP"}]
    assert container["args"] == ["--graceful-timeout", "10"]
    env = env_of(container)
    assert env["PORT"] == "5000" and env["HOME"] == "/tmp"
    assert env["BENTONB_ALLOW_HOST"].split(",") == [
        "irisclassifier", "irisclassifier.ml", "irisclassifier.ml.svc",
        "irisclassifier.ml.svc.cluster.local"]
    assert env["BENTONB_API_KEY"] == {"secretKeyRef": {
        "name": "irisclassifier-api-key", "key": "api-key", "optional": False}}
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "512Mi"},
                                      "limits": {"cpu": "1", "memory": "1Gi"}}
    for probe, path in [("startupProbe", "/readyz"), ("readinessProbe", "/readyz"),
                        ("livenessProbe", "/livez")]:
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}
    assert container["startupProbe"]["periodSeconds"] * \
        container["startupProbe"]["failureThreshold"] == 300
    # SIGKILL comes after the preStop sleep, the server's drain, and a margin.
    assert container["lifecycle"]["preStop"] == {"exec": {"command": ["sleep", "5"]}}
    assert pod["terminationGracePeriodSeconds"] == 5 + 10 + 5

    uid = int(re.search(r"useradd .*--uid (\d+)", (bundle / "Dockerfile").read_text())[1])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == uid == 1000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": uid, "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]
    assert pod["enableServiceLinks"] is False and pod["automountServiceAccountToken"] is False

    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == selector
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http",
                                         "protocol": "TCP"}]
    assert pdb["spec"] == {"minAvailable": 1, "selector": {"matchLabels": selector}}


def test_stdout_is_one_yaml_stream_in_file_order(bundle, tmp_path):
    result = bentonb_cli("k8s", "IrisClassifier:latest")  # the console script itself
    assert result.returncode == 0, result.stderr
    out = result.stdout
    docs = list(yaml.safe_load_all(out))
    assert [d["kind"] for d in docs] == ["Deployment", "Service", "PodDisruptionBudget"]
    assert out.startswith("---\n") and "&id" not in out and "*id" not in out
    for doc in docs:
        check_object(doc, "default")
    # One replica: the budget lets a node drain evict it instead of blocking forever.
    assert docs[2]["spec"]["maxUnavailable"] == 1 and "minAvailable" not in docs[2]["spec"]
    k8s("IrisClassifier:latest", "-o", str(tmp_path / "d"))
    assert yaml.safe_load((tmp_path / "d" / "deployment.yaml").read_text()) == docs[0]


def test_the_image_is_the_tag_containerize_builds(bundle):
    manifest = BundleManifest.read(bundle)
    tag = default_image_tag(manifest)  # containerize's tag when -t is not given
    assert tag == f"irisclassifier:{manifest.version.lower()}"
    _, out, _ = k8s(str(bundle))
    assert pod_of(next(yaml.safe_load_all(out)))["containers"][0]["image"] == tag
    _, out, _ = k8s(str(bundle), "--image", "registry.example.com/ml/iris:v1")
    assert pod_of(next(yaml.safe_load_all(out)))["containers"][0]["image"] == \
        "registry.example.com/ml/iris:v1"


def test_containerize_without_an_engine_writes_no_manifests(bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    result = CliRunner().invoke(main, ["containerize", str(bundle), "--output-dir",
                                       str(tmp_path / "ctx"), "--k8s", str(tmp_path / "k8s")])
    assert result.exit_code == 3, result.output
    assert (tmp_path / "ctx" / "Dockerfile").is_file()
    assert not (tmp_path / "k8s").exists()  # no image, so nothing a cluster could pull


def test_autoscaler_secret_and_optional_key(bundle, tmp_path):
    out = tmp_path / "m"
    code, _, err = k8s("IrisClassifier:latest", "-n", "ml", "--hpa-max", "6", "--hpa-min", "2",
                       "--hpa-cpu", "60", "--secret-manifest", "--api-key-secret", "iris-key",
                       "--cpu", "250m", "--cpu-limit", "2", "--memory", "1Gi",
                       "--memory-limit", "2Gi", "--graceful-timeout", "30",
                       "--allow-host", "Iris.Example.com,*.internal", "-o", str(out))
    assert code == 0, err
    docs = {p.stem: yaml.safe_load(p.read_text()) for p in out.iterdir()}
    assert sorted(docs) == ["deployment", "hpa", "pdb", "secret", "service"]
    for doc in docs.values():
        check_object(doc, "ml")
    assert "replicas" not in docs["deployment"]["spec"]  # the autoscaler owns the count
    assert docs["hpa"]["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                           "name": "irisclassifier"},
        "minReplicas": 2, "maxReplicas": 6,
        "metrics": [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]}
    assert docs["pdb"]["spec"]["minAvailable"] == 1
    [container] = pod_of(docs["deployment"])["containers"]
    env = env_of(container)
    assert env["BENTONB_API_KEY"]["secretKeyRef"]["name"] == "iris-key"
    assert env["BENTONB_ALLOW_HOST"].endswith(",iris.example.com,*.internal")
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"}
    assert pod_of(docs["deployment"])["terminationGracePeriodSeconds"] == 5 + 30 + 5
    secret = docs["secret"]
    assert secret["metadata"]["name"] == "iris-key" and secret["type"] == "Opaque"
    assert len(secret["stringData"]["api-key"]) >= 32
    assert stat.S_IMODE((out / "secret.yaml").stat().st_mode) == 0o600
    _, again, _ = k8s("IrisClassifier:latest", "--secret-manifest")
    assert list(yaml.safe_load_all(again))[-1]["stringData"]["api-key"] != \
        secret["stringData"]["api-key"]  # a new key each time, never a known placeholder

    _, out2, _ = k8s("IrisClassifier:latest", "--no-api-key")
    container = pod_of(next(yaml.safe_load_all(out2)))["containers"][0]
    assert env_of(container)["BENTONB_API_KEY"]["secretKeyRef"]["optional"] is True


@pytest.mark.parametrize("args, flag", [
    (["--replicas", "-2"], "--replicas"),
    (["--name", "Iris_Model"], "--name"),
    (["--name", "1iris"], "--name"),
    (["-n", "ML.prod"], "--namespace"),
    (["--memory", "12XB"], "--memory"),
    (["--memory", "512m"], "--memory"),
    (["--cpu", "lots"], "--cpu"),
    (["--cpu", "2", "--cpu-limit", "1"], "--cpu-limit"),
    (["--hpa-max", "2", "--hpa-min", "3"], "--hpa-max"),
    (["--hpa-max", "2", "--hpa-min", "0"], "--hpa-min"),
    (["--replicas", "3", "--hpa-max", "2"], "--hpa-max"),
    (["--hpa-cpu", "50"], "--hpa-cpu"),
    (["--allow-host", "api.example.com:443"], "--allow-host"),
    (["--api-key-secret", "Key_1"], "--api-key-secret"),
    (["--graceful-timeout", "-1"], "--graceful-timeout"),
])
def test_bad_flags_are_one_line_errors_with_exit_2(bundle, args, flag):
    code, out, err = k8s("IrisClassifier:latest", *args)
    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert line.startswith(f"Error: {flag} ")


def test_names_are_dns_labels_derived_from_the_bundle_name():
    assert resource_name("IrisClassifier") == "irisclassifier"
    assert resource_name("Iris_Classifier.v2__x") == "iris-classifier-v2-x"
    # Cut to 63 characters, then never ending on '-'.
    assert resource_name("A" * 60 + "_b" * 10) == "a" * 60 + "-b"
    assert resource_name("A" * 61 + "_b" * 10) == "a" * 61 + "-b"
    with pytest.raises(InvalidArgument, match="starting with a letter"):
        resource_name("_2fast")
    for text in ["iris\n", "-iris", "iris-", "x" * 64]:
        with pytest.raises(InvalidArgument, match="is not a DNS label"):
            check_label(text, "--namespace")
    with pytest.raises(InvalidArgument, match="is not a quantity"):
        quantity("1Gi\n", "--memory", memory=True)
    assert quantity("512Mi", "--memory", memory=True) == 512 * 2**20
    assert quantity("1.5G", "--memory", memory=True) == 1_500_000_000
    assert quantity("250m", "--cpu", memory=False) == quantity("0.25", "--cpu", memory=False)


def test_the_pods_environment_serves_through_the_service_names_and_writes_nothing(
        bundle, tmp_path, iris_model):
    """`bentonb serve` run as the image runs it, with the Deployment's env and args: it
    answers the Service's names and the probes, asks for the Secret's key, drains on
    SIGTERM, and writes nothing to the bundle, the store or $HOME."""
    root = tmp_path / "bundle"  # the image's /bundle
    shutil.copytree(bundle, root)
    manifest = BundleManifest.read(root)
    docs = render(manifest, K8sOptions(image="iris:1", namespace="ml", secret_manifest=True,
                                       allow_hosts=("iris.example.com",)))
    [container] = pod_of(docs["deployment.yaml"])["containers"]
    env = env_of(container)
    key = docs["secret.yaml"]["stringData"]["api-key"]
    home, store = tmp_path / "home", tmp_path / "store"
    home.mkdir()
    env.update(HOME=str(home), BENTONB_API_KEY=key, BENTONB_HOME=str(store))
    before = snapshot(root)
    with ServeProcess(str(root), "--host", "0.0.0.0", "--port", "0", *container["args"],
                      env=env).wait_started() as server:
        def get(path: str, host: str, **headers: str) -> requests.Response:
            return requests.get(server.url + path, headers={"Host": host, **headers},
                                timeout=10)

        # kubelet's probes send the pod IP as Host, and no key.
        assert get("/readyz", f"10.1.2.3:{server.port}").status_code == 200
        assert get("/livez", f"10.1.2.3:{server.port}").status_code == 200
        row = [[5.1, 3.5, 1.4, 0.2]]
        expected = iris_model.predict(row).tolist()
        for host in ["irisclassifier", "irisclassifier.ml:80", "irisclassifier.ml.svc",
                     "irisclassifier.ml.svc.cluster.local", "iris.example.com"]:
            r = requests.post(f"{server.url}/predict", json=row, timeout=10,
                              headers={"Host": host, "Authorization": f"Bearer {key}"})
            assert (r.status_code, r.json()) == (200, expected), host
        assert requests.post(f"{server.url}/predict", json=row, timeout=10, headers={
            "Host": "irisclassifier.ml"}).status_code == 401
        refused = get("/readyz", "irisclassifier.other")
        assert refused.status_code == 403 and "irisclassifier.other" in refused.json()["error"]
        assert server.stop(signal.SIGTERM) == 0
    assert "without an API key" not in server.output
    assert snapshot(root) == before and "__pycache__" not in str(before)
    assert snapshot(home) == [] and not store.exists()


# Every shape of output `bentonb k8s` has: each branch of render() taken at least once.
VARIANTS = {
    "plain": [],
    "three replicas": ["--replicas", "3", "-n", "ml"],
    "autoscaler": ["--hpa-max", "6", "--hpa-min", "2", "--hpa-cpu", "60"],
    "autoscaler from replicas": ["--replicas", "2", "--hpa-max", "4"],
    "secret manifest": ["--secret-manifest", "--api-key-secret", "iris-key"],
    "no api key": ["--no-api-key"],
    "resources from flags": ["--cpu", "0.25", "--cpu-limit", "2", "--memory", "1.5G",
                             "--memory-limit", "2Gi", "--graceful-timeout", "2.5",
                             "--drain-delay", "0", "--startup-timeout", "1"],
    "names and hosts": ["--name", "iris", "--image", "registry.example.com/ml/iris:v1",
                        "--allow-host", "Iris.Example.com,*.internal",
                        "--cluster-domain", "k8s.example.org"],
}


@pytest.mark.parametrize("args", VARIANTS.values(), ids=VARIANTS.keys())
def test_every_variant_is_valid_against_the_kubernetes_schemas(bundle, tmp_path, args):
    out = tmp_path / "m"
    code, _, err = k8s("IrisClassifier:latest", *args, "-o", str(out))
    assert code == 0, err
    # As kubectl reads them: the files parsed back from YAML, not the dicts in memory.
    files = sorted(out.iterdir())
    kinds = validate_against_schemas(yaml.safe_load(p.read_text()) for p in files)
    expected = {"Deployment", "Service", "PodDisruptionBudget"}
    expected |= {"HorizontalPodAutoscaler"} if "--hpa-max" in args else set()
    expected |= {"Secret"} if "--secret-manifest" in args else set()
    assert sorted(kinds) == sorted(expected)
    _, stream, _ = k8s("IrisClassifier:latest", *args)  # the stdout form too
    assert sorted(validate_against_schemas(yaml.safe_load_all(stream))) == sorted(kinds)


def test_resource_defaults_and_flags_reach_the_pod_as_valid_quantities(bundle):
    """The bundle's env names no resources, so the pod gets the command's defaults;
    the flags replace them as written (Kubernetes parses the quantities itself)."""
    manifest = BundleManifest.read(bundle)
    assert not {"cpu", "memory", "resources"} & set(vars(manifest.env))
    for options, expected in [
        (K8sOptions(image="iris:1"), {"requests": {"cpu": "500m", "memory": "512Mi"},
                                      "limits": {"cpu": "1", "memory": "1Gi"}}),
        (K8sOptions(image="iris:1", cpu="0.25", memory="1.5G", cpu_limit="2500m",
                    memory_limit="4Gi"), {"requests": {"cpu": "0.25", "memory": "1.5G"},
                                          "limits": {"cpu": "2500m", "memory": "4Gi"}}),
    ]:
        docs = render(manifest, options)
        [container] = pod_of(docs["deployment.yaml"])["containers"]
        assert container["resources"] == expected
        validate_against_schemas(docs.values())


@pytest.mark.parametrize("given_tag", [None, "iris-classifier:v2"])
def test_containerize_k8s_output_names_the_image_it_built_and_is_valid(bundle, tmp_path,
                                                                        given_tag):
    """containerize names its image tags[0] (BuiltImage.tag) and hands that to
    write_for_image; without -t it is the same tag `bentonb k8s` defaults to."""
    manifest = BundleManifest.read(bundle)
    built = BuiltImage(image_tags(manifest, given_tag)[0], tmp_path / "ctx")
    paths = write_for_image(bundle, built.tag, tmp_path / "k8s")
    assert [p.name for p in paths] == ["deployment.yaml", "service.yaml", "pdb.yaml"]
    docs = [yaml.safe_load(p.read_text()) for p in paths]
    validate_against_schemas(docs)
    image = pod_of(docs[0])["containers"][0]["image"]
    assert image == (given_tag or default_image_tag(manifest))
    assert built.run_command.endswith(f" {image}")  # what containerize prints is what runs


def test_the_validator_rejects_broken_manifests(bundle):
    """The schema check is live: each of these mistakes is caught, with its path."""
    deployment = render(BundleManifest.read(bundle), K8sOptions(image="iris:1"))[
        "deployment.yaml"]
    validate_against_schemas([deployment])

    def broken(change) -> dict:
        doc = copy.deepcopy(deployment)
        change(doc, pod_of(doc)["containers"][0])
        return doc

    cases = [
        (lambda d, c: d["spec"].update(replicas="3"), ["spec", "replicas"]),
        (lambda d, c: c["ports"][0].update(containerPort="5000"),
         ["spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"]),
        (lambda d, c: c["env"][0].update(value=5000),
         ["spec", "template", "spec", "containers", 0, "env", 0, "value"]),
        (lambda d, c: c.update(imagePullPolcy="Always"),  # a typo: only strict mode sees it
         ["spec", "template", "spec", "containers", 0]),
    ]
    for change, path in cases:
        for version in K8S_VERSIONS:
            with pytest.raises(kubernetes_validate.ValidationError) as caught:
                kubernetes_validate.validate(broken(change), version, strict=True)
            assert list(caught.value.path) == path
    typo = broken(cases[-1][0])
    assert kubernetes_validate.validate(typo, "1.30.0", strict=False) == "1.30"
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate({**deployment, "kind": "Deploymnt"}, "1.30.0", strict=True)
