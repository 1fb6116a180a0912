{{/*
The rules the operator needs: the same for the ClusterRole and for each namespaced Role. Nothing more:
tests/ship/test_rbac.py runs the operator with these rules on real API servers through an end-to-end scenario
and fails when the audit log shows a request refused, or a rule here never used.
*/}}
{{- define "failover-operator.rules" -}}
# FailoverGroups and Failovers: kopf lists and watches them, and patches its finalizer
# (failover.dev/finalizer) and its failover.dev/* annotations onto them.
- apiGroups: ["failover.dev"]
  resources: ["failovergroups", "failovers"]
  verbs: ["list", "watch", "patch"]
# Their status, written through the status subresource.
- apiGroups: ["failover.dev"]
  resources: ["failovergroups/status", "failovers/status"]
  verbs: ["patch"]
# Events about them (Promoted, Demoted, FailoverSucceeded, ...).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# What a FailoverGroup lists: read (health, replicas) and patch (scale, suspend, DNS annotations).
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get", "patch"]
- apiGroups: ["batch"]
  resources: ["cronjobs"]
  verbs: ["get", "patch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "patch"]
- apiGroups: ["networking.istio.io"]
  resources: ["virtualservices"]
  verbs: ["get", "patch"]
- apiGroups: ["helm.toolkit.fluxcd.io"]
  resources: ["helmreleases"]
  verbs: ["get", "patch"]
- apiGroups: ["kustomize.toolkit.fluxcd.io"]
  resources: ["kustomizations"]
  verbs: ["get", "patch"]
{{- end -}}
