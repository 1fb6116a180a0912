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
# What a FailoverGroup lists: read (health, replicas) and patch (scale, suspend, DNS annotations); listed and
# watched, so that a quiet tick reads none of them (workloads/watches.py).
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["batch"]
  resources: ["cronjobs"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["networking.istio.io"]
  resources: ["virtualservices"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["helm.toolkit.fluxcd.io"]
  resources: ["helmreleases"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["kustomize.toolkit.fluxcd.io"]
  resources: ["kustomizations"]
  verbs: ["get", "list", "watch", "patch"]
{{- end -}}

{{/*
The watchdog's rules: find the groups, fence the resources they list, say so. Nothing else (never DynamoDB).
*/}}
{{- define "failover-operator.watchdog.rules" -}}
# FailoverGroups: which resources this cluster serves as PRIMARY.
- apiGroups: ["failover.dev"]
  resources: ["failovergroups"]
  verbs: ["list"]
# Events about what it did (WatchdogFenced).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# What a FailoverGroup lists: read (roles) and patch (scale to zero, suspend, DNS off).
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

{{/*
One identity's rules: a ClusterRole + ClusterRoleBinding, or (rbac.namespaced) a Role + RoleBinding in each
watched namespace. Called with a dict: root, name, rules (a template name), account.
*/}}
{{- define "failover-operator.grant" -}}
{{- $root := .root -}}
{{- if $root.Values.rbac.namespaced }}
{{- range $namespace := $root.Values.watchNamespaces }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ $.name }}
  namespace: {{ $namespace }}
  labels:
    {{- include "failover-operator.labels" $root | nindent 4 }}
rules:
  {{- include $.rules $root | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $.name }}
  namespace: {{ $namespace }}
  labels:
    {{- include "failover-operator.labels" $root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $.name }}
subjects:
  - kind: ServiceAccount
    name: {{ $.account }}
    namespace: {{ $root.Release.Namespace }}
{{- end }}
{{- else }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ .name }}
  labels:
    {{- include "failover-operator.labels" $root | nindent 4 }}
rules:
  {{- include .rules $root | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ .name }}
  labels:
    {{- include "failover-operator.labels" $root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ .name }}
subjects:
  - kind: ServiceAccount
    name: {{ .account }}
    namespace: {{ $root.Release.Namespace }}
{{- end }}
{{- end -}}

{{/* A Role on named Leases (`leases`, default the watchdog's), in the release namespace: `verbs` for `account`. */}}
{{- define "failover-operator.leaseGrant" }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ .name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "failover-operator.labels" .root | nindent 4 }}
rules:
  - apiGroups: ["coordination.k8s.io"]
    resources: ["leases"]
    resourceNames: {{ (.leases | default (list (include "failover-operator.fullname" .root))) | toJson }}
    verbs: {{ .verbs | toJson }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ .name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "failover-operator.labels" .root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ .name }}
subjects:
  - kind: ServiceAccount
    name: {{ .account }}
    namespace: {{ .root.Release.Namespace }}
{{- end -}}
