package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KafkaBackupValidationSpec checks a KafkaBackup's backups on a schedule: the
// seed's "Step 4" (daily validation). It runs `kafka-backup validate` as a
// CronJob against the KafkaBackup's storage or, with drill, `kafka-backup
// drill`: the backup restored into scratch topics and read back (docs/drills.md).
// +kubebuilder:validation:XValidation:rule="!(has(self.drill) && has(self.deep) && self.deep)",message="deep is validate --deep; a drill validates as drill.validate says (default deep): give one of the two"
type KafkaBackupValidationSpec struct {
	// When to run, a cron expression ("0 6 * * *": daily) in timeZone.
	// +kubebuilder:validation:XValidation:rule="self.matches('^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|([*?]|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?(,([*]|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*( +([*?]|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?(,([*]|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*){4})$')",message="must be a cron expression of five fields (minute hour day-of-month month day-of-week) such as \"0 6 * * *\", or a macro such as @daily"
	// +kubebuilder:validation:MaxLength=100
	Schedule string `json:"schedule"`
	// +kubebuilder:validation:MinLength=1
	// +optional
	TimeZone *string `json:"timeZone,omitempty"`
	// +optional
	Suspend bool `json:"suspend,omitempty"`
	// The KafkaBackup whose backup to check, and which one (default latest).
	BackupRef BackupReference `json:"backupRef"`
	// Read and check every record (validate --deep), not only the stored checksums.
	// Not with drill (drill.validate).
	// +optional
	Deep bool `json:"deep,omitempty"`
	// Run a restore drill instead of validate: the backup restored into
	// scratch topics on drill.target, read back and checked, the report
	// stored beside the backup as evidence.
	// +optional
	Drill       *ValidationDrill `json:"drill,omitempty"`
	RunTemplate `json:",inline"`
}

// ValidationDrill is the `target`, `restore` and `drill` sections of a
// `mode: drill` config (docs/config.md, "Drill options"; docs/drills.md).
type ValidationDrill struct {
	// The cluster to restore into: a scratch cluster, or one where the
	// prefixed scratch topics may be created and deleted.
	Target KafkaClusterSpec `json:"target"`
	// Topics of the backup to drill (names or globs); default every topic.
	// +kubebuilder:validation:MinItems=1
	// +optional
	Topics []string `json:"topics,omitempty"`
	// Scratch topics and the groups the restore commits are named prefix +
	// name; default drill-<drill id>-. A scratch topic that exists fails the run (exit 7).
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9._-]+$`
	// +kubebuilder:validation:MaxLength=200
	// +optional
	TopicPrefix string `json:"topicPrefix,omitempty"`
	// Leave the scratch topics and groups for inspection.
	// +optional
	Keep bool `json:"keep,omitempty"`
	// The validation before the restore; default deep.
	// +kubebuilder:validation:Enum=deep;shallow;none
	// +optional
	Validate string `json:"validate,omitempty"`
	// Also restore the consumer groups' positions this way and check them
	// (docs/config.md, "Consumer group strategies"); default skip.
	// +kubebuilder:validation:Enum=skip;exact;header-based;timestamp-based
	// +optional
	ConsumerGroupStrategy string `json:"consumerGroupStrategy,omitempty"`
	// The Ed25519 private key (PEM) that signs the evidence report: a key of
	// a Secret, given to the pod as KAFKA_BACKUP_DRILL_SIGNING_KEY.
	// +optional
	SigningKeySecretRef *SecretKeyRef `json:"signingKeySecretRef,omitempty"`
}

// KafkaBackupValidationStatus is the newest validation's result.
type KafkaBackupValidationStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Ready, Suspended, ValidationSucceeded, ValidationFailed: the newest
	// run's, a validate or a drill (reason DrillCheckFailed: exit 4).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// +optional
	CronJobName string `json:"cronJobName,omitempty"`
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`
	// +optional
	LastRun *RunResult `json:"lastRun,omitempty"`
}

// Conditions of a KafkaBackupValidation.
const (
	ConditionValidationSucceeded = "ValidationSucceeded"
	ConditionValidationFailed    = "ValidationFailed"
)

// KafkaBackupValidation validates a KafkaBackup's backups on a schedule, or
// drills their restore.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 52",message="metadata.name: at most 52 characters (the CronJob it becomes adds 11 to name its Jobs, which may have 63)"
// +kubebuilder:resource:shortName=kbv,categories=kafka-backup
// +kubebuilder:printcolumn:name="Backup",type=string,JSONPath=`.spec.backupRef.name`
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Deep",type=boolean,JSONPath=`.spec.deep`
// +kubebuilder:printcolumn:name="Drill",type=string,JSONPath=`.spec.drill.target.bootstrapServers[0]`,description="The cluster a drill restores into; none: validate only"
// +kubebuilder:printcolumn:name="Last Result",type=string,JSONPath=`.status.lastRun.result`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type KafkaBackupValidation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   KafkaBackupValidationSpec   `json:"spec,omitempty"`
	Status KafkaBackupValidationStatus `json:"status,omitempty"`
}

// KafkaBackupValidationList is a list of KafkaBackupValidation.
// +kubebuilder:object:root=true
type KafkaBackupValidationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []KafkaBackupValidation `json:"items"`
}

func init() {
	SchemeBuilder.Register(&KafkaBackupValidation{}, &KafkaBackupValidationList{})
}
