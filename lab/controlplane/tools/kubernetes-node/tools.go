//go:build tools

// Package tools pins the Kubernetes commands the lab's real nodes run
// (kubelet, kube-proxy) and kube-scheduler. scripts/build-k8s copies this
// file into a build directory under ~/.cache/trellis/ and writes its go.mod
// from lab/controlplane/versions.env, as for tools/kubernetes.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
