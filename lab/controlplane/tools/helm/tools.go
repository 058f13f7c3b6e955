//go:build tools

// Package tools pins helm v4 (for the chart tests and users of the lab).
// See tools/kubernetes/tools.go for how scripts/build-k8s uses this file.
package tools

import (
	_ "helm.sh/helm/v4/cmd/helm"
)
