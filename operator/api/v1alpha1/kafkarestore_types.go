package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KafkaRestoreSpec is one restore, run once as a Job: validate-restore (the
// preflight, which writes nothing), then restore or three-phase-restore. The
// spec is immutable: a restore that ran is a record of what ran.
// +kubebuilder:validation:XValidation:rule="has(self.backupRef) != has(self.storage)",message="give backupRef (a KafkaBackup's storage) or storage with backupId, one of the two"
// +kubebuilder:validation:XValidation:rule="!has(self.backupId) || has(self.storage)",message="backupId goes with storage; with backupRef, give backupRef.backupId"
// +kubebuilder:validation:XValidation:rule="!has(self.encryption) || has(self.storage)",message="encryption goes with storage; with backupRef the KafkaBackup's key is used"
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable: a KafkaRestore runs once; create another to restore again"
type KafkaRestoreSpec struct {
	// The backup to restore: a KafkaBackup of this namespace and one of its backups.
	// +optional
	BackupRef *BackupReference `json:"backupRef,omitempty"`
	// Or: the storage to read, and backupId.
	// +optional
	Storage *StorageSpec `json:"storage,omitempty"`
	// The backup id in storage, or latest (the default).
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9._-]+$`
	// +optional
	BackupID string `json:"backupId,omitempty"`
	// The key of an encrypted backup in storage.
	// +optional
	Encryption *EncryptionSpec `json:"encryption,omitempty"`
	// The cluster to restore into.
	KafkaCluster KafkaClusterSpec `json:"kafkaCluster"`
	// Only records with timestamps in this window (inclusive).
	// +optional
	PointInTime *PointInTime `json:"pointInTime,omitempty"`
	// Topics of the backup to restore (names or globs); default all.
	// +optional
	Topics []string `json:"topics,omitempty"`
	// Restore a topic under another name: source: target.
	// +optional
	TopicMapping map[string]string `json:"topicMapping,omitempty"`
	// Write a source partition into another target partition: topic: {source: target}.
	// +optional
	PartitionMapping map[string]map[string]int32 `json:"partitionMapping,omitempty"`
	// +optional
	ConsumerGroups *ConsumerGroupRestore `json:"consumerGroups,omitempty"`
	// Restore data, then the offset map, then consumer group positions (three-phase-restore).
	// +optional
	ThreePhase bool `json:"threePhase,omitempty"`
	// Report what would be restored; write nothing.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// Create missing topics with the recorded partitions and configs; default true.
	// +optional
	CreateTopics *bool `json:"createTopics,omitempty"`
	// What to do when a target topic holds records; default fail.
	// +kubebuilder:validation:Enum=fail;append
	// +optional
	OnExistingData string `json:"onExistingData,omitempty"`
	// Names the restore's progress and offset map; default to-<target cluster id>.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9._-]+$`
	// +optional
	RestoreID string `json:"restoreId,omitempty"`
	// Failed runs are retried this many times (each resumes); default 2.
	// +kubebuilder:validation:Minimum=0
	// +optional
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`
	RunTemplate  `json:",inline"`
}

// PointInTime bounds a restore by record timestamp: RFC 3339
// (2026-12-01T10:00:00Z) or epoch milliseconds, both ends inclusive.
// +kubebuilder:validation:XValidation:rule="has(self.start) || has(self.end)",message="give start, end or both"
type PointInTime struct {
	// +kubebuilder:validation:Pattern=`^([0-9]{1,16}|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}))$`
	// +optional
	Start string `json:"start,omitempty"`
	// +kubebuilder:validation:Pattern=`^([0-9]{1,16}|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}))$`
	// +optional
	End string `json:"end,omitempty"`
}

// ConsumerGroupRestore carries consumer group positions over (docs/config.md,
// "Consumer group strategies").
type ConsumerGroupRestore struct {
	// +kubebuilder:validation:Enum=skip;exact;header-based;timestamp-based
	Strategy string `json:"strategy"`
	// Groups (names or globs); default every group in the backup.
	// +optional
	Groups []string `json:"groups,omitempty"`
	// Commit the positions on the target; otherwise they are only reported.
	// +optional
	Reset bool `json:"reset,omitempty"`
}

// KafkaRestoreStatus is what the restore did.
type KafkaRestoreStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Pending, Running, Succeeded or Failed.
	// +optional
	Phase string `json:"phase,omitempty"`
	// Ready, Running, Succeeded, Failed.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// +optional
	JobName string `json:"jobName,omitempty"`
	// The backup id the restore resolved (latest becomes an id).
	// +optional
	BackupID string `json:"backupId,omitempty"`
	// +optional
	Result *RunResult `json:"result,omitempty"`
}

// KafkaRestore restores a backup into a Kafka cluster, once.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name: at most 63 characters (the name of its Job, which labels its pods)"
// +kubebuilder:resource:shortName=kr;krestore,categories=kafka-backup
// +kubebuilder:printcolumn:name="Backup",type=string,JSONPath=`.status.backupId`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Records",type=integer,JSONPath=`.status.result.records`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type KafkaRestore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   KafkaRestoreSpec   `json:"spec,omitempty"`
	Status KafkaRestoreStatus `json:"status,omitempty"`
}

// KafkaRestoreList is a list of KafkaRestore.
// +kubebuilder:object:root=true
type KafkaRestoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []KafkaRestore `json:"items"`
}

func init() {
	SchemeBuilder.Register(&KafkaRestore{}, &KafkaRestoreList{})
}
