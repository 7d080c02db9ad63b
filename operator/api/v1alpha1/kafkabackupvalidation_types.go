package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KafkaBackupValidationSpec checks a KafkaBackup's backups on a schedule: the
// seed's "Step 4" (daily validation). It runs `kafka-backup validate` as a
// CronJob against the KafkaBackup's storage.
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
	// +optional
	Deep        bool `json:"deep,omitempty"`
	RunTemplate `json:",inline"`
}

// KafkaBackupValidationStatus is the newest validation's result.
type KafkaBackupValidationStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Ready, Suspended, ValidationSucceeded, ValidationFailed.
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

// KafkaBackupValidation validates a KafkaBackup's backups on a schedule.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 52",message="metadata.name: at most 52 characters (the CronJob it becomes adds 11 to name its Jobs, which may have 63)"
// +kubebuilder:resource:shortName=kbv,categories=kafka-backup
// +kubebuilder:printcolumn:name="Backup",type=string,JSONPath=`.spec.backupRef.name`
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Deep",type=boolean,JSONPath=`.spec.deep`
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
