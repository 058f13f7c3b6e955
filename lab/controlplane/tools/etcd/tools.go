//go:build tools

// Package tools pins the etcd server the lab's real control plane runs
// (go.etcd.io/etcd/server/v3 is itself the main package). See
// tools/kubernetes/tools.go for how scripts/build-k8s uses this file.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
