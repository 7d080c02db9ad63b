package controller_test

// The operator's tests run against Kubernetes's own API server, etcd and
// controller manager (built by scripts/operator-testbin.sh; KUBEBUILDER_ASSETS
// names their directory), started by controller-runtime's envtest. Real:
// admission (the CRDs' OpenAPI schemas and CEL rules), RBAC (the operator runs
// as a user bound to the generated ClusterRole, nothing more), the garbage
// collector (owner references), the Job controller (Job status from pod
// phases) and the CronJob controller. Not there: a kubelet. kubelet_test.go
// does its part explicitly: it runs a pod's containers as local processes,
// then writes the pod status a kubelet would.

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	v1 "kafka-backup/operator/api/v1alpha1"
	"kafka-backup/operator/internal/controller"
)

// testImage is the image the operator is started with; the kubelet stand-in
// runs the locally built binary in its place.
const testImage = "registry.example.com/kafka-backup:test"

// operatorUser is who the operator runs as: bound to config/rbac/role.yaml only.
const operatorUser = "kafka-backup-operator"

var (
	k8s client.Client // the admin's client: what a user with kubectl does
	// adminKubeconfig is a kubeconfig file of a cluster admin, for helm.
	adminKubeconfig string
	assetsDir       string
	scheme          = runtime.NewScheme()
	ctx             context.Context
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1.AddToScheme(scheme))
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme))
	var logs io.Writer = io.Discard
	if os.Getenv("KB_OPERATOR_TEST_LOG") == "1" {
		logs = os.Stderr
	}
	logf.SetLogger(zap.New(zap.WriteTo(logs), zap.UseDevMode(true)))

	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: build the API server with scripts/operator-testbin.sh "+
			"and export KUBEBUILDER_ASSETS=$(scripts/operator-testbin.sh --print-dir) (scripts/test.sh does both)")
		return 1
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot start the API server and etcd from %s: %v\n", assets, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	var cancel context.CancelFunc
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()

	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := bindOperatorRole(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	assetsDir = assets
	admin, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err == nil {
		var text []byte
		if text, err = admin.KubeConfig(); err == nil {
			var f *os.File
			if f, err = os.CreateTemp("", "admin-kubeconfig-"); err == nil {
				adminKubeconfig = f.Name()
				defer func() { _ = os.Remove(adminKubeconfig) }()
				_, err = f.Write(text)
				_ = f.Close()
			}
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "the admin's kubeconfig: %v\n", err)
		return 1
	}
	stopKCM, err := startControllerManager(env, assets)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopKCM()

	op, err := env.AddUser(envtest.User{Name: operatorUser}, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr, err := ctrl.NewManager(op.Config(), ctrl.Options{Scheme: scheme,
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := controller.Setup(mgr, testImage); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(ctx) }()
	code := m.Run()
	cancel()
	if err := <-mgrDone; err != nil {
		fmt.Fprintf(os.Stderr, "the operator's manager stopped with: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// bindOperatorRole creates the generated ClusterRole and binds the operator's user to it.
func bindOperatorRole() error {
	text, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", "role.yaml"))
	if err != nil {
		return err
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(text, &role); err != nil {
		return fmt.Errorf("config/rbac/role.yaml: %w", err)
	}
	if err := k8s.Create(context.Background(), &role); err != nil {
		return fmt.Errorf("creating the operator's ClusterRole: %w", err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: operatorUser}},
	}
	return k8s.Create(context.Background(), binding)
}

// startControllerManager runs kube-controller-manager with the controllers the
// tests rely on, as a cluster admin.
func startControllerManager(env *envtest.Environment, assets string) (func(), error) {
	admin, err := env.AddUser(envtest.User{Name: "kube-controller-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kcm-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "kube-controller-manager.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(assets, "kube-controller-manager"),
		"--kubeconfig="+path,
		"--controllers=garbage-collector-controller,job-controller,cronjob-controller,serviceaccount-controller",
		"--leader-elect=false", "--secure-port=0", "--use-service-account-credentials=false",
		"--concurrent-gc-syncs=5")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	// Up when the service account controller has made the default namespace's account.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var sa corev1.ServiceAccount
		if k8s.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "default"}, &sa) == nil {
			break
		}
		select {
		case <-exited:
			tail, _ := os.ReadFile(log.Name())
			return nil, fmt.Errorf("kube-controller-manager exited:\n%s", lastLines(string(tail), 30))
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			tail, _ := os.ReadFile(log.Name())
			return nil, fmt.Errorf("kube-controller-manager not up after 60 s:\n%s", lastLines(string(tail), 30))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = os.RemoveAll(dir)
	}, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// namespace creates a namespace of its own for a test.
func namespace(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-") + fmt.Sprintf("-%d", time.Now().UnixNano()%100000)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	return name
}

// eventually calls check until it returns nil, or fails the test with its last error.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// apply creates the object a YAML manifest describes in ns, sent as written
// (unstructured: no Go type drops or adds a field), as kubectl apply does for
// a new object; the API server's answer is returned as is.
func apply(ns, manifest string) error {
	var obj unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
		return fmt.Errorf("the test's manifest: %w", err)
	}
	obj.SetNamespace(ns)
	return k8s.Create(ctx, &obj)
}
