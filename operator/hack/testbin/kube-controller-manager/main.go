// Command kube-controller-manager is Kubernetes's own controller manager,
// built unchanged from k8s.io/kubernetes (cmd/kube-controller-manager). The
// operator's tests run its garbage collector, Job and CronJob controllers
// against the envtest API server, so that owner references, Jobs made from a
// CronJob's template and Job statuses are Kubernetes's, not the tests'.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
