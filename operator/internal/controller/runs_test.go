package controller_test

// Runs against the local Kafka clusters and S3 server (scripts/test.sh starts
// them; a missing one fails the test): the operator's Jobs run the real
// binary, through the kubelet stand-in of kubelet_test.go.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "kafka-backup/operator/api/v1alpha1"
)

// servers is the local servers' addresses, from the scripts' env output.
type servers struct {
	source, target, sasl, s3, s3Key, s3Secret, scramUser string
}

func localServers(t *testing.T) servers {
	t.Helper()
	get := func(name, script string) string {
		v := os.Getenv(name)
		if v == "" {
			t.Fatalf("%s is not set: start the servers (%s start) and eval \"$(%s env)\"; scripts/test.sh does",
				name, script, script)
		}
		return v
	}
	return servers{
		source:    get("KB_SOURCE_BOOTSTRAP", "scripts/kafka-clusters.sh"),
		target:    get("KB_TARGET_BOOTSTRAP", "scripts/kafka-clusters.sh"),
		sasl:      get("KB_SECURE_SASL_PLAINTEXT_BOOTSTRAP", "scripts/kafka-clusters.sh ... secure"),
		scramUser: get("KB_SECURE_SCRAM256_USER", "scripts/kafka-clusters.sh ... secure"),
		s3:        get("KB_S3_ENDPOINT", "scripts/s3-server.sh"),
		s3Key:     get("KB_S3_ACCESS_KEY", "scripts/s3-server.sh"),
		s3Secret:  get("KB_S3_SECRET_KEY", "scripts/s3-server.sh"),
	}
}

func sh(t *testing.T, stdin string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s%s", name, args, err, out.String(), errOut.String())
	}
	return out.String()
}

// produce writes n records to topic, each a line "<prefix>-<i>".
func produce(t *testing.T, bootstrap, topic, prefix string, n int) {
	t.Helper()
	var lines strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&lines, "%s-%d\n", prefix, i)
	}
	sh(t, lines.String(), nil, "kcat", "-P", "-b", bootstrap, "-t", topic)
}

// count is how many records topic holds, read from the start by kcat.
func count(t *testing.T, bootstrap, topic string) int {
	t.Helper()
	out := sh(t, "", nil, "kcat", "-C", "-b", bootstrap, "-t", topic, "-e", "-q", "-f", "%o\n")
	return strings.Count(out, "\n")
}

// ensureBucket creates an S3 bucket on the local server: the conformance
// binary creates the bucket it is pointed at.
func ensureBucket(t *testing.T, s servers, bucket string) {
	t.Helper()
	bin := filepath.Join(filepath.Dir(binary(t)), "store_conformance")
	sh(t, "", []string{"KB_TEST_S3_URL=s3://" + bucket + "?endpoint=" + s.s3, "AWS_ACCESS_KEY_ID=" + s.s3Key,
		"AWS_SECRET_ACCESS_KEY=" + s.s3Secret, "AWS_REGION=us-east-1", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"},
		bin, "--gtest_filter=Backends/StoreConformance.OverwriteReplacesWholeObject/s3")
}

func waitCondition(t *testing.T, what string, get func() []metav1.Condition, typ string) *metav1.Condition {
	t.Helper()
	var c *metav1.Condition
	eventually(t, 60*time.Second, what+": condition "+typ, func() error {
		c = meta.FindStatusCondition(get(), typ)
		if c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("conditions %+v", get())
		}
		return nil
	})
	return c
}

func cronJob(t *testing.T, ns, name string) *batchv1.CronJob {
	t.Helper()
	var cj batchv1.CronJob
	eventually(t, 30*time.Second, "CronJob "+name, func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cj)
	})
	return &cj
}

func TestSeedBackupRestoreAndValidationRun(t *testing.T) {
	s := localServers(t)
	ns := namespace(t)
	topic := "orders-" + ns[len(ns)-5:]
	sh(t, "", nil, "kafka-topics", "--bootstrap-server", s.source, "--create", "--topic", topic,
		"--partitions", "3", "--replication-factor", "1")
	produce(t, s.source, topic, "early", 60)
	time.Sleep(50 * time.Millisecond)
	cut := time.Now().UnixMilli()
	time.Sleep(50 * time.Millisecond)
	produce(t, s.source, topic, "late", 40)
	ensureBucket(t, s, "kafka-dr-backups")

	// The seed's manifest verbatim but for the local cluster's address. Its
	// pods find S3 as they would on EKS, through the environment the cloud
	// gives them (an IAM role there; the local server's address and keys here).
	if err := apply(ns, edit(t, seedManifest(t), "kafka-prod-1:9092", s.source)); err != nil {
		t.Fatal(err)
	}
	identity := []string{"AWS_ENDPOINT_URL_S3=" + s.s3, "AWS_ACCESS_KEY_ID=" + s.s3Key,
		"AWS_SECRET_ACCESS_KEY=" + s.s3Secret}

	// The backup: a run of the CronJob's template.
	job := jobFromCronJob(t, cronJob(t, ns, "dr-backup"), "dr-backup-manual-1")
	ran := runJobPod(t, job, identity...)
	if len(ran) != 1 || ran[0].ExitCode != 0 {
		t.Fatalf("the backup pod: %+v", ran)
	}
	var kb v1.KafkaBackup
	getStatus := func() []metav1.Condition {
		_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dr-backup"}, &kb)
		return kb.Status.Conditions
	}
	waitCondition(t, "KafkaBackup dr-backup", getStatus, v1.ConditionBackupSucceeded)
	last := kb.Status.LastSuccessfulBackup
	if last == nil || !strings.HasPrefix(last.BackupID, "dr-backup-") || last.Records == nil || *last.Records < 100 ||
		last.JobName != job.Name {
		t.Fatalf("lastSuccessfulBackup %+v", last)
	}
	backupID := last.BackupID

	// What it stored, checked by the binary itself.
	path := "s3://kafka-dr-backups?region=us-east-1&endpoint=" + s.s3
	s3env := []string{"AWS_ACCESS_KEY_ID=" + s.s3Key, "AWS_SECRET_ACCESS_KEY=" + s.s3Secret,
		"AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}
	sh(t, "", s3env, binary(t), "validate", "--path", path, "--backup-id", backupID, "--deep")
	var described struct {
		Records int64 `json:"records"`
		Topics  []struct {
			Name    string `json:"name"`
			Records int64  `json:"records"`
		} `json:"topics"`
	}
	out := sh(t, "", s3env, binary(t), "describe", "--path", path, "--backup-id", backupID, "--format", "json")
	if err := json.Unmarshal([]byte(out), &described); err != nil {
		t.Fatalf("describe: %v\n%s", err, out)
	}
	if described.Records != *last.Records {
		t.Errorf("status says %d records, the backup holds %d", *last.Records, described.Records)
	}
	found := false
	for _, tp := range described.Topics {
		if tp.Name == topic {
			found = tp.Records == 100
		}
	}
	if !found {
		t.Errorf("the backup does not hold topic %s with its 100 records: %s", topic, out)
	}
	expectEvent(t, ns, "dr-backup", "BackupSucceeded", backupID)

	// A restore of the records before the cut, under another name, into the
	// target cluster: from the storage named in full this time, with its
	// endpoint and the credentials from a Secret, and nothing from the cloud.
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-credentials", Namespace: ns},
		StringData: map[string]string{"AWS_ACCESS_KEY_ID": s.s3Key, "AWS_SECRET_ACCESS_KEY": s.s3Secret}}); err != nil {
		t.Fatal(err)
	}
	restore := fmt.Sprintf(`apiVersion: kafka.oso.sh/v1alpha1
kind: KafkaRestore
metadata:
  name: restore-orders
spec:
  storage:
    storageType: s3
    s3:
      bucket: kafka-dr-backups
      region: us-east-1
      endpoint: %s
    credentialsSecretRef:
      name: s3-credentials
  backupId: %s
  kafkaCluster:
    bootstrapServers: [%s]
  topics: [%s]
  topicMapping:
    %s: %s-restored
  pointInTime:
    start: "%s"
    end: "%d"
`, s.s3, backupID, s.target, topic, topic, topic, time.UnixMilli(cut).Add(-time.Hour).UTC().Format(time.RFC3339), cut)
	if err := apply(ns, restore); err != nil {
		t.Fatal(err)
	}
	var rjob batchv1.Job
	eventually(t, 30*time.Second, "the restore's Job", func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "restore-orders"}, &rjob)
	})
	ran = runJobPod(t, &rjob)
	if len(ran) != 2 || ran[0].Name != "validate-restore" || ran[1].ExitCode != 0 {
		t.Fatalf("the restore pod: %+v", ran)
	}
	var kr v1.KafkaRestore
	getRestore := func() []metav1.Condition {
		_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "restore-orders"}, &kr)
		return kr.Status.Conditions
	}
	waitCondition(t, "KafkaRestore restore-orders", getRestore, v1.ConditionSucceeded)
	if kr.Status.Phase != "Succeeded" || kr.Status.Result == nil || kr.Status.Result.Records == nil ||
		*kr.Status.Result.Records != 60 || kr.Status.BackupID != backupID {
		t.Fatalf("restore status %+v result %+v", kr.Status, kr.Status.Result)
	}
	if got := count(t, s.target, topic+"-restored"); got != 60 {
		t.Fatalf("the target's %s-restored holds %d records, want the 60 before the cut", topic, got)
	}

	// Applied again (no change), and its Job removed as a TTL would: nothing runs twice.
	kr.Spec.DryRun = false
	if err := k8s.Update(ctx, &kr); err != nil {
		t.Fatalf("re-applying the same KafkaRestore: %v", err)
	}
	if err := k8s.Delete(ctx, &rjob, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	var jobs batchv1.JobList
	if err := k8s.List(ctx, &jobs, client.InNamespace(ns), client.MatchingLabels{"kafka.oso.sh/kind": "KafkaRestore"}); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs.Items {
		if j.DeletionTimestamp == nil {
			t.Errorf("a new restore Job %s after the restore succeeded", j.Name)
		}
	}
	getRestore()
	if kr.Status.Phase != "Succeeded" {
		t.Errorf("phase %s after the Job was removed", kr.Status.Phase)
	}
	if got := count(t, s.target, topic+"-restored"); got != 60 {
		t.Errorf("the target holds %d records after the re-apply, want 60", got)
	}

	// The seed's "Step 4": a daily deep validation of the newest backup.
	validation := `apiVersion: kafka.oso.sh/v1alpha1
kind: KafkaBackupValidation
metadata:
  name: daily-validation
spec:
  schedule: "0 6 * * *"
  backupRef:
    name: dr-backup
  deep: true
`
	if err := apply(ns, validation); err != nil {
		t.Fatal(err)
	}
	vcj := cronJob(t, ns, "daily-validation")
	args := strings.Join(vcj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args, " ")
	if !strings.HasSuffix(args, "validate --config /etc/kafka-backup/config.yaml --backup-id latest --deep") {
		t.Errorf("the validation runs %s", args)
	}
	ran = runJobPod(t, jobFromCronJob(t, vcj, "daily-validation-manual-1"), identity...)
	if len(ran) != 1 || ran[0].ExitCode != 0 {
		t.Fatalf("the validation pod: %+v", ran)
	}
	var kv v1.KafkaBackupValidation
	waitCondition(t, "KafkaBackupValidation", func() []metav1.Condition {
		_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "daily-validation"}, &kv)
		return kv.Status.Conditions
	}, v1.ConditionValidationSucceeded)
	if kv.Status.LastRun == nil || kv.Status.LastRun.BackupID != backupID || kv.Status.LastRun.Records == nil ||
		*kv.Status.LastRun.Records != *last.Records {
		t.Errorf("validation lastRun %+v", kv.Status.LastRun)
	}

	// The weekly restore test (docs/drills.md, "Schedules"): a drill of the
	// same backup's topic into the target cluster, its report signed with a
	// key from a Secret.
	drillOf(t, s, ns, topic, backupID, identity)
}

// drillOf runs a KafkaBackupValidation's drill of topic of KafkaBackup
// dr-backup's newest backup (backupID) into the target cluster, and checks
// what it reports.
func drillOf(t *testing.T, s servers, ns, topic, backupID string, identity []string) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "drill-signing", Namespace: ns},
		Data: map[string][]byte{"ed25519.pem": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})}}); err != nil {
		t.Fatal(err)
	}
	drill := fmt.Sprintf(`apiVersion: kafka.oso.sh/v1alpha1
kind: KafkaBackupValidation
metadata:
  name: weekly-drill
spec:
  schedule: "0 4 * * 0"
  backupRef:
    name: dr-backup
  drill:
    target:
      bootstrapServers: [%s]
    topics: [%s]
    signingKeySecretRef:
      name: drill-signing
      key: ed25519.pem
`, s.target, topic)
	if err := apply(ns, drill); err != nil {
		t.Fatal(err)
	}
	ran := runJobPod(t, jobFromCronJob(t, cronJob(t, ns, "weekly-drill"), "weekly-drill-manual-1"), identity...)
	if len(ran) != 1 || ran[0].Name != "drill" || ran[0].ExitCode != 0 {
		t.Fatalf("the drill pod: %+v", ran)
	}
	// --format json: the report is the line of stdout among the log's lines.
	var report struct {
		DrillID     string `json:"drill_id"`
		BackupID    string `json:"backup_id"`
		OK          bool   `json:"ok"`
		TopicPrefix string `json:"topic_prefix"`
		Partitions  []struct {
			Topic string `json:"topic"`
		} `json:"partitions"`
	}
	for _, line := range strings.Split(ran[0].Output, "\n") {
		if strings.HasPrefix(line, "{") && strings.Contains(line, `"evidence_key":`) {
			if err := json.Unmarshal([]byte(line), &report); err != nil {
				t.Fatalf("the drill's report: %v\n%s", err, line)
			}
		}
	}
	if !report.OK || report.BackupID != backupID || len(report.Partitions) != 3 {
		t.Errorf("report %+v", report)
	}
	var kv v1.KafkaBackupValidation
	waitCondition(t, "KafkaBackupValidation weekly-drill", func() []metav1.Condition {
		_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "weekly-drill"}, &kv)
		return kv.Status.Conditions
	}, v1.ConditionValidationSucceeded)
	run := kv.Status.LastRun
	if run == nil || run.DrillID == "" || run.DrillID != report.DrillID || run.BackupID != backupID ||
		run.Records == nil || *run.Records != 100 {
		t.Errorf("drill lastRun %+v, report's drill %s", run, report.DrillID)
	}
	expectEvent(t, ns, "weekly-drill", v1.ConditionValidationSucceeded, "drill "+report.DrillID)
	// The scratch topics are gone (keep: false).
	topics := sh(t, "", nil, "kafka-topics", "--bootstrap-server", s.target, "--list")
	if report.TopicPrefix == "" || strings.Contains(topics, report.TopicPrefix) {
		t.Errorf("scratch topics %s* on the target after the drill:\n%s", report.TopicPrefix, topics)
	}
}

// expectEvent waits for an event of reason about the named object whose note mentions text.
func expectEvent(t *testing.T, ns, name, reason, text string) {
	t.Helper()
	eventually(t, 30*time.Second, "event "+reason, func() error {
		var events eventsv1.EventList
		if err := k8s.List(ctx, &events, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.Regarding.Name == name && e.Reason == reason && strings.Contains(e.Note, text) {
				return nil
			}
		}
		return fmt.Errorf("%d events, none %s about %s mentioning %q", len(events.Items), reason, name, text)
	})
}

func TestWrongPasswordFailsAsAuthenticationAndLeaksNothing(t *testing.T) {
	s := localServers(t)
	ns := namespace(t)
	const password = "wrong-pw-never-shown-71c3"
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "kafka-credentials", Namespace: ns},
		StringData: map[string]string{"password": password}}); err != nil {
		t.Fatal(err)
	}
	manifest := fmt.Sprintf(`apiVersion: kafka.oso.sh/v1alpha1
kind: KafkaBackup
metadata:
  name: secured
spec:
  schedule: "@hourly"
  backoffLimit: 0
  kafkaCluster:
    bootstrapServers: [%s]
    connectTimeoutSecs: 20
    security:
      securityProtocol: SASL_PLAINTEXT
      saslMechanism: SCRAM-SHA-256
      saslUsername: %s
      saslPasswordSecretRef:
        name: kafka-credentials
        key: password
  topics: ["*"]
  storage:
    storageType: filesystem
    filesystem:
      path: %s
`, s.sasl, s.scramUser, t.TempDir())
	if err := apply(ns, manifest); err != nil {
		t.Fatal(err)
	}
	ran := runJobPod(t, jobFromCronJob(t, cronJob(t, ns, "secured"), "secured-manual-1"))
	if len(ran) != 1 || ran[0].ExitCode != 6 {
		t.Fatalf("the backup pod: want exit 6 (authentication), got %+v", ran)
	}
	var kb v1.KafkaBackup
	c := waitCondition(t, "KafkaBackup secured", func() []metav1.Condition {
		_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "secured"}, &kb)
		return kb.Status.Conditions
	}, v1.ConditionBackupFailed)
	if c.Reason != "AuthenticationFailed" || kb.Status.LastRun == nil || kb.Status.LastRun.Reason != "AuthenticationFailed" {
		t.Errorf("BackupFailed %+v, lastRun %+v", c, kb.Status.LastRun)
	}
	if kb.Status.LastSuccessfulBackup != nil {
		t.Errorf("lastSuccessfulBackup %+v after a failed run", kb.Status.LastSuccessfulBackup)
	}
	expectEvent(t, ns, "secured", "BackupFailed", "AuthenticationFailed")

	// The password is nowhere but in its Secret.
	status, _ := json.Marshal(kb.Status)
	var events eventsv1.EventList
	if err := k8s.List(ctx, &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	eventText, _ := json.Marshal(events)
	var cm corev1.ConfigMap
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "secured-config"}, &cm); err != nil {
		t.Fatal(err)
	}
	var cj batchv1.CronJob
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "secured"}, &cj); err != nil {
		t.Fatal(err)
	}
	cjText, _ := json.Marshal(cj)
	for what, text := range map[string]string{"status": string(status), "events": string(eventText),
		"ConfigMap": fmt.Sprint(cm.Data), "CronJob": string(cjText), "the pod's log": ran[0].Output,
		"the termination message": ran[0].Message} {
		if strings.Contains(text, password) {
			t.Errorf("the password appears in %s", what)
		}
	}
	if !strings.Contains(cm.Data["config.yaml"], "${KAFKA_SASL_PASSWORD}") {
		t.Errorf("the config does not take the password from the environment:\n%s", cm.Data["config.yaml"])
	}
}
