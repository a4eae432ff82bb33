// Command etcd is etcd's server (go.etcd.io/etcd/server/v3), the store of the
// control plane that test/kube/build.sh builds.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
