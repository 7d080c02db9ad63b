package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KafkaBackupSpec is a scheduled (or continuous) backup: the seed's "Step 2".
// It renders the backup configuration the CLI reads (docs/config.md) into a
// ConfigMap and runs it as a CronJob, or, continuous, as a Deployment.
// +kubebuilder:validation:XValidation:rule="has(self.schedule) != (has(self.continuous) && self.continuous)",message="give schedule (an hourly cron such as \"0 * * * *\": a CronJob) or continuous: true (a Deployment), one of the two"
// +kubebuilder:validation:XValidation:rule="!(has(self.topics) && has(self.topicSelection))",message="give topics (a list of globs) or topicSelection (include and exclude), not both"
// +kubebuilder:validation:XValidation:rule="!(has(self.continuous) && self.continuous && has(self.retention))",message="retention prunes committed backups after each scheduled run; a continuous backup commits none"
// +kubebuilder:validation:XValidation:rule="!has(self.timeZone) || has(self.schedule)",message="timeZone needs schedule"
type KafkaBackupSpec struct {
	// When to run, a cron expression ("0 * * * *": hourly) in timeZone: five
	// fields, each *, a number or name, a range, a list or a step; or a macro
	// such as @hourly. The operator also parses it as the CronJob controller
	// does, and reports what this pattern cannot check (minute 75) in Ready.
	// +kubebuilder:validation:XValidation:rule="self.matches('^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|([*?]|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?(,([*]|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*( +([*?]|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?(,([*]|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*){4})$')",message="must be a cron expression of five fields (minute hour day-of-month month day-of-week) such as \"0 * * * *\", or a macro such as @hourly"
	// +kubebuilder:validation:MaxLength=100
	// +optional
	Schedule string `json:"schedule,omitempty"`
	// The schedule's time zone (tz database name); default Etc/UTC.
	// +kubebuilder:validation:MinLength=1
	// +optional
	TimeZone *string `json:"timeZone,omitempty"`
	// Suspend stops new runs; a running one finishes.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
	// The backup id of each run; ${TIMESTAMP} is the run's UTC start. Default <name>-${TIMESTAMP}.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9._${}-]+$`
	// +optional
	BackupID string `json:"backupId,omitempty"`
	// The cluster to back up.
	KafkaCluster KafkaClusterSpec `json:"kafkaCluster"`
	// The topics to back up, as globs (the seed's "*"); internal topics only when named.
	// +kubebuilder:validation:MinItems=1
	// +optional
	Topics []string `json:"topics,omitempty"`
	// Topics to include and exclude, as globs.
	// +optional
	TopicSelection *TopicSelection `json:"topicSelection,omitempty"`
	// Where backups live.
	Storage StorageSpec `json:"storage"`
	// +kubebuilder:validation:Enum=zstd;lz4;none
	// +optional
	Compression string `json:"compression,omitempty"`
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=19
	// +optional
	CompressionLevel *int32 `json:"compressionLevel,omitempty"`
	// Each run stores only what is new since the previous backup (docs/config.md).
	// +optional
	Incremental bool `json:"incremental,omitempty"`
	// Follow the topics without end: a Deployment of one replica instead of a CronJob.
	// +optional
	Continuous bool `json:"continuous,omitempty"`
	// How often a run records what is stored; a continuous backup's RPO. Default 30.
	// +kubebuilder:validation:Minimum=1
	// +optional
	CheckpointIntervalSecs *int32 `json:"checkpointIntervalSecs,omitempty"`
	// Consumer groups whose committed offsets are recorded (globs); default all.
	// +optional
	ConsumerGroups []string `json:"consumerGroups,omitempty"`
	// Restores of this backup add x-original-* headers.
	// +optional
	IncludeOffsetHeaders bool `json:"includeOffsetHeaders,omitempty"`
	// A label recorded in the manifest; default the Kafka cluster id.
	// +optional
	SourceClusterID string `json:"sourceClusterId,omitempty"`
	// +optional
	Encryption *EncryptionSpec `json:"encryption,omitempty"`
	// Which backups to keep: prune runs after each successful backup (docs/retention.md).
	// +optional
	Retention *RetentionSpec `json:"retention,omitempty"`
	// Prometheus metrics of each run, on the pod's port 9400 with scrape annotations.
	// +optional
	Metrics *MetricsSpec `json:"metrics,omitempty"`
	// Runs that fail are retried this many times, each in a new pod; default 1.
	// +kubebuilder:validation:Minimum=0
	// +optional
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`
	// A run still going after this many seconds is stopped; default none.
	// +kubebuilder:validation:Minimum=1
	// +optional
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`
	RunTemplate           `json:",inline"`
}

// TopicSelection is include and exclude globs.
type TopicSelection struct {
	// +kubebuilder:validation:MinItems=1
	Include []string `json:"include"`
	// +optional
	Exclude []string `json:"exclude,omitempty"`
}

// RetentionSpec is the prune policy (docs/config.md, "Retention").
// +kubebuilder:validation:XValidation:rule="has(self.keepLast) || has(self.keepHourly) || has(self.keepDaily) || has(self.keepWeekly) || has(self.keepMonthly) || has(self.maxAge)",message="retention needs at least one keep* rule or maxAge"
type RetentionSpec struct {
	// +kubebuilder:validation:Minimum=0
	// +optional
	KeepLast *int32 `json:"keepLast,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +optional
	KeepHourly *int32 `json:"keepHourly,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +optional
	KeepDaily *int32 `json:"keepDaily,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +optional
	KeepWeekly *int32 `json:"keepWeekly,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +optional
	KeepMonthly *int32 `json:"keepMonthly,omitempty"`
	// An integer and s, m, h, d or w (30d).
	// +kubebuilder:validation:Pattern=`^[0-9]+[smhdw]$`
	// +optional
	MaxAge string `json:"maxAge,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +optional
	MinKeep *int32 `json:"minKeep,omitempty"`
	// +optional
	BackupPrefix string `json:"backupPrefix,omitempty"`
}

// MetricsSpec serves Prometheus metrics while a run goes.
type MetricsSpec struct {
	Enabled bool `json:"enabled"`
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:default=9400
	// +optional
	Port int32 `json:"port,omitempty"`
}

// KafkaBackupStatus is what the operator saw, Strimzi-style.
type KafkaBackupStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Ready, Suspended, BackupSucceeded, BackupFailed.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// The CronJob (or Deployment) and ConfigMap it runs.
	// +optional
	CronJobName string `json:"cronJobName,omitempty"`
	// +optional
	DeploymentName string `json:"deploymentName,omitempty"`
	// +optional
	ConfigMapName string `json:"configMapName,omitempty"`
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`
	// +optional
	LastSuccessfulBackup *RunResult `json:"lastSuccessfulBackup,omitempty"`
	// The newest run that ended, successful or not.
	// +optional
	LastRun *RunResult `json:"lastRun,omitempty"`
}

// KafkaBackup is a scheduled or continuous backup of Kafka topics.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 52",message="metadata.name: at most 52 characters (the CronJob it becomes adds 11 to name its Jobs, which may have 63)"
// +kubebuilder:resource:shortName=kb;kbackup,categories=kafka-backup
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Storage",type=string,JSONPath=`.spec.storage.storageType`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Last Backup",type=string,JSONPath=`.status.lastSuccessfulBackup.backupId`
// +kubebuilder:printcolumn:name="Records",type=integer,JSONPath=`.status.lastSuccessfulBackup.records`
// +kubebuilder:printcolumn:name="Last Schedule",type=date,JSONPath=`.status.lastScheduleTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type KafkaBackup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   KafkaBackupSpec   `json:"spec,omitempty"`
	Status KafkaBackupStatus `json:"status,omitempty"`
}

// KafkaBackupList is a list of KafkaBackup.
// +kubebuilder:object:root=true
type KafkaBackupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []KafkaBackup `json:"items"`
}

func init() {
	SchemeBuilder.Register(&KafkaBackup{}, &KafkaBackupList{})
}
