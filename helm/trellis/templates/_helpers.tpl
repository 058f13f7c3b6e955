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
{{- $trellis := dict "type" "trellis" "agentSocket" (printf "%s/cni.sock" .Values.cni.agentSocketDir) "mtu" (int .Values.agent.mtu) "ipam" (dict "type" .Values.cni.ipamType) -}}
{{- $plugins := list $trellis -}}
{{- if .Values.cni.portmap -}}
{{- $plugins = append $plugins (dict "type" "portmap" "capabilities" (dict "portMappings" true)) -}}
{{- end -}}
{{- dict "cniVersion" .Values.cni.cniVersion "name" "k8s-pod-network" "plugins" $plugins | toJson -}}
{{- end }}
