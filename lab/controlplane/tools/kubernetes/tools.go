//go:build tools

// Package tools pins the Kubernetes commands the lab's real control plane
// runs. scripts/build-k8s copies this file into a build directory under
// ~/.cache/trellis/ and writes the go.mod there from
// lab/controlplane/versions.env (require k8s.io/kubernetes, replace every
// k8s.io staging module with its published v0 release of the same version).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
