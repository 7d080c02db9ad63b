// Package render turns the operator's resources into what the kafka-backup
// binary reads: its YAML configuration (docs/config.md) and the pod that runs
// it. It holds no backup logic: every decision about data is the binary's.
// Secrets never enter a rendered config: they reach the pod as environment
// variables ("${VAR}" in the config) or mounted files.
package render

import (
	"fmt"
	"strconv"
	"time"

	"sigs.k8s.io/yaml"

	v1 "kafka-backup/operator/api/v1alpha1"
)

// Environment variables the rendered configs refer to; the pod fills them from
// the Secrets the resource names.
const (
	EnvSASLPassword   = "KAFKA_SASL_PASSWORD"
	EnvSSLKeyPassword = "KAFKA_SSL_KEY_PASSWORD"
	EnvEncryptionKey  = "KAFKA_BACKUP_ENCRYPTION_KEY"
	EnvOAuthSecret    = "KAFKA_OAUTH_CLIENT_SECRET"
	// The binary reads the drill's signing key (PEM) from it; no config names it.
	EnvDrillSigningKey = "KAFKA_BACKUP_DRILL_SIGNING_KEY"
)

// Where the pod mounts the config, the TLS material and a PVC.
const (
	ConfigDir = "/etc/kafka-backup"
	TLSDir    = "/etc/kafka-backup/tls"
	// The Kerberos keytab and krb5.conf (KRB5_CONFIG points at it).
	KerberosDir = "/etc/kafka-backup/kerberos"
	PVCDir      = "/var/lib/kafka-backup"
)

// Config is the binary's configuration file, in the key order of docs/config.md.
type Config struct {
	Mode       string          `json:"mode,omitempty"`
	BackupID   string          `json:"backup_id,omitempty"`
	Source     *Cluster        `json:"source,omitempty"`
	Target     *Cluster        `json:"target,omitempty"`
	Storage    Storage         `json:"storage"`
	Backup     *BackupOptions  `json:"backup,omitempty"`
	Restore    *RestoreOptions `json:"restore,omitempty"`
	Encryption *Encryption     `json:"encryption,omitempty"`
	Retention  *Retention      `json:"retention,omitempty"`
	Drill      *DrillOptions   `json:"drill,omitempty"`
}

// Cluster is `source` or `target`.
type Cluster struct {
	BootstrapServers   []string          `json:"bootstrap_servers"`
	Security           *Security         `json:"security,omitempty"`
	Topics             *Topics           `json:"topics,omitempty"`
	ClientProperties   map[string]string `json:"client_properties,omitempty"`
	ConnectTimeoutSecs *int32            `json:"connect_timeout_secs,omitempty"`
}

// Security is a cluster's `security` block.
type Security struct {
	SecurityProtocol       string `json:"security_protocol,omitempty"`
	SASLMechanism          string `json:"sasl_mechanism,omitempty"`
	SASLUsername           string `json:"sasl_username,omitempty"`
	SASLPassword           string `json:"sasl_password,omitempty"`
	AWSRegion              string `json:"aws_region,omitempty"`
	SSLCALocation          string `json:"ssl_ca_location,omitempty"`
	SSLCertificateLocation string `json:"ssl_certificate_location,omitempty"`
	SSLKeyLocation         string `json:"ssl_key_location,omitempty"`
	SSLKeyPassword         string `json:"ssl_key_password,omitempty"`
	OAuthTokenEndpointURL  string `json:"oauth_token_endpoint_url,omitempty"`
	OAuthClientID          string `json:"oauth_client_id,omitempty"`
	OAuthClientSecret      string `json:"oauth_client_secret,omitempty"`
	OAuthScope             string `json:"oauth_scope,omitempty"`
	KerberosPrincipal      string `json:"kerberos_principal,omitempty"`
	KerberosKeytab         string `json:"kerberos_keytab,omitempty"`
	KerberosServiceName    string `json:"kerberos_service_name,omitempty"`
}

// Topics is `source.topics`.
type Topics struct {
	Include []string `json:"include"`
	Exclude []string `json:"exclude,omitempty"`
}

// Storage is the `storage` section.
type Storage struct {
	Backend              string `json:"backend"`
	Path                 string `json:"path,omitempty"`
	Bucket               string `json:"bucket,omitempty"`
	Container            string `json:"container,omitempty"`
	Account              string `json:"account,omitempty"`
	Region               string `json:"region,omitempty"`
	Prefix               string `json:"prefix,omitempty"`
	Endpoint             string `json:"endpoint,omitempty"`
	PathStyle            *bool  `json:"path_style,omitempty"`
	StorageClass         string `json:"storage_class,omitempty"`
	ServerSideEncryption string `json:"server_side_encryption,omitempty"`
	KMSKeyID             string `json:"kms_key_id,omitempty"`
	MaxBytesPerSec       *int64 `json:"max_bytes_per_sec,omitempty"`
}

// BackupOptions is the `backup` section.
type BackupOptions struct {
	Compression            string   `json:"compression,omitempty"`
	CompressionLevel       *int32   `json:"compression_level,omitempty"`
	CheckpointIntervalSecs *int32   `json:"checkpoint_interval_secs,omitempty"`
	Incremental            bool     `json:"incremental,omitempty"`
	Continuous             bool     `json:"continuous,omitempty"`
	IncludeOffsetHeaders   bool     `json:"include_offset_headers,omitempty"`
	SourceClusterID        string   `json:"source_cluster_id,omitempty"`
	ConsumerGroups         []string `json:"consumer_groups,omitempty"`
}

// RestoreOptions is the `restore` section.
type RestoreOptions struct {
	Topics                []string                    `json:"topics,omitempty"`
	TimeWindowStart       *int64                      `json:"time_window_start,omitempty"`
	TimeWindowEnd         *int64                      `json:"time_window_end,omitempty"`
	CreateTopics          *bool                       `json:"create_topics,omitempty"`
	OnExistingData        string                      `json:"on_existing_data,omitempty"`
	TopicMapping          map[string]string           `json:"topic_mapping,omitempty"`
	PartitionMapping      map[string]map[string]int32 `json:"partition_mapping,omitempty"`
	RestoreID             string                      `json:"restore_id,omitempty"`
	ConsumerGroupStrategy string                      `json:"consumer_group_strategy,omitempty"`
	ConsumerGroups        []string                    `json:"consumer_groups,omitempty"`
	ResetConsumerOffsets  bool                        `json:"reset_consumer_offsets,omitempty"`
	DryRun                bool                        `json:"dry_run,omitempty"`
}

// Encryption is the `encryption` section.
type Encryption struct {
	KeyEnv string `json:"key_env"`
}

// Retention is the `retention` section.
type Retention struct {
	KeepLast     *int32 `json:"keep_last,omitempty"`
	KeepHourly   *int32 `json:"keep_hourly,omitempty"`
	KeepDaily    *int32 `json:"keep_daily,omitempty"`
	KeepWeekly   *int32 `json:"keep_weekly,omitempty"`
	KeepMonthly  *int32 `json:"keep_monthly,omitempty"`
	MaxAge       string `json:"max_age,omitempty"`
	MinKeep      *int32 `json:"min_keep,omitempty"`
	BackupPrefix string `json:"backup_prefix,omitempty"`
}

// DrillOptions is the `drill` section.
type DrillOptions struct {
	Topics      []string `json:"topics,omitempty"`
	TopicPrefix string   `json:"topic_prefix,omitempty"`
	Keep        bool     `json:"keep,omitempty"`
	Validate    string   `json:"validate,omitempty"`
}

// Marshal is the config as the YAML file the pod mounts.
func (c *Config) Marshal() (string, error) {
	out, err := yaml.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("rendering the configuration: %w", err)
	}
	return "# Rendered by kafka-backup-operator; edits are overwritten (docs/config.md).\n" + string(out), nil
}

// BackupConfig is the `mode: backup` config of a KafkaBackup.
func BackupConfig(kb *v1.KafkaBackup) *Config {
	s := &kb.Spec
	id := s.BackupID
	if id == "" {
		id = kb.Name + "-${TIMESTAMP}"
	}
	src := cluster(&s.KafkaCluster)
	switch {
	case s.TopicSelection != nil:
		src.Topics = &Topics{Include: s.TopicSelection.Include, Exclude: s.TopicSelection.Exclude}
	case len(s.Topics) > 0:
		src.Topics = &Topics{Include: s.Topics}
	}
	c := &Config{
		Mode:     "backup",
		BackupID: id,
		Source:   src,
		Storage:  storage(&s.Storage),
		Backup: &BackupOptions{
			Compression:            s.Compression,
			CompressionLevel:       s.CompressionLevel,
			CheckpointIntervalSecs: s.CheckpointIntervalSecs,
			Incremental:            s.Incremental,
			Continuous:             s.Continuous,
			IncludeOffsetHeaders:   s.IncludeOffsetHeaders,
			SourceClusterID:        s.SourceClusterID,
			ConsumerGroups:         s.ConsumerGroups,
		},
		Encryption: encryption(s.Encryption),
	}
	if r := s.Retention; r != nil {
		c.Retention = &Retention{KeepLast: r.KeepLast, KeepHourly: r.KeepHourly, KeepDaily: r.KeepDaily,
			KeepWeekly: r.KeepWeekly, KeepMonthly: r.KeepMonthly, MaxAge: r.MaxAge, MinKeep: r.MinKeep,
			BackupPrefix: r.BackupPrefix}
	}
	return c
}

// RestoreConfig is the `mode: restore` config of a KafkaRestore. storageSpec
// and enc are the restore's own or, with backupRef, the KafkaBackup's.
func RestoreConfig(kr *v1.KafkaRestore, storageSpec *v1.StorageSpec, enc *v1.EncryptionSpec, backupID string) (*Config, error) {
	s := &kr.Spec
	r := &RestoreOptions{
		Topics:           s.Topics,
		CreateTopics:     s.CreateTopics,
		OnExistingData:   s.OnExistingData,
		TopicMapping:     s.TopicMapping,
		PartitionMapping: s.PartitionMapping,
		RestoreID:        s.RestoreID,
		DryRun:           s.DryRun,
	}
	if p := s.PointInTime; p != nil {
		var err error
		if r.TimeWindowStart, err = EpochMillis(p.Start, "pointInTime.start"); err != nil {
			return nil, err
		}
		if r.TimeWindowEnd, err = EpochMillis(p.End, "pointInTime.end"); err != nil {
			return nil, err
		}
		if r.TimeWindowStart != nil && r.TimeWindowEnd != nil && *r.TimeWindowStart > *r.TimeWindowEnd {
			return nil, fmt.Errorf("pointInTime.start (%s) is after pointInTime.end (%s)", p.Start, p.End)
		}
	}
	if g := s.ConsumerGroups; g != nil {
		r.ConsumerGroupStrategy = g.Strategy
		r.ConsumerGroups = g.Groups
		r.ResetConsumerOffsets = g.Reset
	}
	return &Config{
		Mode:       "restore",
		BackupID:   backupID,
		Target:     cluster(&s.KafkaCluster),
		Storage:    storage(storageSpec),
		Restore:    r,
		Encryption: encryption(enc),
	}, nil
}

// ValidationConfig is the config `validate --config` reads: the storage and
// the key of a KafkaBackup.
func ValidationConfig(kb *v1.KafkaBackup, backupID string) *Config {
	return &Config{BackupID: backupID, Storage: storage(&kb.Spec.Storage), Encryption: encryption(kb.Spec.Encryption)}
}

// DrillConfig is the `mode: drill` config `drill --config` reads: the storage
// and the key of a KafkaBackup, the cluster to restore into, and the drill's options.
func DrillConfig(kb *v1.KafkaBackup, backupID string, d *v1.ValidationDrill) *Config {
	c := ValidationConfig(kb, backupID)
	c.Mode = "drill"
	c.Target = cluster(&d.Target)
	if d.ConsumerGroupStrategy != "" {
		c.Restore = &RestoreOptions{ConsumerGroupStrategy: d.ConsumerGroupStrategy}
	}
	c.Drill = &DrillOptions{Topics: d.Topics, TopicPrefix: d.TopicPrefix, Keep: d.Keep, Validate: d.Validate}
	return c
}

// EpochMillis reads a point in time: epoch milliseconds, or RFC 3339. Empty is nil.
func EpochMillis(value, field string) (*int64, error) {
	if value == "" {
		return nil, nil
	}
	if ms, err := strconv.ParseInt(value, 10, 64); err == nil {
		return &ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is neither epoch milliseconds nor an RFC 3339 time (2026-12-01T10:00:00Z)", field, value)
	}
	ms := t.UnixMilli()
	return &ms, nil
}

func cluster(k *v1.KafkaClusterSpec) *Cluster {
	c := &Cluster{BootstrapServers: k.BootstrapServers, ClientProperties: k.ClientProperties,
		ConnectTimeoutSecs: k.ConnectTimeoutSecs}
	sec := k.Security
	if sec == nil {
		return c
	}
	out := &Security{SecurityProtocol: sec.SecurityProtocol, SASLMechanism: sec.SaslMechanism,
		SASLUsername: sec.SaslUsername, AWSRegion: sec.AwsRegion}
	if sec.SaslPasswordSecretRef != nil {
		out.SASLPassword = "${" + EnvSASLPassword + "}"
	}
	if t := sec.TLS; t != nil {
		if t.CASecretRef != nil {
			out.SSLCALocation = TLSDir + "/ca.crt"
		}
		if t.CertificateSecretRef != nil {
			out.SSLCertificateLocation = TLSDir + "/client.crt"
		}
		if t.KeySecretRef != nil {
			out.SSLKeyLocation = TLSDir + "/client.key"
		}
		if t.KeyPasswordSecretRef != nil {
			out.SSLKeyPassword = "${" + EnvSSLKeyPassword + "}"
		}
	}
	if o := sec.OAuth; o != nil {
		out.OAuthTokenEndpointURL, out.OAuthClientID, out.OAuthScope = o.TokenEndpointURL, o.ClientID, o.Scope
		out.OAuthClientSecret = "${" + EnvOAuthSecret + "}"
	}
	if k := sec.Kerberos; k != nil {
		out.KerberosPrincipal, out.KerberosServiceName = k.Principal, k.ServiceName
		out.KerberosKeytab = KerberosDir + "/client.keytab"
	}
	c.Security = out
	return c
}

func storage(s *v1.StorageSpec) Storage {
	out := Storage{Backend: s.StorageType, MaxBytesPerSec: s.MaxBytesPerSec}
	switch s.StorageType {
	case "s3":
		b := s.S3
		out.Bucket, out.Region, out.Prefix, out.Endpoint = b.Bucket, b.Region, b.Prefix, b.Endpoint
		out.PathStyle, out.StorageClass = b.PathStyle, b.StorageClass
		out.ServerSideEncryption, out.KMSKeyID = b.ServerSideEncryption, b.KMSKeyID
	case "azure":
		b := s.Azure
		out.Container, out.Account, out.Prefix, out.Endpoint = b.Container, b.Account, b.Prefix, b.Endpoint
	case "gcs":
		b := s.GCS
		out.Bucket, out.Prefix, out.Endpoint = b.Bucket, b.Prefix, b.Endpoint
	case "filesystem":
		out.Path = s.Filesystem.Path
	case "pvc":
		out.Backend = "filesystem"
		out.Path = PVCDir
		out.Prefix = s.PVC.Path
	}
	return out
}

func encryption(e *v1.EncryptionSpec) *Encryption {
	if e == nil {
		return nil
	}
	return &Encryption{KeyEnv: EnvEncryptionKey}
}
