package controller_test

// The Helm chart (charts/kafka-backup-operator): rendered offline and checked
// against the Kubernetes JSON schemas, and installed into the test API server.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

var chartDir = filepath.Join("..", "..", "..", "charts", "kafka-backup-operator")

func helm(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(assetsDir, "helm")
	cmd := exec.CommandContext(ctx, bin, args...)
	// Helm keeps its caches and config under HOME; a fresh one per test.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "HELM_CACHE_HOME="+home+"/cache",
		"HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// documents splits a multi-document YAML stream into its objects.
func documents(t *testing.T, stream string) []map[string]any {
	t.Helper()
	var docs []map[string]any
	for _, part := range regexp.MustCompile(`(?m)^---\s*$`).Split(stream, -1) {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(part), &obj); err != nil {
			t.Fatalf("helm template output: %v\n%s", err, part)
		}
		if obj != nil {
			docs = append(docs, obj)
		}
	}
	return docs
}

func kinds(docs []map[string]any) map[string]int {
	out := map[string]int{}
	for _, d := range docs {
		out[fmt.Sprint(d["kind"])]++
	}
	return out
}

func TestChartTemplateMatchesTheKubernetesSchemas(t *testing.T) {
	validator := os.Getenv("KB_KUBERNETES_VALIDATE")
	if validator == "" {
		t.Fatal("KB_KUBERNETES_VALIDATE is not set: the path of kubernetes-validate (scripts/setup.sh installs it " +
			"in .cache/deploy/venv; scripts/operator-test.sh sets it)")
	}
	generated, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(generated, &role); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		set  []string
		want map[string]int
	}{
		{"defaults", nil, map[string]int{"CustomResourceDefinition": 3, "ServiceAccount": 1, "ClusterRole": 1,
			"ClusterRoleBinding": 1, "Role": 1, "RoleBinding": 1, "Deployment": 1, "Service": 1}},
		{"two namespaces, two replicas", []string{"watchNamespaces={team-a,team-b}", "replicaCount=2",
			"metrics.enabled=false"},
			map[string]int{"CustomResourceDefinition": 3, "ServiceAccount": 1, "Role": 3, "RoleBinding": 3,
				"Deployment": 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"template", "kbo", chartDir, "--namespace", "kafka-backup", "--include-crds"}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			out := helm(t, args...)
			docs := documents(t, out)
			if got := kinds(docs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("rendered kinds %v, want %v", got, tc.want)
			}
			for _, d := range docs {
				kind := d["kind"]
				if kind != "ClusterRole" && !(kind == "Role" && !strings.HasSuffix(fmt.Sprint(d["metadata"].(map[string]any)["name"]), "-leader-election")) {
					continue
				}
				text, _ := yaml.Marshal(d)
				var r rbacv1.ClusterRole
				if err := yaml.Unmarshal(text, &r); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(r.Rules, role.Rules) {
					t.Errorf("%s %s grants %v, not the generated rules %v", kind, r.Name, r.Rules, role.Rules)
				}
			}
			if tc.set != nil {
				deployment := out[strings.Index(out, "kind: Deployment"):]
				for _, want := range []string{"--watch-namespace=team-a,team-b", "--leader-elect=true",
					"--metrics-bind-address=0"} {
					if !strings.Contains(deployment, want) {
						t.Errorf("the Deployment lacks %s", want)
					}
				}
			}
			file := filepath.Join(t.TempDir(), "chart.yaml")
			if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, version := range []string{"1.30.0", "1.37.0"} {
				cmd := exec.CommandContext(ctx, validator, "--strict", "-k", version, file)
				res, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("kubernetes-validate %s: %v\n%s", version, err, res)
				}
				if n := strings.Count(string(res), " passed for resource "); n != len(docs) {
					t.Errorf("kubernetes-validate %s: %d of %d objects passed:\n%s", version, n, len(docs), res)
				}
			}
		})
	}
	// The ServiceMonitor, when asked for (its schema is the Prometheus Operator's, not Kubernetes's).
	out := helm(t, "template", "kbo", chartDir, "--set", "metrics.serviceMonitor.enabled=true")
	if kinds(documents(t, out))["ServiceMonitor"] != 1 || !strings.Contains(out, "port: metrics") {
		t.Errorf("no ServiceMonitor of the metrics port:\n%s", out)
	}
}

func TestChartInstallsIntoTheAPIServer(t *testing.T) {
	ns := namespace(t)
	helm(t, "install", "kbo", chartDir, "--kubeconfig", adminKubeconfig, "--namespace", ns,
		"--set", "backupImage.repository=registry.example.com/kb", "--set", "backupImage.tag=1.2.3")
	defer helm(t, "uninstall", "kbo", "--kubeconfig", adminKubeconfig, "--namespace", ns)
	name := "kbo-kafka-backup-operator"
	var dep appsv1.Deployment
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &dep); err != nil {
		t.Fatalf("the operator's Deployment: %v", err)
	}
	args := strings.Join(dep.Spec.Template.Spec.Containers[0].Args, " ")
	if !strings.Contains(args, "--image=registry.example.com/kb:1.2.3") {
		t.Errorf("the operator runs with %s", args)
	}
	if dep.Spec.Template.Spec.ServiceAccountName != name {
		t.Errorf("runs as %q", dep.Spec.Template.Spec.ServiceAccountName)
	}
	for _, obj := range []client.Object{&corev1.ServiceAccount{}, &corev1.Service{}} {
		key := client.ObjectKey{Namespace: ns, Name: name}
		if _, ok := obj.(*corev1.Service); ok {
			key.Name = name + "-metrics"
		}
		if err := k8s.Get(ctx, key, obj); err != nil {
			t.Errorf("%T %s: %v", obj, key.Name, err)
		}
	}
	var binding rbacv1.ClusterRoleBinding
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, &binding); err != nil {
		t.Fatalf("the ClusterRoleBinding: %v", err)
	}
	if binding.RoleRef.Name != name || len(binding.Subjects) != 1 || binding.Subjects[0].Namespace != ns {
		t.Errorf("the binding %+v", binding)
	}
	var cr rbacv1.ClusterRole
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, &cr); err != nil || len(cr.Rules) == 0 {
		t.Errorf("the ClusterRole: %v %+v", err, cr.Rules)
	}
	for _, crd := range []string{"kafkabackups", "kafkarestores", "kafkabackupvalidations"} {
		var obj apiextensionsv1.CustomResourceDefinition
		if err := k8s.Get(ctx, client.ObjectKey{Name: crd + ".kafka.oso.sh"}, &obj); err != nil {
			t.Errorf("CRD %s: %v", crd, err)
		}
	}
}
