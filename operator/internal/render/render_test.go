package render

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	v1 "kafka-backup/operator/api/v1alpha1"
)

func TestEpochMillisReadsBothForms(t *testing.T) {
	for in, want := range map[string]int64{
		"1764590400000":             1764590400000,
		"2025-12-01T12:00:00Z":      1764590400000,
		"2025-12-01T13:00:00+01:00": 1764590400000,
		"2025-12-01T12:00:00.250Z":  1764590400250,
	} {
		got, err := EpochMillis(in, "pointInTime.start")
		if err != nil || got == nil || *got != want {
			t.Errorf("%s: %v %v, want %d", in, got, err, want)
		}
	}
	if _, err := EpochMillis("yesterday", "pointInTime.end"); err == nil ||
		!strings.Contains(err.Error(), "pointInTime.end") {
		t.Errorf("a bad time: %v", err)
	}
	if got, err := EpochMillis("", "x"); got != nil || err != nil {
		t.Errorf("empty: %v %v", got, err)
	}
}

func TestRestoreConfigRefusesAWindowThatEndsBeforeItStarts(t *testing.T) {
	kr := &v1.KafkaRestore{Spec: v1.KafkaRestoreSpec{PointInTime: &v1.PointInTime{
		Start: "2025-12-02T00:00:00Z", End: "2025-12-01T00:00:00Z"}}}
	_, err := RestoreConfig(kr, &v1.StorageSpec{StorageType: "filesystem",
		Filesystem: &v1.FilesystemStorage{Path: "/b"}}, nil, "latest")
	if err == nil || !strings.Contains(err.Error(), "after pointInTime.end") {
		t.Errorf("got %v", err)
	}
}

// secured is a KafkaBackup with every secret-bearing field set.
func secured() *v1.KafkaBackup {
	kb := &v1.KafkaBackup{Spec: v1.KafkaBackupSpec{
		Schedule: "@hourly",
		KafkaCluster: v1.KafkaClusterSpec{BootstrapServers: []string{"k:9093"},
			Security: &v1.KafkaSecuritySpec{SecurityProtocol: "SASL_SSL", SaslMechanism: "SCRAM-SHA-512",
				SaslUsername: "backup", SaslPasswordSecretRef: &v1.SecretKeyRef{Name: "kafka", Key: "password"},
				TLS: &v1.KafkaTLSSpec{CASecretRef: &v1.SecretKeyRef{Name: "tls", Key: "ca.crt"},
					CertificateSecretRef: &v1.SecretKeyRef{Name: "tls", Key: "tls.crt"},
					KeySecretRef:         &v1.SecretKeyRef{Name: "tls", Key: "tls.key"},
					KeyPasswordSecretRef: &v1.SecretKeyRef{Name: "tls", Key: "pw"}}}},
		Storage: v1.StorageSpec{StorageType: "pvc", PVC: &v1.PVCStorage{ClaimName: "backups", Path: "kafka"},
			CredentialsSecretRef: &v1.SecretRef{Name: "ignored-by-filesystem"}},
		Encryption: &v1.EncryptionSpec{KeySecretRef: v1.SecretKeyRef{Name: "key", Key: "k"}},
		Retention:  &v1.RetentionSpec{KeepLast: ptr.To[int32](24)},
		Metrics:    &v1.MetricsSpec{Enabled: true},
	}}
	kb.Name = "secured"
	return kb
}

// backupConfigOf renders kb's backup config and reads it back as YAML.
func backupConfigOf(t *testing.T, kb *v1.KafkaBackup) map[string]any {
	t.Helper()
	text, err := BackupConfig(kb).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestSecretsReachTheConfigOnlyAsVariablesAndFiles(t *testing.T) {
	cfg := backupConfigOf(t, secured())
	sec := cfg["source"].(map[string]any)["security"].(map[string]any)
	want := map[string]any{
		"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "backup",
		"sasl_password": "${KAFKA_SASL_PASSWORD}", "ssl_key_password": "${KAFKA_SSL_KEY_PASSWORD}",
		"ssl_ca_location": "/etc/kafka-backup/tls/ca.crt", "ssl_certificate_location": "/etc/kafka-backup/tls/client.crt",
		"ssl_key_location": "/etc/kafka-backup/tls/client.key",
	}
	for k, v := range want {
		if sec[k] != v {
			t.Errorf("security.%s = %v, want %v", k, sec[k], v)
		}
	}
	st := cfg["storage"].(map[string]any)
	if st["backend"] != "filesystem" || st["path"] != PVCDir || st["prefix"] != "kafka" {
		t.Errorf("a PVC's storage: %v", st)
	}
	if cfg["encryption"].(map[string]any)["key_env"] != EnvEncryptionKey {
		t.Errorf("encryption: %v", cfg["encryption"])
	}
	if cfg["retention"].(map[string]any)["keep_last"] != float64(24) {
		t.Errorf("retention: %v", cfg["retention"])
	}
}

func TestPodMountsAndMapsEverySecret(t *testing.T) {
	kb := secured()
	pod := Pod(&PodInput{Image: "img", ConfigMapName: "secured-config", Cluster: &kb.Spec.KafkaCluster,
		Storage: &kb.Spec.Storage, Encryption: kb.Spec.Encryption, Run: &kb.Spec.RunTemplate,
		Metrics: kb.Spec.Metrics, RestartPolicy: corev1.RestartPolicyNever},
		Step{Name: "backup", Args: []string{"backup", "--config", "/etc/kafka-backup/config.yaml"}},
		Step{Name: "prune", Args: []string{"prune", "--config", "/etc/kafka-backup/config.yaml"}})
	if len(pod.Spec.InitContainers) != 1 || pod.Spec.InitContainers[0].Name != "backup" ||
		len(pod.Spec.Containers) != 1 || pod.Spec.Containers[0].Name != "prune" {
		t.Fatalf("the backup must run first and the prune only after it: %+v", pod.Spec)
	}
	backup := pod.Spec.InitContainers[0]
	if got := strings.Join(backup.Args[:4], " "); got != "--summary-file /dev/termination-log --metrics-port 9400" {
		t.Errorf("global flags %q", got)
	}
	if len(backup.Ports) != 1 || backup.LivenessProbe == nil || pod.Annotations["prometheus.io/port"] != "9400" {
		t.Errorf("metrics: ports %v probe %v annotations %v", backup.Ports, backup.LivenessProbe, pod.Annotations)
	}
	env := map[string]string{}
	for _, e := range backup.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.Value != "" {
			t.Errorf("env %s is not from a Secret: %+v", e.Name, e)
			continue
		}
		env[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
	}
	for name, ref := range map[string]string{EnvSASLPassword: "kafka/password", EnvSSLKeyPassword: "tls/pw",
		EnvEncryptionKey: "key/k"} {
		if env[name] != ref {
			t.Errorf("env %s from %q, want %s", name, env[name], ref)
		}
	}
	mounts := map[string]string{}
	for _, m := range backup.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if mounts[ConfigDir] != "config" || mounts[TLSDir] != "tls" || mounts[PVCDir] != "backups" || mounts["/tmp"] != "tmp" {
		t.Errorf("mounts %v", mounts)
	}
	for _, v := range pod.Spec.Volumes {
		if v.Name == "tls" {
			var files []string
			for _, src := range v.Projected.Sources {
				files = append(files, src.Secret.Name+":"+src.Secret.Items[0].Key+"->"+src.Secret.Items[0].Path)
			}
			if got := strings.Join(files, " "); got != "tls:ca.crt->ca.crt tls:tls.crt->client.crt tls:tls.key->client.key" {
				t.Errorf("TLS files %s", got)
			}
		}
	}
	if *backup.SecurityContext.ReadOnlyRootFilesystem != true || *pod.Spec.SecurityContext.RunAsNonRoot != true ||
		*pod.Spec.AutomountServiceAccountToken != false {
		t.Error("the pod is not locked down")
	}
}

func TestMskIamRendersTheMechanismAndRegionAndNoPassword(t *testing.T) {
	kb := secured()
	kb.Spec.KafkaCluster.Security = &v1.KafkaSecuritySpec{SecurityProtocol: "SASL_SSL", SaslMechanism: "AWS_MSK_IAM",
		AwsRegion: "eu-west-1"}
	sec := backupConfigOf(t, kb)["source"].(map[string]any)["security"].(map[string]any)
	want := map[string]any{"security_protocol": "SASL_SSL", "sasl_mechanism": "AWS_MSK_IAM", "aws_region": "eu-west-1"}
	if len(sec) != len(want) {
		t.Errorf("security = %v, want exactly %v", sec, want)
	}
	for k, v := range want {
		if sec[k] != v {
			t.Errorf("security.%s = %v, want %v", k, sec[k], v)
		}
	}
}

func TestOAuthRendersTheClientCredentialsWithTheSecretAsAVariable(t *testing.T) {
	kb := secured()
	kb.Spec.KafkaCluster.Security = &v1.KafkaSecuritySpec{SecurityProtocol: "SASL_SSL", SaslMechanism: "OAUTHBEARER",
		OAuth: &v1.KafkaOAuthSpec{TokenEndpointURL: "https://idp.example.com/token", ClientID: "kafka-backup",
			ClientSecretSecretRef: v1.SecretKeyRef{Name: "idp", Key: "secret"}, Scope: "kafka"}}
	sec := backupConfigOf(t, kb)["source"].(map[string]any)["security"].(map[string]any)
	want := map[string]any{"security_protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER",
		"oauth_token_endpoint_url": "https://idp.example.com/token", "oauth_client_id": "kafka-backup",
		"oauth_client_secret": "${" + EnvOAuthSecret + "}", "oauth_scope": "kafka"}
	if len(sec) != len(want) {
		t.Errorf("security = %v, want exactly %v", sec, want)
	}
	for k, v := range want {
		if sec[k] != v {
			t.Errorf("security.%s = %v, want %v", k, sec[k], v)
		}
	}
	pod := Pod(&PodInput{Image: "img", ConfigMapName: "c", Cluster: &kb.Spec.KafkaCluster, Run: &kb.Spec.RunTemplate,
		RestartPolicy: corev1.RestartPolicyNever}, Step{Name: "backup", Args: []string{"backup"}})
	found := false
	for _, e := range pod.Spec.Containers[0].Env {
		if e.Name == EnvOAuthSecret {
			found = e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil &&
				e.ValueFrom.SecretKeyRef.Name == "idp" && e.ValueFrom.SecretKeyRef.Key == "secret"
		}
	}
	if !found {
		t.Errorf("%s is not taken from Secret idp/secret: %+v", EnvOAuthSecret, pod.Spec.Containers[0].Env)
	}
}

func TestKerberosMountsTheKeytabAndKrb5Conf(t *testing.T) {
	kb := secured()
	kb.Spec.KafkaCluster.Security = &v1.KafkaSecuritySpec{SecurityProtocol: "SASL_SSL", SaslMechanism: "GSSAPI",
		Kerberos: &v1.KafkaKerberosSpec{Principal: "kafka-backup@EXAMPLE.COM",
			KeytabSecretRef:  v1.SecretKeyRef{Name: "kb-keytab", Key: "kafka-backup.keytab"},
			Krb5ConfigMapRef: &v1.ConfigMapKeyRef{Name: "krb5", Key: "krb5.conf"}}}
	sec := backupConfigOf(t, kb)["source"].(map[string]any)["security"].(map[string]any)
	if sec["kerberos_principal"] != "kafka-backup@EXAMPLE.COM" || sec["kerberos_keytab"] != KerberosDir+"/client.keytab" ||
		sec["sasl_mechanism"] != "GSSAPI" {
		t.Errorf("security = %v", sec)
	}
	if _, set := sec["kerberos_service_name"]; set {
		t.Errorf("an unset service name must leave the binary's default (kafka): %v", sec)
	}
	pod := Pod(&PodInput{Image: "img", ConfigMapName: "c", Cluster: &kb.Spec.KafkaCluster, Run: &kb.Spec.RunTemplate,
		RestartPolicy: corev1.RestartPolicyNever}, Step{Name: "backup", Args: []string{"backup"}})
	c := pod.Spec.Containers[0]
	var krb5 string
	for _, e := range c.Env {
		if e.Name == "KRB5_CONFIG" {
			krb5 = e.Value
		}
	}
	if krb5 != KerberosDir+"/krb5.conf" {
		t.Errorf("KRB5_CONFIG = %q", krb5)
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		mounted = mounted || (m.Name == "kerberos" && m.MountPath == KerberosDir && m.ReadOnly)
	}
	var files []string
	for _, v := range pod.Spec.Volumes {
		if v.Name != "kerberos" {
			continue
		}
		for _, src := range v.Projected.Sources {
			if src.Secret != nil {
				files = append(files, "secret "+src.Secret.Name+":"+src.Secret.Items[0].Key+"->"+src.Secret.Items[0].Path)
			}
			if src.ConfigMap != nil {
				files = append(files, "configmap "+src.ConfigMap.Name+":"+src.ConfigMap.Items[0].Key+"->"+
					src.ConfigMap.Items[0].Path)
			}
		}
	}
	want := "secret kb-keytab:kafka-backup.keytab->client.keytab configmap krb5:krb5.conf->krb5.conf"
	if !mounted || strings.Join(files, " ") != want {
		t.Errorf("mounted %v, files %q, want %q", mounted, strings.Join(files, " "), want)
	}
}

// drill is a drill of secured()'s backup into a SASL/TLS cluster, every option set.
func drill() *v1.ValidationDrill {
	return &v1.ValidationDrill{
		Target: v1.KafkaClusterSpec{BootstrapServers: []string{"drill-kafka:9093"},
			Security: &v1.KafkaSecuritySpec{SecurityProtocol: "SASL_SSL", SaslMechanism: "SCRAM-SHA-512",
				SaslUsername: "drill", SaslPasswordSecretRef: &v1.SecretKeyRef{Name: "drill-kafka", Key: "password"},
				TLS: &v1.KafkaTLSSpec{CASecretRef: &v1.SecretKeyRef{Name: "drill-tls", Key: "ca.crt"}}}},
		Topics: []string{"orders", "payments-*"}, TopicPrefix: "drill-", Keep: true, Validate: "shallow",
		ConsumerGroupStrategy: "exact",
		SigningKeySecretRef:   &v1.SecretKeyRef{Name: "drill-signing", Key: "ed25519.pem"},
	}
}

func TestDrillConfigIsTheBackupsStorageAndKeyWithTheTargetAndOptions(t *testing.T) {
	text, err := DrillConfig(secured(), "latest", drill()).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"mode":      "drill",
		"backup_id": "latest",
		"storage":   map[string]any{"backend": "filesystem", "path": PVCDir, "prefix": "kafka"},
		"target": map[string]any{"bootstrap_servers": []any{"drill-kafka:9093"},
			"security": map[string]any{"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
				"sasl_username": "drill", "sasl_password": "${" + EnvSASLPassword + "}",
				"ssl_ca_location": TLSDir + "/ca.crt"}},
		"restore":    map[string]any{"consumer_group_strategy": "exact"},
		"encryption": map[string]any{"key_env": EnvEncryptionKey},
		"drill": map[string]any{"topics": []any{"orders", "payments-*"}, "topic_prefix": "drill-", "keep": true,
			"validate": "shallow"},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("rendered:\n%s\nwant %v", text, want)
	}
	// The signing key is the pod's environment only: no key of the config names it.
	if strings.Contains(text, "signing") {
		t.Errorf("the config names the signing key:\n%s", text)
	}
}

func TestDrillConfigLeavesUnsetOptionsToTheBinary(t *testing.T) {
	d := &v1.ValidationDrill{Target: v1.KafkaClusterSpec{BootstrapServers: []string{"drill-kafka:9092"}}}
	c := DrillConfig(secured(), "b-1", d)
	if c.Restore != nil || c.Source != nil || c.Backup != nil || c.Retention != nil {
		t.Errorf("sections a drill does not set: restore %+v source %+v backup %+v retention %+v", c.Restore,
			c.Source, c.Backup, c.Retention)
	}
	if !reflect.DeepEqual(*c.Drill, DrillOptions{}) {
		t.Errorf("drill options %+v, want none (every topic, drill-<id>-, not kept, deep)", *c.Drill)
	}
}

func TestDrillPodTakesTheSigningKeyAndTheTargetsSecrets(t *testing.T) {
	kb, d := secured(), drill()
	pod := Pod(&PodInput{Image: "img", ConfigMapName: "c", Cluster: &d.Target, Storage: &kb.Spec.Storage,
		Encryption: kb.Spec.Encryption, DrillSigningKey: d.SigningKeySecretRef, RestartPolicy: corev1.RestartPolicyNever},
		Step{Name: "drill", Args: []string{"drill"}})
	c := pod.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.Value != "" {
			t.Errorf("env %s is not from a Secret: %+v", e.Name, e)
			continue
		}
		env[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
	}
	want := map[string]string{EnvDrillSigningKey: "drill-signing/ed25519.pem", EnvSASLPassword: "drill-kafka/password",
		EnvEncryptionKey: "key/k"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env %v, want %v", env, want)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if mounts[TLSDir] != "tls" || mounts[PVCDir] != "backups" {
		t.Errorf("mounts %v: want the target's TLS files and the backup's PVC", mounts)
	}
	// Without a drill, no variable of it.
	pod = Pod(&PodInput{Image: "img", ConfigMapName: "c", Storage: &kb.Spec.Storage,
		RestartPolicy: corev1.RestartPolicyNever}, Step{Name: "validate", Args: []string{"validate"}})
	for _, e := range pod.Spec.Containers[0].Env {
		if e.Name == EnvDrillSigningKey {
			t.Errorf("a validation's pod has %s", e.Name)
		}
	}
}
