{{/*
Chart name, truncated to 63 characters (a DNS label).
*/}}
{{- define "mirror.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fully qualified app name: "<release>-<chart>", or the release name when it
already contains the chart name. Truncated to 63 characters because some
Kubernetes name fields are limited to that (DNS-1123 labels).
*/}}
{{- define "mirror.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Name of a component's resources: "<fullname>-<suffix>". The fullname is cut
first so that the suffix always survives and names stay unique and <= 63.
Call with (dict "ctx" $ "suffix" "frontend").
*/}}
{{- define "mirror.componentName" -}}
{{- $suffix := .suffix -}}
{{- $max := sub 62 (len $suffix) | int -}}
{{- printf "%s-%s" (include "mirror.fullname" .ctx | trunc $max | trimSuffix "-") $suffix -}}
{{- end -}}

{{/*
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "mirror.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels: the immutable subset used by Deployment selectors, Services and PDBs.
*/}}
{{- define "mirror.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mirror.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
Common labels for every resource.
*/}}
{{- define "mirror.labels" -}}
helm.sh/chart: {{ include "mirror.chart" . }}
{{ include "mirror.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mirror
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Selector labels of one component. Call with (dict "ctx" $ "component" "frontend").
*/}}
{{- define "mirror.componentSelectorLabels" -}}
{{ include "mirror.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
Labels of one component's resources. Call with (dict "ctx" $ "component" "frontend").
*/}}
{{- define "mirror.componentLabels" -}}
{{ include "mirror.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
ServiceAccount of the frontend and silo pods.
*/}}
{{- define "mirror.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mirror.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Image reference: repository@digest, or repository:tag (tag defaults to appVersion).
*/}}
{{- define "mirror.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) -}}
{{- end -}}
{{- end -}}

{{/*
Cluster mode: separate silo pods sharing PostgreSQL and S3.
*/}}
{{- define "mirror.clusterMode" -}}
{{- if .Values.silo.enabled -}}true{{- end -}}
{{- end -}}

{{/*
Validation of values that have no safe default. Included by every template
that depends on them, so "helm template" fails early with a message that names
the value to set.
*/}}
{{- define "mirror.validate" -}}
{{- $kind := .Values.storage.kind -}}
{{- if not (has $kind (list "S3" "FileSystem")) -}}
{{- fail (printf "storage.kind must be \"S3\" or \"FileSystem\", got %q" (toString $kind)) -}}
{{- end -}}
{{- if .Values.silo.enabled -}}
{{- $pg := .Values.postgresql -}}
{{- if not (or $pg.existingSecret $pg.connectionString $pg.host) -}}
{{- required "postgresql.connectionString is required when silo.enabled=true (cluster mode): set postgresql.connectionString, postgresql.existingSecret, or postgresql.host with postgresql.passwordSecret.name" "" -}}
{{- end -}}
{{- if and $pg.host (not (or $pg.existingSecret $pg.connectionString)) -}}
{{- $_ := required "postgresql.passwordSecret.name is required when the connection string is composed from postgresql.host" $pg.passwordSecret.name -}}
{{- end -}}
{{- if ne $kind "S3" -}}
{{- fail "storage.kind must be \"S3\" when silo.enabled=true: every silo and frontend must see the same blobs (FileSystem is for embedded mode)" -}}
{{- end -}}
{{- end -}}
{{- if eq $kind "S3" -}}
{{- $_ := required "storage.s3.bucket is required when storage.kind=S3" .Values.storage.s3.bucket -}}
{{- $s3 := .Values.storage.s3 -}}
{{- if and (not $s3.existingSecret) (or $s3.accessKey $s3.secretKey) (not (and $s3.accessKey $s3.secretKey)) -}}
{{- fail "storage.s3.accessKey and storage.s3.secretKey must be set together (or use storage.s3.existingSecret)" -}}
{{- end -}}
{{- end -}}
{{- if not .Values.silo.enabled -}}
{{- if .Values.frontend.autoscaling.enabled -}}
{{- fail "frontend.autoscaling.enabled requires silo.enabled=true: embedded mode runs a single frontend" -}}
{{- end -}}
{{- if and (eq $kind "FileSystem") (gt (int .Values.frontend.replicaCount) 1) -}}
{{- fail "frontend.replicaCount must be 1 in embedded mode with storage.kind=FileSystem (the disk cache belongs to one pod)" -}}
{{- end -}}
{{- end -}}
{{- range $name, $u := .Values.upstreams -}}
{{- if not (regexMatch "^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?$" $name) -}}
{{- fail (printf "upstreams: %q is not a registry host name" $name) -}}
{{- end -}}
{{- if and $u.enabled (not $u.url) -}}
{{- fail (printf "upstreams.%s.url is required when the upstream is enabled" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The generated settings file (non-secret part of the "Mirror" section), as JSON.
Used by the release ConfigMap AND the migration hook's ConfigMap, so both are
always identical.
*/}}
{{- define "mirror.configJson" -}}
{{- $s3 := .Values.storage.s3 -}}
{{- $storage := dict "Kind" .Values.storage.kind -}}
{{- if eq .Values.storage.kind "S3" -}}
{{- $s3cfg := dict "Bucket" $s3.bucket "Region" $s3.region "ForcePathStyle" $s3.forcePathStyle "RedirectBlobs" $s3.redirectBlobs -}}
{{- if $s3.serviceUrl -}}
{{- $_ := set $s3cfg "ServiceUrl" $s3.serviceUrl -}}
{{- end -}}
{{- if $s3.keyPrefix -}}
{{- $_ := set $s3cfg "KeyPrefix" $s3.keyPrefix -}}
{{- end -}}
{{- $_ := set $storage "S3" $s3cfg -}}
{{- end -}}
{{- $upstreams := dict -}}
{{- range $name, $u := .Values.upstreams -}}
{{- $_ := set $upstreams $name (dict "Url" $u.url "Enabled" (ne (toString $u.enabled) "false")) -}}
{{- end -}}
{{- $mirror := dict "Storage" $storage "CacheDirectory" .Values.config.cacheDirectory "TagTtl" (toString .Values.config.tagTtl) "Upstreams" $upstreams -}}
{{- $mirror = mustMergeOverwrite $mirror (deepCopy (default (dict) .Values.config.extra)) -}}
{{- $root := dict "Mirror" $mirror "Logging" (dict "LogLevel" (dict "Default" .Values.config.logLevel)) -}}
{{- toPrettyJson $root -}}
{{- end -}}

{{/*
Does the chart render its own Secret? Only when some credential is given as a
plain value (not via existingSecret).
*/}}
{{- define "mirror.secretData" -}}
{{- $data := dict -}}
{{- $pg := .Values.postgresql -}}
{{- if and .Values.silo.enabled (not $pg.existingSecret) $pg.connectionString -}}
{{- $_ := set $data "connection-string" $pg.connectionString -}}
{{- end -}}
{{- $s3 := .Values.storage.s3 -}}
{{- if and (eq .Values.storage.kind "S3") (not $s3.existingSecret) $s3.accessKey -}}
{{- $_ := set $data "s3-access-key" $s3.accessKey -}}
{{- $_ := set $data "s3-secret-key" $s3.secretKey -}}
{{- end -}}
{{- range $name, $u := .Values.upstreams -}}
{{- if and (not $u.existingSecret) $u.username -}}
{{- $_ := set $data (printf "upstream-%s-username" $name) $u.username -}}
{{- $_ := set $data (printf "upstream-%s-password" $name) (default "" $u.password) -}}
{{- end -}}
{{- end -}}
{{- if $data -}}
{{- range $k, $v := $data }}
{{ $k }}: {{ $v | toString | b64enc | quote }}
{{- end }}
{{- end -}}
{{- end -}}

{{/*
Environment shared by every Mirror container (frontend, silo, migration hook).
Secrets arrive as env vars; non-secret settings come from the mounted JSON.
Call with (dict "ctx" $ "secretName" <chart Secret name>).
*/}}
{{- define "mirror.env" -}}
{{- $ := .ctx -}}
{{- $secretName := .secretName -}}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: ASPNETCORE_ENVIRONMENT
  value: {{ $.Values.config.environment | quote }}
- name: DOTNET_ENVIRONMENT
  value: {{ $.Values.config.environment | quote }}
- name: MIRROR_CONFIG_FILE
  value: /app/config/mirror.json
{{- if $.Values.silo.enabled }}
{{- $pg := $.Values.postgresql }}
{{- if $pg.existingSecret }}
- name: Mirror__Cluster__ConnectionString
  valueFrom:
    secretKeyRef:
      name: {{ $pg.existingSecret }}
      key: {{ $pg.existingSecretKey }}
{{- else if $pg.connectionString }}
- name: Mirror__Cluster__ConnectionString
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: connection-string
{{- else }}
- name: MIRROR_PG_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $pg.passwordSecret.name }}
      key: {{ $pg.passwordSecret.key }}
- name: Mirror__Cluster__ConnectionString
  value: {{ printf "Host=%s;Port=%v;Database=%s;Username=%s;Password=$(MIRROR_PG_PASSWORD)%s" $pg.host $pg.port $pg.database $pg.username (ternary (printf ";%s" $pg.options) "" (ne ($pg.options | toString) "")) | quote }}
{{- end }}
{{- end }}
{{- $s3 := $.Values.storage.s3 }}
{{- if eq $.Values.storage.kind "S3" }}
{{- if $s3.existingSecret }}
- name: Mirror__Storage__S3__AccessKey
  valueFrom:
    secretKeyRef:
      name: {{ $s3.existingSecret }}
      key: {{ $s3.accessKeyKey }}
- name: Mirror__Storage__S3__SecretKey
  valueFrom:
    secretKeyRef:
      name: {{ $s3.existingSecret }}
      key: {{ $s3.secretKeyKey }}
{{- else if $s3.accessKey }}
- name: Mirror__Storage__S3__AccessKey
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: s3-access-key
- name: Mirror__Storage__S3__SecretKey
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: s3-secret-key
{{- end }}
{{- end }}
{{- range $name, $u := $.Values.upstreams }}
{{- if $u.existingSecret }}
- name: Mirror__Upstreams__{{ $name }}__Username
  valueFrom:
    secretKeyRef:
      name: {{ $u.existingSecret }}
      key: {{ default "username" $u.usernameKey }}
- name: Mirror__Upstreams__{{ $name }}__Password
  valueFrom:
    secretKeyRef:
      name: {{ $u.existingSecret }}
      key: {{ default "password" $u.passwordKey }}
{{- else if $u.username }}
- name: Mirror__Upstreams__{{ $name }}__Username
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: upstream-{{ $name }}-username
- name: Mirror__Upstreams__{{ $name }}__Password
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: upstream-{{ $name }}-password
{{- end }}
{{- end }}
{{- end -}}

{{/*
Pod-level security context.
*/}}
{{- define "mirror.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext -}}
{{- end -}}

{{/*
Container-level security context.
*/}}
{{- define "mirror.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext -}}
{{- end -}}

{{/*
terminationGracePeriodSeconds of a component: explicit value, or
preStop sleep + drain + 20 s for the host to flush logs and exit.
Call with the component's values block.
*/}}
{{- define "mirror.terminationGracePeriod" -}}
{{- if kindIs "invalid" .terminationGracePeriodSeconds -}}
{{- add (int .preStopSleepSeconds) (int .shutdownDrainSeconds) 20 -}}
{{- else -}}
{{- if le (int .terminationGracePeriodSeconds) (add (int .preStopSleepSeconds) (int .shutdownDrainSeconds) | int) -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds + shutdownDrainSeconds (%d): the kubelet would kill in-flight transfers" (int .terminationGracePeriodSeconds) (add (int .preStopSleepSeconds) (int .shutdownDrainSeconds) | int)) -}}
{{- end -}}
{{- int .terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{/*
preStop hook: wait until endpoint removal has propagated before SIGTERM starts
the app's drain. Uses the kubelet's native sleep action where the cluster has
it (1.30+), so the image needs no shell. Call with (dict "ctx" $ "seconds" N).
*/}}
{{- define "mirror.preStop" -}}
{{- if semverCompare ">=1.30.0-0" .ctx.Capabilities.KubeVersion.Version -}}
sleep:
  seconds: {{ int .seconds }}
{{- else -}}
exec:
  command: ["sleep", "{{ int .seconds }}"]
{{- end -}}
{{- end -}}

{{/*
Startup, liveness and readiness probes. They differ on purpose: startup gives
a cold process time, liveness (/healthz) only asks "is the process alive" and
never depends on PostgreSQL, readiness (/readyz) takes the pod out of Service
endpoints while PostgreSQL is unreachable or while it drains.
Call with (dict "values" <component values> "port" "<port name>").
*/}}
{{- define "mirror.probes" -}}
startupProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  periodSeconds: {{ .values.startupProbe.periodSeconds }}
  timeoutSeconds: {{ .values.startupProbe.timeoutSeconds }}
  failureThreshold: {{ .values.startupProbe.failureThreshold }}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  periodSeconds: {{ .values.livenessProbe.periodSeconds }}
  timeoutSeconds: {{ .values.livenessProbe.timeoutSeconds }}
  failureThreshold: {{ .values.livenessProbe.failureThreshold }}
readinessProbe:
  httpGet:
    path: /readyz
    port: {{ .port }}
  periodSeconds: {{ .values.readinessProbe.periodSeconds }}
  timeoutSeconds: {{ .values.readinessProbe.timeoutSeconds }}
  failureThreshold: {{ .values.readinessProbe.failureThreshold }}
  successThreshold: {{ .values.readinessProbe.successThreshold }}
{{- end -}}

{{/*
Default topology spread: zones first, then nodes, both soft (ScheduleAnyway)
so a small cluster still schedules. Call with (dict "ctx" $ "component" "frontend" "values" <component values>).
*/}}
{{- define "mirror.topologySpread" -}}
{{- if .values.topologySpreadConstraints -}}
{{- toYaml .values.topologySpreadConstraints -}}
{{- else -}}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "mirror.componentSelectorLabels" (dict "ctx" .ctx "component" .component) | nindent 6 }}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "mirror.componentSelectorLabels" (dict "ctx" .ctx "component" .component) | nindent 6 }}
{{- end -}}
{{- end -}}

{{/*
Pod annotations shared by frontend and silo: config/secret checksums (roll the
pods when settings change) and Prometheus scrape hints.
Call with (dict "ctx" $ "port" N "values" <component values>).
*/}}
{{- define "mirror.podAnnotations" -}}
checksum/config: {{ include "mirror.configJson" .ctx | sha256sum }}
checksum/secret: {{ include "mirror.secretData" .ctx | sha256sum }}
{{- if .ctx.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with .values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}
