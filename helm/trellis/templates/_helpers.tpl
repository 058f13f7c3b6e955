{{- define "trellis.labels" -}}
app.kubernetes.io/name: trellis
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "trellis.selectorLabels" -}}
app.kubernetes.io/name: trellis
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: trellis-node
{{- end }}

{{- define "trellis.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The conflist pinned in docs/architecture.md, from values. */}}
{{- define "trellis.conflist" -}}
{{- $trellis := dict "type" "trellis" "agentSocket" (include "trellis.hostAgentSocket" .) "mtu" (int .Values.agent.mtu) "ipam" (dict "type" .Values.cni.ipamType) -}}
{{- $plugins := list $trellis -}}
{{- if .Values.cni.portmap -}}
{{- $plugins = append $plugins (dict "type" "portmap" "capabilities" (dict "portMappings" true)) -}}
{{- end -}}
{{- dict "cniVersion" .Values.cni.cniVersion "name" "k8s-pod-network" "plugins" $plugins | toJson -}}
{{- end }}

{{/*
The agent socket as the runtime (and the shim it execs) sees it on the host.
Under cni.perNodeRoot the node's name is a $(TRELLIS_NODE_NAME) reference,
which the kubelet expands in the install-cni container's environment
(dependent environment variables, core/v1 EnvVar.value).
*/}}
{{- define "trellis.hostAgentSocket" -}}
{{- if .Values.cni.perNodeRoot -}}
{{- printf "%s/$(TRELLIS_NODE_NAME)%s/cni.sock" (trimSuffix "/" .Values.cni.perNodeRoot) .Values.cni.agentSocketDir -}}
{{- else -}}
{{- printf "%s/cni.sock" .Values.cni.agentSocketDir -}}
{{- end -}}
{{- end }}

{{/* A hostPath volume mount: the path itself, or under cni.perNodeRoot the node's own copy of it. */}}
{{- define "trellis.hostMount" -}}
{{- if .root.Values.cni.perNodeRoot -}}
{ name: node-root, mountPath: {{ .mountPath }}, subPathExpr: "$(TRELLIS_NODE_NAME){{ .hostPath }}" }
{{- else -}}
{ name: {{ .name }}, mountPath: {{ .mountPath }} }
{{- end -}}
{{- end }}
