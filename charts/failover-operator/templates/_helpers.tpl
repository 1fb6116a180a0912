{{/* Names and labels. */}}

{{- define "failover-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "failover-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "failover-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "failover-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "failover-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "failover-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: failover-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "failover-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "failover-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "failover-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The environment of both processes (operator and watchdog): the same settings. The AWS credentials are
the operator's alone (failover-operator.credentials): the watchdog never talks to DynamoDB. */}}
{{- define "failover-operator.env" -}}
- name: CLUSTER_NAME
  value: {{ .Values.clusterName | quote }}
- name: OPERATOR_ID
  value: {{ .Values.operatorId | quote }}
- name: DYNAMODB_TABLE
  value: {{ .Values.table | quote }}
{{- with .Values.region }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- with .Values.endpoint }}
- name: DYNAMODB_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with .Values.regions }}
- name: DYNAMODB_REGIONS
  value: {{ join "," . | quote }}
{{- end }}
{{- with .Values.endpoints }}
- name: DYNAMODB_ENDPOINTS
  value: {{ join "," . | quote }}
{{- end }}
{{- with .Values.watchNamespaces }}
- name: WATCH_NAMESPACE
  value: {{ join "," . | quote }}
{{- end }}
- name: HEALTH_PORT
  value: {{ .Values.healthPort | quote }}
- name: METRICS_PORT
  value: {{ ternary .Values.metrics.port 0 .Values.metrics.enabled | quote }}
- name: LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: LEASE_NAMESPACE
  value: {{ .Release.Namespace | quote }}
- name: LEASE_NAME
  value: {{ include "failover-operator.fullname" . | quote }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The Lease the operator's replicas elect their leader on. */}}
{{- define "failover-operator.leaderLease" -}}
{{- printf "%s-leader" (include "failover-operator.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The watchdog: its own name (so that the operator's selector never matches its pods). */}}
{{- define "failover-operator.watchdog.fullname" -}}
{{- printf "%s-watchdog" (include "failover-operator.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "failover-operator.watchdog.selectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-watchdog" (include "failover-operator.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "failover-operator.watchdog.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "failover-operator.watchdog.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: watchdog
app.kubernetes.io/part-of: failover-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* AWS credentials from an existing Secret, for the operator only. */}}
{{- define "failover-operator.credentials" -}}
{{- with .Values.credentials.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.credentials.accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.credentials.secretAccessKeyKey }}
{{- with $.Values.credentials.sessionTokenKey }}
- name: AWS_SESSION_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.credentials.existingSecret }}
      key: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* regions and endpoints (DYNAMODB_REGIONS, DYNAMODB_ENDPOINTS) beside region and endpoint: refused where they
disagree, as the operator would refuse them at start-up. */}}
{{- define "failover-operator.checkRegions" -}}
{{- $regions := .Values.regions | default list -}}
{{- $endpoints := .Values.endpoints | default list -}}
{{- if and $endpoints (not $regions) -}}
{{- fail "endpoints needs regions: one endpoint per Region, in the same order (one Region's endpoint alone: endpoint)" -}}
{{- end -}}
{{- if and $endpoints (ne (len $endpoints) (len $regions)) -}}
{{- fail (printf "endpoints has %d URL(s) for %d Region(s) in regions: give one per Region, in the same order" (len $endpoints) (len $regions)) -}}
{{- end -}}
{{- if and .Values.endpoint (gt (len $regions) 1) -}}
{{- fail "endpoint is one Region's endpoint (DYNAMODB_ENDPOINT): with several regions, give endpoints, one per Region in the same order" -}}
{{- end -}}
{{- if and .Values.endpoint $endpoints (ne (list .Values.endpoint | toJson) ($endpoints | toJson)) -}}
{{- fail "endpoint and endpoints differ: with regions, give endpoints alone" -}}
{{- end -}}
{{- if and .Values.region $regions (not (has .Values.region $regions)) -}}
{{- fail (printf "region %s is not one of regions (%s): with regions, leave region empty" .Values.region (join ", " $regions)) -}}
{{- end -}}
{{- end -}}
