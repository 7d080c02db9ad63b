// Command kube-apiserver is Kubernetes's own API server, built unchanged from
// k8s.io/kubernetes (cmd/kube-apiserver) for the operator's envtest.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
