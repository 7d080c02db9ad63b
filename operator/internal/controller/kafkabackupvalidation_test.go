package controller_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "kafka-backup/operator/api/v1alpha1"
	"kafka-backup/operator/internal/render"
)

// drillManifest is a weekly restore drill of the seed's backup (docs/drills.md,
// "Schedules"), every option of spec.drill set.
const drillManifest = `apiVersion: kafka.oso.sh/v1alpha1
kind: KafkaBackupValidation
metadata:
  name: weekly-drill
spec:
  schedule: "0 4 * * 0"
  backupRef:
    name: dr-backup
  drill:
    target:
      bootstrapServers: [drill-kafka:9092]
      security:
        securityProtocol: SASL_PLAINTEXT
        saslMechanism: SCRAM-SHA-512
        saslUsername: drill
        saslPasswordSecretRef: {name: drill-kafka, key: password}
    topics: [orders, "payments-*"]
    topicPrefix: drill-
    validate: shallow
    consumerGroupStrategy: exact
    signingKeySecretRef:
      name: drill-signing
      key: ed25519.pem
`

func getKV(t *testing.T, ns, name string) *v1.KafkaBackupValidation {
	t.Helper()
	var kv v1.KafkaBackupValidation
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &kv); err != nil {
		t.Fatal(err)
	}
	return &kv
}

// updateKV changes a KafkaBackupValidation's spec as a user would, again on a
// conflict with the operator's status writes.
func updateKV(t *testing.T, ns, name string, change func(*v1.KafkaBackupValidation)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		kv := getKV(t, ns, name)
		change(kv)
		return k8s.Update(ctx, kv)
	})
	if err != nil {
		t.Fatalf("updating KafkaBackupValidation %s: %v", name, err)
	}
}

// readyFor waits until the operator has acted on the validation's current
// generation, and returns it.
func readyFor(t *testing.T, ns, name string) *v1.KafkaBackupValidation {
	t.Helper()
	var kv *v1.KafkaBackupValidation
	eventually(t, 30*time.Second, "Ready of the current generation", func() error {
		kv = getKV(t, ns, name)
		c := meta.FindStatusCondition(kv.Status.Conditions, v1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != kv.Generation {
			return fmt.Errorf("generation %d, conditions %+v", kv.Generation, kv.Status.Conditions)
		}
		return nil
	})
	return kv
}

// envFrom is a container's variables taken from Secrets, name: secret/key.
func envFrom(c *corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			out[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	return out
}

func TestDrillBecomesACronJobRunningDrillAndBackToValidate(t *testing.T) {
	ns := namespace(t)
	if err := apply(ns, seedManifest(t)); err != nil {
		t.Fatal(err)
	}
	if err := apply(ns, drillManifest); err != nil {
		t.Fatalf("the API server refused the drill: %v", err)
	}
	cj := cronJob(t, ns, "weekly-drill")
	if cj.Spec.Schedule != "0 4 * * 0" || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent ||
		cj.Spec.JobTemplate.Spec.BackoffLimit == nil || *cj.Spec.JobTemplate.Spec.BackoffLimit != 0 {
		t.Errorf("CronJob schedule %q, concurrency %s, backoffLimit %v", cj.Spec.Schedule,
			cj.Spec.ConcurrencyPolicy, cj.Spec.JobTemplate.Spec.BackoffLimit)
	}
	if got := cj.Spec.JobTemplate.Labels[render.LabelComponent]; got != "drill" {
		t.Errorf("the Jobs' component label %q", got)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 0 {
		t.Fatalf("want one container, got %d and %d init", len(pod.Containers), len(pod.InitContainers))
	}
	c := pod.Containers[0]
	want := "--summary-file /dev/termination-log drill --config /etc/kafka-backup/config.yaml --format json"
	if got := strings.Join(c.Args, " "); c.Name != "drill" || got != want || c.Image != testImage {
		t.Errorf("container %s runs %s %s, want drill: %s %s", c.Name, c.Image, got, testImage, want)
	}
	wantEnv := map[string]string{render.EnvDrillSigningKey: "drill-signing/ed25519.pem",
		render.EnvSASLPassword: "drill-kafka/password"}
	if got := envFrom(&c); !reflect.DeepEqual(got, wantEnv) {
		t.Errorf("env from Secrets %v, want %v", got, wantEnv)
	}

	cfg, text := renderedConfig(t, ns, "weekly-drill-config")
	wantCfg := map[string]any{
		"mode":      "drill",
		"backup_id": "latest",
		"storage":   map[string]any{"backend": "s3", "bucket": "kafka-dr-backups", "region": "us-east-1"},
		"target": map[string]any{"bootstrap_servers": []any{"drill-kafka:9092"},
			"security": map[string]any{"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
				"sasl_username": "drill", "sasl_password": "${KAFKA_SASL_PASSWORD}"}},
		"restore": map[string]any{"consumer_group_strategy": "exact"},
		"drill": map[string]any{"topics": []any{"orders", "payments-*"}, "topic_prefix": "drill-",
			"validate": "shallow"},
	}
	if !reflect.DeepEqual(cfg, wantCfg) {
		t.Errorf("rendered config:\n%s\nwant %v", text, wantCfg)
	}
	if strings.Contains(text, "signing") || strings.Contains(text, "ed25519") {
		t.Errorf("the config names the signing key:\n%s", text)
	}
	kv := readyFor(t, ns, "weekly-drill")
	ready := meta.FindStatusCondition(kv.Status.Conditions, v1.ConditionReady)
	if !strings.Contains(ready.Message, "runs drill of dr-backup's backup latest into drill-kafka:9092") {
		t.Errorf("Ready: %s", ready.Message)
	}

	// Without drill it validates again, and nothing of the drill is left.
	updateKV(t, ns, "weekly-drill", func(kv *v1.KafkaBackupValidation) {
		kv.Spec.Drill = nil
		kv.Spec.Deep = true
	})
	kv = readyFor(t, ns, "weekly-drill")
	ready = meta.FindStatusCondition(kv.Status.Conditions, v1.ConditionReady)
	if !strings.Contains(ready.Message, "runs validate --deep of dr-backup's backup latest") {
		t.Errorf("Ready: %s", ready.Message)
	}
	cj = cronJob(t, ns, "weekly-drill")
	c = cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	want = "--summary-file /dev/termination-log validate --config /etc/kafka-backup/config.yaml --backup-id latest --deep"
	if got := strings.Join(c.Args, " "); c.Name != "validate" || got != want {
		t.Errorf("container %s runs %s, want validate: %s", c.Name, got, want)
	}
	if got := envFrom(&c); len(got) != 0 {
		t.Errorf("a validation's env from Secrets %v, want none (the seed's backup has no key)", got)
	}
	cfg, text = renderedConfig(t, ns, "weekly-drill-config")
	if _, drill := cfg["drill"]; drill || cfg["mode"] != nil || cfg["target"] != nil {
		t.Errorf("a validation's config:\n%s", text)
	}
}

func TestInvalidDrillsAreRefusedNamingTheField(t *testing.T) {
	ns := namespace(t)
	cases := []struct {
		name, manifest string
		want           []string // in the API server's message
	}{
		{"deep and drill", edit(t, drillManifest, "  drill:\n", "  deep: true\n  drill:\n"),
			[]string{"spec", "deep is validate --deep", "drill.validate"}},
		{"no target", edit(t, drillManifest, "    target:\n      bootstrapServers: [drill-kafka:9092]\n      security:\n"+
			"        securityProtocol: SASL_PLAINTEXT\n        saslMechanism: SCRAM-SHA-512\n        saslUsername: drill\n"+
			"        saslPasswordSecretRef: {name: drill-kafka, key: password}\n", ""),
			[]string{"spec.drill.target", "Required"}},
		{"an unknown validation", edit(t, drillManifest, "validate: shallow", "validate: thorough"),
			[]string{"spec.drill.validate", `"thorough"`, `"deep"`}},
		{"an unknown consumer group strategy", edit(t, drillManifest, "consumerGroupStrategy: exact",
			"consumerGroupStrategy: latest"),
			[]string{"spec.drill.consumerGroupStrategy", `"latest"`, `"exact"`}},
		{"a prefix Kafka cannot name topics with", edit(t, drillManifest, "topicPrefix: drill-", "topicPrefix: drill/"),
			[]string{"spec.drill.topicPrefix"}},
		{"no topics", edit(t, drillManifest, `topics: [orders, "payments-*"]`, "topics: []"),
			[]string{"spec.drill.topics"}},
		{"a signing key without its key", edit(t, drillManifest, "      key: ed25519.pem\n", ""),
			[]string{"spec.drill.signingKeySecretRef.key", "Required"}},
		{"a target bootstrap server without a port", edit(t, drillManifest, "[drill-kafka:9092]", "[drill-kafka]"),
			[]string{"spec.drill.target.bootstrapServers[0]"}},
		{"a SASL target without a password", edit(t, drillManifest,
			"        saslPasswordSecretRef: {name: drill-kafka, key: password}\n", ""),
			[]string{"spec.drill.target.security", "saslPasswordSecretRef"}},
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
	// The controls: the manifest those cases break, and a drill that says deep: false.
	if err := apply(ns, drillManifest); err != nil {
		t.Fatalf("the drill manifest itself: %v", err)
	}
	notDeep := edit(t, edit(t, drillManifest, "name: weekly-drill", "name: weekly-drill-2"), "  drill:\n",
		"  deep: false\n  drill:\n")
	if err := apply(ns, notDeep); err != nil {
		t.Fatalf("deep: false with a drill: %v", err)
	}
}

// drillSummary is the termination message `kafka-backup --summary-file` writes
// for a drill (src/cli/cmd_drill.cc): passed when problem is empty, else
// failed with problem the first of its failures.
func drillSummary(code int, drillID, backupID, problem string) string {
	failures, errorField := 0, ""
	if problem != "" {
		failures = 1
		errorField = fmt.Sprintf(`,"error":"drill of backup %s: 1 check failed; the first: %s"`, backupID, problem)
	}
	return fmt.Sprintf(`{"command":"drill","drill_id":%q,"backup_id":%q,"passed":%t,"records":300,`+
		`"restore_seconds":2.5,"failures":%d,"exit_code":%d%s}`+"\n", drillID, backupID, problem == "", failures,
		code, errorField)
}

func TestDrillRunsReportAsValidationsWithTheirDrill(t *testing.T) {
	ns := namespace(t)
	if err := apply(ns, seedManifest(t)); err != nil {
		t.Fatal(err)
	}
	if err := apply(ns, drillManifest); err != nil {
		t.Fatal(err)
	}
	cj := cronJob(t, ns, "weekly-drill")
	const backupID = "dr-backup-20260104T030000Z"
	// lastRun once it is the run of Job name.
	lastRun := func(name string) *v1.KafkaBackupValidation {
		t.Helper()
		var kv *v1.KafkaBackupValidation
		eventually(t, 60*time.Second, "lastRun of Job "+name, func() error {
			kv = getKV(t, ns, "weekly-drill")
			if kv.Status.LastRun == nil || kv.Status.LastRun.JobName != name {
				return fmt.Errorf("lastRun %+v", kv.Status.LastRun)
			}
			return nil
		})
		return kv
	}
	conditionIs := func(kv *v1.KafkaBackupValidation, typ, reason string) {
		t.Helper()
		c := meta.FindStatusCondition(kv.Status.Conditions, typ)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != reason {
			t.Errorf("%s: want True with reason %s: %+v", typ, reason, kv.Status.Conditions)
		}
	}

	// A check of what the drill read back failed: exit 4.
	job := jobFromCronJob(t, cj, "weekly-drill-manual-1")
	exitJobPod(t, job, 4, drillSummary(4, "20260105T040000Z-3f2a", backupID,
		"orders[3]: 299 records read back, the backup holds 300"))
	kv := lastRun(job.Name)
	conditionIs(kv, v1.ConditionValidationFailed, "DrillCheckFailed")
	run := kv.Status.LastRun
	if run.Result != "Failed" || run.ExitCode == nil || *run.ExitCode != 4 || run.DrillID != "20260105T040000Z-3f2a" ||
		run.BackupID != backupID || !strings.Contains(run.Message, "orders[3]: 299 records read back") {
		t.Errorf("lastRun %+v", run)
	}
	expectEvent(t, ns, "weekly-drill", v1.ConditionValidationFailed, "drill 20260105T040000Z-3f2a")

	// A drill that could not run (the target unreachable) keeps the binary's reason.
	job = jobFromCronJob(t, cj, "weekly-drill-manual-2")
	exitJobPod(t, job, 5, `{"command":"drill","exit_code":5,"error":"drill-kafka:9092: no broker answered within 30 s"}`+"\n")
	kv = lastRun(job.Name)
	conditionIs(kv, v1.ConditionValidationFailed, "Unavailable")
	if kv.Status.LastRun.DrillID != "" {
		t.Errorf("a drill that never ran has an id: %+v", kv.Status.LastRun)
	}

	// A drill that passed.
	job = jobFromCronJob(t, cj, "weekly-drill-manual-3")
	exitJobPod(t, job, 0, drillSummary(0, "20260105T050000Z-9c1d", backupID, ""))
	kv = lastRun(job.Name)
	conditionIs(kv, v1.ConditionValidationSucceeded, "Succeeded")
	if run := kv.Status.LastRun; run.DrillID != "20260105T050000Z-9c1d" || run.Records == nil || *run.Records != 300 {
		t.Errorf("lastRun %+v", run)
	}

	// Validating instead: the newest run is still the drill's, read from its drill container.
	updateKV(t, ns, "weekly-drill", func(kv *v1.KafkaBackupValidation) { kv.Spec.Drill = nil })
	kv = readyFor(t, ns, "weekly-drill")
	if run := kv.Status.LastRun; run == nil || run.JobName != job.Name || run.ExitCode == nil || *run.ExitCode != 0 ||
		run.DrillID != "20260105T050000Z-9c1d" {
		t.Errorf("lastRun after the spec dropped the drill: %+v", run)
	}
}
