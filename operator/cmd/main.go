// Command kafka-backup-operator runs the controllers of the kafka.oso.sh
// resources: KafkaBackup, KafkaRestore and KafkaBackupValidation. It renders
// configs and creates Kubernetes objects that run the kafka-backup image; it
// never reads a Secret nor touches storage or Kafka itself.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "kafka-backup/operator/api/v1alpha1"
	"kafka-backup/operator/internal/controller"
)

func main() {
	var image, namespaces, metricsAddr, probeAddr string
	var leaderElect bool
	flag.StringVar(&image, "image", os.Getenv("KAFKA_BACKUP_IMAGE"),
		"The kafka-backup image a resource runs when it names none (env KAFKA_BACKUP_IMAGE)")
	flag.StringVar(&namespaces, "watch-namespace", os.Getenv("WATCH_NAMESPACE"),
		"Watch only these namespaces (comma-separated); all when empty (env WATCH_NAMESPACE)")
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Where to serve the operator's Prometheus metrics; 0 for none")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Where to serve /healthz and /readyz")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader, so that only one of several replicas reconciles")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")
	if image == "" {
		fmt.Fprintln(os.Stderr, "kafka-backup-operator: --image (or KAFKA_BACKUP_IMAGE) is required: "+
			"the kafka-backup image to run, such as registry.example.com/kafka-backup:0.1.0")
		os.Exit(2)
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1.AddToScheme(scheme))
	mgrOpts := ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       "kafka-backup-operator.kafka.oso.sh",
	}
	if namespaces = strings.TrimSpace(namespaces); namespaces != "" {
		mgrOpts.Cache.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range strings.Split(namespaces, ",") {
			mgrOpts.Cache.DefaultNamespaces[strings.TrimSpace(ns)] = cache.Config{}
		}
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), mgrOpts)
	if err != nil {
		log.Error(err, "cannot start the manager")
		os.Exit(1)
	}
	if err := controller.Setup(mgr, image); err != nil {
		log.Error(err, "cannot set up the controllers")
		os.Exit(1)
	}
	utilruntime.Must(mgr.AddHealthzCheck("healthz", healthz.Ping))
	utilruntime.Must(mgr.AddReadyzCheck("readyz", healthz.Ping))
	log.Info("starting", "image", image, "namespaces", map[bool]string{true: "all", false: namespaces}[namespaces == ""])
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "the manager stopped")
		os.Exit(1)
	}
}
