package controller_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "kafka-backup/operator/api/v1alpha1"
	"kafka-backup/operator/internal/render"
)

// seedManifest is the seed's KafkaBackup as written (testdata/seed-kafkabackup.yaml).
func seedManifest(t *testing.T) string {
	t.Helper()
	text, err := os.ReadFile("testdata/seed-kafkabackup.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

// edit replaces one piece of a manifest, failing when it is not there.
func edit(t *testing.T, manifest, old, new string) string {
	t.Helper()
	if !strings.Contains(manifest, old) {
		t.Fatalf("the manifest has no %q", old)
	}
	return strings.Replace(manifest, old, new, 1)
}

func getKB(t *testing.T, ns, name string) *v1.KafkaBackup {
	t.Helper()
	var kb v1.KafkaBackup
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &kb); err != nil {
		t.Fatal(err)
	}
	return &kb
}

// renderedConfig is the config a KafkaBackup's ConfigMap holds, as the binary reads it.
func renderedConfig(t *testing.T, ns, name string) (map[string]any, string) {
	t.Helper()
	var cm corev1.ConfigMap
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
		t.Fatal(err)
	}
	text := cm.Data[render.ConfigFile]
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("ConfigMap %s: %v\n%s", name, err, text)
	}
	return cfg, text
}

func TestSeedManifestBecomesAnHourlyCronJob(t *testing.T) {
	ns := namespace(t)
	if err := apply(ns, seedManifest(t)); err != nil {
		t.Fatalf("the API server refused the seed's manifest: %v", err)
	}
	var cj batchv1.CronJob
	eventually(t, 30*time.Second, "CronJob dr-backup", func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dr-backup"}, &cj)
	})
	kb := getKB(t, ns, "dr-backup")
	if cj.Spec.Schedule != "0 * * * *" {
		t.Errorf("CronJob schedule %q, want the seed's \"0 * * * *\"", cj.Spec.Schedule)
	}
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("concurrencyPolicy %q, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	if cj.Spec.TimeZone == nil || *cj.Spec.TimeZone != "Etc/UTC" {
		t.Errorf("timeZone %v, want Etc/UTC by default", cj.Spec.TimeZone)
	}
	for _, obj := range []client.Object{&cj, configMap(t, ns, "dr-backup-config")} {
		refs := obj.GetOwnerReferences()
		if len(refs) != 1 || refs[0].UID != kb.UID || refs[0].Controller == nil || !*refs[0].Controller {
			t.Errorf("%s %s: owner references %+v, want the KafkaBackup as controller", obj.GetObjectKind(),
				obj.GetName(), refs)
		}
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 0 {
		t.Fatalf("want one container (no retention: no prune), got %d and %d init", len(pod.Containers),
			len(pod.InitContainers))
	}
	c := pod.Containers[0]
	wantArgs := []string{"--summary-file", "/dev/termination-log", "backup", "--config", "/etc/kafka-backup/config.yaml"}
	if strings.Join(c.Args, " ") != strings.Join(wantArgs, " ") || c.Image != testImage {
		t.Errorf("container runs %s %v, want %s %v", c.Image, c.Args, testImage, wantArgs)
	}
	if c.TerminationMessagePath != "/dev/termination-log" ||
		c.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
		t.Errorf("termination message %s %s", c.TerminationMessagePath, c.TerminationMessagePolicy)
	}
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot ||
		c.SecurityContext == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("pod not restricted: %+v %+v", pod.SecurityContext, c.SecurityContext)
	}

	cfg, text := renderedConfig(t, ns, "dr-backup-config")
	want := map[string]any{
		"mode":      "backup",
		"backup_id": "dr-backup-${TIMESTAMP}",
		"source": map[string]any{"bootstrap_servers": []any{"kafka-prod-1:9092"},
			"topics": map[string]any{"include": []any{"*"}}},
		"storage": map[string]any{"backend": "s3", "bucket": "kafka-dr-backups", "region": "us-east-1"},
		"backup":  map[string]any{},
	}
	if fmt.Sprint(cfg) != fmt.Sprint(want) {
		t.Errorf("rendered config:\n%s\nwant %v", text, want)
	}

	eventually(t, 30*time.Second, "Ready", func() error {
		kb = getKB(t, ns, "dr-backup")
		c := meta.FindStatusCondition(kb.Status.Conditions, v1.ConditionReady)
		if c == nil || c.Status != "True" || c.ObservedGeneration != kb.Generation {
			return fmt.Errorf("conditions %+v", kb.Status.Conditions)
		}
		if kb.Status.CronJobName != "dr-backup" || kb.Status.ConfigMapName != "dr-backup-config" {
			return fmt.Errorf("status names %q %q", kb.Status.CronJobName, kb.Status.ConfigMapName)
		}
		return nil
	})
}

// updateKB changes a KafkaBackup's spec as a user would, again on a conflict
// with the operator's status writes.
func updateKB(t *testing.T, ns, name string, change func(*v1.KafkaBackup)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		kb := getKB(t, ns, name)
		change(kb)
		return k8s.Update(ctx, kb)
	})
	if err != nil {
		t.Fatalf("updating KafkaBackup %s: %v", name, err)
	}
}

func configMap(t *testing.T, ns, name string) *corev1.ConfigMap {
	t.Helper()
	var cm corev1.ConfigMap
	eventually(t, 30*time.Second, "ConfigMap "+name, func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cm)
	})
	return &cm
}

func TestScheduleTopicsSuspendAndDeletion(t *testing.T) {
	ns := namespace(t)
	if err := apply(ns, seedManifest(t)); err != nil {
		t.Fatal(err)
	}
	configMap(t, ns, "dr-backup-config")

	updateKB(t, ns, "dr-backup", func(kb *v1.KafkaBackup) {
		kb.Spec.Schedule = "30 2 * * *"
		kb.Spec.Topics = []string{"orders", "payments-*"}
	})
	eventually(t, 30*time.Second, "the new schedule and topics", func() error {
		var cj batchv1.CronJob
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dr-backup"}, &cj); err != nil {
			return err
		}
		if cj.Spec.Schedule != "30 2 * * *" {
			return fmt.Errorf("CronJob schedule %q", cj.Spec.Schedule)
		}
		cfg, _ := renderedConfig(t, ns, "dr-backup-config")
		if got := fmt.Sprint(cfg["source"].(map[string]any)["topics"]); got != "map[include:[orders payments-*]]" {
			return fmt.Errorf("ConfigMap topics %s", got)
		}
		return nil
	})

	updateKB(t, ns, "dr-backup", func(kb *v1.KafkaBackup) { kb.Spec.Suspend = true })
	eventually(t, 30*time.Second, "suspended", func() error {
		var cj batchv1.CronJob
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dr-backup"}, &cj); err != nil {
			return err
		}
		if cj.Spec.Suspend == nil || !*cj.Spec.Suspend {
			return fmt.Errorf("CronJob not suspended")
		}
		kb := getKB(t, ns, "dr-backup")
		c := meta.FindStatusCondition(kb.Status.Conditions, v1.ConditionSuspended)
		if c == nil || c.Status != "True" {
			return fmt.Errorf("conditions %+v", kb.Status.Conditions)
		}
		return nil
	})

	// Deleting it: Kubernetes's garbage collector removes what it owned.
	if err := k8s.Delete(ctx, getKB(t, ns, "dr-backup")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the CronJob and ConfigMap gone", func() error {
		for _, obj := range []client.Object{&batchv1.CronJob{}, &corev1.ConfigMap{}} {
			name := "dr-backup"
			if _, ok := obj.(*corev1.ConfigMap); ok {
				name = "dr-backup-config"
			}
			err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("%T %s: still there (%v)", obj, name, err)
			}
		}
		return nil
	})
}

func TestInvalidManifestsAreRefusedNamingTheField(t *testing.T) {
	ns := namespace(t)
	seed := seedManifest(t)
	cases := []struct {
		name, manifest string
		want           []string // in the API server's message
	}{
		{"bad cron", edit(t, seed, `"0 * * * *"`, `"every hour"`),
			[]string{"spec.schedule", "cron expression"}},
		{"cron with six fields", edit(t, seed, `"0 * * * *"`, `"0 0 * * * *"`),
			[]string{"spec.schedule"}},
		{"unknown storageType", edit(t, seed, "storageType: s3", "storageType: ftp"),
			[]string{"spec.storage.storageType", `"ftp"`, `"s3"`}},
		{"s3 without a bucket", edit(t, seed, "      bucket: kafka-dr-backups\n", ""),
			[]string{"spec.storage.s3.bucket", "Required"}},
		{"s3 without its settings", edit(t, seed, "    s3:\n      bucket: kafka-dr-backups\n      region: us-east-1\n", ""),
			[]string{"spec.storage.s3", "storageType s3 needs s3 with its bucket"}},
		{"no schedule, not continuous", edit(t, seed, "  schedule: \"0 * * * *\"  # Hourly\n", ""),
			[]string{"spec", "give schedule"}},
		{"topics and topicSelection", edit(t, seed, "  topics:\n", "  topicSelection:\n    include: [a]\n  topics:\n"),
			[]string{"spec", "not both"}},
		{"a bootstrap server without a port", edit(t, seed, "kafka-prod-1:9092", "kafka-prod-1"),
			[]string{"spec.kafkaCluster.bootstrapServers[0]"}},
		{"SASL without a password", edit(t, seed, "  topics:\n",
			"    security:\n      securityProtocol: SASL_SSL\n      saslMechanism: SCRAM-SHA-512\n      saslUsername: u\n  topics:\n"),
			[]string{"spec.kafkaCluster.security", "saslPasswordSecretRef"}},
		{"MSK IAM with a username", edit(t, seed, "  topics:\n",
			"    security:\n      securityProtocol: SASL_SSL\n      saslMechanism: AWS_MSK_IAM\n      saslUsername: u\n  topics:\n"),
			[]string{"spec.kafkaCluster.security", "AWS_MSK_IAM signs with the pod's AWS credentials"}},
		{"awsRegion without MSK IAM", edit(t, seed, "  topics:\n",
			"    security:\n      securityProtocol: SASL_SSL\n      saslMechanism: PLAIN\n      saslUsername: u\n"+
				"      saslPasswordSecretRef: {name: s, key: k}\n      awsRegion: eu-west-1\n  topics:\n"),
			[]string{"spec.kafkaCluster.security", "awsRegion is for saslMechanism AWS_MSK_IAM"}},
		{"OAUTHBEARER without oauth", edit(t, seed, "  topics:\n",
			"    security:\n      securityProtocol: SASL_SSL\n      saslMechanism: OAUTHBEARER\n  topics:\n"),
			[]string{"spec.kafkaCluster.security", "saslMechanism OAUTHBEARER needs oauth"}},
		{"kerberos with SCRAM", edit(t, seed, "  topics:\n",
			"    security:\n      securityProtocol: SASL_SSL\n      saslMechanism: SCRAM-SHA-256\n      saslUsername: u\n"+
				"      saslPasswordSecretRef: {name: s, key: k}\n"+
				"      kerberos: {principal: kb@EXAMPLE.COM, keytabSecretRef: {name: kt, key: k}}\n  topics:\n"),
			[]string{"spec.kafkaCluster.security", "kerberos is for GSSAPI only"}},
		{"GSSAPI with a password", edit(t, seed, "  topics:\n",
			"    security:\n      securityProtocol: SASL_SSL\n      saslMechanism: GSSAPI\n      saslUsername: u\n"+
				"      kerberos: {principal: kb@EXAMPLE.COM, keytabSecretRef: {name: kt, key: k}}\n  topics:\n"),
			[]string{"spec.kafkaCluster.security", "no saslUsername or saslPasswordSecretRef"}},
		{"a principal without its realm", edit(t, seed, "  topics:\n",
			"    security:\n      securityProtocol: SASL_SSL\n      saslMechanism: GSSAPI\n"+
				"      kerberos: {principal: kafka-backup, keytabSecretRef: {name: kt, key: k}}\n  topics:\n"),
			[]string{"spec.kafkaCluster.security.kerberos.principal"}},
		{"a name too long for its Jobs", edit(t, seed, "name: dr-backup", "name: "+strings.Repeat("a", 53)),
			[]string{"metadata.name", "52"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := apply(ns, tc.manifest)
			if err == nil {
				t.Fatalf("the API server accepted:\n%s", tc.manifest)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("refused, but not as invalid: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the message does not name %q: %v", w, err)
				}
			}
		})
	}
	// The control: the manifest those cases break is accepted.
	if err := apply(ns, seed); err != nil {
		t.Fatalf("the seed's manifest itself: %v", err)
	}
	// MSK IAM needs no username or password.
	msk := edit(t, edit(t, seed, "name: dr-backup", "name: dr-backup-msk"), "  topics:\n",
		"    security:\n      securityProtocol: SASL_SSL\n      saslMechanism: AWS_MSK_IAM\n      awsRegion: eu-west-1\n  topics:\n")
	if err := apply(ns, msk); err != nil {
		t.Fatalf("an MSK IAM manifest: %v\n%s", err, msk)
	}
	// OIDC and Kerberos need no username or password either.
	for name, security := range map[string]string{
		"dr-backup-oidc": "    security:\n      securityProtocol: SASL_SSL\n      saslMechanism: OAUTHBEARER\n" +
			"      oauth: {tokenEndpointUrl: 'https://idp.example.com/token', clientId: kb, " +
			"clientSecretSecretRef: {name: idp, key: secret}}\n",
		"dr-backup-krb": "    security:\n      securityProtocol: SASL_SSL\n      saslMechanism: GSSAPI\n" +
			"      kerberos: {principal: kb@EXAMPLE.COM, keytabSecretRef: {name: kt, key: k}, " +
			"krb5ConfigMapRef: {name: krb5, key: krb5.conf}}\n",
	} {
		manifest := edit(t, edit(t, seed, "name: dr-backup", "name: "+name), "  topics:\n", security+"  topics:\n")
		if err := apply(ns, manifest); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, manifest)
		}
	}
}

func TestContinuousBecomesADeploymentAndBack(t *testing.T) {
	ns := namespace(t)
	manifest := edit(t, seedManifest(t), "  schedule: \"0 * * * *\"  # Hourly\n",
		"  continuous: true\n  checkpointIntervalSecs: 10\n")
	if err := apply(ns, manifest); err != nil {
		t.Fatal(err)
	}
	var dep appsv1.Deployment
	eventually(t, 30*time.Second, "Deployment dr-backup", func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dr-backup"}, &dep)
	})
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 1 || dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("want one replica, never two at once: %+v %+v", dep.Spec.Replicas, dep.Spec.Strategy)
	}
	if p := dep.Spec.Template.Spec.RestartPolicy; p != corev1.RestartPolicyAlways {
		t.Errorf("restartPolicy %s", p)
	}
	cfg, _ := renderedConfig(t, ns, "dr-backup-config")
	if b := cfg["backup"].(map[string]any); b["continuous"] != true || b["checkpoint_interval_secs"] != float64(10) {
		t.Errorf("backup section %v", b)
	}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dr-backup"}, &batchv1.CronJob{}); !apierrors.IsNotFound(err) {
		t.Errorf("a CronJob besides the Deployment: %v", err)
	}
	// A config change rolls the pod (its template carries the config's digest).
	before := dep.Spec.Template.Annotations["kafka.oso.sh/config-sha256"]
	updateKB(t, ns, "dr-backup", func(kb *v1.KafkaBackup) { kb.Spec.Topics = []string{"orders"} })
	eventually(t, 30*time.Second, "the Deployment's new template", func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dr-backup"}, &dep); err != nil {
			return err
		}
		if after := dep.Spec.Template.Annotations["kafka.oso.sh/config-sha256"]; after == before || after == "" {
			return fmt.Errorf("config digest %q, was %q", after, before)
		}
		return nil
	})

	// Back to a schedule: the CronJob replaces the Deployment.
	updateKB(t, ns, "dr-backup", func(kb *v1.KafkaBackup) {
		kb.Spec.Continuous = false
		kb.Spec.Schedule = "@hourly"
	})
	cronJob(t, ns, "dr-backup")
	eventually(t, 30*time.Second, "the Deployment gone", func() error {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dr-backup"}, &appsv1.Deployment{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
}
