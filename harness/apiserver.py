"""Real Kubernetes API servers for tests: etcd and one kube-apiserver per cluster, envtest style.

The binaries are found the way controller-runtime's envtest finds them: the directory in ``KUBEBUILDER_ASSETS``
(what ``setup-envtest use 1.34 -p path`` prints), else ``.tools/envtest`` in the repository (``make envtest``
unpacks them there, checksums verified). Without them the tests that need them skip with one line, unless
``REQUIRE_ENVTEST=1`` (``make test`` sets it where the project's own binaries exist) makes that a failure.

One etcd serves several API servers, each under its own ``--etcd-prefix``, so several "clusters" start in
parallel in about 5 s. Each listens on loopback with a self-made CA and serving certificate, authenticates
with a static token file (an admin in ``system:masters``; ServiceAccounts get tokens through TokenRequest),
authorizes with RBAC, and writes an audit log (one JSON line per request: user, verb, resource, response
code). Nothing else runs: no controller-manager, scheduler or kubelet. So nothing reconciles Deployments
(:mod:`harness.controllers` plays that part), namespaces are never finalized (deleting one leaves it
Terminating), and nothing is garbage-collected: :meth:`RealCluster.reset` empties namespaces between tests.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .cluster import Cluster, KubeApiError, Obj, eventually
from .dynamo import free_port
from .resources import DEFAULT_RESOURCES

__all__ = [
    "ASSETS_ENV",
    "BINARIES",
    "ControlPlane",
    "RealCluster",
    "assets_dir",
    "missing_reason",
    "our_crds",
    "required",
    "running_control_plane",
    "third_party_crds",
]

ROOT = Path(__file__).resolve().parents[1]
ASSETS_ENV = "KUBEBUILDER_ASSETS"
LOCAL_ASSETS = ROOT / ".tools" / "envtest"
BINARIES = ("etcd", "kube-apiserver")
REQUIRE_ENV = "REQUIRE_ENVTEST"
CRDS = ROOT / "crds"
ADMIN = "admin"
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
START_TIMEOUT = 60.0
# Everything tests create in namespaces: emptied between tests (finalizers first, so CRs go at once).
RESET_KINDS = (
    ("failover.dev/v1alpha1", "failovers"),
    ("failover.dev/v1alpha1", "failovergroups"),
    ("apps/v1", "deployments"),
    ("apps/v1", "statefulsets"),
    ("batch/v1", "cronjobs"),
    ("networking.k8s.io/v1", "ingresses"),
    ("networking.istio.io/v1beta1", "virtualservices"),
    ("helm.toolkit.fluxcd.io/v2", "helmreleases"),
    ("kustomize.toolkit.fluxcd.io/v1", "kustomizations"),
    ("coordination.k8s.io/v1", "leases"),
    ("v1", "serviceaccounts"),
    ("rbac.authorization.k8s.io/v1", "rolebindings"),
    ("rbac.authorization.k8s.io/v1", "roles"),
    ("v1", "events"),
)


# --- finding the binaries -------------------------------------------------------------------------------------


def _complete(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in BINARIES)


def assets_dir(environ: Mapping[str, str] = os.environ, local: Path = LOCAL_ASSETS) -> Path | None:
    """The directory holding ``etcd`` and ``kube-apiserver``: ``$KUBEBUILDER_ASSETS``, else ``.tools/envtest``."""
    configured = environ.get(ASSETS_ENV)
    if configured and _complete(Path(configured)):
        return Path(configured)
    return local if _complete(local) else None


def required(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether a missing binary is a failure rather than a skip (``REQUIRE_ENVTEST=1``)."""
    return environ.get(REQUIRE_ENV) == "1"


def missing_reason(environ: Mapping[str, str] = os.environ, local: Path = LOCAL_ASSETS) -> str:
    """The one line a skipped (or, with REQUIRE_ENVTEST=1, failed) test says."""
    where = environ.get(ASSETS_ENV)
    looked = f"{ASSETS_ENV}={where} nor {local}" if where else f"{ASSETS_ENV} (unset) nor {local}"
    return (
        f"no kube-apiserver/etcd: neither {looked} holds both; get them with "
        f"`{ASSETS_ENV}=$(setup-envtest use 1.34 -p path)` (controller-runtime's setup-envtest)"
    )


def our_crds() -> list[dict[str, Any]]:
    """The CRDs of this repository (crds/), as manifests."""
    return [yaml.safe_load(path.read_text()) for path in sorted(CRDS.glob("*.yaml"))]


def third_party_crds() -> list[dict[str, Any]]:
    """CRDs for the Istio and Flux kinds a FailoverGroup can list (schemaless, with a status subresource):
    enough for the operator's get and patch, which is all it does with them."""
    crds = []
    for spec in DEFAULT_RESOURCES:
        if not spec.custom or spec.group == "failover.dev":
            continue
        crds.append(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{spec.plural}.{spec.group}"},
                "spec": {
                    "group": spec.group,
                    "names": {
                        "kind": spec.kind,
                        "plural": spec.plural,
                        "singular": spec.kind.lower(),
                        "shortNames": list(spec.shortnames),
                    },
                    "scope": "Namespaced",
                    "versions": [
                        {
                            "name": spec.version,
                            "served": True,
                            "storage": True,
                            "subresources": {"status": {}},
                            "schema": {
                                "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                            },
                        }
                    ],
                },
            }
        )
    return crds


# --- certificates ---------------------------------------------------------------------------------------------


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    *,
    ca: bool,
    hosts: Iterable[str] = (),
) -> x509.Certificate:
    import ipaddress

    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


@dataclass(frozen=True)
class Pki:
    """A CA, a serving certificate for 127.0.0.1/localhost, and the ServiceAccount signing key pair."""

    ca: Path
    cert: Path
    key: Path
    sa_key: Path
    sa_pub: Path

    @classmethod
    def create(cls, directory: Path) -> Pki:
        directory.mkdir(parents=True, exist_ok=True)
        ca_key = _key()
        ca = _certificate("failover-operator test CA", ca_key, None, ca=True)
        server_key = _key()
        server = _certificate(
            "kube-apiserver", server_key, (ca, ca_key), ca=False, hosts=("127.0.0.1", "localhost", "kubernetes")
        )
        sa_key = _key()
        paths = cls(
            ca=directory / "ca.crt",
            cert=directory / "apiserver.crt",
            key=directory / "apiserver.key",
            sa_key=directory / "sa.key",
            sa_pub=directory / "sa.pub",
        )
        paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        paths.cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        paths.key.write_bytes(_pem_key(server_key))
        paths.sa_key.write_bytes(_pem_key(sa_key))
        paths.sa_pub.write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return paths


AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}


# --- processes ------------------------------------------------------------------------------------------------


def _spawn(binary: Path, flags: Mapping[str, object], log: Path) -> subprocess.Popen[bytes]:
    """Start ``binary --flag=value ...``, its output into ``log``; on Linux it dies with the starting thread."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(binary), *(f"--{name}={value}" for name, value in flags.items())],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches the tests, which stop the servers in order
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the thread that started it ends (prctl PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def _stop(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_http(
    url: str,
    process: subprocess.Popen[bytes],
    log: Path,
    *,
    token: str | None = None,
    context: ssl.SSLContext | None = None,
    within: float = START_TIMEOUT,
) -> None:
    deadline = time.monotonic() + within
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    while True:
        try:
            with urllib.request.urlopen(request, timeout=2, context=context) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with code {process.returncode}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} was not ready within {within:.0f}s:\n{_tail(log)}")
        time.sleep(0.1)


@dataclass
class Etcd:
    process: subprocess.Popen[bytes]
    url: str

    @classmethod
    def start(cls, binary: Path, workdir: Path) -> Etcd:
        client, peer = free_port(), free_port()
        url = f"http://127.0.0.1:{client}"
        log = workdir / "etcd.log"
        flags = {
            "data-dir": workdir / "etcd-data",
            "listen-client-urls": url,
            "advertise-client-urls": url,
            "listen-peer-urls": f"http://127.0.0.1:{peer}",
            "initial-advertise-peer-urls": f"http://127.0.0.1:{peer}",
            "initial-cluster": f"default=http://127.0.0.1:{peer}",
            "unsafe-no-fsync": "true",  # test data: durability is not what is under test
            "log-level": "warn",
        }
        process = _spawn(binary, flags, log)
        try:
            _wait_http(f"{url}/health", process, log)
        except BaseException:
            _stop(process)
            raise
        return cls(process, url)

    def stop(self) -> None:
        _stop(self.process)


class RealCluster(Cluster):
    """A running kube-apiserver: the :class:`~harness.cluster.Cluster` handle as the admin, plus its process,
    its audit log, tokens for ServiceAccounts, and a kubeconfig for kubectl and operator processes."""

    def __init__(
        self, name: str, url: str, *, token: str, ca_file: Path, workdir: Path, process: subprocess.Popen[bytes]
    ) -> None:
        super().__init__(name, url, token=token, ca_file=ca_file)
        self.workdir = workdir
        self.process = process
        self.audit_log = workdir / "audit.log"
        self.log = workdir / "kube-apiserver.log"
        self.kubeconfig = self.write_kubeconfig(workdir / "kubeconfig")
        self._mark = 0

    # ---- synchronous admin calls (fixtures, set-up; no event loop needed) ---------------------------------------

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        params: str = "",
        token: str | None = None,
    ) -> Any:
        """One request as the admin (or ``token``), blocking; raises :class:`KubeApiError` on non-2xx."""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(
            self.url + path + (f"?{params}" if params else ""),
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {token or self.token}",
                "Accept": "application/json",
                **({"Content-Type": content_type} if data is not None else {}),
            },
        )
        context = ssl.create_default_context(cafile=str(self.ca_file))
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            try:
                decoded: Any = json.loads(text)
            except ValueError:
                decoded = text
            raise KubeApiError(e.code, decoded, method, request.full_url) from None
        return json.loads(text) if text else None

    def apply_sync(self, obj: Mapping[str, Any], *, field_manager: str = "harness") -> Obj:
        """Server-side apply, blocking."""
        meta = obj.get("metadata") or {}
        path = self.path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        result: Obj = self.call(
            "PATCH",
            path,
            obj,
            content_type="application/apply-patch+yaml",
            params=f"fieldManager={field_manager}&force=true",
        )
        return result

    def ensure_namespace_sync(self, name: str) -> None:
        with contextlib.suppress(KubeApiError):
            self.call(
                "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            )

    def install_crds(self, manifests: Iterable[Mapping[str, Any]]) -> None:
        """Apply CRDs and wait until each is Established and its resource answers a list (not 429)."""
        crds = list(manifests)
        for crd in crds:
            self.apply_sync(crd)
        for crd in crds:
            name = crd["metadata"]["name"]
            deadline = time.monotonic() + 30
            while True:
                current = self.call("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
                conditions = {c["type"]: c["status"] for c in (current.get("status") or {}).get("conditions") or []}
                if conditions.get("Established") == "True":
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"CRD {name} was not Established in 30s: {conditions}")
                time.sleep(0.05)
            spec = crd["spec"]
            version = next(v["name"] for v in spec["versions"] if v.get("served", True))
            path = f"/apis/{spec['group']}/{version}/{spec['names']['plural']}"
            while True:  # right after creation the storage answers 429 "storage is (re)initializing"
                try:
                    self.call("GET", path, params="limit=1")
                    break
                except KubeApiError as e:
                    if e.status != 429 or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    @contextlib.contextmanager
    def schema_loosened(self, plural: str) -> Iterator[None]:
        """Our CRD of ``plural`` without its spec schema for a while: objects created meanwhile may hold any spec,
        as objects written before a stricter schema do. The real CRD is back afterwards (objects stay)."""
        original = next(crd for crd in our_crds() if crd["spec"]["names"]["plural"] == plural)
        loose = copy.deepcopy(original)
        for version in loose["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            schema["properties"]["spec"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        self.install_crds([loose])
        try:
            yield
        finally:
            self.install_crds([original])

    def crd_names(self) -> set[str]:
        listing = self.call("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        return {item["metadata"]["name"] for item in listing["items"]}

    def delete_crd(self, name: str) -> None:
        with contextlib.suppress(KubeApiError):
            self.call("DELETE", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        deadline = time.monotonic() + 30
        while name in self.crd_names():
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} was not removed in 30s")
            time.sleep(0.05)

    def service_account_token(self, namespace: str, name: str, *, seconds: int = 3600) -> str:
        """A token of the ServiceAccount (TokenRequest, as `kubectl create token` does)."""
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": seconds},
        }
        answer = self.call("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", request)
        token: str = answer["status"]["token"]
        return token

    # ---- the audit log ---------------------------------------------------------------------------------------

    def mark_audit(self) -> None:
        """Audit entries before this moment are ignored by :meth:`audit`."""
        self._mark = self.audit_log.stat().st_size if self.audit_log.exists() else 0

    def audit(self, user: str | None = None) -> list[dict[str, Any]]:
        """Audit events since :meth:`mark_audit` (completed requests; watches when they started), of ``user``."""
        if not self.audit_log.exists():
            return []
        with self.audit_log.open("rb") as log:
            log.seek(self._mark)
            lines = log.read().decode(errors="replace").splitlines()
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line being written right now
            if user is None or event.get("user", {}).get("username") == user:
                events.append(event)
        return events

    async def wait_watched(self, api_version: str, kind: str, *, within: float = 10.0) -> None:
        """Until the audit log shows somebody (e.g. an operator) watching the resource."""
        spec = self.resource(api_version, kind)

        def watched() -> bool:
            return any(
                e.get("verb") == "watch" and (e.get("objectRef") or {}).get("resource") == spec.plural
                for e in self.audit()
            )

        await eventually(watched, within=within, message=f"nobody watches {spec.plural} in {self.name!r}")

    # ---- between tests ---------------------------------------------------------------------------------------

    def fresh(self, namespaces: Iterable[str] = ("shop",)) -> None:
        """Ready for the next test: emptied (:meth:`reset`), ``namespaces`` present, the audit log marked."""
        self.reset()
        for namespace in namespaces:
            self.ensure_namespace_sync(namespace)
        self.mark_audit()

    def reset(self, kinds: Iterable[tuple[str, str]] = RESET_KINDS) -> None:
        """Empty every non-system namespace of ``kinds`` (api_version, plural), finalizers stripped first, and
        delete what tests bound cluster-wide (labelled ``harness=rbac``). Namespaces stay (nothing finalizes
        them here), so tests reuse them."""
        for api_version, plural in kinds:
            spec = self.resource(api_version, plural)
            try:
                items = self.call("GET", spec.path())["items"]  # every namespace's, in one list
            except KubeApiError as e:
                if e.status == 404:
                    continue  # the resource type is not served here
                raise
            for item in items:
                meta = item["metadata"]
                namespace, name = meta.get("namespace"), meta["name"]
                if namespace in SYSTEM_NAMESPACES:
                    continue
                if meta.get("finalizers"):
                    with contextlib.suppress(KubeApiError):
                        self.call(
                            "PATCH",
                            spec.path(namespace, name),
                            {"metadata": {"finalizers": None}},
                            content_type="application/merge-patch+json",
                        )
                with contextlib.suppress(KubeApiError):
                    self.call("DELETE", spec.path(namespace, name))
        for plural in ("clusterrolebindings", "clusterroles"):
            path = f"/apis/rbac.authorization.k8s.io/v1/{plural}"
            for item in self.call("GET", path, params="labelSelector=harness%3Drbac")["items"]:
                with contextlib.suppress(KubeApiError):
                    self.call("DELETE", f"{path}/{item['metadata']['name']}")

    async def ensure_namespace(self, name: str) -> None:
        try:
            await self.create_namespace(name)
        except KubeApiError as e:
            if e.status != 409:
                raise


@dataclass
class ControlPlane:
    """etcd and the API servers started so far; :meth:`cluster` starts the ones still missing."""

    assets: Path
    workdir: Path
    pki: Pki
    etcd: Etcd
    clusters: dict[str, RealCluster] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, assets: Path, workdir: Path | None = None) -> ControlPlane:
        workdir = workdir or Path(tempfile.mkdtemp(prefix="envtest-"))
        pki = Pki.create(workdir / "pki")
        (workdir / "audit-policy.yaml").write_text(yaml.safe_dump(AUDIT_POLICY))
        etcd = Etcd.start(assets / "etcd", workdir)
        return cls(assets=assets, workdir=workdir, pki=pki, etcd=etcd)

    def ensure(self, *names: str) -> dict[str, RealCluster]:
        """The API servers ``names``, starting those not running yet (in parallel, about 5 s).

        Call it from the thread that outlives them (the main thread, as pytest and the demo do): on Linux the
        servers are stopped by the kernel when the thread that started them ends, so that a killed test run
        leaves no API server behind."""
        with self._lock:
            missing = [n for n in dict.fromkeys(names) if n not in self.clusters]
            launched = [self._launch(name) for name in missing]
            try:
                with ThreadPoolExecutor(max_workers=max(1, len(launched))) as pool:
                    for cluster in pool.map(self._ready, launched):
                        self.clusters[cluster.name] = cluster
            finally:
                for cluster in launched:
                    if cluster.name not in self.clusters:
                        _stop(cluster.process)
            return {n: self.clusters[n] for n in names}

    def _launch(self, name: str) -> RealCluster:
        workdir = self.workdir / name
        workdir.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        tokens = workdir / "tokens.csv"
        tokens.write_text(f'{token},{ADMIN},{ADMIN},"system:masters"\n')
        port = free_port()
        flags = {
            "etcd-servers": self.etcd.url,
            "etcd-prefix": f"/{name}",
            "bind-address": "127.0.0.1",
            "advertise-address": "127.0.0.1",
            "secure-port": port,
            "cert-dir": workdir / "certs",
            "tls-cert-file": self.pki.cert,
            "tls-private-key-file": self.pki.key,
            "client-ca-file": self.pki.ca,
            "token-auth-file": tokens,
            "anonymous-auth": "false",
            "authorization-mode": "RBAC",
            "service-account-key-file": self.pki.sa_pub,
            "service-account-signing-key-file": self.pki.sa_key,
            "service-account-issuer": f"https://{name}.failover.test",
            "service-cluster-ip-range": "10.0.0.0/24",
            "audit-policy-file": self.workdir / "audit-policy.yaml",
            "audit-log-path": workdir / "audit.log",
            "audit-log-format": "json",
            "audit-log-mode": "blocking",
            "disable-admission-plugins": "ServiceAccount",  # no controller makes the default ServiceAccounts
            "v": 0,
        }
        process = _spawn(self.assets / "kube-apiserver", flags, workdir / "kube-apiserver.log")
        url = f"https://127.0.0.1:{port}"
        return RealCluster(name, url, token=token, ca_file=self.pki.ca, workdir=workdir, process=process)

    def _ready(self, cluster: RealCluster) -> RealCluster:
        context = ssl.create_default_context(cafile=str(self.pki.ca))
        _wait_http(f"{cluster.url}/readyz", cluster.process, cluster.log, token=cluster.token, context=context)
        cluster.install_crds(our_crds())
        return cluster

    def stop(self, *, keep: bool = False) -> None:
        for cluster in self.clusters.values():
            _stop(cluster.process)
        self.clusters.clear()
        self.etcd.stop()
        if not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def running_control_plane(assets: Path) -> Iterator[ControlPlane]:
    plane = ControlPlane.start(assets)
    try:
        yield plane
    finally:
        plane.stop()
