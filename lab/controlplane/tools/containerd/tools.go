//go:build tools

// Package tools pins containerd, its runc shim and ctr for the lab's real
// nodes. scripts/build-k8s copies this file into a build directory under
// ~/.cache/trellis/ and writes its go.mod from lab/controlplane/versions.env.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
