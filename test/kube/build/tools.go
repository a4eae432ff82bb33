//go:build tools

// Package tools names the Kubernetes commands that test/kube/build.sh
// builds, so that `go mod tidy` keeps what they need in go.mod and go.sum.
// The build tag keeps it out of every ordinary build.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
