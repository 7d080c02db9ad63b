// Command etcd is etcd's own server, built unchanged from go.etcd.io/etcd
// (server/etcdmain) for the operator's envtest.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
